//! Shared helpers for the simulator tests: sessions, labels, one-line sends.

#![allow(dead_code, unreachable_pub)]

use std::path::Path;

use herald_session_file::{AuthKey, SessionCredentials};
use herald_telegram::sim::Outcome;
use herald_telegram::{
    ApiCredentials, AttemptLabel, Connection, Journal, JournalEntry, Post, Scenario, SendError,
    SessionHandle, SimTelegram, Target, Telegram, TelegramConfig,
};

pub fn session(name: &str) -> SessionHandle {
    SessionHandle {
        name: name.into(),
        credentials: SessionCredentials {
            dc_id: 2,
            server_address: "127.0.0.1".into(),
            port: 443,
            auth_key: AuthKey::new([1; 256]),
        },
        entities: Vec::new(),
    }
}

pub fn api() -> ApiCredentials {
    ApiCredentials {
        api_id: 1,
        api_hash: "00000000000000000000000000000000".to_owned().into(),
    }
}

pub fn label(user: &str, cycle: u64) -> AttemptLabel {
    AttemptLabel {
        user_id: user.into(),
        cycle,
        random_id: herald_telegram::new_random_id(cycle),
    }
}

pub fn target(text: &str) -> Target {
    Target::parse(text).expect("valid target")
}

pub fn post() -> Post {
    Post::parse("text", "hello from the simulator").expect("valid post")
}

pub fn scenario(toml: &str) -> Scenario {
    Scenario::from_toml_str(toml).expect("valid scenario")
}

/// A simulator journaling to `dir/journal.jsonl`, state beside it.
pub fn sim_in(dir: &Path, scenario: Scenario) -> SimTelegram {
    sim_with_timeout(dir, scenario, std::time::Duration::from_secs(30))
}

pub fn sim_with_timeout(
    dir: &Path,
    scenario: Scenario,
    timeout: std::time::Duration,
) -> SimTelegram {
    let journal = Journal::open(dir.join("journal.jsonl")).expect("journal");
    SimTelegram::with_config(
        scenario,
        Some(journal),
        None,
        TelegramConfig {
            call_timeout: timeout,
            ..TelegramConfig::default()
        },
    )
    .expect("simulator")
}

pub async fn connect(sim: &SimTelegram, name: &str) -> Box<dyn Connection> {
    sim.connect(session(name), api()).await.expect("connect")
}

/// One send with a fresh random id; `Ok(())` once delivered.
pub async fn send(conn: &mut Box<dyn Connection>, to: &str) -> Result<(), SendError> {
    conn.send(&target(to), &post(), &label("u1", 1))
        .await
        .map(|_| ())
}

pub fn journal(dir: &Path) -> Vec<JournalEntry> {
    Journal::read_all(dir.join("journal.jsonl")).expect("read journal")
}

pub fn err(e: SendError) -> Outcome {
    Outcome::Error(e)
}

pub fn dead(code: &str) -> SendError {
    SendError::SessionDead { code: code.into() }
}
