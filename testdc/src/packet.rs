//! One client packet in: which key, which session, which salt, which calls.
//!
//! Owns the inbound half of a connection: key lookup (unknown keys and key-exchange
//! attempts get transport error -404), decryption, the salt check (a bad salt refuses
//! the whole packet with `bad_server_salt`), `new_session_created`, and the service
//! messages (acks, pings, salt requests) answered without the world. API calls go to
//! `dispatch`. Must never write to the socket: it returns what to send.

use std::sync::Arc;
use std::time::Duration;

use grammers_tl_types as tl;
use tokio::time::Instant;

use crate::calls::{self, Api, Call};
use crate::conn::{AUTH_KEY_NOT_FOUND, Conn, Outgoing, Step};
use crate::crypto::decrypt_from_client;
use crate::dispatch::{Answer, Dispatch, Later};
use crate::envelope::{RawMessage, parse_plaintext, unpack};
use crate::error::ProtocolError;
use crate::keys::KeyEntry;
use crate::outbox::Reply;
use crate::salts::unix_now;
use crate::shared::bump;

/// Sessions one connection may open (grammers opens one per connection).
const MAX_SESSIONS: usize = 64;

/// The key a packet names, or what to do instead of reading it.
enum Keyed {
    Known(i64, Arc<KeyEntry>),
    Refuse(Step),
}

impl Conn {
    pub(crate) fn on_frame(&mut self, frame: &[u8]) -> Result<Step, ProtocolError> {
        if self.silent() {
            return Ok(Step::Nothing);
        }
        let (key_id, entry) = match self.key_of(frame)? {
            Keyed::Known(key_id, entry) => (key_id, entry),
            Keyed::Refuse(step) => return Ok(step),
        };
        let plaintext = decrypt_from_client(entry.key.expose(), frame)?;
        let envelope = parse_plaintext(&plaintext)?;
        let now = unix_now();
        let salts = &self.shared.salts;
        let session_id = envelope.session_id;
        let top = envelope.message;
        if !salts.is_valid(key_id, envelope.salt, now) {
            // The whole packet is refused; grammers re-sends every request it carried.
            let bad = tl::enums::BadMsgNotification::BadServerSalt(tl::types::BadServerSalt {
                bad_msg_id: top.msg_id,
                bad_msg_seqno: top.seq_no,
                error_code: 48,
                new_server_salt: salts.current(key_id, now),
            });
            let replies = vec![Reply::object(&bad, false, true)];
            return Ok(Step::Reply {
                session_id,
                replies,
            });
        }
        let mut replies = Vec::new();
        if !self.sessions.contains(&session_id) {
            if self.sessions.len() >= MAX_SESSIONS {
                return Err(ProtocolError::Layout("too many sessions on one connection"));
            }
            self.sessions.insert(session_id);
            let created = tl::enums::NewSession::Created(tl::types::NewSessionCreated {
                first_msg_id: top.msg_id,
                unique_id: rand::random(),
                server_salt: salts.current(key_id, now),
            });
            // First in its container: it resets grammers' salts, so it must come before
            // any future_salts in the same packet.
            replies.push(Reply::object(&created, true, false));
        }
        for message in unpack(top)? {
            self.on_message(key_id, session_id, now, message, &mut replies)?;
        }
        Ok(Step::Reply {
            session_id,
            replies,
        })
    }

    /// The connection's key from a packet's auth_key_id, learnt from the first packet.
    fn key_of(&mut self, frame: &[u8]) -> Result<Keyed, ProtocolError> {
        let key_id = frame
            .get(..8)
            .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .ok_or(ProtocolError::Layout("frame shorter than an auth_key_id"))?;
        if key_id == 0 {
            // req_pq_multi: the client wants a new key, which only Telegram can make.
            bump(&self.shared.counters.key_exchanges_refused);
            return Ok(Keyed::Refuse(Step::CloseWith(&AUTH_KEY_NOT_FOUND)));
        }
        match &self.key {
            Some((known, entry)) if *known == key_id => Ok(Keyed::Known(key_id, Arc::clone(entry))),
            Some(_) => Err(ProtocolError::KeyChanged),
            None => match self.shared.keys.get(key_id) {
                Some(entry) => {
                    self.key = Some((key_id, Arc::clone(&entry)));
                    self.dispatch =
                        Some(Dispatch::new(Arc::clone(&self.shared), Arc::clone(&entry)));
                    Ok(Keyed::Known(key_id, entry))
                }
                None => {
                    bump(&self.shared.counters.unknown_keys);
                    Ok(Keyed::Refuse(Step::CloseWith(&AUTH_KEY_NOT_FOUND)))
                }
            },
        }
    }

    fn on_message(
        &mut self,
        key_id: i64,
        session_id: i64,
        now: i64,
        message: RawMessage,
        replies: &mut Vec<Reply>,
    ) -> Result<(), ProtocolError> {
        match calls::parse(&message.body)? {
            Call::Ack => {}
            Call::Ping {
                ping_id,
                disconnect_delay,
            } => {
                let pong = tl::enums::Pong::Pong(tl::types::Pong {
                    msg_id: message.msg_id,
                    ping_id,
                });
                replies.push(Reply::object(&pong, true, true));
                self.disconnect_at = disconnect_delay.map(|secs| {
                    Instant::now() + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
                });
            }
            Call::FutureSalts { num } => {
                let salts = tl::enums::FutureSalts::Salts(tl::types::FutureSalts {
                    req_msg_id: message.msg_id,
                    now: now as i32,
                    salts: tl::RawVec(self.shared.salts.future(key_id, now, num)),
                });
                // A message of its own, never inside rpc_result: that stalls grammers
                // (trap 2).
                replies.push(Reply::object(&salts, true, true));
            }
            Call::Api(api) => self.on_call(session_id, message.msg_id, api, replies)?,
        }
        Ok(())
    }

    fn on_call(
        &mut self,
        session_id: i64,
        req_msg_id: i64,
        api: Api,
        replies: &mut Vec<Reply>,
    ) -> Result<(), ProtocolError> {
        if self.silent() {
            return Ok(());
        }
        self.admitted += 1;
        let Some(dispatch) = self.dispatch.as_mut() else {
            return Err(ProtocolError::Answer("no dispatch for a known key"));
        };
        tracing::trace!(call = api.name(), "testdc call");
        match dispatch.call(api) {
            Answer::Now(body) => replies.push(Reply::result(req_msg_id, &body)),
            Answer::Later(call) => {
                let out = self.out_tx.clone();
                self.tasks.spawn(async move {
                    let sent = match call.await {
                        Later::Answer(body) => out.send(Outgoing::Answer {
                            session_id,
                            req_msg_id,
                            body,
                        }),
                        Later::Close => out.send(Outgoing::Close),
                        Later::Lose => Ok(()),
                    };
                    // A closed channel means the connection is gone already.
                    drop(sent);
                });
            }
        }
        Ok(())
    }
}
