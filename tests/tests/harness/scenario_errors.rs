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

// ---- fault plans ----

/// The baseline with one scripted fault appended; returns the error and the line the fault's `kind` is on.
fn fault_error(body: &str) -> (String, String) {
    let text = format!("{}\n[[faults.script]]\n{body}\n", baseline_text());
    let message = match parse(&text, Path::new("scenarios/faulty.toml")) {
        Ok(_) => panic!("accepted a broken fault: {body}"),
        Err(e) => e.to_string(),
    };
    (message, text)
}

fn assert_names(message: &str, text: &str, needle: &str, field: &str) {
    let line = line_of(text, needle);
    assert!(message.starts_with(&format!("scenarios/faulty.toml:{line}:")), "expected line {line}: {message}");
    assert!(message.contains(&format!("field `{field}`")), "expected field {field}: {message}");
}

#[test]
fn a_negative_fault_duration_is_refused() {
    let (m, t) = fault_error("at = \"1s\"\nkind = \"crash\"\ntarget = \"store\"\nduration = \"-2s\"");
    assert_names(&m, &t, "duration = \"-2s\"", "faults.script[0].duration");
    assert!(m.contains("negative"), "{m}");
}

#[test]
fn an_unknown_node_is_refused_and_the_nodes_are_listed() {
    let (m, t) = fault_error("at = \"1s\"\nkind = \"isolate\"\ntarget = \"worker-9\"\nduration = \"2s\"");
    assert_names(&m, &t, "target = \"worker-9\"", "faults.script[0].target");
    assert!(m.contains("worker-3") && m.contains("store"), "lists the nodes: {m}");
}

#[test]
fn a_loss_rate_above_100_percent_is_refused() {
    let (m, t) =
        fault_error("at = \"1s\"\nkind = \"loss\"\ntarget = \"network\"\nloss_percent = 150\nduration = \"2s\"");
    assert_names(&m, &t, "loss_percent = 150", "faults.script[0].loss_percent");
    assert!(m.contains("0 to 100"), "{m}");
}

#[test]
fn a_field_the_kind_does_not_use_is_refused() {
    let (m, t) = fault_error("at = \"1s\"\nkind = \"crash\"\ntarget = \"store\"\nloss_percent = 5\nduration = \"2s\"");
    assert_names(&m, &t, "loss_percent = 5", "faults.script[0].loss_percent");
    assert!(m.contains("not used by kind `crash`"), "{m}");
}

#[test]
fn a_missing_field_names_what_the_kind_needs() {
    let (m, t) = fault_error("at = \"1s\"\nkind = \"pause\"\nduration = \"2s\"");
    assert_names(&m, &t, "kind = \"pause\"", "faults.script[0].kind");
    assert!(m.contains("needs the field `target`"), "{m}");
}

#[test]
fn a_fault_that_would_outlast_the_safety_phase_is_refused() {
    let (m, t) = fault_error("at = \"29s\"\nkind = \"pause\"\ntarget = \"queue\"\nduration = \"5s\"");
    assert_names(&m, &t, "duration = \"5s\"", "faults.script[0].duration");
    assert!(m.contains("heals before the liveness phase"), "{m}");
}

#[test]
fn an_unknown_fault_kind_lists_the_kinds() {
    let (m, t) = fault_error("at = \"1s\"\nkind = \"meteor\"\nduration = \"5s\"");
    assert_names(&m, &t, "kind = \"meteor\"", "faults.script[0].kind");
    assert!(m.contains("clock-jump"), "{m}");
}

#[test]
fn an_unknown_coverage_mark_lists_the_marks() {
    let message = error_after("\"queue.update-while-leased\"", "\"store.recovred\"");
    assert!(message.contains("field `coverage.requires[1]`"), "{message}");
    assert!(message.contains("store.recovered"), "lists the marks: {message}");
}

// ---- poor input found by the clean-checkout audit ----

#[test]
fn a_schema_field_no_content_has_is_an_error_listing_the_fields() {
    let m = error_after("fields = [\"title\", \"body\", \"site\"]", "fields = [\"titel\", \"body\", \"site\"]");
    assert!(m.contains("field `schemas[0].fields[0]`") && m.contains("unknown field `titel`"), "{m}");
    assert!(m.contains("title, body, summary, site"), "{m}");
}

#[test]
fn a_run_far_beyond_the_catalog_is_refused_with_a_limit() {
    let m = error_after("safety = \"30s\"", "safety = \"2h\"");
    assert!(m.contains("field `run.safety`") && m.contains("longer than"), "{m}");
    let m = error_after("ingest_rate = 10", "ingest_rate = 10000");
    assert!(m.contains("field `load.ingest_rate`") && m.contains("ingests"), "{m}");
    assert!(m.contains("more than one run holds (200000)") && !m.contains("  "), "one space between words: {m}");
}

#[test]
fn zero_durations_that_would_confuse_a_run_are_errors() {
    let m = error_after("convergence_budget = \"60s\"", "convergence_budget = \"0s\"");
    assert!(m.contains("field `run.convergence_budget`") && m.contains("longer than zero"), "{m}");
    let m = error_after("[load]", "[system]\nrpc_timeout = \"0s\"\nlease = \"5s\"\n\n[load]");
    assert!(m.contains("field `system.rpc_timeout`"), "{m}");
    let m = error_after("[load]", "[system]\nlease = \"0s\"\n\n[load]");
    assert!(m.contains("field `system.lease`"), "{m}");
}

#[test]
fn an_empty_file_says_what_a_scenario_needs() {
    let m = parse("# nothing here\n\n", Path::new("scenarios/empty.toml")).unwrap_err().to_string();
    assert!(m.starts_with("scenarios/empty.toml: the file is empty") && m.contains("[topology]"), "{m}");
}

#[test]
fn a_duplicate_key_names_its_line_not_a_dot() {
    let m = error_after("workers = 3", "workers = 3\nworkers = 4");
    assert!(!m.contains("field `.`"), "{m}");
    assert!(m.contains("duplicate"), "{m}");
}

#[test]
fn a_bare_number_for_a_duration_gets_a_format_hint() {
    let m = error_after("safety = \"30s\"", "safety = 30");
    assert!(m.contains("field `run.safety`") && m.contains("\"30s\""), "{m}");
}

#[test]
fn a_folder_given_as_a_scenario_says_it_is_a_folder() {
    let m = sim::scenario::resolve("canaries", &tests::scenarios_dir()).unwrap_err().to_string();
    assert!(m.contains("is a folder") && m.contains("sweep"), "{m}");
    let m = sim::scenario::resolve("no-such.toml", &tests::scenarios_dir()).unwrap_err().to_string();
    assert!(!m.contains(".toml.toml"), "{m}");
}

#[test]
fn a_mirror_of_an_unknown_environment_is_an_error() {
    let m = error_after("\"acme-staging\" = \"acme-prod\"", "\"acme-staging\" = \"nowhere\"");
    assert!(m.contains("environments.mirrors") && m.contains("nowhere"), "{m}");
}
