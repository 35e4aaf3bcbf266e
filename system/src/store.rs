//! The store: versioned sources, schemas and views per environment, and the delivery API.
//!
//! Every write is conditional. A source gets the next version only if its content changed; a repeated request
//! (same idempotency key) gets the answer of its first attempt. A view replaces the stored one only if it was
//! made from a newer source (or the same source under a newer schema), so a slow worker can never put an older
//! view back. A write that arrives after the same client's later write of the entity (a higher `seq`) is not
//! stored, so a late retry can never bring older content back.
//!
//! The store is also the outbox of the jobs its sources need. Storing a version puts it in the outbox; the
//! ingest node enqueues its jobs at once, and a background drain hands the jobs of every version still in the
//! outbox to the queue (idempotently, keyed by the request that stored it) until the queue accepts them. So a
//! version the store accepted reaches its views even if the ingest node crashed, the queue answered busy, or the
//! client gave up before it was answered.

use crate::disk::Disk;
use crate::events::Event;
use crate::flaws::{Flaw, Flaws};
use crate::log::{Decided, DurableLog};
use crate::model::{EntityId, Env, SchemaDef, SchemaName, Source, Version, View};
use crate::model::{JobKind, JobSpec};
use crate::net::Endpoint;
use crate::net::Rpc;
use crate::node::NodeContext;
use crate::proto::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Bound::{Excluded, Unbounded};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct SourceRecord {
    source: Option<Source>,
    /// The last few request ids that stored a version, and that version, oldest first.
    requests: VecDeque<(u64, Version)>,
    /// The highest `seq` of the client's writes applied to this entity (stored, or found unchanged).
    seq: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct EnvData {
    sources: BTreeMap<EntityId, SourceRecord>,
    schemas: BTreeMap<SchemaName, SchemaDef>,
    views: BTreeMap<EntityId, BTreeMap<SchemaName, View>>,
    /// Per schema, the latest deploys that changed it (deploy id, the version it made), oldest first, at most
    /// `request_memory_max`: a retry of a deploy that a newer one replaced is told so.
    deploys: BTreeMap<SchemaName, VecDeque<(u64, u64)>>,
}

/// One durable change of the store's state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum StoreOp {
    Source {
        source: Source,
        request: u64,
        seq: u64,
    },
    /// A write with the newest content and a higher `seq`: nothing new is stored, but later-arriving writes
    /// with a lower `seq` must now be refused.
    Seq {
        env: Env,
        entity: EntityId,
        seq: u64,
    },
    /// The jobs of this version reached the queue: it leaves the outbox.
    Queued {
        env: Env,
        entity: EntityId,
        version: Version,
    },
    Schema {
        env: Env,
        def: SchemaDef,
        /// The deploy that made this version.
        request: u64,
    },
    View(View),
    /// The whole state, standing for every record before it (written by compaction).
    Snapshot(Box<StoreSnapshot>),
}

/// The durable part of the store's state, as compaction writes it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StoreSnapshot {
    envs: BTreeMap<Env, EnvData>,
    outbox: BTreeSet<(Env, EntityId)>,
}

/// [`StoreSnapshot`] borrowed from the live state; serializes identically (same fields, same order).
#[derive(Serialize)]
struct StoreSnapshotRef<'a> {
    envs: &'a BTreeMap<Env, EnvData>,
    outbox: &'a BTreeSet<(Env, EntityId)>,
}

/// A stored version whose jobs are not yet known to be queued.
struct OutboxEntry {
    env: Env,
    entity: EntityId,
    version: Version,
    enqueue: Enqueue,
}

/// The store's whole state.
#[derive(Clone, Debug, Default)]
pub struct StoreState {
    envs: BTreeMap<Env, EnvData>,
    /// Entities whose current version's jobs are not yet known to be queued.
    outbox: BTreeSet<(Env, EntityId)>,
    request_memory_max: usize,
    flaws: Flaws,
    /// When each entity was last written, by this node's clock: kept only for the flaw `repeat-guard-expires`, and
    /// never durable (its guards live in a cache).
    guard_written: BTreeMap<(Env, EntityId), crate::clock::WallMillis>,
}

/// The store's state and the log that makes it durable. Every change is appended to the log under the state
/// lock before it is applied, so the state is always what replaying the log gives.
struct Store {
    state: Mutex<StoreState>,
    log: DurableLog<StoreOp>,
}

type SharedStore = Arc<Store>;

impl StoreState {
    /// Rebuilds the state from a durable log.
    pub fn recover(request_memory_max: usize, flaws: Flaws, log: Vec<StoreOp>) -> Self {
        let mut state = StoreState {
            envs: BTreeMap::new(),
            outbox: BTreeSet::new(),
            request_memory_max: request_memory_max.max(1),
            flaws,
            guard_written: BTreeMap::new(),
        };
        for op in log {
            state.apply(op);
        }
        state
    }

    /// Applies one change. The only way the state changes, live or on recovery.
    fn apply(&mut self, op: StoreOp) {
        match op {
            StoreOp::Source { source, request, seq } => {
                let env = self.envs.entry(source.env.clone()).or_default();
                let record = env.sources.entry(source.entity.clone()).or_default();
                record.requests.push_back((request, source.version));
                while record.requests.len() > self.request_memory_max {
                    record.requests.pop_front();
                }
                record.seq = record.seq.max(seq);
                self.outbox.insert((source.env.clone(), source.entity.clone()));
                record.source = Some(source);
            }
            StoreOp::Seq { env, entity, seq } => {
                let record = self.envs.entry(env).or_default().sources.entry(entity).or_default();
                record.seq = record.seq.max(seq);
            }
            StoreOp::Queued { env, entity, version } => {
                let current = self.source(&env, &entity).map(|s| s.version);
                if current == Some(version) {
                    self.outbox.remove(&(env, entity));
                }
            }
            StoreOp::Schema { env, def, request } => {
                let env = self.envs.entry(env).or_default();
                let deploys = env.deploys.entry(def.name.clone()).or_default();
                deploys.push_back((request, def.version));
                while deploys.len() > self.request_memory_max {
                    deploys.pop_front();
                }
                env.schemas.insert(def.name.clone(), def);
            }
            StoreOp::View(view) => {
                let env = self.envs.entry(view.env.clone()).or_default();
                env.views.entry(view.entity.clone()).or_default().insert(view.schema.clone(), view);
            }
            StoreOp::Snapshot(snapshot) => {
                let StoreSnapshot { envs, outbox } = *snapshot;
                self.envs = envs;
                self.outbox = outbox;
            }
        }
    }

    /// The state as one record, for compaction: serialized as `StoreOp::Snapshot(StoreSnapshot)` is, from a
    /// borrow (copying the whole state first was most of the cost of a compaction).
    fn snapshot_record(&self) -> crate::log::SnapshotVariant<StoreSnapshotRef<'_>> {
        let value = StoreSnapshotRef { envs: &self.envs, outbox: &self.outbox };
        crate::log::SnapshotVariant { log_op: "StoreOp", index: 5, value }
    }

    fn put_source(
        &mut self,
        req: PutSource,
        now: crate::clock::WallMillis,
        events: &mut Vec<Event>,
        marks: &mut Vec<&'static str>,
    ) -> (PutSourceReply, Option<StoreOp>) {
        // The flaw `repeats-judged-by-content` keeps only the content check below; the flaw `repeat-guard-expires`
        // does the same once the entity's guards are older than their time to live.
        let mut guarded = !self.flaws.has(Flaw::RepeatsJudgedByContent);
        if self.flaws.has(Flaw::RepeatGuardExpires) {
            let key = (req.env.clone(), req.entity.clone());
            let expired = self
                .guard_written
                .get(&key)
                .is_some_and(|written| now.0.saturating_sub(written.0) > crate::flaws::REPEAT_GUARD_TTL_MS);
            guarded &= !expired;
            self.guard_written.insert(key, now);
        }
        let env = self.envs.entry(req.env.clone()).or_default();
        let schemas: Vec<SchemaName> = env.schemas.keys().cloned().collect();
        let record = env.sources.entry(req.entity.clone()).or_default();
        if let Some(&(_, version)) = record.requests.iter().find(|(id, _)| guarded && *id == req.request) {
            marks.push(crate::marks::DUPLICATE_REQUEST);
            events.push(Event::SourceReplayed { env: req.env, entity: req.entity, version, request: req.request });
            return (PutSourceReply { version, stored: true, replayed: true, superseded: false, schemas }, None);
        }
        if let Some(current) = record.source.as_ref().filter(|_| guarded && req.seq < record.seq) {
            // The client wrote this entity again after this request; this attempt arrived late. Storing it would
            // bring older content back over the client's newer one.
            let version = current.version;
            marks.push(crate::marks::LATE_WRITE_SUPERSEDED);
            events.push(Event::SourceSuperseded { env: req.env, entity: req.entity, version, request: req.request });
            return (PutSourceReply { version, stored: false, replayed: false, superseded: true, schemas }, None);
        }
        if let Some(current) = record.source.as_ref().filter(|s| s.payload == req.payload) {
            let version = current.version;
            // Durable even when nothing changes: a later-arriving write with a lower `seq` must be refused.
            let op = Some(StoreOp::Seq { env: req.env.clone(), entity: req.entity.clone(), seq: req.seq });
            events.push(Event::SourceUnchanged { env: req.env, entity: req.entity, version, request: req.request });
            return (PutSourceReply { version, stored: false, replayed: false, superseded: false, schemas }, op);
        }
        let version = Version(record.source.as_ref().map_or(0, |s| s.version.0) + 1);
        let source = Source { env: req.env.clone(), entity: req.entity.clone(), version, payload: req.payload };
        events.push(Event::SourceStored { env: req.env, entity: req.entity, version, request: req.request });
        let reply = PutSourceReply { version, stored: true, replayed: false, superseded: false, schemas };
        (reply, Some(StoreOp::Source { source, request: req.request, seq: req.seq }))
    }

    fn get_source(&self, env: &str, entity: &str) -> Option<Source> {
        self.source(env, entity).cloned()
    }

    fn source(&self, env: &str, entity: &str) -> Option<&Source> {
        self.envs.get(env)?.sources.get(entity)?.source.as_ref()
    }

    fn put_schema(
        &mut self,
        req: PutSchema,
        events: &mut Vec<Event>,
        _marks: &mut Vec<&'static str>,
    ) -> (SchemaDef, Option<StoreOp>) {
        let env = self.envs.entry(req.env.clone()).or_default();
        // The version this deploy made, if a first attempt of it already changed the schema.
        let made = env.deploys.get(&req.name).and_then(|d| d.iter().find(|(id, _)| *id == req.request)).map(|d| d.1);
        let version = match env.schemas.get(&req.name) {
            Some(def) if def.fields == req.fields => return (def.clone(), None),
            // A retry of a deploy that a newer one replaced: putting its fields back would undo the newer deploy,
            // and two operators' retries would take turns undoing each other for as long as both retry.
            Some(def) if made.is_some_and(|made| made < def.version) => return (def.clone(), None),
            Some(def) => def.version + 1,
            None => 1,
        };
        let def = SchemaDef { name: req.name.clone(), version, fields: req.fields };
        events.push(Event::SchemaStored { env: req.env.clone(), schema: req.name, version });
        (def.clone(), Some(StoreOp::Schema { env: req.env, def, request: req.request }))
    }

    fn list_entities(&self, req: &ListEntities) -> Vec<EntityId> {
        let Some(env) = self.envs.get(&req.env) else { return Vec::new() };
        let range = match &req.after {
            Some(after) => env.sources.range::<EntityId, _>((Excluded(after), Unbounded)),
            None => env.sources.range::<EntityId, _>(..),
        };
        let owed = |id: &EntityId| match &req.unrendered {
            None => true,
            Some((schema, version)) => {
                env.views.get(id).and_then(|views| views.get(schema)).is_none_or(|view| view.schema_version < *version)
            }
        };
        range.filter(|(id, r)| r.source.is_some() && owed(id)).take(req.limit).map(|(id, _)| id.clone()).collect()
    }

    fn put_view(
        &mut self,
        req: PutView,
        events: &mut Vec<Event>,
        marks: &mut Vec<&'static str>,
    ) -> (PutViewReply, Option<StoreOp>) {
        let PutView { view, unconditional } = req;
        let current =
            self.envs.get(&view.env).and_then(|e| e.views.get(&view.entity)).and_then(|v| v.get(&view.schema));
        if let Some(current) = current.filter(|_| !unconditional) {
            let stale = if self.flaws.has(Flaw::NewestWinsByWallClock) {
                current.rendered_at >= view.rendered_at
            } else {
                current.rank() >= view.rank()
            };
            if stale {
                marks.push(crate::marks::STALE_WRITE_REFUSED);
                events.push(Event::ViewWriteRefused {
                    env: view.env.clone(),
                    entity: view.entity.clone(),
                    schema: view.schema.clone(),
                    source_version: view.source_version,
                    current_version: current.source_version,
                });
                let refused = PutViewReply::Refused {
                    current: current.source_version,
                    current_schema_version: current.schema_version,
                };
                return (refused, None);
            }
        }
        events.push(Event::ViewWritten {
            env: view.env.clone(),
            entity: view.entity.clone(),
            schema: view.schema.clone(),
            source_version: view.source_version,
            schema_version: view.schema_version,
        });
        (PutViewReply::Written, Some(StoreOp::View(view)))
    }

    /// Every version in the outbox, in the outbox's order.
    fn outbox_versions(&self) -> Vec<(Env, EntityId, Version)> {
        self.outbox
            .iter()
            .filter_map(|(env, entity)| Some((env.clone(), entity.clone(), self.source(env, entity)?.version)))
            .collect()
    }

    /// The outbox entry of one entity's current version, with the enqueue that version needs.
    fn outbox_entry(&self, env: &Env, entity: &EntityId) -> Option<OutboxEntry> {
        let data = self.envs.get(env)?;
        let record = data.sources.get(entity)?;
        let source = record.source.as_ref()?;
        // The request that stored the current version is always the newest one remembered.
        let request = record.requests.iter().rev().find(|(_, v)| *v == source.version).map(|(id, _)| *id);
        let jobs = data
            .schemas
            .keys()
            .map(|schema| JobSpec {
                env: env.clone(),
                entity: entity.clone(),
                schema: schema.clone(),
                kind: JobKind::Fresh,
            })
            .collect();
        let enqueue = Enqueue { jobs, request: request.map(|id| (id, source.version)) };
        Some(OutboxEntry { env: env.clone(), entity: entity.clone(), version: source.version, enqueue })
    }

    fn get_views(&self, env: &str, entity: &str) -> Vec<View> {
        self.envs
            .get(env)
            .and_then(|e| e.views.get(entity))
            .map(|views| views.values().cloned().collect())
            .unwrap_or_default()
    }

    fn get_view(&self, req: &GetView) -> Option<View> {
        self.envs.get(&req.env)?.views.get(&req.entity)?.get(&req.schema).cloned()
    }

    fn list_content(&self, req: &ListContent) -> Vec<(Source, Vec<View>)> {
        let Some(env) = self.envs.get(&req.env) else { return Vec::new() };
        self.list_entities(&ListEntities {
            env: req.env.clone(),
            after: req.after.clone(),
            limit: req.limit,
            unrendered: None,
        })
        .into_iter()
        .filter_map(|entity| {
            let source = env.sources.get(&entity)?.source.clone()?;
            let views = env.views.get(&entity).map(|v| v.values().cloned().collect()).unwrap_or_default();
            Some((source, views))
        })
        .collect()
    }
}

/// How often the outbox hands the jobs of stored versions to the queue.
const OUTBOX_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);
/// How long a stored version waits in the outbox before the drain hands its jobs over: the ingest path that
/// stored it normally queues them within milliseconds, and the drain is for when it did not.
const OUTBOX_GRACE: std::time::Duration = std::time::Duration::from_secs(1);
/// Stored versions handed to the queue in one round trip at most.
const OUTBOX_BATCH_MAX: usize = 256;

/// How long the flawed store of `ack-before-durable` lets writes wait in the cache before its group commit.
const GROUP_COMMIT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

/// The store's durable medium.
pub type StoreDisk = Arc<dyn Disk>;

/// Runs the store service on the current node until the node stops. Its state is rebuilt from `disk`.
pub async fn serve(ctx: NodeContext, disk: StoreDisk) {
    let (log, recovery) = DurableLog::open_with(disk, &ctx.config.flaws).await;
    let ops = recovery.ops.len();
    let state = StoreState::recover(ctx.config.request_memory_max, ctx.config.flaws.clone(), recovery.ops);
    let store: SharedStore = Arc::new(Store { state: Mutex::new(state), log });
    let ep = Endpoint::bind(ctx.addr).await.expect("the store's address is free on its own node");
    let rpc = Rpc::new(ep.clone(), ctx.clone());
    ctx.emit(Event::NodeStarted { role: "store" });
    ctx.emit(Event::Recovered { ops });
    if ops > 0 {
        ctx.mark(crate::marks::STORE_RECOVERED);
    }
    crate::log::report_damage_and_retries(&ctx, recovery.damage, recovery.read_errors);
    // The flaw `ack-before-durable`: everything is answered as soon as it is applied, and a group commit on a
    // timer makes it durable later.
    let early_ack = ctx.config.flaws.has(Flaw::AckBeforeDurable);
    madsim::task::spawn(commit(ctx.clone(), store.clone(), early_ack.then_some(GROUP_COMMIT_INTERVAL)));
    madsim::task::spawn(compact(ctx.clone(), store.clone()));

    // Each writing handler decides under the lock, appends the change to the log, applies it and reports its
    // events in order; its answer leaves once the log says the change (and everything before it) is durable.
    fn write<T>(
        ctx: &NodeContext,
        store: &Store,
        f: impl FnOnce(&mut StoreState, &mut Vec<Event>, &mut Vec<&'static str>) -> (T, Option<StoreOp>),
    ) -> Decided<T> {
        let (mut events, mut marks) = (Vec::new(), Vec::new());
        let mut st = store.state.lock().expect("store lock");
        let (out, op) = f(&mut st, &mut events, &mut marks);
        if let Some(op) = op {
            if let Err(error) = store.log.append(&op) {
                // Nothing was applied: the state is still what the log says.
                drop(st);
                ctx.mark(crate::marks::LOG_APPEND_REFUSED);
                ctx.emit(Event::LogAppendRefused { error: error.to_string() });
                return None;
            }
            st.apply(op);
        }
        let ticket = store.log.position();
        drop(st);
        for event in events {
            ctx.emit(event);
        }
        for mark in marks {
            ctx.mark(mark);
        }
        Some((out, ticket))
    }
    // A read answers with what it saw once everything it could have seen is durable.
    fn read<T>(store: &Store, f: impl FnOnce(&StoreState) -> T) -> Decided<T> {
        let st = store.state.lock().expect("store lock");
        Some((f(&st), store.log.position()))
    }

    let (c, s) = (ctx.clone(), store.clone());
    ep.add_rpc_handler(move |req: PutSource| {
        let decided = write(&c, &s, |st, ev, m| st.put_source(req, c.clock.now(), ev, m));
        let s = s.clone();
        async move { crate::log::answer(&s.log, decided, early_ack).await }
    });
    let s = store.clone();
    ep.add_rpc_handler(move |req: GetSource| {
        let decided = read(&s, |st| st.get_source(&req.env, &req.entity));
        let s = s.clone();
        async move { crate::log::answer(&s.log, decided, early_ack).await }
    });
    let (c, s) = (ctx.clone(), store.clone());
    ep.add_rpc_handler(move |req: PutSchema| {
        let decided = write(&c, &s, |st, ev, m| st.put_schema(req, ev, m));
        let s = s.clone();
        async move { crate::log::answer(&s.log, decided, early_ack).await }
    });
    let s = store.clone();
    ep.add_rpc_handler(move |req: ReadJobInput| {
        let decided = read(&s, |st| {
            let source = st.get_source(&req.env, &req.entity);
            let schema = st.envs.get(&req.env).and_then(|e| e.schemas.get(&req.schema).cloned());
            (source, schema)
        });
        let s = s.clone();
        async move { crate::log::answer(&s.log, decided, early_ack).await }
    });
    let s = store.clone();
    ep.add_rpc_handler(move |req: ReadJobInputs| {
        let decided = read(&s, |st| {
            req.jobs
                .iter()
                .map(|job| {
                    let source = st.get_source(&job.env, &job.entity);
                    let schema = st.envs.get(&job.env).and_then(|e| e.schemas.get(&job.schema).cloned());
                    (source, schema)
                })
                .collect::<Vec<_>>()
        });
        let s = s.clone();
        async move { crate::log::answer(&s.log, decided, early_ack).await }
    });
    let (c, s) = (ctx.clone(), store.clone());
    ep.add_rpc_handler(move |req: PutViews| {
        // Each write is decided and logged on its own; the answer leaves once the last one is durable. A write
        // the disk refused leaves the whole request unanswered (the worker's retry writes again, harmlessly).
        let mut replies = Vec::with_capacity(req.views.len());
        let mut last = Some(s.log.position());
        for put in req.views {
            match write(&c, &s, |st, ev, m| st.put_view(put, ev, m)) {
                Some((reply, ticket)) => {
                    replies.push(reply);
                    last = Some(ticket);
                }
                None => {
                    last = None;
                    break;
                }
            }
        }
        let decided = last.map(|ticket| (replies, ticket));
        let s = s.clone();
        async move { crate::log::answer(&s.log, decided, early_ack).await }
    });
    let s = store.clone();
    ep.add_rpc_handler(move |req: GetSchema| {
        let decided = read(&s, |st| st.envs.get(&req.env).and_then(|e| e.schemas.get(&req.name).cloned()));
        let s = s.clone();
        async move { crate::log::answer(&s.log, decided, early_ack).await }
    });
    let s = store.clone();
    ep.add_rpc_handler(move |req: ListSchemas| {
        let decided = read(&s, |st| -> Vec<SchemaDef> {
            st.envs.get(&req.env).map(|e| e.schemas.values().cloned().collect()).unwrap_or_default()
        });
        let s = s.clone();
        async move { crate::log::answer(&s.log, decided, early_ack).await }
    });
    let s = store.clone();
    ep.add_rpc_handler(move |req: ListEntities| {
        let decided = read(&s, |st| st.list_entities(&req));
        let s = s.clone();
        async move { crate::log::answer(&s.log, decided, early_ack).await }
    });
    let (c, s) = (ctx.clone(), store.clone());
    ep.add_rpc_handler(move |req: PutView| {
        let decided = write(&c, &s, |st, ev, m| st.put_view(req, ev, m));
        let s = s.clone();
        async move { crate::log::answer(&s.log, decided, early_ack).await }
    });
    let s = store.clone();
    ep.add_rpc_handler(move |req: GetViews| {
        let decided = read(&s, |st| st.get_views(&req.env, &req.entity));
        let s = s.clone();
        async move { crate::log::answer(&s.log, decided, early_ack).await }
    });
    let s = store.clone();
    let honesty = ctx.config.stats;
    ep.add_rpc_handler(move |_: GetStoreStats| {
        // Without an outbox (the flaw) nothing is owed: the store has forgotten the versions it stored.
        let decided = read(&s, |st| StoreStats {
            outbox: honesty.report(if st.flaws.has(Flaw::NoOutbox) { 0 } else { st.outbox.len() }),
        });
        let s = s.clone();
        async move { crate::log::answer(&s.log, decided, early_ack).await }
    });
    let s = store.clone();
    ep.add_rpc_handler(move |req: GetView| {
        let decided = read(&s, |st| st.get_view(&req));
        let s = s.clone();
        async move { crate::log::answer(&s.log, decided, early_ack).await }
    });
    let s = store.clone();
    ep.add_rpc_handler(move |req: ListContent| {
        let decided = read(&s, |st| st.list_content(&req));
        let s = s.clone();
        async move { crate::log::answer(&s.log, decided, early_ack).await }
    });

    if ctx.config.flaws.has(Flaw::NoOutbox) {
        std::future::pending::<()>().await;
    }
    drain_outbox(&ctx, &rpc, &store).await;
}

/// The store's committer: group commits, and after a failed sync, the state rebuilt from what the disk holds.
async fn commit(ctx: NodeContext, store: SharedStore, lazy: Option<std::time::Duration>) {
    crate::log::keep_committing(&ctx, &store.log, lazy, || {
        let mut st = store.state.lock().expect("store lock");
        let recovery = store.log.recover_after_failure();
        let ops = recovery.ops.len();
        *st = StoreState::recover(ctx.config.request_memory_max, ctx.config.flaws.clone(), recovery.ops);
        (ops, recovery.damage, recovery.read_errors)
    })
    .await;
}

/// Compacts the log whenever it has doubled: the whole state becomes one record.
async fn compact(ctx: NodeContext, store: SharedStore) {
    crate::log::keep_compacted(&ctx, &store.log, || {
        let st = store.state.lock().expect("store lock");
        (crate::log::encode(&st.snapshot_record()), store.log.position())
    })
    .await;
}

/// Hands the jobs of every version in the outbox to the queue, forever. Each enqueue carries the key of the
/// request that stored the version, so the queue adds nothing when the ingest node had already enqueued them;
/// what the queue accepts leaves the outbox, what it refuses as busy is tried again on the next round.
async fn drain_outbox(ctx: &NodeContext, rpc: &Rpc, store: &SharedStore) {
    // When this node first saw each outbox entry (by its local monotonic time; a restart starts the grace over).
    let mut first_seen: BTreeMap<(Env, EntityId, Version), madsim::time::Instant> = BTreeMap::new();
    loop {
        madsim::time::sleep(OUTBOX_INTERVAL).await;
        // Fault point: this round's drain is skipped.
        if ctx.fire(crate::points::Point::LateOutboxDrain) {
            continue;
        }
        let now = madsim::time::Instant::now();
        // Which versions are due is decided from `first_seen` as it stands; it is updated only once the versions
        // are known durable, as the jobs are built only for the versions due (the outbox can hold thousands).
        let is_due = |key: &(Env, EntityId, Version)| {
            first_seen.get(key).is_some_and(|seen: &madsim::time::Instant| now.duration_since(*seen) >= OUTBOX_GRACE)
        };
        let (all, entries, seen) = {
            let st = store.state.lock().expect("store lock");
            let all = st.outbox_versions();
            let entries: Vec<OutboxEntry> = all
                .iter()
                .filter(|key| is_due(key))
                .take(OUTBOX_BATCH_MAX)
                .filter_map(|(env, entity, _)| st.outbox_entry(env, entity))
                .collect();
            (all, entries, store.log.position())
        };
        // Only a durable version may be handed to the queue: if a failed sync loses it, the queue would remember
        // its request as done, and the same version stored again by the client's retry would get no job.
        if store.log.durable(seen).await.is_err() {
            continue;
        }
        let current: BTreeSet<&(Env, EntityId, Version)> = all.iter().collect();
        first_seen.retain(|key, _| current.contains(key));
        // Every version up to the last one handed over now counts as seen from now on.
        let last_due = entries.last().map(|e| (e.env.clone(), e.entity.clone(), e.version));
        for key in &all {
            first_seen.entry(key.clone()).or_insert(now);
            if entries.len() == OUTBOX_BATCH_MAX && last_due.as_ref() == Some(key) {
                break;
            }
        }
        if entries.is_empty() {
            continue;
        }
        // An environment without schemas needs no jobs (a deploy re-processes its entities later).
        let (empty, entries): (Vec<_>, Vec<_>) = entries.into_iter().partition(|e| e.enqueue.jobs.is_empty());
        let mut accepted: Vec<(OutboxEntry, usize)> = empty.into_iter().map(|e| (e, 0)).collect();
        // Versions the queue answered busy for: they stay in the outbox for the next round.
        let mut refused: Vec<OutboxEntry> = Vec::new();
        if !entries.is_empty() {
            let request = EnqueueMany { batches: entries.iter().map(|e| e.enqueue.clone()).collect() };
            if let Ok(replies) = rpc.call(ctx.topology.queue, request).await {
                for (entry, reply) in entries.into_iter().zip(replies) {
                    match reply {
                        EnqueueReply::Accepted { new, .. } => accepted.push((entry, new)),
                        _ => refused.push(entry),
                    }
                }
            }
        }
        if accepted.is_empty() {
            continue;
        }
        // Leaving the outbox needs no wait for durability: if the record is lost, the drain queues the version
        // again, and the queue adds nothing for a request it has seen.
        let mut versions = 0;
        let mut st = store.state.lock().expect("store lock");
        let mut repaired = Vec::new();
        for (entry, new) in accepted {
            let op = StoreOp::Queued { env: entry.env.clone(), entity: entry.entity.clone(), version: entry.version };
            if store.log.append(&op).is_err() {
                if st.flaws.has(Flaw::OutboxDropsOnFullDisk) {
                    // The flaw: the log cannot record this round, so the drain lets go of every version it owed the
                    // queue this round, those the queue answered busy for included, as if all had been queued.
                    for e in &refused {
                        st.apply(StoreOp::Queued { env: e.env.clone(), entity: e.entity.clone(), version: e.version });
                    }
                    st.apply(op);
                }
                break;
            }
            st.apply(op);
            versions += 1;
            if new > 0 {
                repaired.push((entry.env, entry.entity, entry.version, new));
            }
        }
        drop(st);
        ctx.emit(Event::OutboxDrained { versions });
        for (env, entity, version, jobs) in repaired {
            ctx.mark(crate::marks::OUTBOX_REPAIRED);
            ctx.emit(Event::OutboxRepaired { env, entity, version, jobs });
        }
    }
}

/// Renders `source` with `schema` into a view. Shared by workers and by anyone who needs to know what a correct
/// view looks like.
pub fn render(source: &Source, schema: &SchemaDef) -> View {
    render_at(source, schema, crate::clock::WallMillis(0))
}

/// Renders a view, stamped with the time it was rendered by the renderer's clock.
pub fn render_at(source: &Source, schema: &SchemaDef, now: crate::clock::WallMillis) -> View {
    View {
        env: source.env.clone(),
        entity: source.entity.clone(),
        schema: schema.name.clone(),
        schema_version: schema.version,
        source_version: source.version,
        fields: schema.render(&source.payload),
        rendered_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Payload;

    /// Two operators deploy other fields to one schema and both retry: the older deploy's retry must leave the
    /// newer fields in place (before, each retry put its own fields back, and the two undid each other forever).
    #[test]
    fn a_retried_deploy_never_puts_back_fields_a_newer_deploy_replaced() {
        let mut state = StoreState::recover(8, Flaws::default(), Vec::new());
        let (mut events, mut marks) = (Vec::new(), Vec::new());
        let mut put = |state: &mut StoreState, fields: &[&str], request| {
            let fields = fields.iter().map(|f| f.to_string()).collect();
            let (def, op) = state.put_schema(
                PutSchema { env: "a".into(), name: "page".into(), fields, request },
                &mut events,
                &mut marks,
            );
            if let Some(op) = op {
                state.apply(op);
            }
            def
        };
        assert_eq!(put(&mut state, &["title"], 1).version, 1);
        assert_eq!(put(&mut state, &["title", "rev-1"], 2).version, 2, "deploy 2 changes the schema");
        assert_eq!(put(&mut state, &["title", "rev-2"], 3).version, 3, "deploy 3 replaces it");
        let retry = put(&mut state, &["title", "rev-1"], 2);
        assert_eq!((retry.version, retry.fields.len()), (3, 2), "deploy 2's retry is told the schema stands at v3");
        assert_eq!(retry.fields[1], "rev-2", "with deploy 3's fields");
        assert_eq!(put(&mut state, &["title", "rev-2"], 3).version, 3, "deploy 3's retry changes nothing");
        assert_eq!(put(&mut state, &["title", "rev-1"], 4).version, 4, "a new deploy of the old fields is new");
    }

    #[test]
    fn compaction_frames_the_live_state_exactly_as_its_snapshot_record() {
        let mut state = StoreState::recover(8, Flaws::default(), Vec::new());
        let (mut events, mut marks) = (Vec::new(), Vec::new());
        let schema = PutSchema { env: "a".into(), name: "page".into(), fields: vec!["title".into()], request: 1 };
        let (def, op) = state.put_schema(schema, &mut events, &mut marks);
        state.apply(op.expect("a new schema is stored"));
        for (entity, title) in [("home", "Home"), ("about", "About")] {
            let payload = Payload::new([("title".to_string(), title.to_string())].into());
            let put = PutSource { env: "a".into(), entity: entity.into(), payload, request: 1, seq: 1 };
            let (_, op) = state.put_source(put, crate::clock::WallMillis(0), &mut events, &mut marks);
            let op = op.expect("a new source is stored");
            if let StoreOp::Source { source, .. } = &op {
                let view = render(source, &def);
                state.apply(op.clone());
                state.apply(StoreOp::View(view));
            }
        }
        let framed = crate::log::encode(&state.snapshot_record());
        let copied = StoreSnapshot { envs: state.envs.clone(), outbox: state.outbox.clone() };
        assert_eq!(framed, crate::log::encode(&StoreOp::Snapshot(Box::new(copied))));
        let ops = crate::log::decode::<StoreOp>(&framed).ops;
        let recovered = StoreState::recover(8, Flaws::default(), ops);
        assert_eq!(recovered.get_views("a", "home"), state.get_views("a", "home"));
        assert_eq!(recovered.outbox, state.outbox);
    }
}
