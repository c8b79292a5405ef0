//! Waiting for a command's reply: the channel a backend hands it to, and the stored copy read
//! when a notification was lost. Never blocks a caller beyond its timeout.

use std::time::Duration;

use super::Coordination;
use crate::JobsError;
use crate::command::CommandReply;

/// Waits for one command's reply.
#[derive(Debug)]
pub struct ReplyWaiter {
    pub(super) coord: Coordination,
    pub(super) request_id: String,
    pub(super) rx: tokio::sync::oneshot::Receiver<CommandReply>,
}

impl ReplyWaiter {
    /// The reply, or `None` if none came within `timeout`.
    pub async fn wait(self, timeout: Duration) -> Result<Option<CommandReply>, JobsError> {
        let ReplyWaiter {
            coord,
            request_id,
            mut rx,
        } = self;
        if let Ok(Ok(reply)) = tokio::time::timeout(timeout, &mut rx).await {
            coord.forget_waiter(&request_id);
            return Ok(Some(reply));
        }
        // In this order: once the waiter is forgotten a reply is stored, not sent, so one sent
        // before is in the channel and one sent after is in the store (the in-memory backend
        // keeps a reply only when no waiter took it).
        coord.forget_waiter(&request_id);
        if let Ok(reply) = rx.try_recv() {
            return Ok(Some(reply));
        }
        // A notification can be lost (a reconnect in between): the stored copy settles it.
        coord.stored_reply(&request_id).await
    }
}
