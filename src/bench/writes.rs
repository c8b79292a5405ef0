//! `herald bench writes`: `POST /api/bot/update-groups` answered 200 only once durable, with
//! 10,000 tenants in the store and 8 concurrent clients; afterwards every acknowledged write is
//! checked on disk.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::bail;

use super::http::{Server, load, populated_dir, tokens};
use super::report::{Summary, bytes, line, ms, table};

#[derive(Debug, clap::Args)]
pub struct WritesArgs {
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    #[arg(long, default_value_t = 8)]
    clients: usize,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, default_value = ".")]
    dir: std::path::PathBuf,
}

pub fn run(args: &WritesArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let dir = populated_dir(&runtime, &args.dir, "writes", args.users)?;
    let users_size = std::fs::metadata(dir.path().join("data/users.json"))?.len();
    let server = Server::start(dir.path(), &[])?;
    // Client c writes to its own tenants only, so the last acknowledged value of each is known.
    let tokens = tokens(args.users)?;
    let url = format!("{}/api/bot/update-groups", server.url);
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let users = args.users;
    let (mut latencies, failures) = runtime.block_on(load(
        args.clients,
        Duration::from_secs(args.seconds),
        move |client, i| {
            counter.fetch_add(1, Ordering::Relaxed);
            let user = i % users;
            client
                .post(&url)
                .bearer_auth(&tokens[user])
                .json(&serde_json::json!({"groups": [format!("-100{}", 2_000_000_000 + i)]}))
        },
    ));
    let acknowledged = latencies.len();
    server.stop()?;
    // Every acknowledged write is on disk: each tenant written holds the group of its last request.
    let users_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("data/users.json"))?)?;
    let mut changed = 0;
    for u in 0..args.users {
        let groups = &users_json["users"][format!("u{u}")]["groups"];
        if groups.as_array().is_some_and(|g| g.len() == 1) {
            changed += 1;
        }
    }
    if failures == 0 && changed != acknowledged.min(args.users) {
        bail!("{acknowledged} writes acknowledged but only {changed} tenants changed on disk");
    }
    let s = Summary::of(&mut latencies);
    line("## bench writes")?;
    line(&format!(
        "`POST /api/bot/update-groups` (answered once durable) from {} concurrent clients, {} tenants (users.json {}), {} s.\n",
        args.clients,
        args.users,
        bytes(users_size),
        args.seconds
    ))?;
    table(
        &["writes/s", "p50", "p99", "failed", "on disk"],
        &[vec![
            format!("{:.0}", acknowledged as f64 / args.seconds as f64),
            ms(s.p50),
            ms(s.p99),
            failures.to_string(),
            format!("{changed} tenants changed, every acknowledged write present"),
        ]],
    )
}
