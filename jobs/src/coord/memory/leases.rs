//! The in-memory backend's leases and permits: taken, renewed and released under the one
//! mutex, on tokio's clock.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::JobsError;
use crate::clock;
use crate::coord::backend::Leases;
use crate::coord::{Hold, Name};

use super::{Lease, Memory};

impl Leases for Memory {
    async fn lease_acquire(
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

    async fn lease_renew(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, JobsError> {
        Ok(self.state().renew_lease(key, holder, ttl))
    }

    async fn renew_holds(&self, holds: &[Hold], ttl: Duration) -> Result<Vec<bool>, JobsError> {
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

    async fn lease_release(&self, key: &str, holder: &str) -> Result<(), JobsError> {
        let mut state = self.state();
        if state.leases.get(key).is_some_and(|l| &*l.holder == holder) {
            state.leases.remove(key);
        }
        Ok(())
    }

    async fn lease_renewed_at(&self, key: &str) -> Result<Option<DateTime<Utc>>, JobsError> {
        let state = self.state();
        let live = state
            .leases
            .get(key)
            .filter(|l| l.expires > clock::now())
            .map(|l| l.renewed);
        Ok(live.or_else(|| state.last_renewal.get(key).copied()))
    }

    async fn permit_acquire(
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

    async fn permit_renew(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        Ok(self.state().renew_permit(key, holder, ttl))
    }

    async fn permit_release(&self, key: &str, holder: &str) -> Result<(), JobsError> {
        let mut state = self.state();
        if let Some(permits) = state.permits.get_mut(key) {
            permits.retain(|(h, _)| &**h != holder);
            if permits.is_empty() {
                state.permits.remove(key);
            }
        }
        Ok(())
    }

    async fn permit_count(&self, key: &str) -> Result<u32, JobsError> {
        let now = clock::now();
        Ok(self
            .state()
            .permits
            .get(key)
            .map_or(0, |p| p.iter().filter(|(_, e)| *e > now).count() as u32))
    }
}
