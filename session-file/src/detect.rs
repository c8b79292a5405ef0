//! Classifying an uploaded or imported file: which session format is it, if any.
//!
//! Owns the decision order (SQLite header, grammers binary constructor, text
//! string session) for the importer. Must never place, rename or keep files:
//! bytes given in memory are spilled to a private temporary directory only
//! because SQLite reads files, and that directory is removed on return.

use std::path::Path;

use crate::sqlite::{SQLITE_MAGIC, table_exists, with_read_only};
use crate::{SessionCredentials, SessionFileError, grammers, string_session, telethon};

/// The formats [`detect_and_read`] recognizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionFormat {
    /// Telethon `.session` SQLite database.
    TelethonSqlite,
    /// grammers-session 0.8+ SQLite database.
    GrammersSqlite,
    /// grammers-session 0.7 and earlier TL-serialized file.
    GrammersBinary,
    /// A text file holding a Telethon `StringSession`.
    TelethonString,
}

/// A recognized session and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectedSession {
    pub format: SessionFormat,
    pub credentials: SessionCredentials,
}

/// Where the input to [`detect_and_read`] is.
#[derive(Clone, Copy, Debug)]
pub enum SessionSource<'a> {
    Path(&'a Path),
    Bytes(&'a [u8]),
}

impl<'a> From<&'a Path> for SessionSource<'a> {
    fn from(path: &'a Path) -> Self {
        Self::Path(path)
    }
}

impl<'a> From<&'a [u8]> for SessionSource<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Self::Bytes(bytes)
    }
}

/// Longest text accepted as a string session: an IPv6 one is 369 characters.
const MAX_STRING_SESSION_LEN: usize = 1024;

/// Recognizes and decodes a session from a file or from bytes.
///
/// The error says why the input is not a session, or what is wrong with the one it is.
pub fn detect_and_read<'a>(
    source: impl Into<SessionSource<'a>>,
) -> Result<DetectedSession, SessionFileError> {
    match source.into() {
        SessionSource::Path(path) => detect_path(path),
        SessionSource::Bytes(bytes) => detect_bytes(bytes),
    }
}

fn detect_path(path: &Path) -> Result<DetectedSession, SessionFileError> {
    match crate::sqlite::precheck(path) {
        Ok(()) => with_read_only(path, read_any_sqlite),
        Err(SessionFileError::NotSqlite) => {
            let len = std::fs::metadata(path)?.len();
            if len > 64 * 1024 {
                return Err(SessionFileError::NotASession(
                    "not a SQLite database and too large for a text or binary session",
                ));
            }
            detect_non_sqlite(&std::fs::read(path)?)
        }
        Err(other) => Err(other),
    }
}

fn detect_bytes(bytes: &[u8]) -> Result<DetectedSession, SessionFileError> {
    if bytes.is_empty() {
        return Err(SessionFileError::Empty);
    }
    if !bytes.starts_with(SQLITE_MAGIC) {
        return detect_non_sqlite(bytes);
    }
    let dir = tempfile::Builder::new()
        .prefix("herald-session-detect")
        .tempdir()?;
    let file = dir.path().join("upload.session");
    std::fs::write(&file, bytes)?;
    with_read_only(&file, read_any_sqlite)
}

fn read_any_sqlite(conn: &rusqlite::Connection) -> Result<DetectedSession, SessionFileError> {
    if table_exists(conn, "sessions")? {
        return Ok(DetectedSession {
            format: SessionFormat::TelethonSqlite,
            credentials: telethon::read_connection(conn)?,
        });
    }
    if table_exists(conn, "dc_option")? {
        return Ok(DetectedSession {
            format: SessionFormat::GrammersSqlite,
            credentials: grammers::read_connection(conn)?,
        });
    }
    Err(SessionFileError::UnknownSqliteSchema)
}

fn detect_non_sqlite(bytes: &[u8]) -> Result<DetectedSession, SessionFileError> {
    if bytes.len() >= 4 && bytes[..4] == grammers::LEGACY_SESSION_ID.to_le_bytes() {
        return Ok(DetectedSession {
            format: SessionFormat::GrammersBinary,
            credentials: grammers::read_grammers_binary(bytes)?,
        });
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| SessionFileError::NotASession("binary data in no known session format"))?
        .trim();
    if text.is_empty() {
        return Err(SessionFileError::NotASession(
            "the file holds only whitespace",
        ));
    }
    if text.len() > MAX_STRING_SESSION_LEN || !text.starts_with('1') {
        return Err(SessionFileError::NotASession(
            "text that is not a Telethon string session",
        ));
    }
    Ok(DetectedSession {
        format: SessionFormat::TelethonString,
        credentials: string_session::parse_telethon_string(text)?,
    })
}
