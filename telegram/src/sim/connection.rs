//! One simulated connection: decides each attempt's outcome, waits its latency,
//! remembers what the account was told, journals the attempt.
//!
//! Owns the order of judgement: a dead session, then a random id it already
//! delivered (RANDOM_ID_DUPLICATE, nothing delivered), then what the account was
//! already told (flood wait, peer flood, forbidden chat, slow mode) and the
//! scenario's fixed chat errors, then one random draw. The judgement is the
//! world's, whichever door the attempt came through (the trait-level simulator or
//! the test DC's wire). Must never change
//! shared state it does not own: it writes its session's state file only
//! while holding that session's lock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::SimInner;
use super::draw::Draws;
use super::journal::{JournalEntry, Outcome, Violation};
use super::scenario::{Faults, Latency};
use super::state::SessionState;
use crate::{AttemptLabel, Delivery, Post, SendError, Target};

/// One session's live connection to the simulated world: the one connection its
/// key has (a second is AUTH_KEY_DUPLICATED).
pub struct SimConnection {
    pub(crate) inner: Arc<SimInner>,
    pub(crate) name: String,
    pub(crate) log_name: String,
    /// Held while connected; dropping it releases the session.
    pub(crate) _lock: super::state::SessionLock,
    pub(crate) state: SessionState,
    pub(crate) faults: Arc<Faults>,
}

/// What an attempt will do, decided before its latency elapses.
struct Plan {
    latency: Duration,
    hang: bool,
    result: Result<Delivery, SendError>,
    violation: Option<Violation>,
}

impl std::fmt::Debug for SimConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConnection")
            .field("session", &self.log_name)
            .finish_non_exhaustive()
    }
}

/// Gives the session's memory back before the lock is released (fields drop after this), so
/// the next connection finds it. A send dropped mid-latency has moved it on already.
impl Drop for SimConnection {
    fn drop(&mut self) {
        self.inner
            .state
            .check_in(&self.name, std::mem::take(&mut self.state));
    }
}

impl SimConnection {
    /// The session's death, as recorded or as `die_after_posts` demands now.
    fn death(&self) -> Option<String> {
        if let Some(code) = self.inner.state.dead_code(&self.name) {
            return Some(code);
        }
        let rule = self.faults.die_after.as_ref()?;
        (self.state.posts >= rule.posts).then(|| rule.code.clone())
    }

    fn mark_dead(&self, code: &str) {
        if let Err(e) = self.inner.state.mark_dead(&self.name, code) {
            tracing::warn!(session = %self.log_name, error = %e, "simulator could not record a dead session");
        }
    }

    /// What Telegram answers this send: the first rule that matches, in order (a dead session, a
    /// remembered random id, the account's waits, the target's fixed errors, then the scenario's
    /// faults by cumulative rate). Long because the order decides, and it reads as one list.
    fn plan(&mut self, target: &Target, random_id: i64, draws: &mut Draws, now_ms: i64) -> Plan {
        let latency = Duration::from_millis(match self.faults.latency {
            Latency::Fixed(ms) => ms,
            Latency::Uniform { min, max } => draws.between(min, max),
        });
        let roll = draws.unit();
        let fail = |error: SendError, violation: Option<Violation>| Plan {
            latency,
            hang: false,
            result: Err(error),
            violation,
        };
        let key = target.key();
        if let Some(code) = self.death() {
            self.mark_dead(&code);
            let repeated = self.state.dead_told.then_some(Violation::DeadSessionUsed);
            return fail(SendError::SessionDead { code }, repeated);
        }
        if self.state.recent_random_ids.contains(&random_id) {
            return Plan {
                latency,
                hang: false,
                result: Ok(Delivery::Duplicate),
                violation: None,
            };
        }
        if let Some(until) = self.state.flood_until_ms.filter(|until| *until > now_ms) {
            let secs = remaining_secs(until, now_ms);
            return fail(
                SendError::FloodWait { secs },
                Some(Violation::FloodWaitIgnored),
            );
        }
        if self.state.peer_flooded {
            return fail(SendError::PeerFlood, Some(Violation::PeerFloodIgnored));
        }
        if let Some(error) = self.inner.scenario.fixed_target_error(target) {
            let told_before = matches!(error, SendError::WriteForbidden { .. })
                && self.state.forbidden_told.contains(&key);
            return fail(
                error,
                told_before.then_some(Violation::ForbiddenTargetRetried),
            );
        }
        if let Some(until) = self.state.slow_until_ms.get(&key).filter(|u| **u > now_ms) {
            let secs = remaining_secs(*until, now_ms);
            return fail(
                SendError::SlowMode { secs },
                Some(Violation::SlowModeIgnored),
            );
        }
        let f = &self.faults;
        let mut threshold = f.session_death.rate;
        if roll < threshold {
            let code = f.session_death.code.clone();
            self.mark_dead(&code);
            return fail(SendError::SessionDead { code }, None);
        }
        threshold += f.hang.rate;
        if roll < threshold {
            return Plan {
                latency,
                hang: true,
                result: Err(SendError::Transient),
                violation: None,
            };
        }
        threshold += f.peer_flood.rate;
        if roll < threshold {
            return fail(SendError::PeerFlood, None);
        }
        threshold += f.flood_wait.rate;
        if roll < threshold {
            let secs = draws.between(
                u64::from(f.flood_wait.min_secs),
                u64::from(f.flood_wait.max_secs),
            );
            let secs = u32::try_from(secs).unwrap_or(u32::MAX);
            return fail(SendError::FloodWait { secs }, None);
        }
        threshold += f.slow_mode.rate;
        if roll < threshold {
            return fail(
                SendError::SlowMode {
                    secs: f.slow_mode.secs,
                },
                None,
            );
        }
        Plan {
            latency,
            hang: false,
            result: Ok(Delivery::New),
            violation: None,
        }
    }

    /// Records what the account was told, at the moment Telegram answered.
    fn remember(
        &mut self,
        target: &Target,
        random_id: i64,
        result: &Result<Delivery, SendError>,
        ended: DateTime<Utc>,
    ) {
        let end_ms = ended.timestamp_millis();
        match result {
            Ok(Delivery::Duplicate) => {}
            Ok(Delivery::New) => {
                self.state.posts += 1;
                self.state.remember_random_id(random_id);
                if let Some(code) = self.death() {
                    // Dies now; its next call learns it, as with Telegram.
                    self.mark_dead(&code);
                }
            }
            Err(SendError::FloodWait { secs }) => {
                let until = end_ms + i64::from(*secs) * 1000;
                self.state.flood_until_ms = Some(self.state.flood_until_ms.unwrap_or(0).max(until));
            }
            Err(SendError::SlowMode { secs }) => {
                let until = end_ms + i64::from(*secs) * 1000;
                let slot = self.state.slow_until_ms.entry(target.key()).or_insert(0);
                *slot = (*slot).max(until);
            }
            Err(SendError::PeerFlood) => self.state.peer_flooded = true,
            Err(SendError::WriteForbidden { .. }) => {
                self.state.forbidden_told.insert(target.key());
            }
            Err(SendError::SessionDead { .. }) => self.state.dead_told = true,
            Err(_) => {}
        }
    }

    fn save(&self) {
        if let Err(e) = self.inner.state.save(&self.name, &self.state) {
            tracing::warn!(session = %self.log_name, error = %e, "simulator could not save session state");
        }
    }

    /// Judges one attempt, waits its latency and journals it.
    pub async fn send(
        &mut self,
        target: &Target,
        post: &Post,
        label: &AttemptLabel,
    ) -> Result<Delivery, SendError> {
        let started = self.inner.clock.now();
        self.state.attempts += 1;
        let attempt = self.state.attempts;
        // Counted before waiting, so an attempt cancelled by the caller still
        // moves the draws on, as a request that reached Telegram would.
        self.save();
        let mut draws = Draws::new(self.inner.scenario.seed, &self.name, &target.key(), attempt);
        let plan = self.plan(
            target,
            label.random_id,
            &mut draws,
            started.timestamp_millis(),
        );
        // No journal, no entry: building one costs more than the rest of a simulated send.
        let journaled = self.inner.journal.is_some();
        let mut guard = JournalGuard {
            inner: Arc::clone(&self.inner),
            finished: false,
            entry: journaled.then(|| JournalEntry {
                session: self.name.clone(),
                user_id: label.user_id.clone(),
                cycle: label.cycle,
                target: target.to_string(),
                random_id: label.random_id,
                attempt,
                started_at: started,
                ended_at: started,
                outcome: Outcome::Error(SendError::Transient),
                violation: plan.violation,
                post: Some(post.clone()),
            }),
        };
        // No latency and no hang: answered at once, with no timer. A sleep of zero still
        // registers one that fires at the timer wheel's next millisecond, and the timeout
        // another: two timers and a wake for every send of a no-latency scenario.
        let answered = if plan.latency.is_zero() && !plan.hang {
            true
        } else {
            tokio::time::timeout(self.inner.config.call_timeout, async {
                tokio::time::sleep(plan.latency).await;
                if plan.hang {
                    std::future::pending::<()>().await;
                }
            })
            .await
            .is_ok()
        };
        let result = if answered {
            plan.result
        } else {
            Err(SendError::Transient)
        };
        let ended = self.inner.clock.now();
        if answered {
            self.remember(target, label.random_id, &result, ended);
        }
        self.save();
        guard.finish(ended, &result);
        tracing::debug!(session = %self.log_name, user.id = %label.user_id, cycle = label.cycle, %target, attempt, outcome = result.as_ref().err().map_or("ok", SendError::kind), "simulated send");
        result
    }

    /// `updates.getState`: signed in unless dead.
    pub fn is_authorized(&mut self) -> Result<bool, SendError> {
        match self.death() {
            Some(code) => {
                self.mark_dead(&code);
                Err(SendError::SessionDead { code })
            }
            None => Ok(true),
        }
    }
}

fn remaining_secs(until_ms: i64, now_ms: i64) -> u32 {
    let ms = (until_ms - now_ms).max(1);
    u32::try_from((ms + 999) / 1000).unwrap_or(u32::MAX)
}

/// Journals the attempt even if the caller drops the future mid-latency
/// (its own timeout, a shutdown): one line per attempt, always.
struct JournalGuard {
    inner: Arc<SimInner>,
    entry: Option<JournalEntry>,
    finished: bool,
}

impl JournalGuard {
    fn finish(&mut self, ended: DateTime<Utc>, result: &Result<Delivery, SendError>) {
        self.finished = true;
        if let Some(entry) = self.entry.as_mut() {
            entry.ended_at = ended;
            entry.outcome = match result {
                Ok(Delivery::New) => Outcome::Ok,
                Ok(Delivery::Duplicate) => Outcome::Duplicate,
                Err(e) => Outcome::Error(e.clone()),
            };
        }
    }
}

impl Drop for JournalGuard {
    fn drop(&mut self) {
        let Some(mut entry) = self.entry.take() else {
            return;
        };
        if !self.finished {
            // Cancelled by the caller: a Transient that ends now.
            entry.ended_at = self.inner.clock.now();
        }
        if let Some(journal) = &self.inner.journal
            && let Err(e) = journal.append(&entry)
        {
            tracing::warn!(error = %e, "simulator could not append to the delivery journal");
        }
    }
}
