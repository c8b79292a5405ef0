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

use herald_data::{BlockedGroup, Level, User, UserId};
use herald_jobs::{Hold, clock};
use herald_session_file::mask_session_name;
use herald_telegram::{
    ApiCredentials, AttemptLabel, Connection, Delivery, Post, SendError, SessionHandle, Target,
};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

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
enum Next {
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
        let policy = &self.worker.inner.config.policy;
        let group = self.groups.name(position);
        let masked = mask_session_name(&job.session);
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
                    if link.reconnects == policy.max_reconnects {
                        return Flow::End(Err(Box::new(WorkerError::ConnectionBroke(
                            link.reconnects + 1,
                        ))));
                    }
                    link.reconnects += 1;
                    self.log(
                        Level::Warning,
                        &format!("Connection of {masked} broke; connecting again"),
                    );
                    if !self.sleep(policy.transient_backoff * link.reconnects).await {
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
                tracing::warn!(user.id = %self.user, cycle = self.cycle_no, error = %err, "cannot settle a posted group's checkpoint entry; it keeps its counted attempts");
            }
        }
    }

    /// Keeps the chats the connection resolved with the session (so the next connection, on
    /// any worker, resolves them no more), then disconnects.
    pub(crate) async fn close(&self, job: &SessionJob, connection: Box<dyn Connection>) {
        let learned = connection.learned();
        connection.disconnect().await;
        if learned.is_empty() {
            return;
        }
        let w = &self.worker.inner;
        // Only for the log line, as each error says it: `WorkerError::SessionFile` would call a
        // failed write of the chats an unusable session file.
        let kept = match w.pool.session_file(&self.user, &job.session) {
            Ok(path) => w
                .credentials
                .remember(&path, learned)
                .await
                .map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        };
        if let Err(err) = kept {
            // Only a cost: the next connection resolves these chats again.
            tracing::warn!(user.id = %self.user, session = %mask_session_name(&job.session), error = %err, "cannot keep resolved chats with the session");
        }
    }

    pub(crate) async fn connect(
        &self,
        job: &SessionJob,
    ) -> Result<Box<dyn Connection>, WorkerError> {
        let w = &self.worker.inner;
        let path = w
            .pool
            .session_file(&self.user, &job.session)
            .map_err(WorkerError::Pool)?;
        let file = w
            .credentials
            .read(&path)
            .await
            .map_err(WorkerError::SessionFile)?;
        let pair = w
            .pool
            .pair_credentials(job.pair)
            .map_err(WorkerError::Pool)?;
        let api = ApiCredentials {
            api_id: pair.api_id,
            api_hash: SecretString::from(pair.api_hash.expose().to_owned()),
        };
        let mut retries = 0;
        loop {
            let handle = SessionHandle {
                name: job.session.clone(),
                credentials: file.credentials.clone(),
                entities: file.entities.to_vec(),
            };
            match w.telegram.connect(handle, api.clone()).await {
                Ok(connection) => return Ok(connection),
                Err(SendError::SessionDead { code }) => {
                    self.quarantine(&job.session, &code).await;
                    return Err(WorkerError::Dead { code });
                }
                Err(SendError::Transient) if retries < w.config.policy.transient_retries => {
                    retries += 1;
                    if !self
                        .sleep(w.config.policy.transient_backoff * retries)
                        .await
                    {
                        return Err(WorkerError::Stopped);
                    }
                }
                Err(err) => return Err(WorkerError::Connect(err)),
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

    /// One group: checkpoint, send, count, act on the decision; again after a retry or a wait.
    async fn post_group(
        &self,
        connection: &mut dyn Connection,
        masked: &str,
        group: &str,
        target: &Target,
        entry: &mut GroupEntry,
        tally: &mut Tally,
    ) -> Next {
        let w = &self.worker.inner;
        let session = entry.session.clone();
        let checkpoints = self.checkpoints();
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
            entry.sending = true;
            if let Err(err) = checkpoints.put(group, entry).await {
                return self.cannot_record(group, &err);
            }
            // A cycle taken over lets go at once, mid-send too: its successor is about to
            // connect this session, and a key on two connections is killed. The entry stays
            // `sending`, so the successor re-sends it with the same random id. A shutdown lets
            // the send end and count (abandoned, its count would be lost to the resume's doubt).
            let result = tokio::select! {
                result = connection.send(target, &self.post, &label) => result,
                () = self.taken_over.cancelled() => return Next::StopSession,
            };
            let now = clock::now();
            if let Some(ticket) = checkpoints.count(entry, &result) {
                self.tickets.note(&ticket);
            }
            let decision = w.config.policy.decide(&result, retries, now);
            entry.sending = false;
            entry.in_doubt = false;
            entry.done = !matches!(
                decision,
                Decision::Retry { .. } | Decision::Pause { resume: true, .. } | Decision::Reconnect
            );
            if let Err(err) = checkpoints.put(group, entry).await {
                return self.cannot_record(group, &err);
            }
            let kind = result.as_ref().err().map_or("ok", SendError::kind);
            metrics::counter!("herald_posts_total", "outcome" => kind).increment(1);
            match decision {
                Decision::Posted => {
                    tally.sent += 1;
                    let note = if result == Ok(Delivery::Duplicate) {
                        " (Telegram had it already)"
                    } else {
                        ""
                    };
                    self.log(
                        Level::Info,
                        &format!("Posted to {group} from {masked}{note}"),
                    );
                    return Next::Group;
                }
                Decision::Reconnect => return Next::Reconnect,
                Decision::Failed => {
                    tally.failed += 1;
                    self.log(
                        Level::Error,
                        &format!(
                            "Failed to post to {group} from {masked}: {}",
                            describe(&result)
                        ),
                    );
                    return Next::Group;
                }
                Decision::SkipGroup => {
                    tally.failed += 1;
                    self.log(
                        Level::Warning,
                        &format!("Slow mode in {group}: skipped this cycle"),
                    );
                    return Next::Group;
                }
                Decision::Retry { after } => {
                    retries += 1;
                    self.log(
                        Level::Warning,
                        &format!(
                            "Network trouble posting to {group}; retrying in {}s",
                            after.as_secs()
                        ),
                    );
                    if !self.sleep(after).await {
                        return Next::StopSession;
                    }
                }
                Decision::Pause { until, resume } => {
                    metrics::counter!("herald_flood_waits_total").increment(1);
                    if let Err(err) = w.coord.pause_session(&session, until).await {
                        // Without the pause another cycle or worker could call inside the wait.
                        tracing::error!(user.id = %self.user, session = %masked, error = %err, "cannot record a flood wait");
                        tally.failed += 1;
                        self.log(Level::Error, &format!("Flood wait for {masked} could not be recorded: it posts nothing more this cycle"));
                        return Next::StopSession;
                    }
                    let secs = (until - now).num_seconds();
                    if !resume {
                        tally.failed += 1;
                        self.log(Level::Warning, &format!("Flood wait of {secs}s for {masked}: its remaining groups wait for the next cycle"));
                        return Next::StopSession;
                    }
                    self.log(Level::Warning, &format!("Flood wait of {secs}s for {masked}: waiting, then posting to {group} again"));
                    if !self.sleep(clock::until(until)).await {
                        return Next::StopSession;
                    }
                }
                Decision::BlockGroup { reason } => {
                    tally.failed += 1;
                    self.block(group, &reason).await;
                    return Next::Group;
                }
                Decision::Quarantine { reason } => {
                    tally.failed += 1;
                    self.quarantine(&session, &reason).await;
                    return Next::StopSession;
                }
                Decision::Park { until } => {
                    tally.failed += 1;
                    self.park(&session, until).await;
                    self.log(
                        Level::Warning,
                        &format!(
                            "Session {masked} limited by Telegram (PEER_FLOOD): parked until {}",
                            until.format("%Y-%m-%d %H:%M")
                        ),
                    );
                    return Next::StopSession;
                }
            }
        }
    }

    /// A checkpoint could not be written: no send without it, so the session stops here.
    fn cannot_record(&self, group: &str, err: &herald_jobs::JobsError) -> Next {
        tracing::error!(user.id = %self.user, group, error = %err, "cannot checkpoint a post; the session stops for this cycle");
        self.log(
            Level::Error,
            &format!("Progress of the post to {group} could not be recorded; this session posts nothing more this cycle"),
        );
        Next::StopSession
    }

    async fn block(&self, group: &str, reason: &str) {
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
            tracing::error!(user.id = %self.user, group, error = ?err, "cannot record a blocked group");
        }
        self.log(
            Level::Warning,
            &format!("Group {group} blocked ({reason}): no session will post there again"),
        );
    }

    async fn park(&self, session: &str, until: chrono::DateTime<chrono::Utc>) {
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
            tracing::error!(user.id = %self.user, error = ?err, "cannot park a session");
        }
    }

    async fn quarantine(&self, session: &str, reason: &str) {
        if let Err(err) = self
            .worker
            .inner
            .pool
            .quarantine(&self.user, session, reason)
            .await
        {
            tracing::error!(user.id = %self.user, session = %mask_session_name(session), error = %err, "cannot quarantine a dead session");
        }
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

fn describe(result: &Result<Delivery, SendError>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(err) => err.to_string(),
    }
}
