//! `herald bench cost`: what running bots cost `herald all`, read from /proc: resident memory
//! (idle, peak while every bot is started through the API, steady peak and mean) and CPU
//! seconds per minute, for the whole process and per bot, at the default pacing (20 groups, a
//! post every 5 s, 300 s between cycles). On the simulator, or on the grammers path against a
//! `herald testdc` in a process of its own (real MTProto connections on loopback; not Telegram).
//!
//! A bot at that pacing posts for about 100 s and then waits 300 s, and the benchmark starts
//! every bot at once, so they all post in the same 100 s. The default window is one whole
//! period ([`CYCLE_PERIOD`]): its CPU is the mean a running bot costs, its memory peak
//! includes the moment every cycle has the most groups done, and the busiest 40 s of it
//! (every bot posting) is reported beside the mean.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::http::{Server, fire, populated_dir, rss_of, tokens, wait_listening};
use super::procfs::{clock_ticks_per_second, cpu_ticks, cpu_ticks_by_thread, open_files};
use super::report::{bytes, line, table};

/// A bot's period at the default pacing: 20 posts 5 s apart, then 300 s to the next cycle.
const CYCLE_PERIOD: Duration = Duration::from_secs(400);

/// The span of the busiest CPU figure: every bot posting (they were started together).
const BUSIEST: Duration = Duration::from_secs(40);

/// CPU is read this often along the window, for its busiest span.
const CPU_SLICE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Door {
    Sim,
    Grammers,
}

#[derive(Debug, clap::Args)]
pub struct CostArgs {
    /// Numbers of running bots to measure, one run each.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    users: Vec<usize>,
    /// How long to watch the running bots once they settled; one cycle period by default.
    #[arg(long, default_value_t = CYCLE_PERIOD.as_secs())]
    seconds: u64,
    #[arg(long, value_enum, default_value_t = Door::Sim)]
    telegram: Door,
    #[arg(long, default_value = ".")]
    dir: std::path::PathBuf,
}

/// What one run measured.
struct Cost {
    users: usize,
    idle: u64,
    start_peak: u64,
    steady_peak: u64,
    steady_mean: u64,
    /// The allocator's own figures when idle.
    idle_heap: Option<Heap>,
    /// The allocator's own figures at the steady peak of allocated bytes.
    heap: Option<Heap>,
    cpu_per_minute: f64,
    /// CPU seconds per minute over the window's busiest [`BUSIEST`]; none in a shorter window.
    busiest_cpu_per_minute: Option<f64>,
    posts_per_minute: f64,
    fds: usize,
    dc_fds: Option<usize>,
    /// CPU seconds per minute of each thread name, largest first.
    by_thread: Vec<(String, f64)>,
}

pub fn run(args: &CostArgs) -> anyhow::Result<()> {
    let before = super::reference::measure(&args.dir)?;
    let mut costs = Vec::new();
    for &users in &args.users {
        costs.push(measure(args, users)?);
    }
    let after = super::reference::measure(&args.dir)?;
    line("## bench cost")?;
    line(&format!(
        "`herald all` (in-process queue), {}; one session and 20 groups per tenant, a post every 5 s and 300 s between cycles (the default pacing); steady figures over {} s from 10 s after the last start (a bot's whole period is {} s: about 100 s posting, then waiting); the busiest CPU is the window's busiest {} s, while every bot posts.\n",
        match args.telegram {
            Door::Sim => "simulated Telegram".to_owned(),
            Door::Grammers =>
                "grammers against `herald testdc` in its own process (loopback MTProto)".to_owned(),
        },
        args.seconds,
        CYCLE_PERIOD.as_secs(),
        BUSIEST.as_secs()
    ))?;
    let rows: Vec<Vec<String>> = costs.iter().map(row).collect();
    let threads = costs.iter().map(|c| {
        let named: Vec<String> = c
            .by_thread
            .iter()
            .filter(|(_, s)| *s > 0.0)
            .map(|(name, s)| format!("{name} {s:.2}"))
            .collect();
        format!(
            "- {} bots, CPU s/min by thread: {}",
            c.users,
            named.join(", ")
        )
    });
    let threads: Vec<String> = threads.collect();
    table(
        &[
            "bots",
            "idle",
            "peak while starting",
            "steady peak (mean)",
            "heap idle: allocated / active / resident",
            "heap steady: allocated / active / resident",
            "per bot (steady peak - idle)",
            "CPU s/min (per bot)",
            "busiest CPU s/min",
            "posts/min",
            "open files",
        ],
        &rows,
    )?;
    line(&threads.join("\n"))?;
    line(&format!(
        "- plain work on this machine, timed before and after the runs (`reference`; it does not follow Herald's CPU from day to day: compare builds in one session): {}; {}",
        before.describe(),
        after.describe()
    ))
}

fn heap(figures: Option<Heap>) -> String {
    figures.map_or("-".to_owned(), |h| {
        format!(
            "{} / {} / {}",
            bytes(h.allocated),
            bytes(h.active),
            bytes(h.resident)
        )
    })
}

fn row(c: &Cost) -> Vec<String> {
    let per_bot = c.steady_peak.saturating_sub(c.idle) / c.users.max(1) as u64;
    vec![
        c.users.to_string(),
        bytes(c.idle),
        bytes(c.start_peak),
        format!("{} ({})", bytes(c.steady_peak), bytes(c.steady_mean)),
        heap(c.idle_heap),
        heap(c.heap),
        format!("{:.1} KiB", per_bot as f64 / 1024.0),
        format!(
            "{:.2} ({:.1} ms) = {:.1}% of a core",
            c.cpu_per_minute,
            c.cpu_per_minute * 1000.0 / c.users.max(1) as f64,
            c.cpu_per_minute / 60.0 * 100.0
        ),
        c.busiest_cpu_per_minute.map_or("-".to_owned(), |busiest| {
            format!("{busiest:.2} = {:.1}% of a core", busiest / 60.0 * 100.0)
        }),
        format!("{:.0}", c.posts_per_minute),
        match c.dc_fds {
            Some(dc) => format!("{} (test DC: {dc})", c.fds),
            None => c.fds.to_string(),
        },
    ]
}

/// One measured run, in the order it happens (a data directory seeded, herald started, every
/// bot started, samples taken over the period, figures read back). Long because a benchmark's
/// steps are read as one script; it is not on any path a user takes.
fn measure(args: &CostArgs, users: usize) -> anyhow::Result<Cost> {
    let runtime = tokio::runtime::Runtime::new()?;
    let dir = populated_dir(&runtime, &args.dir, "cost", users)?;
    runtime.block_on(super::posts::give_sessions(dir.path(), users))?;
    let dc = match args.telegram {
        Door::Sim => None,
        Door::Grammers => Some(TestDcProcess::start(dir.path(), users)?),
    };
    let env: Vec<(&str, String)> = match &dc {
        None => Vec::new(),
        Some(dc) => vec![
            ("HERALD_TELEGRAM", "grammers".into()),
            ("HERALD_TELEGRAM_DC_ADDR", dc.addr.clone()),
        ],
    };
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(dir.path(), &env)?;
    std::thread::sleep(Duration::from_secs(5));
    let idle = server.rss_bytes();
    let idle_heap = runtime.block_on(allocator_figures(&format!("{}/metrics", server.url)));

    let start_peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, sampling, pid) = (start_peak.clone(), sampling.clone(), server.pid());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(rss_of(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let tokens = tokens(users)?;
    let url = format!("{}/api/bot/start", server.url);
    let (started, failed) = runtime.block_on(fire(users, 100, move |client, i| {
        client.post(&url).bearer_auth(&tokens[i])
    }));
    if failed > 0 {
        bail!("{failed} of {users} starts were refused ({started} started)");
    }
    std::thread::sleep(Duration::from_secs(10));
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.join();

    let (ticks_before, posts_before) = (cpu_ticks(server.pid())?, posts(dir.path())?);
    let threads_before = cpu_ticks_by_thread(server.pid())?;
    let watch = Instant::now();
    let (mut peak, mut sum, mut samples) = (0u64, 0u64, 0u64);
    let mut heap: Option<Heap> = None;
    let metrics_url = format!("{}/metrics", server.url);
    // (seconds into the window, the process's CPU ticks so far), every CPU_SLICE.
    let mut cpu_marks = vec![(0.0, ticks_before)];
    while watch.elapsed() < Duration::from_secs(args.seconds) {
        if watch.elapsed() >= CPU_SLICE * u32::try_from(cpu_marks.len()).unwrap_or(u32::MAX) {
            cpu_marks.push((watch.elapsed().as_secs_f64(), cpu_ticks(server.pid())?));
        }
        let rss = server.rss_bytes();
        peak = peak.max(rss);
        sum += rss;
        samples += 1;
        if samples % 4 == 0
            && let Some(now) = runtime.block_on(allocator_figures(&metrics_url))
            && heap.is_none_or(|h| h.allocated < now.allocated)
        {
            heap = Some(now);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let elapsed = watch.elapsed().as_secs_f64();
    let ticks_after = cpu_ticks(server.pid())?;
    let ticks = ticks_after - ticks_before;
    cpu_marks.push((elapsed, ticks_after));
    let threads = cpu_ticks_by_thread(server.pid())?;
    let fds = open_files(server.pid());
    let dc_fds = dc.as_ref().map(|dc| open_files(dc.child.id()));
    // Counters reach stats.json within a flush interval; the window's ends carry the same lag.
    let posted = posts(dir.path())? - posts_before;
    server.stop().context("stopping herald all")?;
    drop(dc);
    let ticks_per_second = clock_ticks_per_second()?;
    let per_minute = |ticks: u64| ticks as f64 / ticks_per_second * 60.0 / elapsed;
    let mut by_thread: Vec<(String, f64)> = threads
        .into_iter()
        .map(|(name, after)| {
            let before = threads_before.get(&name).copied().unwrap_or(0);
            let spent = per_minute(after.saturating_sub(before));
            (name, spent)
        })
        .collect();
    by_thread.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(Cost {
        users,
        idle,
        start_peak: start_peak.load(Ordering::Relaxed),
        steady_peak: peak,
        steady_mean: sum / samples.max(1),
        heap,
        idle_heap,
        cpu_per_minute: per_minute(ticks),
        busiest_cpu_per_minute: busiest(&cpu_marks, ticks_per_second),
        posts_per_minute: posted as f64 * 60.0 / elapsed,
        fds,
        dc_fds,
        by_thread,
    })
}

/// CPU seconds per minute over the busiest stretch of at least [`BUSIEST`] between two of
/// `marks` (seconds into the window, ticks so far); `None` when the window is shorter.
fn busiest(marks: &[(f64, u64)], ticks_per_second: f64) -> Option<f64> {
    let span = BUSIEST.as_secs_f64();
    marks
        .iter()
        .enumerate()
        .filter_map(|(i, &(from, ticks_from))| {
            let &(to, ticks_to) = marks[i..].iter().find(|(at, _)| at - from >= span)?;
            Some((ticks_to - ticks_from) as f64 / ticks_per_second * 60.0 / (to - from))
        })
        .max_by(f64::total_cmp)
}

/// `herald testdc` on a free loopback port for the sessions of `root`; killed when dropped.
struct TestDcProcess {
    child: Child,
    addr: String,
}

impl TestDcProcess {
    fn start(root: &Path, sessions: usize) -> anyhow::Result<TestDcProcess> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr = format!("127.0.0.1:{port}");
        let exe = std::env::current_exe().context("cannot find the herald binary")?;
        let child = Command::new(exe)
            .args(["testdc", "--listen", &addr])
            .env("HERALD_DATA_DIR", root)
            .env("HERALD_JWT_SECRET", super::http::SECRET)
            .env("HERALD_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start herald testdc")?;
        let dc = TestDcProcess { child, addr };
        // It reads every session's key before it listens.
        wait_listening(
            port,
            Duration::from_secs(120),
            &format!("herald testdc ({sessions} sessions)"),
        )?;
        Ok(dc)
    }
}

impl Drop for TestDcProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The allocator's figures, as the server's `/metrics` reports them.
#[derive(Debug, Clone, Copy)]
struct Heap {
    allocated: u64,
    active: u64,
    resident: u64,
}

async fn allocator_figures(url: &str) -> Option<Heap> {
    let text = reqwest::get(url).await.ok()?.text().await.ok()?;
    let gauge = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .map(|v| v as u64)
    };
    Some(Heap {
        allocated: gauge("herald_allocator_allocated_bytes ")?,
        active: gauge("herald_allocator_active_bytes ")?,
        resident: gauge("herald_allocator_resident_bytes ")?,
    })
}

/// Every tenant's `total_posts` in stats.json, summed.
fn posts(root: &Path) -> anyhow::Result<u64> {
    let path = root.join("data/stats.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let doc: serde_json::Value = serde_json::from_str(&text)?;
    let users = doc
        .get("users")
        .and_then(|u| u.as_object())
        .context("stats.json without users")?;
    Ok(users
        .values()
        .filter_map(|u| u.get("total_posts").and_then(|p| p.as_u64()))
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_stretch_is_the_densest_forty_seconds_not_the_mean() {
        // A whole core (100 ticks a second) for the first 60 s, then nothing for 60 s.
        let marks: Vec<(f64, u64)> = (0..=24u64)
            .map(|slice| {
                let at = slice * 5;
                (at as f64, at.min(60) * 100)
            })
            .collect();
        let per_minute = busiest(&marks, 100.0).unwrap();
        assert!((per_minute - 60.0).abs() < 1e-9, "{per_minute}");
        assert_eq!(busiest(&marks[..8], 100.0), None, "35 s is shorter than 40");
    }
}
