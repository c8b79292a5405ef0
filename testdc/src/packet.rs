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

use crate::calls::{self, Call};
use crate::conn::{AUTH_KEY_NOT_FOUND, Conn, Outgoing, Step};
use crate::crypto::decrypt_from_client;
use crate::dispatch::{Answer, Dispatch, Later};
use crate::envelope::{parse_plaintext, unpack};
use crate::error::ProtocolError;
use crate::outbox::Reply;
use crate::salts::unix_now;
use crate::shared::bump;

impl Conn {
    pub(crate) fn on_frame(&mut self, frame: &[u8]) -> Result<Step, ProtocolError> {
        if self.silent() {
            return Ok(Step::Nothing);
        }
        let key_id = frame
            .get(..8)
            .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .ok_or(ProtocolError::Layout("frame shorter than an auth_key_id"))?;
        if key_id == 0 {
            // req_pq_multi: the client wants a new key, which only Telegram can make.
            bump(&self.shared.counters.key_exchanges_refused);
            return Ok(Step::CloseWith(&AUTH_KEY_NOT_FOUND));
        }
        let entry = match &self.key {
            Some((known, entry)) if *known == key_id => Arc::clone(entry),
            Some(_) => return Err(ProtocolError::KeyChanged),
            None => match self.shared.keys.get(key_id) {
                Some(entry) => {
                    self.key = Some((key_id, Arc::clone(&entry)));
                    self.dispatch =
                        Some(Dispatch::new(Arc::clone(&self.shared), Arc::clone(&entry)));
                    entry
                }
                None => {
                    bump(&self.shared.counters.unknown_keys);
                    return Ok(Step::CloseWith(&AUTH_KEY_NOT_FOUND));
                }
            },
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
        if self.sessions.insert(session_id) {
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
                        Instant::now() + Duration::from_secs(u64::from(secs.max(0) as u32))
                    });
                }
                Call::FutureSalts { num } => {
                    let salts = tl::enums::FutureSalts::Salts(tl::types::FutureSalts {
                        req_msg_id: message.msg_id,
                        now: now as i32,
                        salts: tl::RawVec(salts.future(key_id, now, num)),
                    });
                    // Top level, never inside rpc_result: that stalls grammers (trap 2).
                    replies.push(Reply::object(&salts, true, true));
                }
                Call::Api(api) => {
                    if self.silent() {
                        continue;
                    }
                    self.admitted += 1;
                    let Some(dispatch) = self.dispatch.as_mut() else {
                        return Err(ProtocolError::Answer("no dispatch for a known key"));
                    };
                    tracing::trace!(call = api.name(), "testdc call");
                    match dispatch.call(api) {
                        Answer::Now(body) => replies.push(Reply::result(message.msg_id, &body)),
                        Answer::Later(call) => {
                            let out = self.out_tx.clone();
                            let req_msg_id = message.msg_id;
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
                }
            }
        }
        Ok(Step::Reply {
            session_id,
            replies,
        })
    }
}
