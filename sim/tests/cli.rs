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
