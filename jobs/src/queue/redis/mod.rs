//! The Redis queue: one stream per job type, one consumer group (`workers`) shared by every
//! worker process, one consumer name per process. Pushes are pipelined `XADD`s; a worker reads
//! with a blocking `XREADGROUP` (pickup is immediate, no polling) on a connection of its own, in
//! batches as large as it has room for. Commands whose worker died stay pending and are claimed
//! by a live worker (`XAUTOCLAIM`) after `ConsumerLimits::command_claim_idle`. Streams are
//! trimmed up to the oldest entry not yet delivered or still pending, so memory stays bounded
//! without losing jobs (both in `upkeep`).

mod upkeep;

use std::sync::Arc;
use std::time::Duration;

use backon::ExponentialBackoff;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::streams::{StreamId, StreamInfoGroupsReply, StreamReadOptions, StreamReadReply};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{ConsumerLimits, Envelope, Handler, QueueDepth, run_job};
use crate::JobsError;
use crate::backoff::REDIS_RETRY;
use crate::command::Command;
use crate::coord::RedisConfig;
use crate::cycle::Cycle;

const GROUP: &str = "workers";
/// The longest pause between two rounds of claiming dead workers' commands and trimming.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(5);
const READ_BLOCK: Duration = Duration::from_millis(1000);
const MAX_BATCH: usize = 1000;

pub(super) struct RedisQueue {
    client: redis::Client,
    conn: ConnectionManager,
    commands: String,
    cycles: String,
    consumer: String,
}

impl std::fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueue")
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

impl RedisQueue {
    pub(super) async fn connect(config: &RedisConfig) -> Result<RedisQueue, JobsError> {
        let (client, conn) = config.connect().await?;
        let queue = RedisQueue {
            client,
            conn,
            commands: format!("{}:q:commands", config.prefix),
            cycles: format!("{}:q:cycles", config.prefix),
            consumer: consumer_name(),
        };
        queue.ensure_groups().await?;
        Ok(queue)
    }

    /// Creates the streams and the group (again after Redis lost them); existing ones are kept.
    async fn ensure_groups(&self) -> Result<(), JobsError> {
        for key in [&self.commands, &self.cycles] {
            let created: Result<(), redis::RedisError> = self
                .conn
                .clone()
                .xgroup_create_mkstream(key, GROUP, "0")
                .await;
            if let Err(err) = created
                && err.code() != Some("BUSYGROUP")
            {
                return Err(err.into());
            }
        }
        Ok(())
    }

    pub(super) async fn push_commands(
        &self,
        envelopes: &[Envelope<Command>],
    ) -> Result<(), JobsError> {
        self.push(&self.commands, envelopes).await
    }

    pub(super) async fn push_cycles(&self, envelopes: &[Envelope<Cycle>]) -> Result<(), JobsError> {
        self.push(&self.cycles, envelopes).await
    }

    async fn push<T: Serialize>(
        &self,
        key: &str,
        envelopes: &[Envelope<T>],
    ) -> Result<(), JobsError> {
        for chunk in envelopes.chunks(MAX_BATCH) {
            let mut pipe = redis::pipe();
            for envelope in chunk {
                pipe.xadd(key, "*", &[("j", serde_json::to_string(envelope)?)])
                    .ignore();
            }
            let _: () = pipe.query_async(&mut self.conn.clone()).await?;
        }
        Ok(())
    }

    pub(super) async fn depth(&self) -> Result<QueueDepth, JobsError> {
        let mut depth = QueueDepth::default();
        for (key, waiting) in [
            (&self.commands, &mut depth.commands_waiting),
            (&self.cycles, &mut depth.cycles_waiting),
        ] {
            let info: StreamInfoGroupsReply = self.conn.clone().xinfo_groups(key).await?;
            if let Some(group) = info.groups.iter().find(|g| g.name == GROUP) {
                *waiting = group.lag.unwrap_or(0) as u64;
                depth.pending += group.pending as u64;
            }
        }
        Ok(depth)
    }

    pub(super) async fn consume(
        self: Arc<Self>,
        on_command: Handler<Command>,
        on_cycle: Handler<Cycle>,
        limits: ConsumerLimits,
        shutdown: CancellationToken,
    ) -> Result<(), JobsError> {
        let tracker = TaskTracker::new();
        let command_permits = Arc::new(Semaphore::new(limits.commands.max(1)));
        let cycle_permits = Arc::new(Semaphore::new(limits.cycles.max(1)));
        let commands = Lane {
            key: self.commands.clone(),
            handler: on_command,
            permits: command_permits,
            ack_on_receipt: false,
            kind: "command",
        };
        let cycles = Lane {
            key: self.cycles.clone(),
            handler: on_cycle,
            permits: cycle_permits,
            ack_on_receipt: true,
            kind: "cycle",
        };
        tracing::info!(consumer = %self.consumer, "consuming commands and cycles from Redis");
        tokio::join!(
            self.clone().read(
                commands.clone(),
                limits.max_attempts,
                tracker.clone(),
                shutdown.clone()
            ),
            self.clone().read(
                cycles.clone(),
                limits.max_attempts,
                tracker.clone(),
                shutdown.clone()
            ),
            self.clone()
                .maintain(commands, limits.clone(), tracker.clone(), shutdown.clone()),
        );
        tracker.close();
        if tokio::time::timeout(limits.drain_deadline, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown deadline passed with jobs still running");
        }
        Ok(())
    }

    async fn read<T>(
        self: Arc<Self>,
        lane: Lane<T>,
        max_attempts: u32,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) where
        T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let mut conn: Option<MultiplexedConnection> = None;
        let mut waits = REDIS_RETRY.waits();
        while !shutdown.is_cancelled() {
            // Wait for room before reading, so jobs are never fetched without a place to run.
            let room = lane.permits.available_permits();
            if room == 0 {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    permit = lane.permits.acquire() => drop(permit),
                }
                continue;
            }
            if conn.is_none() {
                // A blocking read holds its answer back for READ_BLOCK: the connection must wait
                // longer than that before calling it a timeout.
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(3)))
                    .set_response_timeout(Some(READ_BLOCK + Duration::from_secs(5)));
                match self
                    .client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                {
                    Ok(c) => conn = Some(c),
                    Err(err) => {
                        tracing::warn!(kind = lane.kind, error = %err, "cannot reach Redis; retrying");
                        sleep_or_cancel(&mut waits, &shutdown).await;
                        continue;
                    }
                }
            }
            let Some(connection) = conn.as_mut() else {
                continue;
            };
            let options = StreamReadOptions::default()
                .group(GROUP, &self.consumer)
                .count(room.min(MAX_BATCH))
                .block(READ_BLOCK.as_millis() as usize);
            let keys = [lane.key.as_str()];
            let read: Result<StreamReadReply, redis::RedisError> = tokio::select! {
                _ = shutdown.cancelled() => break,
                read = connection.xread_options(&keys, &[">"], &options) => read,
            };
            match read {
                Ok(reply) => {
                    waits = REDIS_RETRY.waits();
                    let entries: Vec<StreamId> =
                        reply.keys.into_iter().flat_map(|k| k.ids).collect();
                    self.dispatch(&lane, entries, max_attempts, &tracker).await;
                }
                Err(err) => {
                    tracing::warn!(kind = lane.kind, error = %err, "reading the queue failed; reconnecting");
                    conn = None;
                    // After a Redis restart the stream and its group are gone: make them again.
                    let _ = self.ensure_groups().await;
                    sleep_or_cancel(&mut waits, &shutdown).await;
                }
            }
        }
    }

    /// Runs each entry's job; acknowledges cycles at once and commands when their handler is done.
    async fn dispatch<T>(
        self: &Arc<Self>,
        lane: &Lane<T>,
        entries: Vec<StreamId>,
        max_attempts: u32,
        tracker: &TaskTracker,
    ) where
        T: Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    {
        let mut ack_now = Vec::new();
        for entry in entries {
            let envelope = match decode::<T>(&entry) {
                Ok(envelope) => envelope,
                Err(err) => {
                    tracing::error!(kind = lane.kind, id = %entry.id, error = %err, "dropping a malformed job");
                    ack_now.push(entry.id);
                    continue;
                }
            };
            if lane.ack_on_receipt {
                ack_now.push(entry.id.clone());
            }
            let Ok(permit) = lane.permits.clone().acquire_owned().await else {
                return;
            };
            let (queue, handler, key, ack_after) = (
                self.clone(),
                lane.handler.clone(),
                lane.key.clone(),
                !lane.ack_on_receipt,
            );
            let kind = lane.kind;
            tracker.spawn(async move {
                let retry = run_job(&handler, &envelope, max_attempts, kind).await;
                drop(permit);
                // Boxed: the task lives as long as its job runs (a cycle: minutes), and these
                // Redis calls' futures would otherwise size it for every running bot.
                Box::pin(async move {
                    if let Some(after) = retry {
                        tokio::time::sleep(after).await;
                        let again = Envelope {
                            attempt: envelope.attempt + 1,
                            job: envelope.job,
                        };
                        if let Err(err) = queue.push(&key, &[again]).await {
                            tracing::error!(kind, error = %err, "cannot requeue a job for retry");
                        }
                    }
                    if ack_after {
                        queue.ack(&key, &[entry.id]).await;
                    }
                })
                .await;
            });
        }
        if !ack_now.is_empty() {
            self.ack(&lane.key, &ack_now).await;
        }
    }

    async fn ack(&self, key: &str, ids: &[String]) {
        let acked: Result<i64, redis::RedisError> = self.conn.clone().xack(key, GROUP, ids).await;
        if let Err(err) = acked {
            // An unacknowledged command is delivered again, and commands are idempotent.
            tracing::warn!(error = %err, "cannot acknowledge jobs");
        }
    }
}

struct Lane<T> {
    key: String,
    handler: Handler<T>,
    permits: Arc<Semaphore>,
    ack_on_receipt: bool,
    kind: &'static str,
}

impl<T> Clone for Lane<T> {
    fn clone(&self) -> Self {
        Lane {
            key: self.key.clone(),
            handler: self.handler.clone(),
            permits: self.permits.clone(),
            ack_on_receipt: self.ack_on_receipt,
            kind: self.kind,
        }
    }
}

fn decode<T: DeserializeOwned>(entry: &StreamId) -> Result<Envelope<T>, JobsError> {
    let raw: String = entry
        .get("j")
        .ok_or_else(|| JobsError::Malformed(format!("entry {} has no job", entry.id)))?;
    Ok(serde_json::from_str(&raw)?)
}

/// Sleeps the run's next wait, unless shut down first.
async fn sleep_or_cancel(waits: &mut ExponentialBackoff, shutdown: &CancellationToken) {
    let wait = waits.next().unwrap_or(REDIS_RETRY.max);
    tokio::select! {
        _ = shutdown.cancelled() => {}
        () = tokio::time::sleep(wait) => {}
    }
}

/// Unique per process (host, pid, random), so a restarted worker never inherits a name.
fn consumer_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}
