//! Importing sessions: each accepted format (built here, in the test) lands in `unused/` as a
//! Telethon file with mode 0600; each refusal names its reason and writes nothing.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;
use herald_session_file::{
    AuthKey, SessionCredentials, read_telethon, to_telethon_string, write_telethon,
};
use herald_sessions::{PoolConfig, SessionFormat, SessionsError};

fn creds(seed: u8) -> SessionCredentials {
    SessionCredentials {
        dc_id: 2,
        server_address: "149.154.167.51".into(),
        port: 443,
        auth_key: AuthKey::new([seed; 256]),
    }
}

/// What grammers-session 0.11's SqliteSession stores for a logged-in account.
fn grammers_file(path: &Path, key: &[u8]) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(
        "CREATE TABLE dc_home (dc_id INTEGER NOT NULL, PRIMARY KEY(dc_id));
         CREATE TABLE dc_option (dc_id INTEGER NOT NULL, ipv4 TEXT NOT NULL, ipv6 TEXT NOT NULL, auth_key BLOB, PRIMARY KEY (dc_id));
         PRAGMA user_version = 1;
         INSERT INTO dc_home VALUES (2);",
    )
    .unwrap();
    c.execute(
        "INSERT INTO dc_option VALUES (2, '149.154.167.51:443', '[2001:67c:4e8:f002::a]:443', ?1)",
        [key],
    )
    .unwrap();
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn every_accepted_format_lands_in_unused_as_a_telethon_file_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool_with(dir.path(), 0, 0, PoolConfig::default()).await;
    let src = tempfile::tempdir().unwrap();

    let telethon = src.path().join("+254708803721.session");
    write_telethon(&telethon, &creds(1)).unwrap();
    fs::write(src.path().join("+254708803721.session-journal"), b"journal").unwrap();
    let string = src.path().join("917862974695 (2).txt");
    fs::write(&string, to_telethon_string(&creds(2)).unwrap()).unwrap();
    let grammers = src.path().join("grammers account.session");
    grammers_file(&grammers, &[3; 256]);

    let cases = [
        (
            &telethon,
            "+254708803721.session",
            SessionFormat::TelethonSqlite,
            1u8,
        ),
        (
            &string,
            "917862974695 (2).session",
            SessionFormat::TelethonString,
            2,
        ),
        (
            &grammers,
            "grammers account.session",
            SessionFormat::GrammersSqlite,
            3,
        ),
    ];
    for (path, name, format, key) in cases {
        let imported = pool.import_file(path).unwrap();
        assert_eq!(imported.name, name);
        assert_eq!(imported.format, format);
        let landed = dir.path().join("sessions/unused").join(name);
        assert_eq!(mode(&landed), 0o600, "{name}");
        let back = read_telethon(&landed).unwrap();
        assert_eq!(
            back.auth_key.expose(),
            &[key; 256],
            "{name}: the key survives the conversion"
        );
    }
    assert_eq!(
        fs::read(dir.path().join("sessions/unused/+254708803721.session")).unwrap(),
        fs::read(&telethon).unwrap()
    );
    assert_eq!(
        fs::read(
            dir.path()
                .join("sessions/unused/+254708803721.session-journal")
        )
        .unwrap(),
        b"journal"
    );
    assert_eq!(pool.listing().unwrap().unused.len(), 3);
    let verified = pool.verify("grammers account.session").unwrap();
    assert!(verified.valid && verified.located.exists, "{verified:?}");
    fs::write(dir.path().join("sessions/unused/broken.session"), b"junk").unwrap();
    let broken = pool.verify("broken.session").unwrap();
    assert!(!broken.valid && broken.reason.is_some(), "{broken:?}");
}

#[tokio::test]
async fn refusals_name_the_reason_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool_with(dir.path(), 1, 0, PoolConfig::default()).await;
    let good = {
        let src = tempfile::tempdir().unwrap();
        let path = src.path().join("x.session");
        write_telethon(&path, &creds(9)).unwrap();
        fs::read(path).unwrap()
    };
    let taken = session_names(1)[0].clone();
    let long = format!("{}.session", "9".repeat(250));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("../escape.session", good.clone(), "path separator"),
        ("..escape.session", good.clone(), "contains '..'"),
        ("a/b.session", good.clone(), "path separator"),
        ("nul\0.session", good.clone(), "control character"),
        (long.as_str(), good.clone(), "longer than 255 bytes"),
        ("noext", good.clone(), "does not end in '.session'"),
        (taken.as_str(), good.clone(), "already exists"),
        ("empty.session", Vec::new(), "empty"),
        ("random.session", vec![7u8; 300], "not a usable session"),
        (
            "short-key.session",
            to_short_key_string().into_bytes(),
            "not a usable session",
        ),
    ];
    let before = files_in(dir.path(), "unused");
    for (name, bytes, why) in cases {
        let err = pool.import_bytes(name, &bytes, None).unwrap_err();
        assert!(err.to_string().contains(why), "{name:?}: {err}");
        assert!(
            matches!(err, SessionsError::Invalid(_) | SessionsError::Conflict(_)),
            "{name:?}: {err:?}"
        );
        assert_eq!(
            files_in(dir.path(), "unused"),
            before,
            "{name:?} wrote something"
        );
    }
}

/// A string session whose auth key is 255 bytes long.
fn to_short_key_string() -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE;
    let full = to_telethon_string(&creds(5)).unwrap();
    let raw = engine.decode(&full[1..]).unwrap();
    format!("1{}", engine.encode(&raw[..raw.len() - 1]))
}
