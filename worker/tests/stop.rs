//! Stop and start while a cycle runs: whichever order a stop's writes and the cycle's end come
//! in, a stopped bot ends `stopped` with nothing scheduled, and a bot started again keeps
//! cycling.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs::File;
use std::time::Duration;

use common::*;
use herald_data::BotStatus;
use herald_jobs::{CommandAction, CommandOutcome};

#[tokio::test]
async fn stop_waits_for_the_cycle_in_flight_and_then_no_cycle_runs() {
    let engine = Engine::start(Options::new(1, "latency_ms = 0"), 1).await;
    engine.tenant("slow", 4).await;
    engine
        .store()
        .update_user(&uid("slow"), |u| {
            u.delay_between_posts = 1; // four posts take about three seconds
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    assert!(matches!(
        engine.start_bot("slow", 1).await,
        CommandOutcome::Running { .. }
    ));
    engine
        .wait_journal(20, "the first post", |j| !j.is_empty())
        .await;
    assert_eq!(
        engine.command("slow", CommandAction::Stop).await,
        CommandOutcome::Stopping
    );
    assert_eq!(
        engine.store().user("slow").unwrap().bot_status,
        BotStatus::Stopping
    );
    engine
        .wait_journal(20, "the cycle to end", |j| j.len() == 4)
        .await;
    let store = engine.store().clone();
    for _ in 0..100 {
        if store.user("slow").unwrap().bot_status == BotStatus::Stopped {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        store.user("slow").unwrap().bot_status,
        BotStatus::Stopped,
        "stopped once the cycle ended"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(engine.journal().len(), 4, "no cycle after the stop");
    assert_eq!(
        engine.command("slow", CommandAction::Stop).await,
        CommandOutcome::Stopped,
        "a second stop is harmless"
    );
    engine.shutdown().await;
}

/// Waits (up to `secs`) for the tenant's cycle in flight to be claimed (`true`) or gone.
async fn wait_in_flight(engine: &Engine, user: &str, claimed: bool, secs: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let done = match engine.coord().in_flight(user).await.unwrap() {
            Some(cycle) => claimed && cycle.holder.is_some(),
            None => !claimed,
        };
        if done {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for the cycle to be {}",
            if claimed { "claimed" } else { "over" }
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The stop's cancel comes while the cycle runs, its write of `stopping` only once the cycle has
/// read `running` and finished (users.json's lock held meanwhile, as another process's write
/// would): the finish schedules nothing, and the stop, finding no cycle in flight, answers
/// `stopped`. The bot used to stay `stopping` until its next cycle, an hour later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_written_after_the_cycle_ended_stops_the_bot_at_once() {
    let engine = one_slow_tenant_in("late", "latency_ms = 500").await;
    // Four posts a second apart: the cycle has seconds to run.
    wait_in_flight(&engine, "late", true, 10).await;
    let lock = File::options()
        .read(true)
        .write(true)
        .open(engine.store().layout().data_dir().join("users.json.lock"))
        .unwrap();
    lock.lock().unwrap();
    let stop = engine.command("late", CommandAction::Stop);
    let cycle_ends_first = async {
        // The stop's lease is taken just before its cancel.
        while engine
            .coord()
            .lease_renewed_at("command:late")
            .await
            .unwrap()
            .is_none()
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            engine.coord().in_flight("late").await.unwrap().is_some(),
            "the cycle ended before the stop's cancel: this test proves nothing"
        );
        wait_in_flight(&engine, "late", false, 30).await;
        assert_eq!(
            engine.store().user("late").unwrap().bot_status,
            BotStatus::Running,
            "the stop's write waits for the lock"
        );
        assert_eq!(
            engine.coord().next_run("late").await.unwrap(),
            None,
            "the cycle's finish scheduled the next one after the stop"
        );
        lock.unlock().unwrap();
    };
    let (outcome, ()) = tokio::join!(stop, cycle_ends_first);
    assert_eq!(outcome, CommandOutcome::Stopped);
    assert_eq!(
        engine.store().user("late").unwrap().bot_status,
        BotStatus::Stopped
    );
    assert_eq!(engine.journal().len(), 4, "the cycle posted every group");
    engine.shutdown().await;
}

/// Stopped and started again while one cycle runs: the bot runs on, its next cycle scheduled by
/// the one in flight as if no stop had come.
#[tokio::test]
async fn a_start_after_a_stop_while_the_cycle_runs_keeps_the_bot_cycling() {
    let engine = one_slow_tenant("again").await;
    wait_in_flight(&engine, "again", true, 10).await;
    assert_eq!(
        engine.command("again", CommandAction::Stop).await,
        CommandOutcome::Stopping
    );
    assert!(matches!(
        engine.start_bot("again", 1).await,
        CommandOutcome::Running { .. }
    ));
    wait_in_flight(&engine, "again", false, 30).await;
    assert_eq!(
        engine.store().user("again").unwrap().bot_status,
        BotStatus::Running
    );
    let next = engine.coord().next_run("again").await.unwrap();
    let in_an_hour = chrono::Utc::now() + chrono::TimeDelta::minutes(59);
    assert!(
        next.is_some_and(|at| at > in_an_hour),
        "the next cycle an hour after this one, not {next:?}"
    );
    engine.shutdown().await;
}
