//! Each kind of bad data file: refused at open with file and position, or, found while running,

#![allow(clippy::unwrap_used)]
//! served from the last good copy with writes refused. In every case the file is left byte for
//! byte as it was.

use std::fs;
use std::path::Path;

use herald_data::{DataError, StatsDelta, Store, StoreConfig, UpdateError, UserId};

const BAD_FILES: &[(&str, &[u8])] = &[
    ("empty", b""),
    ("truncated", b"{\"users\": {\"1\": {\"groups\": [\"-100"),
    ("not_json", b"users: [1, 2]\n"),
    ("wrong_shape", b"[{\"users\": {}}]"),
    (
        "wrong_field_type",
        b"{\"users\": {\"1\": {\"bot_status\": 7}}}",
    ),
    ("unsafe_user_id", b"{\"users\": {\"../etc\": {}}}"),
    ("binary", b"\x00\xff\xfe garbage"),
];

fn seed(dir: &Path, file: &str, bytes: &[u8]) {
    fs::create_dir_all(dir.join("data")).unwrap();
    fs::write(dir.join("data").join(file), bytes).unwrap();
}

#[test]
fn a_corrupt_file_at_start_is_refused_naming_file_and_position_and_left_untouched() {
    for file in ["users.json", "stats.json", "api_pairs.json"] {
        for (kind, bytes) in BAD_FILES {
            // Not every kind is bad for every file (stats has no user ids to check).
            if *kind == "unsafe_user_id" && file != "users.json" {
                continue;
            }
            if *kind == "wrong_field_type" && file != "users.json" {
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            seed(dir.path(), file, bytes);
            let err =
                Store::open(StoreConfig::new(dir.path())).expect_err(&format!("{file} {kind}"));
            let message = err.to_string();
            assert!(
                matches!(err, DataError::Corrupt { .. }),
                "{file} {kind}: {message}"
            );
            assert!(
                message.starts_with(&format!("data/{file} is corrupt")),
                "{message}"
            );
            if *kind != "unsafe_user_id" {
                assert!(message.contains(" at line "), "{file} {kind}: {message}");
            }
            assert!(
                !message.contains(&dir.path().display().to_string()),
                "no absolute path: {message}"
            );
            assert_eq!(
                fs::read(dir.path().join("data").join(file)).unwrap(),
                *bytes,
                "{file} {kind}"
            );
        }
    }
}

#[tokio::test]
async fn a_file_corrupted_while_running_is_served_from_the_last_good_copy_and_never_overwritten() {
    for (kind, bytes) in BAD_FILES {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let id = UserId::parse("1").unwrap();
        store
            .upsert_user(&id, |u, _| {
                u.post_content = "good".into();
                Ok::<_, ()>(())
            })
            .await
            .unwrap();

        fs::write(dir.path().join("data/users.json"), bytes).unwrap();

        assert_eq!(
            store.user("1").unwrap().post_content,
            "good",
            "{kind}: last good copy"
        );
        let reason = store
            .read_only()
            .unwrap_or_else(|| panic!("{kind}: read-only expected"));
        assert!(reason.contains("data/users.json"), "{reason}");
        let write = store
            .update_user(&id, |u| {
                u.post_content = "lost".into();
                Ok::<_, ()>(())
            })
            .await;
        assert!(
            matches!(write, Err(UpdateError::Data(DataError::ReadOnly { .. }))),
            "{kind}: {write:?}"
        );
        assert_eq!(
            fs::read(dir.path().join("data/users.json")).unwrap(),
            *bytes,
            "{kind}"
        );

        // The operator repairs the file: writes are accepted again.
        fs::write(
            dir.path().join("data/users.json"),
            br#"{"users": {"1": {}}}"#,
        )
        .unwrap();
        assert_eq!(store.read_only(), None, "{kind}");
        store
            .update_user(&id, |u| {
                u.post_content = "after repair".into();
                Ok::<_, ()>(())
            })
            .await
            .unwrap();
    }
}

#[test]
fn counters_for_a_corrupt_stats_file_stay_pending_and_the_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    store.add_stats(
        "1",
        &StatsDelta {
            posts: 1,
            ..StatsDelta::default()
        },
    );
    store.flush_stats().unwrap();
    fs::write(dir.path().join("data/stats.json"), b"{broken").unwrap();
    store.add_stats(
        "1",
        &StatsDelta {
            posts: 1,
            ..StatsDelta::default()
        },
    );
    assert!(matches!(
        store.flush_stats(),
        Err(DataError::ReadOnly { .. })
    ));
    assert_eq!(
        fs::read(dir.path().join("data/stats.json")).unwrap(),
        b"{broken"
    );
    assert_eq!(
        store.stats("1").total_posts,
        2,
        "pending counts are kept, not dropped"
    );
}
