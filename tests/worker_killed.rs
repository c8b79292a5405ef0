//! A worker process SIGKILLed in the middle of cycles: the other worker finishes them after the
//! leases lapse, no group gets a second post in a cycle, and the counters equal the journal.
//! Real processes (`herald scheduler`, two `herald worker`), a private Redis, simulated Telegram.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::time::Duration;

use herald_jobs::testing::RedisServer;
use herald_jobs::{
    Command, CommandAction, CommandOutcome, CoordConfig, Coordination, Queue, RedisConfig,
};
use support::*;

const TENANTS: usize = 6;
const SESSIONS_EACH: usize = 3;
const GROUPS: usize = 9;

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_workers_cycles_complete_elsewhere_without_duplicates_or_miscounts() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    pool(root, TENANTS * SESSIONS_EACH).await;
    let users: Vec<String> = (0..TENANTS).map(|t| format!("t{t}")).collect();
    // One post a second per session and cycles back to back: a kill always lands inside cycles.
    tenants(root, &users, GROUPS, 1, 0).await;
    let journal = root.join("journal.jsonl");
    let scenario = root.join("scenario.toml");
    std::fs::write(&scenario, "latency_ms = { min = 1, max = 5 }\n").unwrap();
    let env = support::env_vars(&[
        ("HERALD_DATA_DIR", root.to_str().unwrap()),
        ("HERALD_REDIS_URL", &redis.url()),
        ("HERALD_TELEGRAM", "sim"),
        ("HERALD_SIM_JOURNAL", journal.to_str().unwrap()),
        ("HERALD_SIM_SCENARIO", scenario.to_str().unwrap()),
        ("HERALD_MIN_DELAY_BETWEEN_POSTS", "0"),
        ("HERALD_MIN_DELAY_BETWEEN_CYCLES", "0"),
        ("HERALD_LEASE_TTL_MS", "1500"),
        ("HERALD_TICK_MS", "200"),
        ("HERALD_STATS_FLUSH_MS", "100"),
        ("HERALD_LOG", "warn"),
    ]);
    let _scheduler = Herald::spawn("scheduler", &["scheduler"], &env);
    let mut victim = Herald::spawn("worker-a", &["worker"], &env);
    let mut survivor = Herald::spawn("worker-b", &["worker"], &env);

    let config = RedisConfig::new(redis.url());
    let coord = Coordination::redis(config.clone(), CoordConfig::default())
        .await
        .unwrap();
    let queue = Queue::redis(&config).await.unwrap();
    // Bots started before a scheduler first leads are stopped when it does (the restart rule).
    wait_for_async(30, "the scheduler to lead", || {
        let coord = coord.clone();
        async move { coord.epoch().await.ok().flatten().is_some() }
    })
    .await;
    let command = |user: &str, action: CommandAction| {
        let (coord, queue, command) = (coord.clone(), queue.clone(), Command::new(user, action));
        async move {
            let waiter = coord.expect_reply(&command.request_id);
            queue.push_command(&command).await.unwrap();
            waiter
                .wait(Duration::from_secs(30))
                .await
                .unwrap()
                .expect("no reply")
                .outcome
        }
    };
    for user in &users {
        let start = CommandAction::Start {
            sessions_wanted: Some(SESSIONS_EACH as u32),
            execution_mode: None,
            total_cycle_minutes: None,
        };
        assert!(matches!(
            command(user, start).await,
            CommandOutcome::Running { .. }
        ));
    }

    // Kill one worker at a moment when cycles are surely in flight.
    wait_for(30, "posts from the first cycles", || {
        read_journal(&journal).len() >= TENANTS * 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(700 + rand::random::<u64>() % 900)).await;
    victim.kill();
    let killed_at = chrono::Utc::now();

    // Every tenant gets three more cycles done after the kill.
    wait_for(120, "cycles after the kill", || {
        let entries = read_journal(&journal);
        users.iter().all(|u| {
            let done_after: std::collections::HashSet<u64> = entries
                .iter()
                .filter(|e| &e.user_id == u && e.started_at > killed_at)
                .map(|e| e.cycle)
                .collect();
            done_after.len() >= 3
        })
    })
    .await;
    for user in &users {
        command(user, CommandAction::Stop).await;
    }
    let store_path = root.to_owned();
    wait_for(60, "every bot stopped", || {
        let users_json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(store_path.join("data/users.json")).unwrap())
                .unwrap();
        users
            .iter()
            .all(|u| users_json["users"][u]["bot_status"] == "stopped")
    })
    .await;
    assert!(
        survivor.terminate().success(),
        "the surviving worker did not shut down cleanly"
    );

    let entries = read_journal(&journal);
    assert!(
        entries.iter().all(|e| e.violation.is_none()),
        "a Telegram rule was broken (two connections on a session?)"
    );
    let in_doubt = support::invariants::in_doubt(root, &users);
    // Deliveries per cycle: a send in doubt when its worker died is re-sent with its random id
    // and delivered at most once, so every cycle holds every group exactly once.
    let mut per_cycle: HashMap<(String, u64), Vec<String>> = HashMap::new();
    for e in entries.iter().filter(|e| e.outcome.is_ok()) {
        per_cycle
            .entry((e.user_id.clone(), e.cycle))
            .or_default()
            .push(e.target.clone());
    }
    for ((user, cycle), targets) in &per_cycle {
        let mut sorted = targets.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            targets.len(),
            "{user} cycle {cycle}: a group got a second post"
        );
        assert_eq!(
            targets.len(),
            GROUPS,
            "{user} cycle {cycle}: only {} of {GROUPS} groups posted",
            targets.len()
        );
    }
    support::invariants::check_counters(root, &entries, &users);
    let survivor_log = std::fs::read_to_string(survivor.log_path()).unwrap_or_default();
    let resumed = survivor_log
        .lines()
        .filter(|l| l.contains("resuming a cycle another worker began"))
        .count();
    assert!(
        resumed > 0,
        "no cycle of the killed worker was resumed, so the kill tested nothing"
    );
    eprintln!("cycles resumed after the kill: {resumed}; in-doubt sends: {in_doubt:?}");
}
