//! The Redis coordination backend: every operation that must be atomic is one Lua script
//! (`lua/`), and every lease or deadline is measured on Redis's own clock (`TIME`), so the
//! replicas' clocks do not matter. Schedules are scored with the caller's clock (they are wall
//! times shown to tenants). Keys live under a configurable prefix; single-instance Redis only
//! (scripts touch keys derived from arguments, which Redis Cluster forbids).
//!
//! One pub/sub listener per process delivers schedule changes (to wake the scheduler) and command
//! replies (to waiting API requests); it reconnects and resubscribes by itself.
//!
//! The connection, key names, scripts and `run` (how every script is called) live here; the
//! operations are in `leases`, `cycles` and `notices`, one file per [`super::backend`] trait.

mod cycles;
mod leases;
mod notices;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use redis::Script;
use redis::aio::ConnectionManager;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Notify, oneshot};

use super::CoordConfig;
use crate::JobsError;
use crate::backoff::REDIS_RETRY;
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
    resume: Script,
    pause_session: Script,
}

impl Scripts {
    fn load() -> Scripts {
        Scripts {
            lease_acquire: Script::new(include_str!("../lua/lease_acquire.lua")),
            lease_renew: Script::new(include_str!("../lua/lease_renew.lua")),
            lease_release: Script::new(include_str!("../lua/lease_release.lua")),
            permit_acquire: Script::new(include_str!("../lua/permit_acquire.lua")),
            permit_renew: Script::new(include_str!("../lua/permit_renew.lua")),
            permit_count: Script::new(include_str!("../lua/permit_count.lua")),
            take_due: Script::new(include_str!("../lua/take_due.lua")),
            claim_cycle: Script::new(include_str!("../lua/claim_cycle.lua")),
            renew_cycle: Script::new(include_str!("../lua/renew_cycle.lua")),
            finish_cycle: Script::new(include_str!("../lua/finish_cycle.lua")),
            release_cycle: Script::new(include_str!("../lua/release_cycle.lua")),
            take_stalled: Script::new(include_str!("../lua/take_stalled.lua")),
            cancel: Script::new(include_str!("../lua/cancel.lua")),
            resume: Script::new(include_str!("../lua/resume.lua")),
            pause_session: Script::new(include_str!("../lua/pause_session.lua")),
        }
    }
}

/// A script called without arguments.
const NO_ARGS: &[&str; 0] = &[];

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

    /// Runs one of the scripts: `keys` and `args` are one value or a tuple of them, in the
    /// script's `KEYS` and `ARGV` order. `EVALSHA`, loading the script first when Redis has
    /// forgotten it (a restart).
    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        keys: impl redis::ToRedisArgs,
        args: impl redis::ToRedisArgs,
    ) -> Result<T, JobsError> {
        Ok(script
            .key(keys)
            .arg(args)
            .invoke_async(&mut self.conn())
            .await?)
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
    let mut waits = REDIS_RETRY.waits();
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(&events).await.is_ok()
                    && pubsub.subscribe(&replies).await.is_ok()
                {
                    waits = REDIS_RETRY.waits();
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
        tokio::time::sleep(waits.next().unwrap_or(REDIS_RETRY.max)).await;
    }
}
