//! What the simulated Telegram remembers about each session: in memory for a
//! simulator alone in its process, or shared by every process of a run through
//! one directory.
//!
//! Owns the directory layout: `locks/<session>.lock` (an exclusive `flock` held
//! by the one live connection), `sessions/<session>.dead` (the error that killed
//! it, written once, never removed) and `sessions/<session>.json` (counters and
//! deadlines, written only by the lock holder, atomically by rename). Must never
//! block on a lock: a second connection is Telegram's AUTH_KEY_DUPLICATED, not a
//! wait. The kernel drops a dead process's `flock`, as a killed worker should.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::draw::fnv1a;
use crate::TelegramError;

/// Per-session memory; epoch milliseconds on the simulator's clock.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct SessionState {
    /// Send attempts so far; the n-th attempt's draws depend on n.
    pub(crate) attempts: u64,
    /// Posts accepted so far, for `die_after_posts`.
    pub(crate) posts: u64,
    /// The account was told FLOOD_WAIT and may not call before this.
    pub(crate) flood_until_ms: Option<i64>,
    /// Per target key: the account was told SLOWMODE_WAIT for that chat.
    pub(crate) slow_until_ms: BTreeMap<String, i64>,
    /// Target keys the account was told it may not write in.
    pub(crate) forbidden_told: BTreeSet<String>,
    /// Told PEER_FLOOD; Telegram lifts it after an undefined time, the simulator never.
    pub(crate) peer_flooded: bool,
    /// Told the session is dead.
    pub(crate) dead_told: bool,
    /// Random ids of the last accepted posts, newest last: a re-send with one of them is
    /// answered RANDOM_ID_DUPLICATE and delivers nothing. Telegram's horizon is undocumented;
    /// a re-send follows its original within one call, so a few suffice (and every simulated
    /// account keeps them: 10,000 bots hold two copies each).
    pub(crate) recent_random_ids: Vec<i64>,
}

/// How many random ids a session remembers.
pub(crate) const RANDOM_ID_MEMORY: usize = 8;

impl Clone for SessionState {
    fn clone(&self) -> Self {
        let mut copy = SessionState::default();
        copy.clone_from(self);
        copy
    }

    /// Field by field, so a kept copy reuses its allocations (it is overwritten on every send).
    fn clone_from(&mut self, source: &Self) {
        // Destructured whole, so a field added later cannot be forgotten here.
        let SessionState {
            attempts,
            posts,
            flood_until_ms,
            slow_until_ms,
            forbidden_told,
            peer_flooded,
            dead_told,
            recent_random_ids,
        } = source;
        self.attempts = *attempts;
        self.posts = *posts;
        self.flood_until_ms = *flood_until_ms;
        self.slow_until_ms.clone_from(slow_until_ms);
        self.forbidden_told.clone_from(forbidden_told);
        self.peer_flooded = *peer_flooded;
        self.dead_told = *dead_told;
        self.recent_random_ids.clone_from(recent_random_ids);
    }
}

impl SessionState {
    pub(crate) fn remember_random_id(&mut self, id: i64) {
        if self.recent_random_ids.len() == RANDOM_ID_MEMORY {
            self.recent_random_ids.remove(0);
        }
        self.recent_random_ids.push(id);
    }
}

/// The shared state directory, or memory when the simulator is alone.
#[derive(Debug)]
pub(crate) struct StateDir {
    root: PathBuf,
    /// `Some` when nothing is shared: state lives here, not in files. File
    /// writes per send cost more than the rest of a simulated send together,
    /// which a benchmark or a demo in one process need not pay.
    memory: Option<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    sessions: Mutex<HashMap<String, SessionState>>,
    dead: Mutex<HashMap<String, String>>,
    connected: Arc<Mutex<HashSet<String>>>,
}

/// Proof of being a session's one live connection; released on drop.
#[derive(Debug)]
pub(crate) enum SessionLock {
    /// The held `flock`; dropping the file releases it.
    File(#[allow(dead_code)] File),
    Memory(Arc<Mutex<HashSet<String>>>, String),
}

impl Drop for SessionLock {
    fn drop(&mut self) {
        if let SessionLock::Memory(connected, name) = self {
            lock(connected).remove(name.as_str());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl StateDir {
    /// Uses `dir` (created if missing) or, without one, memory (one process only).
    pub(crate) fn open(dir: Option<PathBuf>) -> Result<Self, TelegramError> {
        let Some(root) = dir else {
            return Ok(Self {
                root: PathBuf::from("<memory>"),
                memory: Some(Memory::default()),
            });
        };
        for sub in ["locks", "sessions"] {
            std::fs::create_dir_all(root.join(sub)).map_err(TelegramError::State)?;
        }
        Ok(Self { root, memory: None })
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, sub: &str, name: &str, ext: &str) -> PathBuf {
        self.root
            .join(sub)
            .join(format!("{}.{ext}", file_stem(name)))
    }

    /// Takes the session's connection lock; `Ok(None)` when another
    /// connection, in this process or another, holds it.
    pub(crate) fn try_lock(&self, name: &str) -> std::io::Result<Option<SessionLock>> {
        if let Some(memory) = &self.memory {
            let fresh = lock(&memory.connected).insert(name.to_owned());
            return Ok(
                fresh.then(|| SessionLock::Memory(memory.connected.clone(), name.to_owned()))
            );
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.path("locks", name, "lock"))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(SessionLock::File(file))),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// The code that killed the session, if it is dead.
    pub(crate) fn dead_code(&self, name: &str) -> Option<String> {
        if let Some(memory) = &self.memory {
            return lock(&memory.dead).get(name).cloned();
        }
        std::fs::read_to_string(self.path("sessions", name, "dead"))
            .ok()
            .map(|code| code.trim().to_owned())
            .filter(|code| !code.is_empty())
    }

    /// Records the session's death; the first recorded cause stays.
    pub(crate) fn mark_dead(&self, name: &str, code: &str) -> std::io::Result<()> {
        if let Some(memory) = &self.memory {
            lock(&memory.dead)
                .entry(name.to_owned())
                .or_insert_with(|| code.to_owned());
            return Ok(());
        }
        let path = self.path("sessions", name, "dead");
        let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(()),
            Err(e) => return Err(e),
        };
        file.write_all(code.as_bytes())?;
        file.sync_all()
    }

    /// The session's memory for its one live connection (the lock holder); empty when never
    /// used. In memory it moves out of the shared map into the connection, which gives it back
    /// as it closes ([`StateDir::check_in`]): a connected session's memory exists once, not as
    /// the connection's copy and a saved one (10,000 simulated bots posting held both). A
    /// damaged file (a crash mid-write cannot produce one, the rename is atomic) reads as empty.
    pub(crate) fn check_out(&self, name: &str) -> SessionState {
        if let Some(memory) = &self.memory {
            return lock(&memory.sessions).remove(name).unwrap_or_default();
        }
        std::fs::read(self.path("sessions", name, "json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Keeps the session's memory after a send; only the lock holder calls this. In files it is
    /// written (another process may connect the session next, or this one may be killed); in
    /// memory the connection holds it until it closes, so there is nothing to do.
    pub(crate) fn save(&self, name: &str, state: &SessionState) -> std::io::Result<()> {
        if self.memory.is_some() {
            return Ok(());
        }
        let path = self.path("sessions", name, "json");
        let temp = path.with_extension("json.tmp");
        std::fs::write(&temp, serde_json::to_vec(state)?)?;
        std::fs::rename(&temp, &path)
    }

    /// The closing connection's memory of the session, given back for the next connection
    /// (in files each send saved it already). Called before the lock is released.
    pub(crate) fn check_in(&self, name: &str, state: SessionState) {
        if let Some(memory) = &self.memory {
            lock(&memory.sessions).insert(name.to_owned(), state);
        }
    }
}

/// A file name for any session name: a readable prefix plus a hash of the
/// whole name, so `a b.session` and `a_b.session` never share state.
fn file_stem(name: &str) -> String {
    let readable: String = name
        .chars()
        .take(60)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{readable}-{:016x}", fnv1a(&[name.as_bytes()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lock_holder_at_a_time_even_within_a_process() {
        let dir = StateDir::open(None).expect("open");
        let first = dir.try_lock("a.session").expect("lock");
        assert!(first.is_some());
        assert!(dir.try_lock("a.session").expect("lock").is_none());
        assert!(dir.try_lock("b.session").expect("lock").is_some());
        drop(first);
        assert!(dir.try_lock("a.session").expect("lock").is_some());
    }

    #[test]
    fn death_is_recorded_once_and_kept() {
        let dir = StateDir::open(None).expect("open");
        assert_eq!(dir.dead_code("a.session"), None);
        dir.mark_dead("a.session", "AUTH_KEY_DUPLICATED")
            .expect("mark");
        dir.mark_dead("a.session", "USER_DEACTIVATED")
            .expect("mark");
        assert_eq!(
            dir.dead_code("a.session").as_deref(),
            Some("AUTH_KEY_DUPLICATED")
        );
    }

    #[test]
    fn state_round_trips_and_names_never_collide() {
        let dir = StateDir::open(None).expect("open");
        let mut state = SessionState {
            attempts: 3,
            ..SessionState::default()
        };
        state.slow_until_ms.insert("@group".into(), 99);
        dir.check_in("a b.session", state.clone());
        assert_eq!(dir.check_out("a b.session"), state);
        assert_eq!(dir.check_out("a_b.session"), SessionState::default());
        assert_ne!(file_stem("a b"), file_stem("a_b"));
        assert!(!file_stem("../../etc/passwd").contains('/'));
    }

    #[test]
    fn a_state_saved_over_in_files_is_kept_whole() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = StateDir::open(Some(root.path().to_owned())).expect("open");
        let mut state = SessionState::default();
        state.forbidden_told.insert("@a".into());
        state.remember_random_id(1);
        dir.save("s", &state).expect("save");
        let mut later = SessionState {
            attempts: 7,
            posts: 5,
            flood_until_ms: Some(11),
            peer_flooded: true,
            dead_told: true,
            ..SessionState::default()
        };
        later.slow_until_ms.insert("@b".into(), 3);
        for id in 2..=(RANDOM_ID_MEMORY as i64 + 2) {
            later.remember_random_id(id);
        }
        dir.save("s", &later).expect("save over");
        assert_eq!(dir.check_out("s"), later);
        assert_eq!(later.recent_random_ids.len(), RANDOM_ID_MEMORY);
        assert_eq!(later.recent_random_ids.first(), Some(&3));
    }

    #[test]
    fn in_memory_a_connected_sessions_state_is_held_once_and_comes_back_on_check_in() {
        let dir = StateDir::open(None).expect("open");
        let state = SessionState {
            attempts: 4,
            ..SessionState::default()
        };
        dir.check_in("s", state.clone());
        let mut connected = dir.check_out("s");
        assert_eq!(connected, state);
        assert!(
            lock(&dir.memory.as_ref().expect("memory").sessions).is_empty(),
            "checked out: only the connection holds it"
        );
        connected.attempts += 1;
        dir.save("s", &connected).expect("save");
        dir.check_in("s", connected.clone());
        assert_eq!(dir.check_out("s"), connected);
    }
}
