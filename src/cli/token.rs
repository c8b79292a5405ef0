//! `herald token`: mints a token the API accepts, signed with the configured secret.

use std::io::Write;

use anyhow::Context;
use herald_api::claims::{TokenRequest, mint};
use herald_data::UserId;

use crate::config::Config;

#[derive(Debug, clap::Args)]
pub(super) struct TokenArgs {
    /// The tenant id the token speaks for (its `user_id` and `sub` claims).
    #[arg(long)]
    user: String,
    /// Add `role: admin`, which the admin routes require.
    #[arg(long)]
    admin: bool,
    /// Lifetime, e.g. `30m`, `1h`, `7d`.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    ttl: std::time::Duration,
    /// The `plan_status` claim (`active` may start; `expired`, `inactive` may not).
    #[arg(long)]
    plan_status: Option<String>,
    /// `plan_limits.max_sessions`: how many sessions the tenant gets.
    #[arg(long)]
    max_sessions: Option<u32>,
    /// `plan_limits.plan_type`; `STARTER` means execution mode starter.
    #[arg(long)]
    plan_type: Option<String>,
}

pub(super) fn run(config: &Config, args: &TokenArgs) -> anyhow::Result<()> {
    let user = UserId::parse(&args.user).map_err(|e| anyhow::anyhow!("--user: {e}"))?;
    let ttl = chrono::Duration::from_std(args.ttl).context("--ttl is too long")?;
    let token = mint(
        config.require_jwt_secret()?,
        &TokenRequest {
            user_id: user.to_string(),
            admin: args.admin,
            ttl,
            plan_status: args.plan_status.clone(),
            max_sessions: args.max_sessions,
            plan_type: args.plan_type.clone(),
        },
    )?;
    writeln!(std::io::stdout(), "{token}").context("cannot write the token to stdout")
}
