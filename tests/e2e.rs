//! End to end, as a deployment runs: a private redis-server, one `herald api`, one `herald
//! scheduler` and two `herald worker` processes on loopback with the simulated Telegram, driven
//! only through HTTP as the old frontend and its admin pages would. One worker is SIGKILLed
//! mid-run; the run completes with no group posted twice in a cycle, the counters in
//! `/api/sync/state` equal the simulator's journal, and every process stops cleanly.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use herald_jobs::testing::RedisServer;
use herald_session_file::{AuthKey, SessionCredentials, write_telethon};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use support::{Herald, wait_for};

const SECRET: &str = "e2e-secret-e2e-secret-e2e-secret-e2e";
const TENANTS: usize = 4;
const SESSIONS_EACH: u32 = 2;
const GROUPS: usize = 6;

fn token(user: &str, admin: bool, max_sessions: u32) -> String {
    let now = chrono::Utc::now().timestamp();
    let role = if admin { "admin" } else { "user" };
    let claims = json!({"user_id": user, "sub": user, "role": role, "plan_status": "active",
        "plan_limits": {"max_sessions": max_sessions}, "iat": now, "exp": now + 3600});
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn session_file(seed: u8) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.session");
    let credentials = SessionCredentials {
        dc_id: 2,
        server_address: "149.154.167.51".into(),
        port: 443,
        auth_key: AuthKey::new([seed; 256]),
    };
    write_telethon(&path, &credentials).unwrap();
    std::fs::read(path).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scaled_out_deployment_driven_over_http_survives_a_killed_worker() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.jsonl");
    let scenario = dir.path().join("scenario.toml");
    std::fs::write(&scenario, "latency_ms = { min = 1, max = 10 }\n").unwrap();
    let port = support::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let env = support::env_vars(&[
        ("HERALD_DATA_DIR", dir.path().to_str().unwrap()),
        ("HERALD_REDIS_URL", redis.url().as_str()),
        ("HERALD_JWT_SECRET", SECRET),
        ("HERALD_LISTEN", &format!("127.0.0.1:{port}")),
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
    let mut scheduler = Herald::spawn("e2e-scheduler", &["scheduler"], &env);
    let mut api = Herald::spawn("e2e-api", &["api"], &env);
    let mut victim = Herald::spawn("e2e-worker-a", &["worker"], &env);
    let mut survivor = Herald::spawn("e2e-worker-b", &["worker"], &env);
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let healthy = client
            .get(format!("{url}/api/health"))
            .send()
            .await
            .ok()
            .map(|r| r.status().is_success());
        if healthy == Some(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The operator: sessions and an API pair through the admin routes.
    let admin = token("ops", true, 0);
    for i in 0..(TENANTS as u32 * SESSIONS_EACH) {
        let form = Form::new().part(
            "file",
            Part::bytes(session_file(i as u8)).file_name(format!("+1555000{i:04}.session")),
        );
        let response = client
            .post(format!("{url}/api/admin/sessions/upload"))
            .bearer_auth(&admin)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "upload: {}",
            response.text().await.unwrap()
        );
    }
    let response = client
        .post(format!("{url}/api/admin/api-pairs/add"))
        .bearer_auth(&admin)
        .json(&json!({"api_id": "24881145", "api_hash": "d625c51e93f6b7367c1ff263cb5f7c89"}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());

    // Tenants: register, post, groups, delays, start.
    let users: Vec<String> = (0..TENANTS).map(|t| format!("tenant-{t}")).collect();
    for user in &users {
        let t = token(user, false, SESSIONS_EACH);
        let post = |path: &str, body: Value| {
            client
                .post(format!("{url}{path}"))
                .bearer_auth(&t)
                .json(&body)
                .send()
        };
        assert!(
            post("/api/bot/register-user", json!({}))
                .await
                .unwrap()
                .status()
                .is_success()
        );
        assert!(
            post(
                "/api/bot/update-post",
                json!({"post_type": "text", "post_content": "Hello from the e2e test"})
            )
            .await
            .unwrap()
            .status()
            .is_success()
        );
        let groups: Vec<String> = (0..GROUPS)
            .map(|g| format!("-100{}", 1_000_000_000 + g))
            .collect();
        assert!(
            post("/api/bot/update-groups", json!({"groups": groups}))
                .await
                .unwrap()
                .status()
                .is_success()
        );
        assert!(
            post(
                "/api/bot/update-delays",
                json!({"delay_between_posts": 1, "delay_between_cycles": 0})
            )
            .await
            .unwrap()
            .status()
            .is_success()
        );
        let started = post("/api/bot/start", json!({})).await.unwrap();
        let status = started.status();
        let body: Value = started.json().await.unwrap();
        assert!(
            status.is_success() && body["status"] == "running",
            "start: {status} {body}"
        );
    }

    // Kill one worker while cycles are in flight, then let every tenant finish three more cycles.
    wait_for(60, "the first posts", || {
        support::read_journal(&journal).len() >= TENANTS * 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500 + rand::random::<u64>() % 1000)).await;
    victim.kill();
    let killed_at = chrono::Utc::now();
    wait_for(120, "cycles after the kill", || {
        let entries = support::read_journal(&journal);
        users.iter().all(|u| {
            entries
                .iter()
                .filter(|e| &e.user_id == u && e.started_at > killed_at)
                .map(|e| e.cycle)
                .collect::<HashSet<_>>()
                .len()
                >= 3
        })
    })
    .await;
    for user in &users {
        let stopped = client
            .post(format!("{url}/api/bot/stop"))
            .bearer_auth(token(user, false, SESSIONS_EACH))
            .send()
            .await
            .unwrap();
        assert!(stopped.status().is_success());
    }
    // Stopped, and the counters flushed after the last post: read until the states say both (or
    // 20 s pass, and the assertions below say what differs).
    let mut states = HashMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let entries = support::read_journal(&journal);
        states.clear();
        for user in &users {
            let state: Value = support::get_json(
                &client,
                &format!("{url}/api/sync/state"),
                &token(user, false, SESSIONS_EACH),
            )
            .await;
            states.insert(user.clone(), state);
        }
        let settled = users.iter().all(|user| {
            let state = &states[user];
            let attempts = entries.iter().filter(|e| &e.user_id == user).count() as u64;
            state["user"]["bot_status"] == "stopped"
                && state["stats"]["total_posts"].as_u64() == Some(attempts)
        });
        if settled || std::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The journal: no group twice in a cycle, no rule broken, counters equal to it.
    let entries = support::read_journal(&journal);
    assert!(
        entries.iter().all(|e| e.violation.is_none()),
        "a Telegram rule was broken"
    );
    let mut seen = HashSet::new();
    for e in &entries {
        assert!(
            seen.insert((e.user_id.clone(), e.cycle, e.target.clone())),
            "{} cycle {} posted {} twice",
            e.user_id,
            e.cycle,
            e.target
        );
    }
    for user in &users {
        let state = &states[user];
        assert_eq!(state["user"]["bot_status"], "stopped", "{user}: {state}");
        let attempts = entries.iter().filter(|e| &e.user_id == user).count() as u64;
        let sent = entries
            .iter()
            .filter(|e| &e.user_id == user && e.outcome.is_ok())
            .count() as u64;
        assert_eq!(
            state["stats"]["total_posts"].as_u64(),
            Some(attempts),
            "{user}: {state}"
        );
        assert_eq!(
            state["stats"]["total_messages_sent"].as_u64(),
            Some(sent),
            "{user}"
        );
    }

    // Under HERALD_LOG=warn a line still says whose request it was: the request's span names
    // the route and the tenant, and exists under any level the filter lets through.
    let refused = client
        .get(format!("{url}/api/admin/sessions/list"))
        .bearer_auth(token(&users[0], false, SESSIONS_EACH))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::FORBIDDEN);
    let framed = format!(
        "request{{method=GET route=/api/admin/sessions/list user.id={}}}: herald_api::auth: admin route refused",
        users[0]
    );
    api.wait_log(&framed, 10).await;

    // Everything stops cleanly.
    for process in [&mut api, &mut survivor, &mut scheduler] {
        let status = process.terminate();
        assert!(status.success(), "{} exited with {status}", process.name);
    }
}
