//! `herald bench posts`: end-to-end posts per second on one in-process worker with no latency
//! and no delays, many tenants, against the simulated Telegram (`--telegram sim`, the trait door)
//! or through the grammers client and Herald's test DC on loopback (`--telegram grammers`, the
//! wire door, which also reports the cost of one connect). At the end the counters in
//! `stats.json` must equal the sends seen, and the number of `stats.json` writes shows the group
//! commit bounding counter traffic.

use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_trait::async_trait;
use herald_data::{BotStatus, Store, StoreConfig, User};
use herald_jobs::{ConsumerLimits, CoordConfig, Coordination, Queue, clock};
use herald_scheduler::{Scheduler, SchedulerConfig};
use herald_session_file::{AuthKey, SessionCredentials, write_telethon};
use herald_sessions::{Pool, PoolConfig};
use herald_telegram::{
    ApiCredentials, AttemptLabel, Connection, Delivery, Post, Scenario, SendError, SessionHandle,
    SimTelegram, Target, Telegram,
};
use herald_worker::{Worker, WorkerConfig};
use tokio_util::sync::CancellationToken;

use super::report::{line, table};

#[derive(Debug, clap::Args)]
pub struct PostsArgs {
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Groups per tenant (one session each).
    #[arg(long, default_value_t = 10)]
    groups: usize,
    /// How long to post.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Directory for the throw-away data directory (a real disk, not a tmpfs).
    #[arg(long, default_value = ".")]
    dir: std::path::PathBuf,
    /// Which door onto the simulated world: the trait-level simulator or the test DC's wire.
    #[arg(long, value_enum, default_value_t = Door::Sim)]
    telegram: Door,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Door {
    Sim,
    Grammers,
}

pub fn run(args: &PostsArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let dir = super::scratch(&args.dir, "posts")?;
    line("## bench posts")?;
    line(&format!(
        "setting up {} tenants with one session and {} groups each ...",
        args.users, args.groups
    ))?;
    runtime.block_on(setup(dir.path(), args))?;
    let measured = runtime.block_on(measure(dir.path(), args))?;
    let door = match args.telegram {
        Door::Sim => "simulated Telegram at the trait seam",
        Door::Grammers => "grammers over MTProto on loopback to Herald's test DC",
    };
    line(&format!(
        "\nOne process: in-process queue and coordination, {door} (no latency, no faults), delays 0, {} s of posting.\n",
        args.seconds
    ))?;
    table(
        &[
            "posts/s",
            "posts",
            "counters in stats.json",
            "stats.json writes",
            "posts per stats.json write",
        ],
        &[vec![
            format!(
                "{:.0}",
                measured.posts as f64 / measured.elapsed.as_secs_f64()
            ),
            measured.posts.to_string(),
            if measured.counted == measured.posts {
                format!("{} (exact)", measured.counted)
            } else {
                format!("{} (MISMATCH)", measured.counted)
            },
            measured.stats_writes.to_string(),
            format!(
                "{:.0}",
                measured.posts as f64 / measured.stats_writes.max(1) as f64
            ),
        ]],
    )?;
    if let Some((median, p99)) = measured.connect {
        line(&format!(
            "\nOne connect, handshake to first post (grammers, 200 sessions one after another): median {:.1} ms, p99 {:.1} ms.",
            median.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0
        ))?;
    }
    if measured.counted != measured.posts {
        bail!(
            "counters ({}) differ from the sends the simulator saw ({})",
            measured.counted,
            measured.posts
        );
    }
    Ok(())
}

/// Sessions, pairs and running tenants, written directly (the start path is not what is measured).
async fn setup(root: &std::path::Path, args: &PostsArgs) -> anyhow::Result<()> {
    super::http::populate(root, args.users).await?;
    give_sessions(root, args.users).await?;
    let (users, groups) = (args.users, args.groups);
    let store = Store::open(StoreConfig::new(root))?;
    store
        .update_users(move |doc| {
            for i in 0..users {
                if let Some(user) = doc.users.get_mut(&format!("u{i}")) {
                    let user = Arc::make_mut(user);
                    user.groups = (0..groups)
                        .map(|g| format!("-100{}", 1_000_000_000 + g))
                        .collect();
                    user.bot_status = BotStatus::Running;
                    user.delay_between_posts = 0;
                    user.delay_between_cycles = 0;
                }
            }
            Ok::<_, ()>(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("setup: {e:?}"))?;
    store.shutdown()?;
    Ok(())
}

/// One session file per tenant `u<i>` in its assigned folder, bound to one of enough API pairs.
pub async fn give_sessions(root: &std::path::Path, users: usize) -> anyhow::Result<()> {
    let store = Store::open(StoreConfig::new(root))?;
    let pool = Pool::new(store.clone(), PoolConfig::default());
    for i in 0..users.div_ceil(7) {
        pool.add_pair(&(10_000 + i).to_string(), &format!("{i:032x}"))
            .await?;
    }
    for i in 0..users {
        let dir = root.join("sessions/assigned").join(format!("u{i}"));
        std::fs::create_dir_all(&dir)?;
        // A key of its own per session: a test DC tells sessions apart by their keys.
        let mut key = [7u8; 256];
        key[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let credentials = SessionCredentials {
            dc_id: 2,
            server_address: "149.154.167.51".into(),
            port: 443,
            auth_key: AuthKey::new(key),
        };
        write_telethon(dir.join(format!("s{i}.session")), &credentials)?;
    }
    store
        .update_users(move |doc| {
            for i in 0..users {
                let session = format!("s{i}.session");
                doc.bindings.insert(session.clone(), (i / 7) as u32);
                let user = Arc::make_mut(
                    doc.users
                        .entry(format!("u{i}"))
                        .or_insert_with(|| Arc::new(User::default())),
                );
                user.assigned_sessions = vec![session];
                user.api_pairs = vec![(i / 7) as u32];
            }
            Ok::<_, ()>(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("give_sessions: {e:?}"))?;
    store.shutdown()?;
    Ok(())
}

struct Measured {
    posts: u64,
    counted: u64,
    elapsed: Duration,
    stats_writes: u64,
    /// Handshake to first post on the wire: median and p99.
    connect: Option<(Duration, Duration)>,
}

/// One measured run, in the order it happens. Long because a benchmark's steps are read as one
/// script; it is not on any path a user takes.
async fn measure(root: &std::path::Path, args: &PostsArgs) -> anyhow::Result<Measured> {
    let store = Store::open(StoreConfig::new(root))?;
    let pool = Pool::new(store.clone(), PoolConfig::default());
    let coord = Coordination::in_memory(CoordConfig::default());
    let queue = Queue::in_memory();
    let sends = Arc::new(AtomicU64::new(0));
    let (inner, dc): (Arc<dyn Telegram>, _) = match args.telegram {
        Door::Sim => (
            Arc::new(SimTelegram::new(Scenario::default(), None, None)?),
            None,
        ),
        Door::Grammers => {
            let (telegram, dc) = super::wire::grammers_and_dc(root).await?;
            (telegram, Some(dc))
        }
    };
    let telegram = Arc::new(Counting {
        inner: inner.clone(),
        sends: sends.clone(),
    });
    let shutdown = CancellationToken::new();
    let mut config = WorkerConfig::new(store.process_id());
    config.min_delay_between_posts = 0;
    config.min_delay_between_cycles = 0;
    let worker = Worker::new(
        store.clone(),
        pool,
        coord.clone(),
        telegram,
        config,
        shutdown.clone(),
    );
    let (on_command, on_cycle) = worker.handlers();
    let limits = ConsumerLimits {
        cycles: args.users,
        ..ConsumerLimits::default()
    };
    let consumer = tokio::spawn({
        let (queue, shutdown) = (queue.clone(), shutdown.clone());
        async move { queue.consume(on_command, on_cycle, limits, shutdown).await }
    });
    coord.set_epoch("bench-posts").await?;
    let scheduler = Scheduler::new(
        coord.clone(),
        queue,
        store.clone(),
        SchedulerConfig::new("bench-posts"),
    );
    let scheduling = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { scheduler.run(shutdown).await }
    });
    let posts_before = total_posts(root)?;
    let stats_file = root.join("data/stats.json.lock");
    let writes_before = generation(&stats_file);
    let now = clock::now();
    for i in 0..args.users {
        coord.schedule(&format!("u{i}"), now).await?;
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    shutdown.cancel();
    consumer.await?.context("the worker failed")?;
    scheduling.await?;
    let elapsed = started.elapsed();
    store.shutdown()?;
    let connect = match dc {
        None => None,
        Some(dc) => {
            let files: Vec<_> = (0..args.users.min(200))
                .map(|i| {
                    let name = format!("s{i}.session");
                    let path = root
                        .join("sessions/assigned")
                        .join(format!("u{i}"))
                        .join(&name);
                    (name, path)
                })
                .collect();
            let cost = super::wire::connect_cost(inner.as_ref(), &files).await?;
            dc.stop().await;
            Some(cost)
        }
    };
    let posts = sends.load(Ordering::Relaxed);
    let counted = total_posts(root)? - posts_before;
    let stats_writes = generation(&stats_file).saturating_sub(writes_before);
    Ok(Measured {
        posts,
        counted,
        elapsed,
        stats_writes,
        connect,
    })
}

/// The sum of every tenant's `total_posts` in stats.json.
fn total_posts(root: &std::path::Path) -> anyhow::Result<u64> {
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("data/stats.json"))?)?;
    Ok(stats["users"]
        .as_object()
        .map(|u| u.values().filter_map(|s| s["total_posts"].as_u64()).sum())
        .unwrap_or(0))
}

/// The data manager's write count for a file (kept in the lock file's first 8 bytes).
pub(crate) fn generation(lock: &std::path::Path) -> u64 {
    let bytes = std::fs::read(lock).unwrap_or_default();
    let _ = std::fs::metadata(lock).map(|m| m.size());
    bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

/// A backend, counting every send it receives.
struct Counting {
    inner: Arc<dyn Telegram>,
    sends: Arc<AtomicU64>,
}

#[async_trait]
impl Telegram for Counting {
    async fn connect(
        &self,
        session: SessionHandle,
        api: ApiCredentials,
    ) -> Result<Box<dyn Connection>, SendError> {
        let inner = self.inner.connect(session, api).await?;
        Ok(Box::new(CountingConnection {
            inner,
            sends: self.sends.clone(),
        }))
    }
}

struct CountingConnection {
    inner: Box<dyn Connection>,
    sends: Arc<AtomicU64>,
}

#[async_trait]
impl Connection for CountingConnection {
    async fn send(
        &mut self,
        target: &Target,
        post: &Post,
        label: &AttemptLabel,
    ) -> Result<Delivery, SendError> {
        self.sends.fetch_add(1, Ordering::Relaxed);
        self.inner.send(target, post, label).await
    }

    async fn is_authorized(&mut self) -> Result<bool, SendError> {
        self.inner.is_authorized().await
    }

    async fn disconnect(self: Box<Self>) {
        self.inner.disconnect().await;
    }
}
