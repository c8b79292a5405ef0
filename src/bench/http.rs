//! What the HTTP benchmarks share: a data directory with many tenants, `herald all` started on it
//! as a child process (so the load generator, this process, is another process on loopback), and
//! a closed-loop load generator recording each request's latency.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use herald_api::claims::{TokenRequest, mint};
use herald_data::{PostKind, StatsDelta, Store, StoreConfig, User, UserId};
use secrecy::SecretString;

pub const SECRET: &str = "bench-secret-bench-secret-bench-secret!";

/// Writes `users` tenants (20 groups, a link post, some counters and a short log each).
pub async fn populate(root: &Path, users: usize) -> anyhow::Result<()> {
    let store = Store::open(StoreConfig::new(root))?;
    let template = User {
        groups: (0..20)
            .map(|g| format!("-100{}", 1_000_000_000 + g))
            .collect(),
        post_type: PostKind::Link,
        post_content: "https://t.me/herald_demo/42".into(),
        ..User::default()
    };
    store
        .update_users(move |doc| {
            for i in 0..users {
                doc.users
                    .insert(format!("u{i}"), Arc::new(template.clone()));
            }
            Ok::<_, ()>(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("populate: {e:?}"))?;
    for i in 0..users {
        let id = format!("u{i}");
        store.add_stats(
            &id,
            &StatsDelta {
                posts: 40,
                success: 38,
                failures: 2,
                messages_sent: 38,
                last_activity: Some(chrono::Utc::now()),
                ..StatsDelta::default()
            },
        );
        let user = UserId::parse(&id).map_err(anyhow::Error::msg)?;
        for line in 0..20 {
            store.log(
                &user,
                herald_data::Level::Info,
                &format!(
                    "Posted to -100{} from demo…01.session",
                    1_000_000_000 + line
                ),
            );
        }
    }
    store.flush_logs();
    store.shutdown()?;
    Ok(())
}

/// `herald all` on `root`, listening on a free loopback port; killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    pub fn start(root: &Path, extra_env: &[(&str, &str)]) -> anyhow::Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let exe = std::env::current_exe().context("cannot find the herald binary")?;
        // A profiler to run the server under (`heaptrack`, `valgrind --tool=massif`): then the
        // figures read from /proc are the wrapper's, and only its own output counts.
        let wrapper = std::env::var("HERALD_BENCH_WRAP").unwrap_or_default();
        let mut words = wrapper.split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut command = Command::new(program);
                command.args(words).arg(exe);
                command
            }
            None => Command::new(exe),
        };
        command
            .arg("all")
            .env("HERALD_DATA_DIR", root)
            .env("HERALD_LISTEN", format!("127.0.0.1:{port}"))
            .env("HERALD_JWT_SECRET", SECRET)
            .env("HERALD_TELEGRAM", "sim")
            .env("HERALD_LOG", "warn")
            .env_remove("HERALD_REDIS_URL")
            .stdout(Stdio::null());
        for (k, v) in extra_env {
            command.env(k, v);
        }
        let child = command.spawn().context("cannot start herald all")?;
        let server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        wait_listening(port, Duration::from_secs(60), "herald all")?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the server process, from /proc.
    pub fn rss_bytes(&self) -> u64 {
        rss_of(self.child.id())
    }

    /// SIGTERM, then wait (the server flushes its counters).
    pub fn stop(mut self) -> anyhow::Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until something accepts connections on the loopback `port`.
pub fn wait_listening(port: u16, within: Duration, what: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > within {
            bail!(
                "{what} did not listen on port {port} within {} s",
                within.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Resident memory of a process, from /proc (0 once it is gone).
pub fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

/// A throw-away data directory under `parent` holding `users` tenants (`populate`).
pub fn populated_dir(
    runtime: &tokio::runtime::Runtime,
    parent: &std::path::Path,
    name: &str,
    users: usize,
) -> anyhow::Result<tempfile::TempDir> {
    let dir = super::scratch(parent, name)?;
    runtime.block_on(populate(dir.path(), users))?;
    Ok(dir)
}

/// A token for each tenant `u0`..`u{users-1}` of `populate`.
pub fn tokens(users: usize) -> anyhow::Result<Vec<String>> {
    (0..users).map(|i| token(&format!("u{i}"))).collect()
}

pub fn token(user: &str) -> anyhow::Result<String> {
    Ok(mint(
        &SecretString::from(SECRET.to_owned()),
        &TokenRequest {
            user_id: user.into(),
            admin: false,
            ttl: chrono::Duration::hours(2),
            plan_status: Some("active".into()),
            max_sessions: Some(1),
            plan_type: None,
        },
    )?)
}

/// Runs `connections` closed loops for `duration`; `request(i)` builds the i-th request. Returns
/// each successful request's latency and the number of failures.
pub async fn load<F>(connections: usize, duration: Duration, request: F) -> (Vec<Duration>, usize)
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap_or_default();
    let request = Arc::new(request);
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let (client, request) = (client.clone(), request.clone());
            tokio::spawn(async move {
                let (mut latencies, mut failures, mut i) = (Vec::new(), 0usize, c);
                while Instant::now() < deadline {
                    let started = Instant::now();
                    match request(&client, i).send().await {
                        Ok(response) if response.status().is_success() => {
                            let _ = response.bytes().await;
                            latencies.push(started.elapsed());
                        }
                        _ => failures += 1,
                    }
                    i += connections;
                }
                (latencies, failures)
            })
        })
        .collect();
    let (mut all, mut failed) = (Vec::new(), 0);
    for task in tasks {
        if let Ok((latencies, failures)) = task.await {
            all.extend(latencies);
            failed += failures;
        }
    }
    (all, failed)
}

/// Sends `n` requests, `concurrency` at a time; returns (succeeded, failed).
pub async fn fire<F>(n: usize, concurrency: usize, request: F) -> (usize, usize)
where
    F: Fn(&reqwest::Client, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let client = reqwest::Client::new();
    let request = Arc::new(request);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, request, next) = (client.clone(), request.clone(), next.clone());
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0, 0);
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        return (ok, failed);
                    }
                    match request(&client, i).send().await {
                        Ok(r) if r.status().is_success() => ok += 1,
                        _ => failed += 1,
                    }
                }
            })
        })
        .collect();
    let (mut ok, mut failed) = (0, 0);
    for task in tasks {
        if let Ok((o, f)) = task.await {
            ok += o;
            failed += f;
        }
    }
    (ok, failed)
}
