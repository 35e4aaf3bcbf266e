//! What a scenario makes of the system's configuration, and the quiet window that follows from it: shared by the
//! simulated run, the live run and the oracle.

use crate::scenario::Scenario;
use std::time::Duration;
use system::config::SystemConfig;
use system::flaws::Flaws;

/// The system's configuration for a scenario: the system's defaults, overridden by the scenario's knobs.
pub fn system_config(s: &Scenario) -> SystemConfig {
    let mut c = SystemConfig::default();
    let k = &s.system;
    if let Some(v) = k.lease {
        c.lease = v.0;
    }
    if let Some(v) = k.env_pending_max {
        c.env_pending_max = v.get() as usize;
    }
    if let Some(v) = k.queue_pending_max {
        c.queue_pending_max = v.get() as usize;
    }
    if let Some(v) = k.fresh_per_bulk {
        c.fresh_per_bulk = v.get() as u32;
    }
    if let Some(v) = k.rpc_timeout {
        c.rpc_timeout = v.0;
    }
    if let Some(v) = k.render_time_min {
        c.render_time_min = v.0;
    }
    if let Some(v) = k.render_time_max {
        c.render_time_max = v.0;
    }
    if let Some(v) = k.log_compact_bytes {
        c.log_compact_bytes = v.get();
    }
    c.worker_slots = s.topology.worker_slots.get() as usize;
    c.flaws = Flaws::with(s.flaws());
    c
}

/// How long the network must carry nothing but observers' messages and idle polls, with the readings unchanged,
/// before the system counts as done. Longer than any silence a correct system with work left keeps: a lease held
/// by a node that crashed runs out (`lease`, then a scan), an internal call times out and backs off
/// (`rpc_timeout`, `backoff_max`), the store's outbox waits out its grace (about a second).
pub fn quiet_window(c: &SystemConfig) -> Duration {
    c.lease + c.lease_scan_interval + c.rpc_timeout + c.backoff_max + Duration::from_secs(1)
}
