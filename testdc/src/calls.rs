//! Which call a client message is: service messages and the API calls the DC knows.
//!
//! Owns reading request bodies into [`Call`]s, unwrapping `invokeWithLayer` and
//! `initConnection` down to the query they carry (read to the end with the DC's own
//! deserializer, trap 4). Must never answer: a call it does not know becomes
//! [`Api::Unsupported`] with its constructor id, for `dispatch` to refuse by name.

use grammers_tl_types::{self as tl, Deserializable, Identifiable};

use crate::envelope::RawQuery;
use crate::error::ProtocolError;

/// `invokeWithLayer(initConnection(query))` nests two levels; a few more are tolerated.
const MAX_WRAPPING: usize = 4;

/// A message from the client, by what it asks.
#[derive(Debug)]
pub(crate) enum Call {
    /// `msgs_ack`: parsed, then ignored (the DC re-sends nothing).
    Ack,
    /// `ping` or `ping_delay_disconnect` (with its delay in seconds).
    Ping {
        ping_id: i64,
        disconnect_delay: Option<i32>,
    },
    /// `get_future_salts`.
    FutureSalts { num: i32 },
    /// Anything else: an API call.
    Api(Api),
}

/// The API calls the DC answers, and the one it refuses.
#[derive(Debug)]
pub(crate) enum Api {
    GetConfig,
    GetState,
    ResolveUsername(String),
    GetDialogs,
    SendMessage {
        peer: tl::enums::InputPeer,
        random_id: i64,
        text: String,
    },
    ForwardMessages {
        from_peer: tl::enums::InputPeer,
        to_peer: tl::enums::InputPeer,
        ids: Vec<i32>,
        random_ids: Vec<i64>,
    },
    /// A constructor the DC does not serve.
    Unsupported(u32),
}

impl Api {
    /// A short name for logs and stats.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::GetConfig => "help.getConfig",
            Self::GetState => "updates.getState",
            Self::ResolveUsername(_) => "contacts.resolveUsername",
            Self::GetDialogs => "messages.getDialogs",
            Self::SendMessage { .. } => "messages.sendMessage",
            Self::ForwardMessages { .. } => "messages.forwardMessages",
            Self::Unsupported(id) => tl::name_for_id(*id),
        }
    }
}

fn constructor(body: &[u8]) -> Result<u32, ProtocolError> {
    body.get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(ProtocolError::Layout("body shorter than a constructor id"))
}

/// Reads one message body (already inflated, outside any container).
pub(crate) fn parse(body: &[u8]) -> Result<Call, ProtocolError> {
    use tl::functions as f;
    let rest = &body[4.min(body.len())..];
    Ok(match constructor(body)? {
        tl::types::MsgsAck::CONSTRUCTOR_ID => {
            tl::types::MsgsAck::from_bytes(rest)?;
            Call::Ack
        }
        f::Ping::CONSTRUCTOR_ID => Call::Ping {
            ping_id: f::Ping::from_bytes(rest)?.ping_id,
            disconnect_delay: None,
        },
        f::PingDelayDisconnect::CONSTRUCTOR_ID => {
            let ping = f::PingDelayDisconnect::from_bytes(rest)?;
            Call::Ping {
                ping_id: ping.ping_id,
                disconnect_delay: Some(ping.disconnect_delay),
            }
        }
        f::GetFutureSalts::CONSTRUCTOR_ID => Call::FutureSalts {
            num: f::GetFutureSalts::from_bytes(rest)?.num,
        },
        _ => Call::Api(parse_api(body, 0)?),
    })
}

fn parse_api(body: &[u8], depth: usize) -> Result<Api, ProtocolError> {
    use tl::functions as f;
    let id = constructor(body)?;
    let rest = &body[4..];
    Ok(match id {
        f::InvokeWithLayer::<RawQuery>::CONSTRUCTOR_ID if depth < MAX_WRAPPING => parse_api(
            &f::InvokeWithLayer::<RawQuery>::from_bytes(rest)?.query.0,
            depth + 1,
        )?,
        f::InitConnection::<RawQuery>::CONSTRUCTOR_ID if depth < MAX_WRAPPING => parse_api(
            &f::InitConnection::<RawQuery>::from_bytes(rest)?.query.0,
            depth + 1,
        )?,
        f::help::GetConfig::CONSTRUCTOR_ID => Api::GetConfig,
        f::updates::GetState::CONSTRUCTOR_ID => Api::GetState,
        f::contacts::ResolveUsername::CONSTRUCTOR_ID => {
            Api::ResolveUsername(f::contacts::ResolveUsername::from_bytes(rest)?.username)
        }
        f::messages::GetDialogs::CONSTRUCTOR_ID => {
            f::messages::GetDialogs::from_bytes(rest)?;
            Api::GetDialogs
        }
        f::messages::SendMessage::CONSTRUCTOR_ID => {
            let send = f::messages::SendMessage::from_bytes(rest)?;
            Api::SendMessage {
                peer: send.peer,
                random_id: send.random_id,
                text: send.message,
            }
        }
        f::messages::ForwardMessages::CONSTRUCTOR_ID => {
            let forward = f::messages::ForwardMessages::from_bytes(rest)?;
            Api::ForwardMessages {
                from_peer: forward.from_peer,
                to_peer: forward.to_peer,
                ids: forward.id,
                random_ids: forward.random_id,
            }
        }
        other => Api::Unsupported(other),
    })
}

#[cfg(test)]
mod tests {
    use grammers_tl_types::Serializable;

    use super::*;

    #[test]
    fn the_first_call_grammers_makes_is_unwrapped() {
        let call = tl::functions::InvokeWithLayer {
            layer: tl::LAYER,
            query: tl::functions::InitConnection {
                api_id: 1,
                device_model: "d".into(),
                system_version: "s".into(),
                app_version: "0.11.0".into(),
                system_lang_code: "en".into(),
                lang_pack: "".into(),
                lang_code: "en".into(),
                proxy: None,
                params: None,
                query: tl::functions::help::GetConfig {},
            },
        };
        assert!(matches!(
            parse(&call.to_bytes()),
            Ok(Call::Api(Api::GetConfig))
        ));
    }

    #[test]
    fn unknown_and_malformed_bodies() {
        let unknown = tl::functions::users::GetUsers { id: vec![] }.to_bytes();
        assert!(matches!(
            parse(&unknown),
            Ok(Call::Api(Api::Unsupported(id))) if id == tl::functions::users::GetUsers::CONSTRUCTOR_ID
        ));
        let mut short = tl::functions::contacts::ResolveUsername {
            username: "name".into(),
            referer: None,
        }
        .to_bytes();
        short.truncate(8);
        assert!(parse(&short).is_err());
        assert!(parse(&[1, 2]).is_err());
        let ping = tl::functions::Ping { ping_id: 7 }.to_bytes();
        assert!(matches!(parse(&ping), Ok(Call::Ping { ping_id: 7, .. })));
    }
}
