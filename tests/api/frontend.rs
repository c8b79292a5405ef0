//! The old Next.js frontend's calls, with tokens shaped exactly as it signs them: the access-code
//! login's `jose` token (`{botId, userId?, role, email?}`) that its admin pages forward, the
//! backend tokens of `lib/backend-jwt.ts` and `lib/auth.ts` `generateToken`, and its tenant order
//! (configure first, then register-user, update-execution-mode, start).

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::*;

/// The access-code login's token, as `generateAccessToken` signs it (HS256, 30 days).
fn access_code_token(app: &TestApp, claims: Value) -> String {
    let mut claims = claims;
    claims["iat"] = json!(now());
    claims["exp"] = json!(now() + 30 * 24 * 3600);
    app.sign(claims)
}

/// `lib/backend-jwt.ts` `generateBackendJWT`: user_id, iat, plan claims, 30 days.
fn backend_token(app: &TestApp, user: &str) -> String {
    app.sign(json!({
        "user_id": user, "iat": now(), "plan_status": "active",
        "plan_limits": {"max_sessions": 1}, "exp": now() + 30 * 24 * 3600,
    }))
}

/// `lib/auth.ts` `generateToken`, which the start flow signs with `jose`.
fn start_flow_token(app: &TestApp, user: &str) -> String {
    app.sign(json!({
        "user_id": user, "sub": user, "role": "USER", "plan_status": "active",
        "plan_limits": {"max_sessions": 1}, "iat": now(), "exp": now() + 3600,
    }))
}

/// Every admin call the frontend makes, with `token` (or none); the statuses in order.
async fn admin_calls(
    app: &TestApp,
    token: Option<&str>,
    round: usize,
) -> Vec<(String, StatusCode)> {
    let mut statuses = Vec::new();
    for path in [
        "/api/admin/sessions/list",
        "/api/admin/api-pairs/list",
        "/api/admin/groups/list?plan_type=STARTER",
        "/api/admin/groups/list?plan_type=ENTERPRISE",
    ] {
        let (status, body) = app.request(reqwest::Method::GET, path, token, None).await;
        if status == StatusCode::OK {
            assert_eq!(body["success"], true, "{path}: {body}");
        }
        statuses.push((path.to_owned(), status));
    }
    let writes = [
        (
            "/api/admin/api-pairs/add",
            json!({"api_id": format!("{}", 3_000_000 + round), "api_hash": format!("{:032x}", 0xabc0 + round)}),
        ),
        (
            "/api/admin/groups/update",
            json!({"plan_type": "ENTERPRISE", "groups": [format!("-100{}", 7_000_000_000u64 + round as u64)], "action": "add"}),
        ),
    ];
    for (path, body) in writes {
        let (status, _) = app
            .request(reqwest::Method::POST, path, token, Some(body))
            .await;
        statuses.push((path.to_owned(), status));
    }
    let form = Form::new().part(
        "file",
        Part::bytes(session_bytes(100 + round as u8))
            .file_name(format!("+4470000000{round:02}.session")),
    );
    let mut request = app
        .client
        .post(format!("{}/api/admin/sessions/upload", app.url))
        .multipart(form);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    statuses.push(("/api/admin/sessions/upload".into(), response.status()));
    statuses
}

fn all(statuses: &[(String, StatusCode)], expected: StatusCode, what: &str) {
    for (path, status) in statuses {
        assert_eq!(*status, expected, "{what}: {path}");
    }
}

#[tokio::test]
async fn admin_routes_take_the_access_code_token_the_frontend_forwards() {
    let app = spawn_app(0).await;
    let shapes = [
        json!({"botId": "bot-1", "userId": "owner-1", "role": "ADMIN", "email": "ops@example.com"}),
        json!({"botId": "bot-2", "userId": "owner-2", "role": "admin"}),
        json!({"botId": "bot-3", "role": "ADMIN"}),
    ];
    for (round, claims) in shapes.into_iter().enumerate() {
        let token = access_code_token(&app, claims.clone());
        all(
            &admin_calls(&app, Some(&token), round).await,
            StatusCode::OK,
            &claims.to_string(),
        );
    }
    // Signed by jose itself, as the frontend does.
    for (round, name) in ["jose_admin", "jose_admin_lowercase", "jose_admin_bot_only"]
        .into_iter()
        .enumerate()
    {
        let token = foreign_token(name);
        all(
            &admin_calls(&app, Some(&token), 10 + round).await,
            StatusCode::OK,
            name,
        );
    }
    let user = access_code_token(
        &app,
        json!({"botId": "bot-9", "userId": "owner-9", "role": "USER", "email": "u@example.com"}),
    );
    all(
        &admin_calls(&app, Some(&user), 20).await,
        StatusCode::FORBIDDEN,
        "role USER",
    );
    all(
        &admin_calls(&app, Some(&foreign_token("jose_user")), 21).await,
        StatusCode::FORBIDDEN,
        "jose role USER",
    );
    all(
        &admin_calls(&app, None, 22).await,
        StatusCode::UNAUTHORIZED,
        "no token",
    );
    app.stop().await;
}

#[tokio::test]
async fn claims_naming_two_users_are_refused_on_every_route() {
    let app = spawn_app(0).await;
    app.register("owner-a").await;
    let before = app.users_json();
    let contradicting = [
        foreign_token("jose_admin_contradicting"),
        app.sign(
            json!({"user_id": "owner-a", "userId": "owner-b", "role": "ADMIN", "exp": now() + 60}),
        ),
        app.sign(json!({"user_id": "owner-a", "sub": "owner-b", "exp": now() + 60})),
        app.sign(json!({"sub": 7, "userId": "8", "role": "admin", "exp": now() + 60})),
    ];
    for token in &contradicting {
        for (method, path, body) in [
            (reqwest::Method::GET, "/api/admin/sessions/list", None),
            (reqwest::Method::GET, "/api/sync/state", None),
            (
                reqwest::Method::POST,
                "/api/bot/update-post",
                Some(json!({"post_type": "text", "post_content": "x"})),
            ),
        ] {
            let (status, answer) = app.request(method, path, Some(token), body).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {answer}");
            assert!(detail(&answer).contains("name different users"), "{answer}");
        }
    }
    assert_eq!(app.users_json(), before, "a refused token wrote something");
    // The same spelling twice, agreeing (a number and its text), is one user.
    let agreeing = app.sign(json!({"user_id": "42", "sub": 42, "userId": "42", "exp": now() + 60}));
    let (status, body) = app
        .post("/api/bot/register-user", &agreeing, json!({}))
        .await;
    assert_eq!(
        (status, body["user_id"].as_str()),
        (StatusCode::OK, Some("42"))
    );
    // An access-code token on a tenant route means its userId, as the frontend reads it.
    let access = access_code_token(
        &app,
        json!({"botId": "bot-5", "userId": "owner-5", "role": "USER"}),
    );
    let (_, body) = app.post("/api/bot/register-user", &access, json!({})).await;
    assert_eq!(body["user_id"], "owner-5");
    app.stop().await;
}

#[tokio::test]
async fn the_frontends_tenant_order_posts_what_was_set_before_the_start() {
    let app = spawn_app_with(2, &[("HERALD_SIM_JOURNAL", "{dir}/journal.jsonl")]).await;
    let user = "supabase-uuid-order";
    let config = backend_token(&app, user);
    // The dashboard's Edit Ad and /api/bot/config, before the tenant was ever registered.
    let text = "Fresh croissants every morning at Rue 12";
    let (status, body) = app
        .post(
            "/api/bot/update-post",
            &config,
            json!({"post_type": "text", "post_content": text}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            "/api/bot/update-groups",
            &config,
            json!({"groups": ["-1001234567890", "@bakery_fans"]}),
        )
        .await;
    assert_eq!(
        (status, body["groups_count"].as_i64()),
        (StatusCode::OK, Some(2)),
        "{body}"
    );
    // Its start flow: register-user, update-execution-mode, start.
    let start = start_flow_token(&app, user);
    let (status, body) = app
        .post(
            "/api/bot/register-user",
            &start,
            json!({"email": "baker@example.com", "plan_status": "active", "plan_limits": {"max_sessions": 1}}),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("existing")),
        "{body}"
    );
    let (status, _) = app
        .post(
            "/api/bot/update-execution-mode",
            &start,
            json!({"execution_mode": "enterprise"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.post("/api/bot/start", &start, json!({})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("running")),
        "{body}"
    );

    let journal = app.path("journal.jsonl");
    let delivered = wait_for(std::time::Duration::from_secs(30), || {
        let entries = herald_telegram::Journal::read_all(&journal).unwrap_or_default();
        let ok: Vec<_> = entries
            .into_iter()
            .filter(|e| e.user_id == user && e.cycle == 1 && e.outcome.is_ok())
            .collect();
        (ok.len() == 2).then_some(ok)
    })
    .await
    .expect("the first cycle posted to both groups");
    for entry in &delivered {
        assert_eq!(
            entry.post,
            Some(herald_telegram::Post::Text(text.into())),
            "{entry:?}"
        );
    }
    let mut targets: Vec<_> = delivered.iter().map(|e| e.target.as_str()).collect();
    targets.sort_unstable();
    assert_eq!(targets, ["-1001234567890", "@bakery_fans"]);
    app.stop().await;
}

#[tokio::test]
async fn a_start_with_nothing_to_post_or_nowhere_to_post_is_400_and_consumes_nothing() {
    let app = spawn_app(2).await;
    let token = app.token("alice");
    app.post(
        "/api/bot/update-groups",
        &token,
        json!({"groups": ["@alices_group"]}),
    )
    .await;
    let pool_before = std::fs::read_dir(app.path("sessions/unused"))
        .unwrap()
        .count();
    let before = app.users_json();
    let (status, body) = app.post("/api/bot/start", &token, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        detail(&body).starts_with("Set what to post first"),
        "{body}"
    );
    assert_eq!(
        app.users_json(),
        before,
        "a refused start changed users.json"
    );

    let bob = app.token("bob");
    app.post(
        "/api/bot/update-post",
        &bob,
        json!({"post_type": "text", "post_content": "hi"}),
    )
    .await;
    let before = app.users_json();
    let (status, body) = app.post("/api/bot/start", &bob, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(detail(&body).starts_with("No groups to post to"), "{body}");
    assert_eq!(
        app.users_json(),
        before,
        "a refused start changed users.json"
    );

    let pool_after = std::fs::read_dir(app.path("sessions/unused"))
        .unwrap()
        .count();
    assert_eq!(
        pool_after, pool_before,
        "a refused start consumed a session"
    );
    app.stop().await;
}

/// Polls `check` every 100 ms until it gives a value or `limit` passes.
async fn wait_for<T>(
    limit: std::time::Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if tokio::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_calls_the_frontend_sends_without_a_token_stay_401() {
    let app = spawn_app(0).await;
    app.register("owner-1").await;
    for (method, path) in [
        (reqwest::Method::GET, "/api/admin/sessions/list"),
        (reqwest::Method::POST, "/api/bot/stop"),
        (reqwest::Method::GET, "/api/bot/logs/ab-1?lines=100"),
    ] {
        let (status, body) = app.request(method, path, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(detail(&body), "Authorization header required", "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn groups_are_taken_as_tenants_paste_them_and_invite_links_are_refused_with_the_reason() {
    let app = spawn_app(0).await;
    let token = app.token("paster");
    let (status, body) = app
        .post(
            "/api/bot/update-groups",
            &token,
            json!({"groups": ["https://t.me/Bakery_Fans", "t.me/news_room/", "abcd", "@wxyz"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, state) = app.get("/api/sync/state", &token).await;
    assert_eq!(
        state["user"]["groups"],
        json!(["@Bakery_Fans", "@news_room", "abcd", "@wxyz"])
    );
    let before = app.users_json();
    for invite in [
        "https://t.me/+AbCdEfGh12345",
        "t.me/joinchat/AAAAAEkk2WdoDrB4",
    ] {
        let (status, body) = app
            .post(
                "/api/bot/update-groups",
                &token,
                json!({"groups": [invite]}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(detail(&body).contains("never joins"), "{body}");
    }
    assert_eq!(app.users_json(), before, "a refused list stored nothing");
    app.stop().await;
}
