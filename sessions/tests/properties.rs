//! Random sequences of pool operations over many tenants, on real files: after every step the
//! invariants that operators and Telegram rely on hold, whatever was refused along the way.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};

use common::*;
use herald_data::{BotStatus, Document, UsersDoc};
use herald_sessions::{Pool, PoolConfig};
use proptest::prelude::*;

const TENANTS: usize = 4;
const SESSIONS: usize = 14;
const PAIRS: usize = 3;
const MAX_PER_PAIR: u32 = 3;

#[derive(Debug, Clone)]
enum Op {
    Start { tenant: usize, wanted: u32 },
    Quarantine { tenant: usize, nth: usize },
    AssignNamed { tenant: usize, session: usize },
    Unassign { tenant: usize, nth: usize },
    Release { tenant: usize },
    Ban { session: usize },
    Unsuspend { tenant: usize },
    Stop { tenant: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0..TENANTS;
    prop_oneof![
        4 => (t.clone(), 1u32..5).prop_map(|(tenant, wanted)| Op::Start { tenant, wanted }),
        3 => (t.clone(), 0usize..5).prop_map(|(tenant, nth)| Op::Quarantine { tenant, nth }),
        2 => (t.clone(), 0..SESSIONS).prop_map(|(tenant, session)| Op::AssignNamed { tenant, session }),
        2 => (t.clone(), 0usize..5).prop_map(|(tenant, nth)| Op::Unassign { tenant, nth }),
        1 => t.clone().prop_map(|tenant| Op::Release { tenant }),
        1 => (0..SESSIONS).prop_map(|session| Op::Ban { session }),
        1 => t.clone().prop_map(|tenant| Op::Unsuspend { tenant }),
        1 => t.prop_map(|tenant| Op::Stop { tenant }),
    ]
}

fn tenant(i: usize) -> String {
    format!("t{i}")
}

fn nth_session(pool: &Pool, t: usize, nth: usize) -> Option<String> {
    let user = pool.store().user(&tenant(t))?;
    user.assigned_sessions
        .get(nth % user.assigned_sessions.len().max(1))
        .cloned()
}

async fn apply(pool: &Pool, op: &Op) {
    // Refusals are part of the game: only the invariants afterwards matter.
    let names = session_names(SESSIONS);
    let _ = match op {
        Op::Start { tenant: t, wanted } => pool
            .ensure_sessions(&uid(&tenant(*t)), Some(*wanted))
            .await
            .map(|_| ()),
        Op::Quarantine { tenant: t, nth } => match nth_session(pool, *t, *nth) {
            Some(s) => pool
                .quarantine(&uid(&tenant(*t)), &s, "AUTH_KEY_UNREGISTERED")
                .await
                .map(|_| ()),
            None => Ok(()),
        },
        Op::AssignNamed { tenant: t, session } => {
            pool.assign_named(&uid(&tenant(*t)), &names[*session]).await
        }
        Op::Unassign { tenant: t, nth } => match nth_session(pool, *t, *nth) {
            Some(s) => pool.unassign(&uid(&tenant(*t)), &s).await,
            None => Ok(()),
        },
        Op::Release { tenant: t } => pool.release(&uid(&tenant(*t))).await.map(|_| ()),
        Op::Ban { session } => pool.ban(&names[*session], "admin").await.map(|_| ()),
        Op::Unsuspend { tenant: t } => pool.unsuspend(&uid(&tenant(*t))).await.map(|_| ()),
        Op::Stop { tenant: t } => pool
            .store()
            .update_user(&uid(&tenant(*t)), |u| {
                if u.bot_status != BotStatus::Suspended {
                    u.bot_status = BotStatus::Stopped;
                }
                Ok::<_, herald_sessions::SessionsError>(())
            })
            .await
            .map_err(herald_sessions::SessionsError::from),
    };
}

/// What must hold after every step; `ever_banned` and `bound` carry history across steps.
fn check(
    root: &std::path::Path,
    ever_banned: &mut HashSet<String>,
    bound: &mut HashMap<String, u32>,
) -> Result<(), TestCaseError> {
    let bytes = std::fs::read(root.join("data/users.json")).unwrap();
    let doc: UsersDoc = serde_json::from_slice(&bytes)
        .map_err(|e| TestCaseError::fail(format!("users.json does not parse: {e}")))?;
    doc.validate().map_err(TestCaseError::fail)?;

    let mut holders: HashMap<&str, &str> = HashMap::new();
    let mut usage = [0u32; PAIRS];
    for (id, user) in &doc.users {
        prop_assert_eq!(
            user.api_pairs.len(),
            user.assigned_sessions.len(),
            "api_pairs aligned for {}",
            id
        );
        for (session, &pair) in user.assigned_sessions.iter().zip(&user.api_pairs) {
            prop_assert!(
                holders.insert(session, id).is_none(),
                "{} held by two tenants",
                session
            );
            prop_assert!(
                !ever_banned.contains(session),
                "banned session {} assigned again",
                session
            );
            let first = *bound.entry(session.clone()).or_insert(pair);
            prop_assert_eq!(first, pair, "binding of {} moved", session);
            usage[pair as usize] += 1;
        }
        ever_banned.extend(user.banned_sessions.iter().cloned());
    }
    ever_banned.extend(doc.unowned_bans.keys().cloned());
    for (pair, n) in usage.iter().enumerate() {
        prop_assert!(*n <= MAX_PER_PAIR, "pair {} holds {} sessions", pair, n);
    }
    // Folders follow users.json.
    for (id, user) in &doc.users {
        for session in &user.assigned_sessions {
            prop_assert!(
                root.join("sessions/assigned")
                    .join(id)
                    .join(session)
                    .is_file(),
                "{} not in assigned/{}",
                session,
                id
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn pool_invariants_hold_under_any_sequence(ops in proptest::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let config = PoolConfig { max_sessions_per_pair: MAX_PER_PAIR, sessions_per_user: 1, max_replacements_per_day: 2 };
            let pool = pool_with(dir.path(), SESSIONS, PAIRS, config).await;
            for t in 0..TENANTS {
                register(&pool, &tenant(t)).await;
            }
            let (mut banned, mut bound) = (HashSet::new(), HashMap::new());
            for op in &ops {
                apply(&pool, op).await;
                check(dir.path(), &mut banned, &mut bound)?;
            }
            Ok::<(), TestCaseError>(())
        })?;
    }
}
