//! Process faults on the scale-out topology, each during a multi-tenant run: workers SIGKILLed
//! at random moments, the scheduler SIGKILLed (the standby takes over), Redis stopped for 10 s,
//! the API SIGKILLed during a burst of config writes. After each: the state files parse and keep
//! the session invariants, the simulator's journal shows no group posted twice in a cycle and no
//! session on two connections, and the counters equal the journal.
//!
//! Real processes, a private redis-server, the simulated Telegram; nothing reaches Telegram. The
//! tests take turns (one deployment at a time) so that timing on a 2-core machine stays sane.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use support::deployment::Deployment;
use support::invariants::{check_counters, check_files, check_journal, users_doc};

const TENANTS: usize = 4;
const SESSIONS_EACH: u32 = 2;
const GROUPS: usize = 6;

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn tenants(prefix: &str) -> Vec<String> {
    (0..TENANTS).map(|t| format!("{prefix}-{t}")).collect()
}

async fn deployment() -> Deployment {
    Deployment::new(TENANTS * SESSIONS_EACH as usize, SESSIONS_EACH, &[]).await
}

async fn random_pause(min_ms: u64, spread_ms: u64) {
    tokio::time::sleep(Duration::from_millis(
        min_ms + rand::random::<u64>() % spread_ms,
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn workers_sigkilled_again_and_again_lose_and_duplicate_nothing() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let d = deployment().await;
    let scheduler = d.spawn("kills-scheduler", "scheduler");
    let mut api = d.spawn("kills-api", "api");
    let mut workers = [
        d.spawn("kills-worker-0", "worker"),
        d.spawn("kills-worker-1", "worker"),
    ];
    scheduler.wait_log("scheduler is now the leader", 30).await;
    d.wait_healthy(&mut api).await;
    let users = tenants("kills");
    let began = Utc::now();
    for user in &users {
        d.register(user, GROUPS).await;
        d.start(user).await;
    }
    d.wait_cycles_after(&users, began, 1, 60).await;

    for round in 0..4 {
        random_pause(300, 1500).await;
        let victim = rand::random::<u64>() as usize % workers.len();
        workers[victim].kill();
        workers[victim] = d.spawn(&format!("kills-worker-r{round}"), "worker");
    }
    d.wait_cycles_after(&users, Utc::now(), 2, 120).await;
    for user in &users {
        d.stop(user).await;
    }
    d.wait_stopped(&users, 60).await;
    for process in workers.iter_mut().chain([&mut api]) {
        let status = process.terminate();
        assert!(status.success(), "{} exited with {status}", process.name);
    }

    check_files(d.root());
    let entries = d.journal();
    check_journal(&entries, |_| 0);
    check_counters(d.root(), &entries, &users);
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduler_sigkilled_the_standby_takes_over_and_every_bot_ends_stopped_saying_why() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let d = deployment().await;
    let mut leader = d.spawn("sched-leader", "scheduler");
    leader.wait_log("scheduler is now the leader", 30).await;
    let standby = d.spawn("sched-standby", "scheduler");
    let mut api = d.spawn("sched-api", "api");
    let mut worker = d.spawn("sched-worker", "worker");
    d.wait_healthy(&mut api).await;
    let users = tenants("sched");
    let began = Utc::now();
    for user in &users {
        d.register(user, GROUPS).await;
        d.start(user).await;
    }
    d.wait_cycles_after(&users, began, 1, 60).await;

    leader.kill();
    // The standby leads once the lease lapses (1.5 s) and applies the restart rule.
    standby.wait_log("scheduler is now the leader", 30).await;
    d.wait_stopped(&users, 30).await;
    let standby_log = std::fs::read_to_string(standby.log_path()).unwrap();
    assert!(standby_log.contains("stopped every running bot after a restart"));
    // Tenant log lines reach their files within a second.
    for user in &users {
        let mut state = d.state(user).await;
        for _ in 0..50 {
            if state["logs"]
                .as_str()
                .is_some_and(|l| l.contains("Bot stopped because Herald restarted"))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            state = d.state(user).await;
        }
        let said_why = state["logs"]
            .as_str()
            .is_some_and(|l| l.contains("Bot stopped because Herald restarted"));
        assert!(said_why, "{user} was not told why its bot stopped: {state}");
    }

    // Tenants start again and the new leader runs their cycles.
    let restarted = Utc::now();
    for user in &users {
        d.start(user).await;
    }
    d.wait_cycles_after(&users, restarted, 2, 60).await;
    for user in &users {
        d.stop(user).await;
    }
    d.wait_stopped(&users, 60).await;
    assert!(worker.terminate().success());

    check_files(d.root());
    let entries = d.journal();
    check_journal(&entries, |_| 0);
    check_counters(d.root(), &entries, &users);
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_stopped_for_ten_seconds_every_process_reconnects_and_nothing_on_disk_is_lost() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut d = deployment().await;
    let mut scheduler = d.spawn("redis-scheduler", "scheduler");
    scheduler.wait_log("scheduler is now the leader", 30).await;
    let mut api = d.spawn("redis-api", "api");
    let mut workers = [
        d.spawn("redis-worker-0", "worker"),
        d.spawn("redis-worker-1", "worker"),
    ];
    d.wait_healthy(&mut api).await;
    let users = tenants("redis");
    let began = Utc::now();
    for user in &users {
        d.register(user, GROUPS).await;
        d.start(user).await;
    }
    d.wait_cycles_after(&users, began, 1, 60).await;
    let config_before: Vec<_> = users
        .iter()
        .map(|u| {
            let doc = users_doc(d.root());
            let user = &doc.users[u.as_str()];
            (user.groups.clone(), user.post_content.clone())
        })
        .collect();

    d.redis.kill();
    let gone = Utc::now();
    // While Redis is away the API still answers (reads come from the data files).
    random_pause(2_000, 1_000).await;
    let during = d
        .client
        .get(format!("{}/api/health", d.url))
        .send()
        .await
        .unwrap();
    assert!(during.status().is_success() || during.status().as_u16() == 503);
    // A command cannot reach a worker: 503 with a fixed sentence, never the Redis client's text.
    let (status, body) = d.post(&users[0], "/api/bot/stop", json!({})).await.unwrap();
    assert_eq!(status.as_u16(), 503, "{body}");
    let said = body.to_string().to_lowercase();
    for leak in ["redis", "os error", "refused", "broken pipe", "127.0.0.1"] {
        assert!(!said.contains(leak), "the 503 says '{leak}': {body}");
    }
    tokio::time::sleep(Duration::from_secs(8)).await;
    // No send without its checkpoint: with Redis gone no checkpoint can be written, so no post
    // starts (one in flight at the kill may still end).
    let blind: Vec<_> = d
        .journal()
        .into_iter()
        .filter(|e| e.started_at > gone + chrono::Duration::milliseconds(500))
        .collect();
    assert!(
        blind.is_empty(),
        "posts made while no checkpoint could be written: {blind:?}"
    );
    d.redis.start_again();
    let back = Utc::now();

    // The scheduler leads a Redis that remembers nothing: the restart rule stops every bot.
    d.wait_stopped(&users, 60).await;
    for user in &users {
        let mut started = false;
        for _ in 0..60 {
            let (status, body) = d.post(user, "/api/bot/start", json!({})).await.unwrap();
            if status.is_success() && body["status"] == "running" {
                started = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(
            started,
            "{user} could not start again after Redis came back"
        );
    }
    d.wait_cycles_after(&users, back, 2, 120).await;
    for user in &users {
        d.stop(user).await;
    }
    d.wait_stopped(&users, 60).await;
    for process in workers.iter_mut().chain([&mut api, &mut scheduler]) {
        let status = process.terminate();
        assert!(status.success(), "{} exited with {status}", process.name);
    }

    check_files(d.root());
    let doc = users_doc(d.root());
    for (user, (groups, post)) in users.iter().zip(config_before) {
        assert_eq!(doc.users[user.as_str()].groups, groups);
        assert_eq!(doc.users[user.as_str()].post_content, post);
    }
    let entries = d.journal();
    // Cycle numbers live in Redis; the empty Redis numbers cycles from 1 again.
    check_journal(&entries, |e| u32::from(e.started_at >= back));
    check_counters(d.root(), &entries, &users);
}

/// One client's view of its writes: the last version answered 2xx and the one in flight when
/// the API died.
#[derive(Default, Debug, Clone, Copy)]
struct Acked {
    groups: Option<u64>,
    groups_in_flight: Option<u64>,
    post: Option<u64>,
    post_in_flight: Option<u64>,
}

fn version_group(v: u64) -> String {
    format!("-100{}", 2_000_000_000 + v)
}

#[tokio::test(flavor = "multi_thread")]
async fn api_sigkilled_during_a_write_burst_keeps_every_acknowledged_write() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let d = deployment().await;
    let mut api = d.spawn("burst-api", "api");
    d.wait_healthy(&mut api).await;
    let users: Vec<String> = (0..8).map(|t| format!("burst-{t}")).collect();
    for user in &users {
        d.register(user, 1).await;
    }

    let d = std::sync::Arc::new(d);
    let clients: Vec<_> = users
        .iter()
        .cloned()
        .map(|user| {
            let d = d.clone();
            tokio::spawn(async move {
                let mut acked = Acked::default();
                for v in 0.. {
                    let (path, body) = if v % 2 == 0 {
                        acked.groups_in_flight = Some(v);
                        (
                            "/api/bot/update-groups",
                            json!({"groups": [version_group(v)]}),
                        )
                    } else {
                        acked.post_in_flight = Some(v);
                        (
                            "/api/bot/update-post",
                            json!({"post_type": "text", "post_content": format!("v{v}")}),
                        )
                    };
                    match d.post(&user, path, body).await {
                        Ok((status, _)) if status.is_success() => {
                            if v % 2 == 0 {
                                acked.groups = Some(v);
                            } else {
                                acked.post = Some(v);
                            }
                        }
                        Ok((status, body)) => panic!("{path} for {user}: {status} {body}"),
                        Err(_) => return (user, acked),
                    }
                }
                unreachable!()
            })
        })
        .collect();
    random_pause(1_000, 1_500).await;
    api.kill();
    let mut results = Vec::new();
    for client in clients {
        results.push(client.await.unwrap());
    }

    check_files(d.root());
    let doc = users_doc(d.root());
    let mut acknowledged = 0;
    for (user, acked) in &results {
        let record = &doc.users[user.as_str()];
        if let Some(v) = acked.groups {
            acknowledged += 1;
            let on_disk = &record.groups[0];
            let allowed = [Some(v), acked.groups_in_flight].map(|v| v.map(version_group));
            assert!(
                allowed.contains(&Some(on_disk.clone())),
                "{user}: groups acknowledged at v{v}, on disk {on_disk}"
            );
        }
        if let Some(v) = acked.post {
            acknowledged += 1;
            let allowed = [Some(v), acked.post_in_flight].map(|v| v.map(|v| format!("v{v}")));
            assert!(
                allowed.contains(&Some(record.post_content.clone())),
                "{user}: post acknowledged at v{v}, on disk {}",
                record.post_content
            );
        }
    }
    assert!(
        acknowledged > 0,
        "no write was acknowledged before the kill"
    );

    // A new API process serves what is on disk.
    let mut api = d.spawn("burst-api-again", "api");
    d.wait_healthy(&mut api).await;
    for user in &users {
        let state = d.state(user).await;
        assert_eq!(
            state["user"]["groups"],
            json!(doc.users[user.as_str()].groups)
        );
    }
}
