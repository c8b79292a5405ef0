//! The in-memory backend's notices: session pauses, processes' announcements, command replies
//! and the epoch.

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use crate::JobsError;
use crate::clock;
use crate::command::CommandReply;
use crate::coord::backend::Notices;
use crate::coord::presence::Presence;

use super::{Memory, after};

impl Notices for Memory {
    async fn pause_session(&self, session: &str, until: DateTime<Utc>) -> Result<(), JobsError> {
        let mut state = self.state();
        let entry = state.pauses.entry(session.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
        Ok(())
    }

    async fn session_paused_until(
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

    async fn paused_sessions(&self) -> Result<Vec<(String, DateTime<Utc>)>, JobsError> {
        let now = clock::now();
        let mut state = self.state();
        // Lapsed pauses go here, as Redis lets them expire.
        state.pauses.retain(|_, until| *until > now);
        let mut paused: Vec<_> = state.pauses.iter().map(|(s, u)| (s.clone(), *u)).collect();
        paused.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        Ok(paused)
    }

    async fn announce(&self, presence: &Presence) -> Result<(), JobsError> {
        self.presences.announce(presence);
        Ok(())
    }

    async fn presences(&self) -> Result<Vec<Presence>, JobsError> {
        Ok(self.presences.live())
    }

    /// Hands the reply to its waiter, or keeps it for `reply_ttl` when none takes it. A reply
    /// its waiter took is not kept: that waiter reads its channel before the stored copy
    /// ([`crate::coord::ReplyWaiter::wait`]), and no one else asks for it. Ten thousand starts would
    /// otherwise keep ten thousand replies a minute (BENCHMARKS.md, cost).
    async fn reply(&self, reply: &CommandReply) -> Result<(), JobsError> {
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

    fn register_waiter(&self, request_id: &str, tx: oneshot::Sender<CommandReply>) {
        self.state().waiters.insert(request_id.to_owned(), tx);
    }

    fn forget_waiter(&self, request_id: &str) {
        self.state().waiters.remove(request_id);
    }

    async fn stored_reply(&self, request_id: &str) -> Result<Option<CommandReply>, JobsError> {
        Ok(self.state().replies.get(request_id).map(|(r, _)| r.clone()))
    }

    async fn epoch(&self) -> Result<Option<String>, JobsError> {
        Ok(self.state().epoch.clone())
    }

    async fn set_epoch(&self, holder: &str) -> Result<(), JobsError> {
        self.state().epoch = Some(holder.to_owned());
        Ok(())
    }
}
