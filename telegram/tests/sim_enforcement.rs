//! The simulator holds callers to Telegram's rules: one connection per
//! session, flood and slow-mode waits honored. Two simulators on one state
//! directory stand for two worker processes; one test uses real processes.
//! Nothing here reaches Telegram.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use herald_telegram::sim::{Outcome, Violation};
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

/// Set in a child process: the directory shared with the parent.
const CHILD_ENV: &str = "HERALD_SIM_TEST_CHILD_DIR";

async fn wait_for(path: &Path) {
    for _ in 0..400 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {}", path.display());
}

/// Runs only as the parent's child (it is `#[ignore]`d and needs the variable):
/// holds `shared.session`, writes 200 journal lines, then posts once more.
#[tokio::test]
#[ignore = "run by cross_process_duplicate_and_shared_journal as a child process"]
async fn child_worker() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = Path::new(&dir);
    let sim = sim_in(dir, Scenario::default());
    let mut shared = connect(&sim, "shared.session").await;
    std::fs::write(dir.join("child-connected"), b"").expect("signal");
    let mut own = connect(&sim, "child.session").await;
    for i in 0..200 {
        assert_eq!(send(&mut own, &format!("@child_{i:03}")).await, Ok(()));
    }
    wait_for(&dir.join("parent-tried")).await;
    let after = send(&mut shared, "@group_one").await;
    std::fs::write(dir.join("child-result"), format!("{after:?}")).expect("result");
}

#[tokio::test]
async fn cross_process_duplicate_and_shared_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["child_worker", "--exact", "--ignored", "--nocapture"])
        .env(CHILD_ENV, dir.path())
        // The child's own test summary would read as this binary's.
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn child");

    wait_for(&dir.path().join("child-connected")).await;
    let sim = sim_in(dir.path(), Scenario::default());
    let mut own = connect(&sim, "parent.session").await;
    for i in 0..200 {
        assert_eq!(send(&mut own, &format!("@parent_{i:03}")).await, Ok(()));
    }
    let refused = sim.connect(session("shared.session"), api()).await.err();
    std::fs::write(dir.path().join("parent-tried"), b"").expect("signal");
    assert_eq!(refused, Some(dead("AUTH_KEY_DUPLICATED")));

    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success(), "child failed: {status}");
    let child_result = std::fs::read_to_string(dir.path().join("child-result")).expect("result");
    assert_eq!(
        child_result,
        format!("{:?}", Err::<(), _>(dead("AUTH_KEY_DUPLICATED")))
    );

    // 200 + 200 + 1 whole lines from two processes, none torn or lost.
    let j = journal(dir.path());
    assert_eq!(j.len(), 401);
    assert_eq!(
        j.iter().filter(|e| e.session == "child.session").count(),
        200
    );
    assert_eq!(
        j.iter().filter(|e| e.session == "parent.session").count(),
        200
    );
    let last_shared: Vec<_> = j.iter().filter(|e| e.session == "shared.session").collect();
    assert_eq!(last_shared.len(), 1);
    assert_eq!(
        last_shared[0].outcome,
        Outcome::Error(dead("AUTH_KEY_DUPLICATED"))
    );
}
