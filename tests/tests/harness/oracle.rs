//! The oracle is not blind: each invariant, shown a run that breaks it, reports the right violation; shown a
//! run that keeps it, reports nothing. The runs are built by hand so that each check is tested in isolation.

use sim::load::Ack;
use sim::outcome::ViolationKind;
use sim::trace::{Record, TraceEvent};
use sim::world::{EnvState, FinalState, LoadCounters, Observation};
use std::sync::Arc;
use std::time::Duration;
use system::events::Event;
use system::model::{Payload, SchemaDef, Source, Version, View};

fn payload(env: &str, rev: u64) -> Payload {
    sim::load::content(env, "home", rev)
}

fn schema() -> SchemaDef {
    SchemaDef { name: "page".into(), version: 1, fields: vec!["title".into(), "site".into()] }
}

fn source(env: &str, version: u64, rev: u64) -> Source {
    Source { env: env.into(), entity: "home".into(), version: Version(version), payload: payload(env, rev) }
}

fn view_of(source: &Source) -> View {
    system::store::render(source, &schema())
}

/// A final state of one environment `a` holding `home` at `source`, with `view` as its page view.
fn state(source: Source, view: Option<View>) -> FinalState {
    let mut env = EnvState::default();
    env.schemas.insert("page".into(), schema());
    if let Some(view) = view {
        env.views.entry("home".into()).or_default().insert("page".into(), view);
    }
    env.sources.insert("home".into(), source);
    FinalState { quiescent: true, envs: [("a".to_string(), env)].into(), ..FinalState::default() }
}

fn observe(state: FinalState, acks: Vec<Ack>) -> Observation {
    Observation {
        acks,
        final_state: Some(state),
        load: LoadCounters::default(),
        net_messages: 0,
        simulated: Duration::ZERO,
        rpcs_failed: 0,
        rpcs_sent: 0,
        disruption: Duration::ZERO,
    }
}

fn kinds(trace: &[Record], obs: &Observation) -> Vec<ViolationKind> {
    let scenario = tests::scenario("baseline").scenario;
    sim::oracle::check(&scenario, trace, obs).into_iter().map(|v| v.kind).collect()
}

fn ack(version: u64, rev: u64) -> Ack {
    Ack {
        env: "a".into(),
        entity: "home".into(),
        version: Version(version),
        request: 1,
        payload: payload("a", rev),
        at: Duration::from_secs(1),
    }
}

#[test]
fn a_converged_state_has_no_violation() {
    let s = source("a", 2, 2);
    assert_eq!(kinds(&[], &observe(state(s.clone(), Some(view_of(&s))), vec![ack(2, 2)])), []);
}

#[test]
fn a_missing_view_is_reported() {
    assert_eq!(kinds(&[], &observe(state(source("a", 1, 1), None), vec![])), [ViolationKind::MissingView]);
}

#[test]
fn a_stale_view_is_reported() {
    let view = view_of(&source("a", 1, 1));
    assert_eq!(kinds(&[], &observe(state(source("a", 2, 2), Some(view)), vec![])), [ViolationKind::StaleView]);
}

#[test]
fn a_system_that_did_not_go_quiet_is_not_converged() {
    let mut s = state(source("a", 2, 2), None);
    s.quiescent = false;
    assert_eq!(kinds(&[], &observe(s, vec![])), [ViolationKind::NotConverged]);
}

#[test]
fn an_acknowledged_version_the_store_lost_is_reported() {
    let s = source("a", 1, 1);
    let obs = observe(state(s.clone(), Some(view_of(&s))), vec![ack(2, 2)]);
    assert_eq!(kinds(&[], &obs), [ViolationKind::LostIngest]);
}

#[test]
fn an_acknowledged_version_with_other_content_is_reported() {
    let s = source("a", 2, 7);
    let obs = observe(state(s.clone(), Some(view_of(&s))), vec![ack(2, 2)]);
    assert_eq!(kinds(&[], &obs), [ViolationKind::LostIngest]);
}

#[test]
fn a_view_with_another_environments_data_is_an_isolation_breach() {
    let s = source("a", 1, 1);
    let mut view = view_of(&s);
    view.fields.insert("site".into(), "b".into());
    assert_eq!(kinds(&[], &observe(state(s, Some(view)), vec![])), [ViolationKind::IsolationBreach]);
}

#[test]
fn a_view_whose_content_differs_from_its_source_is_an_isolation_breach() {
    let s = source("a", 1, 1);
    let mut view = view_of(&s);
    view.fields.insert("title".into(), "something else".into());
    assert_eq!(kinds(&[], &observe(state(s, Some(view)), vec![])), [ViolationKind::IsolationBreach]);
}

#[test]
fn a_view_written_back_to_an_older_version_is_reported() {
    let node: Arc<str> = "store".into();
    let write = |secs: u64, v: u64| Record {
        at: Duration::from_secs(secs),
        node: node.clone(),
        event: TraceEvent::System(Event::ViewWritten {
            env: "a".into(),
            entity: "home".into(),
            schema: "page".into(),
            source_version: Version(v),
            schema_version: 1,
        }),
    };
    let s = source("a", 3, 3);
    let obs = observe(state(s.clone(), Some(view_of(&s))), vec![]);
    assert_eq!(kinds(&[write(1, 2), write(2, 3)], &obs), []);
    assert_eq!(kinds(&[write(1, 3), write(2, 2), write(3, 3)], &obs), [ViolationKind::ViewRegressed]);
}
