//! Herald's jobs: the two job types, the queue that carries them, and the coordination state the
//! scheduler, workers and API share. Each has a Redis backend (several processes) and an
//! in-process one (`herald all`), behind one API.
//!
//! # Layout
//! - [`command`], [`cycle`]: the job types, one file each.
//! - [`queue`]: push and consume jobs.
//! - [`coord`]: leases, permits, schedule, cycles in flight, checkpoints, pauses, replies.
//! - [`clock`]: "now" that follows tokio's (pausable) clock.
//! - [`backoff`]: the one retry policy (exponential, with jitter) every retry loop uses.
//!
//! Durable truth is not kept here: losing Redis loses only what the coord module lists.

pub mod backoff;
pub mod clock;
pub mod command;
pub mod coord;
pub mod cycle;
mod error;
pub mod queue;
#[cfg(feature = "testing")]
pub mod testing;

pub use backoff::Backoff;
pub use command::{Command, CommandAction, CommandOutcome, CommandReply, RefusalReason};
pub use coord::{
    CancelOutcome, Claim, CoordConfig, Coordination, CycleState, Hold, InFlight, LEADER_KEY,
    Liveness, Name, Presence, RedisConfig, ReplyWaiter, Role,
};
pub use cycle::Cycle;
pub use error::{HandlerError, JobsError};
pub use queue::{ConsumerLimits, Handler, Queue, QueueDepth, handler};
