//! The operator's console (Herald's addition): one page, `GET /console`, served from assets
//! compiled into the binary (no Node build on anyone's side), and the admin-only JSON it reads
//! (`overview`, `tenants`). The page is public and carries no data; everything it shows comes
//! through the admin routes with the token the operator pasted (kept in the tab's
//! sessionStorage). Its buttons call admin routes (`routes::admin_users` and `admin_sessions`;
//! release and unblock-group were added for it). This module must never put a token, an
//! api_hash or a server path in what it serves.
//!
//! - [`overview`]: pool, flood waits, quarantines, pairs, tenants by status, charts, processes.
//! - [`tenants`]: tenants a page at a time; one tenant's hour.
//! - `activity`: the charts' minutes (deployment-wide sampling; a tenant's from its log).

pub mod activity;
pub mod overview;
pub mod tenants;

use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::Utc;

use crate::state::AppState;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

/// Same-origin only: no inline script, nothing fetched from elsewhere, never framed.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

/// Herald's addition: the operator's console, a page that asks for an admin token once and
/// reads the admin routes with it.
#[utoipa::path(get, path = "/console", tag = "console",
    responses((status = 200, description = "The console's page (HTML); it carries no data", content_type = "text/html")))]
pub async fn page() -> impl IntoResponse {
    asset("text/html; charset=utf-8", INDEX)
}

/// The page's two assets (the page itself is routed with the documented routes).
pub(crate) fn assets() -> Router<AppState> {
    use axum::routing::get;
    Router::new()
        .route(
            "/console/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/console/app.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

/// How often the deployment's totals are sampled for the charts and the gauges.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// Samples the charts' totals, and sets the deployment's gauges, until the task is dropped
/// (see `activity`).
pub(crate) async fn sample(state: AppState) {
    loop {
        let engine = match state.inner.engine.activity().await {
            Ok(engine) => Some(engine),
            Err(err) => {
                tracing::debug!(error = %err, "console sampling: the engine is unreachable");
                None
            }
        };
        let lag = engine
            .as_ref()
            .and_then(|e| e.processes.iter().find(|p| p.leader))
            .and_then(|p| p.lag_ms);
        let totals = activity::Totals::of(&state.inner.store.all_stats());
        state.inner.activity.observe(Utc::now(), totals, lag);
        overview::record_gauges(&state, engine.as_ref(), totals).await;
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}
