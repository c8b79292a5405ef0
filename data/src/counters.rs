//! Batched counters: `add_stats` is a memory operation; a group commit writes them.
//!
//! Deltas accumulate per tenant in memory. A flusher thread merges everything pending into
//! `stats.json` in one locked read-merge-write every `flush_interval` (1 s by default) and once
//! more on shutdown, so counter traffic costs a bounded number of file writes per second however
//! many posts happen. A waiter that needs its counts durable sooner than that (a cycle whose next
//! one is due at once) hurries the flush: it then runs [`HURRIED_FLUSH_GAP`] after the previous
//! one, not earlier, so hurrying too stays bounded. **Durability window**: a process killed
//! outright loses the deltas of its last `flush_interval`; each delta comes with a
//! [`FlushTicket`] saying which flush will carry it, so a worker can wait for its counts to be
//! durable, and one that takes over from a dead process can tell (through the file's `flushes`
//! ledger) which of its counts never landed.
//! This module never writes a counter anywhere but through the committer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::committer::{Change, Committer};
use crate::doc_file::DocFile;
use crate::stats::{FlushMark, StatsDelta, StatsDoc, UserStats};
use crate::{DataError, UpdateError};

/// How long a dead process's ledger entry is kept (far longer than any cycle checkpoint lives).
const LEDGER_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// The least time between two flushes when a waiter hurries them: five writes a second at most.
pub const HURRIED_FLUSH_GAP: Duration = Duration::from_millis(200);

/// What the flusher thread is told besides stopping (which is its channel closing).
#[derive(Debug)]
struct Hurry;

/// Names the flush that will carry one delta to disk.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FlushTicket {
    /// The process that holds the delta in memory.
    pub process: String,
    /// That process's flush sequence number carrying the delta.
    pub seq: u64,
}

#[derive(Debug, Default)]
struct Pending {
    /// The sequence number the next flush will have; tickets handed out now carry it.
    open_seq: u64,
    deltas: HashMap<String, StatsDelta>,
    /// The batch being written, still visible to readers until the file shows it.
    flushing: Option<(u64, HashMap<String, StatsDelta>)>,
}

#[derive(Debug)]
pub(crate) struct Counters {
    process: String,
    file: Arc<DocFile<StatsDoc>>,
    committer: Committer<StatsDoc>,
    pending: Mutex<Pending>,
    /// Serializes flushes, so sequence numbers reach the file in order.
    flush_lock: Mutex<()>,
    flushed: tokio::sync::watch::Sender<u64>,
    flush_interval: Duration,
    /// Set when a waiter has asked for an early flush; the next flush clears it.
    hurried: AtomicBool,
    flusher: Mutex<Option<(mpsc::Sender<Hurry>, JoinHandle<()>)>>,
}

impl Counters {
    pub(crate) fn start(
        process: String,
        file: Arc<DocFile<StatsDoc>>,
        flush_interval: Duration,
    ) -> Result<Arc<Counters>, DataError> {
        let committer = Committer::start(file.clone())?;
        let counters = Arc::new(Counters {
            process,
            file,
            committer,
            pending: Mutex::new(Pending {
                open_seq: 1,
                ..Pending::default()
            }),
            flush_lock: Mutex::new(()),
            flushed: tokio::sync::watch::Sender::new(0),
            flush_interval,
            hurried: AtomicBool::new(false),
            flusher: Mutex::new(None),
        });
        let (wake, woken) = mpsc::channel::<Hurry>();
        let weak = Arc::downgrade(&counters);
        let thread = std::thread::Builder::new()
            .name("herald-stats-flush".into())
            .spawn(move || flusher(&weak, &woken, flush_interval))
            .map_err(|e| DataError::io("start the counter flusher thread", e))?;
        *lock(&counters.flusher) = Some((wake, thread));
        Ok(counters)
    }

    pub(crate) fn add(&self, user_id: &str, delta: &StatsDelta) -> FlushTicket {
        let mut pending = lock(&self.pending);
        // Looked up before inserting: the id is copied once per tenant and flush, not per post.
        match pending.deltas.get_mut(user_id) {
            Some(sum) => sum.merge(delta),
            None => {
                pending.deltas.insert(user_id.to_owned(), *delta);
            }
        }
        FlushTicket {
            process: self.process.clone(),
            seq: pending.open_seq,
        }
    }

    /// The tenant's counters as this process knows them: the file plus what it has not flushed.
    pub(crate) fn get(&self, user_id: &str) -> UserStats {
        let pending = lock(&self.pending);
        // Read under the pending lock: a flush that lands meanwhile is then seen either in the file
        // (its ledger mark says so) or still in `flushing`, never in both and never in neither.
        let doc = self.file.current();
        let mut stats = doc.users.get(user_id).cloned().unwrap_or_default();
        if let Some((seq, batch)) = &pending.flushing {
            let landed = doc
                .flushes
                .get(&self.process)
                .is_some_and(|m| m.seq >= *seq);
            if !landed && let Some(delta) = batch.get(user_id) {
                stats.apply(delta);
            }
        }
        if let Some(delta) = pending.deltas.get(user_id) {
            stats.apply(delta);
        }
        stats
    }

    /// Whether the delta behind `ticket` is in the file (for any process's ticket).
    pub(crate) fn is_flushed(&self, ticket: &FlushTicket) -> bool {
        if ticket.process == self.process && *self.flushed.borrow() >= ticket.seq {
            return true;
        }
        self.file
            .current()
            .flushes
            .get(&ticket.process)
            .is_some_and(|mark| mark.seq >= ticket.seq)
    }

    /// Resolves once this process's delta behind `ticket` is durable. A caller that needs it
    /// sooner than the flush interval (`wanted_within`) hurries the flush.
    pub(crate) async fn wait_flushed(
        &self,
        ticket: &FlushTicket,
        wanted_within: Duration,
    ) -> Result<(), DataError> {
        if ticket.process != self.process {
            return Err(DataError::Invalid(format!(
                "ticket of process {} cannot be awaited here",
                ticket.process
            )));
        }
        let mut rx = self.flushed.subscribe();
        // One message per flush at most: a thousand cycles ending at once wake the thread once.
        if wanted_within < self.flush_interval
            && *rx.borrow() < ticket.seq
            && !self.hurried.swap(true, Ordering::AcqRel)
            && let Some((wake, _)) = lock(&self.flusher).as_ref()
            && wake.send(Hurry).is_err()
        {
            // The flusher has stopped: shutdown's final flush carries the delta, or nothing will.
            tracing::debug!("counter flusher gone; not hurried");
        }
        rx.wait_for(|seq| *seq >= ticket.seq)
            .await
            .map(|_| ())
            .map_err(|_| DataError::Closed)
    }

    /// Writes everything pending now, in one read-merge-write. Blocks until durable.
    pub(crate) fn flush(&self) -> Result<(), DataError> {
        let _serial = lock(&self.flush_lock);
        let (seq, batch) = {
            let mut pending = lock(&self.pending);
            if pending.deltas.is_empty() {
                return Ok(());
            }
            let seq = pending.open_seq;
            pending.open_seq += 1;
            let batch = std::mem::take(&mut pending.deltas);
            pending.flushing = Some((seq, batch.clone()));
            (seq, batch)
        };
        let process = self.process.clone();
        let (reply, outcome) = mpsc::sync_channel(1);
        let change = Change::<StatsDoc, (), ()> {
            apply: Box::new(move |doc: &mut StatsDoc| {
                for (user, delta) in &batch {
                    doc.users.entry(user.clone()).or_default().apply(delta);
                }
                let now = Utc::now();
                doc.flushes
                    .retain(|p, mark| *p == process || now - mark.at < LEDGER_RETENTION);
                doc.flushes.insert(process, FlushMark { seq, at: now });
                Ok(((), true))
            }),
            reply: Box::new(move |result| {
                let _ = reply.send(result);
            }),
        };
        let result = self.committer.submit(Box::new(change)).and_then(|()| {
            outcome
                .recv()
                .map_err(|_| DataError::Closed)?
                .map_err(flatten)
        });
        let mut pending = lock(&self.pending);
        let (_, batch) = pending.flushing.take().unwrap_or_default();
        match result {
            Ok(()) => {
                drop(pending);
                self.flushed.send_replace(seq);
                Ok(())
            }
            Err(err) => {
                // Carried by a later flush instead; a ticket of `seq` then counts as flushed once
                // that later, higher sequence number is in the ledger.
                for (user, delta) in batch {
                    pending.deltas.entry(user).or_default().merge(&delta);
                }
                Err(err)
            }
        }
    }

    /// Final flush, then the writer stops.
    pub(crate) fn shutdown(&self) -> Result<(), DataError> {
        if let Some((stop, thread)) = lock(&self.flusher).take() {
            drop(stop);
            let _ = thread.join();
        }
        let result = self.flush();
        self.committer.stop();
        result
    }
}

/// The flusher thread: a flush every `interval`, sooner when hurried (not within
/// [`HURRIED_FLUSH_GAP`] of the previous one), and a last one when the channel closes.
fn flusher(
    counters: &std::sync::Weak<Counters>,
    woken: &mpsc::Receiver<Hurry>,
    interval: Duration,
) {
    let mut previous = Instant::now();
    let mut due = previous + interval;
    loop {
        let last = match woken.recv_timeout(due.saturating_duration_since(Instant::now())) {
            Ok(Hurry) => {
                due = due.min(previous + HURRIED_FLUSH_GAP.min(interval));
                if Instant::now() < due {
                    continue;
                }
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        let Some(counters) = counters.upgrade() else {
            return;
        };
        // Cleared before the flush takes the pending deltas: a waiter hurrying after this point
        // has its delta in this flush or wakes the thread for the next.
        counters.hurried.store(false, Ordering::Release);
        if let Err(err) = counters.flush() {
            tracing::warn!(error = %err, "counter flush failed; the deltas stay pending");
        }
        previous = Instant::now();
        due = previous + interval;
        if last {
            return;
        }
    }
}

fn flatten(err: UpdateError<()>) -> DataError {
    match err {
        UpdateError::Data(err) => err,
        UpdateError::Rejected(()) => DataError::Invalid("counter merge refused".into()),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
