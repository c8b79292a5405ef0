//! The session pool: Telegram session files an operator provides, API pairs, and the bookkeeping
//! that hands sessions to tenants and takes dead ones back.
//!
//! A session is *assigned* when a tenant's `assigned_sessions` holds it (file in
//! `sessions/assigned/<user_id>/`), *banned* when it is in a `banned_sessions` list (file in
//! `sessions/banned/`), *frozen* when an operator put it in `sessions/frozen/`, and *unused*
//! otherwise (`sessions/unused/`). users.json decides; folders follow. This crate is the only
//! code that moves a session file; it reads and writes users.json only through the data manager.
//!
//! # Layout
//! - [`pool`]: [`Pool`], lazy assignment on start, quarantine and replacement.
//! - `choose`: which session and which pair (least-used with room, ties to the lowest index).
//! - [`admin`]: assign / unassign / ban / release / unsuspend / locate / list by hand.
//! - [`pairs`]: API pairs: add, retire in place, usage, credentials.
//! - [`reconcile`]: folders brought in line with users.json, never deleting.
//! - [`import`]: session files into the pool, validated, 0600, never replacing.
//! - [`folders`]: the folders on disk and moving a file with its journal.
//! - [`health`]: what an admin health check finds, and the port that asks Telegram.

pub mod admin;
mod choose;
mod error;
pub mod folders;
pub mod health;
pub mod import;
pub mod import_zip;
pub mod pairs;
pub mod pool;
pub mod reconcile;

pub use admin::{Located, PoolListing, Verified};
pub use error::SessionsError;
pub use folders::{Folders, Place, Settled};
pub use health::{HealthReport, SessionChecker, SessionHealth};
pub use herald_session_file::SessionFormat;
pub use import::{Imported, MAX_SESSION_FILE_BYTES};
pub use import_zip::ZipImport;
pub use pairs::{PairCredentials, PairInfo};
pub use pool::{Assignment, Pool, PoolConfig, Quarantined};
pub use reconcile::ReconcileReport;
