//! The data manager: the only code that opens `users.json`, `stats.json`, `api_pairs.json`, the
//! plan group files and the tenant logs under a Herald data directory.
//!
//! Its promise: the state files are never torn and never lose an update, whatever number of
//! herald processes share the directory and whenever one of them is killed.
//!
//! # Layout
//! - [`store`]: [`Store`], the entry point: cached reads, queued changes, counters, logs.
//! - `change`: a change applied with rollback, queued, and its [`Pending`] handle.
//! - `committer`: the group commit thread per file (thread-level lock, one durable write per batch).
//! - `doc_file`: a file's parsed copy and its staleness check; read-only on corruption.
//! - `document`: what a file's document is ([`Document`]) and how it becomes bytes ([`Encoder`]).
//! - `lock`: the process-level `flock` beside each file and its write count.
//! - `durable`: temp file, fsync, rename, fsync directory.
//! - `counters`: batched `add_stats` with flush tickets.
//! - [`users`], [`stats`], [`pairs`]: the typed records, exactly the old backend's fields plus
//!   Herald's, unknown fields kept.
//! - [`plan_groups`], `tenant_log`, [`layout`], [`names`].
//!
//! Nothing here knows about Telegram, queues or HTTP.

mod change;
mod committer;
mod counters;
mod doc_file;
mod document;
mod durable;
mod error;
pub mod layout;
mod lock;
mod log_files;
pub mod names;
mod output;
pub mod pairs;
pub mod plan_groups;
pub mod stats;
mod stats_encoder;
pub mod store;
mod tenant_log;
pub mod users;
mod users_change;
pub mod users_encoder;

pub use change::Pending;
pub use counters::{FlushTicket, HURRIED_FLUSH_GAP};
pub use document::{Document, Encoder, Pretty};
pub use error::{DataError, UpdateError};
pub use layout::{Layout, SessionFolder};
pub use names::{UserId, check_session_name};
pub use pairs::{ApiHash, ApiPair, ApiPairsDoc};
pub use plan_groups::{Plan, PlanGroups};
pub use stats::{StatsDelta, StatsDoc, UserStats};
pub use store::{DEFAULT_STATS_FLUSH_INTERVAL, Store, StoreConfig};
pub use tenant_log::Level;
pub use users::{BanRecord, BlockedGroup, BotStatus, ExecutionMode, PostKind, User, UsersDoc};
