//! The start/stop command job: the API enqueues it, a worker carries it out and replies.
//! Commands are idempotent (a second start or stop changes nothing), so a redelivery is harmless.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Unique per request; the reply carries it back.
    pub request_id: String,
    pub user_id: String,
    pub action: CommandAction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CommandAction {
    Start {
        sessions_wanted: Option<u32>,
        /// `starter` or `enterprise`.
        execution_mode: Option<String>,
        total_cycle_minutes: Option<u32>,
    },
    Stop,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandReply {
    pub request_id: String,
    pub outcome: CommandOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CommandOutcome {
    Running {
        sessions: Vec<String>,
        execution_mode: String,
    },
    Stopping,
    Stopped,
    Refused {
        reason: RefusalReason,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    NoSessions,
    Suspended,
    UserNotFound,
    Invalid,
    Internal,
}

impl Command {
    pub fn new(user_id: impl Into<String>, action: CommandAction) -> Command {
        Command {
            request_id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.into(),
            action,
        }
    }
}
