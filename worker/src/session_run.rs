//! What one session does within a cycle, step by step (`session_steps` owns the steps' order):
//! take a per-user permit and the session's exclusive lease, connect, post to one group of its
//! share and act on the outcome, disconnect. A connection that breaks is replaced (a bounded
//! number of times, with backoff) and the remaining groups go out on the new one. Each attempt
//! goes through `delivery` (checkpoint before send, one random id per group, one count); an
//! error on a step that guards a promise (a checkpoint, a flood-wait pause) stops the session
//! for this cycle rather than going on without it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use herald_data::{Level, User, UserId};
use herald_jobs::{Hold, clock};
use herald_session_file::MaskedSessionName;
use herald_telegram::{AttemptLabel, Connection, Delivery, Post, SendError, Target};
use tokio_util::sync::CancellationToken;

use crate::act::Attempted;
use crate::cycle::Tickets;
use crate::delivery::{Checkpoints, CountedAttempt, GroupEntry};
use crate::holds::Holds;
use crate::outcome::Decision;
use crate::pause::Pause;
use crate::plan::CycleGroups;
use crate::{Worker, WorkerError};

/// What a cycle's session runs share.
pub(crate) struct SessionCtx {
    pub(crate) worker: Worker,
    pub(crate) user: UserId,
    pub(crate) record: Arc<User>,
    pub(crate) cycle_no: u64,
    pub(crate) post: Post,
    pub(crate) holds: Arc<Holds>,
    /// The cycle stops here: shut down, or taken over.
    pub(crate) lost: CancellationToken,
    /// Another worker took the cycle over (its lease lapsed).
    pub(crate) taken_over: CancellationToken,
    pub(crate) tickets: Arc<Tickets>,
    pub(crate) entries: HashMap<String, GroupEntry>,
    /// The cycle's groups; each session's job names its share by position.
    pub(crate) groups: CycleGroups,
}

pub(crate) struct SessionJob {
    pub(crate) session: String,
    pub(crate) pair: u32,
    /// Positions in [`SessionCtx::groups`]' source list.
    pub(crate) groups: Vec<u32>,
}

/// Groups posted, failed, and left for the next cycle.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    pub(crate) sent: usize,
    pub(crate) failed: usize,
    pub(crate) skipped: usize,
}

impl Tally {
    pub(crate) fn add(&mut self, other: &Tally) {
        self.sent += other.sent;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

/// A session run's connection, how often it was replaced this cycle, and the last group it
/// finished whose entry still lists its counted attempts.
pub(crate) struct Link {
    /// `None` once closed after it broke, until the next one is made.
    pub(crate) connection: Option<Box<dyn Connection>>,
    pub(crate) reconnects: u32,
    /// By its position in the cycle's groups, for [`Checkpoints::settle`] before the next post.
    pub(crate) unsettled: Option<(u32, Vec<CountedAttempt>)>,
}

/// How a session run goes on after one group of its share.
pub(crate) enum Flow {
    Next,
    /// Nothing more this cycle; the connection is still open.
    Stop,
    /// The run ends here, its connection already closed.
    /// Boxed: the reason is rare, and the run's future stays small while it waits.
    End(Result<(), Box<WorkerError>>),
}

/// What to do after one group.
pub(crate) enum Next {
    Group,
    /// The session posts nothing more this cycle.
    StopSession,
    /// The connection broke before the call went out: connect again, then the same group.
    Reconnect,
}

/// What a session's run holds while it posts, besides its cycle's claim.
pub(crate) struct SessionHolds {
    pub(crate) permit: Hold,
    pub(crate) lease: Hold,
}

impl SessionCtx {
    /// The tenant's permit and the session's exclusive lease, held by this worker for `job`'s
    /// session: both name one holder, shared.
    pub(crate) fn session_holds(&self, job: &SessionJob) -> SessionHolds {
        let holder: Arc<str> = Arc::from(format!(
            "{}/{}",
            self.worker.inner.config.holder, job.session
        ));
        SessionHolds {
            permit: Hold::Permit {
                key: Arc::from(format!("user:{}", self.user)),
                holder: holder.clone(),
            },
            lease: Hold::Lease {
                key: Arc::from(crate::holds::session_lease_key(&job.session)),
                holder,
            },
        }
    }

    /// Takes a permit or lease, waiting for it; false if the cycle was stopped meanwhile.
    pub(crate) async fn take(&self, hold: &Hold) -> bool {
        let w = &self.worker.inner;
        let ttl = w.config.lease_ttl;
        loop {
            let got = match hold {
                Hold::Permit { key, holder } => {
                    w.coord
                        .permit_acquire(key, holder, w.config.max_sessions_per_user_concurrent, ttl)
                        .await
                }
                Hold::Lease { key, holder } => w.coord.lease_acquire(key, holder, ttl).await,
                // A cycle's claim is taken once, by `claim_cycle` as the cycle starts.
                Hold::Cycle { .. } => return false,
            };
            if let Ok(true) = got {
                self.holds.add(hold.clone());
                return true;
            }
            if !self.sleep(w.config.permit_poll).await {
                return false;
            }
        }
    }

    /// One group of the session's share: its target, its entry, its attempts, and a new
    /// connection when the one it had broke.
    pub(crate) async fn post_to(
        &self,
        job: &SessionJob,
        position: u32,
        link: &mut Link,
        tally: &mut Tally,
    ) -> Flow {
        self.settle_previous(link).await;
        let group = self.groups.name(position);
        let masked = MaskedSessionName::of(&job.session);
        let target = match Target::parse(group) {
            Ok(target) => target,
            Err(err) => {
                self.log(Level::Warning, &format!("Group {group} skipped: {err}"));
                return Flow::Next;
            }
        };
        let mut entry = self.entries.get(group).cloned().unwrap_or_default();
        entry.session = job.session.clone();
        loop {
            let Some(connection) = link.connection.as_mut() else {
                return Flow::End(Ok(()));
            };
            let next = self
                .post_group(
                    connection.as_mut(),
                    &masked,
                    group,
                    &target,
                    &mut entry,
                    tally,
                )
                .await;
            match next {
                Next::Group => {
                    if entry.done && !entry.attempts.is_empty() {
                        link.unsettled = Some((position, std::mem::take(&mut entry.attempts)));
                    }
                    return Flow::Next;
                }
                Next::StopSession => return Flow::Stop,
                Next::Reconnect => {
                    // The broken one goes first: a second live connection on one key is
                    // Telegram's AUTH_KEY_DUPLICATED.
                    if let Some(broken) = link.connection.take() {
                        Box::pin(self.close(job, broken)).await;
                    }
                    let policy = &self.worker.inner.config.policy;
                    if link.reconnects == policy.max_reconnects {
                        return Flow::End(Err(Box::new(WorkerError::ConnectionBroke(
                            link.reconnects + 1,
                        ))));
                    }
                    let wait = policy.transient_backoff.jittered(link.reconnects);
                    link.reconnects += 1;
                    self.log(
                        Level::Warning,
                        &format!("Connection of {masked} broke; connecting again"),
                    );
                    if !self.sleep(wait).await {
                        return Flow::End(Ok(()));
                    }
                    match Box::pin(self.connect(job)).await {
                        Ok(connection) => link.connection = Some(connection),
                        Err(why) => return Flow::End(Err(Box::new(why))),
                    }
                }
            }
        }
    }

    /// Settles the entry of the group posted before (see [`Checkpoints::settle`]). One whose
    /// counts are not durable yet is tried again before the next post unless that post's own
    /// group takes its place; one left unsettled, or that cannot be written, keeps its attempts,
    /// which costs only their bytes. Not after a takeover: the entry is the new owner's to write.
    async fn settle_previous(&self, link: &mut Link) {
        let Some((position, attempts)) = link.unsettled.take() else {
            return;
        };
        if self.lost.is_cancelled() {
            return;
        }
        let group = self.groups.name(position);
        match self.checkpoints().settle(group, &attempts).await {
            Ok(true) => {}
            Ok(false) => link.unsettled = Some((position, attempts)),
            Err(err) => {
                tracing::warn!(error = %err, "cannot settle a posted group's checkpoint entry; it keeps its counted attempts");
            }
        }
    }

    fn checkpoints(&self) -> Checkpoints<'_> {
        Checkpoints {
            worker: &self.worker,
            user: &self.user,
            cycle_no: self.cycle_no,
        }
    }

    /// One group: an attempt (checkpoint, send, count, checkpoint), then its decision acted on;
    /// again after a retry or a wait.
    async fn post_group(
        &self,
        connection: &mut dyn Connection,
        masked: &MaskedSessionName,
        group: &str,
        target: &Target,
        entry: &mut GroupEntry,
        tally: &mut Tally,
    ) -> Next {
        let label = AttemptLabel {
            user_id: self.user.to_string(),
            cycle: self.cycle_no,
            random_id: entry.random_id(self.cycle_no),
        };
        let mut retries = 0;
        loop {
            if self.lost.is_cancelled() {
                return Next::StopSession;
            }
            let attempt = self
                .attempt(connection, group, target, entry, &label, retries)
                .await;
            let (result, decision, now) = match attempt {
                Ok(attempt) => attempt,
                Err(next) => return next,
            };
            let post = Attempted {
                group,
                masked,
                session: &entry.session,
                result: &result,
                now,
            };
            if matches!(decision, Decision::Retry { .. }) {
                retries += 1;
            }
            if let Some(next) = self.act(decision, &post, tally).await {
                return next;
            }
        }
    }

    /// One send of `group` between two checkpoint writes: `sending` before it (no send without
    /// it), then its count and whether the group is done. `Err` when the session stops here: a
    /// checkpoint could not be written, or the cycle was taken over mid-send.
    async fn attempt(
        &self,
        connection: &mut dyn Connection,
        group: &str,
        target: &Target,
        entry: &mut GroupEntry,
        label: &AttemptLabel,
        retries: u32,
    ) -> Result<(Result<Delivery, SendError>, Decision, DateTime<Utc>), Next> {
        let checkpoints = self.checkpoints();
        entry.sending = true;
        if let Err(err) = checkpoints.put(group, entry).await {
            return Err(self.cannot_record(group, &err));
        }
        // A cycle taken over lets go at once, mid-send too: its successor is about to connect
        // this session, and a key on two connections is killed. The entry stays `sending`, so
        // the successor re-sends it with the same random id. A shutdown lets the send end and
        // count (abandoned, its count would be lost to the resume's doubt).
        let result = tokio::select! {
            result = connection.send(target, &self.post, label) => result,
            () = self.taken_over.cancelled() => return Err(Next::StopSession),
        };
        let now = clock::now();
        if let Some(ticket) = checkpoints.count(entry, &result) {
            self.tickets.note(&ticket);
        }
        let decision = self
            .worker
            .inner
            .config
            .policy
            .decide(&result, retries, now);
        entry.sending = false;
        entry.in_doubt = false;
        entry.done = !matches!(
            decision,
            Decision::Retry { .. } | Decision::Pause { resume: true, .. } | Decision::Reconnect
        );
        if let Err(err) = checkpoints.put(group, entry).await {
            return Err(self.cannot_record(group, &err));
        }
        let kind = result.as_ref().err().map_or("ok", SendError::kind);
        metrics::counter!("herald_posts_total", "outcome" => kind).increment(1);
        Ok((result, decision, now))
    }

    pub(crate) fn log(&self, level: Level, message: &str) {
        self.worker.inner.store.log(&self.user, level, message);
    }

    /// Sleeps (to the next tick at least `d` away; a zero wait only yields) unless the cycle is
    /// stopped first; false when stopped.
    pub(crate) fn sleep(&self, d: Duration) -> Pause<'_> {
        Pause::new(&self.lost, d)
    }
}
