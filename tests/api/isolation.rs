//! Bad input changes nothing: every validation failure leaves users.json byte for byte as it was;
//! a start that cannot have sessions consumes none; a body over the limit is refused with 413.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn every_validation_failure_stores_nothing() {
    let app = spawn_app(1).await;
    app.register("alice").await;
    let token = app.token("alice");
    let long_text = "x".repeat(4097);
    let too_many: Vec<String> = (0..1001)
        .map(|i| format!("-100{}", 1_000_000_000 + i))
        .collect();
    let cases = [
        (
            "/api/bot/update-post",
            json!({"post_type": "photo", "post_content": "x"}),
        ),
        (
            "/api/bot/update-post",
            json!({"post_type": "link", "post_content": "https://example.com/x/1"}),
        ),
        (
            "/api/bot/update-post",
            json!({"post_type": "link", "post_content": "t.me/c/123/4"}),
        ),
        (
            "/api/bot/update-post",
            json!({"post_type": "text", "post_content": long_text}),
        ),
        (
            "/api/bot/update-post",
            json!({"post_type": "text", "post_content": "   "}),
        ),
        ("/api/bot/update-post", json!({})),
        ("/api/bot/update-post", json!({"post_content": 42})),
        (
            "/api/bot/update-groups",
            json!({"groups": ["-1001234567890", "@ab"]}),
        ),
        (
            "/api/bot/update-groups",
            json!({"groups": ["not a group!"]}),
        ),
        ("/api/bot/update-groups", json!({"groups": [""]})),
        ("/api/bot/update-groups", json!({"groups": too_many})),
        (
            "/api/bot/update-groups",
            json!({"groups": "-1001234567890"}),
        ),
        ("/api/bot/update-groups", json!({"groups": [1, 2]})),
        (
            "/api/bot/update-execution-mode",
            json!({"execution_mode": "turbo"}),
        ),
        ("/api/bot/update-execution-mode", json!({})),
        ("/api/bot/update-delays", json!({"delay_between_posts": 0})),
        (
            "/api/bot/update-delays",
            json!({"delay_between_cycles": -5}),
        ),
        (
            "/api/bot/update-delays",
            json!({"delay_between_posts": 99999999}),
        ),
        ("/api/bot/start", json!({"execution_mode": "turbo"})),
        ("/api/bot/start", json!({"total_cycle_minutes": 0})),
    ];
    let before = app.users_json();
    for (path, body) in cases {
        let (status, answer) = app.post(path, &token, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {answer}");
        detail(&answer);
        assert_eq!(app.users_json(), before, "{path} {body} changed users.json");
    }
    assert!(
        app.path("sessions/unused").join(session_name(0)).exists(),
        "a refused start consumed no session"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_start_without_any_session_is_409_and_consumes_nothing() {
    let app = spawn_app(0).await;
    app.register("alice").await;
    let alice = app.token("alice");
    app.post(
        "/api/bot/update-post",
        &alice,
        json!({"post_type": "text", "post_content": "hi"}),
    )
    .await;
    app.post(
        "/api/bot/update-groups",
        &alice,
        json!({"groups": ["@alices_group"]}),
    )
    .await;
    let before = app.users_json();
    let (status, body) = app.post("/api/bot/start", &alice, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(detail(&body).starts_with("No sessions available"));
    assert_eq!(app.users_json(), before);

    // An expired plan never reaches the pool.
    let expired =
        app.sign(json!({"user_id": "alice", "plan_status": "expired", "exp": now() + 60}));
    let (status, body) = app.post("/api/bot/start", &expired, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(detail(&body).contains("expired"));
    app.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_in_the_contract_shape() {
    let app = spawn_app(0).await;
    app.register("alice").await;
    let before = app.users_json();
    let huge = json!({"groups": vec!["-1001234567890"; 120_000]});
    let (status, body) = app
        .post("/api/bot/update-groups", &app.token("alice"), huge)
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    detail(&body);
    assert_eq!(app.users_json(), before);
    app.stop().await;
}
