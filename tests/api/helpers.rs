//! `spawn_app()`: the whole of Herald in this process on port 0 (in-process queue and
//! coordination, simulated Telegram, a temporary data directory with a pool of sessions and one
//! API pair), and a client that talks to it as the old frontend does.

use std::collections::HashMap;
use std::path::PathBuf;

use herald::config::{Config, Source};
use herald::startup::{self, Running};
use herald_session_file::{AuthKey, SessionCredentials, write_telethon};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::io::Write;

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub const SECRET: &str = "compat-suite-secret-at-least-32-bytes!!";

pub struct TestApp {
    pub url: String,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    running: Option<Running>,
}

pub fn session_name(i: usize) -> String {
    format!("+2547{i:08}.session")
}

/// Starts Herald with `sessions` session files in the pool and one API pair.
pub async fn spawn_app(sessions: usize) -> TestApp {
    spawn_app_with(sessions, &[]).await
}

/// Like [`spawn_app`], with more (or overriding) environment; `{dir}` in a value is replaced
/// by the data directory.
pub async fn spawn_app_with(sessions: usize, extra_env: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let unused = dir.path().join("sessions/unused");
    std::fs::create_dir_all(&unused).unwrap();
    for i in 0..sessions {
        let credentials = SessionCredentials {
            dc_id: 4,
            server_address: "149.154.167.91".into(),
            port: 443,
            auth_key: AuthKey::new([i as u8; 256]),
        };
        write_telethon(unused.join(session_name(i)), &credentials).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(
        dir.path().join("data/api_pairs.json"),
        r#"{"pairs": [{"api_id": "24881145", "api_hash": "d625c51e93f6b7367c1ff263cb5f7c89"}]}"#,
    )
    .unwrap();
    let env: HashMap<String, String> = [
        ("HERALD_DATA_DIR", dir.path().to_str().unwrap()),
        ("HERALD_JWT_SECRET", SECRET),
        ("HERALD_TELEGRAM", "sim"),
        ("HERALD_MIN_DELAY_BETWEEN_POSTS", "1"),
        ("HERALD_MIN_DELAY_BETWEEN_CYCLES", "1"),
        ("HERALD_COMMAND_WAIT_MS", "5000"),
        ("HERALD_LOG", "warn"),
    ]
    .iter()
    .chain(extra_env)
    .map(|(k, v)| {
        let v = v.replace("{dir}", dir.path().to_str().unwrap());
        (k.to_string(), v)
    })
    .collect();
    let config = Config::load(&Source::from_map(env).unwrap()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = startup::start(&config, listener, CancellationToken::new())
        .await
        .unwrap();
    TestApp {
        url: format!("http://{}", running.address),
        dir,
        client: reqwest::Client::new(),
        running: Some(running),
    }
}

impl TestApp {
    /// Signs claims with the shared secret, HS256, as the Next.js frontend's `jsonwebtoken` does.
    pub fn sign(&self, claims: Value) -> String {
        sign_with(claims, SECRET, Algorithm::HS256)
    }

    /// A token shaped like the old frontend's: user_id, sub, role, plan_status, plan_limits.
    pub fn token(&self, user: &str) -> String {
        self.sign(json!({
            "user_id": user, "sub": user, "role": "user", "plan_status": "active",
            "plan_limits": {"max_sessions": 1, "plan_type": "ENTERPRISE"},
            "iat": now(), "exp": now() + 3600,
        }))
    }

    pub fn admin_token(&self) -> String {
        self.sign(
            json!({"user_id": "admin-1", "sub": "admin-1", "role": "ADMIN", "exp": now() + 3600}),
        )
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{path}: not JSON ({status}): {text}"));
        (status, value)
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.request(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.request(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn register(&self, user: &str) {
        let (status, _) = self
            .post("/api/bot/register-user", &self.token(user), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    pub fn users_json(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("data/users.json")).unwrap_or_default()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.unwrap();
        }
    }
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn sign_with(claims: Value, secret: &str, algorithm: Algorithm) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// A token minted by another library (`scripts/mint-foreign-tokens` wrote the fixtures).
pub fn foreign_token(name: &str) -> String {
    let fixtures: Value =
        serde_json::from_str(include_str!("fixtures/foreign_tokens.json")).unwrap();
    fixtures
        .as_array()
        .unwrap()
        .iter()
        .find_map(|library| library["tokens"][name].as_str())
        .unwrap_or_else(|| panic!("no fixture token {name}"))
        .to_owned()
}

/// Asserts the contract's error shape and returns `detail`.
pub fn detail(body: &Value) -> String {
    let detail = body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail in {body}"));
    assert!(body["error"]["code"].is_string(), "no error.code in {body}");
    assert_eq!(
        body["error"]["message"], detail,
        "error.message repeats detail"
    );
    detail.to_owned()
}

/// `POST path` with `bytes` as the multipart field `file`, as the admin pages upload.
pub async fn upload(app: &TestApp, path: &str, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_owned()));
    let response = app
        .client
        .post(format!("{}{path}", app.url))
        .bearer_auth(app.admin_token())
        .multipart(form)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// A valid Telethon session file.
pub fn session_bytes(seed: u8) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.session");
    let credentials = herald_session_file::SessionCredentials {
        dc_id: 2,
        server_address: "149.154.167.51".into(),
        port: 443,
        auth_key: herald_session_file::AuthKey::new([seed; 256]),
    };
    herald_session_file::write_telethon(&path, &credentials).unwrap();
    std::fs::read(path).unwrap()
}

/// A deflated zip of `entries`.
pub fn zip(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}
