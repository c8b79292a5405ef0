//! grammers' errors mapped onto Herald's classes, and the retry policy that
//! leaves flood waits to the worker.
//!
//! Owns [`classify_invocation_error`] (every `InvocationError` variant, RPC
//! errors through the crate's one table), [`ReturnFloodWaits`], and what a send's
//! answer means ([`delivered`]: RANDOM_ID_DUPLICATE is a delivery; [`source_problem`]:
//! a link post's source failing is not the target's fault). Must never
//! sleep on a 420: grammers' default policy would hide flood waits of up to a
//! minute, and a poster that does not count them cannot schedule around them.

use std::ops::ControlFlow;
use std::time::Duration;

use grammers_mtsender::{InvocationError, RetryContext, RetryPolicy};

use crate::error::classify_rpc_with_code;
use crate::{Delivery, SendError};

/// Maps a grammers error to its class.
pub fn classify_invocation_error(error: &InvocationError) -> SendError {
    match error {
        InvocationError::Rpc(rpc) => classify_rpc_with_code(rpc.code, &rpc.name, rpc.value),
        // The network, the transport framing, a garbled reply, a pool that went
        // away, a failed key exchange: all worth trying again later.
        InvocationError::Io(_)
        | InvocationError::Transport(_)
        | InvocationError::Deserialize(_)
        | InvocationError::Dropped(_)
        | InvocationError::Authentication(_) => SendError::Transient,
        InvocationError::InvalidDc => SendError::Other {
            code: "INVALID_DC".into(),
        },
        InvocationError::Session(_) => SendError::Other {
            code: "SESSION_STORAGE".into(),
        },
    }
}

/// Never retries an RPC error (so 420s come back to the caller at once) and
/// retries an I/O error once, immediately.
///
/// The one I/O retry is safe for sends: grammers re-sends the same serialized
/// request, with the same `random_id`, and Telegram does not deliver a
/// `random_id` twice (it answers RANDOM_ID_DUPLICATE, which the adapter
/// treats as delivered).
#[derive(Debug, Default, Clone, Copy)]
pub struct ReturnFloodWaits;

impl RetryPolicy for ReturnFloodWaits {
    fn should_retry(&self, ctx: &RetryContext) -> ControlFlow<(), Duration> {
        match ctx.error {
            InvocationError::Io(_) if ctx.fail_count.get() == 1 => {
                ControlFlow::Continue(Duration::ZERO)
            }
            _ => ControlFlow::Break(()),
        }
    }
}

/// Telegram answers RANDOM_ID_DUPLICATE when a retried request had already
/// been delivered: that is a delivery (an earlier one's), and reporting it as a
/// failure would make the worker post again.
pub(super) fn delivered(result: Result<(), InvocationError>) -> Result<Delivery, InvocationError> {
    match result {
        Ok(()) => Ok(Delivery::New),
        Err(e) if e.is("RANDOM_ID_DUPLICATE") => Ok(Delivery::Duplicate),
        Err(e) => Err(e),
    }
}

/// A link post's source channel that cannot be found or read is a problem of
/// the post, not of the target chat: it must not make the worker give up the target.
pub(super) fn source_problem(error: SendError) -> SendError {
    match error {
        SendError::TargetNotFound => SendError::Other {
            code: "SOURCE_CHANNEL_NOT_FOUND".into(),
        },
        SendError::WriteForbidden { code } => SendError::Other { code },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use grammers_client::tl;
    use grammers_mtsender::RpcError;

    use super::*;

    /// An RPC error exactly as grammers builds it from Telegram's `rpc_error`.
    fn rpc(code: i32, message: &str) -> InvocationError {
        InvocationError::Rpc(RpcError::from(tl::types::RpcError {
            error_code: code,
            error_message: message.into(),
        }))
    }

    fn forbidden(code: &str) -> SendError {
        SendError::WriteForbidden { code: code.into() }
    }

    fn dead(code: &str) -> SendError {
        SendError::SessionDead { code: code.into() }
    }

    #[test]
    fn classification_table_with_grammers_error_values() {
        let table = [
            (rpc(420, "FLOOD_WAIT_31"), SendError::FloodWait { secs: 31 }),
            (
                rpc(420, "FLOOD_PREMIUM_WAIT_7"),
                SendError::FloodWait { secs: 7 },
            ),
            (
                rpc(420, "SLOWMODE_WAIT_300"),
                SendError::SlowMode { secs: 300 },
            ),
            (rpc(400, "PEER_FLOOD"), SendError::PeerFlood),
            (
                rpc(400, "USER_BANNED_IN_CHANNEL"),
                forbidden("USER_BANNED_IN_CHANNEL"),
            ),
            (
                rpc(403, "CHAT_WRITE_FORBIDDEN"),
                forbidden("CHAT_WRITE_FORBIDDEN"),
            ),
            (
                rpc(403, "CHAT_SEND_PLAIN_FORBIDDEN"),
                forbidden("CHAT_SEND_PLAIN_FORBIDDEN"),
            ),
            (rpc(406, "CHANNEL_PRIVATE"), forbidden("CHANNEL_PRIVATE")),
            (rpc(400, "CHAT_RESTRICTED"), forbidden("CHAT_RESTRICTED")),
            (rpc(400, "USERNAME_NOT_OCCUPIED"), SendError::TargetNotFound),
            (rpc(400, "USERNAME_INVALID"), SendError::TargetNotFound),
            (rpc(400, "PEER_ID_INVALID"), SendError::TargetNotFound),
            (rpc(400, "CHANNEL_INVALID"), SendError::TargetNotFound),
            (
                rpc(401, "AUTH_KEY_UNREGISTERED"),
                dead("AUTH_KEY_UNREGISTERED"),
            ),
            (rpc(401, "SESSION_REVOKED"), dead("SESSION_REVOKED")),
            (rpc(401, "USER_DEACTIVATED"), dead("USER_DEACTIVATED")),
            (
                rpc(401, "USER_DEACTIVATED_BAN"),
                dead("USER_DEACTIVATED_BAN"),
            ),
            (rpc(406, "AUTH_KEY_DUPLICATED"), dead("AUTH_KEY_DUPLICATED")),
            (
                rpc(420, "FROZEN_METHOD_INVALID"),
                dead("FROZEN_METHOD_INVALID"),
            ),
            (rpc(500, "INTERDC_2_CALL_ERROR"), SendError::Transient),
            (rpc(500, "SOMETHING_NEW"), SendError::Transient),
            (rpc(-503, "Timeout"), SendError::Transient),
            (
                rpc(400, "MESSAGE_ID_INVALID"),
                SendError::Other {
                    code: "MESSAGE_ID_INVALID".into(),
                },
            ),
            (
                rpc(400, "CHAT_FORWARDS_RESTRICTED"),
                SendError::Other {
                    code: "CHAT_FORWARDS_RESTRICTED".into(),
                },
            ),
            (
                InvocationError::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
                SendError::Transient,
            ),
            (
                InvocationError::Dropped("runner gone"),
                SendError::Transient,
            ),
            (
                InvocationError::InvalidDc,
                SendError::Other {
                    code: "INVALID_DC".into(),
                },
            ),
        ];
        for (error, want) in table {
            assert_eq!(classify_invocation_error(&error), want, "{error}");
        }
    }

    fn ctx(error: InvocationError, fail_count: u32) -> RetryContext {
        RetryContext {
            fail_count: NonZeroU32::new(fail_count).unwrap_or(NonZeroU32::MIN),
            slept_so_far: Duration::ZERO,
            error,
        }
    }

    #[test]
    fn flood_waits_are_returned_never_slept_on() {
        let policy = ReturnFloodWaits;
        for message in ["FLOOD_WAIT_1", "SLOWMODE_WAIT_5", "FLOOD_PREMIUM_WAIT_2"] {
            assert_eq!(
                policy.should_retry(&ctx(rpc(420, message), 1)),
                ControlFlow::Break(())
            );
        }
        let io = || InvocationError::Io(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(
            policy.should_retry(&ctx(io(), 1)),
            ControlFlow::Continue(Duration::ZERO)
        );
        assert_eq!(policy.should_retry(&ctx(io(), 2)), ControlFlow::Break(()));
    }

    #[test]
    fn a_duplicate_random_id_means_delivered() {
        let dup = InvocationError::Rpc(RpcError::from(tl::types::RpcError {
            error_code: 400,
            error_message: "RANDOM_ID_DUPLICATE".into(),
        }));
        assert_eq!(delivered(Err(dup)).ok(), Some(Delivery::Duplicate));
        assert_eq!(delivered(Ok(())).ok(), Some(Delivery::New));
        assert!(delivered(Err(InvocationError::InvalidDc)).is_err());
    }

    #[test]
    fn source_channel_failures_do_not_blame_the_target() {
        assert_eq!(
            source_problem(SendError::TargetNotFound),
            SendError::Other {
                code: "SOURCE_CHANNEL_NOT_FOUND".into()
            }
        );
        assert_eq!(
            source_problem(SendError::WriteForbidden {
                code: "CHANNEL_PRIVATE".into()
            }),
            SendError::Other {
                code: "CHANNEL_PRIVATE".into()
            }
        );
        assert_eq!(
            source_problem(SendError::FloodWait { secs: 3 }),
            SendError::FloodWait { secs: 3 }
        );
    }
}
