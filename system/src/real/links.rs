//! Network faults for a real cluster, applied at the transport seam: a [`LinkShaper`] that reads its rules from a
//! file whoever runs the cluster writes. Dropping or delaying traffic between two processes takes root on Linux
//! (tc, iptables); every message of the system already asks its node's `LinkShaper` what happens to it, so a
//! file the node re-reads does the same without privileges, for the system's calls and (when the harness's own
//! clients use it too) for everyone's.
//!
//! One rule per line, `FROM TO ACTION`, where FROM and TO are IP addresses or `*`, and ACTION is `drop PERCENT` or
//! `delay MILLISECONDS`; `#` starts a comment. A message from A to B meets every rule that matches it: it is lost
//! if any drop rule's draw says so, and otherwise delayed by the sum of the matching delays.

use crate::net::{Fate, LinkShaper};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long rules are used before the file is read again.
const RELOAD_EVERY: Duration = Duration::from_millis(50);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Drop(u64),
    Delay(Duration),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub from: Option<IpAddr>,
    pub to: Option<IpAddr>,
    pub action: Action,
}

impl Rule {
    fn matches(&self, from: IpAddr, to: IpAddr) -> bool {
        self.from.is_none_or(|f| f == from) && self.to.is_none_or(|t| t == to)
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ip = |ip: Option<IpAddr>| ip.map_or("*".to_string(), |ip| ip.to_string());
        match &self.action {
            Action::Drop(percent) => write!(f, "{} {} drop {percent}", ip(self.from), ip(self.to)),
            Action::Delay(d) => write!(f, "{} {} delay {}", ip(self.from), ip(self.to), d.as_millis()),
        }
    }
}

/// Parses a rules file; an error names the line.
pub fn parse(text: &str) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let bad =
            |why: &str| format!("line {}: `{line}`: {why}; write FROM TO drop PERCENT or FROM TO delay MS", n + 1);
        let words: Vec<&str> = line.split_whitespace().collect();
        let [from, to, action, value] = words[..] else { return Err(bad("four words expected")) };
        let ip = |w: &str| -> Result<Option<IpAddr>, String> {
            if w == "*" {
                Ok(None)
            } else {
                w.parse().map(Some).map_err(|_| bad("not an IP address or *"))
            }
        };
        let value: u64 = value.parse().map_err(|_| bad("not a whole number"))?;
        let action = match action {
            "drop" if value <= 100 => Action::Drop(value),
            "drop" => return Err(bad("a percentage is at most 100")),
            "delay" => Action::Delay(Duration::from_millis(value)),
            _ => return Err(bad("the action is drop or delay")),
        };
        rules.push(Rule { from: ip(from)?, to: ip(to)?, action });
    }
    Ok(rules)
}

/// What a message between two addresses meets under `rules`, with `draw` giving a number in 0..100 per drop
/// rule that matches.
pub fn fate(rules: &[Rule], from: IpAddr, to: IpAddr, mut draw: impl FnMut() -> u64) -> Fate {
    let mut delay = Duration::ZERO;
    for rule in rules.iter().filter(|r| r.matches(from, to)) {
        match rule.action {
            Action::Drop(percent) if draw() < percent => return Fate::Drop,
            Action::Drop(_) => {}
            Action::Delay(d) => delay += d,
        }
    }
    Fate::Deliver(delay)
}

/// The shaper: rules from a file, read again at most every 50 ms. A file that is missing means no rules; one
/// that does not parse keeps the last good rules (and is reported once per change on stderr by the node's log).
pub struct FileLinks {
    path: PathBuf,
    cache: Mutex<(Option<Instant>, Vec<Rule>)>,
}

impl FileLinks {
    pub fn new(path: &Path) -> FileLinks {
        FileLinks { path: path.to_path_buf(), cache: Mutex::new((None, Vec::new())) }
    }

    fn rules(&self) -> Vec<Rule> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.0.is_none_or(|at| at.elapsed() >= RELOAD_EVERY) {
            cache.0 = Some(Instant::now());
            match std::fs::read_to_string(&self.path) {
                Ok(text) => match parse(&text) {
                    Ok(rules) => cache.1 = rules,
                    Err(e) => tracing::warn!("{}: {e}", self.path.display()),
                },
                Err(_) => cache.1.clear(),
            }
        }
        cache.1.clone()
    }
}

impl LinkShaper for FileLinks {
    fn shape(&self, from: IpAddr, to: IpAddr) -> Fate {
        let rules = self.rules();
        if rules.is_empty() {
            return Fate::Deliver(Duration::ZERO);
        }
        use madsim::rand::Rng;
        // A real node's randomness (madsim's generator is the OS-seeded one outside a simulation).
        fate(&rules, from, to, || madsim::rand::thread_rng().gen_range(0..100))
    }
}
