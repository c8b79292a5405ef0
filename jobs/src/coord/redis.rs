//! The Redis coordination backend: every operation that must be atomic is one Lua script
//! (`lua/`), and every lease or deadline is measured on Redis's own clock (`TIME`), so the
//! replicas' clocks do not matter. Schedules are scored with the caller's clock (they are wall
//! times shown to tenants). Keys live under a configurable prefix; single-instance Redis only
//! (scripts touch keys derived from arguments, which Redis Cluster forbids).
//!
//! One pub/sub listener per process delivers schedule changes (to wake the scheduler) and command
//! replies (to waiting API requests); it reconnects and resubscribes by itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Notify, oneshot};

use super::{CancelOutcome, Claim, CoordConfig, Hold, InFlight};
use crate::JobsError;
use crate::command::CommandReply;
use crate::cycle::Cycle;

/// Where Redis is. The URL may carry a password: it is never logged or shown.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub url: SecretString,
    /// Prefix of every key (`herald` by default), so deployments can share one Redis.
    pub prefix: String,
}

impl RedisConfig {
    pub fn new(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            url: SecretString::from(url.into()),
            prefix: "herald".into(),
        }
    }

    /// Opens a connection manager that reconnects by itself, after checking Redis answers.
    pub(crate) async fn connect(&self) -> Result<(redis::Client, ConnectionManager), JobsError> {
        let client = redis::Client::open(self.url.expose_secret()).map_err(|e| {
            JobsError::Unavailable(format!(
                "HERALD_REDIS_URL is not a valid Redis URL: {}",
                e.kind_str()
            ))
        })?;
        let address = client.get_connection_info().addr().to_string();
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        let unreachable = |e: redis::RedisError| {
            JobsError::Unavailable(format!("cannot reach Redis at {address}: {e}"))
        };
        let mut manager = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(unreachable)?;
        let _: String = redis::cmd("PING")
            .query_async(&mut manager)
            .await
            .map_err(unreachable)?;
        Ok((client, manager))
    }
}

trait KindStr {
    fn kind_str(&self) -> String;
}

impl KindStr for redis::RedisError {
    /// The error's category without its detail (which may echo the URL).
    fn kind_str(&self) -> String {
        format!("{:?}", self.kind())
    }
}

struct Scripts {
    lease_acquire: Script,
    lease_renew: Script,
    lease_release: Script,
    permit_acquire: Script,
    permit_renew: Script,
    permit_count: Script,
    take_due: Script,
    claim_cycle: Script,
    renew_cycle: Script,
    finish_cycle: Script,
    release_cycle: Script,
    take_stalled: Script,
    cancel: Script,
    pause_session: Script,
}

impl Scripts {
    fn load() -> Scripts {
        Scripts {
            lease_acquire: Script::new(include_str!("lua/lease_acquire.lua")),
            lease_renew: Script::new(include_str!("lua/lease_renew.lua")),
            lease_release: Script::new(include_str!("lua/lease_release.lua")),
            permit_acquire: Script::new(include_str!("lua/permit_acquire.lua")),
            permit_renew: Script::new(include_str!("lua/permit_renew.lua")),
            permit_count: Script::new(include_str!("lua/permit_count.lua")),
            take_due: Script::new(include_str!("lua/take_due.lua")),
            claim_cycle: Script::new(include_str!("lua/claim_cycle.lua")),
            renew_cycle: Script::new(include_str!("lua/renew_cycle.lua")),
            finish_cycle: Script::new(include_str!("lua/finish_cycle.lua")),
            release_cycle: Script::new(include_str!("lua/release_cycle.lua")),
            take_stalled: Script::new(include_str!("lua/take_stalled.lua")),
            cancel: Script::new(include_str!("lua/cancel.lua")),
            pause_session: Script::new(include_str!("lua/pause_session.lua")),
        }
    }
}

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<CommandReply>>>>;

pub(super) struct RedisCoord {
    conn: ConnectionManager,
    prefix: String,
    config: CoordConfig,
    scripts: Scripts,
    waiters: Waiters,
    changed: Arc<Notify>,
    listener: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RedisCoord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCoord")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Drop for RedisCoord {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

pub(super) fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(super) fn from_ms(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

fn ttl_ms(d: Duration) -> u64 {
    d.as_millis().max(1) as u64
}

impl RedisCoord {
    pub(super) async fn connect(
        redis: RedisConfig,
        config: CoordConfig,
    ) -> Result<RedisCoord, JobsError> {
        let (client, conn) = redis.connect().await?;
        let prefix = redis.prefix.clone();
        let waiters: Waiters = Arc::default();
        let changed = Arc::new(Notify::new());
        let listener = tokio::spawn(listen(
            client,
            prefix.clone(),
            waiters.clone(),
            changed.clone(),
        ));
        Ok(RedisCoord {
            conn,
            prefix,
            config,
            scripts: Scripts::load(),
            waiters,
            changed,
            listener,
        })
    }

    pub(super) fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }

    pub(super) fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn cycle_prefix(&self) -> String {
        self.key(&["cycle", ""])
    }

    fn cycle_key(&self, user: &str) -> String {
        format!("{}{user}", self.cycle_prefix())
    }

    fn checkpoint_key(&self, user: &str, cycle_no: u64) -> String {
        self.key(&["ckpt", user, &cycle_no.to_string()])
    }

    pub(super) async fn lease_acquire(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        let held: i32 = self
            .scripts
            .lease_acquire
            .key(self.key(&["lease", key]))
            .key(self.key(&["lease-renewed"]))
            .arg(holder)
            .arg(ttl_ms(ttl))
            .arg(key)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(held == 1)
    }

    pub(super) async fn lease_renew(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        let held: i32 = self
            .scripts
            .lease_renew
            .key(self.key(&["lease", key]))
            .key(self.key(&["lease-renewed"]))
            .arg(holder)
            .arg(ttl_ms(ttl))
            .arg(key)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(held == 1)
    }

    /// One pipeline: the three renewal scripts loaded (a restarted Redis has forgotten them),
    /// then one script call per hold, each answered 1 or 0 in order.
    pub(super) async fn renew_holds(
        &self,
        holds: &[Hold],
        ttl: Duration,
    ) -> Result<Vec<bool>, JobsError> {
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

    pub(super) async fn lease_release(&self, key: &str, holder: &str) -> Result<(), JobsError> {
        let _: i32 = self
            .scripts
            .lease_release
            .key(self.key(&["lease", key]))
            .arg(holder)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }

    pub(super) async fn lease_renewed_at(
        &self,
        key: &str,
    ) -> Result<Option<DateTime<Utc>>, JobsError> {
        let at: Option<i64> = self.conn().hget(self.key(&["lease-renewed"]), key).await?;
        Ok(at.and_then(from_ms))
    }

    pub(super) async fn permit_acquire(
        &self,
        key: &str,
        holder: &str,
        limit: u32,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        let got: i32 = self
            .scripts
            .permit_acquire
            .key(self.key(&["permits", key]))
            .arg(holder)
            .arg(limit)
            .arg(ttl_ms(ttl))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(got == 1)
    }

    pub(super) async fn permit_renew(
        &self,
        key: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        let held: i32 = self
            .scripts
            .permit_renew
            .key(self.key(&["permits", key]))
            .arg(holder)
            .arg(ttl_ms(ttl))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(held == 1)
    }

    pub(super) async fn permit_release(&self, key: &str, holder: &str) -> Result<(), JobsError> {
        let _: i32 = self
            .conn()
            .zrem(self.key(&["permits", key]), holder)
            .await?;
        Ok(())
    }

    pub(super) async fn permit_count(&self, key: &str) -> Result<u32, JobsError> {
        Ok(self
            .scripts
            .permit_count
            .key(self.key(&["permits", key]))
            .invoke_async(&mut self.conn())
            .await?)
    }

    pub(super) async fn schedule(&self, user: &str, at: DateTime<Utc>) -> Result<(), JobsError> {
        let _: () = redis::pipe()
            .zadd(self.key(&["schedule"]), user, ms(at))
            .ignore()
            .publish(self.key(&["events"]), "s")
            .ignore()
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    pub(super) async fn unschedule(&self, user: &str) -> Result<bool, JobsError> {
        let removed: i32 = self.conn().zrem(self.key(&["schedule"]), user).await?;
        Ok(removed == 1)
    }

    pub(super) async fn next_run(&self, user: &str) -> Result<Option<DateTime<Utc>>, JobsError> {
        let score: Option<i64> = self.conn().zscore(self.key(&["schedule"]), user).await?;
        Ok(score.and_then(from_ms))
    }

    pub(super) async fn earliest(&self) -> Result<Option<DateTime<Utc>>, JobsError> {
        let first: Vec<(String, i64)> = self
            .conn()
            .zrange_withscores(self.key(&["schedule"]), 0, 0)
            .await?;
        Ok(first.first().and_then(|(_, score)| from_ms(*score)))
    }

    pub(super) async fn wait_for_change(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.changed.notified()).await;
    }

    pub(super) async fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Cycle>, JobsError> {
        let flat: Vec<String> = self
            .scripts
            .take_due
            .key(self.key(&["schedule"]))
            .key(self.key(&["inflight"]))
            .key(self.key(&["cycle-numbers"]))
            .arg(ms(now))
            .arg(limit)
            .arg(ttl_ms(self.config.claim_timeout))
            .arg(self.cycle_prefix())
            .invoke_async(&mut self.conn())
            .await?;
        cycles_from(&flat)
    }

    pub(super) async fn clear_schedule(&self) -> Result<(), JobsError> {
        let _: i32 = self.conn().del(self.key(&["schedule"])).await?;
        Ok(())
    }

    pub(super) async fn claim_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: &str,
        ttl: Duration,
    ) -> Result<Claim, JobsError> {
        let answer: String = self
            .scripts
            .claim_cycle
            .key(self.key(&["inflight"]))
            .key(self.cycle_key(user))
            .arg(user)
            .arg(cycle_no)
            .arg(holder)
            .arg(ttl_ms(ttl))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(match answer.as_str() {
            "claimed" => Claim::Claimed,
            "held" => Claim::HeldByOther,
            _ => Claim::NotInFlight,
        })
    }

    pub(super) async fn renew_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, JobsError> {
        let renewed: i32 = self
            .scripts
            .renew_cycle
            .key(self.key(&["inflight"]))
            .key(self.cycle_key(user))
            .arg(user)
            .arg(cycle_no)
            .arg(holder)
            .arg(ttl_ms(ttl))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(renewed == 1)
    }

    pub(super) async fn finish_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: &str,
        next_run_at: Option<DateTime<Utc>>,
    ) -> Result<bool, JobsError> {
        let finished: i32 = self
            .scripts
            .finish_cycle
            .key(self.key(&["inflight"]))
            .key(self.key(&["schedule"]))
            .key(self.cycle_key(user))
            .key(self.checkpoint_key(user, cycle_no))
            .arg(user)
            .arg(cycle_no)
            .arg(holder)
            .arg(next_run_at.map(|at| ms(at).to_string()).unwrap_or_default())
            .arg(self.key(&["events"]))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(finished == 1)
    }

    pub(super) async fn release_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: &str,
    ) -> Result<(), JobsError> {
        let _: i32 = self
            .scripts
            .release_cycle
            .key(self.key(&["inflight"]))
            .key(self.cycle_key(user))
            .arg(user)
            .arg(cycle_no)
            .arg(holder)
            .arg(self.key(&["events"]))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }

    pub(super) async fn take_stalled(
        &self,
        _now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Cycle>, JobsError> {
        let flat: Vec<String> = self
            .scripts
            .take_stalled
            .key(self.key(&["inflight"]))
            .arg(limit)
            .arg(ttl_ms(self.config.claim_timeout))
            .arg(self.cycle_prefix())
            .invoke_async(&mut self.conn())
            .await?;
        cycles_from(&flat)
    }

    pub(super) async fn in_flight(&self, user: &str) -> Result<Option<InFlight>, JobsError> {
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

    pub(super) async fn in_flight_count(&self) -> Result<u64, JobsError> {
        Ok(self.conn().zcard(self.key(&["inflight"])).await?)
    }

    pub(super) async fn cancel(&self, user: &str) -> Result<CancelOutcome, JobsError> {
        let answer: String = self
            .scripts
            .cancel
            .key(self.key(&["schedule"]))
            .key(self.key(&["inflight"]))
            .arg(user)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(match answer.as_str() {
            "scheduled" => CancelOutcome::WasScheduled,
            "inflight" => CancelOutcome::InFlight,
            _ => CancelOutcome::Idle,
        })
    }

    pub(super) async fn checkpoint_put(
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

    pub(super) async fn checkpoint_get_all(
        &self,
        user: &str,
        cycle_no: u64,
    ) -> Result<Vec<(String, String)>, JobsError> {
        Ok(self
            .conn()
            .hgetall(self.checkpoint_key(user, cycle_no))
            .await?)
    }

    pub(super) async fn pause_session(
        &self,
        session: &str,
        until: DateTime<Utc>,
    ) -> Result<(), JobsError> {
        let _: i32 = self
            .scripts
            .pause_session
            .key(self.key(&["pause", session]))
            .key(self.key(&["pauses"]))
            .arg(ms(until))
            .arg(session)
            .arg(ms(crate::clock::now()))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }

    pub(super) async fn session_paused_until(
        &self,
        session: &str,
    ) -> Result<Option<DateTime<Utc>>, JobsError> {
        let until: Option<i64> = self.conn().get(self.key(&["pause", session])).await?;
        let now = crate::clock::now();
        Ok(until.and_then(from_ms).filter(|at| *at > now))
    }

    pub(super) async fn reply(&self, reply: &CommandReply) -> Result<(), JobsError> {
        let json = serde_json::to_string(reply)?;
        let _: () = redis::pipe()
            .pset_ex(
                self.key(&["reply", &reply.request_id]),
                &json,
                ttl_ms(self.config.reply_ttl).max(1),
            )
            .ignore()
            .publish(self.key(&["replies"]), &json)
            .ignore()
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    pub(super) fn register_waiter(&self, request_id: &str, tx: oneshot::Sender<CommandReply>) {
        lock(&self.waiters).insert(request_id.to_owned(), tx);
    }

    pub(super) fn forget_waiter(&self, request_id: &str) {
        lock(&self.waiters).remove(request_id);
    }

    pub(super) async fn stored_reply(
        &self,
        request_id: &str,
    ) -> Result<Option<CommandReply>, JobsError> {
        let json: Option<String> = self.conn().get(self.key(&["reply", request_id])).await?;
        json.map(|j| serde_json::from_str(&j).map_err(JobsError::from))
            .transpose()
    }

    pub(super) async fn epoch(&self) -> Result<Option<String>, JobsError> {
        Ok(self.conn().get(self.key(&["epoch"])).await?)
    }

    pub(super) async fn set_epoch(&self, holder: &str) -> Result<(), JobsError> {
        let _: () = self.conn().set(self.key(&["epoch"]), holder).await?;
        Ok(())
    }
}

fn lock(
    waiters: &Waiters,
) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<CommandReply>>> {
    waiters.lock().unwrap_or_else(|p| p.into_inner())
}

/// `[user, cycle_no, due_ms, ...]` as scripts return them.
fn cycles_from(flat: &[String]) -> Result<Vec<Cycle>, JobsError> {
    flat.chunks(3)
        .map(|chunk| match chunk {
            [user, number, due] => Ok(Cycle {
                user_id: user.clone(),
                cycle_no: number
                    .parse()
                    .map_err(|_| JobsError::Malformed(format!("cycle number '{number}'")))?,
                due_at: due
                    .parse::<f64>()
                    .ok()
                    .and_then(|d| from_ms(d as i64))
                    .unwrap_or_default(),
            }),
            _ => Err(JobsError::Malformed(
                "a script returned an incomplete cycle".into(),
            )),
        })
        .collect()
}

/// The process's one pub/sub connection: schedule changes wake waiters, replies go to theirs.
/// Reconnects with backoff whenever the connection drops; a lost message costs at most one
/// scheduler tick or the reply's stored copy being read at the waiter's timeout.
async fn listen(client: redis::Client, prefix: String, waiters: Waiters, changed: Arc<Notify>) {
    let events = format!("{prefix}:events");
    let replies = format!("{prefix}:replies");
    let mut backoff = Duration::from_millis(100);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(&events).await.is_ok()
                    && pubsub.subscribe(&replies).await.is_ok()
                {
                    backoff = Duration::from_millis(100);
                    // Whatever changed while disconnected: let the scheduler look again.
                    changed.notify_one();
                    let mut messages = pubsub.into_on_message();
                    while let Some(message) = messages.next().await {
                        if message.get_channel_name() == replies {
                            if let Ok(reply) =
                                serde_json::from_slice::<CommandReply>(message.get_payload_bytes())
                                && let Some(waiter) = lock(&waiters).remove(&reply.request_id)
                            {
                                let _ = waiter.send(reply);
                            }
                        } else {
                            changed.notify_one();
                        }
                    }
                }
                tracing::warn!("Redis pub/sub connection lost; reconnecting");
            }
            Err(err) => tracing::debug!(error = %err, "Redis pub/sub not reachable yet"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}
