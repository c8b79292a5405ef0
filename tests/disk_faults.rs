//! Disk faults under a running `herald all`: its data directory on a small tmpfs that fills up,
//! then made read-only. Each failed write answers 503 with a clear reason and changes nothing,
//! users.json stays whole and unchanged, reads keep being served, and writes succeed again once
//! space (or write access) returns.
//!
//! Herald runs as `nobody` so that a read-only directory binds it (root ignores permissions, and a
//! tmpfs with files open for writing cannot be remounted read-only). Mounting and changing user
//! need root (CI runs as root). A plain `main` (harness = false): without root it says so on
//! stdout and exits 0 as skipped; as root a failed mount fails the test.

#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::Herald;

const SECRET: &str = "disk-faults-secret-disk-faults-secret";

fn main() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = Tmpfs::mount(dir.path().join("data-root"), "16m") else {
        println!(
            "test disk_full_and_read_only_refuse_writes_cleanly_and_recover ... skipped (mounting a tmpfs needs root)"
        );
        return;
    };
    tokio::runtime::Runtime::new().unwrap().block_on(
        disk_full_and_read_only_refuse_writes_cleanly_and_recover(&mount),
    );
    println!(
        "test disk_full_and_read_only_refuse_writes_cleanly_and_recover ... ok ({:.1?})",
        started.elapsed()
    );
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: PathBuf, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(&path).unwrap();
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        let root = std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false);
        assert!(
            mounted || !root,
            "running as root but could not mount a tmpfs"
        );
        mounted.then_some(Tmpfs { path })
    }
}

const NOBODY: u32 = 65534;

/// Gives the tree to `nobody` and makes every directory in it writable or not.
fn set_writable(root: &Path, writable: bool) {
    let mode = if writable { "u+w" } else { "a-w" };
    for (program, args) in [
        ("chown", vec!["-R".to_owned(), format!("{NOBODY}:{NOBODY}")]),
        ("chmod", vec!["-R".to_owned(), mode.to_owned()]),
    ] {
        let status = Command::new(program).args(args).arg(root).status().unwrap();
        assert!(status.success(), "{program} failed");
    }
}

/// Runs `herald all` as `nobody` from a copy of the binary in `dir`: the build's own path may
/// sit under a directory `nobody` cannot enter (a checkout in root's home, a 0700 temp dir).
fn spawn_as_nobody(dir: &Path, name: &str, env: &[(String, String)]) -> Herald {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let exe = dir.join("herald");
    std::fs::copy(env!("CARGO_BIN_EXE_herald"), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = std::env::temp_dir().join(format!("herald-test-{}-{name}.log", std::process::id()));
    let child = Command::new(&exe)
        .arg("all")
        .env_clear()
        .envs(env.iter().cloned())
        .uid(NOBODY)
        .gid(NOBODY)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    Herald {
        child,
        name: name.to_owned(),
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

fn token(user: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"user_id": user, "plan_status": "active", "iat": now, "exp": now + 3600}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

struct Client {
    url: String,
    http: reqwest::Client,
    token: String,
}

impl Client {
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn state(&self) -> Value {
        let response = self
            .http
            .get(format!("{}/api/sync/state", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "reads must keep working");
        response.json().await.unwrap()
    }
}

fn users_json(root: &Path) -> Vec<u8> {
    let bytes = std::fs::read(root.join("data/users.json")).unwrap();
    serde_json::from_slice::<Value>(&bytes).expect("users.json must stay whole");
    bytes
}

fn groups(tag: &str) -> Value {
    json!({"groups": [format!("@{tag}_group")]})
}

/// Fills the file system until a write fails for want of space.
fn fill(root: &Path) -> PathBuf {
    let filler = root.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.sync_all();
    filler
}

async fn disk_full_and_read_only_refuse_writes_cleanly_and_recover(mount: &Tmpfs) {
    let root = mount.path.clone();
    support::pool(&root, 2).await;
    let port = support::free_port();
    let env = support::env_vars(&[
        ("HERALD_DATA_DIR", root.to_str().unwrap()),
        ("HERALD_JWT_SECRET", SECRET),
        ("HERALD_LISTEN", &format!("127.0.0.1:{port}")),
        ("HERALD_TELEGRAM", "sim"),
        ("HERALD_LOG", "info"),
    ]);
    // `nobody` must reach the mount point inside the test's private temporary directory.
    let parent = root.parent().unwrap();
    std::fs::set_permissions(parent, std::os::unix::fs::PermissionsExt::from_mode(0o711)).unwrap();
    set_writable(&root, true);
    let mut herald = spawn_as_nobody(parent, "disk-faults-all", &env);
    let client = Client {
        url: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
        token: token("disk-tenant"),
    };
    support::wait_listening(&client.url).await;
    assert!(
        client
            .post("/api/bot/register-user", json!({}))
            .await
            .0
            .is_success()
    );
    assert!(
        client
            .post("/api/bot/update-groups", groups("before"))
            .await
            .0
            .is_success()
    );
    let before = users_json(&root);

    // Full: the write is refused with the reason, the file and the served state are unchanged.
    let filler = fill(&root);
    let (status, body) = client
        .post("/api/bot/update-groups", groups("while_full"))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("no storage space"), "{detail}");
    assert!(
        !detail.contains(root.to_str().unwrap()),
        "a path leaked: {detail}"
    );
    assert_eq!(
        users_json(&root),
        before,
        "a refused write changed users.json"
    );
    assert_eq!(
        client.state().await["user"]["groups"],
        json!(["@before_group"])
    );
    let leftovers: Vec<_> = std::fs::read_dir(root.join("data"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // Space returns: the next write succeeds and is on disk.
    std::fs::remove_file(filler).unwrap();
    assert!(
        client
            .post("/api/bot/update-groups", groups("after_full"))
            .await
            .0
            .is_success()
    );
    assert!(
        String::from_utf8(users_json(&root))
            .unwrap()
            .contains("@after_full_group")
    );

    // Read-only (`chmod a-w`): the same, with its own reason.
    let before = users_json(&root);
    set_writable(&root.join("data"), false);
    let (status, body) = client
        .post(
            "/api/bot/update-post",
            json!({"post_type": "text", "post_content": "while read-only"}),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("permission denied"),
        "{body}"
    );
    assert_eq!(users_json(&root), before);
    assert_eq!(
        client.state().await["user"]["groups"],
        json!(["@after_full_group"])
    );
    set_writable(&root.join("data"), true);
    let (status, body) = client
        .post(
            "/api/bot/update-post",
            json!({"post_type": "text", "post_content": "writable again"}),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    assert_eq!(
        client.state().await["user"]["post_content"],
        "writable again"
    );
    assert!(
        String::from_utf8(users_json(&root))
            .unwrap()
            .contains("writable again")
    );

    let status = herald.terminate();
    assert!(status.success(), "herald all exited with {status}");
}
