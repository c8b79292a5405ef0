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
