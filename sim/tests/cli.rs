//! Tests of the `sim` binary as a user runs it. They live in the `sim` package because cargo builds a package's
//! binary (and names it in `CARGO_BIN_EXE_sim`) only for that package's own integration tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const CANARY: &str = "canaries/dedup-ignores-environment";

fn seed_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn a_sweep_interrupted_by_sigint_prints_its_summary_and_keeps_its_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = dir.path().join("seeds");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["sweep", "--scenario", CANARY, "--start", "0", "--count", "100000", "--jobs", "1", "--no-shrink"])
        .arg("--save-dir")
        .arg(&seeds)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it has found a failure, then interrupt it as Ctrl-C would. Stderr is read to its end on another
    // thread, so the child never writes into a closed pipe.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (found_tx, found_rx) = std::sync::mpsc::channel();
    #[allow(clippy::disallowed_methods)]
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for line in stderr.lines() {
            let line = line.unwrap();
            if line.starts_with("FAIL") {
                let _ = found_tx.send(());
            }
            seen.push(line);
        }
        seen
    });
    found_rx.recv_timeout(std::time::Duration::from_secs(120)).expect("the sweep reports a failure");
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let seen = reader.join().unwrap();
    assert!(seen.iter().any(|l| l.starts_with("interrupted")), "it says it was interrupted: {seen:?}");
    assert_eq!(output.status.code(), Some(1), "failures were found: {stdout}");
    assert!(stdout.contains("sweep FAILED"), "the summary is printed: {stdout}");
    assert!(stdout.contains("stopped early"), "{stdout}");
    let files = seed_files(&seeds);
    assert_eq!(files.len(), 1, "the failure found before the interrupt is saved");
    sim::seedfile::load(&files[0]).unwrap();
}

#[test]
fn bad_input_exits_2_with_an_error_naming_the_problem() {
    let output = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", "--scenario", "no-such-scenario", "--seed", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cargo sim list"));
}

// ---- how a run ends: pipes, signals, exit codes (issue "A clean checkout's two commands pass") ----

fn sim() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sim"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Runs `args`, reads `lines` lines of stdout, closes the pipe, and returns the exit code and stderr.
fn with_closed_pipe(args: &[&str], lines: usize) -> (Option<i32>, String) {
    let mut child = sim().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    {
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        for _ in 0..lines {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
        }
        // The reader goes away here, as `head` does.
    }
    let output = child.wait_with_output().unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stderr).to_string())
}

#[test]
fn a_closed_pipe_is_a_normal_end() {
    let (code, stderr) = with_closed_pipe(&["list"], 1);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let (code, stderr) = with_closed_pipe(&["run", "--scenario", "baseline", "--seed", "1", "--trace"], 2);
    assert_eq!(code, Some(0), "the verdict's code: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let seed =
        "../seeds/canaries-dedup-ignores-environment--correctness-coalesced-across-environments-job-coalesced.toml";
    let (code, stderr) = with_closed_pipe(&["repro", seed, "--trace", "--no-determinism-check"], 2);
    assert_eq!(code, Some(1), "the seed still fails: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_sweep_whose_reader_left_still_writes_its_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (json, junit) = (dir.path().join("out.json"), dir.path().join("out.xml"));
    let mut child = sim()
        .args(["sweep", "--scenario", "baseline", "--start", "0", "--count", "2", "--jobs", "2"])
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .arg("--save-dir")
        .arg(dir.path().join("seeds"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["verdict"], "pass");
    assert!(std::fs::read_to_string(&junit).unwrap().contains("<testcase name=\"baseline\""));
}

fn exit_of(args: &[&str]) -> (Option<i32>, String) {
    let output = sim().args(args).output().unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stderr).to_string())
}

#[test]
fn unwritable_outputs_are_refused_before_the_sweep_starts() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let inside_a_file = blocker.join("out.json").display().to_string();
    let huge = ["sweep", "--scenario", "baseline", "--start", "0", "--count", "100000"];
    for flag in ["--json", "--junit"] {
        let (code, stderr) = exit_of(&[&huge[..], &[flag, &inside_a_file]].concat());
        assert_eq!(code, Some(2), "{flag}: {stderr}");
        assert!(stderr.contains(flag) && stderr.contains("cannot"), "{stderr}");
    }
    let (code, stderr) = exit_of(&[&huge[..], &["--save-dir", &inside_a_file]].concat());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--save-dir"), "{stderr}");
    let folder = dir.path().display().to_string();
    let (code, stderr) = exit_of(&[&huge[..], &["--json", &folder]].concat());
    assert_eq!(code, Some(2), "a folder is not a report file: {stderr}");
}

#[test]
fn meaningless_sweep_arguments_are_bad_input() {
    for (args, says) in [
        (&["--start", "18446744073709551615", "--count", "2"][..], "runs past the last seed"),
        (&["--jobs", "0"][..], "--jobs 0"),
        (&["--count", "0"][..], "--count 0"),
        (&["--time-budget", "0s"][..], "--time-budget 0s"),
    ] {
        let (code, stderr) = exit_of(&[&["sweep", "--scenario", "baseline"][..], args].concat());
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Starts a long passing sweep, waits until it has run a few seeds, and sends it `signal`.
fn interrupt_passing_sweep(signal: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let child = sim()
        .args([
            "sweep",
            "--scenario",
            "regressions/busy-after-store",
            "--start",
            "0",
            "--count",
            "100000",
            "--jobs",
            "1",
        ])
        .arg("--save-dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success());
    let output = child.wait_with_output().unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stdout).to_string())
}

#[test]
fn an_interrupted_passing_sweep_is_never_a_pass() {
    for signal in ["-TERM", "-INT"] {
        let (code, stdout) = interrupt_passing_sweep(signal);
        assert_eq!(code, Some(3), "{signal}: {stdout}");
        assert!(stdout.contains("sweep INTERRUPTED (not a pass)"), "{signal}: {stdout}");
        assert!(stdout.contains("stopped early: interrupted"), "{stdout}");
    }
}

#[test]
fn every_subcommand_documents_the_exit_codes() {
    for sub in ["list", "run", "sweep", "repro", "shrink", "merge", "bench"] {
        let output = sim().args([sub, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("Exit codes:") && help.contains("3  incomplete"), "{sub}: {help}");
    }
}

#[test]
fn a_scenario_given_to_repro_gets_a_hint_to_use_run() {
    let (code, stderr) = exit_of(&["repro", "../scenarios/baseline.toml"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("is a scenario") && stderr.contains("cargo sim run"), "{stderr}");
}

#[test]
fn repro_says_when_a_seed_file_was_edited_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let original = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../seeds/canaries-fifo-queue--liveness-leased-late-job-leased.toml");
    let text = std::fs::read_to_string(&original).unwrap();
    let copy = dir.path().join("copy.toml");
    std::fs::write(&copy, &text).unwrap();
    let untouched = sim().args(["repro", "--no-determinism-check"]).arg(&copy).output().unwrap();
    let said = String::from_utf8_lossy(&untouched.stdout);
    assert!(!said.contains("edited by hand"), "{said}");
    // A new comment is not an edit of what runs.
    std::fs::write(&copy, format!("# a note\n{text}")).unwrap();
    let commented = sim().args(["repro", "--no-determinism-check"]).arg(&copy).output().unwrap();
    assert!(!String::from_utf8_lossy(&commented.stdout).contains("edited by hand"));
    // A different load: in_flight_max 64 becomes 164.
    let edited_text = text.replacen("in_flight_max = ", "in_flight_max = 1", 1);
    assert_ne!(edited_text, text);
    std::fs::write(&copy, edited_text).unwrap();
    let edited = sim().args(["repro", "--no-determinism-check"]).arg(&copy).output().unwrap();
    let said = String::from_utf8_lossy(&edited.stdout);
    assert!(said.contains("edited by hand"), "{said}");
}

#[test]
fn merge_checks_what_it_merges() {
    let dir = tempfile::tempdir().unwrap();
    let shard = |k: u32, start: u64| {
        let json = dir.path().join(format!("s{k}-{start}.json"));
        let status = sim()
            .args(["sweep", "--scenario", "regressions/busy-after-store", "--count", "2", "--jobs", "1"])
            .args(["--start", &start.to_string(), "--shard", &format!("{k}/2")])
            .arg("--json")
            .arg(&json)
            .arg("--save-dir")
            .arg(dir.path().join("seeds"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(0));
        json
    };
    let (one, two, other) = (shard(1, 0), shard(2, 0), shard(2, 100));
    let merge = |files: &[&PathBuf]| {
        let output = sim().arg("merge").args(files).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.code(), text)
    };
    let (code, text) = merge(&[&one, &two]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = merge(&[&one, &one]);
    assert_eq!(code, Some(2), "the same shard twice: {text}");
    assert!(text.contains("appears twice"), "{text}");
    let (code, text) = merge(&[&one, &other]);
    assert_eq!(code, Some(2), "shards of different sweeps: {text}");
    let (code, text) = merge(&[&one]);
    assert_eq!(code, Some(3), "a missing shard: {text}");
    assert!(text.contains("INCOMPLETE") && text.contains("MISSING SHARDS: 2/2"), "{text}");
}

#[test]
fn check_determinism_reports_the_planted_negative_control() {
    let args = ["run", "--scenario", "baseline", "--seed", "1", "--check-determinism", "--plant-nondeterminism"];
    let output = sim().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("drew differently from madsim's generator, first at simulated time"), "{stderr}");
    let clean = sim().args(&args[..6]).output().unwrap();
    assert_eq!(clean.status.code(), Some(0), "{}", String::from_utf8_lossy(&clean.stderr));
}

#[test]
fn the_readmes_filter_example_prints_the_entitys_trace() {
    let seed =
        "../seeds/canaries-dedup-ignores-environment--correctness-coalesced-across-environments-job-coalesced.toml";
    let output = sim()
        .args(["repro", seed, "--trace", "--filter", "globex/page-0028", "--no-determinism-check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.lines().filter(|l| l.contains("globex/page-0028")).count() >= 3, "{stdout}");
    assert!(stdout.contains(">> here:"), "the summary explains the violation: {stdout}");
}

#[test]
fn under_github_actions_a_sweep_writes_a_markdown_summary() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let status = sim()
        .args(["sweep", "--scenario", CANARY, "--start", "0", "--count", "1", "--jobs", "1", "--no-shrink"])
        .arg("--save-dir")
        .arg(dir.path().join("seeds"))
        .env("GITHUB_STEP_SUMMARY", &summary)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.contains("## Simulation sweep FAILED"), "{text}");
    assert!(text.contains("missing-view") && text.contains("reproduce: `cargo sim run --scenario"), "{text}");
    assert!(text.contains("saved: `"), "{text}");
}

#[test]
fn log_directives_filter_the_trace_as_rust_log_would() {
    let output = sim()
        .args(["run", "--scenario", "crash-restart", "--seed", "1", "--log", "queue=debug,worker=info"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let trace: Vec<&str> =
        stdout.lines().filter(|l| l.trim_start().chars().next().is_some_and(|c| c.is_ascii_digit())).collect();
    let node = |l: &str| l.split_whitespace().nth(1).unwrap_or_default().to_string();
    assert!(trace.iter().any(|l| node(l) == "queue" && l.contains("job-leased")), "queue at debug shows its leases");
    assert!(trace.iter().any(|l| node(l).starts_with("worker-")), "worker at info shows its node-started");
    assert!(trace.iter().all(|l| node(l) == "queue" || node(l).starts_with("worker-")), "no other target: {trace:?}");
    // `warn` alone: only trouble, from every component.
    let warn = sim().args(["run", "--scenario", "crash-restart", "--seed", "1", "--log", "warn"]).output().unwrap();
    let warn = String::from_utf8_lossy(&warn.stdout);
    assert!(warn.contains("fault start crash store"), "{warn}");
    assert!(!warn.contains("job-leased") && !warn.contains("view-written"), "{warn}");
    // A directive RUST_LOG would reject is bad input.
    let bad = sim().args(["run", "--scenario", "baseline", "--seed", "1", "--log", "queue=loud"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RUST_LOG"));
}

#[test]
fn run_and_repro_write_a_self_contained_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("t.html");
    let seed =
        "../seeds/canaries-dedup-ignores-environment--correctness-coalesced-across-environments-job-coalesced.toml";
    let output = sim().args(["repro", seed, "--no-determinism-check", "--html"]).arg(&page).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "the seed still fails");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(!html.contains("http://") || html.matches("http://").all(|_| html.contains("http://www.w3.org/2000/svg")));
    assert!(!html.contains("https://"), "no network needed: nothing is fetched");
    assert!(html.contains("job-coalesced globex/page-0028/card"), "the whole trace is in the page");
    let run = dir.path().join("run.html");
    let status = sim().args(["run", "--scenario", "baseline", "--seed", "2", "--html"]).arg(&run).status().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(run.exists());
}
