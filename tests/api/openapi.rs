//! The OpenAPI document lists every route the contract names, and every route it lists is served.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

/// Every route of `../shared/contract.md`.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/api/bot/register-user"),
    ("post", "/api/bot/update-execution-mode"),
    ("post", "/api/bot/update-post"),
    ("post", "/api/bot/update-groups"),
    ("post", "/api/bot/update-delays"),
    ("post", "/api/bot/start"),
    ("post", "/api/bot/stop"),
    ("get", "/api/bot/status"),
    ("get", "/api/bot/state"),
    ("get", "/api/bot/logs/{id}"),
    ("get", "/api/sync/state"),
    ("get", "/api/health"),
    ("get", "/api/health/"),
    ("get", "/api/bot/health"),
    ("get", "/health"),
    ("get", "/api/admin/sessions/list"),
    ("post", "/api/admin/sessions/upload"),
    ("post", "/api/admin/sessions/bulk-upload"),
    ("post", "/api/admin/sessions/assign"),
    ("post", "/api/admin/sessions/unassign"),
    ("post", "/api/admin/sessions/verify"),
    ("post", "/api/admin/sessions/ban"),
    ("post", "/api/admin/sessions/health-check"),
    ("get", "/api/admin/api-pairs/list"),
    ("post", "/api/admin/api-pairs/add"),
    ("delete", "/api/admin/api-pairs/{api_id}"),
    ("get", "/api/admin/groups/list"),
    ("post", "/api/admin/groups/update"),
    ("post", "/api/admin/groups/validate"),
    ("post", "/api/admin/users/{user_id}/unsuspend"),
];

#[tokio::test]
async fn the_document_lists_every_route_and_every_listed_route_is_served() {
    let app = spawn_app(0).await;
    let doc: Value = app
        .client
        .get(format!("{}/api/openapi.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in CONTRACT {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    let mut documented = 0;
    for (path, item) in paths {
        for method in ["get", "post", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            documented += 1;
            let concrete = path
                .replace("{id}", "x")
                .replace("{api_id}", "1")
                .replace("{user_id}", "u");
            let response = app
                .client
                .request(
                    method.to_uppercase().parse().unwrap(),
                    format!("{}{concrete}", app.url),
                )
                .send()
                .await
                .unwrap();
            assert_ne!(
                response.status(),
                StatusCode::NOT_FOUND,
                "{method} {path} is documented but not served"
            );
            assert_ne!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not served"
            );
        }
        assert!(
            item.get("get").is_some()
                || item.get("post").is_some()
                || item.get("delete").is_some()
                || path == "/api/openapi.json"
                || path == "/metrics"
        );
    }
    assert!(documented >= CONTRACT.len());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let metrics = app
        .client
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    app.stop().await;
}
