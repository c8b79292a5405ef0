//! The in-memory coordination backend: one process, one mutex, tokio's clock (so tests can pause
//! time). Mirrors the Redis backend's semantics operation by operation; the shared test suite
//! holds both to the same behaviour.
//!
//! `State` and the renewals live here; the operations are in `leases`, `cycles` and
//! `notices`, one file per [`super::backend`] trait. Nothing awaits while holding the mutex.

mod cycles;
mod leases;
mod notices;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, oneshot};

use super::zset::ZSet;
use super::{CoordConfig, Name};
use crate::clock;
use crate::command::CommandReply;

#[derive(Debug)]
struct Lease {
    holder: Arc<str>,
    expires: DateTime<Utc>,
    renewed: DateTime<Utc>,
}

#[derive(Debug)]
struct CycleRecord {
    cycle_no: u64,
    /// The claiming worker's name, shared with its other claims ([`Name`]).
    holder: Option<Arc<str>>,
    lease_until: DateTime<Utc>,
    renewed: Option<DateTime<Utc>>,
    due_at: DateTime<Utc>,
    /// A stop came while it ran: its finish schedules nothing.
    stop_asked: bool,
}

type Checkpoint = super::packed::Packed;

/// A permit key's holders and their expiries.
type Holders = Vec<(Arc<str>, DateTime<Utc>)>;

#[derive(Debug, Default)]
struct State {
    /// Keyed and held by the caller's shared names ([`Name`]): every running session has a
    /// lease and a permit, and copies of their names took 1.6 MiB at 10,000 running bots
    /// (BENCHMARKS.md, cost).
    leases: HashMap<Arc<str>, Lease>,
    last_renewal: HashMap<Arc<str>, DateTime<Utc>>,
    /// By key, its holders and their expiries: a short list (at most the key's limit, seven by
    /// default, and one for most tenants), where a map would take room for four from its
    /// first entry. A key whose last permit is released goes (BENCHMARKS.md, cost).
    permits: HashMap<Arc<str>, Holders>,
    schedule: ZSet<DateTime<Utc>>,
    inflight: ZSet<DateTime<Utc>>,
    /// These and `checkpoints` are keyed by the tenant's name as the schedule shares it.
    cycle_numbers: HashMap<Arc<str>, u64>,
    cycles: HashMap<Arc<str>, CycleRecord>,
    /// By user: each cycle's entries (normally one cycle's), group and value as given. Keyed by
    /// user alone so that a put looks up without allocating; boxed strings, since tens of
    /// thousands of cycles hold a dozen each (BENCHMARKS.md, cost).
    checkpoints: HashMap<Arc<str>, Vec<(u64, Checkpoint)>>,
    pauses: HashMap<String, DateTime<Utc>>,
    replies: HashMap<String, (CommandReply, DateTime<Utc>)>,
    /// The replies' request ids in the order they expire (every reply lives as long), so the
    /// expired ones go without a look at the others, and go also when no new reply comes.
    reply_expiries: std::collections::VecDeque<(DateTime<Utc>, String)>,
    waiters: HashMap<String, oneshot::Sender<CommandReply>>,
    epoch: Option<String>,
}

/// The renewals, one per kind of [`Hold`], under the caller's lock.
impl State {
    fn drop_expired_replies(&mut self, now: DateTime<Utc>) {
        while let Some((expires, _)) = self.reply_expiries.front()
            && *expires <= now
        {
            if let Some((_, id)) = self.reply_expiries.pop_front()
                && self
                    .replies
                    .get(&id)
                    .is_some_and(|(_, until)| *until <= now)
            {
                self.replies.remove(&id);
            }
        }
    }

    fn renew_lease(&mut self, key: impl Name, holder: &str, ttl: Duration) -> bool {
        let now = clock::now();
        let held = match self.leases.get_mut(key.as_str()) {
            Some(lease) if &*lease.holder == holder && lease.expires > now => {
                lease.expires = now + ttl;
                lease.renewed = now;
                true
            }
            _ => false,
        };
        if held {
            match self.last_renewal.get_mut(key.as_str()) {
                Some(at) => *at = now,
                None => {
                    self.last_renewal.insert(key.to_shared(), now);
                }
            }
        }
        held
    }

    fn renew_permit(&mut self, key: &str, holder: &str, ttl: Duration) -> bool {
        let now = clock::now();
        let held = self
            .permits
            .get_mut(key)
            .and_then(|p| p.iter_mut().find(|(h, _)| &**h == holder));
        match held {
            Some((_, expires)) if *expires > now => {
                *expires = now + ttl;
                true
            }
            _ => false,
        }
    }

    fn renew_cycle(&mut self, user: &str, cycle_no: u64, holder: &str, ttl: Duration) -> bool {
        let now = clock::now();
        let Some(record) = self
            .cycles
            .get_mut(user)
            .filter(|r| r.cycle_no == cycle_no && r.holder.as_deref() == Some(holder))
        else {
            return false;
        };
        record.lease_until = now + ttl;
        record.renewed = Some(now);
        self.inflight.insert(user, now + ttl);
        true
    }
}

#[derive(Debug)]
pub(super) struct Memory {
    config: CoordConfig,
    state: Mutex<State>,
    changed: Notify,
    presences: super::presence::PresenceBook,
}

fn after(d: Duration) -> DateTime<Utc> {
    clock::now() + d
}

impl Memory {
    pub(super) fn new(config: CoordConfig) -> Memory {
        Memory {
            config,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            presences: Default::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests;
