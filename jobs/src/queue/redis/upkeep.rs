//! The Redis queue's upkeep, every few seconds while a worker consumes: commands a dead worker
//! left pending are claimed (`XAUTOCLAIM`) and dispatched here, and both streams are trimmed up
//! to the oldest entry still undelivered or pending. It never drops an entry a worker may need.

use std::sync::Arc;

use redis::AsyncCommands;
use redis::streams::{StreamAutoClaimReply, StreamInfoGroupsReply};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{GROUP, Lane, MAINTENANCE_EVERY, RedisQueue};
use crate::JobsError;
use crate::command::Command;
use crate::queue::ConsumerLimits;

impl RedisQueue {
    /// Claims commands of dead workers and trims both streams, every few seconds.
    pub(super) async fn maintain(
        self: Arc<Self>,
        commands: Lane<Command>,
        limits: ConsumerLimits,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) {
        let every = MAINTENANCE_EVERY.min(limits.command_claim_idle / 2);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            let claimed: Result<StreamAutoClaimReply, redis::RedisError> = redis::cmd("XAUTOCLAIM")
                .arg(&self.commands)
                .arg(GROUP)
                .arg(&self.consumer)
                .arg(limits.command_claim_idle.as_millis() as u64)
                .arg("0")
                .arg("COUNT")
                .arg(100)
                .query_async(&mut self.conn.clone())
                .await;
            match claimed {
                Ok(reply) if !reply.claimed.is_empty() => {
                    tracing::warn!(
                        commands = reply.claimed.len(),
                        "taking over commands of a worker that stopped answering"
                    );
                    self.dispatch(&commands, reply.claimed, limits.max_attempts, &tracker)
                        .await;
                }
                Ok(_) => {}
                Err(err) => tracing::debug!(error = %err, "XAUTOCLAIM failed"),
            }
            for key in [&self.commands, &self.cycles] {
                if let Err(err) = self.trim(key).await {
                    tracing::debug!(error = %err, "trimming the queue failed");
                }
            }
        }
    }

    /// Drops entries older than the oldest one still needed (undelivered or pending).
    async fn trim(&self, key: &str) -> Result<(), JobsError> {
        let info: StreamInfoGroupsReply = self.conn.clone().xinfo_groups(key).await?;
        let Some(group) = info.groups.iter().find(|g| g.name == GROUP) else {
            return Ok(());
        };
        let mut keep_from = group.last_delivered_id.clone();
        let pending: redis::Value = redis::cmd("XPENDING")
            .arg(key)
            .arg(GROUP)
            .query_async(&mut self.conn.clone())
            .await?;
        if let redis::Value::Array(summary) = pending
            && let Some(redis::Value::BulkString(oldest)) = summary.get(1)
        {
            let oldest = String::from_utf8_lossy(oldest).into_owned();
            if stream_id_lt(&oldest, &keep_from) {
                keep_from = oldest;
            }
        }
        if keep_from != "0-0" {
            let _: i64 = redis::cmd("XTRIM")
                .arg(key)
                .arg("MINID")
                .arg("~")
                .arg(&keep_from)
                .query_async(&mut self.conn.clone())
                .await?;
        }
        Ok(())
    }
}

/// `a < b` for stream ids `ms-seq`.
fn stream_id_lt(a: &str, b: &str) -> bool {
    let parse = |id: &str| -> (u64, u64) {
        let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
        (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
    };
    parse(a) < parse(b)
}
