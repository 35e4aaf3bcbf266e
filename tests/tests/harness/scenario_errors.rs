//! Bad scenario input gets an error that names the file, the line and the field, never a panic or a default.

use sim::scenario::parse;
use std::path::Path;

fn baseline_text() -> String {
    std::fs::read_to_string(tests::scenarios_dir().join("baseline.toml")).unwrap()
}

/// Replaces the first occurrence of `from` in the baseline and returns the parse error's message.
fn error_after(from: &str, to: &str) -> String {
    let text = baseline_text();
    assert!(text.contains(from), "the baseline no longer contains {from:?}");
    let broken = text.replacen(from, to, 1);
    match parse(&broken, Path::new("scenarios/broken.toml")) {
        Ok(_) => panic!("accepted a broken scenario ({from:?} -> {to:?})"),
        Err(e) => e.to_string(),
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") + 1
}

#[test]
fn the_baseline_itself_parses() {
    parse(&baseline_text(), Path::new("baseline.toml")).unwrap();
}

#[test]
fn an_unknown_field_is_an_error_naming_file_line_and_field() {
    let message = error_after("workers = 3", "workers = 3\nwrokers = 4");
    let line = line_of(&baseline_text().replacen("workers = 3", "workers = 3\nwrokers = 4", 1), "wrokers");
    assert!(message.starts_with(&format!("scenarios/broken.toml:{line}:")), "{message}");
    assert!(message.contains("wrokers"), "{message}");
    assert!(message.contains("topology"), "{message}");
}

#[test]
fn a_bad_duration_names_its_field() {
    let message = error_after("safety = \"30s\"", "safety = \"thirty seconds\"");
    let line = line_of(&baseline_text(), "safety =");
    assert!(message.starts_with(&format!("scenarios/broken.toml:{line}:")), "{message}");
    assert!(message.contains("field `run.safety`"), "{message}");
    assert!(message.contains("\"30s\""), "says how to write it: {message}");
}

#[test]
fn a_negative_duration_is_refused() {
    let message = error_after("convergence_budget = \"60s\"", "convergence_budget = \"-5s\"");
    assert!(message.contains("field `run.convergence_budget`"), "{message}");
    assert!(message.contains("negative"), "{message}");
}

#[test]
fn a_number_out_of_range_names_the_range() {
    let message = error_after("workers = 3", "workers = 0");
    let line = line_of(&baseline_text(), "workers = 3");
    assert!(message.starts_with(&format!("scenarios/broken.toml:{line}:")), "{message}");
    assert!(message.contains("field `topology.workers`"), "{message}");
    assert!(message.contains("1 to 64"), "{message}");
}

#[test]
fn a_deploy_to_an_unknown_environment_is_refused_at_its_line() {
    let message = error_after("environment = \"globex\"", "environment = \"globax\"");
    let line = line_of(&baseline_text(), "environment = \"globex\"");
    assert!(message.starts_with(&format!("scenarios/broken.toml:{line}:")), "{message}");
    assert!(message.contains("field `load.deploys[0].environment`"), "{message}");
    assert!(message.contains("globax"), "{message}");
}

#[test]
fn an_unknown_flaw_lists_the_known_ones() {
    let message = error_after("[run]", "[system]\nflaws = [\"dedup-ignores-tenant\"]\n\n[run]");
    assert!(message.contains("field `system.flaws[0]`"), "{message}");
    assert!(message.contains("dedup-ignores-environment"), "lists known flaws: {message}");
}

#[test]
fn a_type_error_names_the_field() {
    let message = error_after("ingest_rate = 10", "ingest_rate = \"fast\"");
    assert!(message.contains("field `load.ingest_rate`"), "{message}");
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let e = sim::scenario::resolve("no-such-scenario", &tests::scenarios_dir()).unwrap_err();
    assert!(e.to_string().contains("cargo sim list"), "{e}");
}
