//! A minimal MTProto client of the tests' own, to read the DC's replies byte by byte.
//!
//! Encrypts with grammers-crypto's client side and decrypts with its client side, so
//! the DC's server-side crypto is checked against an implementation it does not share.

use std::time::Duration;

use grammers_crypto::{AuthKey, DequeBuffer, decrypt_data_v2, encrypt_data_v2};
use grammers_mtproto::transport::{self, Full, Transport};
use grammers_tl_types::{Cursor, Deserializable, Serializable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub(crate) const RPC_RESULT: u32 = 0xf35c_6d01;
pub(crate) const MSG_CONTAINER: u32 = 0x73f1_f8dc;
pub(crate) const GZIP_PACKED: u32 = 0x3072_cfa1;

/// One server message as it came: a container is listed after the messages it held.
#[derive(Clone, Debug)]
pub(crate) struct ServerMsg {
    pub(crate) msg_id: i64,
    pub(crate) seq_no: i32,
    pub(crate) body: Vec<u8>,
}

impl ServerMsg {
    pub(crate) fn constructor(&self) -> u32 {
        u32::from_le_bytes([self.body[0], self.body[1], self.body[2], self.body[3]])
    }

    /// `(req_msg_id, result)` of an rpc_result, the result inflated if gzip-packed.
    pub(crate) fn rpc_result(&self) -> Option<(i64, Vec<u8>)> {
        if self.constructor() != RPC_RESULT {
            return None;
        }
        let req = i64::from_le_bytes(self.body[4..12].try_into().ok()?);
        let result = self.body[12..].to_vec();
        if u32::from_le_bytes(result[..4].try_into().ok()?) == GZIP_PACKED {
            let packed = Vec::<u8>::from_bytes(&result[4..]).ok()?;
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&packed[..]), &mut out)
                .ok()?;
            return Some((req, out));
        }
        Some((req, result))
    }
}

pub(crate) struct RawClient {
    stream: TcpStream,
    transport: Full,
    key: AuthKey,
    pub(crate) session_id: i64,
    pub(crate) salt: i64,
    last_msg_id: i64,
    content_sent: i32,
    inbuf: Vec<u8>,
}

impl RawClient {
    pub(crate) async fn connect(port: u16, key: [u8; 256]) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        Self {
            stream,
            transport: Full::new(),
            key: AuthKey::from_bytes(key),
            session_id: rand::random(),
            salt: 0,
            last_msg_id: 0,
            content_sent: 0,
            inbuf: Vec::new(),
        }
    }

    fn next_msg_id(&mut self) -> i64 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let id = (((now.as_secs() << 32) | (u64::from(now.subsec_nanos()) << 2)) as i64 & !3)
            .max(self.last_msg_id + 4);
        self.last_msg_id = id;
        id
    }

    fn next_seq(&mut self, content: bool) -> i32 {
        let seq = self.content_sent * 2 + i32::from(content);
        self.content_sent += i32::from(content);
        seq
    }

    /// Sends bodies in one packet (a container when more than one); returns their msg_ids.
    pub(crate) async fn send(&mut self, bodies: &[(&[u8], bool)]) -> Vec<i64> {
        let mut ids = Vec::new();
        let mut messages = Vec::new();
        for (body, content) in bodies {
            let id = self.next_msg_id();
            let seq = self.next_seq(*content);
            id.serialize(&mut messages);
            seq.serialize(&mut messages);
            (body.len() as i32).serialize(&mut messages);
            messages.extend_from_slice(body);
            ids.push(id);
        }
        let mut plain = Vec::new();
        self.salt.serialize(&mut plain);
        self.session_id.serialize(&mut plain);
        if bodies.len() == 1 {
            plain.extend_from_slice(&messages);
        } else {
            let mut body = Vec::new();
            MSG_CONTAINER.serialize(&mut body);
            (bodies.len() as i32).serialize(&mut body);
            body.extend_from_slice(&messages);
            let id = self.next_msg_id();
            let seq = self.next_seq(false);
            id.serialize(&mut plain);
            seq.serialize(&mut plain);
            (body.len() as i32).serialize(&mut plain);
            plain.extend_from_slice(&body);
        }
        let mut buffer = DequeBuffer::with_capacity(plain.len() + 64, 64);
        buffer.extend(&plain);
        encrypt_data_v2(&mut buffer, &self.key);
        self.transport.pack(&mut buffer);
        self.stream.write_all(&buffer[..]).await.expect("write");
        ids
    }

    pub(crate) async fn call(&mut self, body: &[u8]) -> i64 {
        self.send(&[(body, true)]).await[0]
    }

    /// A framed payload sent as it is (to test malformed packets).
    pub(crate) async fn send_frame(&mut self, payload: &[u8]) {
        let mut buffer = DequeBuffer::with_capacity(payload.len() + 16, 16);
        buffer.extend(payload);
        self.transport.pack(&mut buffer);
        self.stream.write_all(&buffer[..]).await.expect("write");
    }

    /// The next packet's messages, `Err` with the transport error or `Ok(None)` at EOF.
    pub(crate) async fn recv(
        &mut self,
        within: Duration,
    ) -> Result<Option<Vec<ServerMsg>>, transport::Error> {
        loop {
            match self.transport.unpack(&mut self.inbuf[..]) {
                Ok(offset) => {
                    let mut payload = self.inbuf[offset.data_range].to_vec();
                    self.inbuf.drain(..offset.next_offset);
                    return Ok(Some(self.parse(&mut payload)));
                }
                Err(transport::Error::MissingBytes) => {}
                Err(e) => return Err(e),
            }
            let read = tokio::time::timeout(within, self.stream.read_buf(&mut self.inbuf)).await;
            match read {
                Ok(Ok(0)) | Ok(Err(_)) => return Ok(None),
                Ok(Ok(_)) => {}
                Err(_) => panic!("no packet within {within:?}"),
            }
        }
    }

    /// Like [`Self::recv`] but `None` when nothing comes within `within`.
    pub(crate) async fn recv_or_nothing(&mut self, within: Duration) -> Option<Vec<ServerMsg>> {
        let read = tokio::time::timeout(within, self.stream.read_buf(&mut self.inbuf)).await;
        match read {
            Ok(Ok(n)) if n > 0 => self.recv(within).await.ok().flatten(),
            _ => None,
        }
    }

    fn parse(&mut self, payload: &mut [u8]) -> Vec<ServerMsg> {
        let plain = decrypt_data_v2(payload, &self.key).expect("server encrypts for the client");
        let mut cursor = Cursor::from_slice(plain);
        let _salt = i64::deserialize(&mut cursor).expect("salt");
        let session = i64::deserialize(&mut cursor).expect("session");
        assert_eq!(
            session, self.session_id,
            "the DC answers in the client's session"
        );
        let top = read_msg(&mut cursor);
        if top.constructor() != MSG_CONTAINER {
            return vec![top];
        }
        let mut inner = Cursor::from_slice(&top.body[4..]);
        let count = i32::deserialize(&mut inner).expect("count");
        let mut all: Vec<ServerMsg> = (0..count).map(|_| read_msg(&mut inner)).collect();
        all.push(top);
        all
    }
}

fn read_msg(cursor: &mut Cursor) -> ServerMsg {
    let msg_id = i64::deserialize(cursor).expect("msg_id");
    let seq_no = i32::deserialize(cursor).expect("seq_no");
    let len = i32::deserialize(cursor).expect("len") as usize;
    let mut body = vec![0; len];
    cursor.read_exact(&mut body).expect("body");
    ServerMsg {
        msg_id,
        seq_no,
        body,
    }
}

/// Connects and gets through the salt dance: bad_server_salt for salt 0, then
/// future_salts. Returns the client and every server message seen.
pub(crate) async fn handshake(port: u16, key: [u8; 256]) -> (RawClient, Vec<ServerMsg>) {
    use grammers_tl_types as tl;
    let mut client = RawClient::connect(port, key).await;
    let mut seen = Vec::new();
    let ping = tl::functions::Ping { ping_id: 1 }.to_bytes();
    client.call(&ping).await;
    let bad = client
        .recv(Duration::from_secs(5))
        .await
        .expect("frame")
        .expect("packet");
    let tl::enums::BadMsgNotification::BadServerSalt(salt) =
        tl::enums::BadMsgNotification::from_bytes(&bad[0].body).expect("bad_server_salt")
    else {
        panic!("expected bad_server_salt");
    };
    client.salt = salt.new_server_salt;
    seen.extend(bad);
    let salts = tl::functions::GetFutureSalts { num: 64 }.to_bytes();
    client.call(&salts).await;
    seen.extend(
        client
            .recv(Duration::from_secs(5))
            .await
            .expect("frame")
            .expect("packet"),
    );
    (client, seen)
}
