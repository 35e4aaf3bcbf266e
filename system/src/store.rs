//! The store: versioned sources, schemas and views per environment, and the delivery API.
//!
//! Every write is conditional. A source gets the next version only if its content changed; a repeated request
//! (same idempotency key) gets the answer of its first attempt. A view replaces the stored one only if it was
//! made from a newer source (or the same source under a newer schema), so a slow worker can never put an older
//! view back.

use crate::events::Event;
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

/// The store's whole state.
#[derive(Clone, Debug, Default)]
pub struct StoreState {
    envs: BTreeMap<Env, EnvData>,
    request_memory_max: usize,
}

pub type SharedStore = Arc<Mutex<StoreState>>;

pub fn new_state(ctx: &NodeContext) -> SharedStore {
    Arc::new(Mutex::new(StoreState { envs: BTreeMap::new(), request_memory_max: ctx.config.request_memory_max }))
}

impl StoreState {
    fn put_source(&mut self, req: PutSource, events: &mut Vec<Event>) -> PutSourceReply {
        let memory_max = self.request_memory_max.max(1);
        let env = self.envs.entry(req.env.clone()).or_default();
        let schemas: Vec<SchemaName> = env.schemas.keys().cloned().collect();
        let record = env.sources.entry(req.entity.clone()).or_default();
        if let Some(&(_, version)) = record.requests.iter().find(|(id, _)| *id == req.request) {
            events.push(Event::SourceReplayed { env: req.env, entity: req.entity, version, request: req.request });
            return PutSourceReply { version, stored: true, schemas };
        }
        if let Some(current) = record.source.as_ref().filter(|s| s.payload == req.payload) {
            let version = current.version;
            events.push(Event::SourceUnchanged { env: req.env, entity: req.entity, version, request: req.request });
            return PutSourceReply { version, stored: false, schemas };
        }
        let version = Version(record.source.as_ref().map_or(0, |s| s.version.0) + 1);
        record.source =
            Some(Source { env: req.env.clone(), entity: req.entity.clone(), version, payload: req.payload });
        record.requests.push_back((req.request, version));
        while record.requests.len() > memory_max {
            record.requests.pop_front();
        }
        events.push(Event::SourceStored { env: req.env, entity: req.entity, version, request: req.request });
        PutSourceReply { version, stored: true, schemas }
    }

    fn get_source(&self, env: &str, entity: &str) -> Option<Source> {
        self.envs.get(env)?.sources.get(entity)?.source.clone()
    }

    fn put_schema(&mut self, req: PutSchema, events: &mut Vec<Event>) -> SchemaDef {
        let env = self.envs.entry(req.env.clone()).or_default();
        let version = match env.schemas.get(&req.name) {
            Some(def) if def.fields == req.fields => def.version,
            Some(def) => def.version + 1,
            None => 1,
        };
        let def = SchemaDef { name: req.name.clone(), version, fields: req.fields };
        env.schemas.insert(req.name.clone(), def.clone());
        events.push(Event::SchemaStored { env: req.env, schema: req.name, version });
        def
    }

    fn list_entities(&self, req: &ListEntities) -> Vec<EntityId> {
        let Some(env) = self.envs.get(&req.env) else { return Vec::new() };
        let range = match &req.after {
            Some(after) => env.sources.range::<EntityId, _>((Excluded(after), Unbounded)),
            None => env.sources.range::<EntityId, _>(..),
        };
        range.filter(|(_, r)| r.source.is_some()).take(req.limit).map(|(id, _)| id.clone()).collect()
    }

    fn put_view(&mut self, view: View, events: &mut Vec<Event>) -> PutViewReply {
        let env = self.envs.entry(view.env.clone()).or_default();
        let slot = env.views.entry(view.entity.clone()).or_default();
        if let Some(current) = slot.get(&view.schema) {
            if current.rank() >= view.rank() {
                events.push(Event::ViewWriteRefused {
                    env: view.env.clone(),
                    entity: view.entity.clone(),
                    schema: view.schema.clone(),
                    source_version: view.source_version,
                    current_version: current.source_version,
                });
                return PutViewReply::Refused {
                    current: current.source_version,
                    current_schema_version: current.schema_version,
                };
            }
        }
        events.push(Event::ViewWritten {
            env: view.env.clone(),
            entity: view.entity.clone(),
            schema: view.schema.clone(),
            source_version: view.source_version,
            schema_version: view.schema_version,
        });
        slot.insert(view.schema.clone(), view);
        PutViewReply::Written
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

/// Runs the store service on the current node until the node stops.
pub async fn serve(ctx: NodeContext, state: SharedStore) {
    let ep = Endpoint::bind(ctx.addr).await.expect("the store's address is free on its own node");
    ctx.emit(Event::NodeStarted { role: "store" });

    // Each handler changes the state under the lock, then reports its events in order.
    fn with<T>(ctx: &NodeContext, state: &SharedStore, f: impl FnOnce(&mut StoreState, &mut Vec<Event>) -> T) -> T {
        let mut events = Vec::new();
        let out = f(&mut state.lock().expect("store lock"), &mut events);
        for event in events {
            ctx.emit(event);
        }
        out
    }

    let (c, s) = (ctx.clone(), state.clone());
    ep.add_rpc_handler(move |req: PutSource| {
        let reply = with(&c, &s, |st, ev| st.put_source(req, ev));
        async move { reply }
    });
    let s = state.clone();
    ep.add_rpc_handler(move |req: GetSource| {
        let reply = s.lock().expect("store lock").get_source(&req.env, &req.entity);
        async move { reply }
    });
    let (c, s) = (ctx.clone(), state.clone());
    ep.add_rpc_handler(move |req: PutSchema| {
        let reply = with(&c, &s, |st, ev| st.put_schema(req, ev));
        async move { reply }
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
    let (c, s) = (ctx.clone(), state.clone());
    ep.add_rpc_handler(move |req: PutView| {
        let reply = with(&c, &s, |st, ev| st.put_view(req.view, ev));
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
    View {
        env: source.env.clone(),
        entity: source.entity.clone(),
        schema: schema.name.clone(),
        schema_version: schema.version,
        source_version: source.version,
        fields: schema.render(&source.payload),
    }
}
