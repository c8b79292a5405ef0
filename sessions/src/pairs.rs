//! The operator's API pairs: add, retire (in place, never while sessions are bound), list with
//! usage, and hand a pair's credentials to the worker.
//!
//! An api_hash leaves this module only inside [`PairCredentials`] (for the Telegram layer) or
//! masked; never in a log line or an error message.

use herald_data::{ApiHash, ApiPair, UsersDoc};

use crate::{Pool, SessionsError};

/// One pair as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairInfo {
    pub index: u32,
    pub api_id: String,
    pub masked_hash: String,
    pub usage: usize,
    pub max: u32,
    pub retired: bool,
}

/// What the Telegram layer needs to connect a session bound to a pair.
#[derive(Debug, Clone)]
pub struct PairCredentials {
    pub api_id: i32,
    pub api_hash: ApiHash,
}

impl Pool {
    /// The pair `session` connects with: the one it is bound to for life, else the one
    /// assignment would choose now (least used with room), recorded as its binding in the same
    /// users.json update, so that a session's first connection (a health check, say) and every
    /// later one use one api_id: Telegram is reported to tie a session to the first it used.
    pub async fn pair_for(&self, session: &str) -> Result<u32, SessionsError> {
        if let Some(&bound) = self.store.users().bindings.get(session) {
            return Ok(bound);
        }
        let pool = self.clone();
        let name = session.to_owned();
        let pair = self
            .store
            .update_users(move |doc| {
                if let Some(&bound) = doc.bindings.get(&name) {
                    return Ok(bound);
                }
                let slots = pool.slots(doc);
                let pair = slots.pick().ok_or_else(|| SessionsError::NoSessions {
                    reason: slots.why_none(),
                })?;
                doc.bindings.insert(name, pair);
                Ok(pair)
            })
            .await?;
        Ok(pair)
    }

    /// Registers a pair: `api_id` digits, `api_hash` 32 hex characters. A duplicate of an active
    /// pair is refused; re-adding a retired pair's api_id brings it back under its old index.
    pub async fn add_pair(&self, api_id: &str, api_hash: &str) -> Result<PairInfo, SessionsError> {
        let api_id = api_id.trim().to_owned();
        let api_hash = api_hash.trim().to_ascii_lowercase();
        if api_id.is_empty()
            || api_id.len() > 10
            || !api_id.bytes().all(|b| b.is_ascii_digit())
            || api_id.parse::<i32>().is_err()
        {
            return Err(SessionsError::Invalid(
                "api_id must be a number (digits only)".into(),
            ));
        }
        if api_hash.len() != 32 || !api_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SessionsError::Invalid(
                "api_hash must be 32 hexadecimal characters".into(),
            ));
        }
        let id = api_id.clone();
        let index = self
            .store
            .update_pairs(move |doc| {
                if doc.pairs.iter().any(|p| p.api_id == id && !p.retired) {
                    return Err(SessionsError::Conflict(format!(
                        "API pair {id} already exists"
                    )));
                }
                if let Some(index) = doc.pairs.iter().position(|p| p.api_id == id) {
                    doc.pairs[index].retired = false;
                    doc.pairs[index].api_hash = ApiHash::new(api_hash);
                    return Ok(index);
                }
                doc.pairs.push(ApiPair {
                    api_id: id,
                    api_hash: ApiHash::new(api_hash),
                    retired: false,
                    extra: Default::default(),
                });
                Ok(doc.pairs.len() - 1)
            })
            .await?;
        tracing::info!(api_id, index, "API pair added");
        self.pair_info(index as u32)
    }

    /// Retires the active pair with this api_id, in place. Refused while sessions are bound to it.
    ///
    /// The check and the change are one locked update: both run under users.json's lock (the
    /// lock assignment binds sessions under), the retirement written to api_pairs.json from
    /// inside it, so no session can be bound to the pair between the check and the change.
    pub async fn retire_pair(&self, api_id: &str) -> Result<(), SessionsError> {
        let store = self.store.clone();
        let wanted = api_id.to_owned();
        let index = self
            .store
            .update_users(move |users| {
                let pairs = store.pairs();
                let index = pairs
                    .pairs
                    .iter()
                    .position(|p| p.api_id == wanted && !p.retired)
                    .ok_or_else(|| {
                        SessionsError::Invalid(format!("API pair {wanted} not found"))
                    })?;
                let usage = usage_of(users, index as u32);
                if usage > 0 {
                    return Err(SessionsError::PairInUse {
                        api_id: wanted,
                        usage,
                    });
                }
                // api_pairs.json's own writer; it never waits for users.json, so this wait
                // under users.json's lock cannot deadlock.
                store
                    .update_pairs(move |doc| {
                        doc.pairs[index].retired = true;
                        Ok::<_, SessionsError>(())
                    })
                    .wait()
                    .map_err(SessionsError::from)?;
                Ok(index)
            })
            .await?;
        tracing::info!(api_id, index, "API pair retired");
        Ok(())
    }

    /// Every pair with its usage, counted in one pass over the tenants. A pass per pair, with
    /// 10,000 tenants and 1,429 pairs and `/metrics` counting them twice a second, took a
    /// process running 10,000 bots from 10% to 20% of a core (BENCHMARKS.md, console).
    pub fn list_pairs(&self) -> Vec<PairInfo> {
        let users = self.store.users();
        let pairs = self.store.pairs();
        let mut usage = vec![0; pairs.pairs.len()];
        for index in users.users.values().flat_map(|u| u.api_pairs.iter()) {
            if let Some(count) = usage.get_mut(*index as usize) {
                *count += 1;
            }
        }
        pairs
            .pairs
            .iter()
            .zip(usage)
            .enumerate()
            .map(|(index, (pair, usage))| self.info(index as u32, pair, usage))
            .collect()
    }

    pub fn pair_info(&self, index: u32) -> Result<PairInfo, SessionsError> {
        let doc = self.store.pairs();
        let pair = doc
            .pairs
            .get(index as usize)
            .ok_or_else(|| SessionsError::Invalid(format!("API pair #{index} does not exist")))?;
        Ok(self.info(index, pair, usage_of(&self.store.users(), index)))
    }

    /// The credentials of pair `index`, for connecting a session bound to it. A retired pair
    /// still serves the sessions bound to it before it was retired.
    pub fn pair_credentials(&self, index: u32) -> Result<PairCredentials, SessionsError> {
        let doc = self.store.pairs();
        let pair = doc
            .pairs
            .get(index as usize)
            .ok_or_else(|| SessionsError::Invalid(format!("API pair #{index} does not exist")))?;
        let api_id = pair.api_id.parse().map_err(|_| {
            SessionsError::Invalid(format!(
                "API pair #{index} has an api_id that is not a number"
            ))
        })?;
        Ok(PairCredentials {
            api_id,
            api_hash: pair.api_hash.clone(),
        })
    }

    fn info(&self, index: u32, pair: &ApiPair, usage: usize) -> PairInfo {
        PairInfo {
            index,
            api_id: pair.api_id.clone(),
            masked_hash: pair.api_hash.masked(),
            usage,
            max: self.config.max_sessions_per_pair,
            retired: pair.retired,
        }
    }
}

fn usage_of(users: &UsersDoc, index: u32) -> usize {
    users
        .users
        .values()
        .flat_map(|u| u.api_pairs.iter())
        .filter(|p| **p == index)
        .count()
}
