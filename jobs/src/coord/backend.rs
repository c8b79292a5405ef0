//! What a coordination backend must do, as three traits by concern: leases and permits, the
//! schedule and cycles in flight, and notices (pauses, presence, replies, epoch). The memory
//! and Redis backends implement all three, so the compiler keeps them in step: an operation
//! added here is written for both or nothing builds. The shared suite
//! (`tests/coordination.rs`) holds them to the same behaviour. The methods' meaning is
//! documented once, on [`super::Coordination`], which is all callers see.
//!
//! `async fn` in these traits is fine: they are crate-private and always called on a concrete
//! backend, so each future's `Send` is known where it is awaited.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::presence::Presence;
use super::{CancelOutcome, Claim, Hold, InFlight, Name};
use crate::JobsError;
use crate::command::CommandReply;
use crate::cycle::Cycle;

/// Exclusive leases and counting-semaphore permits.
pub(crate) trait Leases {
    async fn lease_acquire(
        &self,
        key: impl Name,
        holder: impl Name,
        ttl: Duration,
    ) -> Result<bool, JobsError>;
    async fn lease_renew(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, JobsError>;
    async fn renew_holds(&self, holds: &[Hold], ttl: Duration) -> Result<Vec<bool>, JobsError>;
    async fn lease_release(&self, key: &str, holder: &str) -> Result<(), JobsError>;
    async fn lease_renewed_at(&self, key: &str) -> Result<Option<DateTime<Utc>>, JobsError>;
    async fn permit_acquire(
        &self,
        key: impl Name,
        holder: impl Name,
        limit: u32,
        ttl: Duration,
    ) -> Result<bool, JobsError>;
    async fn permit_renew(&self, key: &str, holder: &str, ttl: Duration)
    -> Result<bool, JobsError>;
    async fn permit_release(&self, key: &str, holder: &str) -> Result<(), JobsError>;
    async fn permit_count(&self, key: &str) -> Result<u32, JobsError>;
}

/// The schedule (`next_run_at`), cycles in flight and their checkpoints.
pub(crate) trait Cycles {
    async fn schedule(&self, user: &str, at: DateTime<Utc>) -> Result<(), JobsError>;
    async fn unschedule(&self, user: &str) -> Result<bool, JobsError>;
    async fn next_run(&self, user: &str) -> Result<Option<DateTime<Utc>>, JobsError>;
    async fn earliest(&self) -> Result<Option<DateTime<Utc>>, JobsError>;
    async fn wait_for_change(&self, max: Duration);
    async fn take_due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Cycle>, JobsError>;
    async fn clear_schedule(&self) -> Result<(), JobsError>;
    async fn claim_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: impl Name,
        ttl: Duration,
    ) -> Result<Claim, JobsError>;
    async fn renew_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, JobsError>;
    async fn finish_cycle(
        &self,
        user: &str,
        cycle_no: u64,
        holder: &str,
        next_run_at: Option<DateTime<Utc>>,
    ) -> Result<bool, JobsError>;
    async fn release_cycle(&self, user: &str, cycle_no: u64, holder: &str)
    -> Result<(), JobsError>;
    async fn take_stalled(&self, now: DateTime<Utc>, limit: usize)
    -> Result<Vec<Cycle>, JobsError>;
    async fn in_flight(&self, user: &str) -> Result<Option<InFlight>, JobsError>;
    async fn in_flight_count(&self) -> Result<u64, JobsError>;
    async fn in_flight_users(&self, limit: usize) -> Result<Vec<String>, JobsError>;
    async fn cancel(&self, user: &str) -> Result<CancelOutcome, JobsError>;
    async fn resume(&self, user: &str, at: DateTime<Utc>) -> Result<(), JobsError>;
    async fn checkpoint_put(
        &self,
        user: &str,
        cycle_no: u64,
        key: &str,
        value: &str,
    ) -> Result<(), JobsError>;
    async fn checkpoint_get_all(
        &self,
        user: &str,
        cycle_no: u64,
    ) -> Result<Vec<(String, String)>, JobsError>;
}

/// What processes leave for each other to read: session pauses, announcements, command
/// replies, the epoch.
pub(crate) trait Notices {
    async fn pause_session(&self, session: &str, until: DateTime<Utc>) -> Result<(), JobsError>;
    async fn session_paused_until(&self, session: &str)
    -> Result<Option<DateTime<Utc>>, JobsError>;
    async fn paused_sessions(&self) -> Result<Vec<(String, DateTime<Utc>)>, JobsError>;
    async fn announce(&self, presence: &Presence) -> Result<(), JobsError>;
    async fn presences(&self) -> Result<Vec<Presence>, JobsError>;
    async fn reply(&self, reply: &CommandReply) -> Result<(), JobsError>;
    fn register_waiter(&self, request_id: &str, tx: oneshot::Sender<CommandReply>);
    fn forget_waiter(&self, request_id: &str);
    async fn stored_reply(&self, request_id: &str) -> Result<Option<CommandReply>, JobsError>;
    async fn epoch(&self) -> Result<Option<String>, JobsError>;
    async fn set_epoch(&self, holder: &str) -> Result<(), JobsError>;
}
