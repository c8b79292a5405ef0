//! The simulator does what its scenario says, the same way every time.
//! Nothing here reaches Telegram; the simulator sends nothing anywhere.

mod common;

use std::time::Duration;

use common::*;
use herald_telegram::sim::{Outcome, Violation};
use herald_telegram::{JournalEntry, SendError, Telegram};

const MIXED: &str = r#"
seed = 42
latency_ms = { min = 10, max = 400 }
session_death = { rate = 0.01, code = "USER_DEACTIVATED" }
hang = { rate = 0.03 }
peer_flood = { rate = 0.02 }
flood_wait = { rate = 0.1, min_secs = 1, max_secs = 30 }
slow_mode = { rate = 0.05, secs = 20 }
missing_targets = ["@gone_group"]

[[die_after_posts]]
session = "short-*"
posts = 4

[[forbidden_targets]]
target = "-1001111111111"
"#;

/// A sequential worker: every session posts to every target each cycle and
/// gives a session up once it is dead. It honors nothing else on purpose, so
/// the journal also exercises the simulator's violation checks.
async fn drive(seed_scenario: &str) -> Vec<JournalEntry> {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = sim_with_timeout(dir.path(), scenario(seed_scenario), Duration::from_secs(5));
    let sessions = [
        "a.session",
        "b.session",
        "short-1.session",
        "+254708803721.session",
    ];
    let targets = [
        "@group_one",
        "@group_two",
        "-1001111111111",
        "@gone_group",
        "-1002222222222",
    ];
    for cycle in 1..=4 {
        for name in sessions {
            let Ok(mut conn) = sim.connect(session(name), api()).await else {
                continue;
            };
            for t in targets {
                let result = conn.send(&target(t), &post(), &label("u1", cycle)).await;
                if matches!(result, Err(SendError::SessionDead { .. })) {
                    break;
                }
            }
            conn.disconnect().await;
        }
    }
    journal(dir.path())
}

/// Everything but the timestamps.
fn untimed(entries: &[JournalEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {} {} {:?} {:?}",
                e.session, e.user_id, e.cycle, e.target, e.attempt, e.outcome, e.violation
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn same_seed_and_scenario_give_the_same_journal() {
    let first = drive(MIXED).await;
    let second = drive(MIXED).await;
    assert!(first.len() > 40, "a real run: {} lines", first.len());
    assert_eq!(untimed(&first), untimed(&second));
    let other_seed = drive(&MIXED.replace("seed = 42", "seed = 43")).await;
    assert_ne!(untimed(&first), untimed(&other_seed));
    // The mixed run meets more than one kind of outcome.
    let kinds: std::collections::BTreeSet<String> = first
        .iter()
        .map(|e| match &e.outcome {
            Outcome::Ok => "ok".to_owned(),
            Outcome::Duplicate => "duplicate".to_owned(),
            Outcome::Error(err) => err.kind().to_owned(),
        })
        .collect();
    assert!(kinds.len() >= 5, "{kinds:?}");
}

#[tokio::test(start_paused = true)]
async fn rates_are_honored_over_many_attempts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = sim_in(
        dir.path(),
        scenario("seed = 5\nslow_mode = { rate = 0.3, secs = 1 }"),
    );
    let mut conn = connect(&sim, "a.session").await;
    let mut slow = 0;
    for i in 0..1000 {
        // A fresh target each time, so no slow-mode wait is ever ignored.
        if let Err(SendError::SlowMode { secs: 1 }) =
            send(&mut conn, &format!("@group_{i:05}")).await
        {
            slow += 1;
        }
    }
    assert!(
        (250..=350).contains(&slow),
        "{slow} slow-mode answers of 1000 at rate 0.3"
    );
}

#[tokio::test(start_paused = true)]
async fn latency_is_the_configured_distribution() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = sim_in(dir.path(), scenario("latency_ms = 300"));
    let mut conn = connect(&sim, "a.session").await;
    let started = tokio::time::Instant::now();
    send(&mut conn, "@group_one").await.expect("ok");
    assert_eq!(started.elapsed(), Duration::from_millis(300));

    let sim = sim_in(
        dir.path(),
        scenario("latency_ms = { min = 100, max = 200 }"),
    );
    let mut conn = connect(&sim, "b.session").await;
    for _ in 0..20 {
        let started = tokio::time::Instant::now();
        send(&mut conn, "@group_one").await.expect("ok");
        let ms = started.elapsed().as_millis();
        assert!((100..=200).contains(&ms), "{ms} ms");
    }
    let e = &journal(dir.path())[0];
    assert_eq!((e.ended_at - e.started_at).num_milliseconds(), 300);
}

#[tokio::test(start_paused = true)]
async fn flood_wait_slow_mode_and_peer_flood_happen_as_configured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = sim_in(
        dir.path(),
        scenario(
            r#"
            [[overrides]]
            session = "flood*"
            flood_wait = { rate = 1.0, min_secs = 7, max_secs = 7 }
            [[overrides]]
            session = "slow*"
            slow_mode = { rate = 1.0, secs = 30 }
            [[overrides]]
            session = "spam*"
            peer_flood = { rate = 1.0 }
            "#,
        ),
    );
    let mut flood = connect(&sim, "flood.session").await;
    assert_eq!(
        send(&mut flood, "@group_one").await,
        Err(SendError::FloodWait { secs: 7 })
    );
    let mut slow = connect(&sim, "slow.session").await;
    assert_eq!(
        send(&mut slow, "@group_one").await,
        Err(SendError::SlowMode { secs: 30 })
    );
    let mut spam = connect(&sim, "spam.session").await;
    assert_eq!(
        send(&mut spam, "@group_one").await,
        Err(SendError::PeerFlood)
    );
    // PEER_FLOOD lasts: the next post is refused and held against the caller.
    assert_eq!(
        send(&mut spam, "@group_two").await,
        Err(SendError::PeerFlood)
    );
    let mut fine = connect(&sim, "fine.session").await;
    assert_eq!(send(&mut fine, "@group_one").await, Ok(()));

    let j = journal(dir.path());
    let violations: Vec<_> = j.iter().map(|e| e.violation).collect();
    assert_eq!(
        violations,
        [None, None, None, Some(Violation::PeerFloodIgnored), None]
    );
}

#[tokio::test(start_paused = true)]
async fn forbidden_and_missing_targets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = sim_in(
        dir.path(),
        scenario(
            "missing_targets = [\"@gone_group\"]\n[[forbidden_targets]]\ntarget = \"@Closed_Group\"\ncode = \"USER_BANNED_IN_CHANNEL\"",
        ),
    );
    let mut conn = connect(&sim, "a.session").await;
    let banned = SendError::WriteForbidden {
        code: "USER_BANNED_IN_CHANNEL".into(),
    };
    assert_eq!(send(&mut conn, "closed_group").await, Err(banned.clone()));
    assert_eq!(
        send(&mut conn, "@gone_group").await,
        Err(SendError::TargetNotFound)
    );
    assert_eq!(send(&mut conn, "@open_group").await, Ok(()));
    assert_eq!(send(&mut conn, "@closed_group").await, Err(banned));
    let j = journal(dir.path());
    assert_eq!(j[3].violation, Some(Violation::ForbiddenTargetRetried));
    assert_eq!(j[0].violation, None);
}

#[tokio::test(start_paused = true)]
async fn sessions_die_after_n_posts_and_stay_dead_across_simulators() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml =
        "[[die_after_posts]]\nsession = \"dying-*\"\nposts = 2\ncode = \"USER_DEACTIVATED_BAN\"";
    let sim = sim_in(dir.path(), scenario(toml));
    let mut dying = connect(&sim, "dying-1.session").await;
    assert_eq!(send(&mut dying, "@group_one").await, Ok(()));
    assert_eq!(send(&mut dying, "@group_two").await, Ok(()));
    assert_eq!(
        send(&mut dying, "@group_three").await,
        Err(dead("USER_DEACTIVATED_BAN"))
    );
    assert_eq!(
        dying.is_authorized().await,
        Err(dead("USER_DEACTIVATED_BAN"))
    );
    dying.disconnect().await;
    let mut other = connect(&sim, "other.session").await;
    for t in ["@group_one", "@group_two", "@group_three"] {
        assert_eq!(send(&mut other, t).await, Ok(()));
    }
    assert_eq!(other.is_authorized().await, Ok(true));

    // Another simulator on the same state, as another worker process.
    let again = sim_in(dir.path(), scenario(toml));
    let refused = again.connect(session("dying-1.session"), api()).await.err();
    assert_eq!(refused, Some(dead("USER_DEACTIVATED_BAN")));
}

#[tokio::test(start_paused = true)]
async fn session_death_at_a_rate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = sim_in(
        dir.path(),
        scenario("session_death = { rate = 1.0, code = \"SESSION_REVOKED\" }"),
    );
    let mut conn = connect(&sim, "a.session").await;
    assert_eq!(
        send(&mut conn, "@group_one").await,
        Err(dead("SESSION_REVOKED"))
    );
    assert_eq!(
        send(&mut conn, "@group_one").await,
        Err(dead("SESSION_REVOKED"))
    );
    let j = journal(dir.path());
    assert_eq!(j[0].violation, None);
    assert_eq!(j[1].violation, Some(Violation::DeadSessionUsed));
    assert_eq!(
        sim.dead_code("a.session").as_deref(),
        Some("SESSION_REVOKED")
    );
}

#[tokio::test(start_paused = true)]
async fn hangs_end_at_the_call_timeout_or_the_callers_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = sim_with_timeout(
        dir.path(),
        scenario("hang = { rate = 1.0 }"),
        Duration::from_secs(5),
    );
    let mut conn = connect(&sim, "a.session").await;
    let started = tokio::time::Instant::now();
    assert_eq!(
        send(&mut conn, "@group_one").await,
        Err(SendError::Transient)
    );
    assert_eq!(started.elapsed(), Duration::from_secs(5));

    // The caller gives up first: the attempt is still journaled, as Transient.
    let cancelled =
        tokio::time::timeout(Duration::from_secs(1), send(&mut conn, "@group_two")).await;
    assert!(cancelled.is_err());
    let j = journal(dir.path());
    assert_eq!(j.len(), 2);
    assert!(j.iter().all(|e| e.outcome == err(SendError::Transient)));
    assert_eq!((j[0].ended_at - j[0].started_at).num_seconds(), 5);
    assert_eq!((j[1].ended_at - j[1].started_at).num_seconds(), 1);
    assert_eq!(j[1].attempt, 2);
}
