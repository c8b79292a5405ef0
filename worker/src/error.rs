//! Why a session's run ended before its share of the cycle was posted. Its text goes into the
//! tenant's log as it is ("Session … skipped this cycle: <why>"), so each message is a sentence
//! a tenant can read, and a variant wraps only errors that display no path and no key.

use chrono::{DateTime, Utc};
use herald_jobs::JobsError;
use herald_session_file::SessionFileError;
use herald_sessions::SessionsError;
use herald_telegram::SendError;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// Coordination could not say whether the session waits out a flood wait.
    #[error("cannot read its flood-wait state: {0}")]
    PauseUnknown(JobsError),
    /// The session waits out a flood wait longer than a cycle may wait.
    #[error("flood wait until {}", .0.format("%H:%M:%S"))]
    FloodWait(DateTime<Utc>),
    /// The pool cannot give the session's file or its API pair.
    #[error("{0}")]
    Pool(SessionsError),
    #[error("session file unusable: {0}")]
    SessionFile(SessionFileError),
    /// Telegram says the session is dead; it has been quarantined.
    #[error("session is dead ({code})")]
    Dead { code: String },
    #[error("cannot connect: {0}")]
    Connect(SendError),
    #[error("the connection broke {0} times")]
    ConnectionBroke(u32),
    /// The cycle stopped while the run waited to connect again.
    #[error("stopped")]
    Stopped,
}
