//! A simulated Telegram world, deterministic from a seed, and its trait-level door
//! (`HERALD_TELEGRAM=sim`).
//!
//! Owns the [`World`] (behaves like Telegram where abuse is concerned and fails as a
//! [`Scenario`] says, plus the [`Journal`] tests judge runs by) and [`SimTelegram`], the
//! [`Telegram`] that opens it at the trait seam. Herald's test DC opens the same world at
//! the wire, so a grammers run is judged exactly as a simulated one. It
//! never sends anything anywhere and no test or document may claim it reached
//! Telegram.
//!
//! Behaviour:
//! - Outcomes are a pure function of (seed, session, target, the session's
//!   n-th attempt), so concurrency does not change them.
//! - A session connected twice at once (threads or processes) is killed:
//!   the second connect fails with `SessionDead{AUTH_KEY_DUPLICATED}`, so does
//!   every later call of the first, and the session stays dead for good.
//! - A post with a random id the session delivered lately is answered as a
//!   duplicate (RANDOM_ID_DUPLICATE): nothing is delivered, the journal says so.
//! - A call inside a flood wait the account was told about fails again with
//!   the remaining wait and is journaled with a violation; likewise slow mode
//!   per chat, calls after PEER_FLOOD, posts to a chat the account was told is
//!   forbidden, and calls on a session it was told is dead.
//! - Sessions die after N accepted posts or at a rate, and stay dead.
//! - A hanging call waits until [`TelegramConfig::call_timeout`] and fails as
//!   `Transient`, as the grammers adapter does; the caller's own timeout
//!   cancels it earlier (and the attempt is still journaled).
//!
//! Cross-process state lives in a shared directory (see `state`): pass the
//! same directory to every worker's simulator, or let it default to
//! `<journal>.state/` beside a shared journal.
//!
//! # Layout
//! - [`scenario`]: the scenario format (documented there) and its validation.
//! - [`journal`]: the delivery journal.
//! - `state`: locks, dead markers and per-session memory in the shared directory.
//! - `connection`: judging, timing and journaling one attempt.
//! - `draw`: deterministic draws, session globs, the simulated clock.

mod connection;
mod draw;
pub mod journal;
pub mod scenario;
mod state;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

pub use connection::SimConnection;
pub use journal::{Journal, JournalEntry, Outcome, Violation};
pub use scenario::Scenario;

use crate::{
    ApiCredentials, AttemptLabel, Connection, Delivery, Post, SendError, SessionHandle, Target,
    Telegram, TelegramConfig, TelegramError,
};

/// The error name Telegram kills a session with when it is used twice at once.
const DUPLICATED: &str = "AUTH_KEY_DUPLICATED";

pub(crate) struct SimInner {
    pub(crate) scenario: Scenario,
    /// The faults of every session the scenario does not name, shared by their connections.
    pub(crate) base_faults: Arc<scenario::Faults>,
    pub(crate) journal: Option<Journal>,
    pub(crate) state: state::StateDir,
    pub(crate) config: TelegramConfig,
    pub(crate) clock: draw::SimClock,
}

/// The simulated world: accounts, chats, what each account was told, and the journal. One
/// world, two doors: [`SimTelegram`] opens it at the trait seam, Herald's test DC at the wire
/// (MTProto over TCP); both judge every attempt here. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct World {
    inner: Arc<SimInner>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("seed", &self.inner.scenario.seed)
            .field("state_dir", &self.inner.state.root())
            .field("journal", &self.inner.journal.as_ref().map(Journal::path))
            .finish()
    }
}

impl World {
    /// A world as `scenario` describes it, with a given config (call timeout).
    ///
    /// State is kept in `shared_state_dir`, else in `<journal>.state/` beside
    /// the journal, else in memory (one process only).
    pub fn new(
        scenario: Scenario,
        journal: Option<Journal>,
        shared_state_dir: Option<PathBuf>,
        config: TelegramConfig,
    ) -> Result<Self, TelegramError> {
        scenario.validate()?;
        let dir =
            shared_state_dir.or_else(|| journal.as_ref().map(|j| default_state_dir(j.path())));
        Ok(Self {
            inner: Arc::new(SimInner {
                base_faults: scenario.base(),
                scenario,
                journal,
                state: state::StateDir::open(dir)?,
                config,
                clock: draw::SimClock::new(),
            }),
        })
    }

    /// Opens `session`'s one live connection. A dead session fails with its code; a session
    /// already connected (here or in another process sharing the state) is killed:
    /// `AUTH_KEY_DUPLICATED`, for this connect and for good.
    pub fn connect(&self, session: &str) -> Result<SimConnection, SendError> {
        match self.try_connect(session)? {
            Some(connection) => Ok(connection),
            None => Err(self.kill_duplicated(session)),
        }
    }

    /// Like [`World::connect`], but a session connected elsewhere is `Ok(None)` and left
    /// alive: a door that cannot tell a second connection from a reconnect racing the close
    /// of the first (a wire) waits a moment before calling [`World::kill_duplicated`].
    pub fn try_connect(&self, session: &str) -> Result<Option<SimConnection>, SendError> {
        if let Some(code) = self.inner.state.dead_code(session) {
            return Err(SendError::SessionDead { code });
        }
        let lock = match self.inner.state.try_lock(session) {
            Ok(Some(lock)) => lock,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::warn!(session = %herald_session_file::mask_session_name(session), error = %e, "simulator could not take a session lock");
                return Err(SendError::Transient);
            }
        };
        Ok(Some(SimConnection {
            inner: Arc::clone(&self.inner),
            name: session.to_owned(),
            log_name: herald_session_file::mask_session_name(session),
            _lock: lock,
            state: self.inner.state.check_out(session),
            faults: self
                .inner
                .scenario
                .shared_faults_for(session, &self.inner.base_faults),
        }))
    }

    /// Kills a session used from two connections at once, as Telegram does; the error to
    /// answer with.
    pub fn kill_duplicated(&self, session: &str) -> SendError {
        let log_name = herald_session_file::mask_session_name(session);
        tracing::warn!(session = %log_name, "simulated Telegram: session used from two connections; killing it");
        if let Err(e) = self.inner.state.mark_dead(session, DUPLICATED) {
            tracing::warn!(session = %log_name, error = %e, "simulator could not record a dead session");
        }
        SendError::SessionDead {
            code: DUPLICATED.into(),
        }
    }

    /// Whether the chat exists (the scenario's missing targets do not).
    pub fn chat_exists(&self, target: &Target) -> bool {
        !self.inner.scenario.missing_targets.contains(target)
    }

    /// The directory holding the shared state.
    pub fn state_dir(&self) -> &Path {
        self.inner.state.root()
    }

    /// The error name that killed `session`, if the world holds it dead.
    pub fn dead_code(&self, session: &str) -> Option<String> {
        self.inner.state.dead_code(session)
    }
}

/// The simulated [`Telegram`]: the [`World`]'s trait-level door. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SimTelegram {
    world: World,
}

impl SimTelegram {
    /// A simulator with the default [`TelegramConfig`].
    pub fn new(
        scenario: Scenario,
        journal: Option<Journal>,
        shared_state_dir: Option<PathBuf>,
    ) -> Result<Self, TelegramError> {
        Self::with_config(
            scenario,
            journal,
            shared_state_dir,
            TelegramConfig::default(),
        )
    }

    /// Like [`SimTelegram::new`], with a given config (call timeout).
    pub fn with_config(
        scenario: Scenario,
        journal: Option<Journal>,
        shared_state_dir: Option<PathBuf>,
        config: TelegramConfig,
    ) -> Result<Self, TelegramError> {
        Ok(Self {
            world: World::new(scenario, journal, shared_state_dir, config)?,
        })
    }

    /// The world behind this door.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The directory holding the shared state.
    pub fn state_dir(&self) -> &Path {
        self.world.state_dir()
    }

    /// The error name that killed `session`, if the simulator holds it dead.
    pub fn dead_code(&self, session: &str) -> Option<String> {
        self.world.dead_code(session)
    }
}

fn default_state_dir(journal: &Path) -> PathBuf {
    let mut name = journal
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".state");
    journal.with_file_name(name)
}

#[async_trait]
impl Telegram for SimTelegram {
    async fn connect(
        &self,
        session: SessionHandle,
        _api: ApiCredentials,
    ) -> Result<Box<dyn Connection>, SendError> {
        Ok(Box::new(SimConn(self.world.connect(&session.name)?)))
    }
}

struct SimConn(SimConnection);

#[async_trait]
impl Connection for SimConn {
    async fn send(
        &mut self,
        target: &Target,
        post: &Post,
        label: &AttemptLabel,
    ) -> Result<Delivery, SendError> {
        self.0.send(target, post, label).await
    }

    async fn is_authorized(&mut self) -> Result<bool, SendError> {
        self.0.is_authorized()
    }

    async fn disconnect(self: Box<Self>) {
        // Dropping gives the state back and releases the lock (`SimConnection`'s drop).
        drop(self);
    }
}
