//! An engine in a box for tests: a data directory with a pool of session files and API pairs,
//! coordination and queue (in memory, or on a private Redis), the simulated Telegram with a
//! journal, a scheduler and workers. Nothing here reaches Telegram.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use herald_data::{PostKind, Store, StoreConfig, UserId};
use herald_jobs::{
    Backoff, Command, CommandAction, CommandOutcome, ConsumerLimits, CoordConfig, Coordination,
    Queue, RedisConfig,
};
use herald_scheduler::{Scheduler, SchedulerConfig};
use herald_session_file::{AuthKey, SessionCredentials, write_telethon};
use herald_sessions::{Pool, PoolConfig};
use herald_telegram::sim::{Journal, JournalEntry, Scenario, SimTelegram};
use herald_worker::{OutcomePolicy, Worker, WorkerConfig};
use tokio_util::sync::CancellationToken;

pub fn uid(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

pub fn session_name(i: usize) -> String {
    format!("+1555{i:07}.session")
}

pub fn group(i: usize) -> String {
    format!("-100{}", 1_000_000_000u64 + i as u64)
}

pub fn setup_pool(root: &Path, sessions: usize) {
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
}

pub struct Options {
    pub sessions: usize,
    pub pairs: usize,
    pub scenario: String,
    pub redis: Option<String>,
    pub worker: WorkerConfig,
    pub pool: PoolConfig,
}

impl Options {
    pub fn new(sessions: usize, scenario: &str) -> Options {
        let mut worker = WorkerConfig::new("w");
        worker.min_delay_between_posts = 0;
        worker.min_delay_between_cycles = 0;
        worker.lease_ttl = Duration::from_secs(3);
        worker.renew_every = Duration::from_millis(500);
        worker.permit_poll = Duration::from_millis(20);
        worker.policy = OutcomePolicy {
            transient_backoff: Backoff::new(Duration::from_millis(50), Duration::from_millis(400)),
            ..OutcomePolicy::default()
        };
        Options {
            sessions,
            pairs: sessions.div_ceil(7).max(1),
            scenario: scenario.to_owned(),
            redis: None,
            worker,
            pool: PoolConfig {
                max_replacements_per_day: 50,
                ..PoolConfig::default()
            },
        }
    }
}

/// One "process": its own store, coordination and queue handles, worker and scheduler.
pub struct Node {
    pub store: Store,
    pub pool: Pool,
    pub coord: Coordination,
    pub queue: Queue,
    pub shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

pub struct Engine {
    pub dir: tempfile::TempDir,
    pub journal: PathBuf,
    pub nodes: Vec<Node>,
    options: Options,
}

impl Engine {
    /// Builds the data directory and `nodes` nodes, each with a worker; the first also runs the
    /// scheduler. In memory, there can be only one node.
    pub async fn start(options: Options, nodes: usize) -> Engine {
        let dir = tempfile::tempdir().unwrap();
        setup_pool(dir.path(), options.sessions);
        let journal = dir.path().join("journal.jsonl");
        let mut engine = Engine {
            dir,
            journal,
            nodes: Vec::new(),
            options,
        };
        {
            let store = Store::open(StoreConfig::new(engine.dir.path())).unwrap();
            let pool = Pool::new(store.clone(), engine.options.pool.clone());
            for i in 0..engine.options.pairs {
                pool.add_pair(&(10_000 + i).to_string(), &format!("{i:032x}"))
                    .await
                    .unwrap();
            }
            store.shutdown().unwrap();
        }
        let shared_memory = (engine.options.redis.is_none())
            .then(|| (Coordination::in_memory(coord_config()), Queue::in_memory()));
        for n in 0..nodes {
            let (coord, queue) = match (&engine.options.redis, &shared_memory) {
                (Some(url), _) => (
                    Coordination::redis(RedisConfig::new(url.clone()), coord_config())
                        .await
                        .unwrap(),
                    Queue::redis(&RedisConfig::new(url.clone())).await.unwrap(),
                ),
                (None, Some((c, q))) => (c.clone(), q.clone()),
                (None, None) => unreachable!(),
            };
            let node = engine.node(n, coord, queue, n == 0).await;
            engine.nodes.push(node);
        }
        engine
    }

    /// A node with its own Redis connections (call it on the runtime that should run it).
    pub async fn add_redis_node(&self, n: usize, scheduler: bool) -> Node {
        let url = self.options.redis.clone().expect("a Redis URL");
        let coord = Coordination::redis(RedisConfig::new(url.clone()), coord_config())
            .await
            .unwrap();
        let queue = Queue::redis(&RedisConfig::new(url)).await.unwrap();
        self.node(n, coord, queue, scheduler).await
    }

    async fn node(&self, n: usize, coord: Coordination, queue: Queue, scheduler: bool) -> Node {
        let store = Store::open(StoreConfig {
            root: self.dir.path().to_owned(),
            stats_flush_interval: Duration::from_millis(50),
        })
        .unwrap();
        let pool = Pool::new(store.clone(), self.options.pool.clone());
        let scenario = Scenario::from_toml_str(&self.options.scenario).unwrap();
        let sim =
            SimTelegram::new(scenario, Some(Journal::open(&self.journal).unwrap()), None).unwrap();
        let shutdown = CancellationToken::new();
        let mut config = self.options.worker.clone();
        config.holder = format!("node{n}-{}", store.process_id());
        let worker = Worker::new(
            store.clone(),
            pool.clone(),
            coord.clone(),
            Arc::new(sim),
            config,
            shutdown.clone(),
        );
        let mut tasks = Vec::new();
        let (on_command, on_cycle) = worker.handlers();
        let limits = ConsumerLimits {
            drain_deadline: Duration::from_secs(10),
            ..ConsumerLimits::default()
        };
        tasks.push(tokio::spawn({
            let (queue, shutdown) = (queue.clone(), shutdown.clone());
            async move {
                queue
                    .consume(on_command, on_cycle, limits, shutdown)
                    .await
                    .unwrap();
            }
        }));
        if scheduler {
            let mut config = SchedulerConfig::new(format!("scheduler-{n}"));
            config.tick = Duration::from_millis(500);
            config.stall_check = Duration::from_millis(200);
            let scheduler = Scheduler::new(coord.clone(), queue.clone(), store.clone(), config);
            let shutdown = shutdown.clone();
            tasks.push(tokio::spawn(async move { scheduler.run(shutdown).await }));
        }
        Node {
            store,
            pool,
            coord,
            queue,
            shutdown,
            tasks,
        }
    }

    pub fn store(&self) -> &Store {
        &self.nodes[0].store
    }

    pub fn pool(&self) -> &Pool {
        &self.nodes[0].pool
    }

    pub fn coord(&self) -> &Coordination {
        &self.nodes[0].coord
    }

    /// Registers a tenant with `groups` groups, a link post and no delays.
    pub async fn tenant(&self, id: &str, groups: usize) {
        let groups: Vec<String> = (0..groups).map(group).collect();
        self.store()
            .upsert_user(&uid(id), move |u, _| {
                u.groups = groups;
                u.post_type = PostKind::Link;
                u.post_content = "https://t.me/herald_demo/42".into();
                u.delay_between_posts = 0;
                u.delay_between_cycles = 0;
                Ok::<_, ()>(())
            })
            .await
            .unwrap();
    }

    pub async fn command(&self, user: &str, action: CommandAction) -> CommandOutcome {
        let command = Command::new(user, action);
        let node = &self.nodes[0];
        let waiter = node.coord.expect_reply(&command.request_id);
        node.queue.push_command(&command).await.unwrap();
        waiter
            .wait(Duration::from_secs(30))
            .await
            .unwrap()
            .expect("no reply to a command")
            .outcome
    }

    pub async fn start_bot(&self, user: &str, sessions: u32) -> CommandOutcome {
        self.command(
            user,
            CommandAction::Start {
                sessions_wanted: Some(sessions),
                execution_mode: None,
                total_cycle_minutes: None,
            },
        )
        .await
    }

    pub fn journal(&self) -> Vec<JournalEntry> {
        if !self.journal.exists() {
            return Vec::new();
        }
        Journal::read_all(&self.journal).unwrap()
    }

    /// Waits (up to `secs`) until `done` holds for the journal.
    pub async fn wait_journal(
        &self,
        secs: u64,
        what: &str,
        done: impl Fn(&[JournalEntry]) -> bool,
    ) {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            if done(&self.journal()) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops every node, letting running cycles finish, and flushes counters.
    pub async fn shutdown(mut self) -> (tempfile::TempDir, PathBuf) {
        for node in &self.nodes {
            node.shutdown.cancel();
        }
        for node in self.nodes.drain(..) {
            for task in node.tasks {
                let _ = task.await;
            }
            node.store.shutdown().unwrap();
        }
        (self.dir, self.journal)
    }
}

fn coord_config() -> CoordConfig {
    CoordConfig {
        claim_timeout: Duration::from_secs(3),
        ..CoordConfig::default()
    }
}

/// One engine, one tenant of four groups started with one session: a post a second, the next
/// cycle an hour away.
pub async fn one_slow_tenant(user: &str) -> Engine {
    one_slow_tenant_in(user, "latency_ms = 0").await
}

/// [`one_slow_tenant`] in a simulated Telegram set up by `scenario`.
pub async fn one_slow_tenant_in(user: &str, scenario: &str) -> Engine {
    let engine = Engine::start(Options::new(1, scenario), 1).await;
    engine.tenant(user, 4).await;
    engine
        .store()
        .update_user(&uid(user), |u| {
            u.delay_between_posts = 1;
            u.delay_between_cycles = 3_600;
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    assert!(matches!(
        engine.start_bot(user, 1).await,
        CommandOutcome::Running { .. }
    ));
    engine
}
