//! `cargo sim merge A.json B.json ...`: one summary of the sweeps of several shards.

use super::bad_input;
use super::sweep::{summary, write_atomically, write_junit};
use crate::sweep::{ScenarioReport, SweepReport};
use std::path::PathBuf;

/// Merges shard reports: seeds and statistics add up; failure groups merge by signature.
pub fn merge_reports(parts: &[SweepReport]) -> SweepReport {
    let mut merged = SweepReport {
        start: parts.iter().map(|p| p.start).min().unwrap_or(0),
        count: parts.iter().map(|p| p.count).max().unwrap_or(0),
        shard: None,
        interrupted: parts.iter().any(|p| p.interrupted),
        wall_ms: parts.iter().map(|p| p.wall_ms).max().unwrap_or(0),
        scenarios: Vec::new(),
    };
    for part in parts {
        for s in &part.scenarios {
            let target = match merged.scenarios.iter().position(|m| m.scenario == s.scenario) {
                Some(i) => &mut merged.scenarios[i],
                None => {
                    merged.scenarios.push(ScenarioReport { scenario: s.scenario.clone(), ..Default::default() });
                    merged.scenarios.last_mut().expect("just pushed")
                }
            };
            target.seeds_run += s.seeds_run;
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
                        t.count += g.count;
                        t.seeds.extend(g.seeds.iter().copied());
                        t.seeds.sort();
                        t.seeds.dedup();
                        t.seeds.truncate(crate::sweep::SEEDS_PER_GROUP_MAX);
                        if t.saved.is_none() {
                            t.saved = g.saved.clone();
                        }
                        if g.seeds.first() < t.seeds.first() {
                            t.repro = g.repro.clone();
                        }
                    }
                    None => target.failures.push(g.clone()),
                }
            }
        }
    }
    merged.scenarios.sort_by(|a, b| a.scenario.cmp(&b.scenario));
    merged
}

pub fn merge(files: &[PathBuf], json: Option<PathBuf>, junit: Option<PathBuf>) -> u8 {
    if files.is_empty() {
        return bad_input("give the JSON files of the shards to merge");
    }
    let mut parts = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => return bad_input(format!("{}: cannot read: {e}", file.display())),
        };
        match serde_json::from_str::<SweepReport>(&text) {
            Ok(r) => parts.push(r),
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
    let merged = merge_reports(&parts);
    print!("{}", summary(&merged));
    if let Some(path) = json {
        if let Err(e) = write_atomically(&path, &serde_json::to_string_pretty(&merged).expect("reports serialize")) {
            return bad_input(format!("could not write {}: {e}", path.display()));
        }
    }
    if let Some(path) = junit {
        if let Err(e) = write_junit(&path, &merged) {
            return bad_input(format!("could not write {}: {e}", path.display()));
        }
    }
    if merged.failed() {
        1
    } else {
        0
    }
}
