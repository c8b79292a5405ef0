//! The per-user cycle job: "post this user's cycle number `cycle_no`". The scheduler emits it
//! when the user is due; a worker claims it under a lease. A duplicate or stale one is dropped
//! at the claim, so delivery need not be exactly-once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cycle {
    pub user_id: String,
    pub cycle_no: u64,
    /// The `next_run_at` that made it due (for the lag metric).
    pub due_at: DateTime<Utc>,
}
