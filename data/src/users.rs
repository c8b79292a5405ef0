//! `data/users.json`: tenants' configuration, session assignments and bot status.
//!
//! The record has exactly the old backend's fields, plus Herald's additions (marked below), plus
//! whatever else the file holds, kept verbatim in `extra` so that a field this version does not
//! know survives every write. Counters never live here (they are in `stats.json`). This module
//! defines the record and its invariants; it does no I/O.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::document::Document;
use crate::names::{UserId, check_session_name};

/// The whole of `users.json`: `{"users": {"<user_id>": {...}}}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UsersDoc {
    #[serde(default, deserialize_with = "null_as_default")]
    pub users: BTreeMap<String, Arc<User>>,
    /// Herald's addition: the API pair each session was first bound to. A session keeps that pair
    /// for life (Telegram is reported to tie a session to the api_id it first used), also when it
    /// returns to the pool and goes to another tenant.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub bindings: BTreeMap<String, u32>,
    /// Herald's addition: sessions an admin banned while no tenant held them.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub unowned_bans: BTreeMap<String, BanRecord>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl UsersDoc {
    /// The tenant holding `session` in its `assigned_sessions`, if any.
    pub fn holder_of(&self, session: &str) -> Option<&str> {
        self.users
            .iter()
            .find(|(_, u)| u.assigned_sessions.iter().any(|s| s == session))
            .map(|(id, _)| id.as_str())
    }

    /// Whether `session` is banned (by Telegram through a tenant, or by an admin).
    pub fn is_banned(&self, session: &str) -> bool {
        self.unowned_bans.contains_key(session)
            || self
                .users
                .values()
                .any(|u| u.banned_sessions.iter().any(|s| s == session))
    }

    /// What one record must be whatever the others are: a tenant id, valid in itself, and each
    /// session on the pair it is bound to.
    pub(crate) fn check_record(&self, id: &str, user: &User) -> Result<(), String> {
        UserId::parse(id).map_err(|e| format!("user '{id}': {e}"))?;
        user.validate().map_err(|e| format!("user {id}: {e}"))?;
        for (session, pair) in user.assigned_sessions.iter().zip(&user.api_pairs) {
            if let Some(bound) = self.bindings.get(session)
                && bound != pair
            {
                return Err(format!(
                    "session {session} of user {id} uses pair {pair} but is bound to pair {bound}"
                ));
            }
        }
        Ok(())
    }
}

impl Document for UsersDoc {
    type Encoder = crate::users_encoder::UsersEncoder;

    /// Records are shared `Arc`s: a change that touched none (no `Arc::make_mut`) keeps every
    /// pointer, which takes a pointer comparison per user to see.
    fn unchanged_since(&self, before: &Self) -> bool {
        self.users.len() == before.users.len()
            && self
                .users
                .iter()
                .zip(before.users.iter())
                .all(|((a, ua), (b, ub))| a == b && Arc::ptr_eq(ua, ub))
            && self.unowned_bans == before.unowned_bans
            && self.bindings == before.bindings
            && self.extra == before.extra
    }

    fn validate_change(&self, before: &Self) -> Result<(), String> {
        crate::users_change::validate_change(self, before)
    }

    fn validate(&self) -> Result<(), String> {
        let mut holder: HashMap<&str, &str> = HashMap::new();
        let banned: std::collections::HashSet<&str> = self
            .users
            .values()
            .flat_map(|u| u.banned_sessions.iter().map(String::as_str))
            .chain(self.unowned_bans.keys().map(String::as_str))
            .collect();
        for (id, user) in &self.users {
            self.check_record(id, user)?;
            for session in &user.assigned_sessions {
                if banned.contains(session.as_str()) {
                    return Err(format!(
                        "session {session} is assigned to user {id} but banned"
                    ));
                }
                if let Some(other) = holder.insert(session, id) {
                    return Err(format!(
                        "session {session} is assigned to both user {other} and user {id}"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// What a tenant's bot is doing, as stored. The API derives RUNNING / STOPPED / CRASHED from it
/// together with the workers' liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BotStatus {
    #[default]
    Stopped,
    Running,
    Stopping,
    /// Set when a tenant burned through its daily session replacements; only an admin lifts it.
    Suspended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostKind {
    #[default]
    Link,
    Text,
}

impl PostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostKind::Link => "link",
            PostKind::Text => "text",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionMode {
    Starter,
    #[default]
    Enterprise,
}

impl ExecutionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionMode::Starter => "starter",
            ExecutionMode::Enterprise => "enterprise",
        }
    }
}

/// One tenant's record in `users.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    #[serde(default, deserialize_with = "null_as_default")]
    pub assigned_sessions: Vec<String>,
    /// The API pair index of each assigned session, in the same order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub api_pairs: Vec<u32>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub groups: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub post_type: PostKind,
    #[serde(default, deserialize_with = "null_as_default")]
    pub post_content: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub bot_status: BotStatus,
    #[serde(
        default = "default_delay_between_posts",
        deserialize_with = "null_as_delay_posts"
    )]
    pub delay_between_posts: u64,
    #[serde(
        default = "default_delay_between_cycles",
        deserialize_with = "null_as_delay_cycles"
    )]
    pub delay_between_cycles: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub banned_sessions: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub execution_mode: ExecutionMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_limits: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_cycle_minutes: Option<u32>,

    // ---- Herald's additions: absent from the old backend's files, ignored by its frontend. ----
    /// Groups no session of this tenant may post to again, with the reason Telegram gave.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub blocked_groups: Vec<BlockedGroup>,
    /// Why and when each entry of `banned_sessions` was banned.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub ban_records: BTreeMap<String, BanRecord>,
    /// When each replacement session was handed out (pool protection counts the last 24 h).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub replacements: Vec<DateTime<Utc>>,
    /// Sessions parked after PEER_FLOOD, until the given time.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub parked_sessions: BTreeMap<String, DateTime<Utc>>,
    /// Why the bot is suspended, while it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_reason: Option<String>,

    /// Fields this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedGroup {
    pub group: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanRecord {
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// The old backend's defaults for a new record.
pub const DEFAULT_DELAY_BETWEEN_POSTS: u64 = 5;
pub const DEFAULT_DELAY_BETWEEN_CYCLES: u64 = 300;

fn default_delay_between_posts() -> u64 {
    DEFAULT_DELAY_BETWEEN_POSTS
}

fn default_delay_between_cycles() -> u64 {
    DEFAULT_DELAY_BETWEEN_CYCLES
}

impl Default for User {
    fn default() -> Self {
        User {
            assigned_sessions: Vec::new(),
            api_pairs: Vec::new(),
            groups: Vec::new(),
            post_type: PostKind::Link,
            post_content: String::new(),
            bot_status: BotStatus::Stopped,
            delay_between_posts: DEFAULT_DELAY_BETWEEN_POSTS,
            delay_between_cycles: DEFAULT_DELAY_BETWEEN_CYCLES,
            banned_sessions: Vec::new(),
            execution_mode: ExecutionMode::Enterprise,
            plan_status: None,
            plan_limits: None,
            total_cycle_minutes: None,
            blocked_groups: Vec::new(),
            ban_records: BTreeMap::new(),
            replacements: Vec::new(),
            parked_sessions: BTreeMap::new(),
            suspended_reason: None,
            extra: Map::new(),
        }
    }
}

impl User {
    /// Invariants of one record; checked before every write of it.
    pub fn validate(&self) -> Result<(), String> {
        if self.api_pairs.len() != self.assigned_sessions.len() {
            return Err(format!(
                "api_pairs has {} entries for {} assigned sessions",
                self.api_pairs.len(),
                self.assigned_sessions.len()
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for session in &self.assigned_sessions {
            check_session_name(session)?;
            if !seen.insert(session.as_str()) {
                return Err(format!("session {session} is assigned twice"));
            }
            if self.banned_sessions.contains(session) {
                return Err(format!("session {session} is both assigned and banned"));
            }
        }
        Ok(())
    }

    /// The group is blocked for this tenant.
    pub fn is_blocked(&self, group: &str) -> bool {
        self.blocked_groups.iter().any(|b| b.group == group)
    }
}

/// Reads `null` as the type's default: the old backend wrote `null` for fields it had no value for.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn null_as_delay_posts<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(Option::<u64>::deserialize(d)?.unwrap_or(DEFAULT_DELAY_BETWEEN_POSTS))
}

fn null_as_delay_cycles<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(Option::<u64>::deserialize(d)?.unwrap_or(DEFAULT_DELAY_BETWEEN_CYCLES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_backend_record_parses_and_keeps_unknown_fields() {
        let json = r#"{"users": {"42": {
            "assigned_sessions": ["+254708803721.session"], "api_pairs": [0],
            "groups": ["-1001234567890"], "post_type": "link", "post_content": "t.me/c/5",
            "bot_status": "running", "delay_between_posts": 5, "delay_between_cycles": 300,
            "total_cycle_minutes": null, "email": "a@b.c", "custom": {"x": 1}
        }}, "version": 3}"#;
        let doc: UsersDoc = serde_json::from_str(json).unwrap();
        doc.validate().unwrap();
        let user = &doc.users["42"];
        assert_eq!(user.bot_status, BotStatus::Running);
        assert_eq!(user.execution_mode, ExecutionMode::Enterprise);
        assert_eq!(user.extra["email"], "a@b.c");
        let back: Value = serde_json::to_value(&doc).unwrap();
        assert_eq!(back["version"], 3);
        assert_eq!(back["users"]["42"]["custom"]["x"], 1);
        assert!(back["users"]["42"].get("blocked_groups").is_none());
    }

    #[test]
    fn nulls_read_as_defaults() {
        let doc: UsersDoc = serde_json::from_str(
            r#"{"users": {"1": {"groups": null, "delay_between_posts": null, "post_type": null}}}"#,
        )
        .unwrap();
        let user = &doc.users["1"];
        assert!(user.groups.is_empty());
        assert_eq!(user.delay_between_posts, DEFAULT_DELAY_BETWEEN_POSTS);
        assert_eq!(user.post_type, PostKind::Link);
    }

    #[test]
    fn invariants_name_the_broken_record() {
        let mut user = User {
            assigned_sessions: vec!["a.session".into()],
            ..User::default()
        };
        assert!(
            user.validate()
                .unwrap_err()
                .contains("api_pairs has 0 entries")
        );
        user.api_pairs = vec![0];
        user.validate().unwrap();
        user.banned_sessions = vec!["a.session".into()];
        assert!(
            user.validate()
                .unwrap_err()
                .contains("both assigned and banned")
        );

        let mut doc = UsersDoc::default();
        let shared = Arc::new(User {
            assigned_sessions: vec!["a.session".into()],
            api_pairs: vec![0],
            ..User::default()
        });
        doc.users.insert("1".into(), shared.clone());
        doc.users.insert("2".into(), shared);
        assert!(doc.validate().unwrap_err().contains("assigned to both"));
        doc.users.clear();
        doc.users.insert("../x".into(), Arc::new(User::default()));
        assert!(doc.validate().is_err());
    }
}
