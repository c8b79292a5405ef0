//! Connection and DC lifetimes: ping_delay_disconnect, and shutdown with work in flight.

use std::time::{Duration, Instant};

use grammers_tl_types::{self as tl, Serializable};
use herald_testdc::chats::{access_hash, channel_id};
use herald_testdc::scripted::ScriptedWorld;

use crate::helpers::{Harness, eventually, key, target};
use crate::raw::handshake;

#[tokio::test]
async fn ping_delay_disconnect_closes_a_connection_that_stops_pinging() {
    let h = Harness::start(&["raw.session"], ScriptedWorld::new()).await;
    let (mut client, _) = handshake(h.running.port(), *key("raw.session", 1).expose()).await;
    let ping = tl::functions::PingDelayDisconnect {
        ping_id: 4,
        disconnect_delay: 1,
    };
    client.call(&ping.to_bytes()).await;
    let pong = client.recv(Duration::from_secs(5)).await.expect("frame");
    assert!(pong.is_some(), "answered first");
    let started = Instant::now();
    let after = client
        .recv(Duration::from_secs(5))
        .await
        .expect("no transport error");
    assert!(after.is_none(), "then closed");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn stopping_the_dc_ends_connections_and_hung_world_calls() {
    let world = ScriptedWorld::new();
    world
        .add_member("raw.session", "-1001234567890")
        .hang_posts("raw.session");
    let h = Harness::start(&["raw.session"], world).await;
    let (mut client, _) = handshake(h.running.port(), *key("raw.session", 1).expose()).await;
    let id = channel_id(&target("-1001234567890"));
    let peer = tl::types::InputPeerChannel {
        channel_id: id,
        access_hash: access_hash(id, "raw.session"),
    };
    let send = tl::functions::messages::ForwardMessages {
        silent: false,
        background: false,
        with_my_score: false,
        drop_author: false,
        drop_media_captions: false,
        noforwards: false,
        allow_paid_floodskip: false,
        from_ephemeral: false,
        from_peer: peer.clone().into(),
        id: vec![1],
        random_id: vec![2],
        to_peer: peer.into(),
        top_msg_id: None,
        reply_to: None,
        schedule_date: None,
        schedule_repeat_period: None,
        send_as: None,
        quick_reply_shortcut: None,
        effect: None,
        video_timestamp: None,
        allow_paid_stars: None,
        suggested_post: None,
    };
    client.call(&send.to_bytes()).await;
    eventually("the connection reached the world", || {
        h.world.open_connections("raw.session") == 1
    })
    .await;

    let started = Instant::now();
    let Harness { world, running, .. } = h;
    running.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stop is bounded"
    );
    assert!(
        client
            .recv(Duration::from_secs(5))
            .await
            .expect("eof")
            .is_none()
    );
    assert_eq!(
        world.open_connections("raw.session"),
        0,
        "world session dropped"
    );
    assert!(world.deliveries().is_empty());
}
