//! Group commit: the one thread that writes a data file, many changes per durable write.
//!
//! Every change to a file is queued here as an operation. The writer thread takes all operations
//! waiting, takes the process lock, re-reads the file if another process wrote it, applies the
//! operations in order to a working copy, writes that copy once (durably, atomically) and only then
//! tells each caller its outcome. Concurrent writers thus share one fsync, and a caller hears
//! "done" only for a change that is on disk. This thread is also the thread-level lock: no other
//! code in the process modifies the file.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::doc_file::DocFile;
use crate::document::Document;
use crate::{DataError, UpdateError, durable};

/// Upper bound on operations per write, so one write's latency stays bounded under a flood.
const MAX_BATCH: usize = 4096;

/// One queued change: applied to the working copy by the writer thread, or failed as a whole
/// when the write cannot even start (lock, read-only store).
pub(crate) trait Operation<T>: Send {
    fn apply(self: Box<Self>, doc: &mut T) -> Applied;
    fn fail(self: Box<Self>, err: DataError);
}

pub(crate) struct Applied {
    /// Whether the operation changed the document (if none did, nothing is written).
    pub(crate) changed: bool,
    /// Called with the outcome of the write that carries this change.
    pub(crate) complete: Completion,
}

/// Tells a caller the outcome of the write that carries its change.
pub(crate) type Completion = Box<dyn FnOnce(Result<(), &DataError>) + Send>;

/// A change's body: the value for the caller and whether the document changed, or a refusal.
pub(crate) type ApplyFn<T, R, X> = Box<dyn FnOnce(&mut T) -> Result<(R, bool), X> + Send>;

/// Where the outcome of a change goes: a channel of an async or a blocking caller.
pub(crate) type Reply<R, X> = Box<dyn FnOnce(Result<R, UpdateError<X>>) + Send>;

/// A change expressed as a closure over the document. The closure owns its rollback: when it
/// refuses, the document must be as it found it. The caller hears the outcome through `reply`
/// only once the write carrying the change is durable.
pub(crate) struct Change<T, R, X> {
    pub(crate) apply: ApplyFn<T, R, X>,
    pub(crate) reply: Reply<R, X>,
}

impl<T, R: Send + 'static, X: Send + 'static> Operation<T> for Change<T, R, X> {
    fn apply(self: Box<Self>, doc: &mut T) -> Applied {
        let reply = self.reply;
        match (self.apply)(doc) {
            Ok((value, changed)) => Applied {
                changed,
                complete: Box::new(move |outcome| {
                    reply(match outcome {
                        Ok(()) => Ok(value),
                        Err(err) => Err(UpdateError::Data(err.duplicate())),
                    });
                }),
            },
            Err(refusal) => Applied {
                changed: false,
                complete: Box::new(move |_| {
                    reply(Err(UpdateError::Rejected(refusal)));
                }),
            },
        }
    }

    fn fail(self: Box<Self>, err: DataError) {
        (self.reply)(Err(UpdateError::Data(err)));
    }
}

#[derive(Debug)]
pub(crate) struct Committer<T: Document> {
    sender: Mutex<Option<Sender<Box<dyn Operation<T>>>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl<T: Document> Committer<T> {
    pub(crate) fn start(file: Arc<DocFile<T>>) -> Result<Self, DataError> {
        let (sender, receiver) = mpsc::channel::<Box<dyn Operation<T>>>();
        let name = format!(
            "herald-write-{}",
            file.label().rsplit('/').next().unwrap_or("data")
        );
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || run(&file, &receiver))
            .map_err(|e| DataError::io("start the data writer thread", e))?;
        Ok(Committer {
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues an operation; `Err(Closed)` once the committer has been stopped.
    pub(crate) fn submit(&self, op: Box<dyn Operation<T>>) -> Result<(), DataError> {
        let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        match sender.as_ref() {
            Some(sender) => sender.send(op).map_err(|_| DataError::Closed),
            None => Err(DataError::Closed),
        }
    }

    /// Stops taking operations, lets the queued ones finish, and waits for the thread.
    pub(crate) fn stop(&self) {
        drop(self.sender.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl<T: Document> Drop for Committer<T> {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run<T: Document>(file: &DocFile<T>, receiver: &Receiver<Box<dyn Operation<T>>>) {
    let mut encoder = T::Encoder::default();
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        commit(file, batch, &mut encoder);
    }
}

fn commit<T: Document>(
    file: &DocFile<T>,
    batch: Vec<Box<dyn Operation<T>>>,
    encoder: &mut T::Encoder,
) {
    let guard = match file.lock() {
        Ok(guard) => guard,
        Err(err) => return fail_all(batch, &err),
    };
    let base = match file.current_for_write(&guard) {
        Ok(doc) => doc,
        Err(err) => return fail_all(batch, &err),
    };
    let mut working = T::clone(&base);
    let mut completions = Vec::with_capacity(batch.len());
    let mut changed = false;
    let mut broken = None;
    for op in batch {
        // The store's changes catch their own closures' panics and roll back; this is the
        // backstop for any other: the working copy may be half-changed, so nothing of this
        // batch is written, and the committer lives on for later writes.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op.apply(&mut working))) {
            Ok(applied) => {
                changed |= applied.changed;
                completions.push(applied.complete);
            }
            Err(panic) => broken = Some(panic_text(&*panic)),
        }
    }
    let outcome = match broken {
        Some(why) => Err(DataError::ChangePanicked(why)),
        None if changed => write(file, &guard, working, encoder),
        None => Ok(()),
    };
    drop(guard);
    if let Err(err) = &outcome {
        tracing::error!(file = %file.label(), error = %err, "data write failed; the file keeps its previous content");
    }
    for complete in completions {
        complete(outcome.as_ref().map(|_| ()));
    }
}

fn write<T: Document>(
    file: &DocFile<T>,
    guard: &crate::lock::LockGuard<'_>,
    doc: T,
    encoder: &mut T::Encoder,
) -> Result<(), DataError> {
    // Each change checked its record's invariants (and a change across records the document's)
    // before it was applied; the whole document is not checked again on every write.
    let _writing = file.writing();
    // Encoded straight into the new file: the document is never held in memory as bytes.
    let mut unencodable = None;
    let written = durable::replace_file_with(file.path(), file.label(), |new| {
        let mut out = crate::output::Output::to_file(new);
        match crate::document::Encoder::encode(encoder, &doc, &mut out) {
            Ok(()) => out.finish(),
            Err(err) if err.is_io() => Err(err.into()),
            Err(err) => {
                let failed = std::io::Error::other(err.to_string());
                unencodable = Some(err);
                Err(failed)
            }
        }
    });
    if let Some(err) = unencodable {
        return Err(DataError::Invalid(format!(
            "cannot encode {}: {err}",
            file.label()
        )));
    }
    let written = written?;
    crate::document::Encoder::written(encoder, &written);
    let generation = guard.bump_generation().map_err(|err| match err {
        // The file was replaced already: its change is there, the counter is not.
        DataError::Io { action, source } => DataError::outcome_unknown(action, source),
        other => other,
    })?;
    file.publish(Arc::new(doc), &written, generation);
    Ok(())
}

/// What a panic said, for the log and the caller.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

fn fail_all<T>(batch: Vec<Box<dyn Operation<T>>>, err: &DataError) {
    tracing::error!(error = %err, operations = batch.len(), "data write refused");
    for op in batch {
        op.fail(err.duplicate());
    }
}
