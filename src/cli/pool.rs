//! `herald sessions list`, `herald pairs add|list`, `herald reconcile`: the operator's view of
//! the session pool, through the sessions crate (never touching files directly).

use std::io::Write;

use herald_sessions::{Place, Pool};

use crate::config::Config;

fn open_pool(config: &Config) -> anyhow::Result<Pool> {
    let store = crate::wiring::parts::open_store(config)?;
    Ok(crate::wiring::parts::pool(config, &store))
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum PairsCommand {
    /// Register an API_ID/API_HASH pair (the hash is stored in data/api_pairs.json, mode 0600).
    Add {
        #[arg(long)]
        api_id: String,
        /// 32 hexadecimal characters. The HERALD_API_HASH variable may give it instead, which keeps
        /// it out of shell history.
        #[arg(long, env = "HERALD_API_HASH", hide_env_values = true)]
        api_hash: String,
    },
    /// List pairs with usage; hashes masked.
    List,
}

pub(crate) async fn pairs(config: &Config, command: &PairsCommand) -> anyhow::Result<()> {
    let pool = open_pool(config)?;
    let mut out = std::io::stdout().lock();
    match command {
        PairsCommand::Add { api_id, api_hash } => {
            let info = pool.add_pair(api_id, api_hash).await?;
            writeln!(
                out,
                "added pair #{} (api_id {}, hash {})",
                info.index, info.api_id, info.masked_hash
            )?;
        }
        PairsCommand::List => {
            writeln!(out, "index  api_id        hash      usage  state")?;
            for pair in pool.list_pairs() {
                let state = if pair.retired { "retired" } else { "active" };
                writeln!(
                    out,
                    "{:<6} {:<13} {:<9} {:>2}/{:<3} {state}",
                    pair.index, pair.api_id, pair.masked_hash, pair.usage, pair.max
                )?;
            }
        }
    }
    pool.store().shutdown()?;
    Ok(())
}

pub(crate) fn import(config: &Config, paths: &[std::path::PathBuf]) -> anyhow::Result<()> {
    let pool = open_pool(config)?;
    let mut out = std::io::stdout().lock();
    let mut refused = 0;
    for path in paths {
        match pool.import_file(path) {
            Ok(imported) => writeln!(out, "imported  {} ({:?})", imported.name, imported.format)?,
            Err(err) => {
                refused += 1;
                writeln!(out, "refused   {}: {err}", path.display())?;
            }
        }
    }
    pool.store().shutdown()?;
    if refused > 0 {
        anyhow::bail!("{refused} of {} files refused", paths.len());
    }
    Ok(())
}

pub(crate) fn list_sessions(config: &Config) -> anyhow::Result<()> {
    let pool = open_pool(config)?;
    let listing = pool.listing()?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} unused, {} assigned, {} banned, {} frozen",
        listing.unused.len(),
        listing.assigned.len(),
        listing.banned.len(),
        listing.frozen.len()
    )?;
    for name in &listing.unused {
        writeln!(out, "unused    {name}")?;
    }
    for (name, user) in &listing.assigned {
        writeln!(out, "assigned  {name}  (user {user})")?;
    }
    for name in &listing.banned {
        writeln!(out, "banned    {name}")?;
    }
    for name in &listing.frozen {
        writeln!(out, "frozen    {name}")?;
    }
    Ok(())
}

pub(crate) async fn reconcile(config: &Config) -> anyhow::Result<()> {
    let pool = open_pool(config)?;
    let report = pool.reconcile().await?;
    let mut out = std::io::stdout().lock();
    let show = |place: &Place| match place {
        Place::Assigned(user) => format!("assigned/{user}"),
        other => other.folder().as_str().to_owned(),
    };
    for (name, from, to) in &report.moved {
        writeln!(out, "moved     {name}: {} -> {}", show(from), show(to))?;
    }
    for (name, from) in &report.orphans {
        writeln!(
            out,
            "orphan    {name} (was in {}, users.json does not give it to that user)",
            show(from)
        )?;
    }
    for name in &report.adopted_bans {
        writeln!(
            out,
            "banned    {name} (found in banned/, now recorded in users.json)"
        )?;
    }
    for (name, wanted) in &report.missing {
        writeln!(
            out,
            "MISSING   {name} (users.json puts it in {}; no file anywhere)",
            show(wanted)
        )?;
    }
    for (name, places) in &report.ambiguous {
        let places: Vec<String> = places.iter().map(show).collect();
        writeln!(
            out,
            "CONFLICT  {name} is in {} (left alone)",
            places.join(" and ")
        )?;
    }
    for name in &report.invalid_names {
        writeln!(out, "SKIPPED   {name} (not an acceptable session name)")?;
    }
    writeln!(
        out,
        "{} in place, {} moved, {} missing, {} conflicts; nothing deleted",
        report.in_place,
        report.moved.len(),
        report.missing.len(),
        report.ambiguous.len()
    )?;
    pool.store().shutdown()?;
    Ok(())
}
