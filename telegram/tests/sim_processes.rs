//! Two real processes on one simulator state directory, as two workers are: a session held by
//! one process and connected from the other dies for both (AUTH_KEY_DUPLICATED), and both
//! processes' journal lines land whole. A plain `main` (harness = false) so the child role is a
//! command-line mode of this binary rather than a test that passes by doing nothing.

#![allow(clippy::print_stdout)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use herald_telegram::Scenario;
use herald_telegram::Telegram;
use herald_telegram::sim::Outcome;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("child"), Some(dir)) => runtime.block_on(child(Path::new(dir))),
        _ => {
            let started = Instant::now();
            runtime.block_on(cross_process_duplicate_and_shared_journal());
            println!(
                "test cross_process_duplicate_and_shared_journal ... ok ({:.1?})",
                started.elapsed()
            );
        }
    }
}

async fn wait_for(path: &Path) {
    for _ in 0..400 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {}", path.display());
}

/// The child: holds `shared.session`, writes 200 journal lines, then posts once more after the
/// parent's duplicate connect.
async fn child(dir: &Path) {
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

async fn cross_process_duplicate_and_shared_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .arg("child")
        .arg(dir.path())
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
