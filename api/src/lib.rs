//! Herald's HTTP API: the old backend's routes and JSON shapes (a drop-in replacement for its
//! Next.js frontend), JWT-only identity, admin routes over the session pool, health, an OpenAPI
//! document generated from the handlers, and Prometheus metrics.
//!
//! It reads and changes state only through the data manager and the session pool, and talks to
//! workers only through the [`engine::EnginePort`]. Every error answer has the contract's shape.
//!
//! # Layout
//! - [`router`] / [`serve`]: routes, layers (CORS, body limits, timeout, metrics, error shape).
//! - [`auth`]: the tenant and admin extractors. [`claims`]: the token format.
//! - [`routes`]: handlers, one module per group. [`error`]: the one error-to-answer mapping.
//! - [`state`]: shared state and the ports. [`engine`]: the port to the workers.
//! - [`console`]: the operator's page, `/console`, and the admin JSON it reads.
//! - `tenants`: the one rule for tenants Herald has not seen (configuration writes register).

pub mod auth;
mod body;
pub mod claims;
pub mod console;
pub mod engine;
pub mod error;
mod middleware;
pub mod routes;
pub mod state;
mod tenants;

use std::future::Future;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, header};
use tower_http::cors::CorsLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use state::{ApiConfig, AppState};

use routes::{
    admin_groups, admin_health, admin_pairs, admin_sessions, admin_users, bot_config, bot_control,
    health, sync,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Herald", description = "Runs Telegram posting accounts for many tenants. Routes and shapes are the old backend's; Herald's additions are marked in their descriptions."),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The routes and their OpenAPI document, from one list so they cannot disagree.
fn routes(config: &ApiConfig) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let uploads = OpenApiRouter::new()
        .routes(routes!(admin_sessions::upload))
        .routes(routes!(admin_sessions::bulk_upload))
        .layer(DefaultBodyLimit::max(config.upload_limit));
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(bot_config::register_user))
        .routes(routes!(bot_config::update_execution_mode))
        .routes(routes!(bot_config::update_post))
        .routes(routes!(bot_config::update_groups))
        .routes(routes!(bot_config::update_delays))
        .routes(routes!(bot_control::start))
        .routes(routes!(bot_control::stop))
        .routes(routes!(bot_control::status))
        .routes(routes!(bot_control::bot_state))
        .routes(routes!(bot_control::logs))
        .routes(routes!(sync::sync_state))
        .routes(routes!(health::ok))
        .routes(routes!(health::service))
        .routes(routes!(health::service_slash))
        .routes(routes!(health::bots))
        .routes(routes!(admin_sessions::list))
        .routes(routes!(admin_sessions::assign))
        .routes(routes!(admin_sessions::unassign))
        .routes(routes!(admin_sessions::verify))
        .routes(routes!(admin_sessions::ban))
        .routes(routes!(admin_health::health_check))
        .routes(routes!(admin_pairs::list))
        .routes(routes!(admin_pairs::add))
        .routes(routes!(admin_pairs::delete))
        .routes(routes!(admin_groups::list))
        .routes(routes!(admin_groups::update))
        .routes(routes!(admin_groups::validate))
        .routes(routes!(admin_users::unsuspend))
        .routes(routes!(admin_users::release))
        .routes(routes!(admin_users::unblock_group))
        .routes(routes!(console::page))
        .routes(routes!(console::overview::overview))
        .routes(routes!(console::tenants::tenants))
        .routes(routes!(console::tenants::tenant_activity))
        .layer(DefaultBodyLimit::max(config.body_limit))
        .merge(uploads)
        .split_for_parts();
    document_body_rejections(&mut doc);
    (router, doc)
}

/// Documents the answers a request body can get before its handler runs, on every operation that
/// takes one, so that no annotation can forget them: 400 for a body that does not parse, 413 over
/// the body limit and, where a JSON body is required ([`body::Body`]), 415 without a JSON content
/// type. The optional bodies (register-user, start) need no content type, hence no 415.
fn document_body_rejections(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, ResponseBuilder};
    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build(),
        )
    };
    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.post, &mut item.delete];
        for operation in operations.into_iter().flatten() {
            let Some(body) = &operation.request_body else {
                continue;
            };
            // Herald's bodies are written inline (utoipa 6 also allows a reference, which it
            // does not use): a reference is taken as not requiring JSON.
            let json_required = match body {
                RefOr::T(body) => {
                    body.content.contains_key("application/json")
                        && matches!(body.required, Some(Required::True))
                }
                RefOr::Ref(_) => false,
            };
            let responses = &mut operation.responses.responses;
            responses
                .entry("400".into())
                .or_insert_with(|| error("The body does not parse"));
            responses
                .entry("413".into())
                .or_insert_with(|| error("Request body is too large"));
            if json_required {
                responses.entry("415".into()).or_insert_with(|| {
                    error("Expected a JSON body (Content-Type: application/json)")
                });
            }
        }
    }
}

/// The OpenAPI document of every route [`router`] serves.
pub fn openapi(config: &ApiConfig) -> utoipa::openapi::OpenApi {
    routes(config).1
}

/// The whole API, ready to serve.
pub fn router(state: AppState) -> Router {
    let config = state.inner.config.clone();
    let (routes, mut doc) = routes(&config);
    // The document describes itself and the metrics too (both Herald's additions).
    doc.paths
        .paths
        .entry("/api/openapi.json".into())
        .or_default();
    doc.paths.paths.entry("/metrics".into()).or_default();
    let doc_json = std::sync::Arc::new(doc.to_json().unwrap_or_else(|_| "{}".into()));
    let origins: Vec<HeaderValue> = config
        .frontend_urls
        .iter()
        .filter_map(|u| HeaderValue::from_str(u).ok())
        .collect();
    let cors = CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST, Method::DELETE, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
    routes
        .route(
            "/api/openapi.json",
            axum::routing::get(move || {
                let doc = doc_json.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "application/json")],
                        doc.as_str().to_owned(),
                    )
                }
            }),
        )
        .route("/metrics", axum::routing::get(middleware::metrics_endpoint))
        .merge(console::assets())
        .fallback(middleware::not_found)
        .layer(axum::middleware::from_fn(middleware::record))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            config.request_timeout,
        ))
        .layer(axum::middleware::map_response(middleware::shape_errors))
        .layer(cors)
        .with_state(state)
}

/// Serves until `shutdown` resolves, then finishes requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // `into_make_service` hands each connection a clone of the finished router (a reference
    // count); serving the `Router` itself rebuilds its route table per connection (axum 0.8),
    // which a burst of 100 clients starting their bots measured at about 6 MB while it lasted.
    let sampling = tokio::spawn(console::sample(state.clone()));
    let served = axum::serve(listener, router(state).into_make_service())
        .with_graceful_shutdown(shutdown)
        .await;
    sampling.abort();
    served
}
