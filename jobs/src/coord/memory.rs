//! The in-memory coordination backend: one process, one mutex, tokio's clock (so tests can pause
//! time). Mirrors the Redis backend's semantics operation by operation; the shared test suite
//! holds both to the same behaviour.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, oneshot};

use super::zset::ZSet;
use super::{CancelOutcome, Claim, CoordConfig, Hold, InFlight, Name};
use crate::JobsError;
use crate::clock;
use crate::command::CommandReply;
use crate::cycle::Cycle;

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

    pub(super) async fn lease_acquire(
        &self,
        key: impl Name,
        holder: impl Name,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        let now = clock::now();
        let mut state = self.state();
        let free = state
            .leases
            .get(key.as_str())
            .is_none_or(|l| l.expires <= now || &*l.holder == holder.as_str());
        if free {
            let key = key.to_shared();
            state.leases.insert(
                key.clone(),
                Lease {
                    holder: holder.to_shared(),
                    expires: now + ttl,
                    renewed: now,
                },
            );
            state.last_renewal.insert(key, now);
        }
        Ok(free)
    }

    pub(super) async fn lease_renew(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        Ok(self.state().renew_lease(key, holder, ttl))
    }

    pub(super) async fn renew_holds(
        &self,
        holds: &[Hold],
        ttl: Duration,
    ) -> Result<Vec<bool>, JobsError> {
        let mut state = self.state();
        Ok(holds
            .iter()
            .map(|hold| match hold {
                Hold::Cycle {
                    user,
                    cycle_no,
                    holder,
                } => state.renew_cycle(user, *cycle_no, holder, ttl),
                Hold::Permit { key, holder } => state.renew_permit(key, holder, ttl),
                Hold::Lease { key, holder } => state.renew_lease(key, holder, ttl),
            })
            .collect())
    }

    pub(super) async fn lease_release(&self, key: &str, holder: &str) -> Result<(), JobsError> {
        let mut state = self.state();
        if state.leases.get(key).is_some_and(|l| &*l.holder == holder) {
            state.leases.remove(key);
        }
        Ok(())
    }

    pub(super) async fn lease_renewed_at(
        &self,
        key: &str,
    ) -> Result<Option<DateTime<Utc>>, JobsError> {
        let state = self.state();
        let live = state
            .leases
            .get(key)
            .filter(|l| l.expires > clock::now())
            .map(|l| l.renewed);
        Ok(live.or_else(|| state.last_renewal.get(key).copied()))
    }

    pub(super) async fn permit_acquire(
        &self,
        key: impl Name,
        holder: impl Name,
        limit: u32,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        let now = clock::now();
        let mut state = self.state();
        let permits = match state.permits.get_mut(key.as_str()) {
            Some(permits) => permits,
            None => state.permits.entry(key.to_shared()).or_default(),
        };
        permits.retain(|(_, expires)| *expires > now);
        if let Some((_, expires)) = permits.iter_mut().find(|(h, _)| &**h == holder.as_str()) {
            *expires = now + ttl;
            return Ok(true);
        }
        if permits.len() < limit as usize {
            // Room for exactly this one: most keys never have a second holder.
            permits.reserve_exact(1);
            permits.push((holder.to_shared(), now + ttl));
            return Ok(true);
        }
        if permits.is_empty() {
            // A limit of 0 refused it: leave no empty list behind.
            state.permits.remove(key.as_str());
        }
        Ok(false)
    }

    pub(super) async fn permit_renew(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        Ok(self.state().renew_permit(key, holder, ttl))
    }

    pub(super) async fn permit_release(&self, key: &str, holder: &str) -> Result<(), JobsError> {
        let mut state = self.state();
        if let Some(permits) = state.permits.get_mut(key) {
            permits.retain(|(h, _)| &**h != holder);
            if permits.is_empty() {
                state.permits.remove(key);
            }
        }
        Ok(())
    }

    pub(super) async fn permit_count(&self, key: &str) -> Result<u32, JobsError> {
        let now = clock::now();
        Ok(self
            .state()
            .permits
            .get(key)
            .map_or(0, |p| p.iter().filter(|(_, e)| *e > now).count() as u32))
    }

    pub(super) async fn schedule(&self, user: &str, at: DateTime<Utc>) -> Result<(), JobsError> {
        self.state().schedule.insert(user, at);
        self.changed.notify_one();
        Ok(())
    }

    pub(super) async fn unschedule(&self, user: &str) -> Result<bool, JobsError> {
        Ok(self.state().schedule.remove(user))
    }

    pub(super) async fn next_run(&self, user: &str) -> Result<Option<DateTime<Utc>>, JobsError> {
        Ok(self.state().schedule.score(user))
    }

    pub(super) async fn earliest(&self) -> Result<Option<DateTime<Utc>>, JobsError> {
        Ok(self.state().schedule.first())
    }

    pub(super) async fn wait_for_change(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.changed.notified()).await;
    }

    pub(super) async fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Cycle>, JobsError> {
        let deadline = after(self.config.claim_timeout);
        let mut state = self.state();
        // Replies to commands nobody waits for any more go here too: after a burst of starts
        // they would otherwise stay until the next command (10,000 of them, 2.7 MB).
        state.drop_expired_replies(clock::now());
        let due = state.schedule.up_to(now, limit);
        let mut cycles = Vec::with_capacity(due.len());
        for (user, due_at) in due {
            state.schedule.remove(&user);
            let number = state.cycle_numbers.entry(user.clone()).or_default();
            *number += 1;
            let cycle_no = *number;
            state.inflight.insert(&user, deadline);
            state.cycles.insert(
                user.clone(),
                CycleRecord {
                    cycle_no,
                    holder: None,
                    lease_until: deadline,
                    renewed: None,
                    due_at,
                },
            );
            cycles.push(Cycle {
                user_id: user.to_string(),
                cycle_no,
                due_at,
            });
        }
        Ok(cycles)
    }

    pub(super) async fn clear_schedule(&self) -> Result<(), JobsError> {
        self.state().schedule.clear();
        Ok(())
    }

    pub(super) async fn claim_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: impl Name,
        ttl: Duration,
    ) -> Result<Claim, JobsError> {
        let now = clock::now();
        let mut state = self.state();
        let Some(record) = state
            .cycles
            .get_mut(user)
            .filter(|r| r.cycle_no == cycle_no)
        else {
            return Ok(Claim::NotInFlight);
        };
        if record
            .holder
            .as_deref()
            .is_some_and(|h| h != holder.as_str())
            && record.lease_until > now
        {
            return Ok(Claim::HeldByOther);
        }
        record.holder = Some(holder.to_shared());
        record.lease_until = now + ttl;
        record.renewed = Some(now);
        state.inflight.insert(user, now + ttl);
        Ok(Claim::Claimed)
    }

    pub(super) async fn renew_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        Ok(self.state().renew_cycle(user, cycle_no, holder, ttl))
    }

    pub(super) async fn finish_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: &str,
        next_run_at: Option<DateTime<Utc>>,
    ) -> Result<bool, JobsError> {
        let mut state = self.state();
        let owned = state
            .cycles
            .get(user)
            .is_some_and(|r| r.cycle_no == cycle_no && r.holder.as_deref() == Some(holder));
        if !owned {
            return Ok(false);
        }
        state.cycles.remove(user);
        let name = state.inflight.take(user);
        if let Some(cycles) = state.checkpoints.get_mut(user) {
            cycles.retain(|(n, _)| *n != cycle_no);
            if cycles.is_empty() {
                state.checkpoints.remove(user);
            }
        }
        if let Some(at) = next_run_at {
            let name = name.unwrap_or_else(|| Arc::from(user));
            state.schedule.insert(&name, at);
        }
        drop(state);
        self.changed.notify_one();
        Ok(true)
    }

    pub(super) async fn release_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: &str,
    ) -> Result<(), JobsError> {
        let now = clock::now();
        let mut state = self.state();
        if let Some(record) = state
            .cycles
            .get_mut(user)
            .filter(|r| r.cycle_no == cycle_no && r.holder.as_deref() == Some(holder))
        {
            record.holder = None;
            record.lease_until = now;
            state.inflight.insert(user, now);
        }
        drop(state);
        self.changed.notify_one();
        Ok(())
    }

    pub(super) async fn take_stalled(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Cycle>, JobsError> {
        let deadline = after(self.config.claim_timeout);
        let mut state = self.state();
        let stalled = state.inflight.up_to(now, limit);
        let mut cycles = Vec::with_capacity(stalled.len());
        for (user, _) in stalled {
            state.inflight.insert(&user, deadline);
            if let Some(record) = state.cycles.get_mut(&user) {
                record.holder = None;
                record.lease_until = deadline;
                cycles.push(Cycle {
                    user_id: user.to_string(),
                    cycle_no: record.cycle_no,
                    due_at: record.due_at,
                });
            }
        }
        Ok(cycles)
    }

    pub(super) async fn in_flight(&self, user: &str) -> Result<Option<InFlight>, JobsError> {
        Ok(self.state().cycles.get(user).map(|r| InFlight {
            cycle_no: r.cycle_no,
            holder: r.holder.as_deref().map(str::to_owned),
            last_renewed_at: r.renewed,
            due_at: r.due_at,
        }))
    }

    pub(super) async fn in_flight_count(&self) -> Result<u64, JobsError> {
        Ok(self.state().inflight.len() as u64)
    }

    pub(super) async fn cancel(&self, user: &str) -> Result<CancelOutcome, JobsError> {
        let mut state = self.state();
        if state.schedule.remove(user) {
            Ok(CancelOutcome::WasScheduled)
        } else if state.cycles.contains_key(user) {
            Ok(CancelOutcome::InFlight)
        } else {
            Ok(CancelOutcome::Idle)
        }
    }

    pub(super) async fn checkpoint_put(
        &self,
        user: &str,
        cycle_no: u64,
        key: &str,
        value: &str,
    ) -> Result<(), JobsError> {
        let mut state = self.state();
        let state = &mut *state;
        let cycles = match state.checkpoints.get_mut(user) {
            Some(cycles) => cycles,
            None => {
                let name = state.inflight.shared(user);
                let name = name.unwrap_or_else(|| Arc::from(user));
                state.checkpoints.entry(name).or_default()
            }
        };
        match cycles.iter_mut().find(|(n, _)| *n == cycle_no) {
            Some((_, entries)) => entries.put(key, value),
            None => {
                let mut entries = Checkpoint::default();
                entries.put(key, value);
                // Normally the user's only cycle: room for one, where a first push makes four.
                cycles.reserve_exact(1);
                cycles.push((cycle_no, entries));
            }
        }
        Ok(())
    }

    pub(super) async fn checkpoint_get_all(
        &self,
        user: &str,
        cycle_no: u64,
    ) -> Result<Vec<(String, String)>, JobsError> {
        let state = self.state();
        let entries = state
            .checkpoints
            .get(user)
            .and_then(|cycles| cycles.iter().find(|(n, _)| *n == cycle_no));
        Ok(entries.map_or_else(Vec::new, |(_, entries)| entries.all()))
    }

    pub(super) async fn pause_session(
        &self,
        session: &str,
        until: DateTime<Utc>,
    ) -> Result<(), JobsError> {
        let mut state = self.state();
        let entry = state.pauses.entry(session.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
        Ok(())
    }

    pub(super) async fn session_paused_until(
        &self,
        session: &str,
    ) -> Result<Option<DateTime<Utc>>, JobsError> {
        let now = clock::now();
        Ok(self
            .state()
            .pauses
            .get(session)
            .copied()
            .filter(|until| *until > now))
    }

    pub(super) async fn announce(&self, presence: &super::Presence) -> Result<(), JobsError> {
        self.presences.announce(presence);
        Ok(())
    }

    pub(super) async fn presences(&self) -> Result<Vec<super::Presence>, JobsError> {
        Ok(self.presences.live())
    }

    pub(super) async fn paused_sessions(&self) -> Result<Vec<(String, DateTime<Utc>)>, JobsError> {
        let now = clock::now();
        let mut state = self.state();
        // Lapsed pauses go here, as Redis lets them expire.
        state.pauses.retain(|_, until| *until > now);
        let mut paused: Vec<_> = state.pauses.iter().map(|(s, u)| (s.clone(), *u)).collect();
        paused.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        Ok(paused)
    }

    pub(super) async fn in_flight_users(&self, limit: usize) -> Result<Vec<String>, JobsError> {
        Ok(self
            .state()
            .inflight
            .up_to(DateTime::<Utc>::MAX_UTC, limit)
            .into_iter()
            .map(|(user, _)| user.to_string())
            .collect())
    }

    /// Hands the reply to its waiter, or keeps it for `reply_ttl` when none takes it. A reply
    /// its waiter took is not kept: that waiter reads its channel before the stored copy
    /// ([`super::ReplyWaiter::wait`]), and no one else asks for it. Ten thousand starts would
    /// otherwise keep ten thousand replies a minute (BENCHMARKS.md, cost).
    pub(super) async fn reply(&self, reply: &CommandReply) -> Result<(), JobsError> {
        let mut state = self.state();
        let reply = match state.waiters.remove(&reply.request_id) {
            Some(waiter) => match waiter.send(reply.clone()) {
                Ok(()) => return Ok(()),
                // The waiter is gone: keep it as for one that never came.
                Err(reply) => reply,
            },
            None => reply.clone(),
        };
        let expires = after(self.config.reply_ttl);
        state.drop_expired_replies(clock::now());
        state
            .reply_expiries
            .push_back((expires, reply.request_id.clone()));
        state
            .replies
            .insert(reply.request_id.clone(), (reply, expires));
        Ok(())
    }

    pub(super) fn register_waiter(&self, request_id: &str, tx: oneshot::Sender<CommandReply>) {
        self.state().waiters.insert(request_id.to_owned(), tx);
    }

    pub(super) fn forget_waiter(&self, request_id: &str) {
        self.state().waiters.remove(request_id);
    }

    pub(super) async fn stored_reply(
        &self,
        request_id: &str,
    ) -> Result<Option<CommandReply>, JobsError> {
        Ok(self.state().replies.get(request_id).map(|(r, _)| r.clone()))
    }

    pub(super) async fn epoch(&self) -> Result<Option<String>, JobsError> {
        Ok(self.state().epoch.clone())
    }

    pub(super) async fn set_epoch(&self, holder: &str) -> Result<(), JobsError> {
        self.state().epoch = Some(holder.to_owned());
        Ok(())
    }
}

#[cfg(test)]
#[path = "memory_tests.rs"]
mod tests;
