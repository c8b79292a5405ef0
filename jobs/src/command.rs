//! The start/stop command job: the API enqueues it, a worker carries it out and replies.
//! Commands are idempotent (a second start or stop changes nothing), so a redelivery is harmless.

use herald_data::ExecutionMode;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Unique per request; the reply carries it back.
    pub request_id: String,
    pub user_id: String,
    pub action: CommandAction,
}

/// A start or stop, as the tenant asked for it: the API builds it, a worker carries it out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CommandAction {
    Start {
        /// `plan_limits.max_sessions` from the token, if any.
        sessions_wanted: Option<u32>,
        /// On the wire as `users.json` writes it (`starter`, `enterprise`).
        execution_mode: Option<ExecutionMode>,
        total_cycle_minutes: Option<u32>,
    },
    Stop,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandReply {
    pub request_id: String,
    pub outcome: CommandOutcome,
}

/// The worker's answer to a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CommandOutcome {
    Running {
        sessions: Vec<String>,
        execution_mode: ExecutionMode,
    },
    /// A cycle is in flight; the bot stops when it ends.
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
    /// No session could be had (the API answers 409).
    NoSessions,
    /// The tenant is suspended (409).
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Commands and replies already queued when a deployment is upgraded are read by the new
    /// workers and APIs: the typed mode is on the wire as the strings it replaced.
    #[test]
    fn the_execution_mode_travels_as_users_json_writes_it() {
        let queued = r#"{"request_id":"r1","user_id":"u1","action":{"action":"start","sessions_wanted":2,"execution_mode":"starter","total_cycle_minutes":null}}"#;
        let command: Command = serde_json::from_str(queued).unwrap();
        assert_eq!(
            command.action,
            CommandAction::Start {
                sessions_wanted: Some(2),
                execution_mode: Some(ExecutionMode::Starter),
                total_cycle_minutes: None,
            }
        );
        assert_eq!(serde_json::to_string(&command).unwrap(), queued);

        let reply = CommandReply {
            request_id: "r1".into(),
            outcome: CommandOutcome::Running {
                sessions: vec!["a.session".into()],
                execution_mode: ExecutionMode::Enterprise,
            },
        };
        let json = serde_json::to_value(&reply).unwrap();
        assert_eq!(json["outcome"]["execution_mode"], "enterprise");
        assert_eq!(serde_json::from_value::<CommandReply>(json).unwrap(), reply);
        let unknown = queued.replace("starter", "turbo");
        assert!(serde_json::from_str::<Command>(&unknown).is_err());
    }
}
