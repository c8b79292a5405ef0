//! Many clients at once: 50 adapters posting, 1,000 raw connections pinging.

use std::time::Duration;

use grammers_tl_types::{self as tl, Deserializable, Serializable};
use herald_testdc::scripted::ScriptedWorld;

use crate::helpers::{Harness, eventually, key, label, target, text};
use crate::raw::handshake;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_sessions_post_at_once() {
    let names: Vec<String> = (0..50).map(|i| format!("+2547000{i:05}.session")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let world = ScriptedWorld::new();
    world
        .add_chat("@news_room")
        .set_latency(Duration::from_millis(20));
    let h = std::sync::Arc::new(Harness::start(&refs, world).await);
    let mut tasks = tokio::task::JoinSet::new();
    for name in names.clone() {
        let h = std::sync::Arc::clone(&h);
        tasks.spawn(async move {
            let mut conn = h.connect(&name).await.expect("connects");
            for n in 0..3 {
                conn.send(
                    &target("@news_room"),
                    &text(&format!("{name} {n}")),
                    &label(),
                )
                .await
                .expect("sent");
            }
            conn.disconnect().await;
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("no panic");
    }
    assert_eq!(h.world.deliveries().len(), 150);
    eventually("every world session dropped", || {
        names.iter().all(|n| h.world.open_connections(n) == 0)
    })
    .await;
    eventually("every connection closed", || {
        h.dc.stats().open_connections == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_are_served_together() {
    let h = Harness::start(&["raw.session"], ScriptedWorld::new()).await;
    let port = h.running.port();
    let key_bytes = *key("raw.session", 1).expose();
    let mut clients = Vec::new();
    for _ in 0..1000 {
        clients.push(handshake(port, key_bytes).await.0);
    }
    assert_eq!(h.dc.stats().open_connections, 1000);
    for (i, client) in clients.iter_mut().enumerate() {
        client
            .call(&tl::functions::Ping { ping_id: i as i64 }.to_bytes())
            .await;
    }
    for (i, client) in clients.iter_mut().enumerate() {
        let reply = client
            .recv(Duration::from_secs(10))
            .await
            .expect("frame")
            .expect("packet");
        let tl::enums::Pong::Pong(pong) =
            tl::enums::Pong::from_bytes(&reply[0].body).expect("pong");
        assert_eq!(pong.ping_id, i as i64);
    }
}
