//! What must hold after any fault, read from the files and the simulator's journal alone: state
//! files parse and keep the session invariants, no group got two posts in one cycle, no Telegram
//! rule was broken (two connections on one session, a post inside a flood wait), and the counters
//! equal the journal except for sends whose worker died mid-send.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use herald_data::{StatsDoc, UsersDoc};
use herald_telegram::sim::JournalEntry;

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
        let Ok(files) = std::fs::read_dir(root.join("logs").join(user)) else {
            continue;
        };
        let count = files
            .flatten()
            .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
            .map(|text| {
                text.lines()
                    .filter(|l| l.contains("is unknown (its worker stopped mid-send)"))
                    .count() as u64
            })
            .sum::<u64>();
        if count > 0 {
            found.insert(user.clone(), count);
        }
    }
    found
}

/// No rule broken, and no (user, cycle, group) twice. `era` separates runs whose cycle numbers
/// start again (a Redis that lost everything numbers cycles from 1 again).
pub fn check_journal(entries: &[JournalEntry], era: impl Fn(&JournalEntry) -> u32) {
    if let Some(broken) = entries.iter().find(|e| e.violation.is_some()) {
        panic!("a Telegram rule was broken: {broken:?}");
    }
    let mut seen = HashSet::new();
    for e in entries {
        assert!(
            seen.insert((era(e), e.user_id.clone(), e.cycle, e.target.clone())),
            "{} cycle {} posted {} twice",
            e.user_id,
            e.cycle,
            e.target
        );
    }
}

/// `total_posts` in stats.json equals the journal's attempts, give or take the in-doubt sends.
pub fn check_counters(root: &Path, entries: &[JournalEntry], users: &[String]) {
    let stats = stats_doc(root);
    let doubt = in_doubt(root, users);
    for user in users {
        let attempts = entries.iter().filter(|e| &e.user_id == user).count() as u64;
        let counted = stats.users.get(user).map_or(0, |s| s.total_posts);
        let doubt = doubt.get(user).copied().unwrap_or(0);
        assert!(
            counted <= attempts && counted + doubt >= attempts,
            "{user}: counted {counted}, journal {attempts}, in doubt {doubt}"
        );
    }
}
