//! The Redis backend's schedule, cycles in flight and their checkpoints: each change one Lua
//! script or one pipeline, so a cycle is never half claimed or half finished.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::JobsError;
use crate::coord::backend::Cycles;
use crate::coord::{CancelOutcome, Claim, InFlight, Name};
use crate::cycle::Cycle;
use redis::AsyncCommands;

use super::{RedisCoord, cycles_from, from_ms, ms, ttl_ms};

impl Cycles for RedisCoord {
    async fn schedule(&self, user: &str, at: DateTime<Utc>) -> Result<(), JobsError> {
        let _: () = redis::pipe()
            .zadd(self.key(&["schedule"]), user, ms(at))
            .ignore()
            .publish(self.key(&["events"]), "s")
            .ignore()
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    async fn unschedule(&self, user: &str) -> Result<bool, JobsError> {
        let removed: i32 = self.conn().zrem(self.key(&["schedule"]), user).await?;
        Ok(removed == 1)
    }

    async fn next_run(&self, user: &str) -> Result<Option<DateTime<Utc>>, JobsError> {
        let score: Option<i64> = self.conn().zscore(self.key(&["schedule"]), user).await?;
        Ok(score.and_then(from_ms))
    }

    async fn earliest(&self) -> Result<Option<DateTime<Utc>>, JobsError> {
        let first: Vec<(String, i64)> = self
            .conn()
            .zrange_withscores(self.key(&["schedule"]), 0, 0)
            .await?;
        Ok(first.first().and_then(|(_, score)| from_ms(*score)))
    }

    async fn wait_for_change(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.changed.notified()).await;
    }

    async fn take_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Cycle>, JobsError> {
        let keys = (
            self.key(&["schedule"]),
            self.key(&["inflight"]),
            self.key(&["cycle-numbers"]),
        );
        let args = (
            ms(now),
            limit,
            ttl_ms(self.config.claim_timeout),
            self.cycle_prefix(),
        );
        let flat: Vec<String> = self.run(&self.scripts.take_due, keys, args).await?;
        cycles_from(&flat)
    }

    async fn clear_schedule(&self) -> Result<(), JobsError> {
        let _: i32 = self.conn().del(self.key(&["schedule"])).await?;
        Ok(())
    }

    async fn claim_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: impl Name,
        ttl: Duration,
    ) -> Result<Claim, JobsError> {
        let keys = (self.key(&["inflight"]), self.cycle_key(user));
        let args = (user, cycle_no, holder.as_str(), ttl_ms(ttl));
        let answer: String = self.run(&self.scripts.claim_cycle, keys, args).await?;
        Ok(match answer.as_str() {
            "claimed" => Claim::Claimed,
            "held" => Claim::HeldByOther,
            _ => Claim::NotInFlight,
        })
    }

    async fn renew_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        let keys = (self.key(&["inflight"]), self.cycle_key(user));
        let args = (user, cycle_no, holder, ttl_ms(ttl));
        let renewed: i32 = self.run(&self.scripts.renew_cycle, keys, args).await?;
        Ok(renewed == 1)
    }

    async fn finish_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: &str,
        next_run_at: Option<DateTime<Utc>>,
    ) -> Result<bool, JobsError> {
        let keys = (
            self.key(&["inflight"]),
            self.key(&["schedule"]),
            self.cycle_key(user),
            self.checkpoint_key(user, cycle_no),
        );
        let next_run_at = next_run_at.map(|at| ms(at).to_string()).unwrap_or_default();
        let args = (user, cycle_no, holder, next_run_at, self.key(&["events"]));
        let finished: i32 = self.run(&self.scripts.finish_cycle, keys, args).await?;
        Ok(finished == 1)
    }

    async fn release_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: &str,
    ) -> Result<(), JobsError> {
        let keys = (self.key(&["inflight"]), self.cycle_key(user));
        let args = (user, cycle_no, holder, self.key(&["events"]));
        let _: i32 = self.run(&self.scripts.release_cycle, keys, args).await?;
        Ok(())
    }

    async fn take_stalled(
        &self,
        _now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Cycle>, JobsError> {
        let keys = self.key(&["inflight"]);
        let args = (
            limit,
            ttl_ms(self.config.claim_timeout),
            self.cycle_prefix(),
        );
        let flat: Vec<String> = self.run(&self.scripts.take_stalled, keys, args).await?;
        cycles_from(&flat)
    }

    async fn in_flight(&self, user: &str) -> Result<Option<InFlight>, JobsError> {
        let rec: (Option<u64>, Option<String>, Option<i64>, Option<i64>) = redis::cmd("HMGET")
            .arg(self.cycle_key(user))
            .arg(&["no", "holder", "renewed", "due"])
            .query_async(&mut self.conn())
            .await?;
        Ok(rec.0.map(|cycle_no| InFlight {
            cycle_no,
            holder: rec.1.filter(|h| !h.is_empty()),
            last_renewed_at: rec.2.and_then(from_ms),
            due_at: rec.3.and_then(from_ms).unwrap_or_default(),
        }))
    }

    async fn in_flight_count(&self) -> Result<u64, JobsError> {
        Ok(self.conn().zcard(self.key(&["inflight"])).await?)
    }

    async fn in_flight_users(&self, limit: usize) -> Result<Vec<String>, JobsError> {
        let stop = isize::try_from(limit).unwrap_or(isize::MAX) - 1;
        if stop < 0 {
            return Ok(Vec::new());
        }
        Ok(self.conn().zrange(self.key(&["inflight"]), 0, stop).await?)
    }

    async fn cancel(&self, user: &str) -> Result<CancelOutcome, JobsError> {
        let keys = (
            self.key(&["schedule"]),
            self.key(&["inflight"]),
            self.cycle_key(user),
        );
        let answer: String = self.run(&self.scripts.cancel, keys, user).await?;
        Ok(match answer.as_str() {
            "scheduled" => CancelOutcome::WasScheduled,
            "inflight" => CancelOutcome::InFlight,
            _ => CancelOutcome::Idle,
        })
    }

    async fn resume(&self, user: &str, at: DateTime<Utc>) -> Result<(), JobsError> {
        let keys = (
            self.key(&["schedule"]),
            self.key(&["inflight"]),
            self.cycle_key(user),
        );
        let args = (user, ms(at), self.key(&["events"]));
        let _: String = self.run(&self.scripts.resume, keys, args).await?;
        Ok(())
    }

    async fn checkpoint_put(
        &self,
        user: &str,
        cycle_no: u64,
        key: &str,
        value: &str,
    ) -> Result<(), JobsError> {
        let hash = self.checkpoint_key(user, cycle_no);
        let _: () = redis::pipe()
            .hset(&hash, key, value)
            .ignore()
            .pexpire(&hash, ttl_ms(self.config.checkpoint_ttl) as i64)
            .ignore()
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    async fn checkpoint_get_all(
        &self,
        user: &str,
        cycle_no: u64,
    ) -> Result<Vec<(String, String)>, JobsError> {
        Ok(self
            .conn()
            .hgetall(self.checkpoint_key(user, cycle_no))
            .await?)
    }
}
