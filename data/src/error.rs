//! Errors of the data manager: what went wrong, with which file, and where.
//!
//! Paths in these errors are relative to the data directory (`data/users.json`), so an error that
//! reaches a log or an HTTP answer never shows where the deployment lives on disk.

use std::io;

/// Everything the data manager can refuse or fail with.
/// Not `#[non_exhaustive]`: the crates of this workspace match it whole, so a new variant is a
/// compile error wherever it must be mapped (the API's statuses), not a silent wildcard.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A data file exists but is not what it should be: never overwritten, the process refuses to
    /// start (at open) or goes read-only (while running).
    #[error("{file} is corrupt{}: {reason}", at(*.position))]
    Corrupt {
        file: String,
        /// Line and column (1-based) where parsing stopped; `None` for a record that parsed but
        /// breaks an invariant.
        position: Option<(usize, usize)>,
        reason: String,
    },

    /// Writes are refused because a data file was found corrupt while running.
    #[error("the data store is read-only: {reason}")]
    ReadOnly { reason: String },

    /// An I/O step failed; `action` says which (`write data/users.json`).
    #[error("could not {action}: {source}")]
    Io {
        action: String,
        #[source]
        source: io::Error,
    },

    /// The user the change was addressed to has no record.
    #[error("user {user_id} not found")]
    UserNotFound { user_id: String },

    /// A change would have left a record that breaks an invariant; nothing was written.
    #[error("invalid change: {0}")]
    Invalid(String),

    /// The writer thread is gone (the store is shutting down).
    #[error("the data store is shut down")]
    Closed,

    /// A change's own code panicked; that change was dropped, nothing of it was written.
    #[error("the change failed inside its own code: {0}")]
    ChangePanicked(String),

    /// A step after the new content replaced the file failed (`action`): the change is on
    /// disk, but whether it survives a power cut is not known. Read the state back.
    #[error("could not {action} after the file was replaced: {source}")]
    OutcomeUnknown {
        action: String,
        #[source]
        source: io::Error,
    },
}

impl DataError {
    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Self {
        DataError::Io {
            action: action.into(),
            source,
        }
    }

    pub(crate) fn corrupt(file: &str, err: &serde_json::Error) -> Self {
        DataError::Corrupt {
            file: file.to_owned(),
            position: Some((err.line(), err.column())),
            reason: without_position(&err.to_string()),
        }
    }

    /// A copy for each of several waiters on one failed write (`io::Error` is not `Clone`).
    pub(crate) fn duplicate(&self) -> DataError {
        match self {
            DataError::Corrupt {
                file,
                position,
                reason,
            } => DataError::Corrupt {
                file: file.clone(),
                position: *position,
                reason: reason.clone(),
            },
            DataError::ReadOnly { reason } => DataError::ReadOnly {
                reason: reason.clone(),
            },
            DataError::Io { action, source } => DataError::Io {
                action: action.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
            DataError::UserNotFound { user_id } => DataError::UserNotFound {
                user_id: user_id.clone(),
            },
            DataError::Invalid(reason) => DataError::Invalid(reason.clone()),
            DataError::Closed => DataError::Closed,
            DataError::ChangePanicked(why) => DataError::ChangePanicked(why.clone()),
            DataError::OutcomeUnknown { action, source } => DataError::OutcomeUnknown {
                action: action.clone(),
                source: io::Error::new(source.kind(), source.to_string()),
            },
        }
    }

    pub(crate) fn outcome_unknown(action: impl Into<String>, source: io::Error) -> Self {
        DataError::OutcomeUnknown {
            action: action.into(),
            source,
        }
    }

    /// True for failures a caller may retry later unchanged (disk full, read-only store).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            DataError::ReadOnly { .. }
                | DataError::Io { .. }
                | DataError::Closed
                | DataError::OutcomeUnknown { .. }
        )
    }
}

/// The outcome of a change addressed to one user: the data manager's own refusal, or the caller's.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError<E> {
    #[error(transparent)]
    Data(#[from] DataError),
    /// The closure refused the change; nothing was written.
    #[error("change refused")]
    Rejected(E),
}

impl<E> UpdateError<E> {
    /// The data manager's error, or the caller's own mapped into one.
    pub fn map_rejected<F>(self, f: impl FnOnce(E) -> F) -> UpdateError<F> {
        match self {
            UpdateError::Data(e) => UpdateError::Data(e),
            UpdateError::Rejected(e) => UpdateError::Rejected(f(e)),
        }
    }
}

/// serde_json appends " at line L column C" to its messages; the position has fields of its own.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

fn at(position: Option<(usize, usize)>) -> String {
    match position {
        Some((line, column)) => format!(" at line {line}, column {column}"),
        None => String::new(),
    }
}
