//! A DC on 127.0.0.1:0 with a scripted world, and Herald's real adapter pointed at it.

use std::sync::Arc;
use std::time::Duration;

use herald_session_file::{AuthKey, SessionCredentials};
use herald_telegram::{
    ApiCredentials, AttemptLabel, Connection, GrammersTelegram, Post, SendError, SessionHandle,
    Target, Telegram, TelegramConfig,
};
use herald_testdc::scripted::ScriptedWorld;
use herald_testdc::{KeyStore, RunningDc, TestDc};

/// A key that differs per session name and per call site's seed.
pub(crate) fn key(name: &str, seed: u8) -> AuthKey {
    let mut bytes = [seed; 256];
    for (i, b) in name.bytes().enumerate() {
        bytes[i % 256] ^= b;
        bytes[(i * 7 + 3) % 256] = bytes[(i * 7 + 3) % 256].wrapping_add(b);
    }
    AuthKey::new(bytes)
}

pub(crate) struct Harness {
    pub(crate) world: ScriptedWorld,
    pub(crate) dc: TestDc,
    pub(crate) running: RunningDc,
    pub(crate) telegram: GrammersTelegram,
}

/// Calls end after this long in tests that do not test timeouts.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);

impl Harness {
    /// A DC knowing `sessions` (keys from [`key`] with seed 1).
    pub(crate) async fn start(sessions: &[&str], world: ScriptedWorld) -> Self {
        Self::start_with_timeout(sessions, world, CALL_TIMEOUT).await
    }

    pub(crate) async fn start_with_timeout(
        sessions: &[&str],
        world: ScriptedWorld,
        call_timeout: Duration,
    ) -> Self {
        let keys = KeyStore::from_pairs(sessions.iter().map(|s| (*s, key(s, 1)))).expect("keys");
        let dc = TestDc::new(keys, Arc::new(world.clone()));
        let running = dc.bind("127.0.0.1:0").await.expect("bind");
        Self {
            world,
            dc,
            running,
            telegram: GrammersTelegram::new(TelegramConfig {
                call_timeout,
                ..TelegramConfig::default()
            }),
        }
    }

    /// The handle Herald's worker would build for `name`'s session file.
    pub(crate) fn handle(&self, name: &str) -> SessionHandle {
        self.handle_with_key(name, key(name, 1))
    }

    pub(crate) fn handle_with_key(&self, name: &str, auth_key: AuthKey) -> SessionHandle {
        SessionHandle {
            name: name.to_owned(),
            credentials: SessionCredentials {
                dc_id: 2,
                server_address: "127.0.0.1".into(),
                port: self.running.port(),
                auth_key,
            },
            entities: Vec::new(),
        }
    }

    pub(crate) async fn connect(&self, name: &str) -> Result<Box<dyn Connection>, SendError> {
        self.telegram.connect(self.handle(name), api()).await
    }
}

pub(crate) fn api() -> ApiCredentials {
    ApiCredentials {
        api_id: 12345,
        api_hash: "0123456789abcdef0123456789abcdef".to_owned().into(),
    }
}

/// A label with a fresh random id: every call is a new post.
pub(crate) fn label() -> AttemptLabel {
    AttemptLabel {
        user_id: "tenant-1".into(),
        cycle: 1,
        random_id: herald_telegram::new_random_id(1),
    }
}

pub(crate) fn target(text: &str) -> Target {
    Target::parse(text).expect("valid target")
}

pub(crate) fn text(body: &str) -> Post {
    Post::Text(body.into())
}

pub(crate) fn link(channel: &str, message_id: i32) -> Post {
    Post::Link {
        channel: channel.into(),
        message_id,
    }
}

/// Waits (up to 5 s) for a condition the DC reaches asynchronously, e.g. noticing that
/// a client closed its socket; there is no signal for that to wait on instead.
pub(crate) async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
