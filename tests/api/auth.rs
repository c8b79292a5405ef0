//! Every way a token can be refused (401 with the contract's body), identity headers ignored,
//! admin routes closed to tenants (403).

use base64::Engine;
use jsonwebtoken::Algorithm;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn claims(user: &str) -> Value {
    json!({"user_id": user, "sub": user, "role": "user", "exp": now() + 3600})
}

async fn status_with(app: &TestApp, authorization: Option<String>) -> (StatusCode, Value) {
    let mut request = app.client.get(format!("{}/api/sync/state", app.url));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn each_bad_token_is_refused_with_401_and_a_detail() {
    let app = spawn_app(0).await;
    app.register("alice").await;
    let good = app.token("alice");
    let (status, _) = status_with(&app, Some(format!("Bearer {good}"))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = status_with(&app, Some(good.clone())).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "user routes take the bare token, as the old backend did"
    );

    let header_none = b64(&json!({"alg": "none", "typ": "JWT"}));
    let unsigned = format!("{header_none}.{}.", b64(&claims("alice")));
    let rs256 = format!(
        "{}.{}.{}",
        b64(&json!({"alg": "RS256", "typ": "JWT"})),
        b64(&claims("alice")),
        "c2lnbmF0dXJl"
    );
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing header", None),
        ("bad scheme", Some(format!("Basic {good}"))),
        ("garbage", Some("Bearer not.a.token".into())),
        ("alg none", Some(format!("Bearer {unsigned}"))),
        (
            "HS384 header",
            Some(format!(
                "Bearer {}",
                sign_with(claims("alice"), SECRET, Algorithm::HS384)
            )),
        ),
        ("RS256 header", Some(format!("Bearer {rs256}"))),
        (
            "wrong secret",
            Some(format!(
                "Bearer {}",
                sign_with(
                    claims("alice"),
                    "another-secret-another-secret-1234",
                    Algorithm::HS256
                )
            )),
        ),
        (
            "expired",
            Some(format!(
                "Bearer {}",
                app.sign(json!({"user_id": "alice", "exp": now() - 120}))
            )),
        ),
        (
            "future nbf",
            Some(format!(
                "Bearer {}",
                app.sign(json!({"user_id": "alice", "exp": now() + 3600, "nbf": now() + 600}))
            )),
        ),
        (
            "missing exp",
            Some(format!("Bearer {}", app.sign(json!({"user_id": "alice"})))),
        ),
        (
            "empty user id",
            Some(format!(
                "Bearer {}",
                app.sign(json!({"user_id": "", "exp": now() + 3600}))
            )),
        ),
        (
            "no user id",
            Some(format!(
                "Bearer {}",
                app.sign(json!({"role": "user", "exp": now() + 3600}))
            )),
        ),
        (
            "user id with a slash",
            Some(format!(
                "Bearer {}",
                app.sign(json!({"user_id": "../alice", "exp": now() + 3600}))
            )),
        ),
        (
            "user id too long",
            Some(format!(
                "Bearer {}",
                app.sign(json!({"user_id": "x".repeat(129), "exp": now() + 3600}))
            )),
        ),
    ];
    for (case, header) in cases {
        let (status, body) = status_with(&app, header).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        let detail = detail(&body);
        assert!(
            !detail.contains(&good) && !detail.contains(SECRET),
            "{case}: the answer leaks: {detail}"
        );
    }
    // Within the 30 s leeway an expired token still passes; a numeric user id works too.
    let (status, _) = status_with(
        &app,
        Some(format!(
            "Bearer {}",
            app.sign(json!({"user_id": "alice", "exp": now() - 10}))
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post(
            "/api/bot/register-user",
            &app.sign(json!({"sub": 42, "exp": now() + 60})),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["user_id"].as_str()),
        (StatusCode::OK, Some("42"))
    );
    app.stop().await;
}

#[tokio::test]
async fn identity_headers_are_ignored_and_tenants_stay_apart() {
    let app = spawn_app(0).await;
    app.register("alice").await;
    app.register("bob").await;
    let (alice, bob) = (app.token("alice"), app.token("bob"));
    app.post(
        "/api/bot/update-post",
        &bob,
        json!({"post_type": "text", "post_content": "bob's secret plan"}),
    )
    .await;

    // Spoofing: alice claims to be bob in every header the old backend's clients used.
    let response = app
        .client
        .get(format!("{}/api/sync/state", app.url))
        .bearer_auth(&alice)
        .header("X-User-Id", "bob")
        .header("X-Forwarded-User", "bob")
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["user"]["post_content"], "",
        "alice sees her own state, not bob's"
    );

    // Alice's changes land on alice; bob is untouched.
    app.post(
        "/api/bot/update-post",
        &alice,
        json!({"post_type": "text", "post_content": "alice's"}),
    )
    .await;
    let (_, bob_state) = app.get("/api/sync/state", &bob).await;
    assert_eq!(bob_state["user"]["post_content"], "bob's secret plan");
    // A body naming another user is not an identity either.
    let (_, body) = app
        .post("/api/bot/register-user", &alice, json!({"user_id": "bob"}))
        .await;
    assert_eq!(body["user_id"], "alice");
    // Logs: whatever bot id alice names, she reads her own log.
    let (status, body) = app.get("/api/bot/logs/bob", &alice).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["data"]["logs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| !l.as_str().unwrap().contains("bob"))
    );
    app.stop().await;
}

#[tokio::test]
async fn admin_routes_refuse_tenants_with_403_and_anonymous_with_401() {
    let app = spawn_app(0).await;
    let tenant = app.token("alice");
    let routes = [
        ("GET", "/api/admin/sessions/list"),
        ("POST", "/api/admin/sessions/assign"),
        ("POST", "/api/admin/sessions/verify"),
        ("POST", "/api/admin/sessions/ban"),
        ("GET", "/api/admin/api-pairs/list"),
        ("POST", "/api/admin/api-pairs/add"),
        ("DELETE", "/api/admin/api-pairs/24881145"),
        ("GET", "/api/admin/groups/list?plan_type=STARTER"),
        ("POST", "/api/admin/groups/validate"),
        ("POST", "/api/admin/users/alice/unsuspend"),
    ];
    for (method, path) in routes {
        let method: reqwest::Method = method.parse().unwrap();
        let body = (method == reqwest::Method::POST).then(|| json!({}));
        let (status, answer) = app
            .request(method.clone(), path, Some(&tenant), body.clone())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {answer}");
        assert_eq!(detail(&answer), "Admin access required");
        let (status, _) = app.request(method, path, None, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    app.stop().await;
}
