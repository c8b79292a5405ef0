//! The `herald` binary as operators and scripts meet it: exit status, one-line errors, tokens.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

const SECRET: &str = "test-secret-test-secret-test-secret!";

fn herald(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap());
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn token_refuses_to_run_without_a_secret_in_one_line() {
    let output = herald(&["token", "--user", "42"], &[]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("herald: no JWT secret"), "{err}");
    assert!(output.stdout.is_empty());
}

#[test]
fn a_bad_variable_stops_every_command_naming_it() {
    let output = herald(
        &["token", "--user", "42"],
        &[("HERALD_JWT_SECRET", SECRET), ("HERALD_TICK_MS", "soon")],
    );
    assert!(!output.status.success());
    let err = stderr(&output);
    assert_eq!(
        err.trim_end(),
        "herald: HERALD_TICK_MS must be a whole number from 1 to 60000, not 'soon'"
    );
}

#[test]
fn token_mints_what_the_old_frontend_signs() {
    let output = herald(
        &[
            "token",
            "--user",
            "42",
            "--admin",
            "--ttl",
            "2h",
            "--plan-status",
            "active",
            "--max-sessions",
            "3",
            "--plan-type",
            "STARTER",
        ],
        &[("HERALD_JWT_SECRET", SECRET)],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let token = String::from_utf8(output.stdout).unwrap();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims = ["exp".to_owned()].into();
    let claims: Value = jsonwebtoken::decode(
        token.trim(),
        &DecodingKey::from_secret(SECRET.as_bytes()).unwrap(),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["user_id"], "42");
    assert_eq!(claims["sub"], "42");
    assert_eq!(claims["role"], "admin");
    assert_eq!(claims["plan_status"], "active");
    assert_eq!(claims["plan_limits"]["max_sessions"], 3);
    assert_eq!(claims["plan_limits"]["plan_type"], "STARTER");
    let ttl = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(ttl, 7200);
}

#[test]
fn token_refuses_an_unsafe_user_id() {
    let output = herald(
        &["token", "--user", "../admin"],
        &[("HERALD_JWT_SECRET", SECRET)],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--user: user id may not contain '/'"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn pairs_add_and_list_mask_the_hash_and_reconcile_reports() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let hash = "d625c51e93f6b7367c1ff263cb5f7c89";
    let env = [("HERALD_DATA_DIR", root)];
    let added = herald(
        &["pairs", "add", "--api-id", "24881145", "--api-hash", hash],
        &env,
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let listed = herald(&["pairs", "list"], &env);
    let text = String::from_utf8(listed.stdout.clone()).unwrap();
    assert!(
        text.contains("24881145") && text.contains("d625…") && !text.contains(hash),
        "{text}"
    );
    assert!(!stderr(&listed).contains(hash));

    let bad = herald(
        &["pairs", "add", "--api-id", "x1", "--api-hash", hash],
        &env,
    );
    assert!(!bad.status.success());
    assert_eq!(
        stderr(&bad).trim_end(),
        "herald: api_id must be a number (digits only)"
    );

    std::fs::create_dir_all(dir.path().join("sessions/assigned/9")).unwrap();
    std::fs::write(dir.path().join("sessions/assigned/9/a.session"), b"x").unwrap();
    let reconciled = herald(&["reconcile"], &env);
    assert!(reconciled.status.success(), "{}", stderr(&reconciled));
    let text = String::from_utf8(reconciled.stdout).unwrap();
    assert!(text.contains("orphan    a.session"), "{text}");
    assert!(dir.path().join("sessions/unused/a.session").exists());
    let listed = herald(&["sessions", "list"], &env);
    assert!(
        String::from_utf8(listed.stdout)
            .unwrap()
            .starts_with("1 unused, 0 assigned, 0 banned, 0 frozen")
    );
}

#[test]
fn sessions_import_takes_good_files_and_refuses_bad_ones_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let good = src.path().join("+254708803721.session");
    herald_session_file::write_telethon(
        &good,
        &herald_session_file::SessionCredentials {
            dc_id: 4,
            server_address: "149.154.167.91".into(),
            port: 443,
            auth_key: herald_session_file::AuthKey::new([4; 256]),
        },
    )
    .unwrap();
    let bad = src.path().join("junk.session");
    std::fs::write(&bad, b"not a session").unwrap();
    let output = herald(
        &[
            "sessions",
            "import",
            good.to_str().unwrap(),
            bad.to_str().unwrap(),
        ],
        &[("HERALD_DATA_DIR", dir.path().to_str().unwrap())],
    );
    assert!(!output.status.success());
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    assert!(
        text.contains("imported  +254708803721.session (TelethonSqlite)"),
        "{text}"
    );
    assert!(
        text.contains("refused   ") && text.contains("junk.session is not a usable session"),
        "{text}"
    );
    assert_eq!(stderr(&output).trim_end(), "herald: 1 of 2 files refused");
    assert!(
        dir.path()
            .join("sessions/unused/+254708803721.session")
            .is_file()
    );
    assert!(!dir.path().join("sessions/unused/junk.session").exists());
}

#[test]
fn the_demo_refuses_a_directory_that_holds_a_deployment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/users.json"), r#"{"users": {}}"#).unwrap();
    let before = std::fs::read_dir(dir.path()).unwrap().count();
    let output = herald(
        &["all", "--demo"],
        &[
            ("HERALD_DATA_DIR", dir.path().to_str().unwrap()),
            ("HERALD_LISTEN", "127.0.0.1:0"),
        ],
    );
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("holds a deployment (data/users.json)"),
        "{err}"
    );
    assert!(err.contains("--demo never writes into one"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        before,
        "nothing was written"
    );
    assert!(!dir.path().join("data/groups").exists());
}

#[test]
fn herald_all_does_not_serve_when_its_scheduler_cannot_lead() {
    // Another scheduler holds the lead (its lease set by hand, never renewed into an epoch):
    // herald all's scheduler stands by, so herald all says why and exits non-zero.
    let redis = herald_jobs::testing::RedisServer::start();
    let port = redis.port().to_string();
    for args in [
        &[
            "hset",
            "herald:lease:scheduler",
            "holder",
            "someone-else",
            "renewed",
            "0",
        ][..],
        &["pexpire", "herald:lease:scheduler", "120000"][..],
    ] {
        let done = Command::new("redis-cli")
            .args(["-p", &port])
            .args(args)
            .output()
            .unwrap();
        assert!(done.status.success());
    }
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let output = herald(
        &["all"],
        &[
            ("HERALD_DATA_DIR", dir.path().to_str().unwrap()),
            ("HERALD_JWT_SECRET", SECRET),
            ("HERALD_REDIS_URL", &redis.url()),
            ("HERALD_LISTEN", "127.0.0.1:0"),
            ("HERALD_LEASE_TTL_MS", "500"),
            ("HERALD_TELEGRAM", "sim"),
        ],
    );
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("did not take the lead"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}

#[test]
fn a_benchmark_creates_the_directory_it_is_given() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("not/yet");
    let output = herald(
        &[
            "bench",
            "posts",
            "--users",
            "2",
            "--groups",
            "1",
            "--seconds",
            "1",
            "--dir",
            missing.to_str().unwrap(),
        ],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(missing.is_dir());
}
