//! Herald's notion of "now": wall-clock time that advances with tokio's clock, anchored once per
//! process. Production sees plain UTC time; tests under `tokio::time::pause()` see time move
//! only when they advance it, so schedules and waits can be tested without sleeping.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};

static ANCHOR: OnceLock<(DateTime<Utc>, tokio::time::Instant)> = OnceLock::new();

pub fn now() -> DateTime<Utc> {
    let (wall, instant) = ANCHOR.get_or_init(|| (Utc::now(), tokio::time::Instant::now()));
    *wall + (tokio::time::Instant::now() - *instant)
}

/// How long until `at` (zero if it has passed).
pub fn until(at: DateTime<Utc>) -> std::time::Duration {
    (at - now()).to_std().unwrap_or_default()
}

/// The grid that waits are rounded up to: a second. Posts are seconds apart (at least
/// `HERALD_MIN_DELAY_BETWEEN_POSTS`, 5 s by default), so a wait that ends up to a second late
/// costs a tenant nothing it would notice; a finer grid cost a tenth more CPU for every running
/// bot (10,000 bots: runtime threads 4.6-4.9 CPU s/min at 100 ms, 3.0-3.5 at 1 s; BENCHMARKS.md,
/// cost).
pub const TICK: std::time::Duration = std::time::Duration::from_millis(1000);

/// The first [`TICK`] boundary at least `d` from now. Tens of thousands of bots each sleeping to
/// their own millisecond wake the runtime thousands of times a second; rounded to a shared grid
/// they wake together, once a second, and each wait ends at most a tick late, never early
/// (BENCHMARKS.md, cost).
pub fn tick_after(d: std::time::Duration) -> tokio::time::Instant {
    let (_, origin) = ANCHOR.get_or_init(|| (Utc::now(), tokio::time::Instant::now()));
    let due = tokio::time::Instant::now() + d;
    let since = due.saturating_duration_since(*origin).as_nanos();
    let tick = TICK.as_nanos();
    let rounded = since.div_ceil(tick) * tick;
    *origin + std::time::Duration::from_nanos(u64::try_from(rounded).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_wait_ends_on_the_next_tick_never_before_it_is_due() {
        let origin = tick_after(std::time::Duration::ZERO);
        tokio::time::advance(std::time::Duration::from_millis(30)).await;
        let now = tokio::time::Instant::now();
        for ms in [0, 1, 70, 71, 5_000] {
            let d = std::time::Duration::from_millis(ms);
            let at = tick_after(d);
            assert!(at >= now + d, "{ms} ms: woke early");
            assert!(at - (now + d) < TICK, "{ms} ms: more than a tick late");
            assert_eq!(
                (at - origin).as_nanos() % TICK.as_nanos(),
                0,
                "{ms} ms: off the grid"
            );
        }
    }
}
