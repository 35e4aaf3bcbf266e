//! What the system reports about itself.
//!
//! Every node is handed an [`EventSink`] and reports each state change that matters to correctness through it.
//! The harness records these events to check invariants and to print a readable trace; it never steers the
//! system through them. Events carry no task ids, addresses or host wall-clock values, so that the ordered
//! stream of events is a deterministic function of the seed.

use crate::clock::WallMillis;
use crate::model::{EntityId, Env, JobKind, SchemaName, Version};
use serde::Serialize;
use std::fmt;

/// One thing that happened on a node. Its type's name (`job-coalesced`, ...) is the serde tag, and `name()`
/// gives the same name from strum, for code that must tell events apart without reading their text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, strum::IntoStaticStr)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Event {
    /// A node's services started (after boot or restart).
    NodeStarted { role: &'static str },
    /// A node rebuilt its state from its durable log of `ops` operations.
    Recovered { ops: usize },
    /// Opening a log found its end damaged (`torn` or `corrupt`) and cut `cut_bytes` off: the longest valid
    /// prefix is what the node recovered.
    LogDamaged { damage: &'static str, cut_bytes: u64 },
    /// Reading (or cutting) the log failed `failed` times before it succeeded.
    LogReadRetried { failed: u32 },
    /// A sync failed: nothing since the last good sync was acknowledged, and the node rebuilt its state from the
    /// `ops` records its disk really holds.
    SyncFailed { error: String, ops: usize },
    /// The disk refused an append; the change was not made and its request goes unanswered.
    LogAppendRefused { error: String },
    /// The log was compacted from `before` bytes: a snapshot of `snapshot` bytes replaced the records it covers.
    LogCompacted { before: u64, snapshot: u64, after: u64 },
    /// The store kept a new version of a source entity.
    SourceStored { env: Env, entity: EntityId, version: Version, request: u64 },
    /// The store answered a repeated request with the version it stored the first time.
    SourceReplayed { env: Env, entity: EntityId, version: Version, request: u64 },
    /// The store refused a write that arrived after the same client's later write of the entity.
    SourceSuperseded { env: Env, entity: EntityId, version: Version, request: u64 },
    /// The store's outbox handed the jobs of `versions` stored versions to the queue (most were queued already).
    OutboxDrained { versions: usize },
    /// The store's outbox queued the jobs of a stored version that the ingest path had not queued.
    OutboxRepaired { env: Env, entity: EntityId, version: Version, jobs: usize },
    /// The store saw content equal to the newest version and kept nothing new.
    SourceUnchanged { env: Env, entity: EntityId, version: Version, request: u64 },
    /// A schema was deployed (or redeployed) in an environment.
    SchemaStored { env: Env, schema: SchemaName, version: u64 },
    /// A view replaced an older one (or was the first).
    ViewWritten { env: Env, entity: EntityId, schema: SchemaName, source_version: Version, schema_version: u64 },
    /// A view write was refused because the stored view is as new or newer.
    ViewWriteRefused {
        env: Env,
        entity: EntityId,
        schema: SchemaName,
        source_version: Version,
        current_version: Version,
    },
    /// An ingest was acknowledged to the client.
    IngestAcked { env: Env, entity: EntityId, version: Version, request: u64, jobs: usize },
    /// An ingest was refused with "busy, retry later".
    IngestBusy { env: Env, entity: EntityId, request: u64 },
    /// An ingest failed because a dependency did not answer in time; the client is told to retry.
    IngestUnavailable { env: Env, entity: EntityId, request: u64 },
    /// A schema deploy was accepted and its bulk jobs were enqueued.
    DeployAcked { env: Env, schema: SchemaName, version: u64, jobs: usize },
    /// A new job entered the queue.
    JobEnqueued { job: u64, env: Env, entity: EntityId, schema: SchemaName, kind: JobKind },
    /// A job was coalesced into a pending job with the same dedup key.
    JobCoalesced { env: Env, entity: EntityId, schema: SchemaName, kind: JobKind, into_job: u64, into_env: Env },
    /// An enqueue was refused because an environment is at its pending limit.
    EnqueueBusy { env: Env, jobs: usize, pending: usize },
    /// A job was handed to a worker under a lease.
    JobLeased { job: u64, env: Env, entity: EntityId, schema: SchemaName, token: u64, worker: String },
    /// A lease expired before it was acknowledged; its job goes back to the queue.
    LeaseExpired { job: u64, token: u64, expired_at: WallMillis },
    /// A job whose lease had expired was queued again.
    JobRedelivered { job: u64, env: Env, entity: EntityId, schema: SchemaName, coalesced: bool },
    /// A worker acknowledged a job under a live lease.
    JobCompleted { job: u64, token: u64 },
    /// A worker acknowledged with a token that no longer holds a lease.
    AckRefused { token: u64 },
    /// A worker rendered a leased job's view from the source version it read.
    JobRendered { env: Env, entity: EntityId, schema: SchemaName, source_version: Version, token: u64 },
    /// A worker's batch of views was written (each conditionally) by the store.
    ViewsSubmitted { views: usize },
    /// A worker gave up a job (its source or schema could not be read, or it ran out of lease).
    JobAbandoned { env: Env, entity: EntityId, schema: SchemaName, token: u64, reason: String },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Event::*;
        match self {
            NodeStarted { role } => write!(f, "node-started role={role}"),
            Recovered { ops } => write!(f, "recovered ops={ops}"),
            LogDamaged { damage, cut_bytes } => write!(f, "log-damaged {damage} tail, cut {cut_bytes} bytes"),
            LogReadRetried { failed } => write!(f, "log-read-retried after {failed} failed reads"),
            SyncFailed { error, ops } => write!(f, "sync-failed ({error}), rebuilt from {ops} durable records"),
            LogAppendRefused { error } => write!(f, "log-append-refused ({error})"),
            LogCompacted { before, snapshot, after } => {
                write!(f, "log-compacted {before} -> {after} bytes (snapshot {snapshot})")
            }
            SourceStored { env, entity, version, request } => {
                write!(f, "source-stored {env}/{entity} {version} req={request}")
            }
            SourceReplayed { env, entity, version, request } => {
                write!(f, "source-replayed {env}/{entity} {version} req={request}")
            }
            SourceSuperseded { env, entity, version, request } => {
                write!(f, "source-superseded {env}/{entity} current={version} req={request}")
            }
            OutboxDrained { versions } => write!(f, "outbox-drained versions={versions}"),
            OutboxRepaired { env, entity, version, jobs } => {
                write!(f, "outbox-repaired {env}/{entity} {version} jobs={jobs}")
            }
            SourceUnchanged { env, entity, version, request } => {
                write!(f, "source-unchanged {env}/{entity} {version} req={request}")
            }
            SchemaStored { env, schema, version } => write!(f, "schema-stored {env}/{schema} schema-v{version}"),
            ViewWritten { env, entity, schema, source_version, schema_version } => {
                write!(f, "view-written {env}/{entity}/{schema} {source_version} schema-v{schema_version}")
            }
            ViewWriteRefused { env, entity, schema, source_version, current_version } => {
                write!(f, "view-write-refused {env}/{entity}/{schema} {source_version} current={current_version}")
            }
            IngestAcked { env, entity, version, request, jobs } => {
                write!(f, "ingest-acked {env}/{entity} {version} req={request} jobs={jobs}")
            }
            IngestBusy { env, entity, request } => write!(f, "ingest-busy {env}/{entity} req={request}"),
            IngestUnavailable { env, entity, request } => {
                write!(f, "ingest-unavailable {env}/{entity} req={request}")
            }
            DeployAcked { env, schema, version, jobs } => {
                write!(f, "deploy-acked {env}/{schema} schema-v{version} jobs={jobs}")
            }
            JobEnqueued { job, env, entity, schema, kind } => {
                write!(f, "job-enqueued #{job} {env}/{entity}/{schema} {kind}")
            }
            JobCoalesced { env, entity, schema, kind, into_job, into_env } => {
                write!(f, "job-coalesced {env}/{entity}/{schema} {kind} into=#{into_job}")?;
                if into_env != env {
                    write!(f, " into-env={into_env}")?;
                }
                Ok(())
            }
            EnqueueBusy { env, jobs, pending } => write!(f, "enqueue-busy {env} jobs={jobs} pending={pending}"),
            JobLeased { job, env, entity, schema, token, worker } => {
                write!(f, "job-leased #{job} {env}/{entity}/{schema} token={token} worker={worker}")
            }
            LeaseExpired { job, token, expired_at } => {
                write!(f, "lease-expired #{job} token={token} {expired_at}")
            }
            JobRedelivered { job, env, entity, schema, coalesced } => {
                write!(f, "job-redelivered #{job} {env}/{entity}/{schema} coalesced={coalesced}")
            }
            JobCompleted { job, token } => write!(f, "job-completed #{job} token={token}"),
            JobRendered { env, entity, schema, source_version, token } => {
                write!(f, "job-rendered {env}/{entity}/{schema} {source_version} token={token}")
            }
            ViewsSubmitted { views } => write!(f, "views-submitted views={views}"),
            AckRefused { token } => write!(f, "ack-refused token={token}"),
            JobAbandoned { env, entity, schema, token, reason } => {
                write!(f, "job-abandoned {env}/{entity}/{schema} token={token} reason={reason}")
            }
        }
    }
}

impl Event {
    /// The event's type, as the trace names it (`job-coalesced`).
    pub fn name(&self) -> &'static str {
        self.into()
    }

    /// What the event is about: its environment and entity, and for view and job events the view's schema.
    pub fn subject(&self) -> Option<(&str, &str, Option<&str>)> {
        use Event::*;
        match self {
            SourceStored { env, entity, .. }
            | SourceReplayed { env, entity, .. }
            | SourceSuperseded { env, entity, .. }
            | SourceUnchanged { env, entity, .. }
            | OutboxRepaired { env, entity, .. }
            | IngestAcked { env, entity, .. }
            | IngestBusy { env, entity, .. }
            | IngestUnavailable { env, entity, .. } => Some((env, entity, None)),
            ViewWritten { env, entity, schema, .. }
            | ViewWriteRefused { env, entity, schema, .. }
            | JobEnqueued { env, entity, schema, .. }
            | JobCoalesced { env, entity, schema, .. }
            | JobLeased { env, entity, schema, .. }
            | JobRedelivered { env, entity, schema, .. }
            | JobRendered { env, entity, schema, .. }
            | JobAbandoned { env, entity, schema, .. } => Some((env, entity, Some(schema))),
            _ => None,
        }
    }

    /// How loud the event is in a log: `WARN` for trouble (busy answers, expiries, redeliveries, abandoned jobs),
    /// `DEBUG` for the routine of every job (leases, coalescing, repeats), `INFO` for what changes state.
    pub fn level(&self) -> tracing::Level {
        use Event::*;
        match self {
            IngestBusy { .. }
            | IngestUnavailable { .. }
            | EnqueueBusy { .. }
            | LeaseExpired { .. }
            | JobRedelivered { .. }
            | JobAbandoned { .. }
            | AckRefused { .. }
            | OutboxRepaired { .. }
            | LogDamaged { .. }
            | LogReadRetried { .. }
            | SyncFailed { .. }
            | LogAppendRefused { .. } => tracing::Level::WARN,
            JobLeased { .. }
            | JobRendered { .. }
            | ViewsSubmitted { .. }
            | JobCoalesced { .. }
            | SourceUnchanged { .. }
            | SourceReplayed { .. }
            | SourceSuperseded { .. }
            | OutboxDrained { .. }
            | ViewWriteRefused { .. } => tracing::Level::DEBUG,
            _ => tracing::Level::INFO,
        }
    }
}

/// The sink a real deployment hands its nodes: every event becomes a `tracing` event whose target is the
/// node's role (`store`, `queue`, `ingest`, `worker`; the part of its name before `-`), at the event's level, so
/// `RUST_LOG=queue=debug,worker=info` filters a running service's log as `cargo sim run --log` filters a
/// simulated one. The simulation hands a recording sink instead; the events are the same.
pub struct TracingSink {
    pub node: String,
}

impl EventSink for TracingSink {
    fn emit(&self, event: Event) {
        // `tracing` needs a target known at compile time: one call per role and level.
        macro_rules! log {
            ($target:literal) => {
                match event.level() {
                    tracing::Level::WARN => tracing::warn!(target: $target, node = %self.node, "{event}"),
                    tracing::Level::DEBUG => tracing::debug!(target: $target, node = %self.node, "{event}"),
                    _ => tracing::info!(target: $target, node = %self.node, "{event}"),
                }
            };
        }
        match self.node.split('-').next().unwrap_or_default() {
            "store" => log!("store"),
            "queue" => log!("queue"),
            "ingest" => log!("ingest"),
            "worker" => log!("worker"),
            _ => log!("system"),
        }
    }
}

/// Where a node reports its events. The sink is bound to one node; it stamps the time and node itself.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);

    /// Counts one RPC sent. Counted apart from events to keep the trace readable.
    fn rpc_sent(&self) {}

    /// Counts one RPC attempt that got no answer.
    fn rpc_failed(&self) {}

    /// Counts one poll for work that found none (an idle worker asking the queue). Its cost grows with idle
    /// time, not with work, so bounded-work checks leave it out.
    fn idle_poll(&self) {}

    /// The node reached a coverage mark (one of [`crate::marks::ALL`]).
    fn mark(&self, _name: &'static str) {}
}

/// A sink that drops everything, for running the system outside a harness.
pub struct NullSink;

impl EventSink for NullSink {
    fn emit(&self, _event: Event) {}
}
