//! The Redis backend's leases and permits: each operation one Lua script, on Redis's clock.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::JobsError;
use crate::coord::backend::Leases;
use crate::coord::{Hold, Name};
use redis::AsyncCommands;

use super::{NO_ARGS, RedisCoord, from_ms, ttl_ms};

impl Leases for RedisCoord {
    async fn lease_acquire(
        &self,
        key: impl Name,
        holder: impl Name,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        let key = key.as_str();
        let keys = (self.key(&["lease", key]), self.key(&["lease-renewed"]));
        let args = (holder.as_str(), ttl_ms(ttl), key);
        let held: i32 = self.run(&self.scripts.lease_acquire, keys, args).await?;
        Ok(held == 1)
    }

    async fn lease_renew(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, JobsError> {
        let keys = (self.key(&["lease", key]), self.key(&["lease-renewed"]));
        let args = (holder, ttl_ms(ttl), key);
        let held: i32 = self.run(&self.scripts.lease_renew, keys, args).await?;
        Ok(held == 1)
    }

    /// One pipeline: the three renewal scripts loaded (a restarted Redis has forgotten them),
    /// then one script call per hold, each answered 1 or 0 in order.
    async fn renew_holds(&self, holds: &[Hold], ttl: Duration) -> Result<Vec<bool>, JobsError> {
        if holds.is_empty() {
            return Ok(Vec::new());
        }
        let scripts = &self.scripts;
        let mut pipe = redis::pipe();
        for script in [
            &scripts.renew_cycle,
            &scripts.permit_renew,
            &scripts.lease_renew,
        ] {
            pipe.load_script(script).ignore();
        }
        let (inflight, renewed) = (self.key(&["inflight"]), self.key(&["lease-renewed"]));
        for hold in holds {
            let mut call = match hold {
                Hold::Cycle {
                    user,
                    cycle_no,
                    holder,
                } => {
                    let mut call = scripts.renew_cycle.key(&inflight);
                    call.key(self.cycle_key(user))
                        .arg(&**user)
                        .arg(cycle_no)
                        .arg(&**holder);
                    call
                }
                Hold::Permit { key, holder } => {
                    let mut call = scripts.permit_renew.key(self.key(&["permits", key]));
                    call.arg(&**holder);
                    call
                }
                Hold::Lease { key, holder } => {
                    let mut call = scripts.lease_renew.key(self.key(&["lease", key]));
                    call.key(&renewed).arg(&**holder);
                    call
                }
            };
            call.arg(ttl_ms(ttl));
            if let Hold::Lease { key, .. } = hold {
                call.arg(&**key);
            }
            pipe.invoke_script(&call);
        }
        let answers: Vec<i32> = pipe.query_async(&mut self.conn()).await?;
        Ok(answers.into_iter().map(|held| held == 1).collect())
    }

    async fn lease_release(&self, key: &str, holder: &str) -> Result<(), JobsError> {
        let keys = self.key(&["lease", key]);
        let _: i32 = self.run(&self.scripts.lease_release, keys, holder).await?;
        Ok(())
    }

    async fn lease_renewed_at(&self, key: &str) -> Result<Option<DateTime<Utc>>, JobsError> {
        let at: Option<i64> = self.conn().hget(self.key(&["lease-renewed"]), key).await?;
        Ok(at.and_then(from_ms))
    }

    async fn permit_acquire(
        &self,
        key: impl Name,
        holder: impl Name,
        limit: u32,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        let keys = self.key(&["permits", key.as_str()]);
        let args = (holder.as_str(), limit, ttl_ms(ttl));
        let got: i32 = self.run(&self.scripts.permit_acquire, keys, args).await?;
        Ok(got == 1)
    }

    async fn permit_renew(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        let keys = self.key(&["permits", key]);
        let args = (holder, ttl_ms(ttl));
        let held: i32 = self.run(&self.scripts.permit_renew, keys, args).await?;
        Ok(held == 1)
    }

    async fn permit_release(&self, key: &str, holder: &str) -> Result<(), JobsError> {
        let _: i32 = self
            .conn()
            .zrem(self.key(&["permits", key]), holder)
            .await?;
        Ok(())
    }

    async fn permit_count(&self, key: &str) -> Result<u32, JobsError> {
        let keys = self.key(&["permits", key]);
        self.run(&self.scripts.permit_count, keys, NO_ARGS).await
    }
}
