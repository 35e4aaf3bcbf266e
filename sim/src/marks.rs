//! Coverage marks: the system's own (`system::marks`), and the moments only the harness can see, because they
//! happen to the medium beneath the system rather than in it.

/// The harness's marks, with what each means.
pub const HARNESS: &[(&str, &str)] = &[
    (CRASH_BEFORE_SYNC, "a node crashed with writes cached and not yet synced (a crash between write and sync)"),
    (CRASH_DURING_COMPACTION, "a node crashed while its log's compaction was in flight"),
    (TRUNCATE_UNDONE, "a crash undid a truncate not yet synced: the cut bytes came back (any-order writeback)"),
    (MOMENT_AFTER_ACK, "a `crash-after-ack` fault met its moment: the node crashed right after it acknowledged"),
    (MOMENT_LEASE_HELD, "a `pause-while-leased` fault met its moment: the worker stopped holding a lease"),
    (MOMENT_VIEWS_IN_FLIGHT, "a `cut-during-views` fault met its moment: a worker's view writes lost their answer"),
];

pub const CRASH_BEFORE_SYNC: &str = "disk.crash-before-sync";
pub const CRASH_DURING_COMPACTION: &str = "disk.crash-during-compaction";
pub const TRUNCATE_UNDONE: &str = "disk.truncate-undone";
pub const MOMENT_AFTER_ACK: &str = "moment.crash-after-ack";
pub const MOMENT_LEASE_HELD: &str = "moment.pause-while-leased";
pub const MOMENT_VIEWS_IN_FLIGHT: &str = "moment.cut-during-views";

/// Every mark a scenario may require: the system's, the harness's, then the fault points' (one per point, hit
/// each time it fires).
pub fn all() -> impl Iterator<Item = (&'static str, &'static str)> {
    let points = system::points::Point::ALL.iter().map(|p| (p.mark(), p.describe()));
    system::marks::ALL.iter().chain(HARNESS).copied().chain(points)
}

pub fn is_known(name: &str) -> bool {
    all().any(|(n, _)| n == name)
}

/// Marks a run can reach without any fault: what the load alone brings about (several environments at once, a
/// hot set, concurrent workers, logs that grow).
pub const WITHOUT_FAULTS: &[&str] = &[
    system::marks::CROSS_ENV_DUPLICATE_PENDING,
    system::marks::UPDATE_WHILE_LEASED,
    system::marks::STALE_WRITE_REFUSED,
    system::marks::LATE_WRITE_SUPERSEDED,
    system::marks::LOG_COMPACTION_STARTED,
    system::marks::LOG_COMPACTED,
];

/// The marks a fault kind can bring about, directly or through what it sets off (a lost reply makes a retry that
/// had in fact succeeded). For the benchmark's "marks its fault kinds can cause" and the explorer's targets.
pub fn caused_by(kind: crate::faults::FaultKind) -> &'static [&'static str] {
    use crate::faults::FaultKind::*;
    use system::marks::*;
    const LOST_REPLIES: &[&str] = &[
        LEASE_EXPIRED,
        LEASE_REPEATED,
        ACK_AFTER_EXPIRY,
        DUPLICATE_ENQUEUE,
        DUPLICATE_REQUEST,
        ENQUEUE_AFTER_REPLAY,
        OUTBOX_REPAIRED,
        WORKER_ABANDONED,
    ];
    const CRASHES: &[&str] = &[
        LEASE_EXPIRED,
        ACK_AFTER_EXPIRY,
        DUPLICATE_ENQUEUE,
        DUPLICATE_REQUEST,
        ENQUEUE_AFTER_REPLAY,
        OUTBOX_REPAIRED,
        WORKER_ABANDONED,
        STORE_RECOVERED,
        QUEUE_RECOVERED,
        CRASH_BEFORE_SYNC,
        CRASH_DURING_COMPACTION,
    ];
    match kind {
        Loss | Latency | Isolate | Split | Cut | Pause => LOST_REPLIES,
        // A copy of a lease request is a repeat while its loop waits, and stale once the loop has moved on.
        Duplicate => &[
            DUPLICATE_ENQUEUE,
            DUPLICATE_REQUEST,
            STALE_WRITE_REFUSED,
            LATE_WRITE_SUPERSEDED,
            LEASE_REPEATED,
            LEASE_STALE,
        ],
        ClockOffset | ClockJump => &[LEASE_EXPIRED, ACK_AFTER_EXPIRY, CLOCK_BACKWARDS],
        ClockDrift => &[LEASE_EXPIRED, ACK_AFTER_EXPIRY],
        Crash => CRASHES,
        PauseWorkers => &[LEASE_EXPIRED, ACK_AFTER_EXPIRY, QUEUE_BUSY, OUTBOX_REPAIRED],
        Burst => &[QUEUE_BUSY, OUTBOX_REPAIRED],
        Deploy => &[],
        TornWrite => &[LOG_TORN_TAIL, STORE_RECOVERED, QUEUE_RECOVERED, CRASH_BEFORE_SYNC, LEASE_EXPIRED],
        CorruptWrite => &[LOG_CORRUPT_RECORD, STORE_RECOVERED, QUEUE_RECOVERED, CRASH_BEFORE_SYNC, LEASE_EXPIRED],
        CompactionCrash => &[CRASH_DURING_COMPACTION, STORE_RECOVERED, QUEUE_RECOVERED, CRASH_BEFORE_SYNC],
        SyncFail => &[LOG_SYNC_FAILED, DUPLICATE_REQUEST, DUPLICATE_ENQUEUE],
        DiskFull => &[LOG_APPEND_REFUSED, DUPLICATE_REQUEST],
        DiskSlow => &[LEASE_EXPIRED, WORKER_ABANDONED],
        ReadError => &[LOG_READ_RETRIED, STORE_RECOVERED, QUEUE_RECOVERED, CRASH_BEFORE_SYNC, LEASE_EXPIRED],
        CrashAfterAck => &[MOMENT_AFTER_ACK, LEASE_EXPIRED, STORE_RECOVERED, QUEUE_RECOVERED],
        PauseWhileLeased => &[MOMENT_LEASE_HELD, LEASE_EXPIRED, ACK_AFTER_EXPIRY],
        CutDuringViews => &[MOMENT_VIEWS_IN_FLIGHT, LEASE_EXPIRED, STALE_WRITE_REFUSED],
    }
}

/// The marks a scenario's runs can reach: those of the load alone, and those its fault kinds (generated or
/// scripted) can cause.
pub fn reachable(scenario: &crate::scenario::Scenario) -> std::collections::BTreeSet<&'static str> {
    let kinds = scenario.faults.generate.iter().copied().chain(scenario.faults.script.iter().map(|s| s.kind()));
    let points: Vec<&'static str> = match &scenario.faults.points {
        crate::faults::Points::Seeded(false) => Vec::new(),
        crate::faults::Points::Seeded(true) => system::points::Point::ALL.iter().map(|p| p.mark()).collect(),
        crate::faults::Points::Listed(list) => list.iter().map(|p| p.mark()).collect(),
    };
    WITHOUT_FAULTS.iter().copied().chain(kinds.flat_map(|k| caused_by(k).iter().copied())).chain(points).collect()
}

/// What must come first for a mark to be reached: the explorer branches shortly before a precursor's first hit
/// when it hunts the mark (a crash during compaction needs a compaction under way; a late acknowledgement needs a
/// lease that expired).
pub fn precursors(mark: &str) -> &'static [&'static str] {
    use system::marks::*;
    match mark {
        CRASH_DURING_COMPACTION => &[LOG_COMPACTION_STARTED],
        ACK_AFTER_EXPIRY => &[LEASE_EXPIRED],
        CLOCK_BACKWARDS => &[LEASE_EXPIRED],
        QUEUE_BUSY => &[CROSS_ENV_DUPLICATE_PENDING],
        OUTBOX_REPAIRED => &[DUPLICATE_REQUEST],
        QUEUE_RECOVERED | STORE_RECOVERED => &[CRASH_BEFORE_SYNC],
        _ => &[],
    }
}
