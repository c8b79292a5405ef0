//! The engine in one process (memory coordination, in-process queue, simulated Telegram): what
//! tenants rely on, judged by the simulator's delivery journal and the state files.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use herald_data::{BotStatus, ExecutionMode};
use herald_jobs::testing::RedisServer;
use herald_jobs::{CommandAction, CommandOutcome, RefusalReason};
use herald_session_file::mask_session_name;
use herald_telegram::SendError;
use herald_telegram::sim::{JournalEntry, Outcome};

fn cycles_of(journal: &[JournalEntry], user: &str) -> HashSet<u64> {
    journal
        .iter()
        .filter(|e| e.user_id == user)
        .map(|e| e.cycle)
        .collect()
}

/// Every (user, cycle) in the journal posted to each group exactly once.
fn assert_one_post_per_group_per_cycle(journal: &[JournalEntry], groups: usize) {
    let mut posts: HashMap<(String, u64), Vec<String>> = HashMap::new();
    for e in journal {
        posts
            .entry((e.user_id.clone(), e.cycle))
            .or_default()
            .push(e.target.clone());
    }
    for ((user, cycle), mut targets) in posts {
        targets.sort();
        let distinct: HashSet<&String> = targets.iter().collect();
        assert_eq!(
            distinct.len(),
            targets.len(),
            "{user} cycle {cycle}: a group got two posts"
        );
        assert_eq!(
            targets.len(),
            groups,
            "{user} cycle {cycle}: {} of {groups} groups posted",
            targets.len()
        );
    }
}

#[tokio::test]
async fn every_group_gets_one_post_per_cycle_and_counters_match_the_journal() {
    let engine = Engine::start(Options::new(9, "latency_ms = { min = 1, max = 5 }"), 1).await;
    for user in ["a", "b", "c"] {
        engine.tenant(user, 10).await;
        match engine.start_bot(user, 3).await {
            CommandOutcome::Running {
                sessions,
                execution_mode,
            } => {
                assert_eq!(sessions.len(), 3);
                assert_eq!(execution_mode, ExecutionMode::Enterprise);
            }
            other => panic!("start refused: {other:?}"),
        }
    }
    engine
        .wait_journal(60, "three cycles each", |j| {
            ["a", "b", "c"].iter().all(|u| cycles_of(j, u).len() >= 3)
        })
        .await;
    for user in ["a", "b", "c"] {
        let outcome = engine.command(user, CommandAction::Stop).await;
        assert!(
            matches!(outcome, CommandOutcome::Stopping | CommandOutcome::Stopped),
            "{outcome:?}"
        );
    }
    let store = engine.store().clone();
    for _ in 0..100 {
        if ["a", "b", "c"]
            .iter()
            .all(|u| store.user(u).unwrap().bot_status == BotStatus::Stopped)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (dir, journal_path) = engine.shutdown().await;
    let journal = herald_telegram::sim::Journal::read_all(&journal_path).unwrap();
    assert_one_post_per_group_per_cycle(&journal, 10);
    assert!(
        journal.iter().all(|e| e.violation.is_none()),
        "a rule of Telegram was broken"
    );

    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("data/stats.json")).unwrap())
            .unwrap();
    let users: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("data/users.json")).unwrap())
            .unwrap();
    for user in ["a", "b", "c"] {
        let attempts = journal.iter().filter(|e| e.user_id == user).count() as u64;
        let ok = journal
            .iter()
            .filter(|e| e.user_id == user && e.outcome.is_ok())
            .count() as u64;
        assert_eq!(stats["users"][user]["total_posts"], attempts, "{user}");
        assert_eq!(stats["users"][user]["total_success"], ok, "{user}");
        assert_eq!(stats["users"][user]["total_messages_sent"], ok, "{user}");
        assert_eq!(users["users"][user]["bot_status"], "stopped", "{user}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_mid_cycle_lets_sends_in_flight_end_and_count() {
    // No latency and no delays: at any moment many sends are in flight, so a shutdown that
    // abandoned them would leave deliveries in the journal that no counter holds.
    let engine = Engine::start(Options::new(20, ""), 1).await;
    let users: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
    for user in &users {
        engine.tenant(user, 20).await;
        engine.start_bot(user, 1).await;
    }
    engine
        .wait_journal(30, "a few thousand posts", |j| j.len() >= 2_000)
        .await;
    let (dir, journal_path) = engine.shutdown().await;
    let journal = herald_telegram::sim::Journal::read_all(&journal_path).unwrap();
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("data/stats.json")).unwrap())
            .unwrap();
    for user in &users {
        let attempts = journal.iter().filter(|e| &e.user_id == user).count() as u64;
        assert_eq!(
            stats["users"][user]["total_posts"].as_u64(),
            Some(attempts),
            "{user}: the journal holds {attempts} attempts"
        );
    }
}

#[tokio::test]
async fn start_without_any_session_is_refused_and_the_bot_stays_stopped() {
    let engine = Engine::start(Options::new(0, ""), 1).await;
    engine.tenant("poor", 2).await;
    match engine.start_bot("poor", 1).await {
        CommandOutcome::Refused {
            reason: RefusalReason::NoSessions,
            message,
        } => assert!(message.contains("no unused session"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        engine.store().user("poor").unwrap().bot_status,
        BotStatus::Stopped
    );
    let unknown = engine.start_bot("nobody", 1).await;
    assert!(
        matches!(
            unknown,
            CommandOutcome::Refused {
                reason: RefusalReason::UserNotFound,
                ..
            }
        ),
        "{unknown:?}"
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn a_flood_wait_is_honoured_to_the_second_then_the_group_is_posted() {
    // Every session's first attempt meets a 2 s flood wait; later ones go through.
    let scenario = r#"
        [[overrides]]
        session = "*"
        flood_wait = { rate = 1.0, min_secs = 2, max_secs = 2 }
    "#;
    let mut options = Options::new(1, scenario);
    options.worker.policy.max_wait_in_cycle = Duration::from_secs(10);
    let engine = Engine::start(options, 1).await;
    engine.tenant("f", 1).await;
    engine.start_bot("f", 1).await;
    engine
        .wait_journal(20, "two attempts", |j| j.len() >= 2)
        .await;
    let journal = engine.journal();
    engine.shutdown().await;
    let first = &journal[0];
    assert!(
        matches!(
            first.outcome,
            Outcome::Error(SendError::FloodWait { secs: 2 })
        ),
        "{first:?}"
    );
    let waited = journal[1].started_at - first.ended_at;
    assert!(
        waited >= chrono::TimeDelta::seconds(2),
        "retried after only {waited}"
    );
    assert!(
        journal.iter().all(|e| e.violation.is_none()),
        "posted inside a flood wait"
    );
}

/// One tenant started with one session, which waits out a flood wait of an hour (longer than
/// a cycle may wait); and when that wait ends.
async fn started_in_a_flood_wait_of_an_hour(
    tenant: &str,
) -> (Engine, chrono::DateTime<chrono::Utc>) {
    let engine = Engine::start(Options::new(1, ""), 1).await;
    let until = herald_jobs::clock::now() + chrono::TimeDelta::hours(1);
    engine
        .coord()
        .pause_session(&session_name(0), until)
        .await
        .unwrap();
    engine.tenant(tenant, 1).await;
    engine.start_bot(tenant, 1).await;
    (engine, until)
}

/// A session whose flood wait outlasts what a cycle may wait sits the cycle out: nothing is sent,
/// and the tenant's log says why and until when (the session run's `WorkerError`, as written).
#[tokio::test]
async fn a_session_in_a_long_flood_wait_sits_the_cycle_out_and_the_log_says_until_when() {
    let (engine, until) = started_in_a_flood_wait_of_an_hour("w").await;
    let expected = format!(
        "skipped this cycle: flood wait until {}",
        until.format("%H:%M:%S")
    );
    let mut log = String::new();
    for _ in 0..200 {
        engine.store().flush_logs();
        log = engine.store().log_tail(&uid("w"), 100).join("\n");
        if log.contains(&expected) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(log.contains(&expected), "{log}");
    assert!(engine.journal().is_empty(), "sent inside a flood wait");
    engine.shutdown().await;
}

/// What the worker logs to stderr, captured for one test (a current-thread runtime polls every
/// task on the test's thread, where the subscriber is set).
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_session_runs_log_lines_name_its_tenant_cycle_and_session_through_spans() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let (engine, _) = started_in_a_flood_wait_of_an_hour("spans").await;
    let skipped = |text: &str| {
        text.lines()
            .find(|line| line.contains("session skipped this cycle"))
            .map(str::to_owned)
    };
    for _ in 0..200 {
        if skipped(&String::from_utf8_lossy(&captured.0.lock().unwrap())).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    let line = skipped(&text).unwrap_or_else(|| panic!("no such line in:\n{text}"));
    // The line itself names none of them: the session step's span does.
    assert!(line.contains("session{user.id=spans cycle="), "{line}");
    assert!(
        line.contains(&mask_session_name(&session_name(0))),
        "{line}"
    );
    let command = text
        .lines()
        .find(|line| line.contains("command handled"))
        .unwrap_or_else(|| panic!("no command line in:\n{text}"));
    assert!(
        command.contains("command{user.id=spans request="),
        "{command}"
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn a_flood_wait_that_cannot_be_recorded_stops_the_session_for_the_cycle() {
    // The workers' Redis user may read pauses but not write them: every other key is theirs.
    let server = RedisServer::start();
    let acl = [
        "ACL",
        "SETUSER",
        "worker",
        "on",
        ">pw",
        "~herald:[^p]*",
        "~herald:pe*",
        "%R~herald:pa*",
        "&*",
        "+@all",
    ];
    assert_eq!(server.command(&acl), "+OK");
    let scenario = r#"
        [[overrides]]
        session = "*"
        flood_wait = { rate = 1.0, min_secs = 1, max_secs = 1 }
    "#;
    let mut options = Options::new(1, scenario);
    options.worker.policy.max_wait_in_cycle = Duration::from_secs(10);
    options.redis = Some(format!("redis://worker:pw@127.0.0.1:{}", server.port()));
    let engine = Engine::start(options, 1).await;
    engine.tenant("p", 2).await;
    engine.start_bot("p", 1).await;
    engine
        .wait_journal(30, "cycle 2, or a second attempt in cycle 1", |j| {
            cycles_of(j, "p").contains(&2) || j.iter().filter(|e| e.cycle == 1).count() > 1
        })
        .await;
    let journal = engine.journal();
    let first: Vec<&JournalEntry> = journal.iter().filter(|e| e.cycle == 1).collect();
    // Waiting out the unrecorded wait would have tried again in cycle 1.
    assert_eq!(first.len(), 1, "cycle 1 went on after the wait: {first:?}");
    assert!(
        matches!(
            first[0].outcome,
            Outcome::Error(SendError::FloodWait { .. })
        ),
        "{first:?}"
    );
    engine.store().flush_logs();
    let log = engine.store().log_tail(&uid("p"), 100).join("\n");
    assert!(log.contains("could not be recorded"), "{log}");
    engine.shutdown().await;
}

#[tokio::test]
async fn a_group_that_forbids_writing_is_never_posted_to_again() {
    let scenario = format!(
        r#"
        [[forbidden_targets]]
        target = "{}"
        code = "CHAT_WRITE_FORBIDDEN"
    "#,
        group(1)
    );
    let engine = Engine::start(Options::new(2, &scenario), 1).await;
    engine.tenant("b", 3).await;
    engine.start_bot("b", 2).await;
    engine
        .wait_journal(30, "three cycles", |j| cycles_of(j, "b").len() >= 3)
        .await;
    let journal = engine.journal();
    let blocked = engine.store().user("b").unwrap().blocked_groups.clone();
    engine.shutdown().await;
    let to_forbidden: Vec<&JournalEntry> =
        journal.iter().filter(|e| e.target == group(1)).collect();
    assert_eq!(
        to_forbidden.len(),
        1,
        "tried once, by one session, never again"
    );
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].group, group(1));
    assert_eq!(blocked[0].reason, "CHAT_WRITE_FORBIDDEN");
}

/// The tenant's log once it says `text`, or as it is after 10 s (for the assertion to show).
async fn tenant_log_once_it_says(engine: &Engine, user: &str, text: &str) -> String {
    let mut log = String::new();
    for _ in 0..100 {
        engine.store().flush_logs();
        log = engine.store().log_tail(&uid(user), 100).join("\n");
        if log.contains(text) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    log
}

#[tokio::test]
async fn a_block_that_cannot_be_recorded_is_said_and_the_session_posts_nothing_more_that_cycle() {
    let scenario = format!(
        r#"
        latency_ms = 0
        [[forbidden_targets]]
        target = "{}"
        code = "CHAT_WRITE_FORBIDDEN"
    "#,
        group(1)
    );
    let engine = one_slow_tenant_in("rb", &scenario).await;
    engine
        .wait_journal(30, "the first post", |j| !j.is_empty())
        .await;
    // users.json found corrupt: the store refuses every write from here on.
    std::fs::write(engine.dir.path().join("data/users.json"), b"{ not json").unwrap();
    engine
        .wait_journal(30, "the post to the forbidden group", |j| {
            j.iter().any(|e| e.target == group(1))
        })
        .await;
    let said = "could not be recorded as blocked";
    let log = tenant_log_once_it_says(&engine, "rb", said).await;
    assert!(log.contains(said), "{log}");
    assert!(!log.contains("no session will post there again"), "{log}");
    // The next group was due a second after the refusal.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let journal = engine.journal();
    assert_eq!(
        journal.len(),
        2,
        "posted on after the block went unrecorded: {journal:?}"
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn a_park_that_cannot_be_recorded_pauses_the_session_for_every_worker_instead() {
    let scenario = r#"
        [[overrides]]
        session = "*"
        peer_flood = { rate = 1.0 }
    "#;
    let mut options = Options::new(1, scenario);
    options.worker.policy.max_wait_in_cycle = Duration::from_secs(10);
    let engine = Engine::start(options, 1).await;
    // The session's first post waits 2 s: time to make users.json refuse writes first.
    let short = herald_jobs::clock::now() + chrono::TimeDelta::seconds(2);
    engine
        .coord()
        .pause_session(&session_name(0), short)
        .await
        .unwrap();
    engine.tenant("pk", 1).await;
    engine
        .store()
        .update_user(&uid("pk"), |u| {
            u.delay_between_cycles = 3_600;
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    assert!(matches!(
        engine.start_bot("pk", 1).await,
        CommandOutcome::Running { .. }
    ));
    std::fs::write(engine.dir.path().join("data/users.json"), b"{ not json").unwrap();
    engine
        .wait_journal(30, "the post Telegram limits", |j| !j.is_empty())
        .await;
    let said = "could not be parked, paused for every worker instead";
    let log = tenant_log_once_it_says(&engine, "pk", said).await;
    assert!(log.contains(said), "{log}");
    let paused = engine
        .coord()
        .session_paused_until(&session_name(0))
        .await
        .unwrap();
    let a_day_less_a_minute = herald_jobs::clock::now() + chrono::TimeDelta::minutes(24 * 60 - 1);
    assert!(
        paused.is_some_and(|until| until > a_day_less_a_minute),
        "{paused:?}"
    );
    engine.shutdown().await;
}

#[tokio::test]
async fn a_dead_session_is_quarantined_and_replaced() {
    let scenario = format!(
        r#"
        [[die_after_posts]]
        session = "{}"
        posts = 1
        code = "USER_DEACTIVATED_BAN"
    "#,
        session_name(0)
    );
    let engine = Engine::start(Options::new(3, &scenario), 1).await;
    engine.tenant("d", 2).await;
    engine.start_bot("d", 1).await;
    engine
        .wait_journal(30, "the replacement to post", |j| {
            j.iter()
                .any(|e| e.session != session_name(0) && e.outcome.is_ok())
        })
        .await;
    let user = engine.store().user("d").unwrap();
    engine.shutdown().await;
    assert_eq!(user.banned_sessions, vec![session_name(0)]);
    assert_eq!(
        user.ban_records[&session_name(0)].reason,
        "USER_DEACTIVATED_BAN"
    );
    assert_eq!(user.assigned_sessions.len(), 1);
    assert_ne!(user.assigned_sessions[0], session_name(0));
}

#[tokio::test]
async fn a_checkpoint_entry_that_cannot_be_read_is_in_doubt_never_posted_again_that_cycle() {
    let engine = Engine::start(Options::new(1, ""), 1).await;
    engine.tenant("d", 3).await;
    // What a torn or foreign write would leave: cycle 1 of "d" already holds an unreadable
    // entry for the first group.
    engine
        .coord()
        .checkpoint_put("d", 1, &group(0), "{not a checkpoint")
        .await
        .unwrap();
    assert!(matches!(
        engine.start_bot("d", 1).await,
        CommandOutcome::Running { .. }
    ));
    engine
        .wait_journal(30, "cycle 2", |j| cycles_of(j, "d").contains(&2))
        .await;
    let journal = engine.journal();
    let first: Vec<&str> = journal
        .iter()
        .filter(|e| e.cycle == 1)
        .map(|e| e.target.as_str())
        .collect();
    assert!(!first.contains(&group(0).as_str()), "{first:?}");
    assert_eq!(first.len(), 2);
    assert!(
        journal.iter().any(|e| e.cycle == 2 && e.target == group(0)),
        "the next cycle posts it again"
    );
    engine.store().flush_logs();
    let log = engine.store().log_tail(&uid("d"), 100).join("\n");
    assert!(log.contains("cannot be read"), "{log}");
    engine.shutdown().await;
}

#[tokio::test]
async fn a_cycle_delivered_twice_to_its_worker_posts_each_group_once() {
    // A cycle emitted again while it waited in the queue reaches the worker a second time, and
    // the worker's own claim succeeds again: only the run already going on may post.
    let engine = one_slow_tenant("twice").await;
    engine
        .wait_journal(20, "the first post", |j| !j.is_empty())
        .await;
    let running = engine.coord().in_flight("twice").await.unwrap().unwrap();
    let again = herald_jobs::Cycle {
        user_id: "twice".into(),
        cycle_no: running.cycle_no,
        due_at: running.due_at,
    };
    engine.nodes[0]
        .queue
        .push_cycles(&[again.clone(), again])
        .await
        .unwrap();
    engine
        .wait_journal(20, "the cycle's four groups", |j| j.len() >= 4)
        .await;
    // Long enough for a second run to post the groups the first had not reached.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let journal = engine.journal();
    assert_eq!(journal.len(), 4, "one post per group: {journal:?}");
    assert_one_post_per_group_per_cycle(&journal, 4);
    engine.shutdown().await;
}

#[tokio::test]
async fn a_posted_group_whose_count_is_durable_keeps_no_attempt_in_its_checkpoint() {
    // Counters flush every 50 ms here and posts are a second apart: by a group's next post,
    // the one before it is counted in stats.json, and its entry needs only "done".
    let engine = one_slow_tenant("lean").await;
    engine
        .wait_journal(20, "three posts", |j| j.len() >= 3)
        .await;
    let cycle = engine.journal()[0].cycle;
    let entries: HashMap<String, String> = engine
        .coord()
        .checkpoint_get_all("lean", cycle)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let posted: Vec<String> = engine.journal().iter().map(|e| e.target.clone()).collect();
    for earlier in &posted[..2] {
        assert_eq!(
            entries.get(earlier).map(String::as_str),
            Some("d\u{1f}\u{1f}"),
            "{earlier}: {entries:?}"
        );
    }
    let (dir, journal_path) = engine.shutdown().await;
    let journal = herald_telegram::sim::Journal::read_all(&journal_path).unwrap();
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("data/stats.json")).unwrap())
            .unwrap();
    assert_eq!(
        stats["users"]["lean"]["total_posts"],
        journal.len() as u64,
        "every post counted once"
    );
}
