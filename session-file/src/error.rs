//! The one error type of this crate.
//!
//! Owns the wording of every refusal. Messages name what is wrong with the
//! *content* ("auth_key is 255 bytes, expected 256") and never carry a path,
//! a key byte or any other secret: callers add the file name they already know.

use thiserror::Error;

/// Why a session could not be read, validated or written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SessionFileError {
    /// The path does not exist (reading never creates it).
    #[error("file not found")]
    NotFound,
    /// The path exists but is a directory or another non-regular file.
    #[error("not a regular file")]
    NotAFile,
    /// Zero bytes: SQLite would treat it as a new database, Telethon would create tables in it.
    #[error("file is empty")]
    Empty,
    /// The file does not start with the SQLite header.
    #[error("not a SQLite database")]
    NotSqlite,
    /// A SQLite database that is not a Telethon session.
    #[error("no sessions table: not a Telethon session")]
    NoSessionsTable,
    /// A SQLite database that is neither Telethon's nor grammers' format.
    #[error("SQLite database is not a session (no sessions table, no dc_option table)")]
    UnknownSqliteSchema,
    /// The sessions table exists but holds no row (Telethon never logged in).
    #[error("sessions table is empty: no login stored")]
    NoSessionRow,
    /// A column holds a value of the wrong SQLite type.
    #[error("{column} is {found}, expected {expected}")]
    WrongType {
        column: &'static str,
        found: &'static str,
        expected: &'static str,
    },
    /// dc_id outside Telegram's production data centers.
    #[error("dc_id is {0}, expected 1 to 5 (Telegram's production data centers)")]
    InvalidDcId(i64),
    /// The auth key is NULL.
    #[error("auth_key is missing, expected 256 bytes")]
    MissingAuthKey,
    /// The auth key has the wrong length.
    #[error("auth_key is {0} bytes, expected 256")]
    AuthKeyLength(usize),
    /// server_address is NULL or empty.
    #[error("server_address is empty")]
    EmptyAddress,
    /// server_address is not an IP address.
    #[error("server_address {0:?} is not an IPv4 or IPv6 address")]
    InvalidAddress(String),
    /// port outside 1..=65535.
    #[error("port is {0}, expected 1 to 65535")]
    InvalidPort(i64),
    /// A Telethon string session that cannot be decoded.
    #[error("string session: {0}")]
    StringSession(String),
    /// A grammers session that cannot be decoded.
    #[error("grammers session: {0}")]
    Grammers(String),
    /// The input matches no session format at all.
    #[error("not a session file: {0}")]
    NotASession(&'static str),
    /// Writing refuses to replace a file.
    #[error("refusing to overwrite an existing file")]
    AlreadyExists,
    /// SQLite refused an operation; the message is SQLite's own.
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The operating system refused an operation.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}
