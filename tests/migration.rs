//! Coming from the Python backend: a directory laid out exactly as the old backend leaves it is
//! reconciled and served by Herald, and what the old backend wrote survives Herald's writes.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::time::Duration;

use herald_session_file::{AuthKey, SessionCredentials, write_telethon};
use serde_json::{Value, json};
use support::Herald;

const SECRET: &str = "the-old-backends-jwt-secret-is-long-enough";

fn write(root: &Path, path: &str, bytes: &[u8]) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn session(root: &Path, path: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let credentials = SessionCredentials {
        dc_id: 4,
        server_address: "149.154.167.91".into(),
        port: 443,
        auth_key: AuthKey::new([3; 256]),
    };
    write_telethon(path, &credentials).unwrap();
}

/// What the old backend leaves behind: a running bot, its counters in the old timestamp format,
/// pairs, plan group files, sessions in its three folders (one assigned file never moved), logs.
fn old_backend(root: &Path) {
    write(
        root,
        "data/users.json",
        br#"{
  "users": {
    "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed": {
      "assigned_sessions": ["+254708803721.session"],
      "api_pairs": [0],
      "groups": ["-1001234567890", "@somegroup"],
      "post_type": "link",
      "post_content": "https://t.me/somechannel/42",
      "bot_status": "running",
      "delay_between_posts": 5,
      "delay_between_cycles": 300,
      "execution_mode": "enterprise",
      "plan_status": "active",
      "plan_limits": {"max_sessions": 1},
      "email": "tenant@example.com"
    }
  }
}"#,
    );
    write(root, "data/stats.json", br#"{"users": {"1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed": {"total_posts": 120, "total_success": 100, "total_failures": 20, "total_flood_waits": 3, "total_messages_sent": 100, "last_activity": "2025-12-21T19:23:23.123456"}}}"#);
    write(
        root,
        "data/api_pairs.json",
        br#"{"pairs": [{"api_id": "24881145", "api_hash": "d625c51e93f6b7367c1ff263cb5f7c89"}]}"#,
    );
    write(root, "data/groups/enterprise_groups.txt", b"");
    write(
        root,
        "data/groups/starter_groups.txt",
        b"# starter groups\n-1009876543210\n",
    );
    session(root, "sessions/unused/+254708803721.session");
    session(root, "sessions/unused/917862974695 (2).session");
    session(root, "sessions/banned/+254727162683.session");
    write(
        root,
        "logs/1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed/2025-12-21.log",
        b"2025-12-21 19:23:23 - INFO - Cycle completed\n",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_old_backend_directory_is_served_as_is() {
    let dir = tempfile::tempdir().unwrap();
    old_backend(dir.path());
    let root = dir.path().to_str().unwrap();
    let port = support::free_port();
    let env = support::env_vars(&[
        ("HERALD_DATA_DIR", root),
        ("JWT_SECRET", SECRET),
        ("HERALD_LISTEN", &format!("127.0.0.1:{port}")),
        ("HERALD_TELEGRAM", "sim"),
        ("HERALD_MIN_DELAY_BETWEEN_POSTS", "1"),
        ("HERALD_LOG", "warn"),
    ]);

    // Step 3 of the README: reconcile once.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("reconcile")
        .env_clear()
        .envs(env.clone())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = String::from_utf8(output.stdout).unwrap();
    assert!(
        report.contains("moved     +254708803721.session: unused -> assigned/1b9d6bcd"),
        "{report}"
    );
    assert!(
        report.contains("banned    +254727162683.session"),
        "{report}"
    );

    let mut herald = Herald::spawn("migration-all", &["all"], &env);
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let now = chrono::Utc::now().timestamp();
    // A token exactly as the old frontend's backend-jwt.ts signs it: user_id, plan fields, HS256.
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"user_id": "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed", "plan_status": "active", "plan_limits": {"max_sessions": 1}, "iat": now, "exp": now + 3600}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    let mut state = Value::Null;
    for _ in 0..200 {
        if let Ok(response) = client
            .get(format!("{url}/api/sync/state"))
            .bearer_auth(&token)
            .send()
            .await
        {
            state = response.json().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The old tenant's configuration and counters, and the restart rule's stop.
    assert_eq!(
        state["user"]["post_content"], "https://t.me/somechannel/42",
        "{state}"
    );
    assert_eq!(
        state["user"]["assigned_sessions"],
        json!(["+254708803721.session"])
    );
    assert_eq!(
        state["user"]["bot_status"], "stopped",
        "bots stop on Herald's first start"
    );
    assert_eq!(state["stats"]["total_posts"], 120);
    assert_eq!(state["stats"]["success_rate"], 83.33);
    assert_eq!(
        state["stats"]["last_activity"],
        "2025-12-21T19:23:23.123456Z"
    );

    // The tenant starts again: its old session posts.
    let started: Value = client
        .post(format!("{url}/api/bot/start"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(started["status"], "running", "{started}");
    for _ in 0..100 {
        let state: Value =
            support::get_json(&client, &format!("{url}/api/sync/state"), &token).await;
        if state["stats"]["total_posts"].as_u64().unwrap() > 120 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = client
        .post(format!("{url}/api/bot/stop"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(herald.terminate().success());
    // One simulated world in the one process: the worker and the admin health check share it.
    let log = std::fs::read_to_string(herald.log_path()).unwrap();
    assert_eq!(log.matches("Telegram is simulated").count(), 1, "{log}");

    // What the old backend wrote is still there, beside Herald's additions.
    let users: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("data/users.json")).unwrap())
            .unwrap();
    let tenant = &users["users"]["1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed"];
    assert_eq!(tenant["email"], "tenant@example.com");
    assert_eq!(tenant["plan_limits"], json!({"max_sessions": 1}));
    assert_eq!(tenant["groups"], json!(["-1001234567890", "@somegroup"]));
    assert!(
        users["unowned_bans"]["+254727162683.session"].is_object(),
        "the folder-only ban is recorded"
    );
    let stats: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("data/stats.json")).unwrap())
            .unwrap();
    assert!(
        stats["users"]["1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed"]["total_posts"]
            .as_u64()
            .unwrap()
            > 120,
        "counting went on from the old counters"
    );
    assert!(
        dir.path()
            .join("logs/1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed/2025-12-21.log")
            .exists(),
        "old logs are kept"
    );
}
