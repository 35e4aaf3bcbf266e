//! Flaws: known-bad behaviours, each off by default, switched on by name.
//!
//! A flaw exists to prove that the harness can see a class of bug: a scenario that switches one on must fail.
//! Each flaw names the real-world failure it stands for. Flaws live in the system's own code paths (not in a
//! mock) so that what the harness catches is the bug as it would really run.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flaw {
    /// The queue's deduplication keys pending jobs by (entity, schema) and forgets the environment, so that a
    /// job of one environment is discarded as a duplicate of another environment's job for an entity with the
    /// same id. The real incident: it only showed when several environments had jobs queued at once, logged no
    /// error, and left views silently never generated.
    DedupIgnoresEnvironment,
}

impl Flaw {
    pub const ALL: &'static [Flaw] = &[Flaw::DedupIgnoresEnvironment];

    pub fn name(self) -> &'static str {
        match self {
            Flaw::DedupIgnoresEnvironment => "dedup-ignores-environment",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Flaw::DedupIgnoresEnvironment => {
                "queue deduplication ignores the environment: jobs of different environments for the same \
                 entity id are coalesced and one of them is lost"
            }
        }
    }
}

impl fmt::Display for Flaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Flaw {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Flaw::ALL.iter().copied().find(|flaw| flaw.name() == s).ok_or_else(|| {
            let known: Vec<&str> = Flaw::ALL.iter().map(|flaw| flaw.name()).collect();
            format!("unknown flaw `{s}`; known flaws: {}", known.join(", "))
        })
    }
}

/// The set of flaws switched on for one run. Empty by default: the correct system.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flaws(BTreeSet<Flaw>);

impl Flaws {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn with(flaws: impl IntoIterator<Item = Flaw>) -> Self {
        Self(flaws.into_iter().collect())
    }

    pub fn has(&self, flaw: Flaw) -> bool {
        self.0.contains(&flaw)
    }

    pub fn iter(&self) -> impl Iterator<Item = Flaw> + '_ {
        self.0.iter().copied()
    }
}
