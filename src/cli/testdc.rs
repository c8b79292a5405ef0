//! `herald testdc`: a local Telegram test DC (MTProto 2.0 over TCP) for the keys in the data
//! directory's session files, deciding every outcome with the simulated world
//! (`HERALD_SIM_SCENARIO`, `HERALD_SIM_JOURNAL`). Point workers at it with
//! `HERALD_TELEGRAM_DC_ADDR`. It is a test fixture and a demo backend, never Telegram.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use herald_telegram::TelegramConfig;
use herald_telegram::sim::World;
use herald_testdc::{KeyStore, RunningDc, SimWorld, TestDc};

use crate::config::Config;
use crate::wiring::parts;

#[derive(Debug, clap::Args)]
pub(crate) struct TestDcArgs {
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:4430")]
    listen: SocketAddr,
}

/// The simulator decides; the client's own call timeout ends a call the world never answers.
const WORLD_CALL_TIMEOUT: Duration = Duration::from_secs(3600);

/// Serves a test DC for the data directory until SIGTERM or SIGINT.
pub(crate) async fn testdc_command(config: &Config, args: &TestDcArgs) -> anyhow::Result<()> {
    let shutdown = parts::shutdown_on_signal()?;
    let dc = start(config, args.listen).await?;
    tracing::warn!(address = %dc.addr(), "test DC serving (not Telegram): set HERALD_TELEGRAM_DC_ADDR={} on the workers", dc.addr());
    shutdown.cancelled().await;
    dc.stop().await;
    Ok(())
}

/// A test DC on `listen` holding the keys of every session file under the data directory.
/// Keys are read once, at start: sessions imported later are unknown to it.
pub(crate) async fn start(config: &Config, listen: SocketAddr) -> anyhow::Result<RunningDc> {
    let sessions = config.data_dir.join("sessions");
    let keys = tokio::task::spawn_blocking(move || KeyStore::from_session_dir(&sessions))
        .await
        .context("reading the session files failed")?
        .context("cannot read the keys of the data directory's sessions")?;
    let (scenario, journal) = parts::simulated_world(config)?;
    let settings = TelegramConfig {
        call_timeout: WORLD_CALL_TIMEOUT,
        ..TelegramConfig::default()
    };
    let model = World::new(scenario, journal, None, settings)?;
    let world = SimWorld::new(model, &config.data_dir);
    tracing::info!(
        sessions = keys.len(),
        "test DC holds the keys of the data directory's sessions"
    );
    TestDc::new(keys, Arc::new(world))
        .bind(listen)
        .await
        .with_context(|| format!("cannot serve the test DC on {listen}"))
}
