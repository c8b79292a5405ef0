//! Opening someone else's SQLite file for reading without ever changing it.
//!
//! Owns the pre-checks (exists, regular file, non-empty, SQLite header) and the
//! read-only open. Must never create, write, roll back or delete anything at the
//! caller's path: a session file with a hot `-journal` beside it (a crashed
//! Telethon) is read from a private copy, where SQLite may roll back freely.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::SessionFileError;

/// The 16 bytes every SQLite 3 database starts with.
pub(crate) const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// How long to wait for a live Telethon that holds a write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Refuses anything that is not a non-empty regular file starting with the SQLite header.
pub(crate) fn precheck(path: &Path) -> Result<(), SessionFileError> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SessionFileError::NotFound);
        }
        Err(e) => return Err(e.into()),
    };
    if !meta.is_file() {
        return Err(SessionFileError::NotAFile);
    }
    if meta.len() == 0 {
        return Err(SessionFileError::Empty);
    }
    let mut header = [0u8; 16];
    let mut file = fs::File::open(path)?;
    let read = read_up_to(&mut file, &mut header)?;
    if read < header.len() || &header != SQLITE_MAGIC {
        return Err(SessionFileError::NotSqlite);
    }
    Ok(())
}

fn read_up_to(file: &mut fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(&mut buf[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// Runs `read` on the database at `path` opened read-only.
///
/// If SQLite says the file needs a rollback it cannot do read-only (hot
/// journal) the file and its journal are copied to a private temporary
/// directory and `read` runs there instead.
pub(crate) fn with_read_only<T>(
    path: &Path,
    read: impl Fn(&Connection) -> Result<T, SessionFileError>,
) -> Result<T, SessionFileError> {
    precheck(path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let first = Connection::open_with_flags(path, flags)
        .map_err(SessionFileError::from)
        .and_then(|conn| {
            conn.busy_timeout(BUSY_TIMEOUT)?;
            read(&conn)
        });
    match first {
        Err(SessionFileError::Sqlite(ref e)) if needs_private_copy(e) => {
            tracing::debug!("session file needs a rollback; reading a private copy");
            read_private_copy(path, &read)
        }
        Err(SessionFileError::Sqlite(ref e))
            if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) =>
        {
            Err(SessionFileError::NotSqlite)
        }
        other => other,
    }
}

fn needs_private_copy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen)
    )
}

fn read_private_copy<T>(
    path: &Path,
    read: &impl Fn(&Connection) -> Result<T, SessionFileError>,
) -> Result<T, SessionFileError> {
    let dir = tempfile::Builder::new()
        .prefix("herald-session-read")
        .tempdir()?;
    let copy = dir.path().join("copy.session");
    fs::copy(path, &copy)?;
    for suffix in ["-journal", "-wal"] {
        let companion = with_suffix(path, suffix);
        if companion.is_file() {
            fs::copy(&companion, with_suffix(&copy, suffix))?;
        }
    }
    let conn = Connection::open_with_flags(
        &copy,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let result = read(&conn);
    drop(conn);
    // `dir` removes the copy, its journal and any key bytes in them when dropped.
    result
}

pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Whether a table of that name exists.
pub(crate) fn table_exists(conn: &Connection, name: &str) -> Result<bool, SessionFileError> {
    let count: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |row| row.get(0),
    )?;
    Ok(count > 0)
}

/// Human name of a SQLite value's type, for "dc_id is text, expected an integer".
pub(crate) fn type_name(value: ValueRef<'_>) -> &'static str {
    match value {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real number",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}

/// Reads an integer column, naming the column when it holds something else.
pub(crate) fn integer(value: ValueRef<'_>, column: &'static str) -> Result<i64, SessionFileError> {
    match value {
        ValueRef::Integer(i) => Ok(i),
        other => Err(SessionFileError::WrongType {
            column,
            found: type_name(other),
            expected: "an integer",
        }),
    }
}

/// Reads a text column (NULL reads as empty), naming the column when it holds something else.
pub(crate) fn text(value: ValueRef<'_>, column: &'static str) -> Result<String, SessionFileError> {
    match value {
        ValueRef::Null => Ok(String::new()),
        ValueRef::Text(bytes) => Ok(String::from_utf8_lossy(bytes).into_owned()),
        other => Err(SessionFileError::WrongType {
            column,
            found: type_name(other),
            expected: "text",
        }),
    }
}

/// Reads a 256-byte key column, with the precise length in the error.
pub(crate) fn auth_key(value: ValueRef<'_>) -> Result<crate::AuthKey, SessionFileError> {
    match value {
        ValueRef::Null => Err(SessionFileError::MissingAuthKey),
        ValueRef::Blob(bytes) => crate::AuthKey::from_slice(bytes),
        other => Err(SessionFileError::WrongType {
            column: "auth_key",
            found: type_name(other),
            expected: "a blob",
        }),
    }
}
