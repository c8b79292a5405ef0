//! The grammers path for the benchmarks: Herald's test DC in this process, holding the keys of
//! the bench's session files, deciding with an empty scenario (no latency, no faults), and a
//! grammers backend pointed at it. Real MTProto on loopback sockets; not Telegram.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use herald_session_file::read_telethon;
use herald_telegram::sim::World;
use herald_telegram::{
    ApiCredentials, AttemptLabel, GrammersTelegram, Post, Scenario, SessionHandle, Target,
    Telegram, TelegramConfig, new_random_id,
};
use herald_testdc::{KeyStore, RunningDc, SimWorld, TestDc};

/// A test DC for the sessions under `root`, and a grammers backend that connects there.
pub(crate) async fn grammers_and_dc(root: &Path) -> anyhow::Result<(Arc<dyn Telegram>, RunningDc)> {
    let sessions = root.join("sessions");
    let keys = tokio::task::spawn_blocking(move || KeyStore::from_session_dir(&sessions)).await??;
    let world = World::new(
        Scenario::default(),
        None,
        None,
        TelegramConfig {
            call_timeout: Duration::from_secs(3600),
            ..TelegramConfig::default()
        },
    )?;
    let dc = TestDc::new(keys, Arc::new(SimWorld::new(world, root)))
        .bind("127.0.0.1:0")
        .await
        .context("cannot start the test DC")?;
    let telegram = GrammersTelegram::new(TelegramConfig {
        dc_override: Some(dc.addr()),
        ..TelegramConfig::default()
    });
    Ok((Arc::new(telegram), dc))
}

/// Handshake to first post, one session after another: `(median, p99)` over `sessions`.
pub(crate) async fn connect_cost(
    telegram: &dyn Telegram,
    files: &[(String, std::path::PathBuf)],
) -> anyhow::Result<(Duration, Duration)> {
    let api = ApiCredentials {
        api_id: 10_000,
        api_hash: "0".repeat(32).into(),
    };
    let target = Target::parse("-1001000000000")?;
    let post = Post::Text("connect cost".into());
    let mut took = Vec::with_capacity(files.len());
    for (i, (name, path)) in files.iter().enumerate() {
        let credentials = read_telethon(path)?;
        let label = AttemptLabel {
            user_id: format!("u{i}"),
            cycle: 1,
            random_id: new_random_id(1),
        };
        let started = Instant::now();
        let mut connection = telegram
            .connect(SessionHandle::new(name.clone(), credentials), api.clone())
            .await
            .map_err(|e| anyhow::anyhow!("connect: {e}"))?;
        connection
            .send(&target, &post, &label)
            .await
            .map_err(|e| anyhow::anyhow!("first post: {e}"))?;
        took.push(started.elapsed());
        connection.disconnect().await;
    }
    took.sort_unstable();
    let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
    Ok((at(0.5), at(0.99)))
}
