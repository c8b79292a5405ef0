//! `herald bench dispatch`: how many empty cycle jobs per second go scheduler -> Redis -> one
//! worker process -> ack, beside BullMQ (one worker process, no-op jobs) and `redis-benchmark`
//! LPUSH/RPOP (the ceiling), all against the same private redis-server in the same run.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use herald_jobs::testing::RedisServer;
use herald_jobs::{
    ConsumerLimits, CoordConfig, Coordination, Cycle, Queue, RedisConfig, clock, handler,
};
use herald_scheduler::{Scheduler, SchedulerConfig};
use tokio_util::sync::CancellationToken;

use super::report::{line, table};

#[derive(Debug, clap::Args)]
pub struct DispatchArgs {
    /// Jobs per run.
    #[arg(long, default_value_t = 200_000)]
    jobs: usize,
    /// BullMQ worker concurrency.
    #[arg(long, default_value_t = 100)]
    bullmq_concurrency: usize,
    /// Internal: run as the consuming worker process against this Redis URL and key prefix.
    #[arg(long, hide = true, requires = "prefix")]
    consume: Option<String>,
    #[arg(long, hide = true)]
    prefix: Option<String>,
}

pub fn run(args: &DispatchArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    if let (Some(url), Some(prefix)) = (&args.consume, &args.prefix) {
        return runtime.block_on(consume(url, prefix, args.jobs));
    }
    let server = RedisServer::start();
    let herald = runtime.block_on(herald(&server, args.jobs))?;
    let bullmq = bullmq(server.port(), args.jobs, args.bullmq_concurrency);
    let ceiling = redis_benchmark(server.port())?;
    line("## bench dispatch")?;
    line(&format!(
        "{} empty cycle jobs, one consuming process each, one private redis-server {}.\n",
        args.jobs,
        redis_version()
    ))?;
    let mut rows = vec![vec![
        "Herald: scheduler -> Redis Streams -> worker -> ack".into(),
        format!("{:.0} jobs/s", herald.end_to_end),
        format!(
            "scheduler emitted {:.0} jobs/s; worker processed {:.0} jobs/s",
            herald.emitted, herald.processed
        ),
    ]];
    match &bullmq {
        Ok(b) => rows.push(vec![
            format!(
                "BullMQ 6.7.0 (addBulk, one Worker process, concurrency {})",
                args.bullmq_concurrency
            ),
            format!("{:.0} jobs/s", b.end_to_end),
            format!(
                "enqueued {:.0} jobs/s; worker processed {:.0} jobs/s",
                b.enqueue, b.processed
            ),
        ]),
        Err(err) => rows.push(vec!["BullMQ".into(), "not run".into(), format!("{err:#}")]),
    }
    rows.push(vec![
        "redis-benchmark LPUSH / RPOP (ceiling)".into(),
        format!("{:.0} / {:.0} ops/s", ceiling.0, ceiling.1),
        "one command per operation, 50 clients".into(),
    ]);
    table(&["system", "end to end", "detail"], &rows)?;
    if let Ok(b) = &bullmq {
        line(&format!(
            "Herald / BullMQ: {:.2}x end to end, {:.2}x worker processing rate. Herald / LPUSH ceiling: {:.2}.",
            herald.end_to_end / b.end_to_end,
            herald.processed / b.processed,
            herald.end_to_end / ceiling.0
        ))?;
    }
    Ok(())
}

struct HeraldRun {
    end_to_end: f64,
    emitted: f64,
    processed: f64,
}

async fn herald(server: &RedisServer, jobs: usize) -> anyhow::Result<HeraldRun> {
    let prefix = format!("bench{:08x}", rand::random::<u32>());
    let redis = RedisConfig {
        prefix: prefix.clone(),
        ..RedisConfig::new(server.url())
    };
    let coord = Coordination::redis(redis.clone(), CoordConfig::default()).await?;
    let queue = Queue::redis(&redis).await?;
    // Every user due now, written straight into the schedule (setup, not measured).
    let client = redis::Client::open(server.url())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let due = clock::now().timestamp_millis();
    for chunk in (0..jobs).collect::<Vec<_>>().chunks(10_000) {
        let mut pipe = redis::pipe();
        for i in chunk {
            pipe.zadd(format!("{prefix}:schedule"), format!("u{i}"), due)
                .ignore();
        }
        let _: () = pipe.query_async(&mut conn).await?;
    }
    let exe = std::env::current_exe().context("cannot find the herald binary")?;
    let mut child = Command::new(exe)
        .args([
            "bench",
            "dispatch",
            "--jobs",
            &jobs.to_string(),
            "--consume",
            &server.url(),
            "--prefix",
            &prefix,
        ])
        .env("HERALD_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start the consuming worker process")?;
    let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
    if lines.next().transpose()?.as_deref() != Some("ready") {
        bail!("the consuming worker did not start");
    }
    let store = tempfile::tempdir()?;
    let data = herald_data::Store::open(herald_data::StoreConfig::new(store.path()))?;
    let scheduler = Scheduler::new(coord, queue, data.clone(), SchedulerConfig::new("bench"));
    let started = Instant::now();
    while scheduler.step(false).await?.is_none() {}
    let emitted = jobs as f64 / started.elapsed().as_secs_f64();
    let report = lines
        .next()
        .transpose()?
        .context("the consuming worker gave no report")?;
    let end_to_end = jobs as f64 / started.elapsed().as_secs_f64();
    child.wait()?;
    data.shutdown()?;
    let processed: f64 = report.trim().parse().context("unreadable worker report")?;
    Ok(HeraldRun {
        end_to_end,
        emitted,
        processed,
    })
}

/// The worker process: consumes `jobs` no-op cycles, then prints its rate and exits.
async fn consume(url: &str, prefix: &str, jobs: usize) -> anyhow::Result<()> {
    let redis = RedisConfig {
        prefix: prefix.to_owned(),
        ..RedisConfig::new(url)
    };
    let queue = Queue::redis(&redis).await?;
    let done = Arc::new(AtomicUsize::new(0));
    let first = Arc::new(std::sync::OnceLock::<Instant>::new());
    let shutdown = CancellationToken::new();
    let on_cycle = {
        let (done, first, shutdown) = (done.clone(), first.clone(), shutdown.clone());
        handler(move |_c: Cycle| {
            first.get_or_init(Instant::now);
            if done.fetch_add(1, Ordering::Relaxed) + 1 == jobs {
                shutdown.cancel();
            }
            async { Ok(()) }
        })
    };
    let on_command = handler(|_c: herald_jobs::Command| async { Ok(()) });
    writeln!(std::io::stdout(), "ready")?;
    std::io::stdout().flush()?;
    let limits = ConsumerLimits {
        drain_deadline: Duration::from_secs(5),
        ..ConsumerLimits::default()
    };
    queue
        .consume(on_command, on_cycle, limits, shutdown)
        .await?;
    let elapsed = first.get().map(|t| t.elapsed()).unwrap_or_default();
    writeln!(
        std::io::stdout(),
        "{}",
        jobs as f64 / elapsed.as_secs_f64().max(1e-9)
    )?;
    Ok(())
}

struct BullRun {
    end_to_end: f64,
    enqueue: f64,
    processed: f64,
}

fn bullmq(port: u16, jobs: usize, concurrency: usize) -> anyhow::Result<BullRun> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/bullmq");
    if !dir.join("node_modules").exists() {
        let installed = Command::new("npm")
            .arg("ci")
            .arg("--silent")
            .current_dir(&dir)
            .status()
            .context("npm is not installed")?;
        if !installed.success() {
            bail!("npm ci in bench/bullmq failed");
        }
    }
    let output = Command::new("node")
        .args([
            "dispatch.mjs",
            &port.to_string(),
            &jobs.to_string(),
            &concurrency.to_string(),
        ])
        .current_dir(&dir)
        .output()
        .context("node is not installed")?;
    if !output.status.success() {
        bail!(
            "the BullMQ run failed: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .next()
                .unwrap_or("")
        );
    }
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("unreadable BullMQ report")?;
    let number = |k: &str| report[k].as_f64().unwrap_or(0.0);
    Ok(BullRun {
        end_to_end: number("end_to_end_per_sec"),
        enqueue: number("enqueue_per_sec"),
        processed: number("process_per_sec"),
    })
}

fn redis_benchmark(port: u16) -> anyhow::Result<(f64, f64)> {
    let output = Command::new("redis-benchmark")
        .args([
            "-p",
            &port.to_string(),
            "-t",
            "lpush,rpop",
            "-n",
            "200000",
            "-q",
        ])
        .output()
        .context("redis-benchmark is not installed")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let rate = |name: &str| -> f64 {
        text.split(['\r', '\n'])
            .rfind(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0.0)
    };
    Ok((rate("LPUSH:"), rate("RPOP:")))
}

fn redis_version() -> String {
    Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| {
            v.split_whitespace()
                .find(|w| w.starts_with("v="))
                .map(|w| w.trim_start_matches("v=").to_owned())
        })
        .unwrap_or_default()
}
