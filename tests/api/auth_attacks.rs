//! Attacks on identity beyond the basic refusals of `auth.rs`: tokens minted by other JWT
//! libraries (PyJWT, and the npm `jsonwebtoken` the old Next.js frontend signs with; fixtures made
//! by `scripts/mint-foreign-tokens`), algorithm confusion, `kid`/`jku` headers, duplicate claims,
//! very long tokens, and tokens of a tenant that is no longer in users.json. Each is refused or
//! harmless, as README's security section documents.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn foreign(name: &str) -> String {
    foreign_token(name)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs a header and payload given as raw JSON text, so that they can say what a serializer
/// never would (duplicate keys, odd algorithm names).
fn sign_raw(header: &str, payload: &str) -> String {
    let message = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let key = EncodingKey::from_secret(SECRET.as_bytes()).unwrap();
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).unwrap();
    format!("{message}.{signature}")
}

async fn state_status(app: &TestApp, token: &str) -> (StatusCode, Value) {
    app.get("/api/sync/state", token).await
}

#[tokio::test]
async fn tokens_from_pyjwt_and_node_jsonwebtoken_are_accepted_when_valid() {
    let app = spawn_app(0).await;
    for (name, user) in [
        ("pyjwt_valid", "py-tenant"),
        ("node_valid", "node-tenant"),
        ("node_numeric_sub", "4242"),
    ] {
        let (status, body) = app
            .post("/api/bot/register-user", &foreign(name), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
        assert_eq!(body["user_id"], user, "{name}");
        let (status, _) = state_status(&app, &foreign(name)).await;
        assert_eq!(status, StatusCode::OK, "{name}");
    }
    // The node token carries plan_type STARTER, as the frontend's do.
    let (status, body) = app
        .post(
            "/api/bot/update-execution-mode",
            &foreign("node_valid"),
            json!({"execution_mode": "starter"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for name in ["pyjwt_admin", "node_admin"] {
        let (status, body) = app.get("/api/admin/sessions/list", &foreign(name)).await;
        assert_eq!(status, StatusCode::OK, "{name}: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn foreign_tokens_with_another_algorithm_key_or_time_are_refused() {
    let app = spawn_app(0).await;
    app.register("py-tenant").await;
    for name in [
        "pyjwt_jku_signed_elsewhere",
        "pyjwt_hs512",
        "node_hs384",
        "pyjwt_expired",
        "node_not_before_2099",
    ] {
        let (status, body) = state_status(&app, &foreign(name)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        detail(&body);
    }
    app.stop().await;
}

#[tokio::test]
async fn kid_and_jku_headers_are_never_followed() {
    let app = spawn_app(0).await;
    // Signed with Herald's secret: valid, the headers change nothing (there is one key).
    let (status, body) = app
        .post(
            "/api/bot/register-user",
            &foreign("pyjwt_kid_and_jku"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["user_id"].as_str()),
        (StatusCode::OK, Some("py-tenant"))
    );
    // Signed with the key the `jku` points at: refused, and nothing was fetched to check it.
    let (status, _) = state_status(&app, &foreign("pyjwt_jku_signed_elsewhere")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn algorithm_confusion_is_refused() {
    let app = spawn_app(0).await;
    app.register("alice").await;
    let claims = format!(r#"{{"user_id":"alice","exp":{}}}"#, now() + 3600);
    let (status, _) =
        state_status(&app, &sign_raw(r#"{"alg":"HS256","typ":"JWT"}"#, &claims)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the raw signer itself must produce valid tokens"
    );
    for (case, header) in [
        ("lower-case alg", r#"{"alg":"hs256","typ":"JWT"}"#),
        ("alg with a space", r#"{"alg":"HS256 ","typ":"JWT"}"#),
        ("alg none with a signature", r#"{"alg":"none","typ":"JWT"}"#),
        ("alg as a list", r#"{"alg":["HS256"],"typ":"JWT"}"#),
        ("no alg", r#"{"typ":"JWT"}"#),
        ("RS256 signed as HS256", r#"{"alg":"RS256","typ":"JWT"}"#),
        ("ES256 signed as HS256", r#"{"alg":"ES256","typ":"JWT"}"#),
        ("EdDSA signed as HS256", r#"{"alg":"EdDSA","typ":"JWT"}"#),
    ] {
        let (status, body) = state_status(&app, &sign_raw(header, &claims)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        detail(&body);
    }
    app.stop().await;
}

#[tokio::test]
async fn duplicate_claims_are_refused_rather_than_guessed() {
    let app = spawn_app(0).await;
    app.register("alice").await;
    app.register("mallory").await;
    let exp = now() + 3600;
    for (case, payload) in [
        (
            "user_id twice",
            format!(r#"{{"user_id":"alice","user_id":"mallory","exp":{exp}}}"#),
        ),
        (
            "role twice",
            format!(r#"{{"user_id":"alice","role":"user","role":"admin","exp":{exp}}}"#),
        ),
        (
            "exp twice",
            format!(r#"{{"user_id":"alice","exp":{exp},"exp":1}}"#),
        ),
    ] {
        let token = sign_raw(r#"{"alg":"HS256","typ":"JWT"}"#, &payload);
        let (status, body) = state_status(&app, &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        let (status, _) = app.get("/api/admin/sessions/list", &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case} on an admin route");
    }
    app.stop().await;
}

#[tokio::test]
async fn very_long_tokens_are_refused_without_a_server_error() {
    let app = spawn_app(0).await;
    app.register("alice").await;
    // Validly signed, but stuffed: 6 KiB of claims is still a token; a user id over 128 is not.
    let padded =
        app.sign(json!({"user_id": "alice", "exp": now() + 3600, "pad": "x".repeat(6 << 10)}));
    assert_eq!(state_status(&app, &padded).await.0, StatusCode::OK);
    let long_id = app.sign(json!({"user_id": "a".repeat(10_000), "exp": now() + 3600}));
    assert_eq!(
        state_status(&app, &long_id).await.0,
        StatusCode::UNAUTHORIZED
    );
    for size in [64 << 10, 1 << 20] {
        let response = app
            .client
            .get(format!("{}/api/sync/state", app.url))
            .header("Authorization", format!("Bearer {}", "A".repeat(size)))
            .send()
            .await;
        // A header too big for the server may be cut off at the connection; never a 5xx.
        if let Ok(response) = response {
            let status = response.status();
            assert!(
                status == StatusCode::UNAUTHORIZED
                    || status == StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "{size} bytes: {status}"
            );
        }
    }
    // The server is still there.
    assert_eq!(
        state_status(&app, &app.token("alice")).await.0,
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn a_token_of_a_tenant_no_longer_in_users_json_changes_nothing_but_a_configuration_write() {
    let app = spawn_app(1).await;
    let ghost = app.token("ghost");
    let before = app.users_json();
    for path in ["/api/bot/start", "/api/bot/stop"] {
        let (status, answer) = app.post(path, &ghost, json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {answer}");
        assert_eq!(detail(&answer), "User not found");
    }
    for path in [
        "/api/sync/state",
        "/api/bot/status",
        "/api/bot/state",
        "/api/bot/logs/ghost",
    ] {
        assert_eq!(
            app.get(path, &ghost).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        app.users_json(),
        before,
        "a deleted tenant's token wrote something"
    );
    let sessions = std::fs::read_dir(app.path("sessions/unused"))
        .unwrap()
        .count();
    assert_eq!(sessions, 1, "a session left the pool for a deleted tenant");
    // A configuration write registers it again, as register-user would (the contract's rule).
    let (status, _) = app
        .post(
            "/api/bot/update-groups",
            &ghost,
            json!({"groups": ["@haunted"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, state) = app.get("/api/sync/state", &ghost).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["user"]["groups"], json!(["@haunted"]));
    assert_eq!(state["user"]["bot_status"], "stopped");
    app.stop().await;
}

#[tokio::test]
async fn another_tenants_log_is_never_served() {
    let app = spawn_app(0).await;
    app.register("alice").await;
    app.register("bob").await;
    let today = chrono::Utc::now().format("%Y-%m-%d");
    let bob_log = app.path(&format!("logs/bob/{today}.log"));
    std::fs::create_dir_all(bob_log.parent().unwrap()).unwrap();
    std::fs::write(&bob_log, "2026-01-01 00:00:00 - INFO - bob's secret line\n").unwrap();
    // Bob can read his own line: the file is where the server looks.
    let (status, own) = app
        .get("/api/bot/logs/bob?lines=10", &app.token("bob"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(own.to_string().contains("bob's secret line"), "{own}");
    // Alice naming bob's id gets her own log, echoed under the id she asked for.
    let (status, body) = app
        .get("/api/bot/logs/bob?lines=10", &app.token("alice"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["adbot_id"], "bob");
    assert!(!body.to_string().contains("bob's secret line"), "{body}");
    app.stop().await;
}
