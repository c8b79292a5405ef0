//! Scenario parsing, validation and per-session resolution.

use super::*;

/// The example in the module documentation, kept in sync by this test.
const DOC_EXAMPLE: &str = r#"
seed = 42
latency_ms = { min = 20, max = 150 }
session_death = { rate = 0.0, code = "AUTH_KEY_UNREGISTERED" }
hang = { rate = 0.01 }
peer_flood = { rate = 0.001 }
flood_wait = { rate = 0.02, min_secs = 5, max_secs = 60 }
slow_mode = { rate = 0.01, secs = 30 }

missing_targets = ["-1009999999999"]

[[die_after_posts]]
session = "+2547*"
posts = 3
code = "USER_DEACTIVATED_BAN"

[[forbidden_targets]]
target = "@closed_group"
code = "CHAT_WRITE_FORBIDDEN"

[[overrides]]
session = "slow-*.session"
latency_ms = 2000
flood_wait = { rate = 0.5, min_secs = 10, max_secs = 20 }
"#;

fn err(text: &str) -> String {
    Scenario::from_toml_str(text)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn documented_example_parses() {
    let s = Scenario::from_toml_str(DOC_EXAMPLE).expect("doc example");
    assert_eq!(s.seed, 42);
    assert_eq!(s.latency_ms, Latency::Uniform { min: 20, max: 150 });
    assert_eq!(s.die_after_posts[0].posts, 3);
    assert_eq!(
        s.missing_targets,
        vec![Target::ChannelId(-1_009_999_999_999)]
    );

    let slow = s.faults_for("slow-1.session");
    assert_eq!(slow.latency, Latency::Fixed(2000));
    assert_eq!(slow.flood_wait.rate, 0.5);
    assert_eq!(slow.hang.rate, 0.01, "not overridden, inherited");
    let kenyan = s.faults_for("+254708803721.session");
    assert_eq!(kenyan.die_after.map(|d| d.posts), Some(3));
    assert!(s.faults_for("other.session").die_after.is_none());
}

#[test]
fn builtin_and_default_are_valid() {
    let b = Scenario::builtin();
    assert_eq!(b.seed, 1);
    assert!(b.flood_wait.rate > 0.0);
    assert!(Scenario::default().validate().is_ok());
}

#[test]
fn json_is_accepted() {
    let s = Scenario::from_json_str(r#"{"seed": 3, "latency_ms": 5, "peer_flood": {"rate": 1}}"#)
        .expect("json");
    assert_eq!(s.latency_ms, Latency::Fixed(5));
    assert_eq!(s.peer_flood.rate, 1.0);
}

#[test]
fn invalid_scenarios_are_refused_with_a_reason() {
    assert!(err("flood_wait = { rate = 1.5 }").contains("flood_wait.rate is 1.5"));
    assert!(err("hang = { rate = 0.6 }\npeer_flood = { rate = 0.6 }").contains("add up to"));
    assert!(err("flood_wait = { rate = 0.1, min_secs = 9, max_secs = 3 }").contains("min_secs"));
    assert!(err("latency_ms = { min = 9, max = 3 }").contains("above max"));
    assert!(err("sede = 1").contains("unknown field"));
    assert!(
        err("[[forbidden_targets]]\ntarget = \"@closed_group\"\ncode = \"FLOOD_WAIT\"")
            .contains("not a write-forbidden")
    );
    assert!(err("[[forbidden_targets]]\ntarget = \"@ab\"").contains("Invalid group"));
    assert!(
        err("[[die_after_posts]]\nsession = \"*\"\nposts = 1\ncode = \"PEER_FLOOD\"")
            .contains("not a session-dead")
    );
    assert!(
        err("[[overrides]]\nsession = \"x*\"\nhang = { rate = 2.0 }").contains("overrides[0] (x*)")
    );
}

#[test]
fn fixed_target_errors_match_case_insensitively() {
    let s = Scenario::from_toml_str(
        "missing_targets = [\"@gone_group\"]\n[[forbidden_targets]]\ntarget = \"@Closed_Group\"\ncode = \"USER_BANNED_IN_CHANNEL\"",
    )
    .expect("parse");
    let t = |x: &str| Target::parse(x).expect("target");
    assert_eq!(
        s.fixed_target_error(&t("closed_group")),
        Some(SendError::WriteForbidden {
            code: "USER_BANNED_IN_CHANNEL".into()
        })
    );
    assert_eq!(
        s.fixed_target_error(&t("@GONE_GROUP")),
        Some(SendError::TargetNotFound)
    );
    assert_eq!(s.fixed_target_error(&t("@open_group")), None);
}

#[test]
fn load_picks_the_format_by_extension_and_names_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml_path = dir.path().join("s.toml");
    std::fs::write(&toml_path, "seed = 9").expect("write");
    assert_eq!(Scenario::load(&toml_path).map(|s| s.seed).ok(), Some(9));
    let json_path = dir.path().join("s.json");
    std::fs::write(&json_path, r#"{"seed": 10}"#).expect("write");
    assert_eq!(Scenario::load(&json_path).map(|s| s.seed).ok(), Some(10));
    let bad_path = dir.path().join("bad.toml");
    std::fs::write(&bad_path, "seed = ").expect("write");
    let msg = Scenario::load(&bad_path)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.starts_with("simulator scenario: bad.toml:"), "{msg}");
}

#[test]
fn sessions_no_rule_names_share_the_base_faults_and_named_ones_get_theirs() {
    let scenario = Scenario::from_toml_str(
        r#"
latency_ms = 5
[[die_after_posts]]
session = "doomed*"
posts = 1
code = "USER_DEACTIVATED_BAN"
[[overrides]]
session = "slow-*"
latency_ms = 2000
"#,
    )
    .expect("valid");
    let base = scenario.base();
    let plain = scenario.shared_faults_for("+254700000001.session", &base);
    assert!(Arc::ptr_eq(&plain, &base));
    assert_eq!(plain.latency, Latency::Fixed(5));
    assert!(plain.die_after.is_none());
    let slow = scenario.shared_faults_for("slow-1.session", &base);
    assert!(!Arc::ptr_eq(&slow, &base));
    assert_eq!(slow.latency, Latency::Fixed(2000));
    let doomed = scenario.shared_faults_for("doomed-1.session", &base);
    assert_eq!(doomed.die_after.as_ref().map(|r| r.posts), Some(1));
}
