//! Real OS processes sharing one data directory: no update is lost between them, and a writer
//! killed at any moment leaves files that parse and hold a committed state.
//!
//! This test binary has its own `main`: run with `child ...` it acts as one writer process; run
//! without arguments (as `cargo test` does) it spawns those children and checks what they did.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_data::{StatsDelta, Store, StoreConfig, UserId};
use rand::Rng;
use serde_json::Value;

const WRITERS: usize = 4;
const UPDATES_PER_WRITER: u64 = 500;
const USERS: [&str; 3] = ["u0", "u1", "u2"];
const KILLS: usize = 200;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("child-hammer") => hammer(Path::new(&args[2]), args[3].parse().unwrap()),
        Some("child-writer") => writer(Path::new(&args[2])),
        _ => {
            run(
                "four_processes_lose_no_update",
                four_processes_lose_no_update,
            );
            run(
                "a_writer_killed_at_random_moments_leaves_committed_state",
                killed_writer_leaves_committed_state,
            );
        }
    }
}

fn run(name: &str, test: fn()) {
    let started = Instant::now();
    test();
    println!("test {name} ... ok ({:.1?})", started.elapsed());
}

fn spawn_child(role: &str, args: &[&str]) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.arg(role).args(args);
    command
}

fn counter(user: &Value) -> u64 {
    user.get("hammer").and_then(Value::as_u64).unwrap_or(0)
}

/// One writer process: read-modify-write `UPDATES_PER_WRITER` times over the shared users from two
/// threads, and count each update in the stats too.
fn hammer(dir: &Path, index: usize) {
    let store = Store::open(StoreConfig {
        root: dir.to_owned(),
        stats_flush_interval: Duration::from_millis(5),
    })
    .unwrap();
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..UPDATES_PER_WRITER / 2 {
                    let user = USERS[(index + t as usize + i as usize) % USERS.len()];
                    store
                        .update_user(&UserId::parse(user).unwrap(), |u| {
                            let next =
                                u.extra.get("hammer").and_then(Value::as_u64).unwrap_or(0) + 1;
                            u.extra.insert("hammer".into(), next.into());
                            Ok::<_, ()>(())
                        })
                        .wait()
                        .unwrap();
                    store.add_stats(
                        user,
                        &StatsDelta {
                            posts: 1,
                            ..StatsDelta::default()
                        },
                    );
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    store.shutdown().unwrap();
}

fn four_processes_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        for user in USERS {
            store
                .upsert_user(&UserId::parse(user).unwrap(), |_, _| Ok::<_, ()>(()))
                .wait()
                .unwrap();
        }
    }
    let path = dir.path().to_str().unwrap().to_owned();
    let children: Vec<_> = (0..WRITERS)
        .map(|i| {
            spawn_child("child-hammer", &[&path, &i.to_string()])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a writer process failed");
    }
    let expected = WRITERS as u64 * UPDATES_PER_WRITER;
    let users: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("data/users.json")).unwrap())
            .unwrap();
    let total: u64 = USERS.iter().map(|u| counter(&users["users"][u])).sum();
    assert_eq!(total, expected, "read-modify-write updates were lost");
    let stats: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("data/stats.json")).unwrap())
            .unwrap();
    let posts: u64 = USERS
        .iter()
        .map(|u| stats["users"][u]["total_posts"].as_u64().unwrap())
        .sum();
    assert_eq!(posts, expected, "counter deltas were lost");
    assert_eq!(
        stats["flushes"].as_object().unwrap().len(),
        WRITERS,
        "one ledger entry per process"
    );
}

/// Writes forever: each acknowledged (durable) counter value is printed before the next write.
fn writer(dir: &Path) {
    let store = Store::open(StoreConfig {
        root: dir.to_owned(),
        stats_flush_interval: Duration::from_millis(2),
    })
    .unwrap();
    let id = UserId::parse("w").unwrap();
    let mut out = std::io::stdout().lock();
    loop {
        let value = store
            .upsert_user(&id, |u, _| {
                let next = u.extra.get("hammer").and_then(Value::as_u64).unwrap_or(0) + 1;
                u.extra.insert("hammer".into(), next.into());
                // Bulk, so that a kill often lands in the middle of writing a larger file.
                u.groups = (0..200).map(|g| format!("-100{next}{g:04}")).collect();
                Ok::<_, ()>(next)
            })
            .wait()
            .unwrap();
        store.add_stats(
            "w",
            &StatsDelta {
                posts: 1,
                ..StatsDelta::default()
            },
        );
        writeln!(out, "{value}").unwrap();
        out.flush().unwrap();
    }
}

fn killed_writer_leaves_committed_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_owned();
    let mut rng = rand::rng();
    let mut last_acked = 0u64;
    let mut last_posts = 0u64;
    let mut mid_write = 0;
    for round in 0..KILLS {
        let mut child = spawn_child("child-writer", &[&path])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let acked = Arc::new(std::sync::Mutex::new(None::<u64>));
        let reader = {
            let acked = acked.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    *acked.lock().unwrap() = Some(line.trim().parse().unwrap());
                }
            })
        };
        // Wait for the first acknowledged write, then kill at a random moment after it.
        let start = Instant::now();
        while acked.lock().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "writer never acknowledged a write"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(rng.random_range(0..20_000)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        let acked = acked.lock().unwrap().unwrap();
        if temps(dir.path()) > 0 {
            mid_write += 1;
        }

        let users: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("data/users.json")).unwrap())
                .unwrap_or_else(|e| panic!("round {round}: users.json does not parse: {e}"));
        let on_disk = counter(&users["users"]["w"]);
        // Committed states: the last acknowledged one, or one more written but not yet acknowledged.
        assert!(
            on_disk == acked || on_disk == acked + 1,
            "round {round}: users.json holds {on_disk}, last acknowledged {acked}"
        );
        let groups = users["users"]["w"]["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 200, "round {round}: a half-written record");
        assert!(
            groups[0]
                .as_str()
                .unwrap()
                .starts_with(&format!("-100{on_disk}"))
        );
        assert!(
            on_disk > last_acked || round == 0,
            "round {round}: progress went backwards"
        );
        last_acked = acked;

        let stats_path = dir.path().join("data/stats.json");
        if stats_path.exists() {
            let stats: Value = serde_json::from_slice(&std::fs::read(&stats_path).unwrap())
                .unwrap_or_else(|e| panic!("round {round}: stats.json does not parse: {e}"));
            let posts = stats["users"]["w"]["total_posts"].as_u64().unwrap_or(0);
            assert!(
                posts >= last_posts,
                "round {round}: counters went backwards"
            );
            assert!(
                posts <= on_disk,
                "round {round}: more posts counted ({posts}) than made ({on_disk})"
            );
            last_posts = posts;
        }
    }
    // A store opened afterwards accepts the directory and clears what killed writers left behind.
    let store = Store::open(StoreConfig::new(dir.path())).unwrap();
    assert!(counter(&serde_json::to_value(&*store.user("w").unwrap()).unwrap()) >= last_acked);
    assert_eq!(
        temps(dir.path()),
        0,
        "temporary files left by killed writers are removed at open"
    );
    println!("  {KILLS} kills, {mid_write} of them mid-write (temporary file left behind)");
    assert!(
        mid_write > 0,
        "no kill landed inside a write: the test did not test torn writes"
    );
}

fn temps(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("data"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count()
}
