//! Herald's one retry policy, for every loop that tries again after a failure: a post's
//! transient failure, a session's connection, the queue's and coordination's Redis
//! connections. The wait starts at `first` and doubles each retry up to `max`; what is slept
//! carries jitter (up to as much again, from `backon`), so sessions or processes that failed
//! together do not all try again at the same instant. This module only computes waits; the
//! caller sleeps, and decides how many retries it allows.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// Reconnecting to Redis (the queue's readers, the pub/sub listener): soon, and at most about
/// every 2 s (4 s with jitter) while it is down.
pub(crate) const REDIS_RETRY: Backoff =
    Backoff::new(Duration::from_millis(100), Duration::from_secs(2));

/// Exponential backoff: `first`, doubled each retry, at most `max` (before jitter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { first, max }
    }

    fn builder(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.first)
            .with_max_delay(self.max.max(self.first))
            .with_factor(2.0)
            .without_max_times()
    }

    /// The wait before retry `retry` (0: the first), without jitter: what a decision or a log
    /// line states.
    pub fn delay(&self, retry: u32) -> Duration {
        self.builder()
            .build()
            .nth(retry as usize)
            .unwrap_or(self.max)
    }

    /// The wait to sleep before retry `retry`: [`Backoff::delay`] with [`jitter`].
    pub fn jittered(&self, retry: u32) -> Duration {
        jitter(self.delay(retry))
    }

    /// Jittered waits one after another, for a loop that retries until it succeeds; start a
    /// new run after a success.
    pub fn waits(&self) -> ExponentialBackoff {
        self.builder().with_jitter().build()
    }
}

/// `wait` plus up to as much again, drawn as backon draws it for [`Backoff::waits`]: what a
/// caller sleeps when a decision has stated the wait.
pub fn jitter(wait: Duration) -> Duration {
    ExponentialBuilder::default()
        .with_min_delay(wait)
        .with_max_delay(wait)
        .with_jitter()
        .build()
        .next()
        .unwrap_or(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn the_wait_doubles_up_to_its_cap() {
        let backoff = Backoff::new(2 * SECOND, 10 * SECOND);
        let delays: Vec<_> = (0..5).map(|retry| backoff.delay(retry)).collect();
        assert_eq!(
            delays,
            [2 * SECOND, 4 * SECOND, 8 * SECOND, 10 * SECOND, 10 * SECOND]
        );
    }

    #[test]
    fn jitter_adds_at_most_the_wait_again_and_varies() {
        let backoff = Backoff::new(SECOND, 8 * SECOND);
        for retry in 0..6 {
            let base = backoff.delay(retry);
            let waits: Vec<_> = (0..50).map(|_| backoff.jittered(retry)).collect();
            assert!(
                waits.iter().all(|w| *w >= base && *w < base * 2),
                "{waits:?}"
            );
            assert!(waits.iter().any(|w| *w != waits[0]), "no jitter: {waits:?}");
        }
        let run: Vec<_> = backoff.waits().take(5).collect();
        for (retry, wait) in run.iter().enumerate() {
            let base = backoff.delay(retry as u32);
            assert!(*wait >= base && *wait < base * 2, "{run:?}");
        }
    }
}
