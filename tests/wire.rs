//! The engine on the wire: Herald's real grammers adapter, MTProto 2.0 bytes on loopback sockets,
//! against Herald's test DC, which decides every outcome with the simulator's world model and
//! writes the same delivery journal. `tests/support/invariants.rs` judges these runs exactly as
//! it judges simulated ones. Real processes, a private redis-server each; nothing reaches
//! Telegram, and the test DC is not Telegram.
//!
//! The tests take turns (one deployment at a time) so that timing on a 2-core machine stays sane.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use herald_telegram::sim::Outcome;
use herald_telegram::{Post, SendError};
use herald_testdc::{Deliveries, Faults, Silence};
use serde_json::json;
use support::deployment::{Deployment, wait_for};
use support::invariants::{
    check_concurrency, check_counters, check_files, check_journal, check_no_second_connection,
    stats_doc, users_doc,
};
use support::wire::WireDc;
use support::{Herald, session_name};

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A tenant's log, all of it.
fn tenant_log(d: &Deployment, user: &str) -> String {
    support::tenant_log(d.root(), user)
}

/// `herald all` (on the deployment's Redis) posting through an in-process test DC.
struct OneProcess {
    d: Deployment,
    dc: WireDc,
    _herald: Herald,
}

async fn one_process(name: &str, sessions: usize, each: u32, scenario: &str) -> OneProcess {
    let mut d = Deployment::new(sessions, each, &[]).await;
    let dc = WireDc::start(d.root(), scenario).await;
    d.set_env(&dc.env(1500));
    let mut herald = d.spawn(name, "all");
    d.wait_healthy(&mut herald).await;
    OneProcess {
        d,
        dc,
        _herald: herald,
    }
}

/// Registers `user` with these groups and a text post, one post a second, one cycle an hour
/// unless `cycles_back_to_back`.
async fn configure(d: &Deployment, user: &str, groups: &[&str], cycles_back_to_back: bool) {
    d.register(user, 0).await;
    let (status, body) = d
        .post(user, "/api/bot/update-groups", json!({ "groups": groups }))
        .await
        .unwrap();
    assert!(status.is_success(), "{body}");
    if !cycles_back_to_back {
        let (status, body) = d
            .post(
                user,
                "/api/bot/update-delays",
                json!({"delay_between_cycles": 3600}),
            )
            .await
            .unwrap();
        assert!(status.is_success(), "{body}");
    }
}

fn groups(n: usize) -> Vec<String> {
    (0..n).map(support::group).collect()
}

fn refs(groups: &[String]) -> Vec<&str> {
    groups.iter().map(String::as_str).collect()
}

/// Waits until the journal shows `n` deliveries to `user` in cycle `cycle`.
async fn wait_delivered(d: &Deployment, user: &str, cycle: u64, n: usize, secs: u64) {
    wait_for(secs, &format!("{n} deliveries in cycle {cycle}"), || {
        d.journal()
            .iter()
            .filter(|e| e.user_id == user && e.cycle == cycle && e.outcome.is_ok())
            .count()
            >= n
    })
    .await;
}

/// Stops the bots still running and waits until they are: a stopped bot's last cycle has
/// ended and its counters are durable, so the files can be judged against the journal.
async fn settle(d: &Deployment, users: &[&str]) {
    let doc = users_doc(d.root());
    for user in users {
        if doc.users[*user].bot_status != herald_data::BotStatus::Stopped {
            d.stop(user).await;
        }
    }
    let users: Vec<String> = users.iter().map(|u| u.to_string()).collect();
    d.wait_stopped(&users, 60).await;
}

/// What every run must show, whatever happened in it (after [`settle`]).
fn judge(d: &Deployment, users: &[String]) {
    check_files(d.root());
    let entries = d.journal();
    check_journal(&entries, |_| 0);
    check_concurrency(&entries, 7);
    check_no_second_connection(&d.journal_path());
    check_counters(d.root(), &entries, users);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scaled_out_engine_on_grammers_posts_every_group_once_per_cycle() {
    let _turn = ONE_AT_A_TIME.lock().await;
    const TENANTS: usize = 20;
    const SESSIONS_EACH: u32 = 3;
    const GROUPS: usize = 10;
    let mut d = Deployment::new(TENANTS * SESSIONS_EACH as usize, SESSIONS_EACH, &[]).await;
    // `herald testdc` as its own process, as an operator would run it.
    let dc = Herald::spawn("wire-dc", &["testdc", "--listen", "127.0.0.1:0"], &d.env);
    let dc_addr = dc.wait_log_value("HERALD_TELEGRAM_DC_ADDR=", 30).await;
    d.set_env(&support::env_vars(&[
        ("HERALD_TELEGRAM", "grammers"),
        ("HERALD_TELEGRAM_DC_ADDR", &dc_addr),
        ("HERALD_TELEGRAM_CALL_TIMEOUT_MS", "5000"),
    ]));
    let scheduler = d.spawn("wire-scheduler", "scheduler");
    scheduler.wait_log("scheduler is now the leader", 30).await;
    let mut api = d.spawn("wire-api", "api");
    let mut workers = [
        d.spawn("wire-worker-0", "worker"),
        d.spawn("wire-worker-1", "worker"),
    ];
    d.wait_healthy(&mut api).await;
    let users: Vec<String> = (0..TENANTS).map(|t| format!("wire-{t}")).collect();
    for (i, user) in users.iter().enumerate() {
        d.register(user, GROUPS).await;
        if i % 2 == 1 {
            let link = json!({"post_type": "link", "post_content": "https://t.me/herald_news/42"});
            let (status, body) = d.post(user, "/api/bot/update-post", link).await.unwrap();
            assert!(status.is_success(), "{body}");
        }
        d.start(user).await;
    }
    // A fourth cycle begun means the third is over.
    d.wait_cycles_after(&users, Utc::now() - chrono::Duration::hours(1), 4, 240)
        .await;
    for user in &users {
        d.stop(user).await;
    }
    d.wait_stopped(&users, 60).await;
    for process in workers.iter_mut().chain([&mut api]) {
        let status = process.terminate();
        assert!(status.success(), "{} exited with {status}", process.name);
    }
    judge(&d, &users);
    let entries = d.journal();
    let all_groups: HashSet<String> = groups(GROUPS).into_iter().collect();
    for (i, user) in users.iter().enumerate() {
        for cycle in 1..=3 {
            let delivered: HashSet<String> = entries
                .iter()
                .filter(|e| &e.user_id == user && e.cycle == cycle && e.outcome.is_ok())
                .map(|e| e.target.clone())
                .collect();
            assert_eq!(delivered, all_groups, "{user} cycle {cycle}");
        }
        let posted = entries.iter().find(|e| &e.user_id == user).unwrap();
        match (&posted.post, i % 2) {
            (
                Some(Post::Link {
                    channel,
                    message_id,
                }),
                1,
            ) => {
                assert_eq!((channel.as_str(), *message_id), ("herald_news", 42));
            }
            (Some(Post::Text(text)), 0) => assert_eq!(text, &format!("hello from {user}")),
            (other, _) => panic!("{user} posted {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_wait_is_honoured_to_the_second() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let scenario = "seed = 7\nflood_wait = { rate = 0.5, min_secs = 2, max_secs = 3 }\n";
    let p = one_process("flood", 1, 1, scenario).await;
    let groups = groups(6);
    configure(&p.d, "flood", &refs(&groups), false).await;
    p.d.start("flood").await;
    wait_delivered(&p.d, "flood", 1, groups.len(), 90).await;
    settle(&p.d, &["flood"]).await;
    let entries = p.d.journal();
    for pair in entries.windows(2) {
        if let Outcome::Error(SendError::FloodWait { secs }) = pair[0].outcome {
            let waited = pair[1].started_at - pair[0].ended_at;
            assert!(
                waited >= chrono::Duration::seconds(i64::from(secs)),
                "called again {waited} after a flood wait of {secs} s"
            );
        }
    }
    let floods = entries
        .iter()
        .filter(|e| matches!(e.outcome, Outcome::Error(SendError::FloodWait { .. })))
        .count() as u64;
    assert!(floods > 0, "the scenario made no flood wait: {entries:?}");
    let stats = stats_doc(p.d.root());
    assert_eq!(stats.users["flood"].total_flood_waits, floods);
    judge(&p.d, &["flood".into()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_mode_skips_the_chat_for_the_cycle() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let scenario = "slow_mode = { rate = 1.0, secs = 30 }\n";
    let p = one_process("slow", 1, 1, scenario).await;
    let groups = groups(3);
    configure(&p.d, "slow", &refs(&groups), false).await;
    p.d.start("slow").await;
    wait_for(60, "the cycle to end", || {
        tenant_log(&p.d, "slow").contains("Cycle 1 finished: 0 sent, 3 failed")
    })
    .await;
    let entries = p.d.journal();
    assert_eq!(
        entries.len(),
        3,
        "each chat once, then skipped: {entries:?}"
    );
    assert!(
        entries
            .iter()
            .all(|e| e.outcome == Outcome::Error(SendError::SlowMode { secs: 30 }))
    );
    assert_eq!(tenant_log(&p.d, "slow").matches("Slow mode in").count(), 3);
    judge(&p.d, &["slow".into()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chat_that_forbids_the_account_is_never_posted_to_again_by_the_tenant() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let groups = groups(4);
    let scenario = format!(
        "[[forbidden_targets]]\ntarget = \"{}\"\ncode = \"CHAT_WRITE_FORBIDDEN\"\n",
        groups[1]
    );
    let p = one_process("forbid", 2, 2, &scenario).await;
    configure(&p.d, "forbid", &refs(&groups), true).await;
    p.d.start("forbid").await;
    wait_delivered(&p.d, "forbid", 3, 3, 90).await;
    settle(&p.d, &["forbid"]).await;
    let blocked = users_doc(p.d.root()).users["forbid"].blocked_groups.clone();
    assert_eq!(blocked.len(), 1);
    assert_eq!(
        (blocked[0].group.as_str(), blocked[0].reason.as_str()),
        (groups[1].as_str(), "CHAT_WRITE_FORBIDDEN")
    );
    let tries =
        p.d.journal()
            .iter()
            .filter(|e| e.target == groups[1])
            .count();
    assert_eq!(tries, 1, "no session of the tenant posted there again");
    judge(&p.d, &["forbid".into()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_sessions_are_quarantined_and_replaced() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let scenario = format!(
        "[[die_after_posts]]\nsession = \"{}\"\nposts = 1\ncode = \"USER_DEACTIVATED_BAN\"\n\n[[die_after_posts]]\nsession = \"{}\"\nposts = 1\ncode = \"AUTH_KEY_UNREGISTERED\"\n",
        session_name(0),
        session_name(1)
    );
    let p = one_process("dead", 4, 2, &scenario).await;
    let groups = groups(4);
    configure(&p.d, "dead", &refs(&groups), true).await;
    p.d.start("dead").await;
    wait_for(90, "both sessions quarantined and replaced", || {
        let doc = users_doc(p.d.root());
        let user = &doc.users["dead"];
        user.banned_sessions.len() == 2 && user.assigned_sessions.len() == 2
    })
    .await;
    settle(&p.d, &["dead"]).await;
    let doc = users_doc(p.d.root());
    let user = &doc.users["dead"];
    let mut banned = user.banned_sessions.clone();
    banned.sort();
    assert_eq!(banned, [session_name(0), session_name(1)]);
    let reasons: HashSet<&str> = user
        .ban_records
        .values()
        .map(|r| r.reason.as_str())
        .collect();
    assert!(
        reasons.contains("USER_DEACTIVATED_BAN") && reasons.contains("AUTH_KEY_UNREGISTERED"),
        "{reasons:?}"
    );
    assert!(user.assigned_sessions.iter().all(|s| !banned.contains(s)));
    judge(&p.d, &["dead".into()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn peer_flood_parks_the_account() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let scenario = format!(
        "[[overrides]]\nsession = \"{}\"\npeer_flood = {{ rate = 1.0 }}\n",
        session_name(0)
    );
    let p = one_process("parked", 1, 1, &scenario).await;
    let groups = groups(3);
    configure(&p.d, "parked", &refs(&groups), true).await;
    p.d.start("parked").await;
    wait_for(60, "the session parked", || {
        users_doc(p.d.root()).users["parked"]
            .parked_sessions
            .contains_key(&session_name(0))
    })
    .await;
    // Parked: the next cycles skip it rather than call Telegram again.
    wait_for(30, "two more cycles skipped", || {
        tenant_log(&p.d, "parked").contains("Cycle 3 skipped: no usable session")
    })
    .await;
    settle(&p.d, &["parked"]).await;
    let entries = p.d.journal();
    assert_eq!(
        entries.len(),
        1,
        "one PEER_FLOOD, then nothing: {entries:?}"
    );
    judge(&p.d, &["parked".into()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dc_going_silent_mid_cycle_costs_one_timeout_then_a_fresh_connection_posts_the_rest() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let p = one_process("silent", 1, 1, "").await;
    let groups = groups(5);
    configure(&p.d, "silent", &refs(&groups), false).await;
    p.d.start("silent").await;
    wait_delivered(&p.d, "silent", 1, 1, 60).await;
    p.dc.dc.set_faults(Faults {
        silence: Some(Silence::AfterCalls(0)),
        ..Faults::default()
    });
    wait_for(30, "a call timing out", || {
        tenant_log(&p.d, "silent").contains("Network trouble posting")
    })
    .await;
    p.dc.dc.set_faults(Faults::default());
    wait_delivered(&p.d, "silent", 1, groups.len(), 60).await;
    wait_for(30, "the cycle to end", || {
        tenant_log(&p.d, "silent").contains("Cycle 1 finished")
    })
    .await;
    let stats = &stats_doc(p.d.root()).users["silent"];
    // Five deliveries, one attempt lost to the silence; nothing counted for the calls the
    // broken connection never sent.
    assert_eq!(
        (stats.total_success, stats.total_failures, stats.total_posts),
        (5, 1, 6)
    );
    assert!(tenant_log(&p.d, "silent").contains("broke; connecting again"));
    judge(&p.d, &["silent".into()]);
}

/// Runs one tenant through a wire fault on its second delivery; returns the deployment.
async fn one_fault(name: &str, faults: Faults) -> OneProcess {
    let p = one_process(name, 1, 1, "").await;
    p.dc.dc.set_faults(faults);
    let groups = groups(3);
    configure(&p.d, name, &refs(&groups), false).await;
    p.d.start(name).await;
    wait_for(60, "the cycle to end", || {
        tenant_log(&p.d, name).contains("Cycle 1 finished")
    })
    .await;
    p
}

/// The journal of a faulted run: one delivery per group, the faulted one re-sent once with
/// the same random id and answered as a duplicate.
fn one_delivery_each(p: &OneProcess, name: &str) {
    let entries = p.d.journal();
    let mut by_target: HashMap<&str, Vec<&Outcome>> = HashMap::new();
    for e in &entries {
        by_target
            .entry(e.target.as_str())
            .or_default()
            .push(&e.outcome);
    }
    assert_eq!(by_target.len(), 3);
    for outcomes in by_target.values() {
        assert_eq!(
            outcomes.iter().filter(|o| o.is_ok()).count(),
            1,
            "{entries:?}"
        );
    }
    let resent: Vec<_> = entries
        .iter()
        .filter(|e| e.outcome == Outcome::Duplicate)
        .collect();
    assert_eq!(resent.len(), 1, "{entries:?}");
    let original = entries
        .iter()
        .find(|e| e.target == resent[0].target && e.outcome.is_ok())
        .unwrap();
    assert_eq!(
        original.random_id, resent[0].random_id,
        "a re-send carries the same id"
    );
    let stats = &stats_doc(p.d.root()).users[name];
    assert_eq!(stats.total_success, 3, "each delivery counted once");
    judge(&p.d, &[name.to_owned()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_dropped_after_delivery_posts_once_and_counts_once() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let p = one_fault(
        "dropped",
        Faults {
            drop_after_delivery: Some(Deliveries::Nth(2)),
            ..Faults::default()
        },
    )
    .await;
    one_delivery_each(&p, "dropped");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_lost_after_delivery_posts_once_and_counts_once() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let p = one_fault(
        "lost",
        Faults {
            lose_answer_after_delivery: Some(Deliveries::Nth(2)),
            ..Faults::default()
        },
    )
    .await;
    one_delivery_each(&p, "lost");
    assert_eq!(
        stats_doc(p.d.root()).users["lost"].total_failures,
        1,
        "the timed-out call"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_send_is_resumed_with_the_same_random_id() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut d = Deployment::new(2, 2, &[]).await;
    let dc = WireDc::start(d.root(), "").await;
    // The second delivery's answer never comes: its worker waits, and is killed waiting.
    dc.dc.set_faults(Faults {
        lose_answer_after_delivery: Some(Deliveries::Nth(2)),
        ..Faults::default()
    });
    d.set_env(&dc.env(60_000));
    let scheduler = d.spawn("mid-scheduler", "scheduler");
    scheduler.wait_log("scheduler is now the leader", 30).await;
    let mut api = d.spawn("mid-api", "api");
    let mut worker = d.spawn("mid-worker-0", "worker");
    d.wait_healthy(&mut api).await;
    let groups = groups(4);
    configure(&d, "mid", &refs(&groups), false).await;
    d.start("mid").await;
    wait_for(60, "an answer held back", || {
        dc.dc.stats().answers_lost >= 1
    })
    .await;
    worker.kill();
    let _resumer = d.spawn("mid-worker-1", "worker");
    wait_delivered(&d, "mid", 1, groups.len(), 90).await;
    wait_for(30, "the cycle to end", || {
        tenant_log(&d, "mid").contains("Cycle 1 finished")
    })
    .await;
    let entries = d.journal();
    let resent: Vec<_> = entries
        .iter()
        .filter(|e| e.outcome == Outcome::Duplicate)
        .collect();
    assert_eq!(resent.len(), 1, "{entries:?}");
    assert!(tenant_log(&d, "mid").contains("sending it again with the same random id"));
    judge(&d, &["mid".into()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_username_is_resolved_once_per_session_not_once_per_cycle() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let p = one_process("names", 1, 1, "").await;
    let names = ["@alpha_group", "@beta_group", "@gamma_group"];
    configure(&p.d, "names", &names, true).await;
    p.d.start("names").await;
    wait_delivered(&p.d, "names", 3, 3, 90).await;
    settle(&p.d, &["names"]).await;
    assert_eq!(
        p.dc.calls("contacts.resolveUsername"),
        3,
        "once per name, for three cycles"
    );
    assert!(
        p.dc.calls("updates.getState") >= 3,
        "a connection per cycle"
    );
    judge(&p.d, &["names".into()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_health_check_never_connects_a_session_a_bot_is_using() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let p = one_process("health", 2, 1, "latency_ms = 400\n").await;
    let groups = groups(12);
    configure(&p.d, "health", &refs(&groups), false).await;
    p.d.start("health").await;
    wait_delivered(&p.d, "health", 1, 1, 60).await;
    let users = users_doc(p.d.root());
    let used = users.users["health"].assigned_sessions[0].clone();
    let unused = (0..2).map(session_name).find(|s| *s != used).unwrap();
    let response =
        p.d.client
            .post(format!("{}/api/admin/sessions/health-check", p.d.url))
            .bearer_auth(p.d.token("ops", true))
            .json(&json!({"session_filenames": [used, unused]}))
            .send()
            .await
            .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["results"][&used]["status"], "active", "{body}");
    assert_eq!(body["results"][&used]["in_use"], true, "{body}");
    assert_eq!(body["results"][&unused]["status"], "active", "{body}");
    assert_eq!(body["results"][&unused]["in_use"], false, "{body}");
    assert_eq!(p.dc.world.dead_code(&used), None);
    wait_delivered(&p.d, "health", 1, groups.len(), 90).await;
    settle(&p.d, &["health"]).await;
    judge(&p.d, &["health".into()]);
}

/// `herald all --demo` on `port`, its banner on a pipe, its log nowhere.
fn spawn_demo(port: u16) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["all", "--demo"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HERALD_LISTEN", format!("127.0.0.1:{port}"))
        .env("HERALD_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_posts_through_grammers_and_its_test_dc_within_seconds() {
    let _turn = ONE_AT_A_TIME.lock().await;
    use std::io::{BufRead, BufReader};
    let port = support::free_port();
    let mut demo = spawn_demo(port);
    let stdout = demo.stdout.take().unwrap();
    let (banner, token) = tokio::task::spawn_blocking(move || {
        let mut banner = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            banner.push_str(&line);
            banner.push('\n');
            if let Some(token) = line.strip_prefix("TENANT_TOKEN=") {
                return (banner, token.to_owned());
            }
        }
        panic!("the demo printed no tenant token: {banner}");
    })
    .await
    .unwrap();
    assert!(
        banner.contains("through the grammers client over MTProto to a local test DC"),
        "{banner}"
    );
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(format!("{url}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let text = json!({"post_type": "text", "post_content": "Hello from Herald"});
    assert!(
        post("/api/bot/update-post", text)
            .await
            .unwrap()
            .status()
            .is_success()
    );
    assert!(
        post("/api/bot/start", json!({}))
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let started = std::time::Instant::now();
    loop {
        let state = support::get_json(&client, &format!("{url}/api/sync/state"), &token).await;
        if state["stats"]["total_success"].as_u64().unwrap_or(0) >= 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no post within 30 s: {state}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = std::process::Command::new("kill")
        .args(["-INT", &demo.id().to_string()])
        .status();
    let status = demo.wait().unwrap();
    assert!(
        status.success(),
        "the demo exited with {status} after Ctrl-C"
    );
}

#[test]
fn the_demo_serves_on_when_nobody_reads_its_banner() {
    let _turn = ONE_AT_A_TIME.blocking_lock();
    let port = support::free_port();
    let mut demo = spawn_demo(port);
    // `herald all --demo | true`: the banner's reader is gone before the first line.
    drop(demo.stdout.take());
    let healthy = || {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let mut answer = String::new();
        stream
            .write_all(b"GET /health HTTP/1.0\r\n\r\n")
            .and_then(|()| stream.read_to_string(&mut answer))
            .is_ok()
            && answer.starts_with("HTTP/1.0 200")
    };
    let started = std::time::Instant::now();
    while !healthy() {
        assert!(
            demo.try_wait().unwrap().is_none(),
            "the demo exited before serving"
        );
        assert!(started.elapsed().as_secs() < 60, "the demo never served");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The banner is written once serving began; a write to the closed pipe fails at once.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let exited = demo.try_wait().unwrap();
    let _ = demo.kill();
    let _ = demo.wait();
    assert!(exited.is_none(), "the demo stopped: {exited:?}");
}
