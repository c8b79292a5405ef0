//! Builders for session files in each format, written the way their own
//! libraries write them (raw SQL, hand-packed bytes), not with this crate.

#![allow(dead_code, unreachable_pub)]

use std::path::Path;

use base64::Engine;
use herald_session_file::{AuthKey, SessionCredentials};
use rusqlite::Connection;

pub fn key(seed: u8) -> [u8; 256] {
    let mut k = [0u8; 256];
    for (i, b) in k.iter_mut().enumerate() {
        *b = seed.wrapping_add(i as u8).wrapping_mul(31);
    }
    k
}

pub fn creds(dc_id: i32, address: &str, port: u16, seed: u8) -> SessionCredentials {
    SessionCredentials {
        dc_id,
        server_address: address.into(),
        port,
        auth_key: AuthKey::new(key(seed)),
    }
}

/// What Telethon 1.x's SQLiteSession.__init__ + _update_session_table do on a new file.
pub fn telethon_by_sql(path: &Path, dc_id: i64, address: &str, port: i64, auth_key: &[u8]) {
    let c = Connection::open(path).expect("open");
    c.execute_batch(
        "create table version (version integer primary key);
         create table sessions (dc_id integer primary key, server_address text, port integer, auth_key blob, takeout_id integer);
         create table entities (id integer primary key, hash integer not null, username text, phone integer, name text, date integer);
         create table sent_files (md5_digest blob, file_size integer, type integer, id integer, hash integer, primary key(md5_digest, file_size, type));
         create table update_state (id integer primary key, pts integer, qts integer, date integer, seq integer);
         insert into version values (7);",
    )
    .expect("schema");
    c.execute("delete from sessions", []).expect("delete");
    c.execute(
        "insert or replace into sessions values (?,?,?,?,?)",
        rusqlite::params![dc_id, address, port, auth_key, Option::<i64>::None],
    )
    .expect("insert");
    c.execute(
        "insert or replace into entities values (?,?,?,?,?,?)",
        rusqlite::params![
            -1001234567890i64,
            987654321i64,
            "somegroup",
            None::<i64>,
            "Some group",
            1700000000i64
        ],
    )
    .expect("entity");
}

/// grammers-session 0.11 SqliteSession's migrate_v0_to_v1 plus what set_home_dc_id
/// and set_dc_option store.
pub fn grammers_by_sql(
    path: &Path,
    home: Option<i64>,
    dc_id: i64,
    ipv4: &str,
    ipv6: &str,
    auth_key: Option<&[u8]>,
) {
    let c = Connection::open(path).expect("open");
    c.execute_batch(
        "CREATE TABLE dc_home (dc_id INTEGER NOT NULL, PRIMARY KEY(dc_id));
         CREATE TABLE dc_option (dc_id INTEGER NOT NULL, ipv4 TEXT NOT NULL, ipv6 TEXT NOT NULL, auth_key BLOB, PRIMARY KEY (dc_id));
         CREATE TABLE peer_info (peer_id INTEGER NOT NULL, hash INTEGER, subtype INTEGER, PRIMARY KEY (peer_id));
         CREATE TABLE update_state (pts INTEGER NOT NULL, qts INTEGER NOT NULL, date INTEGER NOT NULL, seq INTEGER NOT NULL);
         CREATE TABLE channel_state (peer_id INTEGER NOT NULL, pts INTEGER NOT NULL, PRIMARY KEY (peer_id));
         PRAGMA user_version = 1;",
    )
    .expect("schema");
    if let Some(home) = home {
        c.execute("INSERT INTO dc_home VALUES (?1)", [home])
            .expect("home");
    }
    c.execute(
        "INSERT OR REPLACE INTO dc_option VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![dc_id, ipv4, ipv6, auth_key],
    )
    .expect("dc");
    // Another DC without a key, as grammers stores after help.getConfig.
    c.execute(
        "INSERT OR REPLACE INTO dc_option VALUES (4, '149.154.167.92:443', '[2001:67c:4e8:f004::a]:443', NULL)",
        [],
    )
    .expect("dc4");
}

/// Telethon's StringSession.save(): '1' + urlsafe_b64encode(pack('>B{n}sH256s', ...)).
pub fn string_session(dc: u8, ip: &[u8], port: u16, auth_key: &[u8]) -> String {
    let mut raw = vec![dc];
    raw.extend_from_slice(ip);
    raw.extend_from_slice(&port.to_be_bytes());
    raw.extend_from_slice(auth_key);
    format!("1{}", base64::engine::general_purpose::URL_SAFE.encode(raw))
}

/// One legacy data center entry: id, IPv4 octets, port, auth key.
pub type LegacyDc<'a> = (i32, [u8; 4], i32, Option<&'a [u8]>);

/// grammers-session 0.7 `Session::save()` for one keyed DC and a logged-in user.
pub fn grammers_binary(user_dc: Option<i32>, dcs: &[LegacyDc<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa73e_b8ceu32.to_le_bytes());
    let flags: u32 = if user_dc.is_some() { 1 } else { 0 };
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&0x1cb5_c415u32.to_le_bytes());
    out.extend_from_slice(&(dcs.len() as u32).to_le_bytes());
    for (id, ipv4, port, auth) in dcs {
        out.extend_from_slice(&0x756d_16b6u32.to_le_bytes());
        let dc_flags: u32 = 1 | if auth.is_some() { 4 } else { 0 };
        out.extend_from_slice(&dc_flags.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&i32::from_le_bytes(*ipv4).to_le_bytes());
        out.extend_from_slice(&port.to_le_bytes());
        if let Some(auth) = auth {
            assert!(auth.len() >= 254);
            out.push(0xfe);
            let len = auth.len() as u32;
            out.extend_from_slice(&len.to_le_bytes()[..3]);
            out.extend_from_slice(auth);
            while out.len() % 4 != 0 {
                out.push(0);
            }
        }
    }
    if let Some(dc) = user_dc {
        out.extend_from_slice(&0x672f_428du32.to_le_bytes());
        out.extend_from_slice(&123456789i64.to_le_bytes());
        out.extend_from_slice(&dc.to_le_bytes());
        out.extend_from_slice(&0xbc79_9737u32.to_le_bytes());
    }
    out
}
