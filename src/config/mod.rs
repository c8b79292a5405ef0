//! Herald's configuration: every variable of the contract, read once at start and validated, so
//! a mistake stops the process with a message naming the variable instead of surfacing later.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `HERALD_DATA_DIR` | `.` | root holding `data/`, `sessions/`, `logs/` |
//! | `HERALD_LISTEN` | `127.0.0.1:8000` | API address |
//! | `HERALD_JWT_SECRET` / `_FILE` (`JWT_SECRET`) | none | HS256 key, at least 32 bytes; no default, ever |
//! | `HERALD_FRONTEND_URLS` (`FRONTEND_URLS`) | `http://localhost:3000` | CORS origins, comma-separated |
//! | `HERALD_REDIS_URL` / `_FILE` | unset | Redis for queue and coordination; unset = in-process |
//! | `HERALD_TELEGRAM` | `grammers` | `grammers` or `sim` |
//! | `HERALD_TELEGRAM_CALL_TIMEOUT_MS` | `30000` | upper bound of every Telegram call |
//! | `HERALD_TELEGRAM_DC_ADDR` | unset | connect every session to this test DC (`herald testdc`) instead of its file's address |
//! | `HERALD_TICK_MS` | `2000` | the scheduler's longest sleep |
//! | `HERALD_HEARTBEAT_TTL` | `30` s | liveness window before a running bot shows CRASHED |
//! | `HERALD_MAX_SESSIONS_PER_USER_CONCURRENT` | `7` | per-user cap across all workers |
//! | `HERALD_MAX_SESSIONS_PER_PAIR` | `7` | sessions bound to one API pair |
//! | `HERALD_SESSIONS_PER_USER` | `1` | sessions a tenant gets without `plan_limits.max_sessions` |
//! | `HERALD_MIN_DELAY_BETWEEN_POSTS` / `_CYCLES` | `5` / `60` s | floors for tenant delays |
//! | `HERALD_MAX_REPLACEMENTS_PER_DAY` | `3` | replacements per tenant per 24 h before `suspended` |
//! | `HERALD_COMMAND_WAIT_MS` | `5000` | how long start/stop wait for the worker before 202 |
//! | `HERALD_SIM_SCENARIO` / `HERALD_SIM_JOURNAL` | built-in / unset | simulator scenario and journal |
//! | `HERALD_STATS_FLUSH_MS` | `1000` | counter group-commit interval (the durability window); hurried to 200 ms by a cycle due sooner |
//! | `HERALD_LEASE_TTL_MS` | `15000` | leases of cycles, sessions and the scheduler: how soon a dead process's work is taken over |
//! | `HERALD_SHUTDOWN_DEADLINE_MS` | `30000` | on SIGTERM/SIGINT, how long posts in flight may take to finish |
//! | `HERALD_LOG_FORMAT` | `text` | `text` or `json` (stderr) |
//! | `HERALD_LOG` | `info` for services, `warn` for one-shot commands | log filter (`tracing` env-filter syntax) |
//! | `HERALD_CONFIG_FILE` | unset | a `KEY=VALUE` file layered under the environment |
//!
//! Any variable may also be given as `<NAME>_FILE` (a path to a 0600 file holding the value).
//! Secrets (`HERALD_JWT_SECRET`, `HERALD_REDIS_URL`) print as `[REDACTED]`.

mod source;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};

pub use source::Source;

/// Shortest accepted JWT secret, in bytes.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TelegramBackend {
    Grammers,
    Sim,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Whether `HERALD_DATA_DIR` was given (`--demo` uses a temporary directory otherwise).
    pub data_dir_given: bool,
    pub listen: SocketAddr,
    pub jwt_secret: Option<SecretString>,
    pub frontend_urls: Vec<String>,
    pub redis_url: Option<SecretString>,
    pub telegram: TelegramBackend,
    /// Whether `HERALD_TELEGRAM` was given (`--demo` picks grammers against its test DC otherwise).
    pub telegram_given: bool,
    pub telegram_call_timeout: Duration,
    /// A test DC every session connects to instead of the address in its file.
    pub telegram_dc: Option<SocketAddr>,
    pub tick: Duration,
    pub heartbeat_ttl: Duration,
    pub max_sessions_per_user_concurrent: u32,
    pub max_sessions_per_pair: u32,
    pub sessions_per_user: u32,
    pub min_delay_between_posts: u64,
    pub min_delay_between_cycles: u64,
    pub max_replacements_per_day: u32,
    pub command_wait: Duration,
    pub sim_scenario: Option<PathBuf>,
    pub sim_journal: Option<PathBuf>,
    pub stats_flush_interval: Duration,
    pub lease_ttl: Duration,
    pub shutdown_deadline: Duration,
    pub log_format: LogFormat,
    /// `HERALD_LOG`, when set; otherwise each command picks its default.
    pub log_filter: Option<String>,
}

impl Config {
    /// Reads and validates everything; the error names the first bad variable.
    ///
    /// Long on purpose: one statement per variable of the contract, in the contract's order, so
    /// it reads as the contract's table does; split, that one table would be spread over several
    /// functions.
    pub fn load(source: &Source) -> anyhow::Result<Config> {
        let jwt_secret = match source.get("HERALD_JWT_SECRET")? {
            Some(secret) => Some(secret),
            None => source.get("JWT_SECRET")?,
        };
        if let Some(secret) = &jwt_secret
            && secret.len() < MIN_JWT_SECRET_BYTES
        {
            bail!(
                "HERALD_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes (it has {})",
                secret.len()
            );
        }
        let frontend_urls = match source.get("HERALD_FRONTEND_URLS")? {
            Some(urls) => urls,
            None => source
                .get("FRONTEND_URLS")?
                .unwrap_or_else(|| "http://localhost:3000".into()),
        };
        let frontend_urls: Vec<String> = frontend_urls
            .split(',')
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty())
            .collect();
        for url in &frontend_urls {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("HERALD_FRONTEND_URLS: '{url}' is not an http:// or https:// origin");
            }
        }
        let redis_url = source.get("HERALD_REDIS_URL")?;
        if let Some(url) = &redis_url
            && !["redis://", "rediss://", "unix://", "redis+unix://"]
                .iter()
                .any(|p| url.starts_with(p))
        {
            bail!("HERALD_REDIS_URL must start with redis://, rediss:// or unix://");
        }
        let telegram = match source.get("HERALD_TELEGRAM")?.as_deref() {
            None | Some("grammers") => TelegramBackend::Grammers,
            Some("sim") => TelegramBackend::Sim,
            Some(other) => bail!("HERALD_TELEGRAM must be 'grammers' or 'sim', not '{other}'"),
        };
        let log_format = match source.get("HERALD_LOG_FORMAT")?.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("HERALD_LOG_FORMAT must be 'text' or 'json', not '{other}'"),
        };
        Ok(Config {
            data_dir_given: source.get("HERALD_DATA_DIR")?.is_some(),
            data_dir: PathBuf::from(source.get("HERALD_DATA_DIR")?.unwrap_or_else(|| ".".into())),
            listen: parse(
                source,
                "HERALD_LISTEN",
                "127.0.0.1:8000".parse()?,
                "an address like 127.0.0.1:8000",
            )?,
            jwt_secret: jwt_secret.map(SecretString::from),
            frontend_urls,
            redis_url: redis_url.map(SecretString::from),
            telegram,
            telegram_given: source.get("HERALD_TELEGRAM")?.is_some(),
            telegram_call_timeout: Duration::from_millis(ranged(
                source,
                "HERALD_TELEGRAM_CALL_TIMEOUT_MS",
                30_000,
                100..=600_000,
            )?),
            telegram_dc: match source.get("HERALD_TELEGRAM_DC_ADDR")? {
                None => None,
                Some(raw) => Some(raw.trim().parse().map_err(|_| {
                    anyhow::anyhow!(
                        "HERALD_TELEGRAM_DC_ADDR must be an address like 127.0.0.1:4430, not '{raw}'"
                    )
                })?),
            },
            tick: Duration::from_millis(ranged(source, "HERALD_TICK_MS", 2000, 1..=60_000)?),
            heartbeat_ttl: Duration::from_secs(ranged(
                source,
                "HERALD_HEARTBEAT_TTL",
                30,
                1..=3600,
            )?),
            max_sessions_per_user_concurrent: ranged(
                source,
                "HERALD_MAX_SESSIONS_PER_USER_CONCURRENT",
                7,
                1..=1000,
            )?,
            max_sessions_per_pair: ranged(source, "HERALD_MAX_SESSIONS_PER_PAIR", 7, 1..=1000)?,
            sessions_per_user: ranged(source, "HERALD_SESSIONS_PER_USER", 1, 1..=1000)?,
            min_delay_between_posts: ranged(
                source,
                "HERALD_MIN_DELAY_BETWEEN_POSTS",
                5,
                0..=86_400,
            )?,
            min_delay_between_cycles: ranged(
                source,
                "HERALD_MIN_DELAY_BETWEEN_CYCLES",
                60,
                0..=86_400,
            )?,
            max_replacements_per_day: ranged(
                source,
                "HERALD_MAX_REPLACEMENTS_PER_DAY",
                3,
                0..=10_000,
            )?,
            command_wait: Duration::from_millis(ranged(
                source,
                "HERALD_COMMAND_WAIT_MS",
                5000,
                0..=120_000,
            )?),
            sim_scenario: source.get("HERALD_SIM_SCENARIO")?.map(PathBuf::from),
            sim_journal: source.get("HERALD_SIM_JOURNAL")?.map(PathBuf::from),
            stats_flush_interval: Duration::from_millis(ranged(
                source,
                "HERALD_STATS_FLUSH_MS",
                herald_data::DEFAULT_STATS_FLUSH_INTERVAL.as_millis() as u64,
                1..=60_000,
            )?),
            lease_ttl: Duration::from_millis(ranged(
                source,
                "HERALD_LEASE_TTL_MS",
                15_000,
                300..=600_000,
            )?),
            shutdown_deadline: Duration::from_millis(ranged(
                source,
                "HERALD_SHUTDOWN_DEADLINE_MS",
                30_000,
                0..=600_000,
            )?),
            log_format,
            log_filter: source.get("HERALD_LOG")?,
        })
    }

    /// The JWT key, for the commands that sign or check tokens. There is no default secret.
    pub fn require_jwt_secret(&self) -> anyhow::Result<&SecretString> {
        self.jwt_secret.as_ref().context(
            "no JWT secret: set HERALD_JWT_SECRET (or HERALD_JWT_SECRET_FILE, or JWT_SECRET) to at least 32 bytes",
        )
    }

    /// The Redis URL, for the scale-out commands that cannot run without it.
    pub fn require_redis_url(&self, command: &str) -> anyhow::Result<&str> {
        self.redis_url
            .as_ref()
            .map(|url| url.expose_secret())
            .with_context(|| format!("`herald {command}` needs HERALD_REDIS_URL (the queue it shares with the other processes)"))
    }
}

fn parse<T: FromStr>(source: &Source, name: &str, default: T, expected: &str) -> anyhow::Result<T> {
    match source.get(name)? {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("{name} must be {expected}, not '{raw}'")),
    }
}

fn ranged<T>(
    source: &Source,
    name: &str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> anyhow::Result<T>
where
    T: FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let value: T = parse(
        source,
        name,
        default,
        &format!("a whole number from {} to {}", range.start(), range.end()),
    )?;
    if !range.contains(&value) {
        bail!(
            "{name} must be from {} to {}, not {value}",
            range.start(),
            range.end()
        );
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> anyhow::Result<Config> {
        let source = Source::from_map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )?;
        Config::load(&source)
    }

    #[test]
    fn defaults_are_the_contracts() {
        let config = load(&[]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(config.tick, Duration::from_millis(2000));
        assert_eq!(config.max_sessions_per_pair, 7);
        assert_eq!(config.sessions_per_user, 1);
        assert_eq!(config.frontend_urls, vec!["http://localhost:3000"]);
        assert_eq!(config.telegram, TelegramBackend::Grammers);
        assert!(config.jwt_secret.is_none());
        assert!(
            config.require_jwt_secret().is_err(),
            "no default secret, ever"
        );
    }

    #[test]
    fn bad_values_are_refused_naming_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("HERALD_JWT_SECRET", "short")],
                "HERALD_JWT_SECRET must be at least 32 bytes (it has 5)",
            ),
            (
                &[("HERALD_TICK_MS", "soon")],
                "HERALD_TICK_MS must be a whole number",
            ),
            (
                &[("HERALD_TICK_MS", "0")],
                "HERALD_TICK_MS must be from 1 to 60000, not 0",
            ),
            (
                &[("HERALD_LISTEN", "8000")],
                "HERALD_LISTEN must be an address",
            ),
            (
                &[("HERALD_TELEGRAM", "mtproto")],
                "HERALD_TELEGRAM must be 'grammers' or 'sim'",
            ),
            (
                &[("HERALD_TELEGRAM_CALL_TIMEOUT_MS", "5")],
                "HERALD_TELEGRAM_CALL_TIMEOUT_MS must be from 100 to 600000, not 5",
            ),
            (
                &[("HERALD_TELEGRAM_DC_ADDR", "dc.local")],
                "HERALD_TELEGRAM_DC_ADDR must be an address",
            ),
            (
                &[("HERALD_REDIS_URL", "localhost:6379")],
                "HERALD_REDIS_URL must start with",
            ),
            (
                &[("HERALD_FRONTEND_URLS", "example.com")],
                "HERALD_FRONTEND_URLS: 'example.com'",
            ),
        ];
        for (vars, expected) in cases {
            let err = load(vars).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{vars:?}: {err}");
        }
    }

    #[test]
    fn the_old_backends_names_are_accepted_and_secrets_never_print() {
        let secret = "0123456789abcdef0123456789abcdef-old";
        let config = load(&[
            ("JWT_SECRET", secret),
            ("FRONTEND_URLS", "https://a.example, https://b.example/"),
            ("HERALD_REDIS_URL", "redis://:hunter2@127.0.0.1:6379"),
        ])
        .unwrap();
        assert_eq!(config.require_jwt_secret().unwrap().expose_secret(), secret);
        assert_eq!(
            config.frontend_urls,
            vec!["https://a.example", "https://b.example"]
        );
        let shown = format!("{config:?}");
        assert!(
            !shown.contains(secret) && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
