//! Fault points: the system's own decision points where a correct system may legally take an unusual path (an
//! early "busy", a short lease batch, a long poll that returns at once, a late scan, an early compaction, a late
//! outbox drain, a slow render, a repeated internal call). Whoever runs a node decides, through
//! [`FaultPoints`], whether each such decision takes the unusual path. A real deployment hands [`NeverFire`];
//! the simulation switches some points on for a whole run and fires them now and then (FoundationDB's `BUGGIFY`),
//! so that the paths a correct system must survive are taken far more often than production would take them.
//!
//! Every point names a path the system is allowed to take: one it takes anyway under load, slowness or loss. A
//! point that made the system do something a correct system must never do would be a flaw, not a fault point.

use serde::{Deserialize, Serialize};

/// One decision point of the system.
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
pub enum Point {
    /// The queue answers an enqueue "busy" although it has room (as it does when its limits are reached).
    EarlyBusy,
    /// The queue grants one job where more were asked for and pending (any batch size up to the one asked is
    /// legal).
    ShortLeaseBatch,
    /// A long poll returns empty at once instead of waiting for work (as it does when its wait runs out).
    EarlyPollReturn,
    /// A scan for expired leases (the periodic one, or the one a lease request makes first) is skipped: a late
    /// scan only delays redelivery.
    LateLeaseScan,
    /// A log compacts although it has not doubled since the last compaction.
    EarlyCompaction,
    /// The store's outbox drain skips a round.
    LateOutboxDrain,
    /// A worker's render takes far longer than usual (a cold cache, a slow template).
    SlowRender,
    /// An internal call that succeeded is sent once more, as a retry after a lost reply would be.
    SpuriousRetry,
}

impl Point {
    pub const ALL: &'static [Point] = <Point as strum::VariantArray>::VARIANTS;

    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The coverage mark of this point: hit each time it fires.
    pub fn mark(self) -> &'static str {
        match self {
            Point::EarlyBusy => "point.early-busy",
            Point::ShortLeaseBatch => "point.short-lease-batch",
            Point::EarlyPollReturn => "point.early-poll-return",
            Point::LateLeaseScan => "point.late-lease-scan",
            Point::EarlyCompaction => "point.early-compaction",
            Point::LateOutboxDrain => "point.late-outbox-drain",
            Point::SlowRender => "point.slow-render",
            Point::SpuriousRetry => "point.spurious-retry",
        }
    }

    /// What taking the point's path means, for `cargo sim list` and the coverage table.
    pub fn describe(self) -> &'static str {
        match self {
            Point::EarlyBusy => "fault point: the queue answered an enqueue busy although it had room",
            Point::ShortLeaseBatch => "fault point: the queue granted one job where more were asked for",
            Point::EarlyPollReturn => "fault point: a long poll returned empty at once",
            Point::LateLeaseScan => "fault point: the queue's lease scan skipped a round",
            Point::EarlyCompaction => "fault point: a log compacted before it had doubled",
            Point::LateOutboxDrain => "fault point: the store's outbox drain skipped a round",
            Point::SlowRender => "fault point: a worker's render took far longer than usual",
            Point::SpuriousRetry => "fault point: an internal call that had succeeded was sent again",
        }
    }
}

/// Asked at each decision point whether to take the unusual path now.
pub trait FaultPoints: Send + Sync {
    fn fire(&self, point: Point) -> bool;
    /// Whether `point` can fire at all in this run, so that a site can skip preparing for it (a copy of a
    /// request) when it cannot.
    fn is_on(&self, _point: Point) -> bool {
        true
    }
}

/// Never fires: what a real deployment hands its nodes.
pub struct NeverFire;

impl FaultPoints for NeverFire {
    fn fire(&self, _: Point) -> bool {
        false
    }

    fn is_on(&self, _: Point) -> bool {
        false
    }
}
