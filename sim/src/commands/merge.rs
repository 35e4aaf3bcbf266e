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
    /// Write the merged report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the merged report as JUnit XML to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
}

/// Checks that `parts` are shards of one sweep, and returns the shards missing (as `K/N`).
pub fn check_parts(parts: &[(PathBuf, SweepReport)]) -> Result<Vec<String>, String> {
    let (first_path, first) = &parts[0];
    for (path, part) in parts {
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

/// Merges shard reports: seeds and statistics add up; failure groups merge by signature, keeping the lowest
/// failing seed's repro command and violations.
pub fn merge_reports(parts: &[SweepReport]) -> SweepReport {
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
    for part in parts {
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
            target.seeds_run += s.seeds_run;
            target.seeds_planned += s.seeds_planned;
            target.seeds_passed += s.seeds_passed;
            target.determinism_checked += s.determinism_checked;
            target.simulated_ms += s.simulated_ms;
            target.wall_ms += s.wall_ms;
            target.ingests_acked += s.ingests_acked;
            for (k, n) in &s.faults {
                *target.faults.entry(k.clone()).or_insert(0) += n;
            }
            for (k, n) in &s.marks {
                *target.marks.entry(k.clone()).or_insert(0) += n;
            }
            for (k, n) in &s.canary_other {
                *target.canary_other.entry(k.clone()).or_insert(0) += n;
            }
            for m in &s.marks_required {
                if !target.marks_required.contains(m) {
                    target.marks_required.push(m.clone());
                }
            }
            if target.canary.is_none() {
                target.canary = s.canary.clone();
            } else if let (Some(t), Some(c)) = (&mut target.canary, &s.canary) {
                t.merge(c);
            }
            for g in &s.failures {
                match target.failures.iter_mut().find(|t| t.signature == g.signature) {
                    Some(t) => {
                        // Compare before combining: the lowest failing seed of either side names the repro.
                        if g.seeds.first() < t.seeds.first() {
                            t.repro = g.repro.clone();
                            t.violations = g.violations.clone();
                        }
                        t.count += g.count;
                        t.seeds.extend(g.seeds.iter().copied());
                        t.seeds.sort();
                        t.seeds.dedup();
                        t.seeds.truncate(crate::sweep::SEEDS_PER_GROUP_MAX);
                        if t.saved.is_none() {
                            t.saved = g.saved.clone();
                        }
                    }
                    None => target.failures.push(g.clone()),
                }
            }
        }
    }
    merged.scenarios.sort_by(|a, b| a.scenario.cmp(&b.scenario));
    for s in &mut merged.scenarios {
        s.failures.sort_by(|a, b| a.signature.cmp(&b.signature));
    }
    merged
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
    let missing = match check_parts(&parts) {
        Ok(missing) => missing,
        Err(e) => return bad_input(e),
    };
    let reports: Vec<SweepReport> = parts.into_iter().map(|(_, r)| r).collect();
    let mut merged = merge_reports(&reports);
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
