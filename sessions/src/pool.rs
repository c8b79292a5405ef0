//! [`Pool`]: hands sessions to tenants and takes dead ones back.
//!
//! Every change is one `users.json` update first (through the data manager, so processes never
//! hand out one session twice), and file moves after. A crash between the two leaves `users.json`
//! right and a file in the wrong folder, which the next [`Pool::session_file`] or `herald
//! reconcile` puts right. This module never writes a session file's content and never deletes one.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use herald_data::{BanRecord, BotStatus, Store, User, UserId};
use herald_session_file::mask_session_name;

use crate::SessionsError;
use crate::choose::{PairSlots, assign_into, free_sessions};
use crate::folders::{Folders, Place, Settled};

/// The pool's limits (from the contract's variables).
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// `HERALD_MAX_SESSIONS_PER_PAIR`.
    pub max_sessions_per_pair: u32,
    /// `HERALD_SESSIONS_PER_USER`: sessions for a tenant without `plan_limits.max_sessions`.
    pub sessions_per_user: u32,
    /// `HERALD_MAX_REPLACEMENTS_PER_DAY`.
    pub max_replacements_per_day: u32,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_sessions_per_pair: 7,
            sessions_per_user: 1,
            max_replacements_per_day: 3,
        }
    }
}

/// What a tenant holds after [`Pool::ensure_sessions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub sessions: Vec<String>,
    pub newly_assigned: Vec<String>,
}

/// What [`Pool::quarantine`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub replacement: Option<String>,
    /// The tenant reached its replacement limit and is now suspended.
    pub suspended: bool,
    /// The session was already banned: nothing changed.
    pub already: bool,
}

const REPLACEMENT_WINDOW: TimeDelta = TimeDelta::hours(24);

#[derive(Debug, Clone)]
pub struct Pool {
    pub(crate) store: Store,
    pub(crate) folders: Folders,
    pub(crate) config: PoolConfig,
}

impl Pool {
    pub fn new(store: Store, config: PoolConfig) -> Pool {
        let folders = Folders::new(store.layout().clone());
        Pool {
            store,
            folders,
            config,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn folders(&self) -> &Folders {
        &self.folders
    }

    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    pub(crate) fn slots(&self, doc: &herald_data::UsersDoc) -> PairSlots {
        let active = self
            .store
            .pairs()
            .pairs
            .iter()
            .map(|p| !p.retired)
            .collect();
        PairSlots::new(doc, active, self.config.max_sessions_per_pair as usize)
    }

    /// Lazy assignment on start: a tenant wanting `wanted` sessions (else its record's
    /// `plan_limits.max_sessions`, else `sessions_per_user`) that holds `k` gets up to `wanted - k`
    /// free ones, each bound to the least-used pair with room. One users.json update. A tenant that
    /// would end with no session at all gets `NoSessions` and nothing is consumed.
    pub async fn ensure_sessions(
        &self,
        user: &UserId,
        wanted: Option<u32>,
    ) -> Result<Assignment, SessionsError> {
        let unused = self.folders.list_off_runtime(&Place::Unused).await?;
        let pool = self.clone();
        let default_wanted = self.config.sessions_per_user;
        let id = user.to_string();
        let assignment = self
            .store
            .update_users(move |doc| {
                let current = doc.users.get(&id).ok_or(SessionsError::UserNotFound)?;
                if current.bot_status == BotStatus::Suspended {
                    return Err(SessionsError::Suspended {
                        reason: current
                            .suspended_reason
                            .clone()
                            .unwrap_or_else(|| "suspended by Herald".into()),
                    });
                }
                let wanted = wanted
                    .or_else(|| plan_max_sessions(current))
                    .unwrap_or(default_wanted)
                    .max(1) as usize;
                let need = wanted.saturating_sub(current.assigned_sessions.len());
                if need == 0 {
                    return Ok(Assignment {
                        sessions: current.assigned_sessions.clone(),
                        newly_assigned: Vec::new(),
                    });
                }
                let mut free = free_sessions(doc, &unused);
                let mut slots = pool.slots(doc);
                let why_none = if free.is_empty() {
                    "the pool has no unused session".to_owned()
                } else {
                    slots.why_none()
                };
                let newly = assign_into(doc, &id, need, &mut free, &mut slots);
                let user = user_mut(doc, &id)?;
                if user.assigned_sessions.is_empty() {
                    return Err(SessionsError::NoSessions { reason: why_none });
                }
                Ok(Assignment {
                    sessions: user.assigned_sessions.clone(),
                    newly_assigned: newly,
                })
            })
            .await?;
        for session in &assignment.newly_assigned {
            self.settle_logged(session, &Place::Assigned(user.to_string()));
        }
        if !assignment.newly_assigned.is_empty() {
            tracing::info!(user.id = %user, assigned = assignment.newly_assigned.len(), total = assignment.sessions.len(), "sessions assigned");
        }
        Ok(assignment)
    }

    /// Takes a dead session from its tenant: out of `assigned_sessions` (its pair slot freed),
    /// into `banned_sessions` with reason and time, and one replacement from the pool, unless the
    /// tenant already had `max_replacements_per_day` in the last 24 h, in which case the tenant is
    /// suspended instead. One users.json update, then the files move. Repeating it is harmless.
    ///
    /// Long because the users.json change is one closure under the document's lock: the ban, the
    /// replacement and the suspension are decided together or not at all; the file moves and
    /// the log line follow it.
    pub async fn quarantine(
        &self,
        user: &UserId,
        session: &str,
        reason: &str,
    ) -> Result<Quarantined, SessionsError> {
        let unused = self.folders.list_off_runtime(&Place::Unused).await?;
        let pool = self.clone();
        let (id, session_name, reason_text) =
            (user.to_string(), session.to_owned(), reason.to_owned());
        let max_per_day = self.config.max_replacements_per_day as usize;
        let outcome = self
            .store
            .update_users(move |doc| {
                let current = doc.users.get(&id).ok_or(SessionsError::UserNotFound)?;
                if !current.assigned_sessions.contains(&session_name) {
                    if current.banned_sessions.contains(&session_name) {
                        return Ok(Quarantined {
                            replacement: None,
                            suspended: false,
                            already: true,
                        });
                    }
                    return Err(SessionsError::Conflict(format!(
                        "session {} is not assigned to this user",
                        mask_session_name(&session_name)
                    )));
                }
                let now = Utc::now();
                let mut free = free_sessions(doc, &unused);
                let mut slots = pool.slots(doc);
                let user = user_mut(doc, &id)?;
                let at = user
                    .assigned_sessions
                    .iter()
                    .position(|s| *s == session_name)
                    .unwrap_or_default();
                user.assigned_sessions.remove(at);
                slots.unbind(user.api_pairs.remove(at));
                user.banned_sessions.push(session_name.clone());
                user.ban_records.insert(
                    session_name.clone(),
                    BanRecord {
                        reason: reason_text.clone(),
                        at: now,
                    },
                );
                user.parked_sessions.remove(&session_name);
                user.replacements.retain(|t| now - *t < REPLACEMENT_WINDOW);
                if user.replacements.len() >= max_per_day {
                    user.bot_status = BotStatus::Suspended;
                    user.suspended_reason = Some(format!(
                        "{} session replacements in 24 hours; an admin must lift the suspension",
                        user.replacements.len()
                    ));
                    return Ok(Quarantined {
                        replacement: None,
                        suspended: true,
                        already: false,
                    });
                }
                let replacement = assign_into(doc, &id, 1, &mut free, &mut slots).pop();
                if replacement.is_some() {
                    user_mut(doc, &id)?.replacements.push(now);
                }
                Ok(Quarantined {
                    replacement,
                    suspended: false,
                    already: false,
                })
            })
            .await?;
        if !outcome.already {
            self.settle_logged(session, &Place::Banned);
            if let Some(replacement) = &outcome.replacement {
                self.settle_logged(replacement, &Place::Assigned(user.to_string()));
            }
            let masked = mask_session_name(session);
            let message = match (&outcome.replacement, outcome.suspended) {
                (_, true) => format!(
                    "Session {masked} quarantined ({reason}); bot suspended: too many replacements in 24 hours, an admin must lift it"
                ),
                (Some(replacement), _) => format!(
                    "Session {masked} quarantined ({reason}); replaced by {}",
                    mask_session_name(replacement)
                ),
                (None, false) => format!(
                    "Session {masked} quarantined ({reason}); no replacement left in the pool"
                ),
            };
            self.store.log(user, herald_data::Level::Warning, &message);
            tracing::warn!(
                user.id = %user,
                session = %masked,
                reason,
                replacement = outcome.replacement.as_deref().map(mask_session_name),
                suspended = outcome.suspended,
                "session quarantined"
            );
        }
        Ok(outcome)
    }

    /// The path of a tenant's session file, moving it into `assigned/<user>/` first if an earlier
    /// move did not happen. `SessionNotFound` if no file of that name exists anywhere.
    pub fn session_file(
        &self,
        user: &UserId,
        session: &str,
    ) -> Result<std::path::PathBuf, SessionsError> {
        let place = Place::Assigned(user.to_string());
        let path = self.folders.path(&place, session)?;
        if path.is_file() {
            return Ok(path);
        }
        match self.folders.settle(session, &place)? {
            Settled::InPlace | Settled::Moved { .. } => Ok(path),
            Settled::Missing | Settled::Ambiguous(_) => {
                Err(SessionsError::SessionNotFound(mask_session_name(session)))
            }
        }
    }

    /// Moves a file where users.json wants it; a failure is logged, not returned, because the
    /// users.json change it follows is already durable and reconcile will finish the move.
    pub(crate) fn settle_logged(&self, session: &str, to: &Place) {
        match self.folders.settle(session, to) {
            Ok(Settled::Missing) => {
                tracing::warn!(session = %mask_session_name(session), "session file missing; users.json updated anyway")
            }
            Ok(Settled::Ambiguous(_)) => {
                tracing::warn!(session = %mask_session_name(session), "session file exists in several folders; run herald reconcile")
            }
            Ok(_) => {}
            Err(err) => {
                tracing::error!(session = %mask_session_name(session), error = %err, "cannot move session file; run herald reconcile")
            }
        }
    }
}

pub(crate) fn user_mut<'a>(
    doc: &'a mut herald_data::UsersDoc,
    id: &str,
) -> Result<&'a mut User, SessionsError> {
    doc.users
        .get_mut(id)
        .map(Arc::make_mut)
        .ok_or(SessionsError::UserNotFound)
}

/// `plan_limits.max_sessions` stored in the record (from a token or the old backend).
fn plan_max_sessions(user: &User) -> Option<u32> {
    user.plan_limits
        .as_ref()?
        .get("max_sessions")?
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
}
