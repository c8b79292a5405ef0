//! `herald bench memory`: resident memory of `herald all` with 10,000 tenants configured, idle,
//! and then with every bot running on the simulated Telegram.

use std::time::Duration;

use anyhow::Context;

use super::http::{Server, fire, populated_dir, tokens};
use super::report::{bytes, line, table};

#[derive(Debug, clap::Args)]
pub struct MemoryArgs {
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// How long to watch the running bots.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    #[arg(long, default_value = ".")]
    dir: std::path::PathBuf,
}

pub fn run(args: &MemoryArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let dir = populated_dir(&runtime, &args.dir, "memory", args.users)?;
    runtime.block_on(super::posts::give_sessions(dir.path(), args.users))?;
    let server = Server::start(dir.path(), &[])?;
    std::thread::sleep(Duration::from_secs(5));
    let idle = server.rss_bytes();

    // Every bot started through the API, as tenants would.
    let tokens = tokens(args.users)?;
    let url = format!("{}/api/bot/start", server.url);
    let burst = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = {
        let (burst, pid) = (burst.clone(), server.pid());
        std::thread::spawn(move || {
            // Samples until the process is gone (or an hour passed).
            for _ in 0..36_000 {
                let rss = super::http::rss_of(pid);
                if rss == 0 {
                    return;
                }
                burst.fetch_max(rss, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let (started, failed) = runtime.block_on(fire(args.users, 100, move |client, i| {
        client.post(&url).bearer_auth(&tokens[i])
    }));
    let burst_peak = burst.load(std::sync::atomic::Ordering::Relaxed);
    // Steady state: every bot running, the start burst over.
    std::thread::sleep(Duration::from_secs(10));
    let mut peak = 0;
    let watch = std::time::Instant::now();
    while watch.elapsed() < Duration::from_secs(args.seconds) {
        peak = peak.max(server.rss_bytes());
        std::thread::sleep(Duration::from_millis(500));
    }
    server.stop().context("stopping herald all")?;
    let _ = sampler.join();
    line("## bench memory")?;
    line(&format!(
        "`herald all` (in-process queue, simulated Telegram with its built-in scenario), {} tenants with one session each.\n",
        args.users
    ))?;
    table(
        &["state", "resident memory"],
        &[
            vec!["idle, every bot stopped".into(), bytes(idle)],
            vec![
                format!(
                    "while {started} bots were started through the API, 100 requests at a time ({failed} refused): peak"
                ),
                bytes(burst_peak),
            ],
            vec![
                format!(
                    "every bot running, from 10 s after the last start: peak over {} s",
                    args.seconds
                ),
                bytes(peak),
            ],
        ],
    )
}
