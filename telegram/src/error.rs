//! Classified send failures and the one table that classifies Telegram's error names.
//!
//! Owns [`SendError`], the only thing a worker looks at to decide what to do
//! after a failed call, and [`classify_rpc`], shared by the grammers adapter and
//! the simulator so both speak the same classes. Must never carry free text from
//! Telegram beyond the error *name* (no message bodies, no peer data).

use serde::{Deserialize, Serialize};

/// Why a connect, send or check failed, reduced to what a worker acts on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SendError {
    /// 420 FLOOD_WAIT_X / FLOOD_PREMIUM_WAIT_X: this account waits `secs` before its next call.
    #[error("flood wait: the account must wait {secs} s")]
    FloodWait { secs: u32 },
    /// 420 SLOWMODE_WAIT_X: this chat takes the account's next post in `secs`.
    #[error("slow mode: the chat accepts the next post in {secs} s")]
    SlowMode { secs: u32 },
    /// 400 PEER_FLOOD: the account is limited for spam for an undefined time.
    #[error("peer flood: Telegram limited the account for spam")]
    PeerFlood,
    /// This account may not write in this chat (the chat's admins decided).
    #[error("writing is forbidden in this chat ({code})")]
    WriteForbidden { code: String },
    /// The chat (or the linked message's channel) does not exist or is not visible.
    #[error("chat not found")]
    TargetNotFound,
    /// The session can never be used again; quarantine it.
    #[error("session is dead ({code})")]
    SessionDead { code: String },
    /// Network failure or timeout; the same call may succeed later. The request may have
    /// reached Telegram (a timeout): a re-send must carry the same random id.
    #[error("transient failure (network or timeout)")]
    Transient,
    /// The connection broke before this call: nothing went out. The caller reconnects and
    /// tries again; this is not an attempt and counts as none.
    #[error("not sent: the connection is broken")]
    NotSent,
    /// Anything else, named by Telegram's error name.
    #[error("Telegram error {code}")]
    Other { code: String },
}

impl SendError {
    /// A stable snake_case name of the class, for metrics and log fields.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::FloodWait { .. } => "flood_wait",
            Self::SlowMode { .. } => "slow_mode",
            Self::PeerFlood => "peer_flood",
            Self::WriteForbidden { .. } => "write_forbidden",
            Self::TargetNotFound => "target_not_found",
            Self::SessionDead { .. } => "session_dead",
            Self::Transient => "transient",
            Self::NotSent => "not_sent",
            Self::Other { .. } => "other",
        }
    }

    /// How Telegram says this: `(code, name)` as an `rpc_error` carries them, for a server
    /// that speaks for the world model (Herald's test DC). [`classify_rpc`] reads it back to
    /// the same class. A transient failure or one that was never sent has no answer (`None`):
    /// the server stays silent.
    pub fn to_rpc(&self) -> Option<(i32, String)> {
        Some(match self {
            Self::FloodWait { secs } => (420, format!("FLOOD_WAIT_{secs}")),
            Self::SlowMode { secs } => (420, format!("SLOWMODE_WAIT_{secs}")),
            Self::PeerFlood => (400, "PEER_FLOOD".into()),
            Self::WriteForbidden { code } => (403, code.clone()),
            Self::TargetNotFound => (400, "CHANNEL_INVALID".into()),
            Self::SessionDead { code } if code == "AUTH_KEY_DUPLICATED" => (406, code.clone()),
            Self::SessionDead { code } => (401, code.clone()),
            Self::Other { code } => (400, code.clone()),
            Self::Transient | Self::NotSent => return None,
        })
    }
}

/// Telegram sends no number with these only by mistake; wait long rather than hammer.
const FLOOD_WAIT_WITHOUT_VALUE_SECS: u32 = 60;

/// Error names meaning this account may not write in this chat.
const WRITE_FORBIDDEN: &[&str] = &[
    "USER_BANNED_IN_CHANNEL",
    "CHAT_WRITE_FORBIDDEN",
    "CHAT_SEND_PLAIN_FORBIDDEN",
    "CHANNEL_PRIVATE",
    "CHAT_RESTRICTED",
    "CHAT_ADMIN_REQUIRED",
    "CHAT_GUEST_SEND_FORBIDDEN",
    "CHANNEL_PUBLIC_GROUP_NA",
    "USER_NOT_PARTICIPANT",
    "TOPIC_CLOSED",
];

/// Error names meaning the chat cannot be found from this account.
const TARGET_NOT_FOUND: &[&str] = &[
    "USERNAME_NOT_OCCUPIED",
    "USERNAME_INVALID",
    "PEER_ID_INVALID",
    "CHANNEL_INVALID",
    "CHAT_ID_INVALID",
];

/// Error names meaning the session is over. FROZEN_* are Telegram's frozen
/// accounts (read-only until appeal): dead for posting, and the code lets the
/// caller file the session as frozen rather than banned.
const SESSION_DEAD: &[&str] = &[
    "AUTH_KEY_UNREGISTERED",
    "AUTH_KEY_INVALID",
    "AUTH_KEY_PERM_EMPTY",
    "AUTH_KEY_DUPLICATED",
    "SESSION_REVOKED",
    "SESSION_EXPIRED",
    "USER_DEACTIVATED",
    "USER_DEACTIVATED_BAN",
    "FROZEN_METHOD_INVALID",
    "FROZEN_PARTICIPANT_MISSING",
];

/// Server-side trouble that a later retry may not meet.
const TRANSIENT: &[&str] = &[
    "TIMEOUT",
    "RPC_CALL_FAIL",
    "RPC_MCGET_FAIL",
    "INTERDC_CALL_ERROR",
    "INTERDC_CALL_RICH_ERROR",
    "WORKER_BUSY_TOO_LONG_RETRY",
    "MSG_WAIT_FAILED",
    "MSG_WAIT_TIMEOUT",
    "HISTORY_GET_FAILED",
    "MEMBER_OCCUPY_PRIMARY_LOC_FAILED",
    "PERSISTENT_TIMESTAMP_OUTDATED",
];

/// The classification table: a Telegram RPC error name (digits already split
/// off into `value`, as grammers does for `FLOOD_WAIT_31`) to its class.
pub fn classify_rpc(name: &str, value: Option<u32>) -> SendError {
    let name = name.trim();
    match name {
        "FLOOD_WAIT" | "FLOOD_PREMIUM_WAIT" => SendError::FloodWait {
            secs: value.unwrap_or(FLOOD_WAIT_WITHOUT_VALUE_SECS),
        },
        "SLOWMODE_WAIT" => SendError::SlowMode {
            secs: value.unwrap_or(FLOOD_WAIT_WITHOUT_VALUE_SECS),
        },
        "PEER_FLOOD" => SendError::PeerFlood,
        _ if WRITE_FORBIDDEN.contains(&name) || is_send_kind_forbidden(name) => {
            SendError::WriteForbidden { code: name.into() }
        }
        _ if TARGET_NOT_FOUND.contains(&name) => SendError::TargetNotFound,
        _ if SESSION_DEAD.contains(&name) => SendError::SessionDead { code: name.into() },
        _ if TRANSIENT.contains(&name) => SendError::Transient,
        _ => SendError::Other { code: name.into() },
    }
}

/// Like [`classify_rpc`], with the numeric code: a 5xx or negative code that the
/// name table does not know is the server's trouble, hence [`SendError::Transient`].
pub fn classify_rpc_with_code(code: i32, name: &str, value: Option<u32>) -> SendError {
    match classify_rpc(name, value) {
        SendError::Other { .. } if !(0..500).contains(&code) => SendError::Transient,
        class => class,
    }
}

/// CHAT_SEND_PHOTOS_FORBIDDEN, CHAT_SEND_GIFS_FORBIDDEN, ...: the chat forbids
/// that kind of message to this account.
fn is_send_kind_forbidden(name: &str) -> bool {
    name.starts_with("CHAT_SEND_") && name.ends_with("_FORBIDDEN")
}

/// Failures setting up a backend (scenario files, journal, simulator state),
/// as opposed to a classified [`SendError`] from a call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelegramError {
    /// The scenario file is unreadable or invalid; the message says where.
    #[error("simulator scenario: {0}")]
    Scenario(String),
    /// The delivery journal could not be opened, written or read.
    #[error("delivery journal: {0}")]
    Journal(#[source] std::io::Error),
    /// A journal line is not valid JSON of the expected shape.
    #[error("delivery journal line {line}: {reason}")]
    JournalLine { line: usize, reason: String },
    /// The simulator's shared state directory could not be used.
    #[error("simulator state: {0}")]
    State(#[source] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_issue_error_name_has_its_class() {
        let table: &[(&str, Option<u32>, SendError)] = &[
            ("FLOOD_WAIT", Some(31), SendError::FloodWait { secs: 31 }),
            (
                "FLOOD_PREMIUM_WAIT",
                Some(5),
                SendError::FloodWait { secs: 5 },
            ),
            ("SLOWMODE_WAIT", Some(10), SendError::SlowMode { secs: 10 }),
            ("PEER_FLOOD", None, SendError::PeerFlood),
            ("USERNAME_NOT_OCCUPIED", None, SendError::TargetNotFound),
            (
                "Some_NEW_ERROR",
                None,
                SendError::Other {
                    code: "Some_NEW_ERROR".into(),
                },
            ),
        ];
        for (name, value, want) in table {
            assert_eq!(&classify_rpc(name, *value), want, "{name}");
        }
        for name in [
            "USER_BANNED_IN_CHANNEL",
            "CHAT_WRITE_FORBIDDEN",
            "CHAT_SEND_PLAIN_FORBIDDEN",
            "CHANNEL_PRIVATE",
            "CHAT_SEND_PHOTOS_FORBIDDEN",
        ] {
            assert_eq!(
                classify_rpc(name, None),
                SendError::WriteForbidden { code: name.into() }
            );
        }
        for name in [
            "AUTH_KEY_UNREGISTERED",
            "SESSION_REVOKED",
            "USER_DEACTIVATED",
            "USER_DEACTIVATED_BAN",
            "AUTH_KEY_DUPLICATED",
        ] {
            assert_eq!(
                classify_rpc(name, None),
                SendError::SessionDead { code: name.into() }
            );
        }
    }

    #[test]
    fn unknown_server_errors_are_transient_only_with_a_server_code() {
        assert_eq!(
            classify_rpc_with_code(500, "SOMETHING_BROKE", None),
            SendError::Transient
        );
        assert_eq!(
            classify_rpc_with_code(-503, "Timeout", None),
            SendError::Transient
        );
        assert_eq!(
            classify_rpc_with_code(400, "MESSAGE_ID_INVALID", None),
            SendError::Other {
                code: "MESSAGE_ID_INVALID".into()
            }
        );
        assert_eq!(
            classify_rpc_with_code(420, "FLOOD_WAIT", Some(3)),
            SendError::FloodWait { secs: 3 }
        );
    }

    #[test]
    fn what_a_server_answers_reads_back_as_the_same_class() {
        let classes = [
            SendError::FloodWait { secs: 12 },
            SendError::SlowMode { secs: 30 },
            SendError::PeerFlood,
            SendError::WriteForbidden {
                code: "CHAT_WRITE_FORBIDDEN".into(),
            },
            SendError::TargetNotFound,
            SendError::SessionDead {
                code: "AUTH_KEY_DUPLICATED".into(),
            },
            SendError::SessionDead {
                code: "USER_DEACTIVATED_BAN".into(),
            },
            SendError::Other {
                code: "MESSAGE_ID_INVALID".into(),
            },
        ];
        for class in classes {
            let (code, name) = class.to_rpc().expect("an answer");
            // grammers splits a trailing number off the name, as Telegram's clients do.
            let (bare, value) = match name.rsplit_once('_') {
                Some((bare, digits)) if digits.chars().all(|c| c.is_ascii_digit()) => {
                    (bare.to_owned(), digits.parse().ok())
                }
                _ => (name.clone(), None),
            };
            assert_eq!(classify_rpc_with_code(code, &bare, value), class, "{name}");
        }
        assert_eq!(SendError::Transient.to_rpc(), None);
        assert_eq!(SendError::NotSent.to_rpc(), None);
    }

    #[test]
    fn serializes_with_a_kind_tag() {
        let json = serde_json::to_string(&SendError::FloodWait { secs: 7 }).ok();
        assert_eq!(json.as_deref(), Some(r#"{"kind":"flood_wait","secs":7}"#));
        let back: Result<SendError, _> = serde_json::from_str(r#"{"kind":"transient"}"#);
        assert_eq!(back.ok(), Some(SendError::Transient));
    }
}
