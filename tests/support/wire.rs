//! The test DC on loopback for process-level tests: Herald's simulator world at the wire,
//! journaling into the deployment's journal, holding the keys of its session files. `herald`
//! children reach it through `HERALD_TELEGRAM=grammers` and `HERALD_TELEGRAM_DC_ADDR`, so every
//! post goes through the real grammers client and MTProto bytes on a socket. Not Telegram.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use herald_telegram::sim::{Journal, World};
use herald_telegram::{Scenario, TelegramConfig};
use herald_testdc::{KeyStore, RunningDc, SimWorld, TestDc};

pub struct WireDc {
    pub dc: TestDc,
    pub running: RunningDc,
    pub world: World,
}

impl WireDc {
    /// A DC for the sessions under `root`, deciding with `scenario` (TOML), journaling to
    /// `root/journal.jsonl` (its state beside it, as the simulator keeps it).
    pub async fn start(root: &Path, scenario: &str) -> WireDc {
        let keys = KeyStore::from_session_dir(root.join("sessions")).unwrap();
        let journal = Journal::open(root.join("journal.jsonl")).unwrap();
        let config = TelegramConfig {
            call_timeout: Duration::from_secs(3600),
            ..TelegramConfig::default()
        };
        let world = World::new(
            Scenario::from_toml_str(scenario).unwrap(),
            Some(journal),
            None,
            config,
        )
        .unwrap();
        let dc = TestDc::new(keys, Arc::new(SimWorld::new(world.clone(), root)));
        let running = dc.bind("127.0.0.1:0").await.unwrap();
        WireDc { dc, running, world }
    }

    /// What a `herald` child needs to post through this DC with the grammers adapter.
    pub fn env(&self, call_timeout_ms: u64) -> Vec<(String, String)> {
        super::env_vars(&[
            ("HERALD_TELEGRAM", "grammers"),
            ("HERALD_TELEGRAM_DC_ADDR", &self.running.addr().to_string()),
            (
                "HERALD_TELEGRAM_CALL_TIMEOUT_MS",
                &call_timeout_ms.to_string(),
            ),
        ])
    }

    /// Calls of one API method the DC answered so far.
    pub fn calls(&self, method: &str) -> u64 {
        self.dc
            .stats()
            .calls_by_name
            .get(method)
            .copied()
            .unwrap_or(0)
    }
}
