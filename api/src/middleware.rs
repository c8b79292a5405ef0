//! What every request passes through: its span and metrics, and the contract's error shape for
//! the answers axum and tower make on their own (unknown route, wrong method, timeout, body too
//! large, bad query string), which otherwise come back as plain text.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::error::ApiError;
use crate::state::AppState;

/// Runs the request in its span, counts it by route and status, and times it. The span names
/// the route and, once a token is verified ([`crate::auth`] records it), who asked: the tenant
/// as `user.id`, an admin as `admin`, so the lines a request logs need not repeat them.
pub(crate) async fn record(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    // At ERROR level, as every span that names a tenant: a span's level decides whether it
    // exists, and a refusal logged at WARN must still say whose request it was.
    let span = tracing::error_span!(
        "request",
        method = %method,
        route = %route,
        user.id = tracing::field::Empty,
        admin = tracing::field::Empty,
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("herald_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("herald_http_request_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Rewrites non-JSON error answers into `{"detail", "error"}`.
pub(crate) async fn shape_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (code, message): (&'static str, String) = match status {
        StatusCode::NOT_FOUND => ("not_found", "Not Found".into()),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "Method Not Allowed".into()),
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "The request took too long".into()),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "Request body is too large".into()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "Unsupported media type".into())
        }
        s if s.is_client_error() => {
            let text = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&text).trim().to_owned();
            (
                "invalid_request",
                if text.is_empty() {
                    "Bad request".into()
                } else {
                    text
                },
            )
        }
        _ => ("internal_error", "Internal server error".into()),
    };
    ApiError::new(status, code, message).into_response()
}

/// `/metrics`: Prometheus text, with the engine's queue and cycle gauges refreshed first.
pub(crate) async fn metrics_endpoint(State(state): State<AppState>) -> Response {
    let Some(handle) = &state.inner.metrics else {
        return (StatusCode::NOT_FOUND, "metrics are not enabled").into_response();
    };
    if let Ok(health) = state.inner.engine.health().await {
        metrics::gauge!("herald_queue_jobs").set(health.queued_jobs as f64);
        metrics::gauge!("herald_cycles_in_flight").set(health.in_flight_cycles as f64);
        metrics::gauge!("herald_scheduler_running").set(if health.scheduler_running {
            1.0
        } else {
            0.0
        });
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        Body::from(handle.render()),
    )
        .into_response()
}

/// Unknown routes: 404 in the contract's shape.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("Not Found")
}
