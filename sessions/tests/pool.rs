//! The pool's rules through its public API on real folders.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use herald_data::BotStatus;
use herald_sessions::{Place, PoolConfig, SessionsError};

#[tokio::test]
async fn start_assigns_lazily_to_the_least_used_pair_and_moves_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool_with(
        dir.path(),
        10,
        2,
        PoolConfig {
            max_sessions_per_pair: 2,
            ..PoolConfig::default()
        },
    )
    .await;
    for id in ["a", "b"] {
        register(&pool, id).await;
    }
    let a = pool.ensure_sessions(&uid("a"), Some(3)).await.unwrap();
    assert_eq!(a.sessions.len(), 3);
    assert_eq!(
        pool.store().user("a").unwrap().api_pairs,
        vec![0, 1, 0],
        "least used first, ties to the lowest index"
    );
    assert_eq!(files_in(dir.path(), "assigned/a"), a.sessions);

    // Pairs hold 2 each: b gets the one slot left, not the 3 it asked for.
    let b = pool.ensure_sessions(&uid("b"), Some(3)).await.unwrap();
    assert_eq!(b.sessions.len(), 1);
    assert_eq!(pool.store().user("b").unwrap().api_pairs, vec![1]);

    // Asking again changes nothing: the tenant already holds what it wants.
    let again = pool.ensure_sessions(&uid("a"), Some(3)).await.unwrap();
    assert!(again.newly_assigned.is_empty());
    assert_eq!(again.sessions, a.sessions);
}

#[tokio::test]
async fn the_plan_in_the_record_or_the_default_decides_how_many() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool_with(
        dir.path(),
        10,
        2,
        PoolConfig {
            sessions_per_user: 2,
            ..PoolConfig::default()
        },
    )
    .await;
    register(&pool, "a").await;
    register(&pool, "b").await;
    pool.store()
        .update_user(&uid("b"), |u| {
            u.plan_limits = Some(serde_json::json!({"max_sessions": 4}));
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    assert_eq!(
        pool.ensure_sessions(&uid("a"), None)
            .await
            .unwrap()
            .sessions
            .len(),
        2
    );
    assert_eq!(
        pool.ensure_sessions(&uid("b"), None)
            .await
            .unwrap()
            .sessions
            .len(),
        4
    );
}

#[tokio::test]
async fn an_empty_pool_refuses_and_consumes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool_with(dir.path(), 0, 1, PoolConfig::default()).await;
    register(&pool, "a").await;
    let before = std::fs::read(dir.path().join("data/users.json")).unwrap();
    let err = pool.ensure_sessions(&uid("a"), Some(1)).await.unwrap_err();
    assert!(
        matches!(err, SessionsError::NoSessions { ref reason } if reason.contains("no unused session")),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("data/users.json")).unwrap(),
        before
    );

    // Sessions but no pair: refused the same way, the sessions stay unused.
    let dir = tempfile::tempdir().unwrap();
    let pool = pool_with(dir.path(), 3, 0, PoolConfig::default()).await;
    register(&pool, "a").await;
    let err = pool.ensure_sessions(&uid("a"), Some(1)).await.unwrap_err();
    assert!(
        matches!(err, SessionsError::NoSessions { ref reason } if reason.contains("no API pair")),
        "{err}"
    );
    assert_eq!(files_in(dir.path(), "unused").len(), 3);
    assert!(matches!(
        pool.ensure_sessions(&uid("zz"), None).await,
        Err(SessionsError::UserNotFound)
    ));
}

#[tokio::test]
async fn quarantine_bans_replaces_and_suspends_past_the_daily_limit() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool_with(
        dir.path(),
        10,
        2,
        PoolConfig {
            max_replacements_per_day: 2,
            ..PoolConfig::default()
        },
    )
    .await;
    register(&pool, "a").await;
    let first = pool
        .ensure_sessions(&uid("a"), Some(2))
        .await
        .unwrap()
        .sessions;

    let q = pool
        .quarantine(&uid("a"), &first[0], "AUTH_KEY_UNREGISTERED")
        .await
        .unwrap();
    let replacement = q.replacement.clone().unwrap();
    let user = pool.store().user("a").unwrap();
    assert_eq!(
        user.assigned_sessions,
        vec![first[1].clone(), replacement.clone()]
    );
    assert_eq!(user.api_pairs.len(), 2);
    assert_eq!(user.banned_sessions, vec![first[0].clone()]);
    assert_eq!(user.ban_records[&first[0]].reason, "AUTH_KEY_UNREGISTERED");
    assert_eq!(files_in(dir.path(), "banned"), vec![first[0].clone()]);
    assert!(files_in(dir.path(), "assigned/a").contains(&replacement));

    // Quarantining the same session again is harmless.
    assert!(
        pool.quarantine(&uid("a"), &first[0], "again")
            .await
            .unwrap()
            .already
    );

    pool.quarantine(&uid("a"), &first[1], "USER_DEACTIVATED")
        .await
        .unwrap();
    let third = pool
        .quarantine(&uid("a"), &replacement, "SESSION_REVOKED")
        .await
        .unwrap();
    assert!(third.suspended && third.replacement.is_none(), "{third:?}");
    let user = pool.store().user("a").unwrap();
    assert_eq!(user.bot_status, BotStatus::Suspended);
    assert!(
        user.suspended_reason
            .as_deref()
            .unwrap()
            .contains("2 session replacements")
    );

    // A suspended tenant cannot start, until an admin lifts it.
    let err = pool.ensure_sessions(&uid("a"), Some(2)).await.unwrap_err();
    assert!(matches!(err, SessionsError::Suspended { .. }), "{err}");
    assert!(pool.unsuspend(&uid("a")).await.unwrap());
    assert_eq!(
        pool.store().user("a").unwrap().bot_status,
        BotStatus::Stopped
    );
    assert_eq!(
        pool.ensure_sessions(&uid("a"), Some(2))
            .await
            .unwrap()
            .sessions
            .len(),
        2
    );
}

#[tokio::test]
async fn pairs_are_validated_and_retired_in_place_never_while_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool_with(dir.path(), 2, 0, PoolConfig::default()).await;
    let valid = hash(0);
    for (id, hash, why) in [
        ("abc", valid.as_str(), "api_id"),
        ("12", "xyz", "api_hash"),
        ("12", "abcd", "api_hash"),
    ] {
        let err = pool.add_pair(id, hash).await.unwrap_err();
        assert!(
            matches!(err, SessionsError::Invalid(ref m) if m.contains(why)),
            "{err}"
        );
    }
    pool.add_pair("111", &hash(1)).await.unwrap();
    let second = pool.add_pair("222", &hash(2)).await.unwrap();
    assert_eq!(second.index, 1);
    assert_eq!(second.masked_hash, "0000…");
    assert!(matches!(
        pool.add_pair("111", &hash(3)).await,
        Err(SessionsError::Conflict(_))
    ));

    register(&pool, "a").await;
    pool.ensure_sessions(&uid("a"), Some(1)).await.unwrap();
    let err = pool.retire_pair("111").await.unwrap_err();
    assert!(
        matches!(err, SessionsError::PairInUse { usage: 1, .. }),
        "{err}"
    );

    pool.retire_pair("222").await.unwrap();
    let pairs = pool.list_pairs();
    assert_eq!(pairs.len(), 2, "retired in place, indices never shift");
    assert!(pairs[1].retired && !pairs[0].retired);
    assert_eq!(pairs[0].usage, 1);
    let on_disk = std::fs::read_to_string(dir.path().join("data/api_pairs.json")).unwrap();
    assert!(on_disk.contains(&hash(2)), "the hash is kept in the file");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("data/api_pairs.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Re-adding a retired pair brings it back under its old index.
    assert_eq!(pool.add_pair("222", &hash(4)).await.unwrap().index, 1);
}

#[tokio::test]
async fn admin_operations_follow_the_same_rules() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool_with(dir.path(), 4, 1, PoolConfig::default()).await;
    register(&pool, "a").await;
    let names = session_names(4);

    pool.assign_named(&uid("a"), &names[2]).await.unwrap();
    assert_eq!(
        pool.store().user("a").unwrap().assigned_sessions,
        vec![names[2].clone()]
    );
    assert!(matches!(
        pool.assign_named(&uid("a"), &names[2]).await,
        Err(SessionsError::SessionNotFound(_))
    ));
    let located = pool.locate(&names[2]).unwrap();
    assert_eq!(located.place, Some(Place::Assigned("a".into())));
    assert!(located.exists);
    assert_eq!(located.user_id.as_deref(), Some("a"));

    pool.unassign(&uid("a"), &names[2]).await.unwrap();
    assert!(pool.store().user("a").unwrap().assigned_sessions.is_empty());
    assert!(files_in(dir.path(), "unused").contains(&names[2]));

    // Banning a session nobody holds takes it out of the pool for good.
    pool.ban(&names[0], "bought from a bad seller")
        .await
        .unwrap();
    assert_eq!(pool.locate(&names[0]).unwrap().place, Some(Place::Banned));
    let listing = pool.listing().unwrap();
    assert_eq!(listing.banned, vec![names[0].clone()]);
    assert!(!listing.unused.contains(&names[0]));
    assert!(matches!(
        pool.assign_named(&uid("a"), &names[0]).await,
        Err(SessionsError::SessionNotFound(_))
    ));

    // Banning a held session is a quarantine with replacement.
    pool.ensure_sessions(&uid("a"), Some(1)).await.unwrap();
    let held = pool.store().user("a").unwrap().assigned_sessions[0].clone();
    let q = pool.ban(&held, "admin").await.unwrap();
    assert!(q.replacement.is_some());

    // Release refuses while running, and returns everything when stopped.
    pool.store()
        .update_user(&uid("a"), |u| {
            u.bot_status = BotStatus::Running;
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    assert!(matches!(
        pool.release(&uid("a")).await,
        Err(SessionsError::Conflict(_))
    ));
    pool.store()
        .update_user(&uid("a"), |u| {
            u.bot_status = BotStatus::Stopped;
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    assert_eq!(pool.release(&uid("a")).await.unwrap().len(), 1);
    assert!(files_in(dir.path(), "assigned/a").is_empty());

    // Unblocking lifts only the group named, and says when there was nothing to lift.
    pool.store()
        .update_user(&uid("a"), |u| {
            for group in ["@closed", "@other"] {
                u.blocked_groups.push(herald_data::BlockedGroup {
                    group: group.into(),
                    reason: "CHAT_WRITE_FORBIDDEN".into(),
                    at: chrono::Utc::now(),
                });
            }
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    assert!(pool.unblock_group(&uid("a"), "@closed").await.unwrap());
    assert!(!pool.unblock_group(&uid("a"), "@closed").await.unwrap());
    let blocked: Vec<String> = pool
        .store()
        .user("a")
        .unwrap()
        .blocked_groups
        .iter()
        .map(|b| b.group.clone())
        .collect();
    assert_eq!(blocked, ["@other"]);
    assert!(matches!(
        pool.unblock_group(&uid("nobody"), "@other").await,
        Err(SessionsError::UserNotFound)
    ));

    for bad in ["../x.session", "x.txt"] {
        assert!(
            matches!(pool.locate(bad), Err(SessionsError::Invalid(_))),
            "{bad}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_is_never_retired_while_a_session_is_being_bound_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let rounds = 40;
    let pool = pool_with(dir.path(), rounds, 0, PoolConfig::default()).await;
    for round in 0..rounds {
        // The only active pair: a session assigned now is bound to it.
        let api_id = (5000 + round).to_string();
        let index = pool.add_pair(&api_id, &hash(round)).await.unwrap().index;
        if round > 0 {
            pool.retire_pair(&(5000 + round - 1).to_string()).await.ok();
        }
        let user = format!("t{round}");
        register(&pool, &user).await;
        let tenant = uid(&user);
        let (retired, assigned) = tokio::join!(
            pool.retire_pair(&api_id),
            pool.ensure_sessions(&tenant, Some(1))
        );
        let pairs = pool.store().pairs();
        let bound = pool.store().user(&user).unwrap().api_pairs.clone();
        assert!(
            !(pairs.pairs[index as usize].retired && bound.contains(&index)),
            "round {round}: pair {index} retired ({retired:?}) with a session bound to it ({assigned:?})"
        );
    }
}
