//! A session's pause: until a time comes, or until its cycle stops. Every running bot spends
//! nearly all its life in one between two posts, so it is a plain future of the two things it
//! waits for (192 bytes) rather than an `async fn` around `select!` (264 bytes with its own
//! state), measured with `-Zprint-type-sizes` (BENCHMARKS.md, cost). It never decides how long
//! to wait; its callers do.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use herald_jobs::clock;
use tokio::time::Sleep;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

pin_project_lite::pin_project! {
    /// Resolves to true when the time came, false when the cycle stopped first. `sleep` is
    /// `None` for a zero pause, which only yields: rounded to the clock's next tick it would
    /// cost a tenant without delays a second a post.
    pub(crate) struct Pause<'a> {
        #[pin]
        stopped: WaitForCancellationFuture<'a>,
        #[pin]
        sleep: Option<Sleep>,
        yielded: bool,
    }
}

impl<'a> Pause<'a> {
    /// A pause to the clock's next tick at least `d` away.
    pub(crate) fn new(stop: &'a CancellationToken, d: Duration) -> Pause<'a> {
        Pause {
            stopped: stop.cancelled(),
            sleep: (!d.is_zero()).then(|| tokio::time::sleep_until(clock::tick_after(d))),
            yielded: false,
        }
    }
}

impl Future for Pause<'_> {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let this = self.project();
        if this.stopped.poll(cx).is_ready() {
            return Poll::Ready(false);
        }
        match this.sleep.as_pin_mut() {
            Some(sleep) => sleep.poll(cx).map(|()| true),
            None if *this.yielded => Poll::Ready(true),
            None => {
                *this.yielded = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}
