//! Flaws: known-bad behaviours, each off by default, switched on by name.
//!
//! A flaw exists to prove that the harness can see a class of bug: a scenario that switches one on must fail.
//! Each flaw names the real-world failure it stands for. Flaws live in the system's own code paths (not in a
//! mock) so that what the harness catches is the bug as it would really run.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::str::FromStr;

/// The names (`dedup-ignores-environment`, ...) are derived, for serde and for strum alike, from the variants.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::Display,
    strum::VariantArray,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Flaw {
    /// The queue's deduplication keys pending jobs by (entity, schema) and forgets the environment, so that a
    /// job of one environment is discarded as a duplicate of another environment's job for an entity with the
    /// same id. The real incident: it only showed when several environments had jobs queued at once, logged no
    /// error, and left views silently never generated.
    DedupIgnoresEnvironment,
    /// The queue coalesces a new job into a job that is already leased. An update that arrives while the old
    /// version is being processed is dropped: the worker read the old source, so the view stays stale. (A
    /// classic "deduplicate against in-flight work" mistake.)
    DedupAgainstLeased,
    /// A worker judges whether its lease is still valid by comparing its own wall clock with the expiry the
    /// queue stamped with the queue's clock, and then writes the view blindly, without the version check. Under
    /// clock skew a worker whose lease long expired overwrites a newer view (a stale overwrite without fencing).
    UnfencedWorkerClock,
    /// The store acknowledges a write before it is durable (syncing in the background, a "group commit" whose
    /// acknowledgement came too early). A crash loses acknowledged ingests.
    AckBeforeDurable,
    /// Retries without backoff or jitter, and an ingest path that hammers a busy queue instead of passing
    /// "busy" back to the client: a pause and resume onto a backlog turns into a retry storm.
    RetryStorm,
    /// "Newest wins" decided by wall-clock timestamps taken on different nodes: the store keeps the view with the
    /// latest render time instead of the newest source version. A worker with a fast clock pins an old view.
    NewestWinsByWallClock,
    /// A plain FIFO queue instead of the fair one: every environment waits behind a noisy neighbour's backlog.
    FifoQueue,
    /// The store keeps no outbox: a version is stored, the queue answers "busy", the client is told busy and
    /// is trusted to retry. A sender that gives up (webhooks do) leaves stored content that never reaches its
    /// views. The system had this gap until give-up clients found it.
    NoOutbox,
    /// The deploy handler waits on a lock it already holds: no deploy is ever answered, or takes effect. (A
    /// handler deadlock; the operator's retries are all that show it, so the harness must bound its waits.)
    DeployNeverAnswers,
    /// Compaction rewrites the log where it lies (cut the file, write the snapshot and the tail, sync) instead of
    /// writing a new file and renaming it over the old one: a crash during a compaction loses every record. Harmless
    /// until a crash lands in the few milliseconds a compaction takes: two rare moments at once.
    CompactionInPlace,
    /// The queue takes a job whose wall-clock stamp is earlier than its latest reading for a replay of an older
    /// batch and coalesces it into a pending job of the same entity id, whatever its environment. Harmless while
    /// the queue's clock only moves forward; when it steps back while another environment's job for the same id
    /// is pending, one environment's job is lost.
    DedupWhenClockStepsBack,
    /// When the store's log refuses a record (a full disk) at the moment its outbox drains, the drain drops the
    /// versions it was about to hand to the queue instead of trying again next round. Harmless while the ingest
    /// path enqueued them itself; when a full disk meets a version only the outbox owed jobs to, its views are
    /// never made.
    OutboxDropsOnFullDisk,
    /// The queue hands an expired lease's job back only to the worker that held it ("its cache is warm"). Harmless
    /// while every worker comes back; a worker that stays dead strands every job it held, so the system needs
    /// every worker alive to converge.
    JobsStickToTheirWorker,
    /// The store takes a write as a harmless repeat only when its content equals the newest stored content, and
    /// keeps no other guard (no idempotency keys, no client order): "a retry resends the same content, so storing
    /// it again is a no-op". Harmless while every repeat arrives at once; a copy the network delivers late, after
    /// the client wrote the entity again, is stored as a new version and brings the older content back.
    RepeatsJudgedByContent,
    /// The log takes a damaged record that is followed by a whole one for corruption of what it had synced, and
    /// refuses to start. Sound only if the disk writes back in order (then damage is always a torn tail); a page
    /// cache that writes back in any order leaves holes before whole records after every crash.
    HoleTakenForCorruption,
    /// A log that cannot be read at boot is taken for a new node's: the node cuts the file and starts empty ("an
    /// unreadable log is a fresh disk"). Harmless while reads never fail; a read error at boot, which a real disk
    /// gives for a moment and then reads again, wipes every write the node had acknowledged.
    UnreadableLogStartedAfresh,
    /// The store keeps an entity's repeat guards (the request ids it answered and the client's write order) in a
    /// cache that forgets them [`REPEAT_GUARD_TTL_MS`] after the entity's last write request: "a retry arrives
    /// within a second or two". Harmless while every delay is about the median; a copy held up in a long latency
    /// tail, arriving after the client wrote the entity again and the guard expired, brings the older content
    /// back.
    RepeatGuardExpires,
}

/// How long the flaw `repeat-guard-expires` keeps an entity's repeat guards after its last write.
pub const REPEAT_GUARD_TTL_MS: u64 = 2_000;

impl Flaw {
    pub const ALL: &'static [Flaw] = <Flaw as strum::VariantArray>::VARIANTS;

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn description(self) -> &'static str {
        match self {
            Flaw::DedupIgnoresEnvironment => {
                "queue deduplication ignores the environment: jobs of different environments for the same \
                 entity id are coalesced and one of them is lost"
            }
            Flaw::DedupAgainstLeased => {
                "an update arriving while the old version is processed is coalesced into the leased job and lost"
            }
            Flaw::UnfencedWorkerClock => {
                "workers judge leases by their own clock and write views without the version check"
            }
            Flaw::AckBeforeDurable => {
                "the store answers at once and syncs on a 200ms timer (a lazy group commit); a crash loses acknowledged ingests"
            }
            Flaw::RetryStorm => "retries without backoff; ingest hammers a busy queue instead of answering busy",
            Flaw::NewestWinsByWallClock => {
                "the store keeps the view with the latest render timestamp, not the newest source version"
            }
            Flaw::FifoQueue => "a plain FIFO queue: a noisy neighbour's backlog starves everyone else",
            Flaw::NoOutbox => {
                "no outbox: content stored before the queue answered busy gets no jobs unless its client retries"
            }
            Flaw::DeployNeverAnswers => "the deploy handler deadlocks: no schema deploy is ever answered or takes effect",
            Flaw::DedupWhenClockStepsBack => {
                "while the queue's clock reads earlier than before, a new job is coalesced into another environment's"
            }
            Flaw::OutboxDropsOnFullDisk => {
                "a drain of the outbox that meets a full disk drops the versions it owed the queue"
            }
            Flaw::CompactionInPlace => {
                "compaction rewrites the log in place (truncate, write, sync): a crash during it loses every record"
            }
            Flaw::JobsStickToTheirWorker => {
                "an expired job goes back only to the worker that held it: a worker that stays dead strands its jobs"
            }
            Flaw::RepeatsJudgedByContent => {
                "the store guards against repeats only by comparing content: a late copy of an older write is stored \
                 again over newer content"
            }
            Flaw::HoleTakenForCorruption => {
                "the log takes a damaged record before whole ones for corrupted synced data and refuses to start \
                 (it assumed writeback in order)"
            }
            Flaw::UnreadableLogStartedAfresh => {
                "a log that fails to read at boot is cut and started empty, as a new node's would be: a transient read \
                 error wipes acknowledged writes"
            }
            Flaw::RepeatGuardExpires => {
                "the store forgets an entity's repeat guards 2s after its last write: a copy delayed longer by a \
                 latency tail stores older content over newer"
            }
        }
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
