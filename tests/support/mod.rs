//! Shared pieces of the process-level tests: a data directory laid out with sessions, pairs and
//! tenants, and `herald` child processes that are killed when the test ends.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use herald_data::{PostKind, Store, StoreConfig, UserId};
use herald_session_file::{AuthKey, SessionCredentials, write_telethon};
use herald_sessions::{Pool, PoolConfig};

pub mod deployment;
pub mod invariants;
pub mod wire;

#[allow(unused_imports)] // Not every test binary waits.
pub use deployment::{wait_for, wait_for_async};

/// A loopback port free at the moment of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Environment pairs for a `herald` child.
pub fn env_vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Waits until a `herald` serving at `url` answers `GET /health`.
pub async fn wait_listening(url: &str) {
    let client = reqwest::Client::new();
    let health = format!("{url}/health");
    deployment::wait_for_async(60, "herald to answer", || async {
        client.get(&health).send().await.is_ok()
    })
    .await;
}

/// `GET url` with a bearer token, the answer as JSON.
pub async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> serde_json::Value {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A tenant's log under `root`, every day's file of it.
pub fn tenant_log(root: &Path, user: &str) -> String {
    let Ok(files) = std::fs::read_dir(root.join("logs").join(user)) else {
        return String::new();
    };
    files
        .flatten()
        .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
        .collect()
}

/// Every attempt in the simulator's journal at `path`, none before the first.
pub fn read_journal(path: &Path) -> Vec<herald_telegram::sim::JournalEntry> {
    if path.exists() {
        herald_telegram::sim::Journal::read_all(path).unwrap_or_default()
    } else {
        Vec::new()
    }
}

pub fn session_name(i: usize) -> String {
    format!("+1555{i:07}.session")
}

pub fn group(i: usize) -> String {
    format!("-100{}", 1_000_000_000u64 + i as u64)
}

/// Writes `sessions` Telethon files into `sessions/unused/` and registers enough API pairs.
pub async fn pool(root: &Path, sessions: usize) {
    let dir = root.join("sessions/unused");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..sessions {
        let credentials = SessionCredentials {
            dc_id: 2,
            server_address: "149.154.167.51".into(),
            port: 443,
            auth_key: AuthKey::new([(i % 251) as u8; 256]),
        };
        write_telethon(dir.join(session_name(i)), &credentials).unwrap();
    }
    let store = Store::open(StoreConfig::new(root)).unwrap();
    let pool = Pool::new(store.clone(), PoolConfig::default());
    for i in 0..sessions.div_ceil(7) {
        pool.add_pair(&(10_000 + i).to_string(), &format!("{i:032x}"))
            .await
            .unwrap();
    }
    store.shutdown().unwrap();
}

/// Registers tenants with `groups` groups each and the given delays.
pub async fn tenants(
    root: &Path,
    ids: &[String],
    groups: usize,
    delay_between_posts: u64,
    delay_between_cycles: u64,
) {
    let store = Store::open(StoreConfig::new(root)).unwrap();
    for id in ids {
        let groups: Vec<String> = (0..groups).map(group).collect();
        store
            .upsert_user(&UserId::parse(id).unwrap(), move |u, _| {
                u.groups = groups;
                u.post_type = PostKind::Link;
                u.post_content = "https://t.me/herald_demo/42".into();
                u.delay_between_posts = delay_between_posts;
                u.delay_between_cycles = delay_between_cycles;
                Ok::<_, ()>(())
            })
            .await
            .unwrap();
    }
    store.shutdown().unwrap();
}

/// A `herald` child process, SIGKILLed if still running when dropped.
pub struct Herald {
    pub child: Child,
    pub name: String,
}

impl Herald {
    pub fn spawn(name: &str, args: &[&str], env: &[(String, String)]) -> Herald {
        let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        for (k, v) in env {
            command.env(k, v);
        }
        let log =
            std::env::temp_dir().join(format!("herald-test-{}-{name}.log", std::process::id()));
        let stderr = std::fs::File::create(&log)
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null());
        let child = command
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Herald {
            child,
            name: name.to_owned(),
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }

    /// Waits (up to `secs`) until this process's log holds `text`.
    pub async fn wait_log(&self, text: &str, secs: u64) {
        let path = self.log_path();
        deployment::wait_for(secs, text, || {
            std::fs::read_to_string(&path).is_ok_and(|log| log.contains(text))
        })
        .await;
    }

    /// Waits (up to `secs`) until this process's log holds `key` and returns the word after it:
    /// how a test learns the port a child chose itself (listening on port 0 leaves no window for
    /// another socket to take a port reserved beforehand).
    pub async fn wait_log_value(&self, key: &str, secs: u64) -> String {
        self.wait_log(key, secs).await;
        let log = std::fs::read_to_string(self.log_path()).unwrap();
        let after = &log[log.find(key).unwrap() + key.len()..];
        after
            .split(|c: char| c.is_whitespace() || c == '"')
            .next()
            .unwrap()
            .to_owned()
    }

    /// The last `lines` lines of this process's log, for a failure message.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    pub fn log_path(&self) -> PathBuf {
        std::env::temp_dir().join(format!(
            "herald-test-{}-{}.log",
            std::process::id(),
            self.name
        ))
    }
}

impl Drop for Herald {
    fn drop(&mut self) {
        self.kill();
    }
}
