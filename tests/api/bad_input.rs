//! Malformed and hostile input on every route, one test per case (the table is the macro call
//! below): each is answered with the expected status in the contract's error shape (400 for a
//! body of the wrong shape, as for the old backend's validation failures), never leaks a path or
//! secret, and leaves every file of the data directory as it was. The few 200s are refusals the
//! contract answers entry by entry (bulk upload) or harmlessly (logs are always the caller's).

use std::collections::BTreeMap;
use std::path::Path;

use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

enum Who {
    Tenant,
    Admin,
}

enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
    File(&'static str, Vec<u8>),
}

fn raw(content_type: &'static str, text: &str) -> Body {
    Body::Raw(content_type, text.as_bytes().to_vec())
}

fn groups(list: Vec<String>) -> Body {
    Body::Json(json!({ "groups": list }))
}

/// Every file under the data directory, with its bytes. Tenant logs are left out: a refusal may
/// be worth a line there.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel.starts_with("logs") {
                continue;
            }
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.insert(rel, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

async fn refused(method: Method, path: &str, who: Who, body: Body, expected: u16) {
    let app = spawn_app(2).await;
    app.register("alice").await;
    let tenant = app.token("alice");
    for (route, config) in [
        (
            "/api/bot/update-groups",
            json!({"groups": ["@before_group"]}),
        ),
        (
            "/api/bot/update-post",
            json!({"post_type": "text", "post_content": "before"}),
        ),
    ] {
        assert_eq!(app.post(route, &tenant, config).await.0, StatusCode::OK);
    }
    let before = snapshot(app.dir.path());

    let token = match who {
        Who::Tenant => tenant,
        Who::Admin => app.admin_token(),
    };
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.url))
        .bearer_auth(&token);
    request = match body {
        Body::None => request,
        Body::Json(value) => request.json(&value),
        Body::Raw(content_type, bytes) => request.header("Content-Type", content_type).body(bytes),
        Body::File(name, bytes) => {
            request.multipart(Form::new().part("file", Part::bytes(bytes).file_name(name)))
        }
    };
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status.as_u16(), expected, "{path}: {text}");
    let root = app.dir.path().to_string_lossy().into_owned();
    assert!(
        !text.contains(&root),
        "{path}: an absolute path leaked: {text}"
    );
    assert!(!text.contains(SECRET), "{path}: the secret leaked");
    if !status.is_success() {
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{path}: not JSON ({status}): {text}"));
        detail(&body);
    }
    assert!(
        snapshot(app.dir.path()) == before,
        "{path}: the data directory changed"
    );
    app.stop().await;
}

macro_rules! bad_input {
    ($($case:ident: $method:ident $path:literal as $who:ident, $body:expr => $status:literal;)*) => {
        $(
            #[tokio::test]
            async fn $case() {
                refused(Method::$method, $path, Who::$who, $body, $status).await;
            }
        )*
    };
}

bad_input! {
    register_with_a_number_for_email: POST "/api/bot/register-user" as Tenant,
        Body::Json(json!({"email": 5})) => 400;
    post_content_a_number: POST "/api/bot/update-post" as Tenant,
        Body::Json(json!({"post_type": "text", "post_content": 5})) => 400;
    post_type_unknown: POST "/api/bot/update-post" as Tenant,
        Body::Json(json!({"post_type": "video", "post_content": "x"})) => 400;
    post_text_over_4096_chars: POST "/api/bot/update-post" as Tenant,
        Body::Json(json!({"post_type": "text", "post_content": "x".repeat(4097)})) => 400;
    post_text_empty: POST "/api/bot/update-post" as Tenant,
        Body::Json(json!({"post_type": "text", "post_content": ""})) => 400;
    post_link_not_telegram: POST "/api/bot/update-post" as Tenant,
        Body::Json(json!({"post_type": "link", "post_content": "https://evil.example/c/1"})) => 400;
    post_link_javascript: POST "/api/bot/update-post" as Tenant,
        Body::Json(json!({"post_type": "link", "post_content": "javascript:alert(1)//t.me/c/1"})) => 400;
    post_of_two_megabytes: POST "/api/bot/update-post" as Tenant,
        Body::Json(json!({"post_type": "text", "post_content": "x".repeat(2 << 20)})) => 413;
    groups_ten_thousand: POST "/api/bot/update-groups" as Tenant,
        groups((0..10_000).map(|i| format!("@group_{i:05}")).collect()) => 400;
    groups_not_a_list: POST "/api/bot/update-groups" as Tenant,
        Body::Json(json!({"groups": "@abcde"})) => 400;
    groups_missing: POST "/api/bot/update-groups" as Tenant,
        Body::Json(json!({})) => 400;
    groups_with_a_number: POST "/api/bot/update-groups" as Tenant,
        Body::Json(json!({"groups": [12345]})) => 400;
    group_with_a_right_to_left_override: POST "/api/bot/update-groups" as Tenant,
        groups(vec!["@evil\u{202e}group".into()]) => 400;
    group_with_a_zero_width_space: POST "/api/bot/update-groups" as Tenant,
        groups(vec!["@na\u{200b}me_x".into()]) => 400;
    group_with_fullwidth_digits: POST "/api/bot/update-groups" as Tenant,
        groups(vec!["-100\u{ff11}\u{ff12}\u{ff13}\u{ff14}".into()]) => 400;
    group_with_cyrillic_lookalikes: POST "/api/bot/update-groups" as Tenant,
        groups(vec!["@\u{0430}dmin_group".into()]) => 400;
    group_path_traversal: POST "/api/bot/update-groups" as Tenant,
        groups(vec!["../../data/users.json".into()]) => 400;
    group_with_a_nul_byte: POST "/api/bot/update-groups" as Tenant,
        groups(vec!["@group\u{0}name".into()]) => 400;
    group_name_of_a_megabyte: POST "/api/bot/update-groups" as Tenant,
        groups(vec!["a".repeat(1 << 20)]) => 413;
    delays_negative: POST "/api/bot/update-delays" as Tenant,
        Body::Json(json!({"delay_between_posts": -1})) => 400;
    delays_below_the_floor: POST "/api/bot/update-delays" as Tenant,
        Body::Json(json!({"delay_between_posts": 0})) => 400;
    delays_beyond_u64: POST "/api/bot/update-delays" as Tenant,
        Body::Json(json!({"delay_between_cycles": 1e30})) => 400;
    delays_as_strings: POST "/api/bot/update-delays" as Tenant,
        Body::Json(json!({"delay_between_cycles": "60"})) => 400;
    execution_mode_unknown: POST "/api/bot/update-execution-mode" as Tenant,
        Body::Json(json!({"execution_mode": "turbo"})) => 400;
    start_in_an_unknown_mode: POST "/api/bot/start" as Tenant,
        Body::Json(json!({"execution_mode": "turbo"})) => 400;
    start_with_negative_cycle_minutes: POST "/api/bot/start" as Tenant,
        Body::Json(json!({"total_cycle_minutes": -5})) => 400;
    body_not_json: POST "/api/bot/update-groups" as Tenant,
        raw("application/json", "{groups: [") => 400;
    body_json_nested_ten_thousand_deep: POST "/api/bot/update-groups" as Tenant,
        raw("application/json", &format!("{}{}", "[".repeat(10_000), "]".repeat(10_000))) => 400;
    body_as_plain_text: POST "/api/bot/update-groups" as Tenant,
        raw("text/plain", "groups=@abcde") => 415;
    logs_asked_for_another_tenant_change_nothing: GET "/api/bot/logs/bob?lines=10" as Tenant,
        Body::None => 200;
    logs_with_a_negative_line_count: GET "/api/bot/logs/alice?lines=-5" as Tenant,
        Body::None => 400;
    upload_named_to_escape_the_pool: POST "/api/admin/sessions/upload" as Admin,
        Body::File("../../data/users.json", session_bytes(7)) => 400;
    upload_not_a_session: POST "/api/admin/sessions/upload" as Admin,
        Body::File("fake.session", b"SQLite format 3\0 but not really".to_vec()) => 400;
    upload_of_twenty_megabytes: POST "/api/admin/sessions/upload" as Admin,
        Body::File("big.session", vec![0u8; 20 << 20]) => 413;
    bulk_upload_of_a_zip_bomb: POST "/api/admin/sessions/bulk-upload" as Admin,
        Body::File("bomb.zip", zip(&[("bomb.session", vec![0u8; 64 << 20])])) => 200;
    bulk_upload_entry_escaping_the_pool: POST "/api/admin/sessions/bulk-upload" as Admin,
        Body::File("escape.zip", zip(&[("../../../etc/evil.session", session_bytes(3))])) => 200;
    assign_a_traversal_name: POST "/api/admin/sessions/assign" as Admin,
        Body::Json(json!({"filename": "../unused/+25470000001.session", "user_id": "alice"})) => 400;
    assign_to_a_traversal_user: POST "/api/admin/sessions/assign" as Admin,
        Body::Json(json!({"filename": "+254700000001.session", "user_id": "../../etc"})) => 400;
    verify_an_absolute_path: POST "/api/admin/sessions/verify" as Admin,
        Body::Json(json!({"filename": "/etc/passwd"})) => 400;
    ban_a_traversal_name: POST "/api/admin/sessions/ban" as Admin,
        Body::Json(json!({"filename": "../../data/users.json"})) => 400;
    health_check_ten_thousand_names: POST "/api/admin/sessions/health-check" as Admin,
        Body::Json(json!({"session_filenames": (0..10_000).map(|i| format!("s{i}.session")).collect::<Vec<_>>()})) => 400;
    pair_with_letters_in_its_id: POST "/api/admin/api-pairs/add" as Admin,
        Body::Json(json!({"api_id": "12a4", "api_hash": "d625c51e93f6b7367c1ff263cb5f7c89"})) => 400;
    pair_with_a_short_hash: POST "/api/admin/api-pairs/add" as Admin,
        Body::Json(json!({"api_id": "1234", "api_hash": "d625"})) => 400;
    pair_delete_unknown: DELETE "/api/admin/api-pairs/99999" as Admin,
        Body::None => 404;
    plan_groups_of_an_unknown_plan: POST "/api/admin/groups/update" as Admin,
        Body::Json(json!({"plan_type": "GOLD", "groups": ["@abcde"], "action": "replace"})) => 400;
    plan_groups_with_an_unknown_action: POST "/api/admin/groups/update" as Admin,
        Body::Json(json!({"plan_type": "STARTER", "groups": ["@abcde"], "action": "merge"})) => 400;
    plan_groups_list_of_an_unknown_plan: GET "/api/admin/groups/list?plan_type=../../etc" as Admin,
        Body::None => 400;
    unsuspend_a_traversal_user: POST "/api/admin/users/..%2F..%2Fetc/unsuspend" as Admin,
        Body::None => 400;
}
