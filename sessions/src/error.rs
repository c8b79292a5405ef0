//! Why a pool operation was refused or failed. Each variant maps to one HTTP status in the API
//! (the mapping lives there); messages are sentences an operator or tenant can act on and never
//! contain a server path or an api_hash.

use herald_data::DataError;

/// Not `#[non_exhaustive]`, like `DataError`: the API's mapping names every variant.
#[derive(Debug, thiserror::Error)]
pub enum SessionsError {
    #[error("User not found")]
    UserNotFound,

    /// The tenant burned through its replacements; only an admin lifts it.
    #[error("bot is suspended: {reason}")]
    Suspended { reason: String },

    /// Nothing could be assigned; nothing was consumed.
    #[error("no session available: {reason}")]
    NoSessions { reason: String },

    #[error("session {0} not found")]
    SessionNotFound(String),

    /// The operation conflicts with the session's or tenant's current state.
    #[error("{0}")]
    Conflict(String),

    /// A name or value that is not acceptable at all.
    #[error("{0}")]
    Invalid(String),

    /// An upload expands past what Herald accepts.
    #[error("{0}")]
    TooLarge(String),

    #[error("API pair {api_id} is in use by {usage} session(s)")]
    PairInUse { api_id: String, usage: usize },

    #[error("{action}: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    Data(#[from] DataError),
}

impl SessionsError {
    pub(crate) fn io(action: impl Into<String>, source: std::io::Error) -> Self {
        SessionsError::Io {
            action: action.into(),
            source,
        }
    }
}

impl From<herald_data::UpdateError<SessionsError>> for SessionsError {
    fn from(err: herald_data::UpdateError<SessionsError>) -> Self {
        match err {
            herald_data::UpdateError::Data(DataError::UserNotFound { .. }) => {
                SessionsError::UserNotFound
            }
            herald_data::UpdateError::Data(err) => SessionsError::Data(err),
            herald_data::UpdateError::Rejected(err) => err,
        }
    }
}
