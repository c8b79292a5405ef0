//! The admin routes as the old frontend's admin pages call them, and hostile uploads.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn the_admin_pages_work_as_before() {
    let app = spawn_app(2).await;
    let admin = app.admin_token();
    app.register("alice").await;

    let (status, body) = app.get("/api/admin/sessions/list", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["counts"]["unused"], 2);
    assert!(body["sessions"]["assigned"].as_array().unwrap().is_empty());

    let (status, body) = upload(
        &app,
        "/api/admin/sessions/upload",
        "917862974695 (2).session",
        session_bytes(9),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            body["filename"].as_str(),
            body["verification"]["valid"].as_bool()
        ),
        (Some("917862974695 (2).session"), Some(true))
    );
    let (status, body) = upload(
        &app,
        "/api/admin/sessions/upload",
        "917862974695 (2).session",
        session_bytes(9),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = upload(
        &app,
        "/api/admin/sessions/upload",
        "junk.session",
        b"not sqlite".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    detail(&body);

    let name = session_name(0);
    let (status, body) = app
        .post(
            "/api/admin/sessions/assign",
            &admin,
            json!({"filename": name, "user_id": "alice"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user_id"], "alice");
    assert!(body.get("path").is_none(), "no server path in answers");
    // API pairs: the hash never leaves whole.
    let (status, body) = app
        .post(
            "/api/admin/api-pairs/add",
            &admin,
            json!({"api_id": "25170767", "api_hash": "d512fd74809a4ca3cd59078eef73afcd"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["pair"]["api_hash"], "d512…");
    let (status, _) = app
        .post(
            "/api/admin/api-pairs/add",
            &admin,
            json!({"api_id": "25170767", "api_hash": "d512fd74809a4ca3cd59078eef73afcd"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, body) = app.get("/api/admin/api-pairs/list", &admin).await;
    assert_eq!(body["count"], 2);
    assert!(
        !body
            .to_string()
            .contains("d625c51e93f6b7367c1ff263cb5f7c89")
    );
    let (status, body) = app
        .request(
            reqwest::Method::DELETE,
            "/api/admin/api-pairs/24881145",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "pair 0 holds alice's session: {body}"
    );
    let (status, _) = app
        .request(
            reqwest::Method::DELETE,
            "/api/admin/api-pairs/25170767",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = app.get("/api/admin/api-pairs/list", &admin).await;
    assert_eq!(
        (
            body["count"].as_u64(),
            body["pairs"][1]["retired"].as_bool()
        ),
        (Some(2), Some(true)),
        "retired in place"
    );

    let (_, body) = app
        .post(
            "/api/admin/sessions/verify",
            &admin,
            json!({"filename": name}),
        )
        .await;
    assert_eq!(
        (
            body["valid"].as_bool(),
            body["location"].as_str(),
            body["user_id"].as_str()
        ),
        (Some(true), Some("assigned"), Some("alice"))
    );
    let (_, body) = app
        .post(
            "/api/admin/sessions/health-check",
            &admin,
            json!({"session_filenames": [name]}),
        )
        .await;
    assert_eq!(body["results"][&name]["status"], "active", "{body}");
    let (status, body) = app
        .post("/api/admin/sessions/ban", &admin, json!({"filename": name}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["replacement"].is_string(),
        "a banned session of a tenant is replaced: {body}"
    );
    let replacement = body["replacement"].as_str().unwrap().to_owned();
    let (status, _) = app
        .post(
            "/api/admin/sessions/unassign",
            &admin,
            json!({"filename": replacement, "user_id": "alice"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = app
        .post(
            "/api/admin/sessions/verify",
            &admin,
            json!({"filename": "../etc/passwd.session"}),
        )
        .await;
    detail(&body);

    // Plan groups.
    let (status, body) = app.post("/api/admin/groups/update", &admin, json!({"plan_type": "STARTER", "groups": ["-1001111111111", "@starter_one"], "action": "replace"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["count"].as_u64(), body["added"].as_u64()),
        (Some(2), Some(2))
    );
    let (_, body) = app
        .get("/api/admin/groups/list?plan_type=STARTER", &admin)
        .await;
    assert_eq!(
        (body["file_path"].as_str(), body["file_exists"].as_bool()),
        (Some("data/groups/starter_groups.txt"), Some(true))
    );
    let (_, body) = app
        .post(
            "/api/admin/groups/validate",
            &admin,
            json!({"groups": ["-1001234567890", "bad group"]}),
        )
        .await;
    assert_eq!(
        (
            body["valid_count"].as_u64(),
            body["invalid"][0]["index"].as_u64()
        ),
        (Some(1), Some(1))
    );

    let (status, body) = app
        .post("/api/admin/users/alice/unsuspend", &admin, json!({}))
        .await;
    assert_eq!(
        (status, body["success"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    app.stop().await;
}

#[tokio::test]
async fn hostile_zips_are_refused_entry_by_entry_or_whole() {
    let app = spawn_app(0).await;
    let good = session_bytes(1);
    let bomb = vec![0u8; 4 * 1024 * 1024];
    let archive = zip(&[
        ("good.session", good.clone()),
        ("../escape.session", good.clone()),
        ("nested/inside.session", good.clone()),
        (".hidden.session", good.clone()),
        ("bomb.session", bomb),
        ("notes.txt", b"hello".to_vec()),
    ]);
    let (status, body) = upload(&app, "/api/admin/sessions/bulk-upload", "pool.zip", archive).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["extracted"], json!(["good.session"]));
    let rejected: Vec<&str> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["filename"].as_str().unwrap())
        .collect();
    for name in [
        "../escape.session",
        "nested/inside.session",
        ".hidden.session",
        "bomb.session",
        "notes.txt",
    ] {
        assert!(rejected.contains(&name), "{name} not rejected: {body}");
    }
    assert!(!app.path("escape.session").exists() && !app.path("sessions/escape.session").exists());
    let unused: Vec<String> = std::fs::read_dir(app.path("sessions/unused"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(unused, vec!["good.session"]);

    let many: Vec<(String, Vec<u8>)> = (0..1001)
        .map(|i| (format!("s{i}.session"), vec![1]))
        .collect();
    let refs: Vec<(&str, Vec<u8>)> = many.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
    let (status, body) = upload(
        &app,
        "/api/admin/sessions/bulk-upload",
        "many.zip",
        zip(&refs),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(detail(&body).contains("at most 1000"));
    let (status, body) = upload(
        &app,
        "/api/admin/sessions/bulk-upload",
        "fake.zip",
        b"PK not a zip".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    detail(&body);
    app.stop().await;
}

#[tokio::test]
async fn the_console_pages_filters_and_acts_through_admin_routes_only() {
    let app = spawn_app(3).await;
    let admin = app.admin_token();
    for user in ["alice", "bob", "carol"] {
        app.register(user).await;
    }

    // The page is public and carries no data; its JSON is for admins only.
    let page = reqwest::get(format!("{}/console", app.url)).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(page.text().await.unwrap().contains("/console/app.js"));
    let (status, _) = app
        .get("/api/admin/console/overview", &app.token("alice"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get("/api/admin/console/tenants", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, body) = app.get("/api/admin/console/overview", &admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["pool"]["unused"], 3, "{body}");
    assert_eq!(body["tenants"]["total"], 3, "{body}");
    let roles: Vec<(&str, bool)> = body["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["role"].as_str().unwrap(), p["leader"].as_bool().unwrap()))
        .collect();
    assert!(
        roles.contains(&("scheduler", true)) && roles.contains(&("worker", false)),
        "{body}"
    );

    // Paged in id order, filtered by status and by a piece of the id.
    let (_, body) = app
        .get("/api/admin/console/tenants?per_page=2&page=2", &admin)
        .await;
    assert_eq!(
        (body["total"].as_u64(), body["pages"].as_u64()),
        (Some(3), Some(2)),
        "{body}"
    );
    assert_eq!(body["tenants"][0]["user_id"], "carol");
    assert_eq!(body["tenants"][0]["status"], "stopped");
    let (_, body) = app.get("/api/admin/console/tenants?q=ob", &admin).await;
    assert_eq!(body["tenants"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["tenants"][0]["user_id"], "bob");
    let (_, body) = app
        .get("/api/admin/console/tenants?status=running", &admin)
        .await;
    assert_eq!(body["total"], 0, "{body}");
    let far = format!("/api/admin/console/tenants?page={}", usize::MAX);
    let (status, body) = app.get(&far, &admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            body["total"].as_u64(),
            body["tenants"].as_array().map(Vec::len)
        ),
        (Some(3), Some(0))
    );
    let (status, body) = app
        .get("/api/admin/console/tenants?status=asleep", &admin)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app
        .get("/api/admin/console/tenants/alice/activity", &admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["minutes"].as_array().unwrap().len(), 60);
    let (status, _) = app
        .get("/api/admin/console/tenants/nobody/activity", &admin)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Release gives a stopped tenant's sessions back; unblocking what is not blocked changes nothing.
    let (_, listing) = app.get("/api/admin/sessions/list", &admin).await;
    let session = listing["sessions"]["unused"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = app
        .post(
            "/api/admin/sessions/assign",
            &admin,
            json!({"filename": session, "user_id": "alice"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .post("/api/admin/users/alice/release", &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["released"], json!([session]));
    let (_, listing) = app.get("/api/admin/sessions/list", &admin).await;
    assert_eq!(listing["counts"]["unused"], 3, "{listing}");
    let before = app.users_json();
    let (status, body) = app
        .post(
            "/api/admin/users/alice/unblock-group",
            &admin,
            json!({"group": "@never"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "@never was not blocked");
    let (status, _) = app
        .post(
            "/api/admin/users/alice/unblock-group",
            &admin,
            json!({"group": " "}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .post(
            "/api/admin/users/nobody/unblock-group",
            &admin,
            json!({"group": "@x"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.users_json(),
        before,
        "refused and empty changes left users.json byte for byte as it was"
    );
    app.stop().await;
}
