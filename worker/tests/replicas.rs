//! Two workers on separate runtimes with their own Redis connections and stores (as two
//! processes would have), one scheduler, 50 tenants x 10 sessions x 20 groups, three cycles:
//! judged by the simulator's journal and the state files.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;
use herald_data::BotStatus;
use herald_jobs::testing::RedisServer;
use herald_jobs::{CommandAction, CommandOutcome};
use herald_telegram::sim::{Journal, JournalEntry};

const TENANTS: usize = 50;
const SESSIONS_EACH: usize = 10;
const GROUPS: usize = 20;
const CYCLES: usize = 3;
const CAP: usize = 7;

#[test]
fn two_workers_fifty_tenants_three_cycles() {
    let server = RedisServer::start();
    let mut options = Options::new(
        TENANTS * SESSIONS_EACH,
        "latency_ms = { min = 2, max = 15 }",
    );
    options.redis = Some(server.url());
    options.worker.max_sessions_per_user_concurrent = CAP as u32;

    // The test drives from one runtime; each node's tasks run on a runtime of its own.
    let driver = tokio::runtime::Runtime::new().unwrap();
    let mut engine = driver.block_on(Engine::start(options, 0));
    let mut runtimes = Vec::new();
    for n in 0..2 {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let node = runtime.block_on(engine.add_redis_node(n, n == 0));
        engine.nodes.push(node);
        runtimes.push(runtime);
    }
    let (dir, journal_path, statuses) = driver.block_on(async {
        let users: Vec<String> = (0..TENANTS).map(|t| format!("t{t}")).collect();
        for user in &users {
            engine.tenant(user, GROUPS).await;
            match engine.start_bot(user, SESSIONS_EACH as u32).await {
                CommandOutcome::Running { sessions, .. } => {
                    assert_eq!(sessions.len(), SESSIONS_EACH)
                }
                other => panic!("{user}: {other:?}"),
            }
        }
        engine
            .wait_journal(240, "three cycles for every tenant", |j| {
                let mut cycles: HashMap<&str, HashSet<u64>> = HashMap::new();
                for e in j {
                    cycles
                        .entry(e.user_id.as_str())
                        .or_default()
                        .insert(e.cycle);
                }
                users
                    .iter()
                    .all(|u| cycles.get(u.as_str()).is_some_and(|c| c.len() > CYCLES))
            })
            .await;
        for user in &users {
            engine.command(user, CommandAction::Stop).await;
        }
        let store = engine.store().clone();
        for _ in 0..600 {
            if users
                .iter()
                .all(|u| store.user(u).unwrap().bot_status == BotStatus::Stopped)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let statuses: Vec<BotStatus> = users
            .iter()
            .map(|u| store.user(u).unwrap().bot_status)
            .collect();
        let (dir, journal) = engine.shutdown().await;
        (dir, journal, statuses)
    });
    drop(runtimes);
    assert!(
        statuses.iter().all(|s| *s == BotStatus::Stopped),
        "{statuses:?}"
    );

    let journal = Journal::read_all(&journal_path).unwrap();
    assert!(
        journal.iter().all(|e| e.violation.is_none()),
        "a Telegram rule was broken"
    );
    let faulted: Vec<_> = journal.iter().filter(|e| !e.outcome.is_ok()).collect();
    assert!(faulted.is_empty(), "no fault was configured: {faulted:?}");

    // Every group exactly one post per cycle.
    let mut posts: HashMap<(String, u64), Vec<&str>> = HashMap::new();
    for e in &journal {
        posts
            .entry((e.user_id.clone(), e.cycle))
            .or_default()
            .push(&e.target);
    }
    for ((user, cycle), targets) in &posts {
        let distinct: HashSet<&&str> = targets.iter().collect();
        assert_eq!(
            (distinct.len(), targets.len()),
            (GROUPS, GROUPS),
            "{user} cycle {cycle}"
        );
    }

    // No tenant ever had more than 7 sessions sending at once, across both workers.
    let mut by_user: HashMap<&str, Vec<&JournalEntry>> = HashMap::new();
    for e in &journal {
        by_user.entry(e.user_id.as_str()).or_default().push(e);
    }
    let mut highest = 0;
    for (user, entries) in &by_user {
        let peak = peak_sessions(entries);
        assert!(peak <= CAP, "{user} had {peak} sessions active at once");
        highest = highest.max(peak);
    }
    assert_eq!(
        highest, CAP,
        "the cap was never reached, so the test did not test it"
    );

    // No session was ever on two connections at once (the simulator would have killed it).
    type Span = (DateTime<Utc>, DateTime<Utc>);
    let mut by_session: HashMap<&str, Vec<Span>> = HashMap::new();
    for e in &journal {
        by_session
            .entry(e.session.as_str())
            .or_default()
            .push((e.started_at, e.ended_at));
    }
    for (session, mut spans) in by_session {
        spans.sort();
        for pair in spans.windows(2) {
            assert!(pair[1].0 >= pair[0].1, "{session} sent twice at once");
        }
    }

    // Counters equal the journal.
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("data/stats.json")).unwrap())
            .unwrap();
    for (user, entries) in &by_user {
        assert_eq!(
            stats["users"][*user]["total_posts"],
            entries.len() as u64,
            "{user}"
        );
        assert_eq!(
            stats["users"][*user]["total_success"],
            entries.len() as u64,
            "{user}"
        );
    }
    let workers: HashSet<&str> = stats["flushes"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        workers.len() >= 2,
        "both workers counted posts: {workers:?}"
    );
}

/// The largest number of distinct sessions of one tenant with overlapping sends.
fn peak_sessions(entries: &[&JournalEntry]) -> usize {
    let mut events: Vec<(DateTime<Utc>, i32, &str)> = Vec::new();
    for e in entries {
        events.push((e.started_at, 1, e.session.as_str()));
        events.push((e.ended_at, -1, e.session.as_str()));
    }
    // Ends before starts at the same instant: touching spans do not overlap.
    events.sort_by_key(|(t, d, _)| (*t, *d));
    let mut active: HashMap<&str, i32> = HashMap::new();
    let mut peak = 0;
    for (_, delta, session) in events {
        *active.entry(session).or_default() += delta;
        peak = peak.max(active.values().filter(|n| **n > 0).count());
    }
    peak
}
