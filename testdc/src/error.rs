//! The crate's errors: setting up a DC ([`TestDcError`]) and a broken connection
//! ([`ProtocolError`], internal).
//!
//! Owns the wording of every failure. Must never put an auth key byte in a message:
//! keys are named by the session that holds them.

use std::path::PathBuf;

use herald_session_file::SessionFileError;

/// Why a DC could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestDcError {
    /// A session file in a key directory could not be read.
    #[error("session file {path}: {source}")]
    SessionFile {
        path: PathBuf,
        #[source]
        source: SessionFileError,
    },
    /// A key directory could not be listed.
    #[error("key directory {path}: {source}")]
    KeyDirectory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// One auth key under two session names: the DC could not tell which one connected.
    #[error("sessions {first} and {second} hold the same auth key")]
    DuplicateKey { first: String, second: String },
    /// Two different keys under one session name: the world could not tell them apart.
    #[error("session name {0} is given two different auth keys")]
    DuplicateName(String),
    /// The listening socket could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// The bound socket has no local address.
    #[error("local address of the listener: {0}")]
    LocalAddr(#[source] std::io::Error),
}

/// Why one connection is closed. Never crosses the crate boundary: a broken connection
/// is logged and counted, and the DC goes on serving the others.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProtocolError {
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("transport: {0}")]
    Transport(#[from] grammers_mtproto::transport::Error),
    #[error("frame of {0} bytes is larger than the DC accepts")]
    FrameTooLarge(usize),
    #[error("encrypted packet: {0}")]
    Crypto(&'static str),
    #[error("message layout: {0}")]
    Layout(&'static str),
    #[error("TL body: {0}")]
    Tl(#[from] grammers_tl_types::deserialize::Error),
    #[error("gzip_packed body does not inflate")]
    Gzip,
    #[error("the connection switched to another auth key")]
    KeyChanged,
    #[error("a call's answer could not be built: {0}")]
    Answer(&'static str),
}
