//! `herald bench state`: `GET /api/sync/state` requests per second and latency with 10,000 tenants
//! in the store, a closed-loop load generator in this process against `herald all` in another.

use std::time::Duration;

use super::http::{Server, load, populated_dir, tokens};
use super::report::{Summary, bytes, line, ms, table};

#[derive(Debug, clap::Args)]
pub struct StateArgs {
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    #[arg(long, default_value_t = 50)]
    connections: usize,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Where the throw-away data directory goes.
    #[arg(long, default_value = ".")]
    dir: std::path::PathBuf,
}

pub fn run(args: &StateArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let dir = populated_dir(&runtime, &args.dir, "state", args.users)?;
    let users_size = std::fs::metadata(dir.path().join("data/users.json"))?.len();
    let server = Server::start(dir.path(), &[])?;
    let tokens = tokens(args.users)?;
    let url = format!("{}/api/sync/state", server.url);
    let (mut latencies, failures) = runtime.block_on(load(
        args.connections,
        Duration::from_secs(args.seconds),
        move |client, i| client.get(&url).bearer_auth(&tokens[i % tokens.len()]),
    ));
    server.stop()?;
    let count = latencies.len();
    let s = Summary::of(&mut latencies);
    line("## bench state")?;
    line(&format!(
        "`GET /api/sync/state` for random tenants among {} (users.json {}), {} connections, {} s; `herald all` in one process, this load generator in another, loopback.\n",
        args.users,
        bytes(users_size),
        args.connections,
        args.seconds
    ))?;
    table(
        &["requests/s", "p50", "p99", "max", "failed"],
        &[vec![
            format!("{:.0}", count as f64 / args.seconds as f64),
            ms(s.p50),
            ms(s.p99),
            ms(s.max),
            failures.to_string(),
        ]],
    )
}
