//! Reports of a sweep or a merge: the summary people read, the JSON machines read (and `merge` merges), JUnit
//! for CI dashboards. One home for all of them, shared by `sweep` and `merge`.

use super::files::write_atomically;
use crate::sweep::{Stop, SweepReport, SweepVerdict};
use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

/// The toolchain the harness was built with (set by `build.rs`).
pub const TOOLCHAIN: &str = env!("SIM_RUSTC_VERSION");

/// Fills in what a report says about its making: harness version, commit, toolchain, start time.
pub fn stamp(report: &mut SweepReport, started_at: std::time::SystemTime) {
    let build = crate::seedfile::Build::current();
    report.harness_version = build.harness_version;
    report.git_commit = build.git_commit;
    report.toolchain = TOOLCHAIN.to_string();
    report.started_at = humantime::format_rfc3339_seconds(started_at).to_string();
}

/// Writes the report as JSON, with its verdict.
pub fn write_json(path: &Path, report: &SweepReport) -> std::io::Result<()> {
    let mut report = report.clone();
    report.verdict = Some(report.computed_verdict());
    write_atomically(path, &serde_json::to_string_pretty(&report).expect("reports serialize"))
}

/// Writes the report files asked for (JSON, JUnit), each error said on stderr. Returns false if any was lost.
pub fn write_reports(report: &SweepReport, json: Option<&Path>, junit: Option<&Path>) -> bool {
    let mut all = true;
    let results = [json.map(|p| (p, write_json(p, report))), junit.map(|p| (p, write_junit(p, report)))];
    for (path, result) in results.into_iter().flatten() {
        if let Err(e) = result {
            crate::errln!("error: could not write {}: {e}", path.display());
            all = false;
        }
    }
    all
}

/// Writes the report as JUnit XML: a suite per scenario with one test case named after the scenario, so that
/// a dashboard follows "baseline" from night to night. A failing case's body holds every failure group with
/// its seeds, its first violations and the command that reproduces it.
pub fn write_junit(path: &Path, result: &SweepReport) -> std::io::Result<()> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut junit = Report::new("sim sweep");
    for s in &result.scenarios {
        let mut suite = TestSuite::new(s.scenario.clone());
        suite.set_time(Duration::from_millis(s.wall_ms));
        let mut problems = Vec::new();
        for g in &s.failures {
            let seeds: Vec<String> = g.seeds.iter().map(|x| x.to_string()).collect();
            let mut text =
                format!("{} ({}) on {} seed(s): {}\n", g.signature, g.kinds.join(", "), g.count, seeds.join(", "));
            for v in &g.violations {
                let _ = writeln!(text, "  {v}");
            }
            let _ = writeln!(text, "  reproduce: {}", g.repro);
            if let Some(p) = &g.saved {
                let _ = writeln!(text, "  saved: {p}{} (replay: cargo sim repro {p})", artifact_note(g));
            }
            problems.push(text);
        }
        if let Some(c) = s.canary.as_ref().filter(|c| c.missed()) {
            problems.push(format!("canary not caught within {} seeds: the harness lost its power\n", c.within_seeds));
        }
        for mark in s.marks_missed() {
            problems.push(format!("required coverage mark {mark} never reached in {} seeds\n", s.seeds_run));
        }
        let cut_short = result.stopped == Some(Stop::Interrupted) && s.seeds_run < s.seeds_planned;
        let status = if !problems.is_empty() {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let kinds: Vec<&str> = s.failures.iter().map(|g| g.signature.as_str()).collect();
            status.set_message(if kinds.is_empty() { "failed".to_string() } else { kinds.join(", ") });
            status.set_description(problems.concat());
            status
        } else if let Some(why) = s.shortfall() {
            // Not run, or not run enough: a dashboard must not show it as passed.
            let mut status = TestCaseStatus::skipped();
            status.set_message(format!("incomplete: {why}"));
            status
        } else if cut_short {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status
                .set_message(format!("interrupted after {} of its {} seeds: not a pass", s.seeds_run, s.seeds_planned));
            status
        } else {
            TestCaseStatus::success()
        };
        let mut case = TestCase::new(s.scenario.clone(), status);
        case.set_classname("sweep");
        case.set_time(Duration::from_millis(s.wall_ms));
        suite.add_test_case(case);
        junit.add_test_suite(suite);
    }
    let xml = junit.to_string().map_err(std::io::Error::other)?;
    write_atomically(path, &xml)
}

/// Where a merged report's saved seed file is: on the machine (in the CI artifact) of the shard whose report
/// is named.
fn artifact_note(group: &crate::sweep::FailureGroup) -> String {
    group
        .artifact
        .as_ref()
        .map_or(String::new(), |a| format!(" (on the machine of the shard that wrote {a}: its artifact)"))
}

/// The end-of-sweep summary, per scenario.
pub fn summary(result: &SweepReport) -> String {
    let mut out = String::new();
    let seeds: u64 = result.scenarios.iter().map(|s| s.seeds_run).sum();
    let secs = result.wall_ms as f64 / 1e3;
    let verdict = match result.computed_verdict() {
        SweepVerdict::Pass => "passed",
        SweepVerdict::Fail => "FAILED",
        SweepVerdict::Interrupted => "INTERRUPTED (not a pass)",
        SweepVerdict::Incomplete => "INCOMPLETE (not a pass)",
        SweepVerdict::HarnessError => "HARNESS ERROR (the harness broke down: no verdict; please report it)",
    };
    let stopped = match result.stopped {
        None => String::new(),
        Some(Stop::Interrupted) => " · stopped early: interrupted".to_string(),
        Some(Stop::TimeBudget) => {
            " · stopped early: the time budget ran out (a time-boxed sweep of the seeds run)".to_string()
        }
        Some(Stop::FailFast) => " · stopped early: --fail-fast".to_string(),
    };
    let (what, unit) = if result.mode == "explore" { ("explore", "runs") } else { ("sweep", "seeds") };
    let _ = writeln!(
        out,
        "\n{what} {verdict}: {seeds} {unit} in {secs:.1}s ({:.1} {unit}/s){stopped}",
        seeds as f64 / secs.max(1e-9),
    );
    if !result.missing_shards.is_empty() {
        let _ = writeln!(out, "  MISSING SHARDS: {}", result.missing_shards.join(", "));
    }
    let shortfalls = result.shortfalls();
    if !shortfalls.is_empty() {
        let names: Vec<&str> = shortfalls.iter().map(|(name, _)| name.as_str()).collect();
        let _ = writeln!(
            out,
            "  NOT VOUCHED FOR ({}): {}; give the sweep more time (--time-budget) or fewer scenarios",
            names.len(),
            names.join(", ")
        );
    }
    for s in &result.scenarios {
        let speed = s.simulated_ms as f64 / (s.wall_ms.max(1)) as f64;
        let faults: Vec<String> = s.faults.iter().map(|(k, n)| format!("{k}={n}")).collect();
        let _ = writeln!(
            out,
            "  {:<36} {:>5} seeds, {:>4} failed · {:.0}x real time per seed · {} determinism checks{}",
            s.scenario,
            s.seeds_run,
            s.failed_seeds(),
            speed,
            s.determinism_checked,
            if faults.is_empty() { String::new() } else { format!(" · faults {}", faults.join(" ")) }
        );
        if let Some(why) = s.shortfall() {
            let _ = writeln!(out, "      INCOMPLETE: {why}; this sweep cannot vouch for it");
        }
        if let Some(c) = &s.canary {
            let _ = match (c.caught_seed, c.caught_after) {
                (Some(seed), Some(after)) => writeln!(
                    out,
                    "      canary caught after {after} seed(s) (seed {seed}); expects {}",
                    c.expect.join(" or ")
                ),
                _ if c.missed() => writeln!(
                    out,
                    "      CANARY MISSED: not caught within {} seeds; the harness has lost its power",
                    c.within_seeds
                ),
                _ => writeln!(
                    out,
                    "      canary not caught in the {} seeds run (budget {})",
                    c.seeds_tried, c.within_seeds
                ),
            };
            if !s.canary_other.is_empty() {
                let other: Vec<String> = s.canary_other.iter().map(|(sig, n)| format!("{sig} x{n}")).collect();
                let _ = writeln!(out, "      other failures of the flawed system (not counted): {}", other.join(", "));
            }
        }
        if s.seeds_run > 0 {
            let shares: Vec<String> = crate::marks::all()
                .map(|(mark, _)| {
                    let reached = s.marks.get(mark).copied().unwrap_or(0);
                    match s.first_reach_ms.get(mark) {
                        Some(ms) => {
                            format!("{mark} {}% (first after {:.1}s)", reached * 100 / s.seeds_run, *ms as f64 / 1e3)
                        }
                        None => format!("{mark} {}%", reached * 100 / s.seeds_run),
                    }
                })
                .collect();
            let _ = writeln!(out, "      coverage (share of {unit}): {}", shares.join(" · "));
        }
        if !s.knobs.is_empty() {
            let ranges: Vec<String> = s
                .knobs
                .iter()
                .map(|(name, [low, high])| match name.strip_suffix("_ms") {
                    Some(name) => format!("{name} {low}–{high}ms"),
                    None => format!("{name} {low}–{high}"),
                })
                .collect();
            let _ = writeln!(out, "      configuration (resolved range over its seeds): {}", ranges.join(" · "));
        }
        if s.branched_runs > 0 || s.features > 0 {
            let _ = writeln!(
                out,
                "      explored: {} of {} runs were branches · {} coverage features",
                s.branched_runs, s.seeds_run, s.features
            );
        }
        let missed = s.marks_missed();
        for mark in &missed {
            let _ = writeln!(
                out,
                "      COVERAGE MISSED: required mark {mark} was never reached in {} seeds; the sweep tested less than the scenario claims",
                s.seeds_run
            );
        }
        if missed.is_empty() {
            for mark in s.marks_not_reached() {
                let _ = writeln!(
                    out,
                    "      coverage: required mark {mark} not yet reached in {} seeds (required within {})",
                    s.seeds_run, s.marks_within_seeds
                );
            }
        }
        for g in &s.failures {
            let seeds: Vec<String> = g.seeds.iter().map(|s| s.to_string()).collect();
            let _ = writeln!(
                out,
                "      {} x{} (seeds {}) · kinds {}",
                g.signature,
                g.count,
                seeds.join(", "),
                g.kinds.join(", ")
            );
            if let Some(saved) = &g.saved {
                let _ = writeln!(out, "        saved: {saved}{} · replay: cargo sim repro {saved}", artifact_note(g));
            }
            let _ = writeln!(out, "        reproduce: {}", g.repro);
        }
    }
    out
}

/// The report as Markdown for a CI run's summary page: the verdict, failures by signature with their first
/// violations and repro commands, canaries caught or missed, coverage missed.
pub fn markdown(result: &SweepReport) -> String {
    let mut out = String::new();
    let verdict = match result.computed_verdict() {
        SweepVerdict::Pass => "passed ✅",
        SweepVerdict::Fail => "FAILED ❌",
        SweepVerdict::Interrupted => "interrupted (not a pass) ⚠️",
        SweepVerdict::Incomplete => "incomplete (not a pass) ⚠️",
        SweepVerdict::HarnessError => "HARNESS ERROR: no verdict ❗",
    };
    let seeds: u64 = result.scenarios.iter().map(|s| s.seeds_run).sum();
    let shard = result.shard.map_or(String::new(), |s| format!(", shard {}/{}", s.index, s.count));
    let _ = writeln!(out, "## Simulation sweep {verdict}\n");
    let _ = writeln!(
        out,
        "{seeds} seeds from {} ({} per scenario{shard}) · harness {} · {}\n",
        result.start, result.count, result.harness_version, result.toolchain
    );
    if !result.missing_shards.is_empty() {
        let _ = writeln!(out, "**Missing shards:** {}\n", result.missing_shards.join(", "));
    }
    let failing: Vec<_> = result.scenarios.iter().filter(|s| !s.failures.is_empty()).collect();
    if !failing.is_empty() {
        let _ = writeln!(out, "### Failures\n");
        for s in failing {
            for g in &s.failures {
                let seeds: Vec<String> = g.seeds.iter().map(|x| x.to_string()).collect();
                let _ = writeln!(
                    out,
                    "- **{}** `{}` ({}) on {} seed(s): {}",
                    s.scenario,
                    g.signature,
                    g.kinds.join(", "),
                    g.count,
                    seeds.join(", ")
                );
                for v in &g.violations {
                    let _ = writeln!(out, "  - {}", v.replace('|', "\\|"));
                }
                let _ = writeln!(out, "  - reproduce: `{}`", g.repro);
                if let Some(saved) = &g.saved {
                    let _ =
                        writeln!(out, "  - saved: `{saved}`{} (replay: `cargo sim repro {saved}`)", artifact_note(g));
                }
            }
        }
        let _ = writeln!(out);
    }
    let canaries: Vec<_> = result.scenarios.iter().filter_map(|s| s.canary.as_ref().map(|c| (s, c))).collect();
    if !canaries.is_empty() {
        let _ = writeln!(out, "### Canaries\n\n| canary | result |\n|---|---|");
        for (s, c) in canaries {
            let state = match c.caught_after {
                Some(after) => format!("caught after {after} seed(s)"),
                None if c.missed() => format!("**MISSED** within {} seeds", c.within_seeds),
                None => format!("not caught in {} seeds run (budget {})", c.seeds_tried, c.within_seeds),
            };
            let _ = writeln!(out, "| {} | {state} |", s.scenario);
        }
        let _ = writeln!(out);
    }
    let missed: Vec<String> = result
        .scenarios
        .iter()
        .flat_map(|s| {
            s.marks_missed()
                .into_iter()
                .map(move |m| format!("- {}: `{m}` never reached in {} seeds", s.scenario, s.seeds_run))
        })
        .collect();
    if !missed.is_empty() {
        let _ = writeln!(out, "### Coverage missed\n\n{}\n", missed.join("\n"));
    }
    let short: Vec<String> = result.shortfalls().into_iter().map(|(name, why)| format!("- {name}: {why}")).collect();
    if !short.is_empty() {
        let _ = writeln!(out, "### Not run enough (the sweep cannot vouch for these)\n\n{}\n", short.join("\n"));
    }
    out
}

/// Appends [`markdown`] to the file GitHub Actions names in `GITHUB_STEP_SUMMARY`, when it is set.
pub fn write_step_summary(result: &SweepReport) -> std::io::Result<()> {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") else { return Ok(()) };
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(markdown(result).as_bytes())
}
