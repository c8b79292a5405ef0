//! The operator's console in a real browser: `herald all --demo` (grammers against its test DC,
//! faults from a scenario file), driven by headless Chromium over WebDriver. The page signs in
//! from the demo's link, shows a running tenant's posts rising, a flood wait the scenario
//! injected on its session with a countdown, a blocked group with its reason, and an unsuspend
//! button that works; no secret reaches the page or what it fetches. Screenshots go to
//! `target/tmp/console-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver`; without them it says so and passes, unless
//! `HERALD_REQUIRE_BROWSER` is set (`.ci/run` installs both and sets it).

#![allow(clippy::unwrap_used)]

#[path = "support/webdriver.rs"]
mod webdriver;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use webdriver::Browser;

/// The demo's plan group the scenario forbids.
const FORBIDDEN: &str = "-1001234567891";
const SUSPENDED: &str = "suspended-tenant";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A demo directory (marked as an earlier demo's) holding one suspended tenant, and a scenario:
/// one forbidden plan group, long flood waits now and then.
fn prepare(dir: &Path) -> PathBuf {
    std::fs::write(dir.join(".herald-demo"), "made by the console test\n").unwrap();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let users = json!({"users": {SUSPENDED: {
        "bot_status": "suspended",
        "suspended_reason": "3 replacement sessions in 24 h",
        "replacements": [chrono::Utc::now()],
    }}});
    std::fs::write(dir.join("data/users.json"), users.to_string()).unwrap();
    let scenario = dir.join("scenario.toml");
    std::fs::write(
        &scenario,
        format!(
            "seed = 11\nlatency_ms = {{ min = 5, max = 40 }}\n\
             flood_wait = {{ rate = 0.12, min_secs = 900, max_secs = 900 }}\n\
             [[forbidden_targets]]\ntarget = \"{FORBIDDEN}\"\ncode = \"CHAT_WRITE_FORBIDDEN\"\n"
        ),
    )
    .unwrap();
    scenario
}

struct Demo {
    child: std::process::Child,
    url: String,
    console_link: String,
    tenant_token: String,
    admin_token: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_demo(dir: &Path, scenario: &Path) -> Demo {
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["all", "--demo"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HERALD_DATA_DIR", dir)
        .env("HERALD_LISTEN", format!("127.0.0.1:{port}"))
        .env("HERALD_SIM_SCENARIO", scenario)
        .env("HERALD_MIN_DELAY_BETWEEN_POSTS", "1")
        .env("HERALD_MIN_DELAY_BETWEEN_CYCLES", "2")
        .env("HERALD_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let banner = tokio::task::spawn_blocking(move || {
        let mut banner = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.starts_with("ADMIN_TOKEN=");
            banner.push(line);
            if done {
                return banner;
            }
        }
        panic!("the demo printed no admin token: {banner:?}");
    })
    .await
    .unwrap();
    let value = |prefix: &str| {
        banner
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in the banner: {banner:?}"))
            .trim()
            .to_owned()
    };
    let console_link = value("Console:")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    Demo {
        child,
        url: format!("http://127.0.0.1:{port}"),
        console_link,
        tenant_token: value("TENANT_TOKEN="),
        admin_token: value("ADMIN_TOKEN="),
    }
}

/// The demo tenant configured (text post, short delays) and started through the API.
async fn start_tenant(demo: &Demo) {
    let client = reqwest::Client::new();
    for (path, body) in [
        ("/api/bot/register-user", json!({})),
        (
            "/api/bot/update-post",
            json!({"post_type": "text", "post_content": "Hello from the console test"}),
        ),
        (
            "/api/bot/update-delays",
            json!({"delay_between_posts": 1, "delay_between_cycles": 2}),
        ),
        ("/api/bot/start", json!({})),
    ] {
        let answer = client
            .post(format!("{}{path}", demo.url))
            .bearer_auth(&demo.tenant_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            answer.status().is_success(),
            "{path}: {}",
            answer.text().await.unwrap()
        );
    }
}

fn shots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tenant_cell(tenant: &str, cell: &str) -> String {
    format!("#tenants tr[data-tenant=\"{tenant}\"] .{cell}")
}

async fn number(browser: &Browser, css: &str) -> Option<u64> {
    browser.text_of(css).await?.trim().parse().ok()
}

/// Seconds in a countdown such as `14m 57s`, `59s` or `1h 02m`.
fn seconds(countdown: &str) -> Option<u64> {
    let mut total = 0;
    for part in countdown.split_whitespace() {
        let (n, unit) = part.split_at(part.find(|c: char| !c.is_ascii_digit())?);
        let n: u64 = n.parse().ok()?;
        total += n * match unit {
            "h" => 3600,
            "m" => 60,
            "s" => 1,
            _ => return None,
        };
    }
    Some(total)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_shows_a_running_demo_and_lifts_a_suspension() {
    let Some((chromedriver, chromium)) = webdriver::browser_binaries() else {
        assert!(
            std::env::var_os("HERALD_REQUIRE_BROWSER").is_none(),
            "HERALD_REQUIRE_BROWSER is set but chromium/chromedriver are missing (apt-get install chromium chromium-driver)"
        );
        eprintln!(
            "SKIPPED: chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scenario = prepare(dir.path());
    let demo = start_demo(dir.path(), &scenario).await;
    let browser = Browser::start(&chromedriver, &chromium, free_port()).await;
    let shots = shots();
    let wait = Duration::from_secs(90);

    // Signed in by the demo's link; the token leaves the address bar at once.
    assert!(
        demo.console_link.contains("/console#token="),
        "{}",
        demo.console_link
    );
    browser.goto(&demo.console_link).await;
    let suspended_row = format!("#tenants tr[data-tenant=\"{SUSPENDED}\"]");
    browser
        .wait_for("the suspended tenant's row", wait, || {
            browser.find(&suspended_row)
        })
        .await;
    let url = browser.current_url().await;
    assert!(
        !url.contains("token"),
        "the token stayed in the address bar: {url}"
    );
    browser.screenshot(&shots.join("01-signed-in.png")).await;

    // A running tenant's posts rise.
    start_tenant(&demo).await;
    let posts = tenant_cell("demo-tenant", "posts");
    let first = browser
        .wait_for("the demo tenant's first posts", wait, || async {
            number(&browser, &posts).await.filter(|n| *n > 0)
        })
        .await;
    browser
        .wait_for("the demo tenant's posts to rise", wait, || async {
            number(&browser, &posts).await.filter(|n| *n > first)
        })
        .await;
    assert_eq!(
        browser
            .text_of(&tenant_cell("demo-tenant", "status"))
            .await
            .as_deref(),
        Some("running")
    );
    browser
        .execute("document.getElementById('tenants').scrollIntoView()")
        .await;
    browser.screenshot(&shots.join("02-posts-rising.png")).await;

    // A flood wait the scenario injected, on its session, counting down.
    let countdown = "#flood-waits tr[data-session] .countdown";
    let (session, left) = browser
        .wait_for("a flood wait on a session", wait, || async {
            let row = browser.find("#flood-waits tr[data-session]").await?;
            let session = browser.attribute(&row, "data-session").await?;
            let left = seconds(&browser.text_of(countdown).await?)?;
            Some((session, left))
        })
        .await;
    assert!(session.starts_with("demo-"), "{session}");
    assert!(
        (800..=900).contains(&left),
        "a 900 s flood wait shows {left} s left"
    );
    browser
        .wait_for("the countdown to move", Duration::from_secs(10), || async {
            seconds(&browser.text_of(countdown).await?).filter(|s| *s < left)
        })
        .await;
    browser.execute("window.scrollTo(0, 0)").await;
    browser.screenshot(&shots.join("03-flood-wait.png")).await;

    // The forbidden group, blocked for the tenant, with Telegram's reason.
    let blocked = format!(
        "{} li[data-group=\"{FORBIDDEN}\"]",
        tenant_cell("demo-tenant", "blocked")
    );
    let reason = browser
        .wait_for("the blocked group", wait, || browser.text_of(&blocked))
        .await;
    assert!(
        reason.contains(FORBIDDEN) && reason.contains("CHAT_WRITE_FORBIDDEN"),
        "{reason}"
    );
    browser
        .execute("document.getElementById('tenants').scrollIntoView()")
        .await;
    browser
        .screenshot(&shots.join("04-blocked-group.png"))
        .await;

    // Unsuspend: asks first, then works.
    assert_eq!(
        browser
            .text_of(&tenant_cell(SUSPENDED, "status"))
            .await
            .as_deref(),
        Some("suspended")
    );
    let button = browser
        .find(&format!(
            "{} button[data-action=\"unsuspend\"]",
            tenant_cell(SUSPENDED, "actions")
        ))
        .await
        .expect("no unsuspend button on the suspended tenant");
    browser.click(&button).await;
    let question = browser
        .wait_for("the confirmation", Duration::from_secs(5), || {
            browser.alert_text()
        })
        .await;
    assert!(question.contains(SUSPENDED), "{question}");
    browser.accept_alert().await;
    browser
        .wait_for("the tenant to show stopped", wait, || async {
            browser
                .text_of(&tenant_cell(SUSPENDED, "status"))
                .await
                .filter(|s| s == "stopped")
        })
        .await;
    browser.screenshot(&shots.join("05-unsuspended.png")).await;
    let client = reqwest::Client::new();
    let page: Value = client
        .get(format!(
            "{}/api/admin/console/tenants?q={SUSPENDED}",
            demo.url
        ))
        .bearer_auth(&demo.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["tenants"][0]["status"], "stopped", "{page}");

    // No secret on the page or in what it fetches.
    let pairs: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("data/api_pairs.json")).unwrap())
            .unwrap();
    let hashes: Vec<String> = pairs["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["api_hash"].as_str().unwrap().to_owned())
        .collect();
    assert!(!hashes.is_empty());
    let mut seen = vec![("the page".to_owned(), browser.source().await)];
    for path in [
        "/api/admin/console/overview",
        "/api/admin/console/tenants",
        "/api/admin/console/tenants/demo-tenant/activity",
        "/console",
        "/console/app.js",
    ] {
        let body = client
            .get(format!("{}{path}", demo.url))
            .bearer_auth(&demo.admin_token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        seen.push((path.to_owned(), body));
    }
    let data_dir = dir.path().to_string_lossy().into_owned();
    for (what, text) in &seen {
        for hash in &hashes {
            assert!(!text.contains(hash.as_str()), "{what} holds an api_hash");
        }
        assert!(!text.contains("api_hash"), "{what} names an api_hash");
        assert!(
            !text.contains(&demo.admin_token),
            "{what} holds the admin token"
        );
        assert!(
            !text.contains(&demo.tenant_token),
            "{what} holds a tenant token"
        );
        assert!(!text.contains(&data_dir), "{what} holds a server path");
        assert!(
            !text.contains("sessions/assigned"),
            "{what} holds a session path"
        );
    }
}
