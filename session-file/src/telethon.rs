//! Telethon's SQLite `.session` file (database version 7), read and written.
//!
//! Owns the faithful reproduction of Telethon 1.x's schema so a file written
//! here opens in Telethon itself. Version 7 is written on purpose although
//! Telethon 1.45 is at version 8 (`sessions.tmp_auth_key`): Telethon upgrades a
//! version-7 file when it opens it, while a Telethon still at 7 cannot read a
//! version-8 row (its `select *` unpacks exactly five columns). Reading selects
//! columns by name, so versions 3 to 8 all read. Reading must never create or modify the file;
//! writing must never replace an existing one and never leave a half-written
//! file under the final name.

use std::path::Path;

use rusqlite::Connection;

use crate::credentials::{validate_dc, validate_port};
use crate::sqlite::{self, table_exists, with_read_only};
use crate::{SessionCredentials, SessionFileError};

/// The database version Telethon 1.x writes into its `version` table.
pub const TELETHON_DB_VERSION: i64 = 7;

/// Telethon's own `CREATE TABLE` statements for version 7, in its order and spelling
/// (telethon/sessions/sqlite.py); `sent_files` lists `id` before `hash` as it does.
const TELETHON_SCHEMA: &str = "
create table version (version integer primary key);
create table sessions (
    dc_id integer primary key,
    server_address text,
    port integer,
    auth_key blob,
    takeout_id integer
);
create table entities (
    id integer primary key,
    hash integer not null,
    username text,
    phone integer,
    name text,
    date integer
);
create table sent_files (
    md5_digest blob,
    file_size integer,
    type integer,
    id integer,
    hash integer,
    primary key(md5_digest, file_size, type)
);
create table update_state (
    id integer primary key,
    pts integer,
    qts integer,
    date integer,
    seq integer
);
";

/// Reads and validates the login stored in a Telethon `.session` file.
///
/// Opens the file read-only and never writes it. A hot `-journal` beside it
/// (a Telethon that crashed mid-write) is rolled back in a private copy.
/// Telethon keeps exactly one row in `sessions`; if a file holds several, the
/// first by `dc_id` is taken, as Telethon's `fetchone` does.
pub fn read_telethon(path: impl AsRef<Path>) -> Result<SessionCredentials, SessionFileError> {
    with_read_only(path.as_ref(), read_connection)
}

pub(crate) fn read_connection(conn: &Connection) -> Result<SessionCredentials, SessionFileError> {
    if !table_exists(conn, "sessions")? {
        return Err(SessionFileError::NoSessionsTable);
    }
    let mut stmt = conn.prepare(
        "SELECT dc_id, server_address, port, auth_key FROM sessions ORDER BY dc_id LIMIT 1",
    )?;
    let mut rows = stmt.query([])?;
    let row = rows.next()?.ok_or(SessionFileError::NoSessionRow)?;
    let dc_id = validate_dc(sqlite::integer(row.get_ref(0)?, "dc_id")?)?;
    let server_address = sqlite::text(row.get_ref(1)?, "server_address")?;
    crate::credentials::parse_ip(&server_address)?;
    let port = validate_port(sqlite::integer(row.get_ref(2)?, "port")?)?;
    let auth_key = sqlite::auth_key(row.get_ref(3)?)?;
    Ok(SessionCredentials {
        dc_id,
        server_address: server_address.trim().to_owned(),
        port,
        auth_key,
    })
}

/// Writes a Telethon version-7 session file at `path`, mode 0600.
///
/// Refuses if anything exists at `path`. The database is built in a temporary
/// file in the same directory, synced, then linked to `path` without
/// replacement, so a crash leaves either no file or a complete one.
pub fn write_telethon(
    path: impl AsRef<Path>,
    credentials: &SessionCredentials,
) -> Result<(), SessionFileError> {
    let path = path.as_ref();
    credentials.validate()?;
    if path.symlink_metadata().is_ok() {
        return Err(SessionFileError::AlreadyExists);
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // tempfile creates the file with mode 0600 on Unix, which the final name keeps.
    let temp = tempfile::Builder::new()
        .prefix(".herald-session-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    {
        let conn = Connection::open(temp.path())?;
        fill(&conn, credentials)?;
        conn.close().map_err(|(_, e)| e)?;
    }
    temp.as_file().sync_all()?;
    temp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            SessionFileError::AlreadyExists
        } else {
            SessionFileError::Io(e.error)
        }
    })?;
    if let Ok(dir_handle) = std::fs::File::open(dir) {
        // Makes the new directory entry durable; failure here cannot undo the write.
        let _ = dir_handle.sync_all();
    }
    Ok(())
}

fn fill(conn: &Connection, credentials: &SessionCredentials) -> Result<(), SessionFileError> {
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(TELETHON_SCHEMA)?;
    tx.execute("insert into version values (?1)", [TELETHON_DB_VERSION])?;
    tx.execute(
        "insert or replace into sessions values (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![
            credentials.dc_id,
            credentials.server_address,
            credentials.port,
            credentials.auth_key.expose().as_slice(),
            Option::<i64>::None,
        ],
    )?;
    tx.commit()?;
    Ok(())
}
