//! Coverage marks: rare, interesting moments the system reports when it reaches them, so that a sweep can say
//! how often its seeds reached each one. A harness that never reaches the moment a bug needs cannot find the
//! bug; a scenario can require marks, and a sweep that misses one has tested less than it claims.

/// Every mark, with what it means.
pub const ALL: &[(&str, &str)] = &[
    (
        CROSS_ENV_DUPLICATE_PENDING,
        "a job was enqueued while another environment had a pending job for the same entity id and schema",
    ),
    (UPDATE_WHILE_LEASED, "a job was enqueued while a job with the same key was being processed"),
    (LEASE_EXPIRED, "a lease expired and its job was redelivered"),
    (LEASE_REPEATED, "the queue received again a lease request it had already granted (its answer lost, or sent twice), and answered with the same leases"),
    (LEASE_STALE, "the queue received a late copy of a lease request its work loop had moved on from, and answered it with nothing"),
    (ACK_AFTER_EXPIRY, "a worker acknowledged a job after its lease had expired (it kept working past the lease)"),
    (CLOCK_BACKWARDS, "the queue's clock read earlier than before while it held leases"),
    (QUEUE_BUSY, "the queue refused an enqueue for backpressure"),
    (DUPLICATE_ENQUEUE, "the queue received again an enqueue that had already taken effect (its reply was lost)"),
    (DUPLICATE_REQUEST, "a retried ingest reached the store after its first attempt had in fact succeeded"),
    (ENQUEUE_AFTER_REPLAY, "jobs were enqueued for a source an earlier attempt had stored (a crash or lost reply between store write and enqueue)"),
    (LATE_WRITE_SUPERSEDED, "a client's write reached the store after the same client's later write of the entity"),
    (OUTBOX_REPAIRED, "the store's outbox queued the jobs of a stored version the ingest path had not queued (busy queue, crash, or a client that gave up)"),
    (STALE_WRITE_REFUSED, "the store refused a view write because a newer view was already there"),
    (STORE_RECOVERED, "the store rebuilt its state from a non-empty log after a restart"),
    (QUEUE_RECOVERED, "the queue rebuilt its state from a non-empty log after a restart"),
    (LOG_TORN_TAIL, "a node's log ended in a torn record on recovery, and the node cut it off"),
    (LOG_CORRUPT_RECORD, "a node's log held a record whose checksum did not match on recovery, and the node cut it and everything after it off"),
    (LOG_SYNC_FAILED, "a sync failed, and the node rebuilt its state from its log without acknowledging what the sync covered"),
    (LOG_READ_RETRIED, "a read of a node's log failed and the node read it again before serving from it"),
    (LOG_APPEND_REFUSED, "the disk refused an append (full), and the change was not made"),
    (LOG_COMPACTION_STARTED, "a node began compacting its log (the moment a crash would interrupt it)"),
    (LOG_COMPACTED, "a node compacted its log into a snapshot"),
    (WORKER_ABANDONED, "a worker gave up a job (lease budget spent, or the store unreachable)"),
];

pub const CROSS_ENV_DUPLICATE_PENDING: &str = "queue.cross-env-duplicate-pending";
pub const UPDATE_WHILE_LEASED: &str = "queue.update-while-leased";
pub const LEASE_EXPIRED: &str = "queue.lease-expired";
pub const LEASE_REPEATED: &str = "queue.lease-repeated";
pub const LEASE_STALE: &str = "queue.lease-stale";
pub const ACK_AFTER_EXPIRY: &str = "queue.ack-after-expiry";
pub const CLOCK_BACKWARDS: &str = "queue.clock-backwards";
pub const QUEUE_BUSY: &str = "queue.busy";
pub const DUPLICATE_ENQUEUE: &str = "queue.duplicate-enqueue";
pub const DUPLICATE_REQUEST: &str = "store.duplicate-request";
pub const ENQUEUE_AFTER_REPLAY: &str = "ingest.enqueue-after-replay";
pub const LATE_WRITE_SUPERSEDED: &str = "store.late-write-superseded";
pub const OUTBOX_REPAIRED: &str = "store.outbox-repaired";
pub const STALE_WRITE_REFUSED: &str = "store.stale-write-refused";
pub const STORE_RECOVERED: &str = "store.recovered";
pub const QUEUE_RECOVERED: &str = "queue.recovered";
pub const LOG_TORN_TAIL: &str = "log.torn-tail";
pub const LOG_CORRUPT_RECORD: &str = "log.corrupt-record";
pub const LOG_SYNC_FAILED: &str = "log.sync-failed";
pub const LOG_APPEND_REFUSED: &str = "log.append-refused";
pub const LOG_READ_RETRIED: &str = "log.read-retried";
pub const LOG_COMPACTION_STARTED: &str = "log.compaction-started";
pub const LOG_COMPACTED: &str = "log.compacted";
pub const WORKER_ABANDONED: &str = "worker.abandoned";

pub fn is_known(name: &str) -> bool {
    ALL.iter().any(|(n, _)| *n == name)
}
