//! The compatibility suite: requests shaped exactly as the old Next.js frontend sends them, with
//! tokens signed as it signs them; status codes, field names and types of the answers, `detail`
//! on errors. For the admin routes see `admin.rs`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn assert_types(body: &Value, fields: &[(&str, &str)]) {
    for (field, kind) in fields {
        let value = &body[*field];
        let ok = match *kind {
            "bool" => value.is_boolean(),
            "string" => value.is_string(),
            "number" => value.is_number(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            "string|null" => value.is_string() || value.is_null(),
            _ => unreachable!(),
        };
        assert!(ok, "{field} should be {kind}: {body}");
    }
}

#[tokio::test]
async fn a_tenant_session_as_the_old_frontend_drives_it() {
    let app = spawn_app(3).await;
    let token = app.token("supabase-uuid-1");

    // register-user: new, then existing.
    let (status, body) = app
        .post("/api/bot/register-user", &token, json!({"email": "a@b.c"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_types(
        &body,
        &[
            ("success", "bool"),
            ("message", "string"),
            ("user_id", "string"),
            ("status", "string"),
        ],
    );
    assert_eq!(
        (body["status"].as_str(), body["user_id"].as_str()),
        (Some("new"), Some("supabase-uuid-1"))
    );
    let (_, again) = app.post("/api/bot/register-user", &token, json!({})).await;
    assert_eq!(again["status"], "existing");

    let (status, body) = app
        .post(
            "/api/bot/update-execution-mode",
            &token,
            json!({"execution_mode": "enterprise"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_types(
        &body,
        &[
            ("success", "bool"),
            ("message", "string"),
            ("execution_mode", "string"),
        ],
    );

    let (status, body) = app
        .post(
            "/api/bot/update-post",
            &token,
            json!({"post_type": "link", "post_content": "https://t.me/somechannel/42"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_types(
        &body,
        &[
            ("success", "bool"),
            ("message", "string"),
            ("post_type", "string"),
            ("post_content", "string"),
        ],
    );

    let (status, body) = app
        .post(
            "/api/bot/update-groups",
            &token,
            json!({"groups": ["-1001234567890", "@groupname", "another_group"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["groups_count"], 3);

    let (status, body) = app
        .post(
            "/api/bot/update-delays",
            &token,
            json!({"delay_between_posts": 2, "delay_between_cycles": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_types(
        &body,
        &[
            ("delay_between_posts", "number"),
            ("delay_between_cycles", "number"),
        ],
    );

    // start: the frontend posts its AdbotConfig; none of it is an identity.
    let config = json!({"adbot_id": "ab-1", "user_id": "someone-else", "post_link": "x", "target_groups": [], "posting_interval_minutes": 5, "sessions": []});
    let (status, body) = app.post("/api/bot/start", &token, config).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_types(
        &body,
        &[
            ("success", "bool"),
            ("message", "string"),
            ("status", "string"),
            ("sessions", "number"),
            ("execution_mode", "string"),
        ],
    );
    assert_eq!(
        (body["status"].as_str(), body["sessions"].as_u64()),
        (Some("running"), Some(1))
    );

    let (status, body) = app.get("/api/bot/status", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_types(
        &body,
        &[
            ("success", "bool"),
            ("status", "string"),
            ("intent", "string"),
            ("is_active", "bool"),
            ("is_fresh", "bool"),
            ("last_heartbeat", "string|null"),
            ("cycle_state", "string"),
            ("sessions", "number"),
            ("groups", "number"),
            ("messages_sent", "number"),
            ("total_success", "number"),
            ("total_failures", "number"),
        ],
    );
    assert_eq!(
        body["status"], "RUNNING",
        "a started bot is RUNNING: {body}"
    );

    let (status, body) = app.get("/api/bot/state", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_types(
        &body,
        &[
            ("success", "bool"),
            ("status", "string"),
            ("intent", "string"),
            ("is_active", "bool"),
            ("is_fresh", "bool"),
            ("cycle_state", "string"),
            ("is_idle", "bool"),
            ("last_error_reason", "string|null"),
            ("post_type", "string"),
            ("post_content", "string"),
            ("groups", "array"),
            ("sessions", "number"),
            ("stats", "object"),
        ],
    );
    for field in [
        "total_messages_sent",
        "total_success",
        "total_failures",
        "total_flood_waits",
    ] {
        assert!(body["stats"][field].is_number(), "stats.{field}: {body}");
    }

    // The first post goes out at once (the first cycle is due now).
    let mut sync = Value::Null;
    for _ in 0..50 {
        let (status, body) = app.get("/api/sync/state", &token).await;
        assert_eq!(status, StatusCode::OK);
        sync = body;
        // Log lines reach their file within a second.
        if sync["stats"]["total_posts"].as_u64().unwrap_or(0) > 0
            && sync["logs"].as_str().unwrap_or("").contains("Posted")
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let user = &sync["user"];
    for (field, kind) in [
        ("bot_status", "string"),
        ("is_active", "bool"),
        ("assigned_sessions", "array"),
        ("api_pairs", "array"),
        ("groups", "array"),
        ("post_type", "string"),
        ("post_content", "string"),
        ("delay_between_posts", "number"),
        ("delay_between_cycles", "number"),
        ("banned_sessions", "array"),
        ("execution_mode", "string"),
        ("blocked_groups", "array"),
    ] {
        assert_types(user, &[(field, kind)]);
    }
    assert!(user.get("next_run_at").is_some());
    let stats = &sync["stats"];
    assert!(
        stats["total_posts"].as_u64().unwrap() > 0,
        "counters moved: {sync}"
    );
    assert_types(
        stats,
        &[
            ("total_success", "number"),
            ("total_failures", "number"),
            ("total_flood_waits", "number"),
            ("total_messages_sent", "number"),
            ("success_rate", "number"),
        ],
    );
    assert!(
        sync["logs"]
            .as_str()
            .unwrap()
            .contains(" - INFO - Bot started"),
        "{sync}"
    );

    let (status, body) = app.get("/api/bot/logs/ab-1?lines=5", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["adbot_id"], "ab-1");
    assert!(body["data"]["logs"].as_array().unwrap().len() <= 5);

    let (status, body) = app.post("/api/bot/stop", &token, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        matches!(body["status"].as_str(), Some("stopping" | "stopped")),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn health_routes_answer_without_a_token() {
    let app = spawn_app(0).await;
    for path in ["/api/health", "/api/health/"] {
        let (status, body) = app.request(reqwest::Method::GET, path, None, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(body["status"], "healthy");
        assert_types(
            &body,
            &[
                ("scheduler_running", "bool"),
                ("active_users", "number"),
                ("read_only_mode", "bool"),
            ],
        );
    }
    let (status, body) = app
        .request(reqwest::Method::GET, "/api/bot/health", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    for field in ["active_sessions", "banned_sessions"] {
        assert!(body["health"][field].is_number(), "{body}");
    }
    let (status, body) = app
        .request(reqwest::Method::GET, "/health", None, None)
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"ok": true})));
    app.stop().await;
}

#[tokio::test]
async fn errors_have_the_contract_shape() {
    let app = spawn_app(0).await;
    let token = app.token("nobody-yet");
    for path in ["/api/bot/start", "/api/bot/stop"] {
        let (status, answer) = app.post(path, &token, json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(detail(&answer), "User not found", "{path}");
    }
    // A refused configuration write registers nobody.
    let (status, answer) = app
        .post(
            "/api/bot/update-post",
            &token,
            json!({"post_type": "link", "post_content": "t.me/c/1"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    detail(&answer);
    let (status, answer) = app.get("/api/sync/state", &token).await;
    assert_eq!(
        (status, detail(&answer)),
        (StatusCode::NOT_FOUND, "User not found".into())
    );
    let (status, answer) = app
        .request(reqwest::Method::GET, "/api/no/such/route", None, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    detail(&answer);
    let (status, answer) = app
        .request(
            reqwest::Method::DELETE,
            "/api/bot/start",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    detail(&answer);
    // Malformed JSON and a wrong content type.
    let response = app
        .client
        .post(format!("{}/api/bot/update-groups", app.url))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .body("{groups: [")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    detail(&response.json().await.unwrap());
    let response = app
        .client
        .post(format!("{}/api/bot/update-groups", app.url))
        .bearer_auth(&token)
        .body("groups=1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    detail(&response.json().await.unwrap());
    app.stop().await;
}
