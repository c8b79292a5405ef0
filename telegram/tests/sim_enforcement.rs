//! The simulator holds callers to Telegram's rules: one connection per
//! session, flood and slow-mode waits honored. Two simulators on one state
//! directory stand for two worker processes (`sim_processes.rs` uses real ones).
//! Nothing here reaches Telegram.

mod common;

use std::time::Duration;

use common::*;
use herald_telegram::sim::Violation;
use herald_telegram::{Scenario, SendError, Telegram};

#[tokio::test(start_paused = true)]
async fn a_session_used_from_two_connections_dies_for_good() {
    let dir = tempfile::tempdir().expect("tempdir");
    let worker_a = sim_in(dir.path(), Scenario::default());
    let worker_b = sim_in(dir.path(), Scenario::default());

    // Sequential use, even from different workers, is fine.
    let mut first = connect(&worker_a, "shared.session").await;
    assert_eq!(send(&mut first, "@group_one").await, Ok(()));
    first.disconnect().await;
    let mut first = connect(&worker_b, "shared.session").await;
    assert_eq!(send(&mut first, "@group_one").await, Ok(()));

    // A second connection while the first is open kills the session.
    let second = worker_a
        .connect(session("shared.session"), api())
        .await
        .err();
    assert_eq!(second, Some(dead("AUTH_KEY_DUPLICATED")));
    assert_eq!(
        send(&mut first, "@group_two").await,
        Err(dead("AUTH_KEY_DUPLICATED"))
    );
    assert_eq!(
        first.is_authorized().await,
        Err(dead("AUTH_KEY_DUPLICATED"))
    );
    first.disconnect().await;
    let later = worker_b
        .connect(session("shared.session"), api())
        .await
        .err();
    assert_eq!(later, Some(dead("AUTH_KEY_DUPLICATED")));

    // Two connections in one simulator are caught the same way.
    let mut one = connect(&worker_a, "other.session").await;
    assert!(
        worker_a
            .connect(session("other.session"), api())
            .await
            .is_err()
    );
    assert_eq!(
        send(&mut one, "@group_one").await,
        Err(dead("AUTH_KEY_DUPLICATED"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_post_inside_a_told_flood_wait_is_rejected_and_flagged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = "[[overrides]]\nsession = \"flood*\"\nflood_wait = { rate = 1.0, min_secs = 10, max_secs = 10 }";
    let worker_a = sim_in(dir.path(), scenario(toml));
    let mut conn = connect(&worker_a, "flood.session").await;
    assert_eq!(
        send(&mut conn, "@group_one").await,
        Err(SendError::FloodWait { secs: 10 })
    );
    tokio::time::advance(Duration::from_secs(3)).await;
    // Another chat does not help: the wait is the account's.
    assert_eq!(
        send(&mut conn, "@group_two").await,
        Err(SendError::FloodWait { secs: 7 })
    );
    conn.disconnect().await;

    // Nor does another worker: the deadline is shared.
    let worker_b = sim_in(dir.path(), scenario(toml));
    let mut conn = connect(&worker_b, "flood.session").await;
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        send(&mut conn, "@group_one").await,
        Err(SendError::FloodWait { secs: 5 })
    );

    // Once the wait is over the account is judged afresh (this scenario floods again).
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(
        send(&mut conn, "@group_one").await,
        Err(SendError::FloodWait { secs: 10 })
    );

    let j = journal(dir.path());
    let violations: Vec<_> = j.iter().map(|e| e.violation).collect();
    assert_eq!(
        violations,
        [
            None,
            Some(Violation::FloodWaitIgnored),
            Some(Violation::FloodWaitIgnored),
            None
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn slow_mode_binds_one_chat_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = sim_in(
        dir.path(),
        scenario("[[overrides]]\nsession = \"s*\"\nslow_mode = { rate = 1.0, secs = 20 }"),
    );
    let mut conn = connect(&sim, "s.session").await;
    assert_eq!(
        send(&mut conn, "@group_one").await,
        Err(SendError::SlowMode { secs: 20 })
    );
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(
        send(&mut conn, "@group_one").await,
        Err(SendError::SlowMode { secs: 15 })
    );
    assert_eq!(
        send(&mut conn, "@group_two").await,
        Err(SendError::SlowMode { secs: 20 })
    );
    let j = journal(dir.path());
    assert_eq!(j[1].violation, Some(Violation::SlowModeIgnored));
    assert_eq!(j[2].violation, None);
}

#[tokio::test(start_paused = true)]
async fn a_re_send_with_the_same_random_id_delivers_nothing_even_from_another_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let worker_a = sim_in(dir.path(), Scenario::default());
    let worker_b = sim_in(dir.path(), Scenario::default());
    let once = label("u1", 4);
    let mut conn = connect(&worker_a, "resend.session").await;
    let first = conn.send(&target("@group_one"), &post(), &once).await;
    assert_eq!(first, Ok(herald_telegram::Delivery::New));
    let again = conn.send(&target("@group_one"), &post(), &once).await;
    assert_eq!(again, Ok(herald_telegram::Delivery::Duplicate));
    conn.disconnect().await;
    // A resumed cycle on another worker re-sends with the checkpointed id.
    let mut conn = connect(&worker_b, "resend.session").await;
    let resumed = conn.send(&target("@group_one"), &post(), &once).await;
    assert_eq!(resumed, Ok(herald_telegram::Delivery::Duplicate));
    let fresh = conn
        .send(&target("@group_one"), &post(), &label("u1", 5))
        .await;
    assert_eq!(
        fresh,
        Ok(herald_telegram::Delivery::New),
        "another id is another post"
    );
    let outcomes: Vec<_> = journal(dir.path()).into_iter().map(|e| e.outcome).collect();
    use herald_telegram::sim::Outcome;
    assert_eq!(
        outcomes,
        [
            Outcome::Ok,
            Outcome::Duplicate,
            Outcome::Duplicate,
            Outcome::Ok
        ]
    );
}
