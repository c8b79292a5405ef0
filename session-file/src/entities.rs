//! The chats a session has resolved, kept where Telethon keeps them: the `entities` table of
//! its `.session` file (marked id, access hash, username). Herald reads them before it connects
//! and adds what a connection learned after it, so a username is resolved once per session,
//! not once per connection or cycle (Telegram rate-limits username resolution hard), and a
//! `-100…` chat needs no dialog scan once found.
//!
//! Owns the `entities` rows only: it never reads or writes the `sessions` row (the login),
//! and it writes through SQLite's own atomic commit, so a crash leaves the old rows or the new.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::sqlite::{table_exists, with_read_only};
use crate::telethon::read_connection;
use crate::{SessionCredentials, SessionFileError};

/// One resolved chat (or user) as Telethon stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    /// The marked id: positive for users, `-<id>` for basic chats, `-100<id>` for channels.
    pub id: i64,
    /// The access hash this account uses for it.
    pub hash: i64,
    /// Its public username, without `@`, if it has one.
    pub username: Option<String>,
}

/// The entities stored in the session file at `path`. Opens the file read-only.
pub fn read_entities(path: impl AsRef<Path>) -> Result<Vec<Entity>, SessionFileError> {
    with_read_only(path.as_ref(), entities_of)
}

/// The login and the entities of the Telethon file at `path`, read through one read-only
/// connection: a worker needs both before it connects, and each open parses the file's schema
/// again (with 10,000 sessions starting, the opens were most of the start's CPU, BENCHMARKS.md,
/// cost).
pub fn read_telethon_and_entities(
    path: impl AsRef<Path>,
) -> Result<(SessionCredentials, Vec<Entity>), SessionFileError> {
    with_read_only(path.as_ref(), |conn| {
        Ok((read_connection(conn)?, entities_of(conn)?))
    })
}

fn entities_of(conn: &Connection) -> Result<Vec<Entity>, SessionFileError> {
    if !table_exists(conn, "entities")? {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare("SELECT id, hash, username FROM entities")?;
    let rows = stmt.query_map([], |row| {
        Ok(Entity {
            id: row.get(0)?,
            hash: row.get(1)?,
            username: row.get::<_, Option<String>>(2)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Adds (or updates) `entities` in the session file at `path`, in one transaction.
pub fn remember_entities(
    path: impl AsRef<Path>,
    entities: &[Entity],
) -> Result<(), SessionFileError> {
    if entities.is_empty() {
        return Ok(());
    }
    let conn = Connection::open_with_flags(
        path.as_ref(),
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(
        "create table if not exists entities (id integer primary key, hash integer not null, username text, phone integer, name text, date integer)",
    )?;
    let now = unix_now();
    for entity in entities {
        tx.execute(
            "insert or replace into entities (id, hash, username, phone, name, date) values (?1, ?2, ?3, null, null, ?4)",
            rusqlite::params![entity.id, entity.hash, entity.username, now],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Seconds since the epoch, as Telethon's `date` column holds.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuthKey, SessionCredentials, read_telethon, write_telethon};

    #[test]
    fn entities_are_added_beside_the_login_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.session");
        let credentials = SessionCredentials {
            dc_id: 2,
            server_address: "149.154.167.51".into(),
            port: 443,
            auth_key: AuthKey::new([7; 256]),
        };
        write_telethon(&path, &credentials).expect("write");
        assert_eq!(read_entities(&path).expect("read"), Vec::new());
        let news = Entity {
            id: -1_001_234_567_890,
            hash: 42,
            username: Some("news_room".into()),
        };
        let group = Entity {
            id: -1_009_876_543_210,
            hash: -7,
            username: None,
        };
        remember_entities(&path, &[news.clone(), group.clone()]).expect("remember");
        let updated = Entity { hash: 43, ..news };
        remember_entities(&path, std::slice::from_ref(&updated)).expect("again");
        let mut found = read_entities(&path).expect("read");
        found.sort_by_key(|e| e.id);
        assert_eq!(found, vec![group, updated]);
        assert_eq!(
            read_telethon(&path).expect("login"),
            credentials,
            "the login is untouched"
        );
        let (login, mut both) = read_telethon_and_entities(&path).expect("one read of both");
        both.sort_by_key(|e| e.id);
        assert_eq!((login, both), (credentials, found));
    }
}
