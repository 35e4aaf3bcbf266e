//! `cargo sim merge A.json B.json ...`: one report of the sweeps of several shards. It checks what it merges:
//! every part must be a shard of the same sweep (same start seed, same count, same number of shards), no shard
//! may appear twice, and a merge that lacks shards is `incomplete` (exit 3), never a pass.

use super::{bad_input, EXIT_OUTPUT_LOST};
use crate::out;
use crate::report::sweep::{summary, write_reports};
use crate::sweep::{ScenarioReport, Stop, SweepReport};
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The JSON reports of the shards (`cargo sim sweep --shard K/N --json FILE`), one per shard.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Merge shards built differently (another commit, harness version or toolchain) or that swept different
    /// scenarios. Without it such a merge is refused: its seeds would not be one sweep's.
    #[arg(long)]
    pub allow_mixed: bool,
    /// Write the merged report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the merged report as JUnit XML to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
}

/// How two reports' builds or scenario sets differ, in words (empty if they do not).
pub fn mismatches(a: &SweepReport, b: &SweepReport) -> Vec<String> {
    let mut out = Vec::new();
    if a.harness_version != b.harness_version {
        out.push(format!("harness {} and {}", a.harness_version, b.harness_version));
    }
    if a.git_commit != b.git_commit {
        let show = |c: &Option<String>| c.clone().unwrap_or_else(|| "(no commit)".into());
        out.push(format!("commit {} and {}", show(&a.git_commit), show(&b.git_commit)));
    }
    if a.toolchain != b.toolchain {
        out.push(format!("toolchain `{}` and `{}`", a.toolchain, b.toolchain));
    }
    let names = |r: &SweepReport| r.scenarios.iter().map(|s| s.scenario.clone()).collect::<BTreeSet<String>>();
    let (x, y) = (names(a), names(b));
    if x != y {
        let only = |p: &BTreeSet<String>, q: &BTreeSet<String>| p.difference(q).cloned().collect::<Vec<_>>().join(", ");
        out.push(format!("scenarios only in one: [{}] and [{}]", only(&x, &y), only(&y, &x)));
    }
    out
}

/// Checks that `parts` are shards of one sweep, and returns the shards missing (as `K/N`). Shards of different
/// builds or scenario sets are refused unless `allow_mixed`.
pub fn check_parts(parts: &[(PathBuf, SweepReport)], allow_mixed: bool) -> Result<Vec<String>, String> {
    let (first_path, first) = &parts[0];
    for (path, part) in parts {
        let differ = mismatches(first, part);
        if !differ.is_empty() && !allow_mixed {
            return Err(format!(
                "{} and {} are not shards of one sweep: {}; re-run the shards from one build, or pass --allow-mixed \
                 to merge them anyway",
                first_path.display(),
                path.display(),
                differ.join("; ")
            ));
        }
        if part.start != first.start || part.count != first.count {
            return Err(format!(
                "{} covers seeds {}..{} but {} covers {}..{}: not shards of one sweep",
                path.display(),
                part.start,
                part.start + part.count,
                first_path.display(),
                first.start,
                first.start + first.count
            ));
        }
        if part.shard.map(|s| s.count) != first.shard.map(|s| s.count) {
            return Err(format!(
                "{} and {} were split into different numbers of shards",
                path.display(),
                first_path.display()
            ));
        }
    }
    let Some(shards) = first.shard.map(|s| s.count) else {
        return if parts.len() == 1 {
            Ok(Vec::new())
        } else {
            Err("the reports are not shards (no --shard); there is nothing to merge them into".into())
        };
    };
    let mut seen = BTreeSet::new();
    for (path, part) in parts {
        let index = part.shard.map_or(0, |s| s.index);
        if !seen.insert(index) {
            return Err(format!("{}: shard {index}/{shards} appears twice", path.display()));
        }
    }
    Ok((1..=shards).filter(|k| !seen.contains(k)).map(|k| format!("{k}/{shards}")).collect())
}

/// Adds `more` to a count, or says which count would overflow: a report that claims more seeds than a `u64`
/// holds was not written by a sweep.
fn add(total: &mut u64, more: u64, what: &str, scenario: &str) -> Result<(), String> {
    *total = total.checked_add(more).ok_or_else(|| {
        format!("{scenario}: `{what}` adds up to more than {} across the shards; a report was altered", u64::MAX)
    })?;
    Ok(())
}

/// Merges shard reports: seeds and statistics add up; failure groups merge by fingerprint, keeping the lowest
/// failing seed's repro command and violations. `artifacts` names the file each part came from, so that the
/// merged report says where each saved seed file is.
pub fn merge_reports(parts: &[SweepReport], artifacts: &[String]) -> Result<SweepReport, String> {
    let mut merged = SweepReport {
        start: parts.iter().map(|p| p.start).min().unwrap_or(0),
        count: parts.iter().map(|p| p.count).max().unwrap_or(0),
        stopped: parts.iter().filter_map(|p| p.stopped).max_by_key(|s| match s {
            Stop::Interrupted => 2,
            Stop::FailFast => 1,
            Stop::TimeBudget => 0,
        }),
        wall_ms: parts.iter().map(|p| p.wall_ms).max().unwrap_or(0),
        started_at: parts.iter().map(|p| p.started_at.clone()).min().unwrap_or_default(),
        ..Default::default()
    };
    for (i, part) in parts.iter().enumerate() {
        let artifact = artifacts.get(i).cloned();
        for s in &part.scenarios {
            let target = match merged.scenarios.iter().position(|m| m.scenario == s.scenario) {
                Some(i) => &mut merged.scenarios[i],
                None => {
                    merged.scenarios.push(ScenarioReport {
                        scenario: s.scenario.clone(),
                        marks_within_seeds: s.marks_within_seeds,
                        ..Default::default()
                    });
                    merged.scenarios.last_mut().expect("just pushed")
                }
            };
            let name = s.scenario.clone();
            add(&mut target.seeds_run, s.seeds_run, "seeds_run", &name)?;
            add(&mut target.seeds_planned, s.seeds_planned, "seeds_planned", &name)?;
            add(&mut target.seeds_passed, s.seeds_passed, "seeds_passed", &name)?;
            add(&mut target.determinism_checked, s.determinism_checked, "determinism_checked", &name)?;
            add(&mut target.simulated_ms, s.simulated_ms, "simulated_ms", &name)?;
            add(&mut target.wall_ms, s.wall_ms, "wall_ms", &name)?;
            add(&mut target.ingests_acked, s.ingests_acked, "ingests_acked", &name)?;
            for (k, n) in &s.faults {
                add(target.faults.entry(k.clone()).or_insert(0), *n, &format!("faults.{k}"), &name)?;
            }
            for (k, n) in &s.marks {
                add(target.marks.entry(k.clone()).or_insert(0), *n, &format!("marks.{k}"), &name)?;
            }
            let ends: Vec<(String, u64)> =
                s.knobs.iter().flat_map(|(k, [low, high])| [(k.clone(), *low), (k.clone(), *high)]).collect();
            target.note_knobs(ends.iter().map(|(k, v)| (k, v)));
            for (k, n) in &s.canary_other {
                add(target.canary_other.entry(k.clone()).or_insert(0), *n, &format!("canary_other.{k}"), &name)?;
            }
            for m in &s.marks_required {
                if !target.marks_required.contains(m) {
                    target.marks_required.push(m.clone());
                }
            }
            if target.canary.is_none() {
                target.canary = s.canary.clone();
            } else if let (Some(t), Some(c)) = (&mut target.canary, &s.canary) {
                t.merge(c).map_err(|e| format!("{name}: {e}"))?;
            }
            for g in &s.failures {
                let mut g = g.clone();
                if g.saved.is_some() {
                    g.artifact = artifact.clone();
                }
                match target.failures.iter_mut().find(|t| t.signature == g.signature) {
                    Some(t) => {
                        // Compare before combining: the lowest failing seed of either side names the repro.
                        if g.seeds.first() < t.seeds.first() {
                            t.repro = g.repro.clone();
                            t.violations = g.violations.clone();
                        }
                        add(&mut t.count, g.count, "failures.count", &name)?;
                        t.seeds.extend(g.seeds.iter().copied());
                        t.seeds.sort();
                        t.seeds.dedup();
                        t.seeds.truncate(crate::sweep::SEEDS_PER_GROUP_MAX);
                        for kinds in &g.kinds {
                            if !t.kinds.contains(kinds) && t.kinds.len() < crate::sweep::KINDS_PER_GROUP_MAX {
                                t.kinds.push(kinds.clone());
                            }
                        }
                        t.kinds.sort();
                        if t.saved.is_none() {
                            t.saved = g.saved.clone();
                            t.artifact = g.artifact.clone();
                        }
                    }
                    None => target.failures.push(g),
                }
            }
        }
    }
    merged.scenarios.sort_by(|a, b| a.scenario.cmp(&b.scenario));
    for s in &mut merged.scenarios {
        s.failures.sort_by(|a, b| a.signature.cmp(&b.signature));
    }
    Ok(merged)
}

pub fn merge(args: MergeArgs) -> u8 {
    let mut parts = Vec::new();
    for file in &args.files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => return bad_input(format!("{}: cannot read: {e}", file.display())),
        };
        match serde_json::from_str::<SweepReport>(&text) {
            Ok(r) => parts.push((file.clone(), r)),
            Err(e) => {
                return bad_input(format!(
                    "{}:{}:{}: not a sweep report written by `cargo sim sweep --json`: {e}",
                    file.display(),
                    e.line(),
                    e.column()
                ))
            }
        }
    }
    let missing = match check_parts(&parts, args.allow_mixed) {
        Ok(missing) => missing,
        Err(e) => return bad_input(e),
    };
    let artifacts: Vec<String> = parts.iter().map(|(path, _)| path.display().to_string()).collect();
    let reports: Vec<SweepReport> = parts.into_iter().map(|(_, r)| r).collect();
    let mut merged = match merge_reports(&reports, &artifacts) {
        Ok(merged) => merged,
        Err(e) => return bad_input(e),
    };
    merged.missing_shards = missing;
    // Host time, outside every simulation: only the report's stamp when the shards carry no start time.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    let started_at = std::mem::take(&mut merged.started_at);
    crate::report::sweep::stamp(&mut merged, now);
    if !started_at.is_empty() {
        merged.started_at = started_at;
    }
    let mut lost = !write_reports(&merged, args.json.as_deref(), args.junit.as_deref());
    if let Err(e) = crate::report::sweep::write_step_summary(&merged) {
        crate::errln!("error: could not append to GITHUB_STEP_SUMMARY: {e}");
        lost = true;
    }
    out!("{}", summary(&merged));
    if lost {
        return EXIT_OUTPUT_LOST;
    }
    merged.computed_verdict().exit_code()
}
