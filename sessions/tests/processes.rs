//! Several real processes start tenants and quarantine sessions at the same time against one
//! data directory: no session goes to two tenants, no pair overfills, no ban is lost.
//!
//! Own `main`: with `child <dir> <k>` it is one competing process; without arguments it spawns
//! them and checks the outcome.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use herald_data::{Document, Store, StoreConfig, UsersDoc};
use herald_sessions::{Pool, PoolConfig};

const PROCESSES: usize = 4;
const TENANTS_PER_PROCESS: usize = 6;
const SESSIONS: usize = 90;
const PAIRS: usize = 6;

fn config() -> PoolConfig {
    PoolConfig {
        max_sessions_per_pair: 7,
        sessions_per_user: 1,
        max_replacements_per_day: 50,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if args.get(1).map(String::as_str) == Some("child") {
        runtime.block_on(child(Path::new(&args[2]), args[3].parse().unwrap()));
        return;
    }
    runtime.block_on(parent());
    println!("test processes_compete_for_the_pool_without_breaking_it ... ok");
}

async fn child(root: &Path, k: usize) {
    let pool = Pool::new(Store::open(StoreConfig::new(root)).unwrap(), config());
    let mut out = std::io::stdout().lock();
    for round in 0..3 {
        for t in 0..TENANTS_PER_PROCESS {
            let id = format!("p{k}-t{t}");
            register(&pool, &id).await;
            if let Ok(assignment) = pool.ensure_sessions(&uid(&id), Some(3)).await
                && round > 0
            {
                let victim = &assignment.sessions[0];
                let q = pool
                    .quarantine(&uid(&id), victim, "AUTH_KEY_UNREGISTERED")
                    .await
                    .unwrap();
                if !q.already {
                    writeln!(out, "banned {victim}").unwrap();
                }
            }
        }
    }
    pool.store().shutdown().unwrap();
}

async fn parent() {
    let dir = tempfile::tempdir().unwrap();
    {
        let pool = pool_with(dir.path(), SESSIONS, PAIRS, config()).await;
        pool.store().shutdown().unwrap();
    }
    let root = dir.path().to_str().unwrap().to_owned();
    let children: Vec<_> = (0..PROCESSES)
        .map(|k| {
            Command::new(std::env::current_exe().unwrap())
                .args(["child", &root, &k.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut reported_bans = HashSet::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "a competing process failed");
        for line in String::from_utf8(output.stdout).unwrap().lines() {
            reported_bans.insert(line.strip_prefix("banned ").unwrap().to_owned());
        }
    }

    let doc: UsersDoc =
        serde_json::from_slice(&std::fs::read(dir.path().join("data/users.json")).unwrap())
            .unwrap();
    doc.validate().unwrap();
    assert_eq!(
        doc.users.len(),
        PROCESSES * TENANTS_PER_PROCESS,
        "a registration was lost"
    );
    let mut holders: HashMap<&str, &str> = HashMap::new();
    let mut usage: HashMap<u32, usize> = HashMap::new();
    let banned: HashSet<&String> = doc
        .users
        .values()
        .flat_map(|u| u.banned_sessions.iter())
        .collect();
    for (id, user) in &doc.users {
        for (session, pair) in user.assigned_sessions.iter().zip(&user.api_pairs) {
            assert!(
                holders.insert(session, id).is_none(),
                "{session} held twice"
            );
            assert!(!banned.contains(session), "{session} banned and assigned");
            *usage.entry(*pair).or_default() += 1;
            assert!(
                dir.path()
                    .join("sessions/assigned")
                    .join(id)
                    .join(session)
                    .is_file()
            );
        }
    }
    assert!(
        usage.values().all(|n| *n <= 7),
        "a pair overfilled: {usage:?}"
    );
    for session in &reported_bans {
        assert!(banned.contains(session), "the ban of {session} was lost");
        assert!(dir.path().join("sessions/banned").join(session).is_file());
    }
    assert!(
        !reported_bans.is_empty(),
        "the processes never got to quarantine anything"
    );
    println!(
        "  {} bans, {} sessions assigned at the end",
        reported_bans.len(),
        holders.len()
    );
}
