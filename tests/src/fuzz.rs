//! Fuzzed scenarios: arbitrary bytes become a bounded, valid scenario (topology, environments, load, fault
//! plan) and a seed. The fuzz target checks that the harness never panics or hangs on any of them and that the
//! correct system passes every one.
//!
//! The scenario is built as TOML text and read back through the strict parser, so the parser and validation
//! are fuzzed as well: a generated scenario the parser refuses is a bug in one or the other.

use arbitrary::Arbitrary;
use sim::faults::FaultKind;
use std::fmt::Write;

#[derive(Clone, Debug, Arbitrary)]
pub struct FuzzScenario {
    pub seed: u64,
    environments: u8,
    entities: u8,
    hot_entities: u8,
    hot_percent: u8,
    ingest_rate: u8,
    workers: u8,
    ingest_nodes: u8,
    worker_slots: u8,
    schemas: u8,
    safety_secs: u8,
    lease_ms: u16,
    /// Odd: the last environment gets more entities than the others (`environments.sizes`).
    last_size: u8,
    faults: Vec<FuzzFault>,
}

#[derive(Clone, Debug, Arbitrary)]
pub struct FuzzFault {
    at_ms: u16,
    duration_ms: u16,
    kind: u8,
    a: u8,
    b: u8,
    amount: u16,
    negative: bool,
}

/// Bounds of the generated scenarios: small enough that a case runs in a fraction of a second.
pub const FAULTS_MAX: usize = 8;
const ENV_NAMES: [&str; 5] = ["acme-prod", "acme-staging", "globex", "initech", "umbrella"];
const FIELDS: [&str; 4] = ["title", "body", "summary", "site"];
/// Every fault kind, from the fault enum itself: a kind added to `sim::faults::Fault` is drawn here too (and the
/// `match` below fails to compile until its fields are written).
fn kinds() -> &'static [sim::faults::FaultKind] {
    sim::faults::FaultKind::ALL
}

impl FuzzScenario {
    /// The scenario as a strict TOML file.
    pub fn to_toml(&self) -> String {
        let envs = 1 + self.environments as usize % ENV_NAMES.len();
        let entities = 1 + self.entities as usize % 60;
        let hot = 1 + self.hot_entities as usize % entities;
        let workers = 1 + self.workers as usize % 4;
        let ingest_nodes = 1 + self.ingest_nodes as usize % 3;
        let schemas = 1 + self.schemas as usize % 3;
        let safety_ms = 2_000 + (self.safety_secs as u64 % 11) * 1_000;
        let mut t = String::new();
        let _ = writeln!(t, "description = \"fuzzed\"\n");
        let _ = writeln!(
            t,
            "[topology]\ningest_nodes = {ingest_nodes}\nworkers = {workers}\nworker_slots = {}\n",
            1 + self.worker_slots % 3
        );
        let names: Vec<String> = ENV_NAMES[..envs].iter().map(|n| format!("\"{n}\"")).collect();
        let sizes = if self.last_size % 2 == 1 {
            format!("sizes = {{ {} = {} }}\n", ENV_NAMES[envs - 1], entities + 2 * self.last_size as usize)
        } else {
            String::new()
        };
        let _ = writeln!(t, "[environments]\nnames = [{}]\nentities = {entities}\n{sizes}", names.join(", "));
        for i in 0..schemas {
            let fields: Vec<String> = FIELDS.iter().skip(i % 2).take(2 + i).map(|f| format!("\"{f}\"")).collect();
            let _ = writeln!(t, "[[schemas]]\nname = \"schema-{i}\"\nfields = [{}]\n", fields.join(", "));
        }
        let _ = writeln!(
            t,
            "[load]\ningest_rate = {}\nin_flight_max = 8\nhot_entities = {hot}\nhot_percent = {}\n",
            1 + self.ingest_rate % 20,
            self.hot_percent % 101
        );
        let _ = writeln!(t, "[system]\nlease = \"{}ms\"\n", 500 + self.lease_ms % 4_500);
        let mut nodes = vec!["store".to_string(), "queue".to_string()];
        nodes.extend((1..=ingest_nodes).map(|i| format!("ingest-{i}")));
        nodes.extend((1..=workers).map(|i| format!("worker-{i}")));
        for f in self.faults.iter().take(FAULTS_MAX) {
            let at = f.at_ms as u64 % (safety_ms - 100);
            let duration = 100 + f.duration_ms as u64 % (safety_ms - at - 99);
            let kind = kinds()[f.kind as usize % kinds().len()];
            let node = |x: u8| nodes[x as usize % nodes.len()].clone();
            // Two different nodes: the one `x` picks and the next one (indices, so that wrapping cannot pick the
            // same node twice).
            let pair = |x: u8| {
                let i = x as usize % nodes.len();
                (nodes[i].clone(), nodes[(i + 1) % nodes.len()].clone())
            };
            let _ = writeln!(t, "[[faults.script]]\nat = \"{at}ms\"\nkind = \"{}\"", kind.name());
            if kind != FaultKind::Deploy {
                let _ = writeln!(t, "duration = \"{duration}ms\"");
            }
            let sign = if f.negative { "-" } else { "+" };
            let disk = ["store", "queue"][f.a as usize % 2];
            match kind {
                FaultKind::Loss => {
                    let target = if f.b % 3 == 0 { "network".to_string() } else { node(f.a) };
                    let _ = writeln!(t, "target = \"{target}\"\nloss_percent = {}", f.amount % 101);
                }
                FaultKind::Duplicate => {
                    let target = if f.b % 3 == 0 { "network".to_string() } else { node(f.a) };
                    let percent = 1 + f.amount % 100;
                    let _ = writeln!(
                        t,
                        "target = \"{target}\"\nduplicate_percent = {percent}\ndelay = \"{}ms\"",
                        1 + f.amount % 3_000
                    );
                }
                FaultKind::Latency => {
                    match f.b % 3 {
                        0 => {
                            let _ = writeln!(t, "target = \"network\"\nlatency = \"{}ms\"", 1 + f.amount % 500);
                        }
                        1 => {
                            let _ = writeln!(t, "target = \"{}\"\nlatency = \"{}ms\"", node(f.a), 1 + f.amount % 500);
                        }
                        _ => {
                            let (from, to) = pair(f.a);
                            let _ =
                                writeln!(t, "from = \"{from}\"\nto = \"{to}\"\nlatency = \"{}ms\"", 1 + f.amount % 500);
                        }
                    }
                    if f.negative {
                        let _ = writeln!(t, "tail = \"pareto\"");
                    }
                }
                FaultKind::Isolate | FaultKind::Crash | FaultKind::Pause => {
                    let _ = writeln!(t, "target = \"{}\"", node(f.a));
                }
                FaultKind::Split => {
                    let size = 1 + f.b as usize % (nodes.len() - 1);
                    let start = f.a as usize % nodes.len();
                    let group: Vec<String> =
                        (0..size).map(|i| format!("\"{}\"", nodes[(start + i) % nodes.len()])).collect();
                    let _ = writeln!(t, "group = [{}]", group.join(", "));
                }
                FaultKind::Cut => {
                    let (from, to) = pair(f.a);
                    let _ = writeln!(t, "from = \"{from}\"\nto = \"{to}\"");
                }
                FaultKind::ClockOffset | FaultKind::ClockJump => {
                    let _ =
                        writeln!(t, "target = \"{}\"\noffset = \"{sign}{}ms\"", node(f.a), f.amount as u64 % 30_000);
                }
                FaultKind::ClockDrift => {
                    let ppm = (f.amount as i64 * 13) % 300_000;
                    let _ =
                        writeln!(t, "target = \"{}\"\ndrift_ppm = {}", node(f.a), if f.negative { -ppm } else { ppm });
                }
                FaultKind::PauseWorkers => {}
                FaultKind::Burst => {
                    let env = ENV_NAMES[f.a as usize % envs];
                    let _ = writeln!(t, "environments = [\"{env}\"]\nrate_percent = {}", 101 + f.amount % 900);
                }
                FaultKind::Deploy => {
                    let env = ENV_NAMES[f.a as usize % envs];
                    let _ = writeln!(t, "environment = \"{env}\"\nschema = \"schema-{}\"", f.b as usize % schemas);
                }
                FaultKind::TornWrite
                | FaultKind::CorruptWrite
                | FaultKind::CompactionCrash
                | FaultKind::SyncFail
                | FaultKind::DiskFull => {
                    let _ = writeln!(t, "target = \"{disk}\"");
                }
                FaultKind::DiskSlow => {
                    let _ = writeln!(t, "target = \"{disk}\"\nlatency = \"{}ms\"", 1 + f.amount % 500);
                    if f.negative {
                        let _ = writeln!(t, "tail = \"pareto\"");
                    }
                }
                FaultKind::ReadError => {
                    let _ = writeln!(t, "target = \"{disk}\"\nerror_percent = {}", 1 + f.amount % 90);
                }
                FaultKind::CrashAfterAck => {
                    let _ = writeln!(t, "target = \"{}\"", node(f.a));
                }
                FaultKind::PauseWhileLeased | FaultKind::CutDuringViews => {
                    let _ = writeln!(t, "target = \"worker-{}\"", 1 + f.a as usize % workers);
                }
            }
            t.push('\n');
        }
        // A scenario with deploys must state its freshness bound; the derived one holds for any drawn cluster.
        let deploys =
            self.faults.iter().take(FAULTS_MAX).any(|f| kinds()[f.kind as usize % kinds().len()] == FaultKind::Deploy);
        if deploys {
            let _ = writeln!(t, "[invariants]\nfresh_view_latency_max = \"fair-share\"\n");
        }
        let _ = writeln!(t, "[run]\nsafety = \"{safety_ms}ms\"\nconvergence_budget = \"90s\"");
        t
    }
}

impl FuzzScenario {
    /// A small scenario with one fault of each kind index in `kinds` (for the test that every kind is drawn).
    pub fn with_fault_kinds(kinds: impl IntoIterator<Item = u8>) -> FuzzScenario {
        FuzzScenario {
            seed: 1,
            environments: 1,
            entities: 10,
            hot_entities: 3,
            hot_percent: 50,
            ingest_rate: 3,
            workers: 1,
            ingest_nodes: 1,
            worker_slots: 1,
            schemas: 1,
            safety_secs: 8,
            lease_ms: 1_000,
            last_size: 0,
            faults: kinds
                .into_iter()
                .map(|kind| FuzzFault { at_ms: 500, duration_ms: 400, kind, a: 0, b: 1, amount: 200, negative: true })
                .collect(),
        }
    }
}
