//! Every RPC message between nodes. Each service's public API is the set of requests it handles.

use crate::model::{EntityId, Env, JobSpec, Payload, SchemaDef, SchemaName, Source, Version, View};
use madsim::Request;
use serde::{Deserialize, Serialize};

// ---- store ----

/// Store a source entity's content. `request` is the client's idempotency key: a repeated request is answered
/// with the version stored the first time, so that a retry of a call that had in fact succeeded is harmless.
#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("PutSourceReply")]
pub struct PutSource {
    pub env: Env,
    pub entity: EntityId,
    pub payload: Payload,
    pub request: u64,
    /// The client's order of its writes to this entity (see [`Ingest::seq`]).
    pub seq: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PutSourceReply {
    pub version: Version,
    /// True if this request stored the version (now or on an earlier attempt); false if the content was
    /// already the newest and nothing was stored.
    pub stored: bool,
    /// True if an earlier attempt of this request stored the version: its reply, or the enqueue after it, may
    /// have been lost.
    pub replayed: bool,
    /// True if the client had already written this entity with a later `seq`: this older write arrived late
    /// (a slow retry) and was not stored, since the client's own later content wins.
    pub superseded: bool,
    /// The schemas deployed in the environment, which need a job each.
    pub schemas: Vec<SchemaName>,
}

#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("Option<Source>")]
pub struct GetSource {
    pub env: Env,
    pub entity: EntityId,
}

/// Deploy a schema (a new one, or new fields for an existing one). The store assigns its version. The answer is
/// the schema as it stands: with other fields than asked when a later deploy already replaced this one's (a retry
/// of a deploy never puts back fields that a newer deploy replaced).
#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("SchemaDef")]
pub struct PutSchema {
    pub env: Env,
    pub name: SchemaName,
    pub fields: Vec<String>,
    /// The deploy's id, the same on every retry of it.
    pub request: u64,
}

/// Everything a worker needs for a job in one round trip: the newest source and the schema.
#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("(Option<Source>, Option<SchemaDef>)")]
pub struct ReadJobInput {
    pub env: Env,
    pub entity: EntityId,
    pub schema: SchemaName,
}

/// The inputs of a worker's whole batch of jobs in one round trip, in the order asked.
#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("Vec<(Option<Source>, Option<SchemaDef>)>")]
pub struct ReadJobInputs {
    pub jobs: Vec<ReadJobInput>,
}

#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("Option<SchemaDef>")]
pub struct GetSchema {
    pub env: Env,
    pub name: SchemaName,
}

#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("Vec<SchemaDef>")]
pub struct ListSchemas {
    pub env: Env,
}

/// A page of an environment's entity ids, in order, strictly after `after`.
#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("Vec<EntityId>")]
pub struct ListEntities {
    pub env: Env,
    pub after: Option<EntityId>,
    pub limit: usize,
    /// Only entities whose view of this schema is not yet rendered under this schema version (what a deploy
    /// still owes): a retried deploy then resumes instead of starting over.
    #[serde(default)]
    pub unrendered: Option<(SchemaName, u64)>,
}

/// Write a view if it is newer than the stored one (by source version, then schema version).
#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("PutViewReply")]
pub struct PutView {
    pub view: View,
    /// A blind write: replace whatever is stored. For operators repairing data by hand; a correct worker never
    /// sets it.
    pub unconditional: bool,
}

/// Several conditional view writes in one round trip, each judged on its own, answered in order.
#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("Vec<PutViewReply>")]
pub struct PutViews {
    pub views: Vec<PutView>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PutViewReply {
    Written,
    /// The stored view is as new as this one or newer; nothing changed.
    Refused {
        current: Version,
        current_schema_version: u64,
    },
}

/// The delivery API: read one view.
#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("Option<View>")]
pub struct GetView {
    pub env: Env,
    pub entity: EntityId,
    pub schema: SchemaName,
}

/// The delivery API: every view of one entity, as a website reading a page reads them.
#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("Vec<View>")]
pub struct GetViews {
    pub env: Env,
    pub entity: EntityId,
}

/// How much work the store still owes the queue: stored versions whose jobs are not yet known to be queued.
#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("StoreStats")]
pub struct GetStoreStats;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStats {
    /// Stored versions in the outbox: their jobs may not have reached the queue yet.
    pub outbox: usize,
}

/// The delivery API: a page of an environment's sources and their views, in entity order, strictly after
/// `after`.
#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("Vec<(Source, Vec<View>)>")]
pub struct ListContent {
    pub env: Env,
    pub after: Option<EntityId>,
    pub limit: usize,
}

// ---- queue ----

/// Enqueue a batch of jobs of one environment, all or nothing.
#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("EnqueueReply")]
pub struct Enqueue {
    pub jobs: Vec<JobSpec>,
    /// The idempotency key: the ingest's request id and the source version the jobs are for. A repeat of an
    /// enqueue that already took effect (its reply was lost) is acknowledged without adding jobs; the same request
    /// storing a newer version (a late retry) is new work. `None` for deploys, whose repeats re-process on purpose.
    pub request: Option<(u64, Version)>,
}

/// Several enqueues in one round trip, each all or nothing and idempotent as a single [`Enqueue`]; the replies
/// come in the same order. The store's outbox uses it to hand over the jobs of many stored versions at once.
#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("Vec<EnqueueReply>")]
pub struct EnqueueMany {
    pub batches: Vec<Enqueue>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnqueueReply {
    Accepted {
        new: usize,
        coalesced: usize,
    },
    /// The environment (or the whole queue) is at its pending limit: nothing was enqueued; retry later.
    Busy,
}

#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("Vec<Lease>")]
pub struct LeaseJob {
    pub worker: String,
    /// Which of the worker's work loops asks, and its request number: the same for every attempt of one request,
    /// new once an answer arrived. A repeat of a request the queue already granted (its answer lost, or the call
    /// sent twice) is answered with the leases that request got, while that loop still holds them, instead of
    /// more jobs that nobody would then process until their leases ran out; a late copy of an older request is
    /// answered with nothing. Request numbers restart with the worker, so they are told apart per incarnation: the
    /// worker's wall clock when it started.
    pub incarnation: u64,
    pub slot: u32,
    pub request: u64,
    /// The fencing tokens of the jobs this worker just finished: acknowledged in the same call that asks for the
    /// next jobs, as real queues do (one round trip for a batch instead of two per job).
    pub ack: Vec<u64>,
    /// Leases wanted at most; the queue grants what it has, in its fair order, each with its own token.
    pub max: u32,
    /// A long poll: if the queue has no job, it answers when one arrives or after this long, whichever is first,
    /// instead of at once (an idle worker then asks once per wait, not once per polling interval).
    pub wait_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Lease {
    pub job: u64,
    pub spec: JobSpec,
    /// Fencing token: strictly increasing across all leases the queue grants.
    pub token: u64,
    /// How long the lease lasts from when the queue granted it.
    pub lease_ms: u64,
    /// When the lease expires by the queue's clock. Only meaningful to the queue: other nodes' clocks differ.
    pub expires_at: crate::clock::WallMillis,
}

#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("AckReply")]
pub struct AckJob {
    pub token: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AckReply {
    Completed,
    /// No lease with that token exists any more (it expired and its job went back to the queue).
    UnknownLease,
}

#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("QueueStats")]
pub struct GetQueueStats;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStats {
    pub pending: usize,
    pub leased: usize,
}

// ---- ingest ----

#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("IngestReply")]
pub struct Ingest {
    /// The client's idempotency key; a retry must reuse it.
    pub request: u64,
    /// The client's order of its writes to this entity: strictly increasing per (environment, entity), reused by
    /// a retry. A write that arrives after one with a higher `seq` was stored is not stored: the client's
    /// later content wins, however late a retry of an earlier one arrives.
    pub seq: u64,
    pub env: Env,
    pub entity: EntityId,
    pub payload: Payload,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IngestReply {
    /// The content is durable under `version` and its jobs are queued. `superseded`: the content was not
    /// stored because the client had already written a later one (`version` is then that later one's).
    Acked { version: Version, superseded: bool },
    /// Overloaded: retry later with the same request id. The content may have been stored already; if so, its
    /// jobs are queued later by the store's outbox, so stored content reaches its views even if no retry comes.
    Busy,
    /// A dependency did not answer; the request may or may not have taken effect; retry with the same id.
    Unavailable,
}

#[derive(Clone, Debug, Serialize, Deserialize, Request)]
#[rtype("DeployReply")]
pub struct DeploySchema {
    pub env: Env,
    pub name: SchemaName,
    pub fields: Vec<String>,
    /// Chosen by the operator, the same on every retry of one deploy: a retry resumes it, and a deploy that a
    /// newer one replaced is answered as superseded instead of putting its fields back.
    pub request: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeployReply {
    Deployed {
        version: u64,
        jobs: usize,
    },
    /// A newer deploy of the schema, with other fields, took effect after this one: the schema stands at `version`
    /// with the newer fields, and this deploy is over (its fields are no longer wanted).
    Superseded {
        version: u64,
    },
    Busy,
    Unavailable,
}
