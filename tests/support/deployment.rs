//! A scale-out deployment in real processes for the fault tests: a private redis-server, a data
//! directory with a session pool and API pairs, `herald` children on loopback sharing it, and an
//! HTTP client that drives them as the old frontend does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use herald_jobs::testing::RedisServer;
use herald_telegram::sim::JournalEntry;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{Herald, pool};

pub const SECRET: &str = "faults-secret-faults-secret-faults-secret";

pub struct Deployment {
    pub redis: RedisServer,
    pub dir: tempfile::TempDir,
    pub url: String,
    pub env: Vec<(String, String)>,
    pub client: reqwest::Client,
    pub sessions_each: u32,
}

impl Deployment {
    /// `sessions` in the pool, `sessions_each` per tenant, the simulator with 1-5 ms latency.
    pub async fn new(sessions: usize, sessions_each: u32, extra_env: &[(&str, &str)]) -> Self {
        let redis = RedisServer::start();
        let dir = tempfile::tempdir().unwrap();
        pool(dir.path(), sessions).await;
        let scenario = dir.path().join("scenario.toml");
        std::fs::write(&scenario, "latency_ms = { min = 1, max = 5 }\n").unwrap();
        let port = super::free_port();
        let mut env = super::env_vars(&[
            ("HERALD_DATA_DIR", dir.path().to_str().unwrap()),
            ("HERALD_REDIS_URL", redis.url().as_str()),
            ("HERALD_JWT_SECRET", SECRET),
            ("HERALD_LISTEN", &format!("127.0.0.1:{port}")),
            ("HERALD_TELEGRAM", "sim"),
            (
                "HERALD_SIM_JOURNAL",
                dir.path().join("journal.jsonl").to_str().unwrap(),
            ),
            ("HERALD_SIM_SCENARIO", scenario.to_str().unwrap()),
            ("HERALD_MIN_DELAY_BETWEEN_POSTS", "0"),
            ("HERALD_MIN_DELAY_BETWEEN_CYCLES", "0"),
            ("HERALD_LEASE_TTL_MS", "1500"),
            ("HERALD_TICK_MS", "200"),
            ("HERALD_STATS_FLUSH_MS", "100"),
            ("HERALD_COMMAND_WAIT_MS", "10000"),
            ("HERALD_LOG", "info"),
        ]);
        for (k, v) in extra_env {
            env.retain(|(key, _)| key != k);
            env.push((k.to_string(), v.to_string()));
        }
        Deployment {
            redis,
            dir,
            url: format!("http://127.0.0.1:{port}"),
            env,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            sessions_each,
        }
    }

    /// Sets (or replaces) environment variables of the children spawned from now on.
    pub fn set_env(&mut self, vars: &[(String, String)]) {
        for (k, v) in vars {
            self.env.retain(|(key, _)| key != k);
            self.env.push((k.clone(), v.clone()));
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn journal_path(&self) -> PathBuf {
        self.root().join("journal.jsonl")
    }

    /// Every attempt the simulator saw, from all processes.
    pub fn journal(&self) -> Vec<JournalEntry> {
        super::read_journal(&self.journal_path())
    }

    pub fn spawn(&self, name: &str, role: &str) -> Herald {
        Herald::spawn(name, &[role], &self.env)
    }

    /// Waits until the API process `api` answers `GET /health` (liveness; `/api/health` also
    /// wants a leading scheduler). Fails at once, with the process's log, when it has exited, and
    /// with the log on a timeout: a bare "timed out" left a CI failure without a cause.
    pub async fn wait_healthy(&self, api: &mut Herald) {
        let client = &self.client;
        let url = format!("{}/health", self.url);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = api.child.try_wait().unwrap() {
                panic!(
                    "{} exited with {status} before answering; its log ends:\n{}",
                    api.name,
                    api.log_tail(40)
                );
            }
            let answered = client
                .get(&url)
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if answered {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {} to answer on {url}; its log ends:\n{}",
                api.name,
                api.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn token(&self, user: &str, admin: bool) -> String {
        let now = chrono::Utc::now().timestamp();
        let role = if admin { "admin" } else { "user" };
        let claims = json!({"user_id": user, "role": role, "plan_status": "active",
            "plan_limits": {"max_sessions": self.sessions_each}, "iat": now, "exp": now + 3600});
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    /// `POST path` as `user`; transport errors come back as `Err`.
    pub async fn post(
        &self,
        user: &str,
        path: &str,
        body: Value,
    ) -> reqwest::Result<(StatusCode, Value)> {
        let response = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(self.token(user, false))
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    pub async fn state(&self, user: &str) -> Value {
        let response = self
            .client
            .get(format!("{}/api/sync/state", self.url))
            .bearer_auth(self.token(user, false))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "sync/state for {user}");
        response.json().await.unwrap()
    }

    /// Registers `user` over HTTP with a text post, `groups` groups, one post a second per
    /// session and cycles back to back.
    pub async fn register(&self, user: &str, groups: usize) {
        let group_ids: Vec<String> = (0..groups).map(super::group).collect();
        for (path, body) in [
            ("/api/bot/register-user", json!({})),
            (
                "/api/bot/update-post",
                json!({"post_type": "text", "post_content": format!("hello from {user}")}),
            ),
            ("/api/bot/update-groups", json!({ "groups": group_ids })),
            (
                "/api/bot/update-delays",
                json!({"delay_between_posts": 1, "delay_between_cycles": 0}),
            ),
        ] {
            let (status, body) = self.post(user, path, body).await.unwrap();
            assert!(status.is_success(), "{path} for {user}: {status} {body}");
        }
    }

    pub async fn start(&self, user: &str) {
        let (status, body) = self.post(user, "/api/bot/start", json!({})).await.unwrap();
        assert!(
            status.is_success() && body["status"] == "running",
            "start {user}: {status} {body}"
        );
    }

    pub async fn stop(&self, user: &str) {
        let (status, body) = self.post(user, "/api/bot/stop", json!({})).await.unwrap();
        assert!(status.is_success(), "stop {user}: {status} {body}");
    }

    /// Waits until users.json says `stopped` for every user.
    pub async fn wait_stopped(&self, users: &[String], secs: u64) {
        wait_for(secs, "every bot stopped", || {
            let doc = super::invariants::users_doc(self.root());
            users
                .iter()
                .all(|u| doc.users[u.as_str()].bot_status == herald_data::BotStatus::Stopped)
        })
        .await;
    }

    /// Waits until every user has `cycles` distinct cycles in the journal that began after `since`.
    pub async fn wait_cycles_after(
        &self,
        users: &[String],
        since: chrono::DateTime<chrono::Utc>,
        cycles: usize,
        secs: u64,
    ) {
        wait_for(secs, "cycles after the fault", || {
            let entries = self.journal();
            users.iter().all(|u| {
                entries
                    .iter()
                    .filter(|e| &e.user_id == u && e.started_at > since)
                    .map(|e| e.cycle)
                    .collect::<std::collections::HashSet<_>>()
                    .len()
                    >= cycles
            })
        })
        .await;
    }
}

pub async fn wait_for_async<F, Fut>(secs: u64, what: &str, done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn wait_for(secs: u64, what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
