//! The Redis backend's answers to "what is going on" (the operator's console): processes'
//! announcements, sessions waiting out a flood wait, the cycles in flight. Reads, and the
//! announcement's one write; nothing here takes part in a cycle's claim or a session's lease.

use chrono::{DateTime, Utc};
use redis::AsyncCommands;

use super::presence::{self, Presence};
use super::redis::{RedisCoord, from_ms, ms};
use crate::{JobsError, clock};

impl RedisCoord {
    /// One hash of announcements, by role and process id; lapsed ones are deleted by whoever
    /// lists them.
    pub(super) async fn announce(&self, presence: &Presence) -> Result<(), JobsError> {
        let json = serde_json::to_string(presence)?;
        let _: () = self
            .conn()
            .hset(self.key(&["presence"]), presence.key(), json)
            .await?;
        Ok(())
    }

    pub(super) async fn presences(&self) -> Result<Vec<Presence>, JobsError> {
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

    pub(super) async fn paused_sessions(&self) -> Result<Vec<(String, DateTime<Utc>)>, JobsError> {
        let listed: Vec<(String, i64)> = self
            .conn()
            .zrangebyscore_withscores(self.key(&["pauses"]), ms(clock::now()) + 1, "+inf")
            .await?;
        Ok(listed
            .into_iter()
            .filter_map(|(session, until)| Some((session, from_ms(until)?)))
            .collect())
    }

    pub(super) async fn in_flight_users(&self, limit: usize) -> Result<Vec<String>, JobsError> {
        let stop = isize::try_from(limit).unwrap_or(isize::MAX) - 1;
        if stop < 0 {
            return Ok(Vec::new());
        }
        Ok(self.conn().zrange(self.key(&["inflight"]), 0, stop).await?)
    }
}
