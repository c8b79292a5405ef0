//! [`Store`], the data manager: the one entry point through which Herald reads and changes its
//! state files, plan group files and tenant logs.
//!
//! Reads return shared, immutable snapshots (`Arc`) of the parsed files and cost no parse while
//! the files are unchanged. Changes are closures queued to the file's committer and run there
//! under both locks; the caller's [`Pending`] resolves once the change is durable, or with the
//! reason it was refused, in which case nothing was written. The store never interprets tenant
//! configuration beyond the invariants of the records.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::change::{Pending, apply_to_user, submit, transact};
use crate::committer::Committer;
use crate::counters::{Counters, FlushTicket};
use crate::doc_file::DocFile;
use crate::layout::Layout;
use crate::names::UserId;
use crate::pairs::ApiPairsDoc;
use crate::plan_groups::{Plan, PlanGroupFile, PlanGroups};
use crate::stats::{StatsDelta, StatsDoc, UserStats};
use crate::tenant_log::{Level, TenantLogs};
use crate::users::{User, UsersDoc};
use crate::{DataError, UpdateError};

/// How long counter deltas wait for their group commit unless configured (`HERALD_STATS_FLUSH_MS`).
/// A flush rewrites the whole `stats.json`, so its cost grows with the tenants it holds (about 5 ms
/// of a core at 10,000, BENCHMARKS.md, cost); a cycle's end that needs its counts sooner hurries
/// the flush instead (`wait_flushed`).
pub const DEFAULT_STATS_FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// How the store is opened.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `HERALD_DATA_DIR`: holds `data/`, `sessions/` and `logs/`.
    pub root: PathBuf,
    /// Longest time a counter delta waits in memory before its group commit.
    pub stats_flush_interval: Duration,
}

impl StoreConfig {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StoreConfig {
            root: root.into(),
            stats_flush_interval: DEFAULT_STATS_FLUSH_INTERVAL,
        }
    }
}

/// The data manager. Cheap to clone; all clones share one set of files, caches and writers.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.inner.layout.root())
            .field("process_id", &self.inner.process_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Inner {
    layout: Layout,
    process_id: String,
    users: Arc<DocFile<UsersDoc>>,
    users_writer: Committer<UsersDoc>,
    pairs: Arc<DocFile<ApiPairsDoc>>,
    pairs_writer: Committer<ApiPairsDoc>,
    stats: Arc<DocFile<StatsDoc>>,
    counters: Arc<Counters>,
    starter_groups: PlanGroupFile,
    enterprise_groups: PlanGroupFile,
    logs: TenantLogs,
}

impl Store {
    /// Opens the data directory, creating its folders. Refuses with the file and position when a
    /// data file does not parse: a process must not start on state it cannot read.
    pub fn open(config: StoreConfig) -> Result<Store, DataError> {
        let layout = Layout::new(config.root);
        layout.create_dirs()?;
        let users = Arc::new(DocFile::open(
            layout.users_file(),
            "data/users.json".into(),
        )?);
        let stats = Arc::new(DocFile::open(
            layout.stats_file(),
            "data/stats.json".into(),
        )?);
        let pairs = Arc::new(DocFile::open(
            layout.pairs_file(),
            "data/api_pairs.json".into(),
        )?);
        let process_id = process_id();
        let inner = Inner {
            users_writer: Committer::start(users.clone())?,
            pairs_writer: Committer::start(pairs.clone())?,
            counters: Counters::start(
                process_id.clone(),
                stats.clone(),
                config.stats_flush_interval,
            )?,
            starter_groups: PlanGroupFile::new(layout.groups_dir(), Plan::Starter),
            enterprise_groups: PlanGroupFile::new(layout.groups_dir(), Plan::Enterprise),
            logs: TenantLogs::start(layout.logs_dir())
                .map_err(|e| DataError::io("start the tenant log writer", e))?,
            process_id,
            users,
            pairs,
            stats,
            layout,
        };
        Ok(Store {
            inner: Arc::new(inner),
        })
    }

    pub fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    /// This process's name in the counter ledger (`host-pid-random`).
    pub fn process_id(&self) -> &str {
        &self.inner.process_id
    }

    // ---- users.json ----

    /// The whole of `users.json` as last written.
    pub fn users(&self) -> Arc<UsersDoc> {
        self.inner.users.current()
    }

    pub fn user(&self, id: &str) -> Option<Arc<User>> {
        self.inner.users.current().users.get(id).cloned()
    }

    /// The record as last parsed, for read routes: a change another process made a moment
    /// ago may not be in it yet (it is re-parsed off the async runtime meanwhile). Never for a
    /// decision (a command, a cycle): use [`Store::user`].
    pub fn user_recent(&self, id: &str) -> Option<Arc<User>> {
        self.inner.users.recent().users.get(id).cloned()
    }

    /// [`Store::users`] with [`Store::user_recent`]'s freshness.
    pub fn users_recent(&self) -> Arc<UsersDoc> {
        self.inner.users.recent()
    }

    /// Changes one existing user. The closure sees a copy; the record is written only if the
    /// closure returns `Ok` and the result validates. `UserNotFound` if there is no record.
    pub fn update_user<R, E, F>(&self, id: &UserId, f: F) -> Pending<R, E>
    where
        R: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut User) -> Result<R, E> + Send + 'static,
    {
        let id = id.as_str().to_owned();
        self.change_users(move |doc| {
            let Some(current) = doc.users.get(&id) else {
                return Err(UpdateError::Data(DataError::UserNotFound { user_id: id }));
            };
            apply_to_user(doc, id.clone(), User::clone(current), f)
        })
    }

    /// Like [`Store::update_user`], creating the record with the old backend's defaults first
    /// when there is none; the closure's second argument says whether it was just created.
    pub fn upsert_user<R, E, F>(&self, id: &UserId, f: F) -> Pending<R, E>
    where
        R: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut User, bool) -> Result<R, E> + Send + 'static,
    {
        let id = id.as_str().to_owned();
        self.change_users(move |doc| {
            let (user, created) = match doc.users.get(&id) {
                Some(current) => (User::clone(current), false),
                None => (User::default(), true),
            };
            apply_to_user(doc, id.clone(), user, |u: &mut User| f(u, created))
                .map(|(v, changed)| (v, changed || created))
        })
    }

    /// A change across users (session assignment, stopping every bot). The document is restored
    /// if the closure refuses or the result breaks an invariant.
    pub fn update_users<R, E, F>(&self, f: F) -> Pending<R, E>
    where
        R: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut UsersDoc) -> Result<R, E> + Send + 'static,
    {
        self.change_users(move |doc| transact(doc, f))
    }

    fn change_users<R, E, F>(&self, f: F) -> Pending<R, E>
    where
        R: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut UsersDoc) -> Result<(R, bool), UpdateError<E>> + Send + 'static,
    {
        submit(&self.inner.users_writer, f)
    }

    // ---- api_pairs.json ----

    pub fn pairs(&self) -> Arc<ApiPairsDoc> {
        self.inner.pairs.current()
    }

    pub fn update_pairs<R, E, F>(&self, f: F) -> Pending<R, E>
    where
        R: Send + 'static,
        E: Send + 'static,
        F: FnOnce(&mut ApiPairsDoc) -> Result<R, E> + Send + 'static,
    {
        submit(&self.inner.pairs_writer, move |doc| transact(doc, f))
    }

    // ---- stats.json ----

    /// Adds to a tenant's counters in memory; the next group commit writes it. The ticket names
    /// that commit.
    pub fn add_stats(&self, id: &str, delta: &StatsDelta) -> FlushTicket {
        self.inner.counters.add(id, delta)
    }

    /// The tenant's counters: the file's plus this process's not yet flushed.
    pub fn stats(&self, id: &str) -> UserStats {
        self.inner.counters.get(id)
    }

    /// All counters in the file (without this process's pending deltas).
    pub fn all_stats(&self) -> Arc<StatsDoc> {
        self.inner.stats.current()
    }

    /// Whether the delta behind a ticket, of this or any other process, is in `stats.json`.
    pub fn is_flushed(&self, ticket: &FlushTicket) -> bool {
        self.inner.counters.is_flushed(ticket)
    }

    /// Resolves once this process's delta behind `ticket` is durable. Needed within less than the
    /// flush interval, the flush is hurried (no sooner than [`crate::HURRIED_FLUSH_GAP`] after the last).
    pub async fn wait_flushed(
        &self,
        ticket: &FlushTicket,
        wanted_within: Duration,
    ) -> Result<(), DataError> {
        self.inner
            .counters
            .wait_flushed(ticket, wanted_within)
            .await
    }

    /// Writes all pending counters now. Blocks until durable.
    pub fn flush_stats(&self) -> Result<(), DataError> {
        self.inner.counters.flush()
    }

    // ---- plan groups, tenant logs ----

    pub fn plan_groups(&self, plan: Plan) -> Result<PlanGroups, DataError> {
        self.plan_file(plan).read()
    }

    /// Replaces a plan's group file atomically. Blocks for one durable write.
    pub fn write_plan_groups(&self, plan: Plan, groups: &[String]) -> Result<(), DataError> {
        if let Some(reason) = self.read_only() {
            return Err(DataError::ReadOnly { reason });
        }
        self.plan_file(plan).write(groups)
    }

    fn plan_file(&self, plan: Plan) -> &PlanGroupFile {
        match plan {
            Plan::Starter => &self.inner.starter_groups,
            Plan::Enterprise => &self.inner.enterprise_groups,
        }
    }

    /// Appends a line to the tenant's log (written within a second). Never pass secrets.
    pub fn log(&self, user: &UserId, level: Level, message: &str) {
        self.inner.logs.log(user, level, message);
    }

    /// Whether the tenant has a log to read (see [`Store::log_tail`]); two `stat`s.
    pub fn has_log(&self, user: &UserId) -> bool {
        self.inner.logs.exists(user)
    }

    pub fn log_tail(&self, user: &UserId, lines: usize) -> Vec<String> {
        self.inner.logs.tail(user, lines)
    }

    /// Waits until every log line queued so far is in its file.
    pub fn flush_logs(&self) {
        self.inner.logs.flush();
    }

    // ---- health, shutdown ----

    /// Why writes are refused, if a data file was found corrupt while running.
    pub fn read_only(&self) -> Option<String> {
        self.inner
            .users
            .read_only()
            .or_else(|| self.inner.stats.read_only())
            .or_else(|| self.inner.pairs.read_only())
    }

    /// Flushes counters and logs and stops the writers. Blocks; later changes get `Closed`.
    pub fn shutdown(&self) -> Result<(), DataError> {
        let counters = self.inner.counters.shutdown();
        self.inner.users_writer.stop();
        self.inner.pairs_writer.stop();
        self.inner.logs.stop();
        counters
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(err) = self.counters.shutdown() {
            tracing::error!(error = %err, "final counter flush failed");
        }
    }
}

/// `host-pid-random`: unique among the processes sharing a data directory, also across restarts.
fn process_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let nonce: u32 = rand::random();
    format!("{host}-{}-{nonce:08x}", std::process::id())
}
