//! The data manager's promises, through its public API on a real temporary directory.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use herald_data::{BotStatus, DataError, StatsDelta, Store, StoreConfig, UpdateError, UserId};
use serde_json::json;

fn store(dir: &std::path::Path) -> Store {
    Store::open(StoreConfig::new(dir)).expect("open store")
}

/// A store whose counters flush every `interval` by themselves.
fn store_flushing_every(dir: &std::path::Path, interval: Duration) -> Store {
    Store::open(StoreConfig {
        root: dir.to_owned(),
        stats_flush_interval: interval,
    })
    .expect("open store")
}

fn uid(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn users_json(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(dir.join("data/users.json")).unwrap()).unwrap()
}

#[tokio::test]
async fn an_update_is_on_disk_when_it_resolves_and_the_file_is_0600() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    store
        .upsert_user(&uid("1"), |u, created| {
            assert!(created);
            u.groups = vec!["-1001".into()];
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    assert_eq!(
        users_json(dir.path())["users"]["1"]["groups"],
        json!(["-1001"])
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(dir.path().join("data/users.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn a_refused_or_invalid_change_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    store
        .upsert_user(&uid("1"), |_, _| Ok::<_, ()>(()))
        .await
        .unwrap();
    let before = fs::read(dir.path().join("data/users.json")).unwrap();

    let refused = store
        .update_user(&uid("1"), |u| {
            u.groups.push("-1002".into());
            Err::<(), _>("no")
        })
        .await;
    assert!(matches!(refused, Err(UpdateError::Rejected("no"))));

    let invalid = store
        .update_user(&uid("1"), |u| {
            u.assigned_sessions.push("a.session".into()); // no api_pairs entry
            Ok::<_, ()>(())
        })
        .await;
    match invalid {
        Err(UpdateError::Data(DataError::Invalid(msg))) => {
            assert!(msg.contains("api_pairs"), "{msg}")
        }
        other => panic!("expected Invalid, got {other:?}"),
    }

    let missing = store.update_user(&uid("2"), |_| Ok::<_, ()>(())).await;
    assert!(matches!(
        missing,
        Err(UpdateError::Data(DataError::UserNotFound { .. }))
    ));

    assert_eq!(
        fs::read(dir.path().join("data/users.json")).unwrap(),
        before
    );
    assert!(store.user("1").unwrap().groups.is_empty());
}

#[tokio::test]
async fn a_cross_user_change_is_rolled_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    for id in ["a", "b"] {
        store
            .upsert_user(&uid(id), |_, _| Ok::<_, ()>(()))
            .await
            .unwrap();
    }
    // Giving one session to two users breaks an invariant: neither half may land.
    let result = store
        .update_users(|doc| {
            for id in ["a", "b"] {
                let user = Arc::make_mut(doc.users.get_mut(id).unwrap());
                user.assigned_sessions.push("s.session".into());
                user.api_pairs.push(0);
            }
            Ok::<_, ()>(())
        })
        .await;
    assert!(matches!(
        result,
        Err(UpdateError::Data(DataError::Invalid(_)))
    ));
    assert!(
        store
            .users()
            .users
            .values()
            .all(|u| u.assigned_sessions.is_empty())
    );
}

#[tokio::test]
async fn one_users_change_cannot_take_another_users_session() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    store
        .upsert_user(&uid("a"), |u, _| {
            u.assigned_sessions.push("s.session".into());
            u.api_pairs.push(0);
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    let before = fs::read(dir.path().join("data/users.json")).unwrap();
    let taken = store
        .upsert_user(&uid("b"), |u, _| {
            u.assigned_sessions.push("s.session".into());
            u.api_pairs.push(0);
            Ok::<_, ()>(())
        })
        .await;
    assert!(
        matches!(taken, Err(UpdateError::Data(DataError::Invalid(_)))),
        "{taken:?}"
    );
    assert_eq!(
        fs::read(dir.path().join("data/users.json")).unwrap(),
        before
    );
}

#[tokio::test]
async fn one_users_change_cannot_use_a_session_on_another_pair_than_its_binding() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    store
        .update_users(|doc| {
            doc.bindings.insert("s.session".into(), 3);
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    let before = fs::read(dir.path().join("data/users.json")).unwrap();
    let mismatched = store
        .upsert_user(&uid("a"), |u, _| {
            u.assigned_sessions.push("s.session".into());
            u.api_pairs.push(0);
            Ok::<_, ()>(())
        })
        .await;
    assert!(
        matches!(&mismatched, Err(UpdateError::Data(DataError::Invalid(why))) if why.contains("bound to pair 3")),
        "{mismatched:?}"
    );
    assert_eq!(
        fs::read(dir.path().join("data/users.json")).unwrap(),
        before
    );
}

#[tokio::test]
async fn fields_herald_does_not_know_survive_its_writes() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("data")).unwrap();
    fs::write(
        dir.path().join("data/users.json"),
        r#"{"users": {"9": {"bot_status": "running", "email": "x@y.z", "nested": {"k": [1, 2]}}}, "schema": 2}"#,
    )
    .unwrap();
    let store = store(dir.path());
    store
        .update_user(&uid("9"), |u| {
            u.bot_status = BotStatus::Stopped;
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    let on_disk = users_json(dir.path());
    assert_eq!(on_disk["schema"], 2);
    assert_eq!(on_disk["users"]["9"]["email"], "x@y.z");
    assert_eq!(on_disk["users"]["9"]["nested"], json!({"k": [1, 2]}));
    assert_eq!(on_disk["users"]["9"]["bot_status"], "stopped");
}

#[tokio::test]
async fn reads_reuse_the_parsed_copy_until_another_process_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store_a = store(dir.path());
    store_a
        .upsert_user(&uid("1"), |_, _| Ok::<_, ()>(()))
        .await
        .unwrap();
    let first = store_a.users();
    assert!(
        Arc::ptr_eq(&first, &store_a.users()),
        "an unchanged file must not be parsed again"
    );

    // A second store on the same directory stands for another process.
    let store_b = store(dir.path());
    store_b
        .update_user(&uid("1"), |u| {
            u.post_content = "from b".into();
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    assert_eq!(store_a.user("1").unwrap().post_content, "from b");
}

#[tokio::test]
async fn counters_are_visible_at_once_and_durable_after_their_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_flushing_every(dir.path(), Duration::from_secs(3600));
    let delta = StatsDelta {
        posts: 2,
        success: 1,
        failures: 1,
        ..StatsDelta::default()
    };
    let ticket = store.add_stats("1", &delta);
    assert_eq!(store.stats("1").total_posts, 2);
    assert!(!store.is_flushed(&ticket));
    assert!(
        !dir.path().join("data/stats.json").exists(),
        "the flush interval has not passed"
    );
    store.flush_stats().unwrap();
    store.wait_flushed(&ticket, Duration::MAX).await.unwrap();
    assert!(store.is_flushed(&ticket));
    let on_disk: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("data/stats.json")).unwrap()).unwrap();
    assert_eq!(on_disk["users"]["1"]["total_posts"], 2);
    assert_eq!(on_disk["flushes"][store.process_id()]["seq"], ticket.seq);
    assert_eq!(
        store.stats("1").total_posts,
        2,
        "flushed counts are not counted twice"
    );
}

#[tokio::test]
async fn the_flusher_writes_on_its_own_and_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_flushing_every(dir.path(), Duration::from_millis(20));
    let ticket = store.add_stats(
        "1",
        &StatsDelta {
            posts: 1,
            ..StatsDelta::default()
        },
    );
    tokio::time::timeout(
        Duration::from_secs(10),
        store.wait_flushed(&ticket, Duration::MAX),
    )
    .await
    .expect("the flusher runs by itself")
    .unwrap();

    let slow = store_flushing_every(dir.path(), Duration::from_secs(3600));
    slow.add_stats(
        "1",
        &StatsDelta {
            posts: 5,
            ..StatsDelta::default()
        },
    );
    slow.shutdown().unwrap();
    assert_eq!(store.stats("1").total_posts, 6);
}

#[tokio::test]
async fn a_waiter_that_cannot_wait_the_interval_hurries_the_flush() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_flushing_every(dir.path(), Duration::from_secs(3600));
    let delta = StatsDelta {
        posts: 1,
        ..StatsDelta::default()
    };
    let patient = store.add_stats("1", &delta);
    let unflushed = tokio::time::timeout(
        Duration::from_millis(500),
        store.wait_flushed(&patient, Duration::MAX),
    )
    .await;
    assert!(
        unflushed.is_err(),
        "a patient waiter waits for the hour's flush"
    );
    assert!(!store.is_flushed(&patient));

    let hurried = store.add_stats("2", &delta);
    tokio::time::timeout(
        Duration::from_secs(10),
        store.wait_flushed(&hurried, Duration::ZERO),
    )
    .await
    .expect("a hurried flush runs long before the interval")
    .unwrap();
    assert!(
        store.is_flushed(&patient),
        "one flush carries everything pending"
    );
    let on_disk: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("data/stats.json")).unwrap()).unwrap();
    assert_eq!(on_disk["users"]["1"]["total_posts"], 1);
    assert_eq!(on_disk["users"]["2"]["total_posts"], 1);
}

#[tokio::test]
async fn plan_groups_and_logs_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    store
        .write_plan_groups(
            herald_data::Plan::Enterprise,
            &["-1001".into(), "-1002".into()],
        )
        .unwrap();
    let groups = store.plan_groups(herald_data::Plan::Enterprise).unwrap();
    assert_eq!(*groups.groups, vec!["-1001", "-1002"]);
    store.log(&uid("1"), herald_data::Level::Info, "Bot started");
    store.flush_logs();
    let tail = store.log_tail(&uid("1"), 100);
    assert_eq!(tail.len(), 1);
    assert!(tail[0].ends_with(" - INFO - Bot started"));
}

#[tokio::test]
async fn a_change_that_panics_fails_alone_and_the_file_takes_later_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path());
    store
        .upsert_user(&uid("a"), |u, _| {
            u.groups = vec!["-1001234567890".into()];
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    let before = fs::read(dir.path().join("data/users.json")).unwrap();
    let one = store
        .update_user(&uid("a"), |u| -> Result<(), ()> {
            u.groups.clear();
            panic!("a bug in one change")
        })
        .await;
    assert!(
        matches!(one, Err(UpdateError::Data(DataError::ChangePanicked(ref why))) if why.contains("a bug")),
        "{one:?}"
    );
    let all = store
        .update_users(|doc| -> Result<(), ()> {
            doc.users.clear();
            panic!("a bug across users")
        })
        .await;
    assert!(
        matches!(all, Err(UpdateError::Data(DataError::ChangePanicked(_)))),
        "{all:?}"
    );
    assert_eq!(
        fs::read(dir.path().join("data/users.json")).unwrap(),
        before
    );
    assert_eq!(store.user("a").unwrap().groups, ["-1001234567890"]);
    // The file's writer is still there for the next change.
    store
        .update_user(&uid("a"), |u| {
            u.delay_between_posts = 9;
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    assert_eq!(
        users_json(dir.path())["users"]["a"]["delay_between_posts"],
        9
    );
    store.shutdown().unwrap();
}
