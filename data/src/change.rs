//! A change's way from the caller's closure to disk: applied to a copy (one user) or with a
//! rollback (a whole document), so a refusal, a broken invariant or a panic leaves the document
//! exactly as it was; queued to the file's committer; and the [`Pending`] handle that resolves
//! once the change is durable. Nothing here writes a file (the committer does).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::committer::{Change, Committer};
use crate::document::Document;
use crate::users::{User, UsersDoc};
use crate::{DataError, UpdateError};

/// Applies `f` to a copy of one user and installs the copy if it changed and validates.
pub(crate) fn apply_to_user<R, E>(
    doc: &mut UsersDoc,
    id: String,
    mut user: User,
    f: impl FnOnce(&mut User) -> Result<R, E>,
) -> Result<(R, bool), UpdateError<E>> {
    // The closure works on a copy: a panic in it leaves the document as it was.
    let value = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut user)))
        .map_err(|panic| {
            UpdateError::Data(DataError::ChangePanicked(crate::committer::panic_text(
                &*panic,
            )))
        })?
        .map_err(UpdateError::Rejected)?;
    let before = doc.users.get(&id).cloned();
    if before.as_deref() == Some(&user) {
        return Ok((value, false));
    }
    doc.check_record(&id, &user)
        .map_err(|e| UpdateError::Data(DataError::Invalid(e)))?;
    // Invariants across records, checked only for sessions this change adds (writes no longer
    // re-check the whole document).
    let had = |s: &String| {
        before
            .as_ref()
            .is_some_and(|b| b.assigned_sessions.contains(s))
    };
    for session in user.assigned_sessions.iter().filter(|s| !had(s)) {
        if doc.holder_of(session).is_some_and(|holder| holder != id) || doc.is_banned(session) {
            return Err(UpdateError::Data(DataError::Invalid(format!(
                "session {session} is held by another user or banned"
            ))));
        }
    }
    doc.users.insert(id, Arc::new(user));
    Ok((value, true))
}

/// Runs a whole-document change with rollback: on refusal or broken invariant the document is
/// left exactly as it was.
pub(crate) fn transact<T: Document, R, E>(
    doc: &mut T,
    f: impl FnOnce(&mut T) -> Result<R, E>,
) -> Result<(R, bool), UpdateError<E>> {
    let backup = doc.clone();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(doc)))
        .map_err(|panic| {
            UpdateError::Data(DataError::ChangePanicked(crate::committer::panic_text(
                &*panic,
            )))
        })
        .and_then(|result| result.map_err(UpdateError::Rejected))
        .and_then(|value| match doc.validate_change(&backup) {
            Ok(()) => Ok(value),
            Err(reason) => Err(UpdateError::Data(DataError::Invalid(reason))),
        });
    match outcome {
        Ok(value) => {
            let changed = !doc.unchanged_since(&backup);
            Ok((value, changed))
        }
        Err(err) => {
            *doc = backup;
            Err(err)
        }
    }
}

/// Queues a change to its file's committer; the [`Pending`] resolves once it is durable or
/// refused (at once, when the committer is gone).
pub(crate) fn submit<T, R, E, F>(committer: &Committer<T>, f: F) -> Pending<R, E>
where
    T: Document,
    R: Send + 'static,
    E: Send + 'static,
    F: FnOnce(&mut T) -> Result<(R, bool), UpdateError<E>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let change = Change::<T, R, UpdateError<E>> {
        apply: Box::new(f),
        reply: Box::new(move |result| {
            let _ = tx.send(match result {
                Ok(value) => Ok(value),
                Err(UpdateError::Rejected(inner)) => Err(inner),
                Err(UpdateError::Data(err)) => Err(UpdateError::Data(err)),
            });
        }),
    };
    if let Err(err) = committer.submit(Box::new(change)) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = tx.send(Err(UpdateError::Data(err)));
        return Pending { rx };
    }
    Pending { rx }
}

/// A change on its way to disk. Await it, or call [`Pending::wait`] outside an async runtime.
#[derive(Debug)]
#[must_use = "a change is only known to be durable once its Pending resolves"]
pub struct Pending<R, E> {
    rx: tokio::sync::oneshot::Receiver<Result<R, UpdateError<E>>>,
}

impl<R, E> Pending<R, E> {
    /// Blocks the thread until the change is durable or refused. Meant for threads outside an
    /// async runtime (commands, tests, benchmarks); inside one, await instead.
    pub fn wait(self) -> Result<R, UpdateError<E>> {
        block_on(self)
    }
}

impl<R, E> Future for Pending<R, E> {
    type Output = Result<R, UpdateError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|received| received.unwrap_or(Err(UpdateError::Data(DataError::Closed))))
    }
}

/// Polls a future on the current thread, parking between wake-ups.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}
