//! The in-memory backend's schedule, cycles in flight and their checkpoints, under the one
//! mutex: each operation is atomic as its Redis script is.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::JobsError;
use crate::clock;
use crate::coord::backend::Cycles;
use crate::coord::{CancelOutcome, Claim, InFlight, Name};
use crate::cycle::Cycle;

use std::sync::Arc;

use super::{Checkpoint, CycleRecord, Memory, after};

impl Cycles for Memory {
    async fn schedule(&self, user: &str, at: DateTime<Utc>) -> Result<(), JobsError> {
        self.state().schedule.insert(user, at);
        self.changed.notify_one();
        Ok(())
    }

    async fn unschedule(&self, user: &str) -> Result<bool, JobsError> {
        Ok(self.state().schedule.remove(user))
    }

    async fn next_run(&self, user: &str) -> Result<Option<DateTime<Utc>>, JobsError> {
        Ok(self.state().schedule.score(user))
    }

    async fn earliest(&self) -> Result<Option<DateTime<Utc>>, JobsError> {
        Ok(self.state().schedule.first())
    }

    async fn wait_for_change(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.changed.notified()).await;
    }

    async fn take_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Cycle>, JobsError> {
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
                    stop_asked: false,
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

    async fn clear_schedule(&self) -> Result<(), JobsError> {
        self.state().schedule.clear();
        Ok(())
    }

    async fn claim_cycle(
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

    async fn renew_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        Ok(self.state().renew_cycle(user, cycle_no, holder, ttl))
    }

    async fn finish_cycle(
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
        let stop_asked = state.cycles.remove(user).is_some_and(|r| r.stop_asked);
        let name = state.inflight.take(user);
        if let Some(cycles) = state.checkpoints.get_mut(user) {
            cycles.retain(|(n, _)| *n != cycle_no);
            if cycles.is_empty() {
                state.checkpoints.remove(user);
            }
        }
        if let Some(at) = next_run_at.filter(|_| !stop_asked) {
            let name = name.unwrap_or_else(|| Arc::from(user));
            state.schedule.insert(&name, at);
        }
        drop(state);
        self.changed.notify_one();
        Ok(true)
    }

    async fn release_cycle(
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

    async fn take_stalled(
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

    async fn in_flight(&self, user: &str) -> Result<Option<InFlight>, JobsError> {
        Ok(self.state().cycles.get(user).map(|r| InFlight {
            cycle_no: r.cycle_no,
            holder: r.holder.as_deref().map(str::to_owned),
            last_renewed_at: r.renewed,
            due_at: r.due_at,
        }))
    }

    async fn in_flight_count(&self) -> Result<u64, JobsError> {
        Ok(self.state().inflight.len() as u64)
    }

    async fn in_flight_users(&self, limit: usize) -> Result<Vec<String>, JobsError> {
        Ok(self
            .state()
            .inflight
            .up_to(DateTime::<Utc>::MAX_UTC, limit)
            .into_iter()
            .map(|(user, _)| user.to_string())
            .collect())
    }

    async fn cancel(&self, user: &str) -> Result<CancelOutcome, JobsError> {
        let mut state = self.state();
        if state.schedule.remove(user) {
            Ok(CancelOutcome::WasScheduled)
        } else if let Some(record) = state.cycles.get_mut(user) {
            record.stop_asked = true;
            Ok(CancelOutcome::InFlight)
        } else {
            Ok(CancelOutcome::Idle)
        }
    }

    async fn resume(&self, user: &str, at: DateTime<Utc>) -> Result<(), JobsError> {
        let mut state = self.state();
        if let Some(record) = state.cycles.get_mut(user) {
            record.stop_asked = false;
        } else if state.schedule.score(user).is_none() {
            state.schedule.insert(user, at);
            drop(state);
            self.changed.notify_one();
        }
        Ok(())
    }

    async fn checkpoint_put(
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

    async fn checkpoint_get_all(
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
}
