//! The simulator's scenario: which faults happen, how often, to whom.
//!
//! Owns the scenario file format, its validation and the per-session view of
//! it. Must never hold run-time state (that is `state`): a scenario is read
//! once and is the same for every process of one run.
//!
//! # Format
//!
//! TOML (or JSON, chosen by a `.json` extension), every key optional:
//!
//! ```toml
//! seed = 42                          # same seed + same scenario = same outcomes
//! latency_ms = { min = 20, max = 150 }  # or a fixed number: latency_ms = 50
//!
//! # Random faults, each a probability per send attempt; at most one happens
//! # per attempt, drawn in this order, so the rates may add up to at most 1.
//! session_death = { rate = 0.0, code = "AUTH_KEY_UNREGISTERED" }
//! hang = { rate = 0.01 }             # the call never answers; the caller's timeout ends it
//! peer_flood = { rate = 0.001 }      # the account stays limited from then on
//! flood_wait = { rate = 0.02, min_secs = 5, max_secs = 60 }
//! slow_mode = { rate = 0.01, secs = 30 }   # per chat
//!
//! missing_targets = ["-1009999999999"]     # chats that do not exist
//!
//! # Tables come after all top-level keys (TOML puts a key under the table above it).
//! # Sessions that die after N accepted posts (first matching rule wins).
//! [[die_after_posts]]
//! session = "+2547*"                 # glob on the file name: * and ?
//! posts = 3
//! code = "USER_DEACTIVATED_BAN"      # any session-dead error name
//!
//! # Chats where no account may write; any write-forbidden error name.
//! [[forbidden_targets]]
//! target = "@closed_group"
//! code = "CHAT_WRITE_FORBIDDEN"
//!
//! # Per-session overrides: the first matching entry replaces those settings.
//! [[overrides]]
//! session = "slow-*.session"
//! latency_ms = 2000
//! flood_wait = { rate = 0.5, min_secs = 10, max_secs = 20 }
//! ```
//!
//! Defaults: seed 0, no latency, no faults. Error codes are Telegram error
//! names and become errors through the same table as real ones
//! ([`crate::classify_rpc`]); a code of the wrong class is refused at load.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::draw::glob_match;
use crate::{SendError, Target, TelegramError, classify_rpc};

/// A whole scenario; see the module documentation for the file format.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    pub seed: u64,
    pub latency_ms: Latency,
    pub session_death: DeathRate,
    pub hang: Rate,
    pub peer_flood: Rate,
    pub flood_wait: FloodWaitRule,
    pub slow_mode: SlowModeRule,
    pub die_after_posts: Vec<DieAfterPosts>,
    pub forbidden_targets: Vec<ForbiddenTarget>,
    pub missing_targets: Vec<Target>,
    pub overrides: Vec<SessionOverride>,
}

/// Milliseconds before a call answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Latency {
    Fixed(u64),
    Uniform { min: u64, max: u64 },
}

impl Default for Latency {
    fn default() -> Self {
        Self::Fixed(0)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rate {
    pub rate: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeathRate {
    pub rate: f64,
    pub code: String,
}

impl Default for DeathRate {
    fn default() -> Self {
        Self {
            rate: 0.0,
            code: "AUTH_KEY_UNREGISTERED".into(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FloodWaitRule {
    pub rate: f64,
    pub min_secs: u32,
    pub max_secs: u32,
}

impl Default for FloodWaitRule {
    fn default() -> Self {
        Self {
            rate: 0.0,
            min_secs: 5,
            max_secs: 60,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlowModeRule {
    pub rate: f64,
    pub secs: u32,
}

impl Default for SlowModeRule {
    fn default() -> Self {
        Self {
            rate: 0.0,
            secs: 30,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DieAfterPosts {
    pub session: String,
    pub posts: u64,
    #[serde(default = "default_ban_code")]
    pub code: String,
}

fn default_ban_code() -> String {
    "USER_DEACTIVATED_BAN".into()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForbiddenTarget {
    pub target: Target,
    #[serde(default = "default_forbidden_code")]
    pub code: String,
}

fn default_forbidden_code() -> String {
    "CHAT_WRITE_FORBIDDEN".into()
}

/// Settings replaced for sessions whose file name matches `session`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionOverride {
    pub session: String,
    pub latency_ms: Option<Latency>,
    pub session_death: Option<DeathRate>,
    pub hang: Option<Rate>,
    pub peer_flood: Option<Rate>,
    pub flood_wait: Option<FloodWaitRule>,
    pub slow_mode: Option<SlowModeRule>,
}

/// The random-fault settings in force for one session.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Faults {
    pub(crate) latency: Latency,
    pub(crate) session_death: DeathRate,
    pub(crate) hang: Rate,
    pub(crate) peer_flood: Rate,
    pub(crate) flood_wait: FloodWaitRule,
    pub(crate) slow_mode: SlowModeRule,
    pub(crate) die_after: Option<DieAfterPosts>,
}

/// The scenario `herald all --demo` runs when none is given: mostly
/// successes, a little latency, an occasional short flood wait.
const BUILTIN: &str = r#"
seed = 1
latency_ms = { min = 40, max = 250 }
flood_wait = { rate = 0.01, min_secs = 5, max_secs = 20 }
"#;

impl Scenario {
    /// The built-in demo scenario.
    pub fn builtin() -> Self {
        Self::from_toml_str(BUILTIN).unwrap_or_default()
    }

    pub fn from_toml_str(text: &str) -> Result<Self, TelegramError> {
        let scenario: Self =
            toml::from_str(text).map_err(|e| TelegramError::Scenario(e.to_string()))?;
        scenario.validate()?;
        Ok(scenario)
    }

    pub fn from_json_str(text: &str) -> Result<Self, TelegramError> {
        let scenario: Self =
            serde_json::from_str(text).map_err(|e| TelegramError::Scenario(e.to_string()))?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Loads a scenario file: JSON if the name ends in `.json`, TOML otherwise.
    pub fn load(path: &Path) -> Result<Self, TelegramError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path)
            .map_err(|e| TelegramError::Scenario(format!("{name}: {e}")))?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let parsed = if is_json {
            Self::from_json_str(&text)
        } else {
            Self::from_toml_str(&text)
        };
        parsed.map_err(|e| match e {
            TelegramError::Scenario(reason) => TelegramError::Scenario(format!("{name}: {reason}")),
            other => other,
        })
    }

    /// Refuses rates outside 0..=1, rates adding up past 1, inverted ranges
    /// and codes that would not classify as the fault they configure.
    pub fn validate(&self) -> Result<(), TelegramError> {
        self.check_faults("", &self.base_faults())?;
        for (i, o) in self.overrides.iter().enumerate() {
            let faults = self.apply(o, self.base_faults());
            self.check_faults(&format!("overrides[{i}] ({}): ", o.session), &faults)?;
        }
        for rule in &self.die_after_posts {
            expect_dead(&rule.code, "die_after_posts")?;
        }
        for rule in &self.forbidden_targets {
            if !matches!(
                classify_rpc(&rule.code, None),
                SendError::WriteForbidden { .. }
            ) {
                return Err(bad(format!(
                    "forbidden_targets: {} is not a write-forbidden error name",
                    rule.code
                )));
            }
        }
        Ok(())
    }

    fn check_faults(&self, at: &str, f: &Faults) -> Result<(), TelegramError> {
        let rates = [
            ("session_death", f.session_death.rate),
            ("hang", f.hang.rate),
            ("peer_flood", f.peer_flood.rate),
            ("flood_wait", f.flood_wait.rate),
            ("slow_mode", f.slow_mode.rate),
        ];
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(bad(format!("{at}{name}.rate is {rate}, expected 0 to 1")));
            }
        }
        let total: f64 = rates.iter().map(|(_, r)| r).sum();
        if total > 1.0 + 1e-9 {
            return Err(bad(format!(
                "{at}fault rates add up to {total}, more than 1"
            )));
        }
        if f.flood_wait.min_secs == 0 || f.flood_wait.min_secs > f.flood_wait.max_secs {
            return Err(bad(format!(
                "{at}flood_wait needs 1 <= min_secs <= max_secs, got {}..{}",
                f.flood_wait.min_secs, f.flood_wait.max_secs
            )));
        }
        if f.slow_mode.secs == 0 {
            return Err(bad(format!("{at}slow_mode.secs must be at least 1")));
        }
        if let Latency::Uniform { min, max } = f.latency
            && min > max
        {
            return Err(bad(format!("{at}latency_ms min {min} is above max {max}")));
        }
        expect_dead(&f.session_death.code, &format!("{at}session_death"))
    }

    fn base_faults(&self) -> Faults {
        Faults {
            latency: self.latency_ms,
            session_death: self.session_death.clone(),
            hang: self.hang,
            peer_flood: self.peer_flood,
            flood_wait: self.flood_wait,
            slow_mode: self.slow_mode,
            die_after: None,
        }
    }

    fn apply(&self, o: &SessionOverride, mut f: Faults) -> Faults {
        f.latency = o.latency_ms.unwrap_or(f.latency);
        f.session_death = o.session_death.clone().unwrap_or(f.session_death);
        f.hang = o.hang.unwrap_or(f.hang);
        f.peer_flood = o.peer_flood.unwrap_or(f.peer_flood);
        f.flood_wait = o.flood_wait.unwrap_or(f.flood_wait);
        f.slow_mode = o.slow_mode.unwrap_or(f.slow_mode);
        f
    }

    /// The settings in force for the session file `name`.
    pub(crate) fn faults_for(&self, name: &str) -> Faults {
        let mut f = match self.overrides.iter().find(|o| glob_match(&o.session, name)) {
            Some(o) => self.apply(o, self.base_faults()),
            None => self.base_faults(),
        };
        f.die_after = self
            .die_after_posts
            .iter()
            .find(|r| glob_match(&r.session, name))
            .cloned();
        f
    }

    /// [`Scenario::faults_for`], sharing `base` (the scenario's [`Scenario::base`]) with every
    /// session that no override and no `die_after_posts` rule names: 10,000 simulated accounts
    /// had held a copy each (160 bytes, BENCHMARKS.md, cost).
    pub(crate) fn shared_faults_for(&self, name: &str, base: &Arc<Faults>) -> Arc<Faults> {
        let named = self.overrides.iter().any(|o| glob_match(&o.session, name))
            || self
                .die_after_posts
                .iter()
                .any(|r| glob_match(&r.session, name));
        if named {
            Arc::new(self.faults_for(name))
        } else {
            Arc::clone(base)
        }
    }

    /// The faults of a session no rule names.
    pub(crate) fn base(&self) -> Arc<Faults> {
        Arc::new(self.base_faults())
    }

    /// The error a post to `target` always meets, if the scenario fixes one.
    pub(crate) fn fixed_target_error(&self, target: &Target) -> Option<SendError> {
        let key = target.key();
        if self.missing_targets.iter().any(|t| t.key() == key) {
            return Some(SendError::TargetNotFound);
        }
        self.forbidden_targets
            .iter()
            .find(|r| r.target.key() == key)
            .map(|r| classify_rpc(&r.code, None))
    }
}

fn expect_dead(code: &str, at: &str) -> Result<(), TelegramError> {
    match classify_rpc(code, None) {
        SendError::SessionDead { .. } => Ok(()),
        _ => Err(bad(format!(
            "{at}: {code} is not a session-dead error name"
        ))),
    }
}

fn bad(reason: String) -> TelegramError {
    TelegramError::Scenario(reason)
}

#[cfg(test)]
#[path = "scenario_tests.rs"]
mod tests;
