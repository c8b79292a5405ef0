//! Posting through the adapter: texts, links, chats by name and by id, world refusals.

use herald_telegram::SendError;
use herald_testdc::scripted::ScriptedWorld;
use herald_testdc::{RpcRefusal, WireContent};

use crate::helpers::{Harness, label, link, target, text};

#[tokio::test]
async fn a_text_to_a_username() {
    let world = ScriptedWorld::new();
    world.add_chat("@news_room");
    let h = Harness::start(&["+100.session"], world).await;
    let mut conn = h.connect("+100.session").await.expect("connects");
    conn.send(&target("@News_Room"), &text("hello"), &label())
        .await
        .expect("sent");
    // 512 bytes or more go gzip-packed when that is smaller.
    let long = "posting through a local data centre ".repeat(100);
    conn.send(&target("@news_room"), &text(&long), &label())
        .await
        .expect("sent");
    conn.disconnect().await;

    let deliveries = h.world.deliveries();
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[1].post.content, WireContent::Text(long));
    assert_eq!(deliveries[0].session, "+100.session");
    assert_eq!(deliveries[0].post.target, target("@News_Room"));
    assert_eq!(
        deliveries[0].post.content,
        WireContent::Text("hello".into())
    );
}

#[tokio::test]
async fn a_text_to_a_channel_id_found_among_dialogs() {
    let world = ScriptedWorld::new();
    world.add_member("+100.session", "-1001234567890");
    let h = Harness::start(&["+100.session"], world).await;
    let mut conn = h.connect("+100.session").await.expect("connects");
    conn.send(&target("-1001234567890"), &text("by id"), &label())
        .await
        .expect("sent");
    conn.send(&target("-1001234567890"), &text("again"), &label())
        .await
        .expect("sent twice");
    let missing = conn
        .send(&target("-1009999999999"), &text("x"), &label())
        .await;
    assert_eq!(missing, Err(SendError::TargetNotFound));
    let deliveries = h.world.deliveries();
    assert_eq!(deliveries.len(), 2);
    assert_eq!(deliveries[1].post.target, target("-1001234567890"));
}

#[tokio::test]
async fn a_link_post_is_resolved_and_forwarded() {
    let world = ScriptedWorld::new();
    world.add_chat("@target_group").add_chat("@source_channel");
    let h = Harness::start(&["+100.session"], world).await;
    let mut conn = h.connect("+100.session").await.expect("connects");
    conn.send(
        &target("@target_group"),
        &link("source_channel", 42),
        &label(),
    )
    .await
    .expect("forwarded");
    // What a link post costs on the wire: one connection setup, two resolves, one forward.
    let calls = h.dc.stats().calls_by_name;
    let count = |name: &str| calls.get(name).copied().unwrap_or(0);
    assert_eq!(count("help.getConfig"), 1, "{calls:?}");
    assert_eq!(count("updates.getState"), 1, "{calls:?}");
    assert_eq!(count("contacts.resolveUsername"), 2, "{calls:?}");
    assert_eq!(count("messages.forwardMessages"), 1, "{calls:?}");
    let deliveries = h.world.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(
        deliveries[0].post.content,
        WireContent::Forward {
            from: target("@source_channel"),
            message_id: 42
        }
    );
}

#[tokio::test]
async fn a_flood_wait_from_the_world_arrives_as_it_is() {
    let world = ScriptedWorld::new();
    world.add_chat("@news_room").refuse_posts(
        "*",
        Some("@news_room"),
        RpcRefusal::new(420, "FLOOD_WAIT_30"),
        Some(1),
    );
    let h = Harness::start(&["+100.session"], world).await;
    let mut conn = h.connect("+100.session").await.expect("connects");
    let started = std::time::Instant::now();
    let first = conn.send(&target("@news_room"), &text("a"), &label()).await;
    assert_eq!(first, Err(SendError::FloodWait { secs: 30 }));
    assert!(
        started.elapsed().as_secs() < 5,
        "the adapter must not sleep on it"
    );
    conn.send(&target("@news_room"), &text("b"), &label())
        .await
        .expect("then sent");
    assert_eq!(h.world.deliveries().len(), 1);
}

#[tokio::test]
async fn an_unknown_username_is_target_not_found() {
    let h = Harness::start(&["+100.session"], ScriptedWorld::new()).await;
    let mut conn = h.connect("+100.session").await.expect("connects");
    let result = conn
        .send(&target("@nobody_here"), &text("x"), &label())
        .await;
    assert_eq!(result, Err(SendError::TargetNotFound));
    // A missing link source blames the post, not the target.
    h.world.add_chat("@target_group");
    let result = conn
        .send(&target("@target_group"), &link("gone_channel", 1), &label())
        .await;
    assert_eq!(
        result,
        Err(SendError::Other {
            code: "SOURCE_CHANNEL_NOT_FOUND".into()
        })
    );
    assert!(h.world.deliveries().is_empty());
}
