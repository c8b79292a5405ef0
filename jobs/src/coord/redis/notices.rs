//! The Redis backend's notices: session pauses, processes' announcements (the console's view),
//! command replies (stored and published) and the epoch.

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use crate::JobsError;
use crate::clock;
use crate::command::CommandReply;
use crate::coord::backend::Notices;
use crate::coord::presence::{self, Presence};
use redis::AsyncCommands;

use super::{RedisCoord, from_ms, lock, ms, ttl_ms};

impl Notices for RedisCoord {
    async fn pause_session(&self, session: &str, until: DateTime<Utc>) -> Result<(), JobsError> {
        let keys = (self.key(&["pause", session]), self.key(&["pauses"]));
        let args = (ms(until), session, ms(clock::now()));
        let _: i32 = self.run(&self.scripts.pause_session, keys, args).await?;
        Ok(())
    }

    async fn session_paused_until(
        &self,
        session: &str,
    ) -> Result<Option<DateTime<Utc>>, JobsError> {
        let until: Option<i64> = self.conn().get(self.key(&["pause", session])).await?;
        let now = crate::clock::now();
        Ok(until.and_then(from_ms).filter(|at| *at > now))
    }

    async fn paused_sessions(&self) -> Result<Vec<(String, DateTime<Utc>)>, JobsError> {
        let listed: Vec<(String, i64)> = self
            .conn()
            .zrangebyscore_withscores(self.key(&["pauses"]), ms(clock::now()) + 1, "+inf")
            .await?;
        Ok(listed
            .into_iter()
            .filter_map(|(session, until)| Some((session, from_ms(until)?)))
            .collect())
    }

    /// One hash of announcements, by role and process id; lapsed ones are deleted by whoever
    /// lists them.
    async fn announce(&self, presence: &Presence) -> Result<(), JobsError> {
        let json = serde_json::to_string(presence)?;
        let _: () = self
            .conn()
            .hset(self.key(&["presence"]), presence.key(), json)
            .await?;
        Ok(())
    }

    async fn presences(&self) -> Result<Vec<Presence>, JobsError> {
        let key = self.key(&["presence"]);
        let all: Vec<(String, String)> = self.conn().hgetall(&key).await?;
        let now = clock::now();
        let (mut live, mut lapsed) = (Vec::new(), Vec::new());
        for (id, json) in all {
            match serde_json::from_str::<Presence>(&json) {
                Ok(p) if p.is_live(now) => live.push(p),
                // Lapsed, or written by a version that no longer parses: gone either way.
                _ => lapsed.push(id),
            }
        }
        if !lapsed.is_empty() {
            let _: () = self.conn().hdel(&key, lapsed).await?;
        }
        Ok(presence::sorted(live))
    }

    async fn reply(&self, reply: &CommandReply) -> Result<(), JobsError> {
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

    fn register_waiter(&self, request_id: &str, tx: oneshot::Sender<CommandReply>) {
        lock(&self.waiters).insert(request_id.to_owned(), tx);
    }

    fn forget_waiter(&self, request_id: &str) {
        lock(&self.waiters).remove(request_id);
    }

    async fn stored_reply(&self, request_id: &str) -> Result<Option<CommandReply>, JobsError> {
        let json: Option<String> = self.conn().get(self.key(&["reply", request_id])).await?;
        json.map(|j| serde_json::from_str(&j).map_err(JobsError::from))
            .transpose()
    }

    async fn epoch(&self) -> Result<Option<String>, JobsError> {
        Ok(self.conn().get(self.key(&["epoch"])).await?)
    }

    async fn set_epoch(&self, holder: &str) -> Result<(), JobsError> {
        let _: () = self.conn().set(self.key(&["epoch"]), holder).await?;
        Ok(())
    }
}
