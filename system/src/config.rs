//! The system's tunables. Every queue and every retry loop has a bound, named with the qualifier last.

use crate::flaws::Flaws;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct SystemConfig {
    /// How long a worker holds a job before the queue may hand it to another worker.
    pub lease: Duration,
    /// How often the queue looks for expired leases.
    pub lease_scan_interval: Duration,
    /// Pending jobs one environment may have before enqueues answer "busy".
    pub env_pending_max: usize,
    /// Pending jobs the whole queue may have before enqueues answer "busy".
    pub queue_pending_max: usize,
    /// How many fresh jobs an environment serves before one of its bulk jobs, when it has both.
    pub fresh_per_bulk: u32,
    /// Timeout of one RPC attempt.
    pub rpc_timeout: Duration,
    /// Attempts of one internal call before the caller gives up and reports "unavailable".
    pub rpc_attempts_max: u32,
    /// First retry backoff; it doubles per attempt, with jitter, up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// How long an idle worker waits before asking the queue again.
    pub worker_poll_interval: Duration,
    /// Jobs one worker node processes at once.
    pub worker_slots: usize,
    /// Simulated rendering time of one view: uniformly drawn from this range.
    pub render_time_min: Duration,
    pub render_time_max: Duration,
    /// Entities listed per page when a deploy re-processes an environment.
    pub deploy_page_size: usize,
    /// Request ids the store remembers per entity to answer retried ingests idempotently.
    pub request_memory_max: usize,
    /// A durable log is compacted into a snapshot once it is this long and twice its size after the last
    /// compaction, so that it never grows without bound.
    pub log_compact_bytes: u64,
    pub flaws: Flaws,
    /// Whether the statistics endpoints (`GetQueueStats`, `GetStoreStats`) tell the truth. Only a harness's
    /// evidence test makes them lie, to show that no verdict rests on what the system says of its own work.
    pub stats: StatsHonesty,
}

/// What the statistics endpoints say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StatsHonesty {
    /// The truth.
    #[default]
    Honest,
    /// Nothing is ever pending, leased or owed.
    AlwaysQuiet,
    /// Something is always pending, leased and owed.
    NeverQuiet,
}

impl StatsHonesty {
    /// A count as this endpoint reports it.
    pub fn report(self, truth: usize) -> usize {
        match self {
            StatsHonesty::Honest => truth,
            StatsHonesty::AlwaysQuiet => 0,
            StatsHonesty::NeverQuiet => truth.max(1),
        }
    }
}

impl Default for SystemConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(5),
            lease_scan_interval: Duration::from_millis(250),
            env_pending_max: 5_000,
            queue_pending_max: 50_000,
            fresh_per_bulk: 3,
            rpc_timeout: Duration::from_millis(500),
            rpc_attempts_max: 6,
            backoff_min: Duration::from_millis(20),
            backoff_max: Duration::from_secs(2),
            worker_poll_interval: Duration::from_millis(50),
            worker_slots: 2,
            render_time_min: Duration::from_millis(5),
            render_time_max: Duration::from_millis(30),
            deploy_page_size: 100,
            request_memory_max: 8,
            log_compact_bytes: 256 * 1024,
            flaws: Flaws::none(),
            stats: StatsHonesty::Honest,
        }
    }
}
