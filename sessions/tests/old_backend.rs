//! A data directory exactly as the old Python backend leaves it is read and reconciled.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;

use common::*;
use herald_data::{Store, StoreConfig};
use herald_sessions::{Place, Pool, PoolConfig};

fn write(root: &Path, path: &str, bytes: &[u8]) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// users.json says 222 holds `x.session`, but the old backend crashed before moving it; user 333
/// no longer exists but its folder does; a ban was recorded only by moving the file.
fn old_backend_dir(root: &Path) {
    write(
        root,
        "data/users.json",
        br#"{
  "users": {
    "111": {
      "assigned_sessions": ["+254708803721.session"],
      "api_pairs": [0],
      "groups": ["-1001234567890", "-1009876543210"],
      "post_type": "link",
      "post_content": "https://t.me/somechannel/42",
      "bot_status": "running",
      "delay_between_posts": 5,
      "delay_between_cycles": 300
    },
    "222": {
      "assigned_sessions": ["917862974695 (2).session", "x.session"],
      "api_pairs": [0, 1],
      "groups": [],
      "post_type": "text",
      "post_content": "hello",
      "bot_status": "stopped",
      "delay_between_posts": 10,
      "delay_between_cycles": 600,
      "execution_mode": "starter",
      "total_cycle_minutes": 60
    }
  }
}"#,
    );
    write(
        root,
        "data/api_pairs.json",
        format!(r#"{{"pairs": [{{"api_id": "24881145", "api_hash": "{}"}}, {{"api_id": "25170767", "api_hash": "{}"}}]}}"#, hash(1), hash(2)).as_bytes(),
    );
    write(root, "data/stats.json", br#"{"users": {"111": {"total_posts": 10, "total_success": 9, "total_failures": 1, "total_flood_waits": 0, "total_messages_sent": 9, "last_activity": "2025-12-21T19:23:23.123456"}}}"#);
    write(root, "sessions/assigned/111/+254708803721.session", b"s");
    write(
        root,
        "sessions/assigned/111/+254708803721.session-journal",
        b"j",
    );
    write(root, "sessions/assigned/222/917862974695 (2).session", b"s");
    write(root, "sessions/unused/x.session", b"s");
    write(root, "sessions/unused/917828702464 (2).session", b"s");
    write(root, "sessions/unused/16592891053.session", b"s");
    write(root, "sessions/assigned/333/+918684807219.session", b"s");
    write(root, "sessions/banned/+254727162683.session", b"s");
}

#[tokio::test]
async fn the_old_layout_is_read_and_reconciled_into_what_users_json_says() {
    let dir = tempfile::tempdir().unwrap();
    old_backend_dir(dir.path());
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    let pool = Pool::new(store.clone(), PoolConfig::default());

    let user = store.user("222").unwrap();
    assert_eq!(user.total_cycle_minutes, Some(60));
    assert_eq!(store.stats("111").total_success, 9);
    assert_eq!(pool.list_pairs()[1].usage, 1);

    let report = pool.reconcile().await.unwrap();
    assert!(
        report.moved.contains(&(
            "x.session".into(),
            Place::Unused,
            Place::Assigned("222".into())
        )),
        "{report:?}"
    );
    assert_eq!(
        report.orphans,
        vec![(
            "+918684807219.session".into(),
            Place::Assigned("333".into())
        )]
    );
    assert!(report.moved.contains(&(
        "+918684807219.session".into(),
        Place::Assigned("333".into()),
        Place::Unused
    )));
    assert_eq!(
        report.adopted_bans,
        vec!["+254727162683.session".to_string()]
    );
    assert!(report.missing.is_empty() && report.ambiguous.is_empty());

    assert_eq!(
        files_in(dir.path(), "assigned/222"),
        vec!["917862974695 (2).session", "x.session"]
    );
    assert_eq!(
        files_in(dir.path(), "assigned/111"),
        vec!["+254708803721.session", "+254708803721.session-journal"]
    );
    assert!(
        files_in(dir.path(), "assigned/333").is_empty(),
        "the folder stays, emptied, never deleted"
    );
    assert_eq!(
        files_in(dir.path(), "banned"),
        vec!["+254727162683.session"]
    );
    assert!(
        store
            .users()
            .unowned_bans
            .contains_key("+254727162683.session")
    );

    // A second run has nothing to do.
    let again = pool.reconcile().await.unwrap();
    assert!(
        again.moved.is_empty() && again.orphans.is_empty() && again.adopted_bans.is_empty(),
        "{again:?}"
    );

    // The adopted ban keeps the session out of the pool; the orphan is free again.
    let listing = pool.listing().unwrap();
    assert!(
        listing
            .unused
            .contains(&"+918684807219.session".to_string())
    );
    assert!(
        !listing
            .unused
            .contains(&"+254727162683.session".to_string())
    );

    // Fields and values the old backend wrote survive Herald's writes.
    store
        .upsert_user(&uid("111"), |u, _| {
            u.delay_between_posts = 6;
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    let on_disk: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("data/users.json")).unwrap()).unwrap();
    assert_eq!(
        on_disk["users"]["111"]["post_content"],
        "https://t.me/somechannel/42"
    );
    assert_eq!(on_disk["users"]["222"]["execution_mode"], "starter");
}

#[tokio::test]
async fn a_session_moves_with_its_journal() {
    let dir = tempfile::tempdir().unwrap();
    old_backend_dir(dir.path());
    let pool = Pool::new(
        Store::open(StoreConfig::new(dir.path())).unwrap(),
        PoolConfig::default(),
    );
    pool.store()
        .update_user(&uid("111"), |u| {
            u.bot_status = herald_data::BotStatus::Stopped;
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    pool.release(&uid("111")).await.unwrap();
    assert!(files_in(dir.path(), "unused").contains(&"+254708803721.session-journal".to_string()));
    assert!(files_in(dir.path(), "assigned/111").is_empty());
}
