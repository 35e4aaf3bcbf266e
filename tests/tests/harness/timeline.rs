//! The timeline, in a real browser: the HTML page of every saved seed is loaded by a headless Chromium, and the
//! rendered DOM must hold a lane per node, the fault bands, every violation's causal chain, and no script error.
//! `.ci/run` installs Chromium from Debian's packages. On a machine without it the test is compiled as ignored
//! (`tests/build.rs`), so `cargo test` shows it as ignored, never as a pass; with `CI` or
//! `SIM_BROWSER_REQUIRED` set it always runs, and a missing browser is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

fn browser() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"].into_iter().find_map(|name| {
        let found = Command::new("which").arg(name).output().ok()?;
        found.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&found.stdout).trim()))
    })
}

/// The DOM of `page` after its scripts ran.
fn rendered(browser: &Path, page: &Path) -> String {
    let output = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).to_string()
}

#[test]
#[cfg_attr(
    not(browser_test),
    ignore = "no Chromium on this machine: the timeline's browser test did not run (.ci/run installs it; \
              SIM_BROWSER_REQUIRED=1 makes it required)"
)]
fn every_saved_seeds_timeline_renders_its_lanes_faults_and_chains_in_a_browser() {
    let browser = browser().expect("no Chromium on this machine; .ci/run installs it (apt-get install chromium)");
    let dir = tempfile::tempdir().unwrap();
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds");
    for path in sim::catalog::list(&seeds) {
        let file = sim::seedfile::load(&path).unwrap();
        let result = sim::world::run_seed(&file.to_loaded(&path), file.seed.seed);
        let page = dir.path().join("timeline.html");
        std::fs::write(&page, sim::report::timeline::html(&result.outcome, &result.trace)).unwrap();
        let dom = rendered(&browser, &page);
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(dom.contains("data-ready=\"1\""), "{name}: the page's script did not finish");
        assert!(!dom.contains("id=\"script-errors\""), "{name}: script errors: {dom}");
        let mut nodes: Vec<&str> = result.trace.iter().map(|r| &*r.node).collect();
        nodes.sort_unstable();
        nodes.dedup();
        assert_eq!(dom.matches("class=\"lane\"").count(), nodes.len(), "{name}: a lane per node");
        for node in &nodes {
            assert!(dom.contains(&format!("data-lane=\"{node}\"")), "{name}: no lane for {node}");
        }
        // Each worker's lane shows what it did: its leases, renders and writes.
        for node in nodes.iter().filter(|n| n.starts_with("worker-")) {
            let lane = dom.split(&format!("data-lane=\"{node}\"")).nth(1).unwrap_or_default();
            let marks: u64 =
                lane.split("data-events=\"").nth(1).and_then(|s| s.split('"').next()?.parse().ok()).unwrap();
            assert!(marks > 0, "{name}: {node}'s lane is empty");
        }
        assert!(dom.matches("class=\"axis-tick\"").count() >= 3, "{name}: a time axis in simulated seconds");
        assert_eq!(
            dom.matches("class=\"branch-mark\"").count(),
            file.branches.len(),
            "{name}: a mark per branch taken"
        );
        if !result.outcome.fault_plan.is_empty() {
            assert!(dom.contains("class=\"fault-band\""), "{name}: no fault band");
        }
        let chains =
            result.outcome.violations.iter().take(20).filter(|v| sim::explain::explain(&result.trace, v).is_some());
        let chains = chains.count();
        assert!(chains > 0, "{name}: a saved seed has violations to explain");
        assert_eq!(dom.matches("data-violation=").count(), chains, "{name}: every violation's chain");
        assert!(dom.contains("class=\"wrong\""), "{name}: the wrong step is highlighted");
    }
}
