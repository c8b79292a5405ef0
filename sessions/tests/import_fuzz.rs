//! Session import under fuzzed input: arbitrary and hostile file names, valid session files with
//! bytes flipped or cut off, random bytes. An import either lands one loadable Telethon file,
//! mode 0600, at `sessions/unused/<name>`, or refuses and leaves the whole tree as it was; it
//! never writes anywhere else and never panics.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;
use herald_session_file::{
    AuthKey, SessionCredentials, read_telethon, to_telethon_string, write_telethon,
};
use herald_sessions::PoolConfig;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn tree(root: &Path) -> BTreeSet<String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.insert(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

fn valid_file() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.session");
    let credentials = SessionCredentials {
        dc_id: 2,
        server_address: "149.154.167.51".into(),
        port: 443,
        auth_key: AuthKey::new([9; 256]),
    };
    write_telethon(&path, &credentials).unwrap();
    std::fs::read(path).unwrap()
}

fn valid_string() -> Vec<u8> {
    let credentials = SessionCredentials {
        dc_id: 4,
        server_address: "149.154.167.91".into(),
        port: 443,
        auth_key: AuthKey::new([7; 256]),
    };
    to_telethon_string(&credentials).unwrap().into_bytes()
}

fn names() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[+0-9A-Za-z_() -]{1,40}\\.session",
        1 => "\\PC{0,60}",
        1 => prop_oneof![
            Just("../escape.session".to_owned()),
            Just("../../data/users.json".to_owned()),
            Just("/etc/passwd".to_owned()),
            Just("nested/inside.session".to_owned()),
            Just(".hidden.session".to_owned()),
            Just("nul\0byte.session".to_owned()),
            Just("..".to_owned()),
            Just(String::new()),
        ],
        1 => "[a-z]{300}\\.session",
    ]
}

/// A valid file or string, intact or with some bytes overwritten and maybe cut short, or random
/// bytes.
fn contents(file: Vec<u8>, string: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let mutated = |base: Vec<u8>| {
        let len = base.len();
        (
            proptest::collection::vec((0..len, any::<u8>()), 0..8),
            prop_oneof![Just(len), 0..len],
        )
            .prop_map(move |(flips, keep)| {
                let mut bytes = base.clone();
                for (at, byte) in flips {
                    bytes[at] = byte;
                }
                bytes.truncate(keep);
                bytes
            })
    };
    // Intact files too, so that acceptance is exercised as often as refusal.
    prop_oneof![
        2 => Just(file.clone()),
        1 => Just(string.clone()),
        3 => mutated(file),
        2 => mutated(string),
        1 => proptest::collection::vec(any::<u8>(), 0..2048),
    ]
}

#[tokio::test]
async fn an_import_lands_one_loadable_file_or_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let pool = pool_with(root, 0, 0, PoolConfig::default()).await;
    let mut runner = TestRunner::new(Config::with_cases(400));
    let (accepted, refused) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    runner
        .run(
            &(names(), contents(valid_file(), valid_string())),
            |(name, bytes)| {
                let before = tree(root);
                match pool.import_bytes(&name, &bytes, None) {
                    Ok(imported) => {
                        accepted.set(accepted.get() + 1);
                        let path = root.join("sessions/unused").join(&imported.name);
                        let after = tree(root);
                        let expected = format!("sessions/unused/{}", imported.name);
                        let added: Vec<_> = after.difference(&before).collect();
                        prop_assert_eq!(added, vec![&expected], "an import added something else");
                        prop_assert!(before.is_subset(&after), "an import removed a file");
                        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                        prop_assert_eq!(mode, 0o600);
                        prop_assert!(read_telethon(&path).is_ok(), "accepted but not loadable");
                        std::fs::remove_file(path).unwrap();
                    }
                    Err(_) => {
                        refused.set(refused.get() + 1);
                        prop_assert_eq!(tree(root), before, "a refused import wrote something");
                    }
                }
                Ok(())
            },
        )
        .unwrap();
    // The strategies must reach both outcomes, or the property says little.
    let (accepted, refused) = (accepted.get(), refused.get());
    eprintln!("accepted {accepted}, refused {refused}");
    assert!(
        accepted > 10 && refused > 10,
        "accepted {accepted}, refused {refused}"
    );
}
