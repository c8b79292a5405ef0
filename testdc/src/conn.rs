//! One TCP connection: frames in, packets out, one task, until either side closes.
//!
//! Owns the connection's state (the Full transport's counters, which key it speaks
//! for, its sessions and numbering, the calls still running in the world), its select
//! loop, writing packets, and the order of teardown: world calls aborted and the world
//! session dropped before the socket closes, so a client that reconnects at once finds
//! the world already told.
//! Must never let one connection's failure reach another: a malformed packet closes
//! this connection only, and nothing here panics on client input.

use std::collections::HashSet;
use std::sync::Arc;

use grammers_crypto::DequeBuffer;
use grammers_mtproto::transport::{self, Full, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::WriteHalf;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::Silence;
use crate::crypto::encrypt_for_client;
use crate::dispatch::Dispatch;
use crate::error::ProtocolError;
use crate::keys::KeyEntry;
use crate::outbox::{Outbox, Reply};
use crate::salts::unix_now;
use crate::shared::{Shared, bump};

/// Largest transport frame accepted (grammers sends at most about 1 MiB).
const MAX_FRAME: usize = 2 * 1024 * 1024;
/// Transport error -404: "auth key not found".
pub(crate) const AUTH_KEY_NOT_FOUND: [u8; 4] = (-404i32).to_le_bytes();

/// What a call task hands back to its connection.
pub(crate) enum Outgoing {
    Answer {
        session_id: i64,
        req_msg_id: i64,
        body: Vec<u8>,
    },
    Close,
}

/// What to do after a frame.
pub(crate) enum Step {
    Reply {
        session_id: i64,
        replies: Vec<Reply>,
    },
    Nothing,
    /// Write these raw bytes (a transport error), then close.
    CloseWith(&'static [u8]),
}

pub(crate) struct Conn {
    pub(crate) shared: Arc<Shared>,
    pub(crate) transport: Full,
    pub(crate) inbuf: Vec<u8>,
    pub(crate) key: Option<(i64, Arc<KeyEntry>)>,
    pub(crate) dispatch: Option<Dispatch>,
    pub(crate) outbox: Outbox,
    pub(crate) sessions: HashSet<i64>,
    /// API calls admitted for an answer (what [`crate::Silence::AfterCalls`] counts).
    pub(crate) admitted: u32,
    /// Set by `ping_delay_disconnect`: close unless another ping comes first.
    pub(crate) disconnect_at: Option<Instant>,
    pub(crate) out_tx: mpsc::UnboundedSender<Outgoing>,
    pub(crate) tasks: JoinSet<()>,
}

/// Serves one accepted connection to its end.
pub(crate) async fn serve_connection(
    mut stream: TcpStream,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    bump(&shared.counters.connections);
    if shared.faults().refuse_connections {
        bump(&shared.counters.refused_connections);
        return;
    }
    bump(&shared.counters.open_connections);
    let (out_tx, out_rx) = mpsc::unbounded_channel();
    let mut conn = Conn {
        shared: Arc::clone(&shared),
        transport: Full::new(),
        inbuf: Vec::with_capacity(4096),
        key: None,
        dispatch: None,
        outbox: Outbox::default(),
        sessions: HashSet::new(),
        admitted: 0,
        disconnect_at: None,
        out_tx,
        tasks: JoinSet::new(),
    };
    let result = conn.run(&mut stream, out_rx, &shutdown).await;
    let session = conn
        .dispatch
        .as_ref()
        .map(|d| herald_session_file::mask_session_name(d.session()));
    match result {
        Ok(()) => tracing::debug!(session, "testdc connection closed"),
        Err(ProtocolError::Io(error)) => tracing::debug!(session, %error, "testdc connection lost"),
        Err(error) => {
            bump(&shared.counters.malformed_packets);
            tracing::debug!(session, %error, "testdc connection closed on a malformed packet");
        }
    }
    // World first, socket last.
    conn.tasks.shutdown().await;
    if let Some(dispatch) = conn.dispatch.as_mut() {
        dispatch.close();
    }
    drop(conn);
    drop(stream);
    shared
        .counters
        .open_connections
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

impl Conn {
    async fn run(
        &mut self,
        stream: &mut TcpStream,
        mut out_rx: mpsc::UnboundedReceiver<Outgoing>,
        shutdown: &CancellationToken,
    ) -> Result<(), ProtocolError> {
        let (mut reader, mut writer) = stream.split();
        loop {
            let deadline = self.disconnect_at.unwrap_or_else(Instant::now);
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = sleep_until(deadline), if self.disconnect_at.is_some() => return Ok(()),
                read = reader.read_buf(&mut self.inbuf) => {
                    if read? == 0 {
                        return Ok(());
                    }
                    while let Some(frame) = self.next_frame()? {
                        match self.on_frame(&frame)? {
                            Step::Reply { session_id, replies } => {
                                self.write(&mut writer, session_id, &replies).await?;
                            }
                            Step::Nothing => {}
                            Step::CloseWith(bytes) => {
                                writer.write_all(bytes).await?;
                                return Ok(());
                            }
                        }
                    }
                }
                Some(out) = out_rx.recv() => match out {
                    Outgoing::Answer { session_id, req_msg_id, body } => {
                        // Switched to silent while the call ran: the answer goes nowhere.
                        if self.shared.faults().silence == Some(Silence::FromStart) {
                            continue;
                        }
                        self.write(&mut writer, session_id, &[Reply::result(req_msg_id, &body)]).await?;
                    }
                    Outgoing::Close => return Ok(()),
                },
                Some(joined) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    if let Err(error) = joined
                        && error.is_panic()
                    {
                        tracing::warn!(%error, "testdc world call panicked");
                    }
                }
            }
        }
    }

    fn next_frame(&mut self) -> Result<Option<Vec<u8>>, ProtocolError> {
        if let Some(len) = self.inbuf.get(..4) {
            let len = i32::from_le_bytes([len[0], len[1], len[2], len[3]]);
            if len > 0 && len as usize > MAX_FRAME {
                return Err(ProtocolError::FrameTooLarge(len as usize));
            }
        }
        match self.transport.unpack(&mut self.inbuf[..]) {
            Ok(offset) => {
                let frame = self.inbuf[offset.data_range].to_vec();
                self.inbuf.drain(..offset.next_offset);
                Ok(Some(frame))
            }
            Err(transport::Error::MissingBytes) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    pub(crate) fn silent(&self) -> bool {
        self.shared
            .faults()
            .silence
            .is_some_and(|s| s.is_silent(self.admitted))
    }

    /// Numbers, encrypts, frames and writes one packet of replies.
    async fn write(
        &mut self,
        writer: &mut WriteHalf<'_>,
        session_id: i64,
        replies: &[Reply],
    ) -> Result<(), ProtocolError> {
        let Some((key_id, entry)) = &self.key else {
            return Ok(());
        };
        let salt = self.shared.salts.current(*key_id, unix_now());
        let Some(plaintext) = self.outbox.packet(salt, session_id, replies) else {
            return Ok(());
        };
        let packet = encrypt_for_client(entry.key.expose(), &plaintext);
        let mut framed = DequeBuffer::with_capacity(packet.len() + 4, 8);
        framed.extend(&packet);
        self.transport.pack(&mut framed);
        writer.write_all(&framed[..]).await?;
        Ok(())
    }
}
