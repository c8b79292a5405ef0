//! Who is running: each worker and scheduler process announces itself every few seconds with
//! what it is doing, and an announcement lapses after its ttl, so a killed process drops off the
//! list by itself. The operator's console and the metrics read the list. This module owns the
//! record and the in-process book of them; it decides nothing about leadership or cycles (a
//! presence only reports what the scheduler's lease and the worker's renewals already decided).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Worker,
    Scheduler,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Worker => "worker",
            Role::Scheduler => "scheduler",
        }
    }
}

/// One process's announcement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// The process's holder name (its leases carry the same).
    pub id: String,
    pub role: Role,
    /// A scheduler that holds the leader lease; always false for a worker.
    pub leader: bool,
    /// Cycles the worker is running now; zero for a scheduler.
    pub cycles: u64,
    /// The largest scheduler lag since the previous announcement, in milliseconds; `None` when
    /// it emitted nothing (or is a worker).
    pub lag_ms: Option<u64>,
    pub started_at: DateTime<Utc>,
    pub seen_at: DateTime<Utc>,
    /// When the announcement lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

impl Presence {
    /// A process's first announcement, seen now.
    pub fn new(id: impl Into<String>, role: Role, ttl: Duration) -> Presence {
        let now = clock::now();
        Presence {
            id: id.into(),
            role,
            leader: false,
            cycles: 0,
            lag_ms: None,
            started_at: now,
            seen_at: now,
            expires_at: now + ttl,
        }
    }

    /// Marks it seen now, lasting `ttl` more.
    pub fn seen(&mut self, ttl: Duration) {
        self.seen_at = clock::now();
        self.expires_at = self.seen_at + ttl;
    }

    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now
    }

    /// Where it is kept: `herald all` runs a worker and a scheduler under one holder name.
    pub(super) fn key(&self) -> String {
        format!("{}:{}", self.role.as_str(), self.id)
    }
}

/// The in-memory backend's announcements: by role and id, the latest.
#[derive(Debug, Default)]
pub(super) struct PresenceBook {
    by_id: Mutex<HashMap<String, Presence>>,
}

impl PresenceBook {
    pub(super) fn announce(&self, presence: &Presence) {
        self.lock().insert(presence.key(), presence.clone());
    }

    /// The live ones, by role then id; lapsed ones are forgotten.
    pub(super) fn live(&self) -> Vec<Presence> {
        let now = clock::now();
        let mut book = self.lock();
        book.retain(|_, p| p.is_live(now));
        sorted(book.values().cloned().collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Presence>> {
        self.by_id.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The console's order: schedulers first (the leader first), then workers, each by id.
pub(super) fn sorted(mut list: Vec<Presence>) -> Vec<Presence> {
    let key = |p: &Presence| (p.role != Role::Scheduler, !p.leader, p.id.clone());
    list.sort_by_key(key);
    list
}
