//! The hand-written MTProto envelope: `message`, `msg_container`, `rpc_result`,
//! `gzip_packed`, and a read-to-end query.
//!
//! Owns the byte layout of what grammers' generated TL does not cover (these types are
//! commented out of its `mtproto.tl`, and `grammers_mtproto::manual_tl` is private).
//! Must never interpret a body: which call a message is, is `calls`' business.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use grammers_tl_types::{Cursor, Deserializable, Serializable};

use crate::error::ProtocolError;

pub(crate) const RPC_RESULT: u32 = 0xf35c_6d01;
pub(crate) const MSG_CONTAINER: u32 = 0x73f1_f8dc;
pub(crate) const GZIP_PACKED: u32 = 0x3072_cfa1;

/// Largest body the DC inflates from a `gzip_packed` (grammers' own container limit).
const MAX_INFLATED: u64 = 1_048_576;
/// Results at least this long go back gzip-packed when that is smaller, as Telegram does.
const GZIP_RESULTS_FROM: usize = 512;

/// One `message msg_id:long seqno:int bytes:int body:Object`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawMessage {
    pub(crate) msg_id: i64,
    pub(crate) seq_no: i32,
    pub(crate) body: Vec<u8>,
}

impl RawMessage {
    /// The constructor id the body starts with.
    pub(crate) fn constructor(&self) -> Option<u32> {
        self.body
            .get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// A decrypted client packet: `salt session_id message`, padding dropped.
#[derive(Debug)]
pub(crate) struct Envelope {
    pub(crate) salt: i64,
    pub(crate) session_id: i64,
    pub(crate) message: RawMessage,
}

/// Parses a decrypted plaintext, checking the length field against the padding rule
/// (12 to 1024 bytes after the message).
pub(crate) fn parse_plaintext(plaintext: &[u8]) -> Result<Envelope, ProtocolError> {
    let mut cursor = Cursor::from_slice(plaintext);
    let salt = i64::deserialize(&mut cursor)?;
    let session_id = i64::deserialize(&mut cursor)?;
    let message = read_message(&mut cursor)?;
    let padding = plaintext.len().saturating_sub(cursor.pos());
    if !(12..=1024).contains(&padding) {
        return Err(ProtocolError::Layout("padding is not 12 to 1024 bytes"));
    }
    Ok(Envelope {
        salt,
        session_id,
        message,
    })
}

fn read_message(cursor: &mut Cursor) -> Result<RawMessage, ProtocolError> {
    let msg_id = i64::deserialize(cursor)?;
    let seq_no = i32::deserialize(cursor)?;
    let len = i32::deserialize(cursor)?;
    let len = usize::try_from(len).map_err(|_| ProtocolError::Layout("negative length"))?;
    if len % 4 != 0 {
        return Err(ProtocolError::Layout("body length is not a multiple of 4"));
    }
    if len as u64 > MAX_INFLATED {
        return Err(ProtocolError::Layout("message body too long"));
    }
    let mut body = vec![0; len];
    cursor.read_exact(&mut body)?;
    Ok(RawMessage {
        msg_id,
        seq_no,
        body,
    })
}

/// The messages a top-level message carries: the messages of a container (bare, one
/// level: containers do not nest) or the message itself, each with any `gzip_packed`
/// body inflated.
pub(crate) fn unpack(message: RawMessage) -> Result<Vec<RawMessage>, ProtocolError> {
    let inner = if message.constructor() == Some(MSG_CONTAINER) {
        let mut cursor = Cursor::from_slice(&message.body[4..]);
        let count = i32::deserialize(&mut cursor)?;
        if !(0..=1024).contains(&count) {
            return Err(ProtocolError::Layout("container count out of range"));
        }
        let mut messages = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let inner = read_message(&mut cursor)?;
            if inner.constructor() == Some(MSG_CONTAINER) {
                return Err(ProtocolError::Layout("nested container"));
            }
            messages.push(inner);
        }
        messages
    } else {
        vec![message]
    };
    inner.into_iter().map(inflate).collect()
}

fn inflate(mut message: RawMessage) -> Result<RawMessage, ProtocolError> {
    if message.constructor() == Some(GZIP_PACKED) {
        let packed = Vec::<u8>::from_bytes(&message.body[4..])?;
        let mut body = Vec::new();
        GzDecoder::new(&packed[..])
            .take(MAX_INFLATED + 1)
            .read_to_end(&mut body)
            .map_err(|_| ProtocolError::Gzip)?;
        if body.len() as u64 > MAX_INFLATED || body.len() % 4 != 0 {
            return Err(ProtocolError::Gzip);
        }
        message.body = body;
    }
    Ok(message)
}

/// `rpc_result#f35c6d01 req_msg_id:long result:Object`, the result gzip-packed when
/// it is long and that is smaller.
pub(crate) fn rpc_result(req_msg_id: i64, result: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + result.len());
    RPC_RESULT.serialize(&mut out);
    req_msg_id.serialize(&mut out);
    match (result.len() >= GZIP_RESULTS_FROM)
        .then(|| gzip_packed(result))
        .flatten()
    {
        Some(packed) if packed.len() < result.len() => out.extend_from_slice(&packed),
        _ => out.extend_from_slice(result),
    }
    out
}

/// `gzip_packed#3072cfa1 packed_data:string`.
pub(crate) fn gzip_packed(data: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).ok()?;
    let packed = encoder.finish().ok()?;
    let mut out = Vec::with_capacity(packed.len() + 8);
    GZIP_PACKED.serialize(&mut out);
    packed.serialize(&mut out);
    Some(out)
}

/// Appends one bare `message` (as inside a container, or top-level after the header).
pub(crate) fn write_message(out: &mut Vec<u8>, msg_id: i64, seq_no: i32, body: &[u8]) {
    msg_id.serialize(out);
    seq_no.serialize(out);
    (body.len() as i32).serialize(out);
    out.extend_from_slice(body);
}

/// The body of a `msg_container` holding already written bare messages.
pub(crate) fn container_body(count: usize, messages: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + messages.len());
    MSG_CONTAINER.serialize(&mut out);
    (count as i32).serialize(&mut out);
    out.extend_from_slice(messages);
    out
}

/// A `query:!X` read to the end of the buffer (trap 4: generated function
/// deserializers skip the constructor id, so a generic query has no type to read as).
#[derive(Debug)]
pub(crate) struct RawQuery(pub(crate) Vec<u8>);

impl Deserializable for RawQuery {
    fn deserialize(buf: &mut Cursor) -> grammers_tl_types::deserialize::Result<Self> {
        let mut rest = Vec::new();
        buf.read_to_end(&mut rest)?;
        Ok(Self(rest))
    }
}
