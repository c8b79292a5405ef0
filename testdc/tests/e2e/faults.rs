//! Wire faults against the real adapter: dropped and lost answers, silence, refusals.

use std::time::{Duration, Instant};

use herald_telegram::SendError;
use herald_testdc::scripted::ScriptedWorld;
use herald_testdc::{Deliveries, Faults, Silence};

use crate::helpers::{Harness, label, target, text};

#[tokio::test]
async fn a_connection_dropped_after_delivery_still_reports_delivered_once() {
    let world = ScriptedWorld::new();
    // A second live connection of the key would be refused: the retry only gets
    // through if the DC dropped the first world session before closing the socket.
    world.add_chat("@news_room").refuse_duplicate_connections();
    let h = Harness::start(&["+100.session"], world).await;
    h.dc.set_faults(Faults {
        drop_after_delivery: Some(Deliveries::Nth(1)),
        ..Faults::default()
    });
    let mut conn = h.connect("+100.session").await.expect("connects");
    conn.send(&target("@news_room"), &text("once"), &label())
        .await
        .expect("RANDOM_ID_DUPLICATE on the retry means delivered");
    assert_eq!(h.world.deliveries().len(), 1, "delivered exactly once");
    let stats = h.dc.stats();
    assert_eq!(stats.dropped_after_delivery, 1);
    assert!(stats.connections >= 2, "grammers reconnected: {stats:?}");
    // The next post goes through on the new connection.
    conn.send(&target("@news_room"), &text("twice"), &label())
        .await
        .expect("sent");
    assert_eq!(h.world.deliveries().len(), 2);
}

#[tokio::test]
async fn a_session_glob_selects_whose_deliveries_drop() {
    let world = ScriptedWorld::new();
    world.add_chat("@news_room");
    let h = Harness::start(&["flaky-1.session", "steady.session"], world).await;
    h.dc.set_faults(Faults {
        drop_after_delivery: Some(Deliveries::Sessions("flaky-*".into())),
        ..Faults::default()
    });
    for name in ["flaky-1.session", "steady.session"] {
        let mut conn = h.connect(name).await.expect("connects");
        conn.send(&target("@news_room"), &text(name), &label())
            .await
            .expect("delivered");
    }
    assert_eq!(h.world.deliveries().len(), 2);
    assert_eq!(h.dc.stats().dropped_after_delivery, 1);
}

#[tokio::test]
async fn a_lost_answer_ends_in_the_call_timeout_but_the_post_was_delivered() {
    let world = ScriptedWorld::new();
    world.add_chat("@news_room");
    let h = Harness::start_with_timeout(&["+100.session"], world, Duration::from_millis(700)).await;
    h.dc.set_faults(Faults {
        lose_answer_after_delivery: Some(Deliveries::All),
        ..Faults::default()
    });
    let mut conn = h.connect("+100.session").await.expect("connects");
    let result = conn
        .send(&target("@news_room"), &text("lost"), &label())
        .await;
    assert_eq!(result, Err(SendError::Transient));
    assert_eq!(h.world.deliveries().len(), 1);
    assert_eq!(h.dc.stats().answers_lost, 1);
}

#[tokio::test]
async fn a_silent_dc_is_ended_by_the_call_timeout() {
    let h = Harness::start_with_timeout(
        &["+100.session"],
        ScriptedWorld::new(),
        Duration::from_millis(500),
    )
    .await;
    h.dc.set_faults(Faults {
        silence: Some(Silence::FromStart),
        ..Faults::default()
    });
    let started = Instant::now();
    let result = h.connect("+100.session").await;
    assert_eq!(result.err(), Some(SendError::Transient));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(h.world.connects(), 0, "nothing reached the world");
}

#[tokio::test]
async fn a_dc_going_silent_mid_connection_fails_the_send_then_every_later_call() {
    let world = ScriptedWorld::new();
    world.add_chat("@news_room");
    let h = Harness::start_with_timeout(&["+100.session"], world, Duration::from_millis(500)).await;
    // invokeWithLayer(getConfig) and updates.getState are answered: connect succeeds.
    h.dc.set_faults(Faults {
        silence: Some(Silence::AfterCalls(2)),
        ..Faults::default()
    });
    let mut conn = h.connect("+100.session").await.expect("connects");
    let result = conn.send(&target("@news_room"), &text("x"), &label()).await;
    assert_eq!(result, Err(SendError::Transient));
    // After a timeout the adapter fails fast, sending nothing, until the worker reconnects
    // (trap 9).
    let started = Instant::now();
    let again = conn.send(&target("@news_room"), &text("y"), &label()).await;
    assert_eq!(again, Err(SendError::NotSent));
    assert!(started.elapsed() < Duration::from_millis(200));
    assert!(h.world.deliveries().is_empty());
}

#[tokio::test]
async fn a_refused_connection_fails_connect() {
    let h = Harness::start(&["+100.session"], ScriptedWorld::new()).await;
    h.dc.set_faults(Faults {
        refuse_connections: true,
        ..Faults::default()
    });
    let result = h.connect("+100.session").await;
    assert_eq!(result.err(), Some(SendError::Transient));
    assert!(h.dc.stats().refused_connections >= 1);
    // Healthy again at run time.
    h.dc.set_faults(Faults::default());
    h.connect("+100.session")
        .await
        .expect("connects once faults are off");
}
