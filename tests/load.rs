//! Load: 200 concurrent API clients for 60 s (`HERALD_LOAD_SECS` to change it) against one
//! `herald all` on the simulator while 1,000 tenants run, mixing reads (`/api/sync/state`,
//! `/api/bot/status`), config writes and start/stop. No answer may be other than a success or a
//! documented 4xx, no request may fail at the connection, and every acknowledged config write
//! must be what users.json holds at the end (each writer owns one tenant and writes versions in
//! order). Counts per status are printed for RELIABILITY.md; nothing here is timed.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::Herald;

const TENANTS: usize = 1_000;
const CLIENTS: usize = 200;
const SECRET: &str = "load-secret-load-secret-load-secret-00";

fn token(user: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"user_id": user, "plan_status": "active", "plan_limits": {"max_sessions": 1},
            "exp": now + 7200}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn tenant(i: usize) -> String {
    format!("load-{i:04}")
}

struct Api {
    url: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        user: &str,
        body: Option<Value>,
    ) -> StatusCode {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token(user));
        if let Some(body) = body {
            request = request.json(&body);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let _ = response.bytes().await;
                status
            }
            Err(err) => panic!("{path} for {user} failed at the connection: {err}"),
        }
    }
}

fn documented(path: &str, status: StatusCode) -> bool {
    status.is_success()
        // Start while the previous stop is still finishing its cycle, or no session free.
        || (path == "/api/bot/start" && status == StatusCode::CONFLICT)
}

/// What one client saw: status counts per route, and the last acknowledged version it wrote.
#[derive(Default)]
struct Seen {
    statuses: BTreeMap<(String, u16), u64>,
    last_post: Option<u64>,
}

async fn client(api: Arc<Api>, index: usize, until: Instant) -> Seen {
    let user = tenant(index);
    let mut seen = Seen::default();
    let mut version = 0u64;
    let mut running = true;
    while Instant::now() < until {
        version += 1;
        let (method, path, body) = match version % 10 {
            0..=4 => (reqwest::Method::GET, "/api/sync/state", None),
            5 => (reqwest::Method::GET, "/api/bot/status", None),
            6 | 7 => (
                reqwest::Method::POST,
                "/api/bot/update-post",
                Some(json!({"post_type": "text", "post_content": format!("v{version}")})),
            ),
            8 => (
                reqwest::Method::POST,
                "/api/bot/update-groups",
                Some(json!({"groups": [format!("@load_group_{}", version % 7), "@load_group_x"]})),
            ),
            _ if index.is_multiple_of(5) => {
                running = !running;
                let path = if running {
                    "/api/bot/start"
                } else {
                    "/api/bot/stop"
                };
                (reqwest::Method::POST, path, Some(json!({})))
            }
            _ => (reqwest::Method::GET, "/api/bot/state", None),
        };
        let status = api.call(method, path, &user, body).await;
        assert!(documented(path, status), "{path} for {user}: {status}");
        if path == "/api/bot/update-post" && status.is_success() {
            seen.last_post = Some(version);
        }
        *seen
            .statuses
            .entry((path.to_owned(), status.as_u16()))
            .or_default() += 1;
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_clients_for_a_minute_while_a_thousand_tenants_run() {
    let secs: u64 = std::env::var("HERALD_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    support::pool(root, TENANTS).await;
    let users: Vec<String> = (0..TENANTS).map(tenant).collect();
    support::tenants(root, &users, 3, 1, 5).await;
    let port = support::free_port();
    let env = support::env_vars(&[
        ("HERALD_DATA_DIR", root.to_str().unwrap()),
        ("HERALD_JWT_SECRET", SECRET),
        ("HERALD_LISTEN", &format!("127.0.0.1:{port}")),
        ("HERALD_TELEGRAM", "sim"),
        ("HERALD_MIN_DELAY_BETWEEN_POSTS", "1"),
        ("HERALD_MIN_DELAY_BETWEEN_CYCLES", "1"),
        ("HERALD_LOG", "warn"),
    ]);
    let mut herald = Herald::spawn("load-all", &["all"], &env);
    let api = Arc::new(Api {
        url: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
    });
    support::wait_listening(&api.url).await;

    // Every tenant running first, started over HTTP in parallel.
    let starts: Vec<_> = users
        .chunks(TENANTS / CLIENTS)
        .map(|chunk| {
            let (api, chunk) = (api.clone(), chunk.to_vec());
            tokio::spawn(async move {
                for user in chunk {
                    let status = api
                        .call(
                            reqwest::Method::POST,
                            "/api/bot/start",
                            &user,
                            Some(json!({})),
                        )
                        .await;
                    assert!(status.is_success(), "start {user}: {status}");
                }
            })
        })
        .collect();
    for start in starts {
        start.await.unwrap();
    }

    let until = Instant::now() + Duration::from_secs(secs);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| tokio::spawn(client(api.clone(), i, until)))
        .collect();
    let mut totals: BTreeMap<(String, u16), u64> = BTreeMap::new();
    let mut last_posts = Vec::new();
    for (i, handle) in clients.into_iter().enumerate() {
        let seen = handle.await.unwrap();
        for (key, n) in seen.statuses {
            *totals.entry(key).or_default() += n;
        }
        last_posts.push((tenant(i), seen.last_post));
    }

    // No acknowledged write lost: each writer's last acknowledged post is the one on disk.
    let doc = support::invariants::users_doc(root);
    for (user, last) in &last_posts {
        let last = last.unwrap_or_else(|| panic!("{user} never got a write acknowledged"));
        assert_eq!(
            doc.users[user.as_str()].post_content,
            format!("v{last}"),
            "{user}"
        );
    }
    support::invariants::check_files(root);
    let status = herald.terminate();
    assert!(status.success(), "herald all exited with {status}");

    // The tenants did run meanwhile: every one of them posted.
    let stats = support::invariants::stats_doc(root);
    let silent: Vec<_> = users
        .iter()
        .filter(|u| {
            stats
                .users
                .get(u.as_str())
                .is_none_or(|s| s.total_posts == 0)
        })
        .collect();
    assert!(silent.is_empty(), "{} tenants never posted", silent.len());
    let posts: u64 = stats.users.values().map(|s| s.total_posts).sum();
    eprintln!("{posts} posts by the running tenants");
    let requests: u64 = totals.values().sum();
    eprintln!("{requests} requests in {secs} s by {CLIENTS} clients, {TENANTS} tenants running:");
    for ((path, status), n) in &totals {
        eprintln!("  {status} {path}: {n}");
    }
}
