//! The operator's Prometheus files in `deploy/`: the dashboard and the alert rules read only
//! metrics Herald defines, and the rules pass `promtool check rules` and their own unit tests
//! (`promtool test rules`) where promtool is installed (Debian's `prometheus` package;
//! `.ci/run` installs it and sets `HERALD_REQUIRE_PROMTOOL=1`, so CI cannot skip them).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `herald_...` name in `text`, without the suffixes Prometheus adds to summaries.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("herald_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        if name.ends_with('_') {
            // Prose naming a family (`herald_stats_*`), not a metric.
            continue;
        }
        let name = name
            .strip_suffix("_sum")
            .or_else(|| name.strip_suffix("_count"))
            .unwrap_or(&name)
            .to_owned();
        names.insert(name);
    }
    names
}

/// The metric names Herald's sources register (`counter!("herald_...")` and the like).
fn defined_metrics() -> BTreeSet<String> {
    let mut defined = BTreeSet::new();
    let mut dirs = vec![root().join("src")];
    for crate_dir in [
        "api",
        "worker",
        "scheduler",
        "jobs",
        "data",
        "sessions",
        "telegram",
    ] {
        dirs.push(root().join(crate_dir).join("src"));
    }
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for macro_call in ["counter!(", "gauge!(", "histogram!("] {
                    // The macro's first argument, a string literal: the metric's name.
                    for piece in text.split(macro_call).skip(1) {
                        if let Some(literal) = piece.trim_start().strip_prefix('"')
                            && let Some((name, _)) = literal.split_once('"')
                            && name.starts_with("herald_")
                        {
                            defined.insert(name.to_owned());
                        }
                    }
                }
            }
        }
    }
    defined
}

#[test]
fn the_dashboard_and_the_alerts_read_only_metrics_herald_defines() {
    let defined = defined_metrics();
    assert!(
        defined.contains("herald_posts_total") && defined.contains("herald_pool_sessions"),
        "the source scan found too little: {defined:?}"
    );
    let dashboard = std::fs::read_to_string(root().join("deploy/grafana/herald.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    assert_eq!(parsed["uid"], "herald");
    for file in ["deploy/grafana/herald.json", "deploy/prometheus/alerts.yml"] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        let used = metric_names(&text);
        assert!(!used.is_empty(), "{file} reads no Herald metric");
        let unknown: Vec<_> = used.difference(&defined).collect();
        assert!(
            unknown.is_empty(),
            "{file} reads metrics Herald never defines: {unknown:?}"
        );
    }
}

fn promtool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("promtool"))
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("HERALD_REQUIRE_PROMTOOL").is_none(),
            "HERALD_REQUIRE_PROMTOOL is set but promtool is not on PATH (apt-get install prometheus)"
        );
        eprintln!(
            "SKIPPED: promtool is not installed (apt-get install prometheus); the rules were not checked"
        );
    }
    found
}

fn run(promtool: &Path, args: &[&str]) {
    let output = Command::new(promtool)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "promtool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_alert_rules_pass_promtool_and_their_unit_tests() {
    let Some(promtool) = promtool() else {
        return;
    };
    run(
        &promtool,
        &["check", "rules", "deploy/prometheus/alerts.yml"],
    );
    run(
        &promtool,
        &["test", "rules", "deploy/prometheus/alerts_test.yml"],
    );
    run(
        &promtool,
        &["check", "config", "deploy/prometheus/prometheus.yml"],
    );
}
