//! `cargo sim bench`: measure the harness and write BENCHMARKS.md.

use super::bad_input;
use crate::bench::{self, BenchOptions};
use crate::report::files::write_atomically;
use std::path::Path;

/// Refreshes only the exploration section of `output` (appended if it has none).
pub fn exploration_only(options: &crate::bench::exploration::ExplorationOptions, output: &Path) -> u8 {
    use crate::bench::{EXPLORATION_BEGIN, EXPLORATION_END};
    match bench::exploration_section(options) {
        Ok(section) => refresh(output, EXPLORATION_BEGIN, EXPLORATION_END, &section, "exploration"),
        Err(e) => bad_input(e),
    }
}

/// Refreshes only the swarm reach section of `output` (appended if it has none).
pub fn swarm_reach_only(seeds: u64, jobs: usize, output: &Path) -> u8 {
    use crate::bench::swarm::{BEGIN, END};
    match bench::swarm_section(seeds, jobs) {
        Ok(section) => refresh(output, BEGIN, END, &section, "swarm reach"),
        Err(e) => bad_input(e),
    }
}

/// Puts `section` in place of what lies between `begin` and `end` in `output`, or appends it.
fn refresh(output: &Path, begin: &str, end: &str, section: &str, what: &str) -> u8 {
    let old = std::fs::read_to_string(output).unwrap_or_default();
    let md = match (old.find(begin), old.find(end)) {
        (Some(a), Some(b)) if b > a => {
            format!("{}{section}{}", &old[..a], &old[b + end.len()..].trim_start_matches('\n'))
        }
        _ => format!("{}\n\n{section}", old.trim_end()),
    };
    crate::out!("{section}");
    if let Err(e) = write_atomically(output, &md) {
        return bad_input(format!("could not write {}: {e}", output.display()));
    }
    crate::errln!("{what} section written to {}", output.display());
    0
}

pub fn bench(options: BenchOptions, output: &Path, notes: Option<&Path>) -> u8 {
    let command = format!(
        "cargo sim bench --seeds {} --canary-starts {} --memory-seeds {} --swarm-seeds {}",
        options.seeds, options.canary_starts, options.memory_seeds, options.swarm_seeds
    );
    let mut md = match bench::run(&options, &command) {
        Ok(md) => md,
        Err(e) => return bad_input(e),
    };
    // Hand-written analysis (what was profiled, why a target is missed) is kept in a file of its own and
    // appended, so that re-running the benchmark refreshes the figures without losing it.
    if let Some(notes) = notes.filter(|n| n.exists()) {
        match std::fs::read_to_string(notes) {
            Ok(text) => {
                md.push('\n');
                md.push_str(&text);
            }
            Err(e) => return bad_input(format!("{}: cannot read: {e}", notes.display())),
        }
    }
    crate::out!("{md}");
    if let Err(e) = write_atomically(output, &md) {
        return bad_input(format!("could not write {}: {e}", output.display()));
    }
    crate::errln!("written to {}", output.display());
    0
}
