//! The store: versioned sources, schemas and views per environment, and the delivery API.
//!
//! Every write is conditional. A source gets the next version only if its content changed; a repeated request
//! (same idempotency key) gets the answer of its first attempt. A view replaces the stored one only if it was
//! made from a newer source (or the same source under a newer schema), so a slow worker can never put an older
//! view back.

use crate::disk::Disk;
use crate::events::Event;
use crate::flaws::{Flaw, Flaws};
use crate::model::{EntityId, Env, SchemaDef, SchemaName, Source, Version, View};
use crate::node::NodeContext;
use crate::proto::*;
use madsim::net::Endpoint;
use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound::{Excluded, Unbounded};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, Default)]
struct SourceRecord {
    source: Option<Source>,
    /// The last few request ids that stored a version, and that version, oldest first.
    requests: VecDeque<(u64, Version)>,
}

#[derive(Clone, Debug, Default)]
struct EnvData {
    sources: BTreeMap<EntityId, SourceRecord>,
    schemas: BTreeMap<SchemaName, SchemaDef>,
    views: BTreeMap<EntityId, BTreeMap<SchemaName, View>>,
}

/// One durable change of the store's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreOp {
    Source { source: Source, request: u64 },
    Schema { env: Env, def: SchemaDef },
    View(View),
}

/// The store's whole state.
#[derive(Clone, Debug, Default)]
pub struct StoreState {
    envs: BTreeMap<Env, EnvData>,
    request_memory_max: usize,
    flaws: Flaws,
}

type SharedStore = Arc<Mutex<StoreState>>;

impl StoreState {
    /// Rebuilds the state from a durable log.
    pub fn recover(request_memory_max: usize, flaws: Flaws, log: Vec<StoreOp>) -> Self {
        let mut state = StoreState { envs: BTreeMap::new(), request_memory_max: request_memory_max.max(1), flaws };
        for op in log {
            state.apply(op);
        }
        state
    }

    /// Applies one change. The only way the state changes, live or on recovery.
    fn apply(&mut self, op: StoreOp) {
        match op {
            StoreOp::Source { source, request } => {
                let env = self.envs.entry(source.env.clone()).or_default();
                let record = env.sources.entry(source.entity.clone()).or_default();
                record.requests.push_back((request, source.version));
                while record.requests.len() > self.request_memory_max {
                    record.requests.pop_front();
                }
                record.source = Some(source);
            }
            StoreOp::Schema { env, def } => {
                self.envs.entry(env).or_default().schemas.insert(def.name.clone(), def);
            }
            StoreOp::View(view) => {
                let env = self.envs.entry(view.env.clone()).or_default();
                env.views.entry(view.entity.clone()).or_default().insert(view.schema.clone(), view);
            }
        }
    }

    fn put_source(
        &mut self,
        req: PutSource,
        events: &mut Vec<Event>,
        marks: &mut Vec<&'static str>,
    ) -> (PutSourceReply, Option<StoreOp>) {
        let env = self.envs.entry(req.env.clone()).or_default();
        let schemas: Vec<SchemaName> = env.schemas.keys().cloned().collect();
        let record = env.sources.entry(req.entity.clone()).or_default();
        if let Some(&(_, version)) = record.requests.iter().find(|(id, _)| *id == req.request) {
            marks.push(crate::marks::DUPLICATE_REQUEST);
            events.push(Event::SourceReplayed { env: req.env, entity: req.entity, version, request: req.request });
            return (PutSourceReply { version, stored: true, replayed: true, schemas }, None);
        }
        if let Some(current) = record.source.as_ref().filter(|s| s.payload == req.payload) {
            let version = current.version;
            events.push(Event::SourceUnchanged { env: req.env, entity: req.entity, version, request: req.request });
            return (PutSourceReply { version, stored: false, replayed: false, schemas }, None);
        }
        let version = Version(record.source.as_ref().map_or(0, |s| s.version.0) + 1);
        let source = Source { env: req.env.clone(), entity: req.entity.clone(), version, payload: req.payload };
        events.push(Event::SourceStored { env: req.env, entity: req.entity, version, request: req.request });
        let reply = PutSourceReply { version, stored: true, replayed: false, schemas };
        (reply, Some(StoreOp::Source { source, request: req.request }))
    }

    fn get_source(&self, env: &str, entity: &str) -> Option<Source> {
        self.envs.get(env)?.sources.get(entity)?.source.clone()
    }

    fn put_schema(
        &mut self,
        req: PutSchema,
        events: &mut Vec<Event>,
        _marks: &mut Vec<&'static str>,
    ) -> (SchemaDef, Option<StoreOp>) {
        let env = self.envs.entry(req.env.clone()).or_default();
        let version = match env.schemas.get(&req.name) {
            Some(def) if def.fields == req.fields => return (def.clone(), None),
            Some(def) => def.version + 1,
            None => 1,
        };
        let def = SchemaDef { name: req.name.clone(), version, fields: req.fields };
        events.push(Event::SchemaStored { env: req.env.clone(), schema: req.name, version });
        (def.clone(), Some(StoreOp::Schema { env: req.env, def }))
    }

    fn list_entities(&self, req: &ListEntities) -> Vec<EntityId> {
        let Some(env) = self.envs.get(&req.env) else { return Vec::new() };
        let range = match &req.after {
            Some(after) => env.sources.range::<EntityId, _>((Excluded(after), Unbounded)),
            None => env.sources.range::<EntityId, _>(..),
        };
        range.filter(|(_, r)| r.source.is_some()).take(req.limit).map(|(id, _)| id.clone()).collect()
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

    fn get_view(&self, req: &GetView) -> Option<View> {
        self.envs.get(&req.env)?.views.get(&req.entity)?.get(&req.schema).cloned()
    }

    fn list_content(&self, req: &ListContent) -> Vec<(Source, Vec<View>)> {
        let Some(env) = self.envs.get(&req.env) else { return Vec::new() };
        self.list_entities(&ListEntities { env: req.env.clone(), after: req.after.clone(), limit: req.limit })
            .into_iter()
            .filter_map(|entity| {
                let source = env.sources.get(&entity)?.source.clone()?;
                let views = env.views.get(&entity).map(|v| v.values().cloned().collect()).unwrap_or_default();
                Some((source, views))
            })
            .collect()
    }
}

/// How often the flawed store of `ack-before-durable` syncs in the background.
const GROUP_COMMIT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

/// The store's durable medium.
pub type StoreDisk = Arc<dyn Disk<StoreOp>>;

/// Runs the store service on the current node until the node stops. Its state is rebuilt from `disk`.
pub async fn serve(ctx: NodeContext, disk: StoreDisk) {
    let log = disk.open();
    let ops = log.len();
    let state: SharedStore =
        Arc::new(Mutex::new(StoreState::recover(ctx.config.request_memory_max, ctx.config.flaws.clone(), log)));
    // The flaw `ack-before-durable`: writes are synced by a background "group commit", after their answers left.
    let early_ack = ctx.config.flaws.has(Flaw::AckBeforeDurable);
    if early_ack {
        let disk = disk.clone();
        madsim::task::spawn(async move {
            loop {
                madsim::time::sleep(GROUP_COMMIT_INTERVAL).await;
                disk.sync();
            }
        });
    }
    let ep = Endpoint::bind(ctx.addr).await.expect("the store's address is free on its own node");
    ctx.emit(Event::NodeStarted { role: "store" });
    ctx.emit(Event::Recovered { ops });
    if ops > 0 {
        ctx.mark(crate::marks::STORE_RECOVERED);
    }

    // Each writing handler decides under the lock, applies the change, makes it durable, and reports its events
    // in order, all before its answer can leave.
    fn with<T>(
        ctx: &NodeContext,
        state: &SharedStore,
        disk: &StoreDisk,
        f: impl FnOnce(&mut StoreState, &mut Vec<Event>, &mut Vec<&'static str>) -> (T, Option<StoreOp>),
    ) -> T {
        let (mut events, mut marks) = (Vec::new(), Vec::new());
        let mut st = state.lock().expect("store lock");
        let (out, op) = f(&mut st, &mut events, &mut marks);
        if let Some(op) = op {
            st.apply(op.clone());
            disk.append(op);
            if !st.flaws.has(Flaw::AckBeforeDurable) {
                disk.sync();
            }
        }
        drop(st);
        for event in events {
            ctx.emit(event);
        }
        for mark in marks {
            ctx.mark(mark);
        }
        out
    }

    let (c, s, d) = (ctx.clone(), state.clone(), disk.clone());
    ep.add_rpc_handler(move |req: PutSource| {
        let reply = with(&c, &s, &d, |st, ev, m| st.put_source(req, ev, m));
        async move { reply }
    });
    let s = state.clone();
    ep.add_rpc_handler(move |req: GetSource| {
        let reply = s.lock().expect("store lock").get_source(&req.env, &req.entity);
        async move { reply }
    });
    let (c, s, d) = (ctx.clone(), state.clone(), disk.clone());
    ep.add_rpc_handler(move |req: PutSchema| {
        let reply = with(&c, &s, &d, |st, ev, m| st.put_schema(req, ev, m));
        async move { reply }
    });
    let s = state.clone();
    ep.add_rpc_handler(move |req: ReadJobInput| {
        let st = s.lock().expect("store lock");
        let source = st.get_source(&req.env, &req.entity);
        let schema = st.envs.get(&req.env).and_then(|e| e.schemas.get(&req.schema).cloned());
        async move { (source, schema) }
    });
    let s = state.clone();
    ep.add_rpc_handler(move |req: GetSchema| {
        let reply = s.lock().expect("store lock").envs.get(&req.env).and_then(|e| e.schemas.get(&req.name).cloned());
        async move { reply }
    });
    let s = state.clone();
    ep.add_rpc_handler(move |req: ListSchemas| {
        let reply: Vec<SchemaDef> = s
            .lock()
            .expect("store lock")
            .envs
            .get(&req.env)
            .map(|e| e.schemas.values().cloned().collect())
            .unwrap_or_default();
        async move { reply }
    });
    let s = state.clone();
    ep.add_rpc_handler(move |req: ListEntities| {
        let reply = s.lock().expect("store lock").list_entities(&req);
        async move { reply }
    });
    let (c, s, d) = (ctx.clone(), state.clone(), disk.clone());
    ep.add_rpc_handler(move |req: PutView| {
        let reply = with(&c, &s, &d, |st, ev, m| st.put_view(req, ev, m));
        async move { reply }
    });
    let s = state.clone();
    ep.add_rpc_handler(move |req: GetView| {
        let reply = s.lock().expect("store lock").get_view(&req);
        async move { reply }
    });
    let s = state.clone();
    ep.add_rpc_handler(move |req: ListContent| {
        let reply = s.lock().expect("store lock").list_content(&req);
        async move { reply }
    });

    std::future::pending::<()>().await;
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
