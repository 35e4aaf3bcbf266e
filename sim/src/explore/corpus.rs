//! The explorer's corpus: the runs worth branching from, each with the features it reached, and how many runs
//! reached each feature (its rarity). Saved as JSON (`--corpus DIR`, one file per scenario and shard) so that
//! exploration continues where it stopped; the files of several shards merge on load.

use super::features::Coverage;
use crate::branch::Branch;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Runs kept per scenario at most: the least rare give way.
pub const CORPUS_MAX: usize = 400;
/// Branch points before a feature's first hit that the explorer tries (an offset of zero included): the moment
/// itself, just before it (where the cause of a compaction or a busy answer is under way), and well before it.
pub const OFFSETS: [Duration; 6] = [
    Duration::ZERO,
    Duration::from_millis(5),
    Duration::from_millis(20),
    Duration::from_millis(100),
    Duration::from_millis(500),
    Duration::from_secs(2),
];

/// One run of the corpus: what reproduces it, and what it reached when (since the safety phase began).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub seed: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<Branch>,
    /// Feature -> when it was first reached, in milliseconds since the safety phase began.
    pub features: BTreeMap<String, u64>,
}

/// One scenario's corpus.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Corpus {
    pub scenario: String,
    /// Runs made (kept or not), across every session that added to this file.
    pub runs: u64,
    /// Feature -> how many runs reached it.
    pub counts: BTreeMap<String, u64>,
    pub entries: Vec<Entry>,
}

/// What the explorer does next for a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub seed: u64,
    pub branches: Vec<Branch>,
    /// The feature the branch aims at, if it is a branch.
    pub target: Option<String>,
}

impl Corpus {
    pub fn new(scenario: &str) -> Corpus {
        Corpus { scenario: scenario.to_string(), ..Corpus::default() }
    }

    /// Counts a finished run; keeps it if it reached a feature no run before it had (a new mark, bucket, step or
    /// a higher high-water level). Returns the features that were new.
    pub fn add(&mut self, seed: u64, branches: &[Branch], coverage: &Coverage) -> Vec<String> {
        self.runs += 1;
        let mut new = Vec::new();
        for feature in coverage.features.keys() {
            let count = self.counts.entry(feature.clone()).or_insert(0);
            if *count == 0 {
                new.push(feature.clone());
            }
            *count += 1;
        }
        if !new.is_empty() || self.entries.is_empty() {
            let features = coverage.features.iter().map(|(f, at)| (f.clone(), at.as_millis() as u64)).collect();
            self.entries.push(Entry { seed, branches: branches.to_vec(), features });
            if self.entries.len() > CORPUS_MAX {
                // The entry whose rarest feature is the most common gives way.
                let worst = (0..self.entries.len()).max_by_key(|&i| self.rarest(&self.entries[i]).map(|(_, n)| n));
                if let Some(worst) = worst {
                    self.entries.remove(worst);
                }
            }
        }
        new
    }

    fn count(&self, feature: &str) -> u64 {
        self.counts.get(feature).copied().unwrap_or(0).max(1)
    }

    /// An entry's rarest feature and how many runs reached it.
    fn rarest<'e>(&self, entry: &'e Entry) -> Option<(&'e str, u64)> {
        entry.features.keys().map(|f| (f.as_str(), self.count(f))).min_by_key(|(_, n)| *n)
    }

    /// How rare what an entry reached is: the sum over its features of one over the runs that reached each, so a
    /// run with one feature only it has outweighs one with many common ones.
    fn rarity(&self, entry: &Entry) -> f64 {
        entry.features.keys().map(|f| 1.0 / self.count(f) as f64).sum()
    }

    /// A branch of a run of the corpus: the parent is drawn with probability rising with the rarity of what it
    /// reached; the target is one of its rarest features (those sharing a prefix with `wanted`, the required marks
    /// not yet reached, first); the branch point is one of [`OFFSETS`] before the target's first hit, never before
    /// the parent's own last branch. `None` if the corpus is empty.
    pub fn branch(&self, rng: &mut ChaCha8Rng, wanted: &[String]) -> Option<Plan> {
        if self.entries.is_empty() {
            return None;
        }
        let has_related = |e: &Entry| {
            e.features.keys().any(|f| {
                let mark = f.strip_prefix("mark:").unwrap_or("");
                wanted.iter().any(|w| crate::marks::precursors(w).contains(&mark))
            })
        };
        // Hunting a mark, parents that reached one of its precursors get most of the budget.
        let weights: Vec<f64> =
            self.entries.iter().map(|e| self.rarity(e) * if has_related(e) { 20.0 } else { 1.0 }).collect();
        let total: f64 = weights.iter().sum();
        let mut pick = rng.gen_range(0.0..total.max(f64::MIN_POSITIVE));
        let mut parent = &self.entries[self.entries.len() - 1];
        for (entry, weight) in self.entries.iter().zip(&weights) {
            if pick < *weight {
                parent = entry;
                break;
            }
            pick -= weight;
        }
        // A feature is related to a wanted mark if it is one of the mark's precursors (what must come first), or
        // the mark under some fault or in some bucket.
        let related = |f: &str| {
            let mark = f.strip_prefix("mark:").or_else(|| f.strip_prefix("under:")).unwrap_or(f);
            let mark = mark.split(['#', '@']).next().unwrap_or(mark);
            wanted.iter().any(|w| w == mark || crate::marks::precursors(w).contains(&mark))
        };
        let mut candidates: Vec<(&String, &u64)> = parent.features.iter().collect();
        candidates.sort_by_key(|(f, _)| (!related(f), self.count(f)));
        // One of the few rarest (or of the related ones), so that a parent is not always branched at one moment.
        let related_count = candidates.iter().take_while(|(f, _)| related(f)).count();
        let choice = rng.gen_range(0..if related_count > 0 { related_count.min(3) } else { candidates.len().min(3) });
        let (target, &at_ms) = candidates[choice];
        let offset = OFFSETS[rng.gen_range(0..OFFSETS.len())];
        let floor = parent.branches.iter().map(|b| b.at.0).max().unwrap_or_default();
        let at = Duration::from_millis(at_ms).saturating_sub(offset).max(floor);
        let mut branches = parent.branches.clone();
        branches.push(Branch::new(at, rng.gen()));
        Some(Plan { seed: parent.seed, branches, target: Some(target.clone()) })
    }

    /// The file of this corpus in `dir`, for one shard (or the whole range).
    pub fn path(dir: &Path, scenario: &str, shard: Option<crate::sweep::Shard>) -> PathBuf {
        let name: String =
            scenario.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
        let shard = shard.map_or(String::new(), |s| format!(".shard-{}-of-{}", s.index, s.count));
        dir.join(format!("{name}{shard}.json"))
    }

    /// Every corpus file of `scenario` in `dir` (each shard's), merged: entries joined, counts added.
    pub fn load(dir: &Path, scenario: &str) -> Result<Corpus, String> {
        let mut merged = Corpus::new(scenario);
        let Ok(read) = std::fs::read_dir(dir) else { return Ok(merged) };
        let stem = Corpus::path(Path::new(""), scenario, None);
        let stem = stem.to_string_lossy().trim_end_matches(".json").to_string();
        let mut paths: Vec<PathBuf> = read
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
                name == format!("{stem}.json")
                    || (name.starts_with(&format!("{stem}.shard-")) && name.ends_with(".json"))
            })
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
            let part: Corpus = serde_json::from_str(&text).map_err(|e| {
                format!(
                    "{}:{}:{}: not a corpus written by `cargo sim explore`: {e}",
                    path.display(),
                    e.line(),
                    e.column()
                )
            })?;
            if part.scenario != scenario {
                return Err(format!("{}: a corpus of `{}`, not of `{scenario}`", path.display(), part.scenario));
            }
            merged.runs = merged.runs.saturating_add(part.runs);
            for (f, n) in part.counts {
                let count = merged.counts.entry(f).or_insert(0);
                *count = count.saturating_add(n);
            }
            for entry in part.entries {
                if !merged.entries.contains(&entry) {
                    merged.entries.push(entry);
                }
            }
        }
        merged.entries.truncate(CORPUS_MAX);
        Ok(merged)
    }
}
