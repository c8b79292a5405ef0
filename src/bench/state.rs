//! `herald bench state`: `GET /api/sync/state` requests per second and latency with 10,000 tenants
//! in the store, a closed-loop load generator in this process against `herald all` in another;
//! with `--writes-per-second N`, a third process changes users.json N times a second meanwhile,
//! so every read may find the file changed by another process (the re-parse path).

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
    /// Changes of users.json per second by another process while the load runs.
    #[arg(long, default_value_t = 0)]
    writes_per_second: u32,
    /// The writer process itself: change users.json in this data directory until killed.
    #[arg(long, hide = true)]
    write_loop: Option<std::path::PathBuf>,
}

pub fn run(args: &StateArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    if let Some(dir) = &args.write_loop {
        return runtime.block_on(write_loop(dir, args.writes_per_second));
    }
    let dir = populated_dir(&runtime, &args.dir, "state", args.users)?;
    let users_size = std::fs::metadata(dir.path().join("data/users.json"))?.len();
    let server = Server::start(dir.path(), &[])?;
    let lock = dir.path().join("data/users.json.lock");
    let writes_before = super::posts::generation(&lock);
    let mut writer = if args.writes_per_second > 0 {
        Some(
            std::process::Command::new(std::env::current_exe()?)
                .args(["bench", "state", "--write-loop"])
                .arg(dir.path())
                .args(["--writes-per-second", &args.writes_per_second.to_string()])
                .stdout(std::process::Stdio::null())
                .spawn()?,
        )
    } else {
        None
    };
    let tokens = tokens(args.users)?;
    let url = format!("{}/api/sync/state", server.url);
    let (mut latencies, failures) = runtime.block_on(load(
        args.connections,
        Duration::from_secs(args.seconds),
        move |client, i| client.get(&url).bearer_auth(&tokens[i % tokens.len()]),
    ));
    if let Some(writer) = writer.as_mut() {
        writer.kill()?;
        writer.wait()?;
    }
    let writes = super::posts::generation(&lock).saturating_sub(writes_before);
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
        &[
            "requests/s",
            "p50",
            "p99",
            "max",
            "failed",
            "users.json writes by another process",
        ],
        &[vec![
            format!("{:.0}", count as f64 / args.seconds as f64),
            ms(s.p50),
            ms(s.p99),
            ms(s.max),
            failures.to_string(),
            writes.to_string(),
        ]],
    )
}

/// Changes one tenant's record `per_second` times a second, as another Herald process would.
async fn write_loop(dir: &std::path::Path, per_second: u32) -> anyhow::Result<()> {
    let store = herald_data::Store::open(herald_data::StoreConfig::new(dir))?;
    let user = herald_data::UserId::parse("u0").map_err(anyhow::Error::msg)?;
    let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second.max(1));
    for n in 0u64.. {
        tick.tick().await;
        store
            .update_user(&user, move |u| {
                u.delay_between_posts = 5 + n % 100;
                Ok::<_, ()>(())
            })
            .await
            .map_err(|e| anyhow::anyhow!("write: {e:?}"))?;
    }
    Ok(())
}
