//! What must hold after any fault, read from the files and the world's journal alone (the same
//! journal whichever door the posts came through: the trait-level simulator or the test DC's
//! wire): state files parse and keep the session invariants, no group got two deliveries in one
//! cycle, no Telegram rule was broken (a post inside a flood wait, a key on two connections), at
//! most 7 sessions of a tenant at once, and the counters equal the journal except for sends whose
//! worker died mid-send.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use herald_data::{StatsDoc, UsersDoc};
use herald_telegram::SendError;
use herald_telegram::sim::{JournalEntry, Outcome};

const MAX_SESSIONS_PER_PAIR: usize = 7;

pub fn users_doc(root: &Path) -> UsersDoc {
    let bytes = std::fs::read(root.join("data/users.json")).unwrap();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("users.json does not parse: {e}"))
}

/// stats.json, or no counters when nothing was counted yet.
pub fn stats_doc(root: &Path) -> StatsDoc {
    let path = root.join("data/stats.json");
    if !path.exists() {
        return StatsDoc::default();
    }
    let bytes = std::fs::read(path).unwrap();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("stats.json does not parse: {e}"))
}

/// users.json and stats.json parse; every record keeps its invariants; no session is held by two
/// tenants; no pair carries more than 7 sessions; every assigned session is in its tenant's folder.
pub fn check_files(root: &Path) {
    let doc = users_doc(root);
    stats_doc(root);
    let mut holders: HashMap<&str, &str> = HashMap::new();
    let mut per_pair: HashMap<u32, usize> = HashMap::new();
    for (id, user) in &doc.users {
        user.validate()
            .unwrap_or_else(|e| panic!("record {id} breaks an invariant: {e}"));
        for (session, pair) in user.assigned_sessions.iter().zip(&user.api_pairs) {
            if let Some(other) = holders.insert(session, id) {
                panic!("{session} is held by {other} and {id}");
            }
            *per_pair.entry(*pair).or_default() += 1;
            assert!(
                root.join("sessions/assigned")
                    .join(id)
                    .join(session)
                    .is_file(),
                "{session} of {id} is not in its assigned folder"
            );
        }
    }
    for (pair, n) in per_pair {
        assert!(
            n <= MAX_SESSIONS_PER_PAIR,
            "pair {pair} carries {n} sessions"
        );
    }
}

/// Sends whose outcome a resuming worker could not know, per tenant (from the tenant logs).
pub fn in_doubt(root: &Path, users: &[String]) -> HashMap<String, u64> {
    let mut found = HashMap::new();
    for user in users {
        let count = super::tenant_log(root, user)
            .lines()
            .filter(|l| l.contains("is unknown (its worker stopped mid-send)"))
            .count() as u64;
        if count > 0 {
            found.insert(user.clone(), count);
        }
    }
    found
}

/// No rule broken, and no (user, cycle, group) delivered twice. `era` separates runs whose cycle
/// numbers start again (a Redis that lost everything numbers cycles from 1 again). Retries and
/// re-sends of one group in one cycle are allowed; a second delivery is not.
pub fn check_journal(entries: &[JournalEntry], era: impl Fn(&JournalEntry) -> u32) {
    if let Some(broken) = entries.iter().find(|e| e.violation.is_some()) {
        panic!("a Telegram rule was broken: {broken:?}");
    }
    if let Some(duplicated) = entries.iter().find(|e| {
        matches!(&e.outcome, Outcome::Error(SendError::SessionDead { code }) if code == "AUTH_KEY_DUPLICATED")
    }) {
        panic!("a session was used from two connections at once: {duplicated:?}");
    }
    let mut seen = HashSet::new();
    for e in entries.iter().filter(|e| e.outcome.is_ok()) {
        assert!(
            seen.insert((era(e), e.user_id.clone(), e.cycle, e.target.clone())),
            "{} cycle {} posted {} twice",
            e.user_id,
            e.cycle,
            e.target
        );
    }
}

/// No session was killed for being used from two connections at once (the world's dead
/// markers in its state directory, `<journal>.state/`, which also catch a refused connect).
pub fn check_no_second_connection(journal: &Path) {
    let mut state = journal.as_os_str().to_owned();
    state.push(".state");
    let dead = Path::new(&state).join("sessions");
    let Ok(files) = std::fs::read_dir(&dead) else {
        return;
    };
    for file in files.flatten() {
        let path = file.path();
        if path.extension().is_some_and(|e| e == "dead") {
            let code = std::fs::read_to_string(&path).unwrap_or_default();
            assert_ne!(
                code.trim(),
                "AUTH_KEY_DUPLICATED",
                "{} was used from two connections",
                path.display()
            );
        }
    }
}

/// At most `cap` sessions of one tenant active at once: each session's activity in a cycle
/// spans its first attempt's start to its last attempt's end.
pub fn check_concurrency(entries: &[JournalEntry], cap: usize) {
    let mut spans: HashMap<(&str, u64, &str), (i64, i64)> = HashMap::new();
    for e in entries {
        let key = (e.user_id.as_str(), e.cycle, e.session.as_str());
        let (start, end) = (
            e.started_at.timestamp_micros(),
            e.ended_at.timestamp_micros(),
        );
        let span = spans.entry(key).or_insert((start, end));
        span.0 = span.0.min(start);
        span.1 = span.1.max(end);
    }
    let mut per_user: HashMap<&str, Vec<(i64, i64)>> = HashMap::new();
    for ((user, _, _), span) in spans {
        per_user.entry(user).or_default().push(span);
    }
    for (user, spans) in per_user {
        let mut edges: Vec<(i64, i32)> = spans
            .iter()
            .flat_map(|(s, e)| [(*s, 1), (*e, -1)])
            .collect();
        edges.sort_unstable();
        let (mut now, mut most) = (0, 0);
        for (_, step) in edges {
            now += step;
            most = most.max(now);
        }
        assert!(
            most as usize <= cap,
            "{user} had {most} sessions active at once"
        );
    }
}

/// The counters against the journal, per tenant, give or take the in-doubt sends: successes
/// equal the deliveries; failures are at least the refused attempts. Failures can be more: an
/// attempt whose answer was lost (Herald counts it failed, the journal has its delivery and a
/// re-send) or that timed out before reaching the far side at all (a silent DC); the tests that
/// cause those count them exactly.
pub fn check_counters(root: &Path, entries: &[JournalEntry], users: &[String]) {
    let stats = stats_doc(root);
    let doubt = in_doubt(root, users);
    for user in users {
        let mine = || entries.iter().filter(|e| &e.user_id == user);
        let delivered = mine().filter(|e| e.outcome.is_ok()).count() as u64;
        let refused = mine()
            .filter(|e| matches!(e.outcome, Outcome::Error(_)))
            .count() as u64;
        let counted = stats.users.get(user).cloned().unwrap_or_default();
        let doubt = doubt.get(user).copied().unwrap_or(0);
        assert!(
            counted.total_success <= delivered && counted.total_success + doubt >= delivered,
            "{user}: counted {} successes, journal {delivered} deliveries, in doubt {doubt}",
            counted.total_success
        );
        assert!(
            counted.total_failures + doubt >= refused,
            "{user}: counted {} failures, journal {refused} refused, in doubt {doubt}",
            counted.total_failures
        );
        assert_eq!(
            counted.total_posts,
            counted.total_success + counted.total_failures,
            "{user}: every counted post is a success or a failure"
        );
    }
}
