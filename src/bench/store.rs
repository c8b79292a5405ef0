//! `herald bench store`: what the data manager costs at 1k, 10k and 100k users, beside the cost
//! of a bare durable atomic write of the same size on the same disk (the limit any correct
//! implementation pays).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_data::{StatsDelta, Store, StoreConfig, User, UserId};

use super::report::{Summary, bytes, line, ms, table};
use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// Store sizes to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    users: Vec<usize>,
    /// Directory in which to create the throw-away data directories (default: the current one,
    /// so the disk measured is the one a deployment would use, not a tmpfs).
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// Concurrent writers for the group-commit measurement.
    #[arg(long, default_value_t = 8)]
    writers: usize,
}

pub fn run(_config: &Config, args: &StoreArgs) -> anyhow::Result<()> {
    line("## bench store")?;
    line(&format!(
        "users.json records: 1 session, 20 groups, a link post; {} concurrent writers in the group-commit row.\n",
        args.writers
    ))?;
    let mut rows = Vec::new();
    for &n in &args.users {
        rows.push(measure(n, args)?);
    }
    table(
        &[
            "users",
            "users.json",
            "stats.json",
            "bare durable write (same size)",
            "update_user, one writer (p50 / p99)",
            "update_user, group commit",
            "re-parse users.json",
            "cached read",
            "add_stats",
            "flush, all users dirty",
        ],
        &rows,
    )
}

fn measure(n: usize, args: &StoreArgs) -> anyhow::Result<Vec<String>> {
    let temp = super::scratch(&args.dir, "store")?;
    let store = Store::open(StoreConfig {
        root: temp.path().to_owned(),
        stats_flush_interval: Duration::from_secs(3600),
    })?;
    populate(&store, n)?;
    let users_size = fs::metadata(store.layout().users_file())?.len();
    let stats_size = fs::metadata(store.layout().stats_file())?.len();

    // The limit: write the same number of bytes durably and atomically, nothing else.
    let content = fs::read(store.layout().users_file())?;
    let rounds = (2_000_000_000 / (users_size as usize + 1)).clamp(5, 200);
    let bare = Summary::of(
        &mut (0..rounds)
            .map(|_| bare_durable_write(temp.path(), &content))
            .collect::<anyhow::Result<Vec<_>>>()?,
    );

    let mut one_writer = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let id = UserId::parse(&format!("user{}", i % n)).map_err(anyhow::Error::msg)?;
        let started = Instant::now();
        store
            .update_user(&id, move |u| {
                u.post_content = format!("t.me/channel/{i}");
                Ok::<_, ()>(())
            })
            .wait()
            .map_err(|e| anyhow::anyhow!("update_user: {e:?}"))?;
        one_writer.push(started.elapsed());
    }
    let one_writer = Summary::of(&mut one_writer);

    let group_rate = group_commit_rate(&store, n, args.writers, rounds)?;

    let started = Instant::now();
    let parsed: serde_json::Value = serde_json::from_slice(&content)?;
    let reparse = started.elapsed();
    drop(parsed);

    let reads = 200_000;
    let started = Instant::now();
    for i in 0..reads {
        std::hint::black_box(store.user(&format!("user{}", i % n)));
    }
    let cached_read = started.elapsed() / reads as u32;

    let adds = 1_000_000;
    let delta = StatsDelta {
        posts: 1,
        success: 1,
        messages_sent: 1,
        ..StatsDelta::default()
    };
    let ids: Vec<String> = (0..n).map(|i| format!("user{i}")).collect();
    let started = Instant::now();
    for i in 0..adds {
        std::hint::black_box(store.add_stats(&ids[i % n], &delta));
    }
    let add_cost = started.elapsed() / adds as u32;
    let started = Instant::now();
    store.flush_stats()?;
    let flush = started.elapsed();
    store.shutdown()?;

    Ok(vec![
        n.to_string(),
        bytes(users_size),
        bytes(stats_size),
        format!("{} / {}", ms(bare.p50), ms(bare.p99)),
        format!("{} / {}", ms(one_writer.p50), ms(one_writer.p99)),
        format!("{group_rate:.0} updates/s"),
        ms(reparse),
        format!("{} ns", cached_read.as_nanos()),
        format!("{} ns", add_cost.as_nanos()),
        ms(flush),
    ])
}

fn populate(store: &Store, n: usize) -> anyhow::Result<()> {
    let template = User {
        groups: (0..20)
            .map(|g| format!("-100{:010}", 1_000_000 + g))
            .collect(),
        post_content: "https://t.me/herald_demo/42".into(),
        ..User::default()
    };
    store
        .update_users(move |doc| {
            for i in 0..n {
                let mut user = template.clone();
                user.assigned_sessions = vec![format!("+1555{i:07}.session")];
                user.api_pairs = vec![(i / 7) as u32];
                doc.users.insert(format!("user{i}"), Arc::new(user));
            }
            Ok::<_, ()>(())
        })
        .wait()
        .map_err(|e| anyhow::anyhow!("populate: {e:?}"))?;
    let delta = StatsDelta {
        posts: 10,
        success: 9,
        failures: 1,
        messages_sent: 9,
        last_activity: Some(chrono::Utc::now()),
        ..StatsDelta::default()
    };
    for i in 0..n {
        let _ = store.add_stats(&format!("user{i}"), &delta);
    }
    store.flush_stats()?;
    Ok(())
}

/// Updates per second with `writers` threads each updating its own users as fast as acknowledged.
fn group_commit_rate(
    store: &Store,
    n: usize,
    writers: usize,
    rounds: usize,
) -> anyhow::Result<f64> {
    let per_writer = rounds.max(writers) / writers.max(1) * 2;
    let started = Instant::now();
    let threads: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || -> anyhow::Result<()> {
                for i in 0..per_writer {
                    let id = UserId::parse(&format!("user{}", (w * per_writer + i) % n))
                        .map_err(anyhow::Error::msg)?;
                    store
                        .update_user(&id, move |u| {
                            u.delay_between_posts = 5 + (i % 7) as u64;
                            Ok::<_, ()>(())
                        })
                        .wait()
                        .map_err(|e| anyhow::anyhow!("update_user: {e:?}"))?;
                }
                Ok(())
            })
        })
        .collect();
    for thread in threads {
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("a writer thread panicked"))??;
    }
    Ok((writers * per_writer) as f64 / started.elapsed().as_secs_f64())
}

fn bare_durable_write(dir: &Path, content: &[u8]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let temp = dir.join("bare.tmp");
    let target = dir.join("bare.json");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)?;
    file.write_all(content)?;
    file.sync_all()?;
    fs::rename(&temp, &target)?;
    fs::File::open(dir)?.sync_all()?;
    Ok(started.elapsed())
}
