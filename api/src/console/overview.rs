//! `GET /api/admin/console/overview`: the deployment at a glance (pool, flood waits, parked
//! sessions, recent quarantines, API pairs, tenants by status, the last hour's charts, live
//! processes, cycles in flight). Built from the data manager's cached copies, two folder
//! listings off the runtime and one call to the engine; it never names a path or a hash.

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use chrono::{DateTime, Utc};
use herald_data::{BotStatus, UsersDoc};
use herald_jobs::Role;
use herald_sessions::Place;
use serde::Serialize;
use utoipa::ToSchema;

use super::activity::{MinuteView, Totals};
use crate::auth::Admin;
use crate::engine::EngineActivity;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// Recent quarantines listed.
const QUARANTINES_LISTED: usize = 50;

#[derive(Debug, Serialize, ToSchema)]
pub struct PoolCounts {
    total: usize,
    unused: usize,
    assigned: usize,
    banned: usize,
    frozen: usize,
    /// Assigned sessions parked after PEER_FLOOD.
    parked: usize,
    /// Sessions waiting out a flood wait now.
    flood_wait: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FloodWaitView {
    session: String,
    user_id: Option<String>,
    until: DateTime<Utc>,
    seconds_left: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ParkedView {
    session: String,
    user_id: String,
    until: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantineView {
    session: String,
    user_id: Option<String>,
    reason: String,
    at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PairUsage {
    index: u32,
    api_id: String,
    usage: usize,
    max: u32,
    retired: bool,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct TenantCounts {
    total: usize,
    running: usize,
    stopping: usize,
    stopped: usize,
    suspended: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityView {
    /// When this API process began sampling: the charts know nothing earlier.
    since: DateTime<Utc>,
    /// Oldest first; the last minute is still filling.
    minutes: Vec<MinuteView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessView {
    id: String,
    /// worker or scheduler.
    role: String,
    /// A scheduler holding the leader lease.
    leader: bool,
    /// Cycles a worker is running.
    cycles: u64,
    started_at: DateTime<Utc>,
    seen_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InFlightView {
    user_id: String,
    cycle_no: u64,
    holder: Option<String>,
    last_renewed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CyclesInFlight {
    count: u64,
    /// At most 100.
    items: Vec<InFlightView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Overview {
    success: bool,
    now: DateTime<Utc>,
    pool: PoolCounts,
    flood_waits: Vec<FloodWaitView>,
    parked: Vec<ParkedView>,
    quarantines: Vec<QuarantineView>,
    pairs: Vec<PairUsage>,
    tenants: TenantCounts,
    activity: ActivityView,
    processes: Vec<ProcessView>,
    cycles_in_flight: CyclesInFlight,
}

/// Herald's addition: the operator's console's overview.
#[utoipa::path(get, path = "/api/admin/console/overview", tag = "console",
    responses((status = 200, body = Overview), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn overview(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<axum::Json<Overview>, ApiError> {
    let engine = state.inner.engine.activity().await.map_err(|err| {
        tracing::warn!(error = %err, "console: the engine is unreachable");
        ApiError::unavailable("The engine cannot be reached; try again")
    })?;
    let now = Utc::now();
    let leader_lag = engine
        .processes
        .iter()
        .find(|p| p.leader)
        .and_then(|p| p.lag_ms);
    let activity = &state.inner.activity;
    activity.observe(now, Totals::of(&state.inner.store.all_stats()), leader_lag);

    let users = state.inner.store.users_recent();
    let holders = holders_of(&users, engine.flood_waits.iter().map(|(s, _)| s.as_str()));
    let flood_waits: Vec<FloodWaitView> = engine
        .flood_waits
        .into_iter()
        .map(|(session, until)| FloodWaitView {
            user_id: holders.get(session.as_str()).map(|u| (*u).to_owned()),
            seconds_left: (until - now).num_seconds().max(0),
            session,
            until,
        })
        .collect();
    let parked = parked(&users, now);
    let pool = pool_counts(&state, &users, parked.len(), flood_waits.len()).await?;
    Ok(axum::Json(Overview {
        success: true,
        now,
        pool,
        flood_waits,
        parked,
        quarantines: quarantines(&users),
        pairs: pairs(&state),
        tenants: tenant_counts(&users),
        activity: ActivityView {
            since: activity.since(),
            minutes: activity.minutes(),
        },
        processes: engine
            .processes
            .into_iter()
            .map(|p| ProcessView {
                role: p.role.as_str().into(),
                id: p.id,
                leader: p.leader,
                cycles: p.cycles,
                started_at: p.started_at,
                seen_at: p.seen_at,
            })
            .collect(),
        cycles_in_flight: CyclesInFlight {
            count: engine.in_flight_count,
            items: engine
                .in_flight
                .into_iter()
                .map(|(user_id, c)| InFlightView {
                    user_id,
                    cycle_no: c.cycle_no,
                    holder: c.holder,
                    last_renewed_at: c.last_renewed_at,
                })
                .collect(),
        },
    }))
}

/// The pool by state: the unused and frozen folders listed (off the runtime), the rest from
/// users.json.
async fn pool_counts(
    state: &AppState,
    users: &UsersDoc,
    parked: usize,
    flood_wait: usize,
) -> Result<PoolCounts, ApiError> {
    let folders = state.inner.pool.folders().clone();
    let (unused, frozen) = tokio::task::spawn_blocking(move || {
        Ok::<_, herald_sessions::SessionsError>((
            folders.list(&Place::Unused)?.len(),
            folders.list(&Place::Frozen)?.len(),
        ))
    })
    .await
    .map_err(ApiError::internal)??;
    let assigned = users
        .users
        .values()
        .map(|u| u.assigned_sessions.len())
        .sum();
    let banned = users
        .users
        .values()
        .map(|u| u.banned_sessions.len())
        .sum::<usize>()
        + users.unowned_bans.len();
    Ok(PoolCounts {
        total: unused + assigned + banned + frozen,
        unused,
        assigned,
        banned,
        frozen,
        parked,
        flood_wait,
    })
}

/// Sets the deployment's gauges for `/metrics` (the same figures as the overview, for those who
/// run Prometheus; `deploy/` has the dashboard and alerts that read them). The console's sampler
/// calls it, not each scrape: with 10,000 tenants a scrape's worth of counting is milliseconds.
pub(crate) async fn record_gauges(
    state: &AppState,
    engine: Option<&EngineActivity>,
    totals: Totals,
) {
    let users = state.inner.store.users_recent();
    let flood_wait = engine.map_or(0, |e| e.flood_waits.len());
    let parked = parked(&users, Utc::now()).len();
    match pool_counts(state, &users, parked, flood_wait).await {
        Ok(pool) => {
            for (label, n) in [
                ("unused", pool.unused),
                ("assigned", pool.assigned),
                ("banned", pool.banned),
                ("frozen", pool.frozen),
                ("parked", pool.parked),
                ("flood_wait", pool.flood_wait),
            ] {
                metrics::gauge!("herald_pool_sessions", "state" => label).set(n as f64);
            }
        }
        Err(err) => tracing::warn!(error = ?err, "metrics: cannot count the pool"),
    }
    let tenants = tenant_counts(&users);
    for (label, n) in [
        ("running", tenants.running),
        ("stopping", tenants.stopping),
        ("stopped", tenants.stopped),
        ("suspended", tenants.suspended),
    ] {
        metrics::gauge!("herald_tenants", "status" => label).set(n as f64);
    }
    if let Some(engine) = engine {
        for role in [Role::Worker, Role::Scheduler] {
            let live = engine.processes.iter().filter(|p| p.role == role).count();
            metrics::gauge!("herald_processes_live", "role" => role.as_str()).set(live as f64);
        }
    }
    for pair in state.inner.pool.list_pairs() {
        metrics::gauge!("herald_api_pair_sessions", "pair" => pair.index.to_string())
            .set(pair.usage as f64);
    }
    let max = state.inner.pool.config().max_sessions_per_pair;
    metrics::gauge!("herald_api_pair_max_sessions").set(f64::from(max));
    metrics::counter!("herald_stats_posts_total").absolute(totals.success);
    metrics::counter!("herald_stats_failures_total").absolute(totals.failures);
    metrics::counter!("herald_stats_flood_waits_total").absolute(totals.flood_waits);
}

/// The tenant each of `sessions` is assigned to, if any: one pass over the tenants for all of
/// them, where [`UsersDoc::holder_of`] is a pass each.
fn holders_of<'u, 's>(
    users: &'u UsersDoc,
    sessions: impl Iterator<Item = &'s str>,
) -> HashMap<&'u str, &'u str> {
    let wanted: HashSet<&str> = sessions.collect();
    if wanted.is_empty() {
        return HashMap::new();
    }
    users
        .users
        .iter()
        .flat_map(|(id, u)| {
            u.assigned_sessions
                .iter()
                .map(move |s| (s.as_str(), id.as_str()))
        })
        .filter(|(s, _)| wanted.contains(s))
        .collect()
}

fn parked(users: &UsersDoc, now: DateTime<Utc>) -> Vec<ParkedView> {
    let mut parked: Vec<ParkedView> = users
        .users
        .iter()
        .flat_map(|(id, u)| {
            u.parked_sessions
                .iter()
                .filter(|(_, until)| **until > now)
                .map(move |(session, until)| ParkedView {
                    session: session.clone(),
                    user_id: id.clone(),
                    until: *until,
                })
        })
        .collect();
    parked.sort_by(|a, b| (a.until, &a.session).cmp(&(b.until, &b.session)));
    parked
}

/// The latest bans, newest first: tenants' and those of sessions no tenant held.
fn quarantines(users: &UsersDoc) -> Vec<QuarantineView> {
    let owned = users.users.iter().flat_map(|(id, u)| {
        u.ban_records
            .iter()
            .map(move |(session, r)| QuarantineView {
                session: session.clone(),
                user_id: Some(id.clone()),
                reason: r.reason.clone(),
                at: r.at,
            })
    });
    let unowned = users
        .unowned_bans
        .iter()
        .map(|(session, r)| QuarantineView {
            session: session.clone(),
            user_id: None,
            reason: r.reason.clone(),
            at: r.at,
        });
    let mut all: Vec<QuarantineView> = owned.chain(unowned).collect();
    all.sort_by(|a, b| (b.at, &a.session).cmp(&(a.at, &b.session)));
    all.truncate(QUARANTINES_LISTED);
    all
}

fn pairs(state: &AppState) -> Vec<PairUsage> {
    state
        .inner
        .pool
        .list_pairs()
        .into_iter()
        // The hash, even masked, stays out: the console has no use for it.
        .map(|p| PairUsage {
            index: p.index,
            api_id: p.api_id,
            usage: p.usage,
            max: p.max,
            retired: p.retired,
        })
        .collect()
}

pub(crate) fn tenant_counts(users: &UsersDoc) -> TenantCounts {
    let mut counts = TenantCounts::default();
    for user in users.users.values() {
        counts.total += 1;
        match user.bot_status {
            BotStatus::Running => counts.running += 1,
            BotStatus::Stopping => counts.stopping += 1,
            BotStatus::Stopped => counts.stopped += 1,
            BotStatus::Suspended => counts.suspended += 1,
        }
    }
    counts
}
