//! Acting on the decision an attempt's outcome led to (`outcome` decides, from the error class
//! alone): the tenant's log line, the tally, and what Telegram asked for: a flood wait recorded
//! as the session's pause (the session stops if it cannot be), a group blocked for the tenant,
//! a session parked or quarantined. It never sends and never writes a checkpoint (`delivery`
//! and `session_run` do).

use chrono::{DateTime, Utc};
use herald_data::{BlockedGroup, Level};
use herald_jobs::clock;
use herald_session_file::MaskedSessionName;
use herald_telegram::{Delivery, SendError};

use crate::outcome::Decision;
use crate::session_run::{Next, SessionCtx, Tally};

/// One attempt's outcome, as acting on it needs it.
#[derive(Clone, Copy)]
pub(crate) struct Attempted<'a> {
    pub(crate) group: &'a str,
    /// The session's name as logs show it.
    pub(crate) masked: &'a MaskedSessionName,
    pub(crate) session: &'a str,
    pub(crate) result: &'a Result<Delivery, SendError>,
    pub(crate) now: DateTime<Utc>,
}

impl SessionCtx {
    /// Carries out `decision`; `None` when the group is to be sent again (after a retry's
    /// backoff or a short flood wait, both already waited out here).
    pub(crate) async fn act(
        &self,
        decision: Decision,
        post: &Attempted<'_>,
        tally: &mut Tally,
    ) -> Option<Next> {
        let Attempted {
            group,
            masked,
            session,
            result,
            ..
        } = *post;
        match decision {
            Decision::Posted => {
                tally.sent += 1;
                let note = if *result == Ok(Delivery::Duplicate) {
                    " (Telegram had it already)"
                } else {
                    ""
                };
                self.log(
                    Level::Info,
                    &format!("Posted to {group} from {masked}{note}"),
                );
                return Some(Next::Group);
            }
            Decision::Reconnect => return Some(Next::Reconnect),
            Decision::Failed => {
                tally.failed += 1;
                self.log(
                    Level::Error,
                    &format!(
                        "Failed to post to {group} from {masked}: {}",
                        describe(result)
                    ),
                );
                return Some(Next::Group);
            }
            Decision::SkipGroup => {
                tally.failed += 1;
                self.log(
                    Level::Warning,
                    &format!("Slow mode in {group}: skipped this cycle"),
                );
                return Some(Next::Group);
            }
            Decision::Retry { after } => {
                // The decision states the policy's wait; the one slept carries jitter.
                let wait = herald_jobs::backoff::jitter(after);
                self.log(
                    Level::Warning,
                    &format!(
                        "Network trouble posting to {group}; retrying in {}s",
                        wait.as_secs()
                    ),
                );
                if !self.sleep(wait).await {
                    return Some(Next::StopSession);
                }
            }
            // The rare outcomes below are boxed: their futures (a write, a wait) would otherwise
            // widen every post's, which 10,000 bots hold at once while they post (BENCHMARKS.md,
            // cost: the post step must stay in jemalloc's 1,024-byte class).
            Decision::Pause { until, resume } => {
                return Box::pin(self.flood_wait(post, until, resume, tally)).await;
            }
            Decision::BlockGroup { reason } => {
                tally.failed += 1;
                return Some(Box::pin(self.block(group, masked, &reason)).await);
            }
            Decision::Quarantine { reason } => {
                tally.failed += 1;
                Box::pin(self.quarantine(session, &reason)).await;
                return Some(Next::StopSession);
            }
            Decision::Park { until } => {
                tally.failed += 1;
                Box::pin(self.park(session, masked, until)).await;
                return Some(Next::StopSession);
            }
        }
        None
    }

    /// A flood wait: recorded as the session's pause first (without it another cycle or worker
    /// could call inside the wait, so the session stops when it cannot be), then waited out here
    /// when short (`None`: send the group again), else the session's remaining groups wait for
    /// the next cycle.
    async fn flood_wait(
        &self,
        post: &Attempted<'_>,
        until: DateTime<Utc>,
        resume: bool,
        tally: &mut Tally,
    ) -> Option<Next> {
        let Attempted {
            group,
            masked,
            session,
            now,
            ..
        } = *post;
        let w = &self.worker.inner;
        metrics::counter!("herald_flood_waits_total").increment(1);
        if let Err(err) = w.coord.pause_session(session, until).await {
            tracing::error!(error = %err, "cannot record a flood wait");
            tally.failed += 1;
            self.log(Level::Error, &format!("Flood wait for {masked} could not be recorded: it posts nothing more this cycle"));
            return Some(Next::StopSession);
        }
        let secs = (until - now).num_seconds();
        if !resume {
            tally.failed += 1;
            self.log(Level::Warning, &format!("Flood wait of {secs}s for {masked}: its remaining groups wait for the next cycle"));
            return Some(Next::StopSession);
        }
        self.log(
            Level::Warning,
            &format!("Flood wait of {secs}s for {masked}: waiting, then posting to {group} again"),
        );
        if !self.sleep(clock::until(until)).await {
            return Some(Next::StopSession);
        }
        None
    }

    /// A checkpoint could not be written: no send without it, so the session stops here.
    pub(crate) fn cannot_record(&self, group: &str, err: &herald_jobs::JobsError) -> Next {
        tracing::error!(group, error = %err, "cannot checkpoint a post; the session stops for this cycle");
        self.log(
            Level::Error,
            &format!("Progress of the post to {group} could not be recorded; this session posts nothing more this cycle"),
        );
        Next::StopSession
    }

    /// A chat that refused the account: blocked for the tenant, so that none of its sessions
    /// posts there again. When that cannot be written the log says so rather than claiming it,
    /// and the session stops for this cycle: the store is refusing what the next outcome would
    /// need recorded too.
    async fn block(&self, group: &str, masked: &MaskedSessionName, reason: &str) -> Next {
        let w = &self.worker.inner;
        let (group_owned, reason_owned) = (group.to_owned(), reason.to_owned());
        let blocked = w
            .store
            .update_user(&self.user, move |u| {
                if !u.is_blocked(&group_owned) {
                    u.blocked_groups.push(BlockedGroup {
                        group: group_owned,
                        reason: reason_owned,
                        at: chrono::Utc::now(),
                    });
                }
                Ok::<_, ()>(())
            })
            .await;
        if let Err(err) = blocked {
            tracing::error!(group, error = ?err, "cannot record a blocked group; the session stops for this cycle");
            self.log(
                Level::Error,
                &format!("Group {group} refused {masked} ({reason}) but could not be recorded as blocked: a later cycle may try it again; this session posts nothing more this cycle"),
            );
            return Next::StopSession;
        }
        self.log(
            Level::Warning,
            &format!("Group {group} blocked ({reason}): no session will post there again"),
        );
        Next::Group
    }

    /// PEER_FLOOD: the session posts nothing for the tenant until `until`. When that cannot be
    /// written to users.json, the session's pause in coordination (a flood wait's record) keeps
    /// every worker off it until then instead, and the log says which held.
    async fn park(&self, session: &str, masked: &MaskedSessionName, until: DateTime<Utc>) {
        let name = session.to_owned();
        let parked = self
            .worker
            .inner
            .store
            .update_user(&self.user, move |u| {
                u.parked_sessions.insert(name, until);
                Ok::<_, ()>(())
            })
            .await;
        if let Err(err) = parked {
            tracing::error!(error = ?err, "cannot park a session; pausing it instead");
            let paused = self.worker.inner.coord.pause_session(session, until).await;
            let held = match paused {
                Ok(()) => "paused for every worker instead",
                Err(err) => {
                    tracing::error!(error = %err, "cannot pause a session Telegram limited either");
                    "nor paused: another cycle may use it before then"
                }
            };
            self.log(
                Level::Error,
                &format!(
                    "Session {masked} limited by Telegram (PEER_FLOOD) until {} could not be parked, {held}",
                    until.format("%Y-%m-%d %H:%M")
                ),
            );
            return;
        }
        self.log(
            Level::Warning,
            &format!(
                "Session {masked} limited by Telegram (PEER_FLOOD): parked until {}",
                until.format("%Y-%m-%d %H:%M")
            ),
        );
    }

    pub(crate) async fn quarantine(&self, session: &str, reason: &str) {
        if let Err(err) = self
            .worker
            .inner
            .pool
            .quarantine(&self.user, session, reason)
            .await
        {
            tracing::error!(error = %err, "cannot quarantine a dead session");
        }
    }
}

fn describe(result: &Result<Delivery, SendError>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(err) => err.to_string(),
    }
}
