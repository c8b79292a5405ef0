//! Why a queue or coordination call failed. Redis URLs (which may hold a password) never appear
//! in these messages.

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobsError {
    /// Redis cannot be reached or answered with an error; retry later. The connection manager
    /// reconnects by itself.
    #[error("Redis is unavailable: {0}")]
    Unavailable(String),

    /// A job or reply could not be encoded or decoded.
    #[error("malformed job data: {0}")]
    Malformed(String),

    /// The queue or coordination has been shut down.
    #[error("the queue is shut down")]
    Closed,
}

impl From<redis::RedisError> for JobsError {
    fn from(err: redis::RedisError) -> Self {
        // RedisError's Display can include the address but never the URL's password.
        JobsError::Unavailable(err.to_string())
    }
}

impl From<serde_json::Error> for JobsError {
    fn from(err: serde_json::Error) -> Self {
        JobsError::Malformed(err.to_string())
    }
}

/// What a job handler reports when it fails (`JobsError` is this crate's own failures). Retry
/// intent lives in the type: a wait is never expressed as an error (handlers reschedule through
/// coordination and return `Ok`).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth another try after `after`; bounded by the consumer's attempt limit.
    #[error("retry in {after:?}: {reason}")]
    Retry {
        after: std::time::Duration,
        reason: String,
    },
    /// Never worth another try.
    #[error("abandoned: {reason}")]
    Abort { reason: String },
}
