//! What an admin does to the pool by hand: assign or unassign a named session, find where a
//! session is, ban one (the same path as a Telegram ban), release a tenant's sessions, lift a
//! suspension, and list the pool by state. Each change is one users.json update, files after.

use chrono::Utc;
use herald_data::{BanRecord, BotStatus, UserId, check_session_name};
use herald_session_file::mask_session_name;

use crate::choose::{assign_into, free_sessions};
use crate::folders::{Place, Settled};
use crate::pool::user_mut;
use crate::{Pool, Quarantined, SessionsError};

/// Where a session is, for `verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub place: Option<Place>,
    pub exists: bool,
    pub user_id: Option<String>,
}

/// What `verify` found: where the session is and whether its file is a usable session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub located: Located,
    pub valid: bool,
    /// Why the file is not usable, when it is not.
    pub reason: Option<String>,
}

/// The pool by state, for `sessions list`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolListing {
    pub unused: Vec<String>,
    /// `(file, user_id)`.
    pub assigned: Vec<(String, String)>,
    pub banned: Vec<String>,
    pub frozen: Vec<String>,
}

impl Pool {
    /// The pool as users.json and the folders show it: assigned and banned from users.json,
    /// unused and frozen from the folders (minus anything users.json claims).
    pub fn listing(&self) -> Result<PoolListing, SessionsError> {
        let doc = self.store.users();
        let mut assigned: Vec<(String, String)> = doc
            .users
            .iter()
            .flat_map(|(id, u)| {
                u.assigned_sessions
                    .iter()
                    .map(move |s| (s.clone(), id.clone()))
            })
            .collect();
        assigned.sort();
        let mut banned: Vec<String> = doc
            .users
            .values()
            .flat_map(|u| u.banned_sessions.iter().cloned())
            .chain(doc.unowned_bans.keys().cloned())
            .collect();
        // The old backend recorded bans only by folder: a file in banned/ is banned.
        banned.extend(
            self.folders
                .list(&Place::Banned)?
                .into_iter()
                .filter(|s| doc.holder_of(s).is_none()),
        );
        banned.sort();
        banned.dedup();
        let claimed = |s: &String| doc.holder_of(s).is_some() || banned.contains(s);
        let unused = self
            .folders
            .list(&Place::Unused)?
            .into_iter()
            .filter(|s| !claimed(s))
            .collect();
        let frozen = self
            .folders
            .list(&Place::Frozen)?
            .into_iter()
            .filter(|s| !claimed(s))
            .collect();
        Ok(PoolListing {
            unused,
            assigned,
            banned,
            frozen,
        })
    }

    /// Where users.json puts the session, and whether its file exists there.
    pub fn locate(&self, session: &str) -> Result<Located, SessionsError> {
        check_session_name(session).map_err(SessionsError::Invalid)?;
        let doc = self.store.users();
        let found = self.folders.locate(session)?;
        let claimed = doc.holder_of(session).is_some() || doc.is_banned(session);
        if !claimed && found.is_empty() {
            return Ok(Located {
                place: None,
                exists: false,
                user_id: None,
            });
        }
        let place = Place::wanted(&doc, session, &found);
        let user_id = doc.holder_of(session).map(str::to_owned);
        Ok(Located {
            exists: found.contains(&place),
            place: Some(place),
            user_id,
        })
    }

    /// Where the session is, and whether its file decodes as a valid session.
    pub fn verify(&self, session: &str) -> Result<Verified, SessionsError> {
        let located = self.locate(session)?;
        let (valid, reason) = match self.current_file(session)? {
            None => (false, Some("file not found".to_owned())),
            Some(path) => match herald_session_file::detect_and_read(path.as_path()) {
                Ok(_) => (true, None),
                Err(err) => (false, Some(err.to_string())),
            },
        };
        Ok(Verified {
            located,
            valid,
            reason,
        })
    }

    /// Assigns a named unused session to a tenant, bound to the least-used pair with room.
    pub async fn assign_named(&self, user: &UserId, session: &str) -> Result<(), SessionsError> {
        check_session_name(session).map_err(SessionsError::Invalid)?;
        let unused = self.folders.list_off_runtime(&Place::Unused).await?;
        if !unused.iter().any(|s| s == session) {
            return Err(SessionsError::SessionNotFound(mask_session_name(session)));
        }
        let pool = self.clone();
        let (id, name) = (user.to_string(), session.to_owned());
        self.store
            .update_users(move |doc| {
                if !doc.users.contains_key(&id) {
                    return Err(SessionsError::UserNotFound);
                }
                let mut free = free_sessions(doc, std::slice::from_ref(&name));
                if free.is_empty() {
                    return Err(SessionsError::Conflict(format!(
                        "session {} is not unused",
                        mask_session_name(&name)
                    )));
                }
                let mut slots = pool.slots(doc);
                let why = slots.why_none();
                if assign_into(doc, &id, 1, &mut free, &mut slots).is_empty() {
                    return Err(SessionsError::NoSessions { reason: why });
                }
                Ok(())
            })
            .await?;
        self.settle_logged(session, &Place::Assigned(user.to_string()));
        Ok(())
    }

    /// Takes a session back from a tenant into the unused pool; its pair slot is freed.
    pub async fn unassign(&self, user: &UserId, session: &str) -> Result<(), SessionsError> {
        check_session_name(session).map_err(SessionsError::Invalid)?;
        let (id, name) = (user.to_string(), session.to_owned());
        self.store
            .update_users(move |doc| {
                let user = user_mut(doc, &id)?;
                let at = user
                    .assigned_sessions
                    .iter()
                    .position(|s| *s == name)
                    .ok_or_else(|| {
                        SessionsError::Conflict(format!(
                            "session {} is not assigned to this user",
                            mask_session_name(&name)
                        ))
                    })?;
                user.assigned_sessions.remove(at);
                user.api_pairs.remove(at);
                user.parked_sessions.remove(&name);
                Ok(())
            })
            .await?;
        self.settle_logged(session, &Place::Unused);
        Ok(())
    }

    /// Bans a session by hand: a tenant's session is quarantined and replaced exactly as if
    /// Telegram had killed it; an unassigned one just leaves the pool.
    pub async fn ban(&self, session: &str, reason: &str) -> Result<Quarantined, SessionsError> {
        check_session_name(session).map_err(SessionsError::Invalid)?;
        let doc = self.store.users();
        if let Some(holder) = doc.holder_of(session) {
            let holder = UserId::parse(holder).map_err(SessionsError::Invalid)?;
            return self.quarantine(&holder, session, reason).await;
        }
        if doc.is_banned(session) {
            return Ok(Quarantined {
                replacement: None,
                suspended: false,
                already: true,
            });
        }
        if self.folders.locate(session)?.is_empty() {
            return Err(SessionsError::SessionNotFound(mask_session_name(session)));
        }
        let (name, reason) = (session.to_owned(), reason.to_owned());
        self.store
            .update_users(move |doc| {
                if doc.holder_of(&name).is_some() {
                    return Err(SessionsError::Conflict(
                        "the session was assigned meanwhile; try again".into(),
                    ));
                }
                doc.unowned_bans.insert(
                    name,
                    BanRecord {
                        reason,
                        at: Utc::now(),
                    },
                );
                Ok(())
            })
            .await?;
        self.settle_logged(session, &Place::Banned);
        Ok(Quarantined {
            replacement: None,
            suspended: false,
            already: false,
        })
    }

    /// Returns all of a stopped tenant's sessions to the pool.
    pub async fn release(&self, user: &UserId) -> Result<Vec<String>, SessionsError> {
        let id = user.to_string();
        let released = self
            .store
            .update_users(move |doc| {
                let user = user_mut(doc, &id)?;
                if matches!(user.bot_status, BotStatus::Running | BotStatus::Stopping) {
                    return Err(SessionsError::Conflict(
                        "stop the bot before releasing its sessions".into(),
                    ));
                }
                user.api_pairs.clear();
                user.parked_sessions.clear();
                Ok(std::mem::take(&mut user.assigned_sessions))
            })
            .await?;
        for session in &released {
            self.settle_logged(session, &Place::Unused);
        }
        Ok(released)
    }

    /// Lifts a suspension: the bot is stopped (the tenant starts it again) and the 24 h
    /// replacement budget starts afresh.
    pub async fn unsuspend(&self, user: &UserId) -> Result<bool, SessionsError> {
        let id = user.to_string();
        Ok(self
            .store
            .update_users(move |doc| {
                let user = user_mut(doc, &id)?;
                if user.bot_status != BotStatus::Suspended {
                    return Ok(false);
                }
                user.bot_status = BotStatus::Stopped;
                user.suspended_reason = None;
                user.replacements.clear();
                Ok(true)
            })
            .await?)
    }

    /// Lets the tenant's sessions post to `group` again: an operator decided the block is over
    /// (an admin of the chat lifted it). `false` when the group was not blocked.
    pub async fn unblock_group(&self, user: &UserId, group: &str) -> Result<bool, SessionsError> {
        let (id, group) = (user.to_string(), group.to_owned());
        Ok(self
            .store
            .update_users(move |doc| {
                let user = user_mut(doc, &id)?;
                if !user.blocked_groups.iter().any(|b| b.group == group) {
                    return Ok(false);
                }
                user.blocked_groups.retain(|b| b.group != group);
                Ok(true)
            })
            .await?)
    }

    /// The file of a session where it currently lies, for verification by an admin.
    pub fn current_file(&self, session: &str) -> Result<Option<std::path::PathBuf>, SessionsError> {
        let located = self.locate(session)?;
        match located.place {
            Some(place) if located.exists => Ok(Some(self.folders.path(&place, session)?)),
            _ => Ok(self
                .folders
                .locate(session)?
                .first()
                .map(|p| self.folders.path(p, session))
                .transpose()?),
        }
    }

    /// Moves a session to where users.json wants it; returns what happened.
    pub fn settle(&self, session: &str) -> Result<Settled, SessionsError> {
        let doc = self.store.users();
        let found = self.folders.locate(session)?;
        self.folders
            .settle(session, &Place::wanted(&doc, session, &found))
    }
}
