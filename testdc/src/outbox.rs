//! What the server sends: msg_ids, seq_nos and packet layout.
//!
//! Owns the numbering rules of server messages: msg_ids strictly increasing per
//! connection, ≡ 1 mod 4 for responses to client messages and ≡ 3 for the rest; seq_no
//! twice the number of content-related messages sent before in the session, plus one
//! for a content-related message. Several replies go in one `msg_container`, because
//! grammers reads one top-level message per packet. Must never encrypt or write to the
//! socket (`conn` does) and never decide what to answer (`calls` does).

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use grammers_tl_types::Serializable;

use crate::envelope::{container_body, rpc_result, write_message};

/// One server message to send.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub(crate) body: Vec<u8>,
    /// Content-related (needs an ack; odd seq_no): results, pongs, salts, new sessions.
    /// Not: containers, acks and notifications about bad messages.
    pub(crate) content: bool,
    /// A response to a client message (msg_id ≡ 1 mod 4) rather than a message the
    /// server sends of its own accord (≡ 3).
    pub(crate) response: bool,
}

impl Reply {
    /// An `rpc_result` answering `req_msg_id` with a serialized result or `rpc_error`.
    pub(crate) fn result(req_msg_id: i64, result: &[u8]) -> Self {
        Self {
            body: rpc_result(req_msg_id, result),
            content: true,
            response: true,
        }
    }

    /// A top-level TL object (pong, future_salts, bad_server_salt, new_session_created).
    pub(crate) fn object(object: &impl Serializable, content: bool, response: bool) -> Self {
        Self {
            body: object.to_bytes(),
            content,
            response,
        }
    }
}

/// The per-connection counters behind server msg_ids and seq_nos.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    last_msg_id: i64,
    /// Content-related messages sent so far, per client session_id.
    content_sent: HashMap<i64, i32>,
}

impl Outbox {
    /// A time-based msg_id above every earlier one, with the residue mod 4 the spec
    /// gives server messages.
    fn next_msg_id(&mut self, response: bool) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let from_clock = ((now.as_secs() << 32) | (u64::from(now.subsec_nanos()) << 2)) as i64;
        let base = (from_clock & !3).max((self.last_msg_id & !3) + 4);
        let id = base | if response { 1 } else { 3 };
        self.last_msg_id = id;
        id
    }

    fn next_seq_no(&mut self, session_id: i64, content: bool) -> i32 {
        let sent = self.content_sent.entry(session_id).or_insert(0);
        let seq = *sent * 2 + i32::from(content);
        *sent += i32::from(content);
        seq
    }

    /// The plaintext of one packet (before padding): `salt session_id message`, the
    /// message being the one reply or a container of all of them. `None` for no replies.
    pub(crate) fn packet(
        &mut self,
        salt: i64,
        session_id: i64,
        replies: &[Reply],
    ) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        salt.serialize(&mut out);
        session_id.serialize(&mut out);
        match replies {
            [] => return None,
            [one] => {
                let msg_id = self.next_msg_id(one.response);
                let seq_no = self.next_seq_no(session_id, one.content);
                write_message(&mut out, msg_id, seq_no, &one.body);
            }
            many => {
                let mut inner = Vec::new();
                for reply in many {
                    let msg_id = self.next_msg_id(reply.response);
                    let seq_no = self.next_seq_no(session_id, reply.content);
                    write_message(&mut inner, msg_id, seq_no, &reply.body);
                }
                // The container's msg_id comes after its messages' (as grammers numbers
                // its own containers) and is a response when it carries one.
                let msg_id = self.next_msg_id(many.iter().any(|r| r.response));
                let seq_no = self.next_seq_no(session_id, false);
                write_message(
                    &mut out,
                    msg_id,
                    seq_no,
                    &container_body(many.len(), &inner),
                );
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(content: bool, response: bool) -> Reply {
        Reply {
            body: vec![1, 2, 3, 4],
            content,
            response,
        }
    }

    #[test]
    fn msg_ids_increase_with_the_right_residue() {
        let mut outbox = Outbox::default();
        let mut last = 0;
        for i in 0..1000 {
            let response = i % 3 != 0;
            let id = outbox.next_msg_id(response);
            assert!(id > last);
            assert_eq!(id.rem_euclid(4), if response { 1 } else { 3 });
            last = id;
        }
    }

    #[test]
    fn seq_nos_count_content_related_messages_per_session() {
        let mut outbox = Outbox::default();
        let seqs: Vec<i32> = [true, false, true, true, false]
            .into_iter()
            .map(|content| outbox.next_seq_no(7, content))
            .collect();
        assert_eq!(seqs, [1, 2, 3, 5, 6]);
        assert_eq!(outbox.next_seq_no(8, true), 1);
    }

    #[test]
    fn several_replies_share_one_container() {
        let mut outbox = Outbox::default();
        let packet = outbox
            .packet(5, 9, &[reply(true, false), reply(true, true)])
            .expect("packet");
        // salt, session, container header (msg_id, seq_no, len), constructor, count.
        assert_eq!(&packet[16 + 16..16 + 20], &0x73f1_f8dcu32.to_le_bytes());
        assert_eq!(&packet[16 + 20..16 + 24], &2i32.to_le_bytes());
        assert!(outbox.packet(5, 9, &[]).is_none());
    }
}
