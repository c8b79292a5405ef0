//! `herald bench console`: the operator's console's requests with many tenants (10,000 by
//! default): the overview, the first and last page of tenants, a search, a filter by status and
//! one tenant's hour, each timed for `--seconds` by one closed loop (one operator's page) from
//! this process against `herald all` in another, over loopback.

use std::sync::Arc;
use std::time::Duration;

use herald_api::claims::{TokenRequest, mint};
use herald_data::{BanRecord, BlockedGroup, BotStatus, Store, StoreConfig};
use secrecy::SecretString;

use super::http::{SECRET, Server, load, populated_dir};
use super::report::{Summary, line, ms, table};

#[derive(Debug, clap::Args)]
pub struct ConsoleArgs {
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Seconds each request is timed.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Where the throw-away data directory goes.
    #[arg(long, default_value = ".")]
    dir: std::path::PathBuf,
}

pub fn run(args: &ConsoleArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let dir = populated_dir(&runtime, &args.dir, "console", args.users)?;
    runtime.block_on(vary(dir.path(), args.users))?;
    let server = Server::start(dir.path(), &[])?;
    let admin = mint(
        &SecretString::from(SECRET.to_owned()),
        &TokenRequest {
            user_id: "bench-admin".into(),
            admin: true,
            ttl: chrono::Duration::hours(2),
            plan_status: None,
            max_sessions: None,
            plan_type: None,
        },
    )?;
    let last_page = args.users.div_ceil(50).max(1);
    let requests = [
        (
            "overview".to_owned(),
            "/api/admin/console/overview".to_owned(),
        ),
        (
            "tenants, page 1".into(),
            "/api/admin/console/tenants?page=1".into(),
        ),
        (
            format!("tenants, page {last_page}"),
            format!("/api/admin/console/tenants?page={last_page}"),
        ),
        (
            "tenants, search `u99`".into(),
            "/api/admin/console/tenants?q=u99".into(),
        ),
        (
            "tenants, suspended".into(),
            "/api/admin/console/tenants?status=suspended".into(),
        ),
        (
            "one tenant's hour".into(),
            "/api/admin/console/tenants/u7/activity".into(),
        ),
    ];
    let mut rows = Vec::new();
    for (name, path) in requests {
        let url = format!("{}{path}", server.url);
        let token = admin.clone();
        let (mut latencies, failures) = runtime.block_on(load(
            1,
            Duration::from_secs(args.seconds),
            move |client, _| client.get(&url).bearer_auth(&token),
        ));
        let count = latencies.len();
        let s = Summary::of(&mut latencies);
        rows.push(vec![
            name,
            count.to_string(),
            ms(s.p50),
            ms(s.p99),
            ms(s.max),
            failures.to_string(),
        ]);
    }
    server.stop()?;
    line("## bench console")?;
    line(&format!(
        "The console's requests with {} tenants (every 10th with a blocked group and a banned session, every 100th suspended), one closed loop each for {} s; `herald all` in one process, this load generator in another, loopback.\n",
        args.users, args.seconds
    ))?;
    table(
        &["request", "requests", "p50", "p99", "max", "failed"],
        &rows,
    )
}

/// Gives the tenants what an operator looks at: blocked groups, bans, suspensions.
async fn vary(root: &std::path::Path, users: usize) -> anyhow::Result<()> {
    let store = Store::open(StoreConfig::new(root))?;
    let at = chrono::Utc::now();
    store
        .update_users(move |doc| {
            for i in (0..users).step_by(10) {
                if let Some(user) = doc.users.get_mut(&format!("u{i}")) {
                    let user = Arc::make_mut(user);
                    user.blocked_groups.push(BlockedGroup {
                        group: user.groups[0].clone(),
                        reason: "CHAT_WRITE_FORBIDDEN".into(),
                        at,
                    });
                    let banned = format!("banned-{i}.session");
                    user.banned_sessions.push(banned.clone());
                    user.ban_records.insert(
                        banned,
                        BanRecord {
                            reason: "USER_DEACTIVATED_BAN".into(),
                            at,
                        },
                    );
                    if i % 100 == 0 {
                        user.bot_status = BotStatus::Suspended;
                        user.suspended_reason = Some("3 replacement sessions in 24 h".into());
                    }
                }
            }
            Ok::<_, ()>(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("vary: {e:?}"))?;
    store.shutdown()?;
    Ok(())
}
