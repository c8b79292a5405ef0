//! Every format built the way its own library builds it, read back, round-tripped
//! and refused where it is wrong.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use herald_session_file::*;

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[test]
fn telethon_writer_round_trips_with_mode_0600() {
    let d = dir();
    let path = d.path().join("+254708803721.session");
    let c = creds(4, "149.154.167.91", 443, 7);
    write_telethon(&path, &c).expect("write");
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(read_telethon(&path).expect("read"), c);
    // No temporary or journal file is left behind.
    let names: Vec<_> = std::fs::read_dir(d.path())
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn telethon_writer_produces_telethons_schema() {
    let d = dir();
    let path = d.path().join("a.session");
    write_telethon(&path, &creds(2, "2001:67c:4e8:f002::a", 443, 1)).expect("write");
    let c = rusqlite::Connection::open(&path).expect("open");
    let version: i64 = c
        .query_row("select version from version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, 7);
    let mut tables: Vec<String> = c
        .prepare("select name from sqlite_master where type='table' order by name")
        .expect("prep")
        .query_map([], |r| r.get(0))
        .expect("q")
        .collect::<Result<_, _>>()
        .expect("rows");
    tables.sort();
    assert_eq!(
        tables,
        [
            "entities",
            "sent_files",
            "sessions",
            "update_state",
            "version"
        ]
    );
    let cols: Vec<String> = c
        .prepare("select name from pragma_table_info('sessions')")
        .expect("prep")
        .query_map([], |r| r.get(0))
        .expect("q")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        cols,
        ["dc_id", "server_address", "port", "auth_key", "takeout_id"]
    );
}

#[test]
fn telethon_writer_refuses_existing_file() {
    let d = dir();
    let path = d.path().join("x.session");
    std::fs::write(&path, b"keep me").expect("seed");
    let err = write_telethon(&path, &creds(2, "149.154.167.51", 443, 1)).expect_err("refused");
    assert!(matches!(err, SessionFileError::AlreadyExists), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), b"keep me");
}

#[test]
fn telethon_file_built_by_raw_sql_is_read() {
    let d = dir();
    let path = d.path().join("917862974695 (2).session");
    telethon_by_sql(&path, 2, "149.154.167.51", 443, &key(9));
    let c = read_telethon(&path).expect("read");
    assert_eq!(c, creds(2, "149.154.167.51", 443, 9));
}

#[test]
fn old_telethon_schema_without_takeout_is_read() {
    let d = dir();
    let path = d.path().join("old.session");
    let c = rusqlite::Connection::open(&path).expect("open");
    c.execute_batch(
        "create table version (version integer primary key);
         create table sessions (dc_id integer primary key, server_address text, port integer, auth_key blob);
         insert into version values (3);",
    )
    .expect("schema");
    c.execute(
        "insert into sessions values (?,?,?,?)",
        rusqlite::params![1, "149.154.175.53", 443, &key(3)[..]],
    )
    .expect("row");
    drop(c);
    assert_eq!(
        read_telethon(&path).expect("read"),
        creds(1, "149.154.175.53", 443, 3)
    );
}

#[test]
fn newer_telethon_schema_with_tmp_auth_key_is_read() {
    // Telethon 1.45 is at database version 8: sessions gained `tmp_auth_key`.
    let d = dir();
    let path = d.path().join("v8.session");
    telethon_by_sql(&path, 2, "149.154.167.51", 443, &key(4));
    let c = rusqlite::Connection::open(&path).expect("open");
    c.execute_batch(
        "alter table sessions add column tmp_auth_key blob;
         delete from version; insert into version values (8);",
    )
    .expect("upgrade");
    drop(c);
    assert_eq!(
        read_telethon(&path).expect("read"),
        creds(2, "149.154.167.51", 443, 4)
    );
}

#[test]
fn reading_never_modifies_or_creates() {
    let d = dir();
    let missing = d.path().join("missing.session");
    assert!(matches!(
        read_telethon(&missing),
        Err(SessionFileError::NotFound)
    ));
    assert!(!missing.exists());

    let path = d.path().join("a.session");
    telethon_by_sql(&path, 2, "149.154.167.51", 443, &key(1));
    let before = std::fs::read(&path).expect("read");
    let mtime = std::fs::metadata(&path)
        .expect("m")
        .modified()
        .expect("mtime");
    read_telethon(&path).expect("read");
    detect_and_read(path.as_path()).expect("detect");
    assert_eq!(std::fs::read(&path).expect("read"), before);
    assert_eq!(
        std::fs::metadata(&path)
            .expect("m")
            .modified()
            .expect("mtime"),
        mtime
    );
    let count = std::fs::read_dir(d.path()).expect("ls").count();
    assert_eq!(count, 1, "no journal or copy left beside the file");
}

#[test]
fn hot_journal_beside_the_file_is_tolerated_and_left_alone() {
    // Simulate a Telethon that crashed mid-write: copy the database and its
    // journal while a write transaction has spilled pages into the database.
    let d = dir();
    let live = d.path().join("live.session");
    telethon_by_sql(&live, 2, "149.154.167.51", 443, &key(1));
    let conn = rusqlite::Connection::open(&live).expect("open");
    conn.execute_batch("PRAGMA cache_size = 1; BEGIN;")
        .expect("begin");
    conn.execute("update sessions set auth_key = ?1", [&key(200)[..]])
        .expect("update");
    for i in 0..2000i64 {
        conn.execute(
            "insert into entities values (?1, 1, ?2, NULL, ?2, 0)",
            rusqlite::params![i, format!("name-{i}-{}", "x".repeat(200))],
        )
        .expect("fill");
    }
    let crashed = d.path().join("crashed.session");
    let journal = d.path().join("crashed.session-journal");
    std::fs::copy(&live, &crashed).expect("copy db");
    std::fs::copy(d.path().join("live.session-journal"), &journal).expect("copy journal");
    conn.execute_batch("ROLLBACK").expect("rollback");
    drop(conn);
    assert!(std::fs::metadata(&journal).expect("j").len() > 0);

    // The journal really is hot: plain read-only SQLite cannot read past it.
    let ro =
        rusqlite::Connection::open_with_flags(&crashed, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open ro");
    let plain: Result<i64, _> = ro.query_row("select count(*) from sessions", [], |r| r.get(0));
    assert!(
        plain.is_err(),
        "expected SQLite to refuse a hot journal read-only"
    );
    drop(ro);

    let db_before = std::fs::read(&crashed).expect("read");
    let journal_before = std::fs::read(&journal).expect("read");
    let c = read_telethon(&crashed).expect("read despite hot journal");
    assert_eq!(c, creds(2, "149.154.167.51", 443, 1), "the committed key");
    assert_eq!(std::fs::read(&crashed).expect("read"), db_before);
    assert_eq!(std::fs::read(&journal).expect("read"), journal_before);
}

#[test]
fn string_session_built_by_hand_is_parsed_and_round_trips() {
    let s = string_session(2, &[149, 154, 167, 51], 443, &key(5));
    assert_eq!(s.len(), 353, "Telethon's IPv4 string length");
    let c = parse_telethon_string(&s).expect("parse");
    assert_eq!(c, creds(2, "149.154.167.51", 443, 5));
    assert_eq!(to_telethon_string(&c).expect("encode"), s);

    let v6: std::net::Ipv6Addr = "2001:67c:4e8:f002::a".parse().expect("ip");
    let s6 = string_session(2, &v6.octets(), 443, &key(6));
    assert_eq!(s6.len(), 369, "Telethon's IPv6 string length");
    let c6 = parse_telethon_string(&format!("  {s6}\n")).expect("parse");
    assert_eq!(c6.server_address, "2001:67c:4e8:f002::a");
    assert_eq!(to_telethon_string(&c6).expect("encode"), s6);

    let unpadded = s.trim_end_matches('=');
    assert_eq!(parse_telethon_string(unpadded).expect("parse"), c);
}

#[test]
fn string_session_refusals_are_precise() {
    let good = string_session(2, &[149, 154, 167, 51], 443, &key(5));
    let msg = |s: &str| parse_telethon_string(s).expect_err("refused").to_string();
    assert_eq!(msg(""), "string session: the string is empty");
    assert!(msg(&format!("2{}", &good[1..])).contains("version character '1'"));
    assert!(msg("1abc$%^").contains("not URL-safe base64"));
    let short = string_session(2, &[149, 154, 167, 51], 443, &key(5)[..255]);
    assert_eq!(
        msg(&short),
        "string session: it decodes to 262 bytes, expected 263 (IPv4) or 275 (IPv6)"
    );
    let dc0 = string_session(0, &[149, 154, 167, 51], 443, &key(5));
    assert_eq!(
        msg(&dc0),
        "dc_id is 0, expected 1 to 5 (Telegram's production data centers)"
    );
    let port0 = string_session(2, &[149, 154, 167, 51], 0, &key(5));
    assert_eq!(msg(&port0), "port is 0, expected 1 to 65535");
}

#[test]
fn grammers_sqlite_built_by_raw_sql_is_read() {
    let d = dir();
    let path = d.path().join("g.session");
    grammers_by_sql(
        &path,
        Some(5),
        5,
        "91.108.56.104:443",
        "[2001:b28:f23f:f005::a]:443",
        Some(&key(8)),
    );
    assert_eq!(
        read_grammers(&path).expect("read"),
        creds(5, "91.108.56.104", 443, 8)
    );
    let detected = detect_and_read(path.as_path()).expect("detect");
    assert_eq!(detected.format, SessionFormat::GrammersSqlite);
}

#[test]
fn grammers_sqlite_without_home_uses_dc2_and_ipv6_when_ipv4_unknown() {
    let d = dir();
    let path = d.path().join("g.session");
    grammers_by_sql(
        &path,
        None,
        2,
        "0.0.0.0:0",
        "[2001:67c:4e8:f002::a]:443",
        Some(&key(2)),
    );
    assert_eq!(
        read_grammers(&path).expect("read"),
        creds(2, "2001:67c:4e8:f002::a", 443, 2)
    );
}

#[test]
fn grammers_sqlite_that_never_connected_is_refused() {
    let d = dir();
    let path = d.path().join("g.session");
    grammers_by_sql(
        &path,
        Some(2),
        2,
        "149.154.167.41:443",
        "[2001:67c:4e8:f002::a]:443",
        None,
    );
    let err = read_grammers(&path).expect_err("refused").to_string();
    assert_eq!(
        err,
        "grammers session: no auth_key for home DC 2: the session never connected"
    );
}

#[test]
fn grammers_binary_built_by_hand_is_read() {
    let k = key(4);
    let bytes = grammers_binary(
        Some(4),
        &[
            (2, [149, 154, 167, 51], 443, None),
            (4, [149, 154, 167, 91], 443, Some(&k[..])),
        ],
    );
    let c = read_grammers_binary(&bytes).expect("read");
    assert_eq!(c, creds(4, "149.154.167.91", 443, 4));
    let d = dir();
    let path = d.path().join("old.session");
    std::fs::write(&path, &bytes).expect("write");
    assert_eq!(read_grammers(&path).expect("read"), c);
    let detected = detect_and_read(bytes.as_slice()).expect("detect");
    assert_eq!(detected.format, SessionFormat::GrammersBinary);
    // Truncated files are refused, not misread.
    assert!(read_grammers_binary(&bytes[..bytes.len() - 10]).is_err());
}

#[test]
fn detect_recognizes_every_format_from_path_and_bytes() {
    let d = dir();
    let tele = d.path().join("t.session");
    write_telethon(&tele, &creds(3, "149.154.175.100", 443, 3)).expect("write");
    let graw = d.path().join("g.session");
    grammers_by_sql(
        &graw,
        Some(1),
        1,
        "149.154.175.53:443",
        "[2001:b28:f23d:f001::a]:443",
        Some(&key(1)),
    );
    let text = d.path().join("s.txt");
    std::fs::write(
        &text,
        format!(
            "{}\n",
            string_session(2, &[149, 154, 167, 51], 443, &key(2))
        ),
    )
    .expect("w");

    for (path, format) in [
        (&tele, SessionFormat::TelethonSqlite),
        (&graw, SessionFormat::GrammersSqlite),
        (&text, SessionFormat::TelethonString),
    ] {
        let by_path = detect_and_read(path.as_path()).expect("path");
        assert_eq!(by_path.format, format);
        let bytes = std::fs::read(path).expect("read");
        let by_bytes = detect_and_read(bytes.as_slice()).expect("bytes");
        assert_eq!(by_bytes, by_path);
    }
}

#[test]
fn detect_refusals_name_the_problem() {
    let d = dir();
    let msg = |bytes: &[u8]| {
        let path = d.path().join("probe");
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, bytes).expect("write");
        let by_path = detect_and_read(path.as_path())
            .expect_err("path")
            .to_string();
        let by_bytes = detect_and_read(bytes).expect_err("bytes").to_string();
        assert_eq!(by_path, by_bytes);
        by_path
    };
    assert_eq!(msg(b""), "file is empty");
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    assert!(
        msg(&random).starts_with("not a session file"),
        "{}",
        msg(&random)
    );
    assert!(msg(b"hello world\n").starts_with("not a session file"));

    let other = d.path().join("other.db");
    let c = rusqlite::Connection::open(&other).expect("open");
    c.execute_batch("create table notes (x text); insert into notes values ('hi');")
        .expect("sql");
    drop(c);
    let bytes = std::fs::read(&other).expect("read");
    assert_eq!(
        msg(&bytes),
        "SQLite database is not a session (no sessions table, no dc_option table)"
    );
    assert_eq!(
        read_telethon(&other).expect_err("refused").to_string(),
        "no sessions table: not a Telethon session"
    );

    let short = d.path().join("short.session");
    telethon_by_sql(&short, 2, "149.154.167.51", 443, &key(1)[..255]);
    assert_eq!(
        msg(&std::fs::read(&short).expect("read")),
        "auth_key is 255 bytes, expected 256"
    );

    let dc0 = d.path().join("dc0.session");
    telethon_by_sql(&dc0, 0, "149.154.167.51", 443, &key(1));
    assert_eq!(
        msg(&std::fs::read(&dc0).expect("read")),
        "dc_id is 0, expected 1 to 5 (Telegram's production data centers)"
    );

    let empty_key = d.path().join("nokey.session");
    telethon_by_sql(&empty_key, 2, "149.154.167.51", 443, b"");
    assert_eq!(
        read_telethon(&empty_key).expect_err("refused").to_string(),
        "auth_key is 0 bytes, expected 256"
    );

    let no_addr = d.path().join("noaddr.session");
    telethon_by_sql(&no_addr, 2, "", 443, &key(1));
    assert_eq!(
        read_telethon(&no_addr).expect_err("refused").to_string(),
        "server_address is empty"
    );

    let no_port = d.path().join("noport.session");
    telethon_by_sql(&no_port, 2, "149.154.167.51", 0, &key(1));
    assert_eq!(
        read_telethon(&no_port).expect_err("refused").to_string(),
        "port is 0, expected 1 to 65535"
    );

    let no_row = d.path().join("norow.session");
    telethon_by_sql(&no_row, 2, "149.154.167.51", 443, &key(1));
    rusqlite::Connection::open(&no_row)
        .expect("open")
        .execute("delete from sessions", [])
        .expect("delete");
    assert_eq!(
        read_telethon(&no_row).expect_err("refused").to_string(),
        "sessions table is empty: no login stored"
    );
}

#[test]
fn directory_and_non_sqlite_are_refused_by_read_telethon() {
    let d = dir();
    assert!(matches!(
        read_telethon(d.path()),
        Err(SessionFileError::NotAFile)
    ));
    let path = d.path().join("text.session");
    std::fs::write(&path, "not sqlite at all, just some text").expect("write");
    assert!(matches!(
        read_telethon(&path),
        Err(SessionFileError::NotSqlite)
    ));
}
