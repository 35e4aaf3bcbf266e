//! The multi-tenant job-processing system under test.
//!
//! Source entities are ingested into *environments* (tenants); each environment has *schemas* deployed, and
//! every (environment, entity, schema) has a *view* rendered from the newest source. Between ingest and views
//! sits a fair, deduplicating job queue served by workers.
//!
//! Code map:
//! - [`model`]: the data the system stores and exchanges (environments, entities, versions, views, schemas).
//! - [`proto`]: every RPC message between nodes; the public API of each service.
//! - [`node`]: what a node is handed by whoever runs it: its [`clock::Clock`], its [`events::EventSink`], the
//!   [`net::LinkShaper`] and its [`config::SystemConfig`]; the durable medium is handed to the services that keep
//!   state ([`disk::Disk`]). The system owns these interfaces; the simulation
//!   implements them.
//! - [`net`]: RPC calls with timeouts, and retries with exponential backoff and jitter.
//! - [`disk`]: the durable medium: one append-only file with a page cache, syncs that take time and can fail.
//! - [`log`]: the write-ahead log on a disk: checksummed records, group commit, recovery of the longest valid
//!   prefix, compaction. Every service that keeps state answers only what its log made durable.
//! - [`store`]: versioned sources, schemas and views with conditional writes; also the delivery API.
//! - [`queue`]: the fair, coalescing, leasing job queue ([`queue::fair`] is its pure core).
//! - [`ingest`]: accepts ingests and schema deploys from clients and turns them into jobs.
//! - [`worker`]: leases jobs, renders views and writes them conditionally.
//! - [`marks`]: coverage marks, the rare moments the system reports reaching.
//! - [`flaws`]: known-bad behaviours, off by default, that prove the harness can see bugs.
//! - [`real`]: what a real deployment hands a node instead of the simulation's: the host's clock, a disk on a file.
//! - [`points`]: fault points, the decision points where the system may take a legal but unusual path; whoever
//!   runs a node decides when (a real deployment: never).
//!
//! Architecture invariants: this crate knows nothing of the harness. It reads time only through the clock it is
//! handed and madsim's time API, talks only through madsim's net API, draws randomness only from madsim's
//! generator, and reports what it does only through the event sink it is handed.

pub mod clock;
pub mod config;
pub mod disk;
pub mod events;
pub mod flaws;
pub mod ingest;
pub mod log;
pub mod marks;
pub mod model;
pub mod net;
pub mod node;
pub mod points;
pub mod proto;
pub mod queue;
pub mod real;
pub mod store;
pub mod worker;
