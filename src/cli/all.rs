//! `herald all [--demo]`: API, scheduler and worker in one process. The queue and coordination
//! are in-process unless `HERALD_REDIS_URL` is set. `--demo` adds an in-process test DC (posts go
//! through the grammers client over MTProto on loopback; `HERALD_TELEGRAM=sim` picks the
//! trait-level simulator instead), a data directory of its own (a temporary one unless
//! `HERALD_DATA_DIR` is set; never one that holds a deployment) with a demo pool of Telethon
//! sessions whose keys the test DC holds and demo plan groups, a random JWT secret when none is
//! set, and prints how to try it.

use std::io::Write;

use anyhow::Context;
use herald_api::claims::{TokenRequest, mint};
use herald_data::{Plan, Store};
use herald_session_file::{AuthKey, SessionCredentials, write_telethon};
use secrecy::SecretString;

use crate::config::{Config, TelegramBackend};
use crate::wiring::{api, parts};

#[derive(Debug, clap::Args)]
pub(crate) struct AllArgs {
    /// Simulated Telegram, a demo pool and plan groups, a random secret; prints how to try it.
    #[arg(long)]
    demo: bool,
}

const DEMO_SESSIONS: usize = 12;
const DEMO_PAIRS: usize = 2;
const DEMO_TENANT: &str = "demo-tenant";

pub(crate) async fn all_command(mut config: Config, args: &AllArgs) -> anyhow::Result<()> {
    let _demo_dir = if args.demo {
        demo_config(&mut config)?
    } else {
        None
    };
    let mut dc = None;
    if args.demo {
        let store = parts::open_store(&config)?;
        seed_demo(&store, &config).await?;
        store.shutdown()?;
        if config.telegram == TelegramBackend::Grammers && config.telegram_dc.is_none() {
            let running = super::testdc::start(&config, ([127, 0, 0, 1], 0).into()).await?;
            config.telegram_dc = Some(running.addr());
            dc = Some(running);
        }
    }
    let listener = api::bind(&config).await?;
    let address = listener.local_addr()?;
    let running = crate::startup::start(&config, listener, parts::shutdown_on_signal()?).await?;
    if args.demo
        && let Err(err) = print_demo(&config, address)
    {
        match err.downcast_ref::<std::io::Error>() {
            // Whoever read the banner went away (`| head`, a script that took its token): the
            // demo is running and serves on.
            Some(io) if io.kind() == std::io::ErrorKind::BrokenPipe => {
                tracing::warn!(error = %io, "the demo's banner was not read to its end; serving on");
            }
            _ => return Err(err),
        }
    }
    running.stopped().await;
    let stopped = running.stop().await;
    if let Some(dc) = dc {
        dc.stop().await;
    }
    stopped
}

/// Marks a data directory the demo made, so that a second demo run may use it again.
const DEMO_MARKER: &str = ".herald-demo";

/// Demo defaults: a temporary data directory (or an empty or earlier demo's one), a random
/// secret. A directory holding a deployment is refused: demo plan groups would override every
/// tenant's own groups.
fn demo_config(config: &mut Config) -> anyhow::Result<Option<tempfile::TempDir>> {
    if !config.telegram_given {
        config.telegram = TelegramBackend::Grammers;
    }
    if config.jwt_secret.is_none() {
        let secret: String = (0..48)
            .map(|_| format!("{:x}", rand::random::<u8>() & 0xf))
            .collect();
        config.jwt_secret = Some(SecretString::from(secret));
    }
    if config.data_dir_given {
        refuse_a_deployment(&config.data_dir)?;
        return Ok(None);
    }
    let dir = tempfile::Builder::new()
        .prefix("herald-demo-")
        .tempdir()
        .context("cannot create a demo data directory")?;
    config.data_dir = dir.path().to_owned();
    Ok(Some(dir))
}

/// Fails when `root` holds Herald's (or the old backend's) state and is not an earlier demo's.
fn refuse_a_deployment(root: &std::path::Path) -> anyhow::Result<()> {
    if root.join(DEMO_MARKER).exists() {
        return Ok(());
    }
    let users = root.join("data/users.json");
    let sessions = ["unused", "assigned", "banned", "frozen"]
        .iter()
        .map(|f| root.join("sessions").join(f))
        .any(|folder| std::fs::read_dir(folder).is_ok_and(|mut d| d.next().is_some()));
    if users.exists() || sessions {
        anyhow::bail!(
            "HERALD_DATA_DIR {} holds a deployment ({}): --demo never writes into one (its plan groups would replace every tenant's groups). Point HERALD_DATA_DIR at an empty or new directory, or unset it for a temporary one",
            root.display(),
            if users.exists() {
                "data/users.json"
            } else {
                "session files"
            }
        );
    }
    Ok(())
}

/// A pool of demo sessions (Telethon files with fresh keys, which the demo's test DC reads),
/// API pairs and plan groups, unless the directory has a pool.
async fn seed_demo(store: &Store, config: &Config) -> anyhow::Result<()> {
    std::fs::write(
        config.data_dir.join(DEMO_MARKER),
        "made by herald all --demo\n",
    )
    .context("cannot mark the demo data directory")?;
    let pool = parts::pool(config, store);
    if pool.listing()?.unused.is_empty() && pool.list_pairs().is_empty() {
        let unused = store
            .layout()
            .session_folder(herald_data::SessionFolder::Unused);
        for i in 1..=DEMO_SESSIONS {
            let key: Vec<u8> = (0..256).map(|_| rand::random::<u8>()).collect();
            // The demo's DC listens on a port of its own choosing; every session is pointed
            // there (HERALD_TELEGRAM_DC_ADDR), so the address here is only a placeholder.
            let credentials = SessionCredentials {
                dc_id: 2,
                server_address: "127.0.0.1".into(),
                port: 443,
                auth_key: AuthKey::from_slice(&key)?,
            };
            write_telethon(unused.join(format!("demo-{i:02}.session")), &credentials)?;
        }
        for i in 0..DEMO_PAIRS {
            let hash: String = (0..32)
                .map(|_| format!("{:x}", rand::random::<u8>() & 0xf))
                .collect();
            pool.add_pair(&(1_000_001 + i).to_string(), &hash).await?;
        }
    }
    for plan in [Plan::Starter, Plan::Enterprise] {
        if !store.plan_groups(plan)?.exists {
            let groups: Vec<String> = (1..=6)
                .map(|g| format!("-100{}", 1_234_567_890 + g))
                .collect();
            store.write_plan_groups(plan, &groups)?;
        }
    }
    Ok(())
}

fn print_demo(config: &Config, address: std::net::SocketAddr) -> anyhow::Result<()> {
    let secret = config.require_jwt_secret()?;
    let token = |user: &str, admin: bool| {
        mint(
            secret,
            &TokenRequest {
                user_id: user.into(),
                admin,
                ttl: chrono::Duration::hours(12),
                plan_status: Some("active".into()),
                max_sessions: (!admin).then_some(2),
                plan_type: None,
            },
        )
    };
    let tenant = token(DEMO_TENANT, false)?;
    let admin = token("demo-admin", true)?;
    let url = format!("http://{address}");
    let mut out = std::io::stdout().lock();
    let telegram = match (config.telegram, config.telegram_dc) {
        (TelegramBackend::Grammers, Some(dc)) => format!(
            "posts go through the grammers client over MTProto to a local test DC at {dc} (not Telegram: nothing is posted anywhere)"
        ),
        (TelegramBackend::Grammers, None) => "posts go to Telegram".to_owned(),
        (TelegramBackend::Sim, _) => {
            "simulated Telegram (HERALD_TELEGRAM=sim: nothing is posted anywhere)".to_owned()
        }
    };
    writeln!(out, "\nHerald demo: one process; {telegram}.")?;
    writeln!(out, "Data directory: {}", config.data_dir.display())?;
    writeln!(
        out,
        "API:            {url}   (OpenAPI: {url}/api/openapi.json)"
    )?;
    // The token rides in the fragment, which browsers never send to a server; the page moves it
    // into the tab's sessionStorage and drops it from the address bar.
    writeln!(
        out,
        "Console:        {url}/console#token={admin}   (signed in as the demo admin)\n"
    )?;
    writeln!(out, "TENANT_TOKEN={tenant}")?;
    writeln!(out, "ADMIN_TOKEN={admin}\n")?;
    writeln!(
        out,
        "Try it (in another terminal, after setting the two tokens above):\n"
    )?;
    let h = "-H \"Authorization: Bearer $TENANT_TOKEN\" -H 'Content-Type: application/json'";
    writeln!(
        out,
        "curl -s -X POST {url}/api/bot/register-user {h} -d '{{}}'"
    )?;
    writeln!(
        out,
        "curl -s -X POST {url}/api/bot/update-post {h} -d '{{\"post_type\":\"text\",\"post_content\":\"Hello from Herald\"}}'"
    )?;
    writeln!(
        out,
        "curl -s -X POST {url}/api/bot/update-groups {h} -d '{{\"groups\":[\"@herald_demo_one\",\"@herald_demo_two\"]}}'"
    )?;
    writeln!(out, "curl -s -X POST {url}/api/bot/start {h}")?;
    writeln!(
        out,
        "curl -s {url}/api/sync/state -H \"Authorization: Bearer $TENANT_TOKEN\""
    )?;
    writeln!(
        out,
        "curl -s {url}/api/admin/sessions/list -H \"Authorization: Bearer $ADMIN_TOKEN\"\n"
    )?;
    writeln!(
        out,
        "The demo plan groups (data/groups/*.txt) take precedence over a tenant's own groups, as in the old backend."
    )?;
    writeln!(out, "Ctrl-C stops everything cleanly.\n")?;
    out.flush()?;
    Ok(())
}
