//! Hostile inputs and outputs, each tried on the `sim` binary as a user would: every one gets a clear message
//! (file, line or field, what to do) and the right exit code, never a panic, a silent default, or lost or
//! destroyed data.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn sim() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sim"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let Output { status, stdout, stderr } = cmd.output().unwrap();
    (status.code(), String::from_utf8_lossy(&stdout).to_string(), String::from_utf8_lossy(&stderr).to_string())
}

fn baseline_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/baseline.toml")).unwrap()
}

/// The baseline with `edit` applied, written to `dir/name.toml`.
fn scenario(dir: &Path, name: &str, edit: impl Fn(String) -> String) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, edit(baseline_text())).unwrap();
    path
}

fn run_scenario(path: &Path) -> (Option<i32>, String, String) {
    run(sim().args(["run", "--seed", "1", "--scenario"]).arg(path))
}

// ---- limits: blamed on the input, not on the system ----

#[test]
fn more_environments_than_the_address_plan_holds_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..257).map(|i| format!("\"e{i}\"")).collect();
    let path = scenario(dir.path(), "many", |t| {
        t.replace(
            "names = [\"acme-prod\", \"acme-staging\", \"globex\", \"initech\"]",
            &format!("names = [{}]", names.join(", ")),
        )
        .replace("mirrors = { \"acme-staging\" = \"acme-prod\" }", "")
        .replace("ingest_rate = 10", "ingest_rate = 1")
    });
    let (code, _, err) = run_scenario(&path);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("field `environments.names`") && err.contains("250"), "{err}");
}

#[test]
fn absurd_fault_and_knob_values_are_refused_with_their_limit() {
    let dir = tempfile::tempdir().unwrap();
    let fault = |body: &'static str| move |t: String| format!("{t}\n[[faults.script]]\n{body}\n");
    type Edit = Box<dyn Fn(String) -> String>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "slow",
            Box::new(fault("at = \"1s\"\nkind = \"disk-slow\"\ntarget = \"store\"\nlatency = \"100years\"\nduration = \"2s\"")),
            "faults.script[0].latency",
        ),
        (
            "offset",
            Box::new(fault("at = \"1s\"\nkind = \"clock-offset\"\ntarget = \"queue\"\noffset = \"-1000000years\"\nduration = \"2s\"")),
            "faults.script[0].offset",
        ),
        ("lease", Box::new(|t: String| t.replace("[load]", "[system]\nlease = \"1ns\"\n\n[load]")), "system.lease"),
        (
            "timeout",
            Box::new(|t: String| t.replace("[load]", "[system]\nrpc_timeout = \"1ns\"\n\n[load]")),
            "system.rpc_timeout",
        ),
        (
            "huge",
            Box::new(|t: String| {
                // 12 environments of 100,000 entities: 1.2 million, above the limit of a million.
                let names: Vec<String> = (0..12).map(|i| format!("\"e{i}\"")).collect();
                t.replace("entities = 200", "entities = 100000")
                    .replace(
                        "names = [\"acme-prod\", \"acme-staging\", \"globex\", \"initech\"]",
                        &format!("names = [{}]", names.join(", ")),
                    )
                    .replace("mirrors = { \"acme-staging\" = \"acme-prod\" }", "")
                    .replace("ingest_rate = 10", "ingest_rate = 1")
            }),
            "environments.entities",
        ),
        (
            "budget",
            Box::new(|t: String| t.replace("convergence_budget = \"60s\"", "convergence_budget = \"5s\"")),
            "run.convergence_budget",
        ),
    ];
    for (name, edit, field) in cases {
        let (code, _, err) = run_scenario(&scenario(dir.path(), name, edit));
        assert_eq!(code, Some(2), "{name}: {err}");
        assert!(err.contains(&format!("field `{field}`")), "{name}: {err}");
    }
}

#[test]
fn overlapping_faults_of_one_node_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "overlap", |t| {
        format!(
            "{t}\n[[faults.script]]\nat = \"1s\"\nkind = \"crash\"\ntarget = \"store\"\nduration = \"3s\"\n\n\
             [[faults.script]]\nat = \"2s\"\nkind = \"pause\"\ntarget = \"store\"\nduration = \"3s\"\n"
        )
    });
    let (code, _, err) = run_scenario(&path);
    assert_eq!(code, Some(0), "a warning, not an error: {err}");
    assert!(err.contains("warning:") && err.contains("overlap on `store`"), "{err}");
}

#[test]
fn unknown_tables_and_late_deploys_are_named_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, err) = run_scenario(&scenario(dir.path(), "net", |t| format!("{t}\n[network]\nloss = 5\n")));
    assert!(err.contains("field `network`: unknown field `network`") && !err.contains("kind ``"), "{err}");
    let deploy = "[[faults.script]]\nat = \"45s\"\nkind = \"deploy\"\nenvironment = \"globex\"\nschema = \"page\"";
    let (code, _, err) = run_scenario(&scenario(dir.path(), "late", |t| format!("{t}\n{deploy}\n")));
    assert_eq!(code, Some(2));
    assert!(err.contains("field `faults.script[0].at`") && !err.contains(":1:1:"), "{err}");
}

#[test]
fn arguments_that_would_do_nothing_say_so() {
    let (code, _, err) = run(sim().args(["run", "--scenario", "baseline", "--seed", "1", "--log", "qeueu=debug"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("unknown target `qeueu`") && err.contains("queue"), "{err}");
    let (code, _, err) = run(sim().arg("list").env("SIM_SCENARIOS_DIR", "/nonexistent"));
    assert_eq!(code, Some(2));
    assert!(err.contains("/nonexistent") && err.contains("does not exist"), "{err}");
    // A typo in a report's folder is an error, and no folder is made.
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("typo/out.json");
    let (code, _, err) = run(sim().args(["sweep", "--scenario", "baseline", "--count", "1", "--json"]).arg(&json));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("does not exist") && !dir.path().join("typo").exists(), "{err}");
}

#[test]
fn a_scenario_named_twice_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("sweep.json");
    let (code, _, err) = run(sim()
        .args(["sweep", "--scenario", "baseline", "--scenario", "baseline", "--start", "0", "--count", "1"])
        .arg("--json")
        .arg(&json)
        .arg("--save-dir")
        .arg(dir.path().join("seeds")));
    assert!(err.contains("named more than once"), "{err}");
    assert_eq!(code, Some(0), "{err}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["scenarios"].as_array().unwrap().len(), 1);
}

#[test]
fn a_billion_seeds_are_dealt_lazily() {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(sim()
        .args(["sweep", "--scenario", "baseline", "--start", "0", "--count", "1000000000", "--time-budget", "2s"])
        .args(["--determinism-percent", "0", "--save-dir"])
        .arg(dir.path()));
    assert!(matches!(code, Some(0) | Some(3)), "{code:?} {err}");
    assert!(started.elapsed() < Duration::from_secs(60), "no list of a billion pairs was built");
}

// ---- outputs: written through what they point at ----

/// A character device of our own if we may make one (as root), else a FIFO, which is written through as well.
fn special_file(dir: &Path) -> (PathBuf, bool) {
    let path = dir.join("device");
    let made = Command::new("mknod").arg(&path).args(["c", "1", "3"]).status().is_ok_and(|s| s.success());
    if made {
        return (path, true);
    }
    assert!(Command::new("mkfifo").arg(&path).status().unwrap().success());
    (path, false)
}

fn is_char_device(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).unwrap().file_type().is_char_device()
}

#[test]
fn reports_are_written_through_devices_symlinks_and_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let (device, is_device) = special_file(dir.path());
    // A FIFO needs a reader: drain it while the command writes.
    let reader = (!is_device).then(|| {
        let fifo = device.clone();
        #[allow(clippy::disallowed_methods)]
        std::thread::spawn(move || {
            while let Ok(text) = std::fs::read_to_string(&fifo) {
                if text.contains("</testsuites>") {
                    break;
                }
            }
        })
    });
    let target = dir.path().join("target.json");
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (code, _, err) = run(sim()
        .args(["sweep", "--scenario", "baseline", "--start", "0", "--count", "1"])
        .arg("--json")
        .arg(&link)
        .arg("--junit")
        .arg(&device)
        .arg("--save-dir")
        .arg(dir.path().join("seeds")));
    assert_eq!(code, Some(0), "{err}");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is still a link");
    assert!(std::fs::read_to_string(&target).unwrap().contains("\"scenarios\""), "its target holds the report");
    if is_device {
        assert!(is_char_device(&device), "the device is still a device");
    }
    if let Some(reader) = reader {
        reader.join().unwrap();
    }
    // A timeline through the device, and JSON to standard output.
    let (code, _, err) = run(sim()
        .args(["run", "--scenario", "baseline", "--seed", "1", "--html"])
        .arg(if is_device { device.clone() } else { PathBuf::from("/dev/null") }));
    assert_eq!(code, Some(0), "{err}");
    if is_device {
        assert!(is_char_device(&device));
    }
    let (code, out, err) = run(sim()
        .args(["sweep", "--scenario", "baseline", "--start", "0", "--count", "1", "--json", "-", "--save-dir"])
        .arg(dir.path().join("seeds")));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("\"verdict\": \"pass\"") && !Path::new("-").exists(), "{out}");
}

// ---- shrinking and saving never lose or destroy a seed ----

fn copy_of_saved_seed(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../seeds/canaries-fifo-queue--liveness-leased-late-job-leased.toml");
    let copy = dir.join("seed.toml");
    std::fs::copy(src, &copy).unwrap();
    copy
}

#[test]
fn shrink_never_overwrites_its_input_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let seed = copy_of_saved_seed(dir.path());
    let before = std::fs::read_to_string(&seed).unwrap();
    let (code, out, err) = run(sim().arg("shrink").arg(&seed));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(std::fs::read_to_string(&seed).unwrap(), before, "the input is untouched");
    assert!(dir.path().join("seed.shrunk.toml").exists() && out.contains("seed.shrunk.toml"), "{out}");
    // A seed that no longer fails: said, exit 1, nothing written.
    let passing = dir.path().join("passing.toml");
    let mut doc: toml::Table = before.parse().unwrap();
    let scenario = doc["scenario"].as_table_mut().unwrap();
    scenario.remove("canary");
    scenario["system"].as_table_mut().unwrap().remove("flaws");
    std::fs::write(&passing, toml::to_string(&doc).unwrap()).unwrap();
    let (code, _, err) = run(sim().arg("shrink").arg(&passing));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("does not fail as saved") && !dir.path().join("passing.shrunk.toml").exists(), "{err}");
}

#[test]
fn a_sweep_killed_while_shrinking_keeps_its_failure() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = dir.path().join("seeds");
    let mut child = sim()
        .args(["sweep", "--scenario", "canaries/dedup-ignores-environment", "--start", "0", "--count", "2"])
        .args(["--jobs", "1", "--determinism-percent", "0", "--save-dir"])
        .arg(&seeds)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    for line in BufReader::new(stderr).lines() {
        if line.unwrap().contains("shrinking") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let files: Vec<PathBuf> = std::fs::read_dir(&seeds).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(text.contains("[seed]") && text.contains("signature = \"correctness:coalesced-across-environments"));
}

#[test]
fn a_seed_of_a_scenario_given_by_path_is_named_by_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("faulty.toml");
    let canary = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/canaries/dedup-ignores-environment.toml");
    std::fs::copy(canary, &path).unwrap();
    let seeds = dir.path().join("seeds");
    let (code, _, err) = run(sim()
        .args(["sweep", "--start", "0", "--count", "1", "--no-shrink", "--scenario"])
        .arg(&path)
        .arg("--save-dir")
        .arg(&seeds));
    assert_eq!(code, Some(1), "{err}");
    let names: Vec<String> =
        std::fs::read_dir(&seeds).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    assert!(names.iter().all(|n| n.starts_with("faulty--")), "{names:?}");
}

#[test]
fn the_negative_control_says_it_failed_and_keeps_its_flags() {
    let (code, out, err) = run(sim().args([
        "run",
        "--scenario",
        "baseline",
        "--seed",
        "1",
        "--check-determinism",
        "--plant-nondeterminism",
    ]));
    assert_eq!(code, Some(1));
    assert!(out.contains("· FAIL") && !out.contains("· PASS") && out.contains("nondeterminism"), "{out}");
    assert!(
        out.contains(
            "reproduce: cargo sim run --scenario baseline --seed 1 --check-determinism --plant-nondeterminism"
        ),
        "{out}"
    );
    assert!(err.contains("this run") && err.contains("draw-checked runs"), "{err}");
}
