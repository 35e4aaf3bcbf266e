//! The oracle is not blind, and it does not cry wolf: each check, shown a crafted history that breaks its
//! invariant, reports the right violation; shown a crafted good one, reports nothing. The histories are built
//! by hand from what clients sent and were told, what readers saw and the final reading, the only evidence the
//! oracle accepts. No test here hands the oracle a system event.

use sim::load::{Write, WriteOutcome};
use sim::model::DeployRecord;
use sim::outcome::ViolationKind;
use sim::readers::Read;
use sim::scenario::{Dur, FreshBound};
use sim::world::{EnvState, FaultWindow, FinalState, Observation};
use std::time::Duration;
use system::model::{Payload, SchemaDef, Source, Version, View};

const FIELDS: [&str; 2] = ["title", "site"];

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn content(env: &str, rev: u64) -> Payload {
    sim::load::content(env, "home", rev)
}

fn fields() -> Vec<String> {
    FIELDS.iter().map(|f| f.to_string()).collect()
}

/// The view a correct store holds of `rev` at `version`, rendered here by hand, not by any code under test.
fn view(version: u64, rev: u64) -> View {
    let c = content("a", rev);
    View {
        env: "a".into(),
        entity: "home".into(),
        schema: "page".into(),
        schema_version: 1,
        source_version: Version(version),
        fields: Payload::new(FIELDS.iter().map(|f| (f.to_string(), c[*f].clone())).collect()),
        rendered_at: system::clock::WallMillis(0),
    }
}

fn write(seq: u64, rev: u64, sent: u64, outcome: WriteOutcome) -> Write {
    Write {
        env: "a".into(),
        entity: "home".into(),
        seq,
        request: 100 + seq,
        payload: content("a", rev),
        sent_at: ms(sent),
        attempts: 1,
        outcome,
    }
}

fn acked(version: u64, at: u64) -> WriteOutcome {
    WriteOutcome::Acked { version: Version(version), superseded: false, at: ms(at) }
}

fn read(at: u64, views: Vec<View>) -> Read {
    Read { env: "a".into(), entity: "home".into(), at: ms(at), views }
}

/// One environment `a` whose client wrote `home`, with schema `page` deployed (acknowledged as v1).
struct History {
    writes: Vec<Write>,
    reads: Vec<Read>,
    deploys: Vec<DeployRecord>,
    source: Option<(u64, u64)>,
    final_view: Option<View>,
    listed_schema: SchemaDef,
    quiescent: bool,
    net_messages: u64,
    faults: Vec<FaultWindow>,
}

impl History {
    /// A good run: one write, acknowledged as v1, seen by the reader, converged.
    fn good() -> History {
        History {
            writes: vec![write(1, 1, 1_000, acked(1, 1_100))],
            reads: vec![read(1_200, vec![view(1, 1)])],
            deploys: vec![DeployRecord {
                env: "a".into(),
                schema: "page".into(),
                fields: fields(),
                sent_at: ms(0),
                acked: Some((1, ms(10))),
                attempts: 1,
                superseded: false,
            }],
            source: Some((1, 1)),
            final_view: Some(view(1, 1)),
            listed_schema: SchemaDef { name: "page".into(), version: 1, fields: fields() },
            quiescent: true,
            net_messages: 20,
            faults: Vec::new(),
        }
    }

    fn observation(&self) -> Observation {
        let mut env = EnvState::default();
        env.schemas.insert("page".into(), self.listed_schema.clone());
        if let Some((version, rev)) = self.source {
            env.sources.insert(
                "home".into(),
                Source {
                    env: "a".into(),
                    entity: "home".into(),
                    version: Version(version),
                    payload: content("a", rev),
                },
            );
        }
        if let Some(v) = &self.final_view {
            env.views.entry("home".into()).or_default().insert("page".into(), v.clone());
        }
        Observation {
            writes: self.writes.clone(),
            deploys: self.deploys.clone(),
            reads: self.reads.clone(),
            final_state: Some(FinalState {
                quiescent: self.quiescent,
                envs: [("a".into(), env)].into(),
                ..FinalState::default()
            }),
            net_messages: self.net_messages,
            fault_windows: self.faults.clone(),
            ..Observation::default()
        }
    }

    fn kinds_in(&self, scenario: &sim::scenario::Scenario) -> Vec<ViolationKind> {
        let mut kinds: Vec<ViolationKind> =
            sim::oracle::check(scenario, &[], &self.observation()).into_iter().map(|v| v.kind).collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    fn kinds(&self) -> Vec<ViolationKind> {
        self.kinds_in(&tests::scenario("baseline").scenario)
    }
}

use ViolationKind::*;

#[test]
fn a_good_history_has_no_violation() {
    assert_eq!(History::good().kinds(), []);
}

// ---- monotonic reads ----

#[test]
fn an_identical_rewrite_seen_twice_is_not_a_regression() {
    let mut h = History::good();
    h.reads = vec![read(1_200, vec![view(1, 1)]), read(1_300, vec![view(1, 1)]), read(1_400, vec![view(1, 1)])];
    assert_eq!(h.kinds(), []);
}

#[test]
fn a_reader_seeing_an_older_version_after_a_newer_one_is_a_regression() {
    let mut h = History::good();
    h.writes.push(write(2, 2, 2_000, acked(2, 2_100)));
    h.source = Some((2, 2));
    h.final_view = Some(view(2, 2));
    h.reads = vec![read(2_200, vec![view(2, 2)]), read(2_300, vec![view(1, 1)]), read(2_400, vec![view(2, 2)])];
    assert_eq!(h.kinds(), [ViewRegressed]);
    // The same reads in order are fine.
    h.reads = vec![read(1_200, vec![view(1, 1)]), read(2_200, vec![view(2, 2)])];
    assert_eq!(h.kinds(), []);
}

#[test]
fn the_final_reading_going_back_from_what_a_reader_saw_is_a_regression() {
    let mut h = History::good();
    h.writes.push(write(2, 2, 2_000, acked(2, 2_100)));
    h.source = Some((2, 2));
    h.reads = vec![read(2_200, vec![view(2, 2)])];
    h.final_view = Some(view(1, 1));
    assert!(h.kinds().contains(&ViewRegressed));
}

// ---- durability and newest wins ----

#[test]
fn an_acknowledged_version_the_store_lost_is_reported() {
    let mut h = History::good();
    h.writes.push(write(2, 2, 2_000, acked(2, 2_100)));
    assert_eq!(h.kinds(), [LostIngest]);
}

#[test]
fn an_acknowledged_entity_without_source_is_reported() {
    let mut h = History::good();
    h.source = None;
    h.final_view = None;
    h.reads.clear();
    assert_eq!(h.kinds(), [LostIngest]);
}

#[test]
fn two_acknowledgements_of_one_version_with_different_contents_are_a_lost_write() {
    let mut h = History::good();
    // The store lost write 1 (acknowledged as v1) and gave its version to write 2.
    h.writes.push(write(2, 2, 2_000, acked(1, 2_100)));
    h.source = Some((1, 2));
    h.final_view = Some(view(1, 2));
    h.reads.clear();
    assert!(h.kinds().contains(&LostIngest));
}

#[test]
fn a_late_duplicate_refused_as_superseded_is_fine() {
    let mut h = History::good();
    // Write 1 is retried late, after write 2 was sent; the store refuses it, the newer content stays.
    h.writes = vec![
        write(1, 1, 1_000, WriteOutcome::Acked { version: Version(1), superseded: true, at: ms(3_000) }),
        write(2, 2, 2_000, acked(1, 2_100)),
    ];
    h.source = Some((1, 2));
    h.final_view = Some(view(1, 2));
    h.reads = vec![read(2_200, vec![view(1, 2)])];
    assert_eq!(h.kinds(), []);
}

#[test]
fn a_late_duplicate_that_brings_older_content_back_is_a_lost_write() {
    let mut h = History::good();
    h.writes.push(write(2, 2, 2_000, acked(2, 2_100)));
    // The late retry of write 1 was stored again as v3, over the client's newer content.
    h.source = Some((3, 1));
    h.final_view = Some(view(3, 1));
    h.reads.clear();
    assert_eq!(h.kinds(), [LostIngest]);
}

#[test]
fn superseded_without_a_later_write_is_a_dropped_write() {
    let mut h = History::good();
    h.writes = vec![write(1, 1, 1_000, WriteOutcome::Acked { version: Version(0), superseded: true, at: ms(1_100) })];
    h.source = None;
    h.final_view = None;
    h.reads.clear();
    assert_eq!(h.kinds(), [LostIngest]);
}

#[test]
fn the_last_write_may_win_even_if_its_client_gave_up() {
    let mut h = History::good();
    // Write 2 was abandoned by its sender, but the store had stored it: it may be current.
    h.writes.push(write(2, 2, 2_000, WriteOutcome::Abandoned { at: ms(4_000) }));
    h.source = Some((2, 2));
    h.final_view = Some(view(2, 2));
    assert_eq!(h.kinds(), []);
}

// ---- convergence against the model ----

#[test]
fn a_missing_view_is_reported() {
    let mut h = History::good();
    h.final_view = None;
    h.reads.clear();
    assert_eq!(h.kinds(), [MissingView]);
}

#[test]
fn a_stored_version_whose_client_gave_up_must_still_reach_its_view() {
    let mut h = History::good();
    // The busy-after-store gap: the content was stored, the client was told busy and gave up.
    h.writes.push(write(2, 2, 2_000, WriteOutcome::Abandoned { at: ms(4_000) }));
    h.source = Some((2, 2));
    assert_eq!(h.kinds(), [StaleView]);
}

#[test]
fn a_stale_view_is_reported() {
    let mut h = History::good();
    h.writes.push(write(2, 2, 2_000, acked(2, 2_100)));
    h.source = Some((2, 2));
    assert_eq!(h.kinds(), [StaleView]);
}

#[test]
fn a_view_under_an_older_schema_than_acknowledged_is_stale() {
    let mut h = History::good();
    let new_fields = vec!["title".to_string(), "summary".to_string()];
    h.deploys.push(DeployRecord {
        env: "a".into(),
        schema: "page".into(),
        fields: new_fields.clone(),
        sent_at: ms(5_000),
        acked: Some((2, ms(5_100))),
        attempts: 1,
        superseded: false,
    });
    h.listed_schema = SchemaDef { name: "page".into(), version: 2, fields: new_fields };
    assert_eq!(h.kinds(), [StaleView]);
}

#[test]
fn an_acknowledged_deploy_the_store_lost_is_reported() {
    let mut h = History::good();
    h.deploys.push(DeployRecord {
        env: "a".into(),
        schema: "page".into(),
        fields: vec!["title".into()],
        sent_at: ms(5_000),
        acked: Some((2, ms(5_100))),
        attempts: 1,
        superseded: false,
    });
    // The store still lists v1; the view at v1 is stale as well.
    assert_eq!(h.kinds(), [StaleView, LostDeploy]);
}

#[test]
fn a_deploy_never_answered_is_not_converged_and_named() {
    let mut h = History::good();
    h.deploys.push(DeployRecord {
        env: "a".into(),
        schema: "page".into(),
        fields: vec!["title".into()],
        sent_at: ms(5_000),
        acked: None,
        attempts: 100,
        superseded: false,
    });
    assert_eq!(h.kinds(), [NotConverged]);
    let found = sim::oracle::check(&tests::scenario("baseline").scenario, &[], &h.observation());
    assert_eq!((found[0].env.as_deref(), found[0].schema.as_deref()), (Some("a"), Some("page")), "{found:?}");
    assert!(found[0].detail.contains("the deploy of fields [\"title\"]") && found[0].detail.contains("100 attempts"));
}

#[test]
fn a_system_that_did_not_go_quiet_is_not_converged() {
    let mut h = History::good();
    h.final_view = None;
    h.reads.clear();
    h.quiescent = false;
    assert_eq!(h.kinds(), [NotConverged]);
}

// ---- integrity and isolation ----

#[test]
fn a_view_with_another_environments_content_is_an_isolation_breach() {
    let mut h = History::good();
    let mut v = view(1, 1);
    Payload::make_mut(&mut v.fields).insert("site".into(), "b".into());
    h.reads = vec![read(1_200, vec![v])];
    assert_eq!(h.kinds(), [IsolationBreach]);
}

#[test]
fn a_view_whose_content_no_client_sent_is_an_isolation_breach() {
    let mut h = History::good();
    let mut v = view(1, 1);
    Payload::make_mut(&mut v.fields).insert("title".into(), "something else".into());
    h.final_view = Some(v);
    h.reads.clear();
    assert!(h.kinds().contains(&IsolationBreach));
}

#[test]
fn a_view_of_an_acknowledged_version_with_other_content_is_an_isolation_breach() {
    let mut h = History::good();
    h.writes.push(write(2, 2, 2_000, acked(2, 2_100)));
    h.source = Some((2, 2));
    h.final_view = Some(view(2, 2));
    // Content the client did send, but under a version acknowledged for other content.
    h.reads = vec![read(2_200, vec![view(2, 1)])];
    assert_eq!(h.kinds(), [IsolationBreach]);
}

#[test]
fn a_source_its_environment_never_sent_is_an_isolation_breach() {
    let mut h = History::good();
    h.writes.clear();
    h.source = Some((1, 9));
    h.final_view = None;
    h.reads.clear();
    assert_eq!(h.kinds(), [IsolationBreach]);
}

// ---- fairness, from the readers ----

fn with_bound(bound_ms: u64) -> sim::scenario::Scenario {
    let mut s = tests::scenario("baseline").scenario;
    s.invariants.fresh_view_latency_max = Some(FreshBound::Fixed(Dur(ms(bound_ms))));
    s.invariants.fairness_environments = Some(vec!["a".into()]);
    s
}

#[test]
fn a_write_seen_late_by_its_reader_is_starvation() {
    let mut h = History::good();
    h.reads = vec![read(1_500, vec![]), read(4_000, vec![view(1, 1)])];
    assert_eq!(h.kinds_in(&with_bound(2_000)), [Starvation]);
    assert_eq!(h.kinds_in(&with_bound(5_000)), []);
}

#[test]
fn a_write_never_seen_is_at_least_as_late_as_the_last_read_without_it() {
    let mut h = History::good();
    h.reads = vec![read(1_500, vec![]), read(9_000, vec![])];
    assert_eq!(h.kinds_in(&with_bound(2_000)), [Starvation]);
}

/// Baseline's cluster with one environment `a`, held to a bound derived from its fair share.
fn fair_share() -> sim::scenario::Scenario {
    let mut s = tests::scenario("baseline").scenario;
    s.environments.names = vec!["a".into()];
    s.environments.mirrors.clear();
    s.load.deploys.clear();
    s.invariants.fresh_view_latency_max = Some(FreshBound::FairShare);
    s
}

fn fault_window(toml: &str, until_ms: u64) -> FaultWindow {
    FaultWindow { spec: toml::from_str(toml).expect("a fault spec"), until: ms(until_ms) }
}

#[test]
fn a_fair_share_bound_follows_from_the_cluster_and_the_load() {
    let s = fair_share();
    let d = sim::oracle::fairness::derive(&s, &[]);
    // At most 5 round trips of 20 ms and a 30 ms render per job; on average 3 of 11 ms and 17.5 ms. 3 workers x
    // 2 slots, for one environment.
    assert_eq!(d.job, ms(130));
    assert_eq!(d.job_mean, Duration::from_micros(50_500));
    assert!((d.share_per_s - 6.0 / 0.0505).abs() < 1e-9, "{}", d.share_per_s);
    assert_eq!(d.envs, ["a"]);
    // Twenty jobs' time (2.6 s), plus two of the reader's 100 ms intervals.
    assert_eq!(d.latency, ms(2_800));
    // 2 x 50 ingests/s is more than the share (119 jobs/s) leaves beside bulk work: not light, not held.
    let mut busy = s.clone();
    busy.load.ingest_rate = sim::scenario::Bounded(50);
    assert!(sim::oracle::fairness::derive(&busy, &[]).envs.is_empty());
}

#[test]
fn a_slow_render_point_lowers_the_fair_share_and_a_batch_of_them_outlasting_the_lease_leaves_no_bound() {
    use system::points::Point::SlowRender;
    let mut s = fair_share();
    s.system.lease = Some(Dur(ms(2_000)));
    // The point on for 10% of renders: the mean render is 90% of 17.5 ms and 10% of 300 ms.
    let d = sim::oracle::fairness::derive(&s, &[(SlowRender, 10)]);
    assert_eq!(d.job_mean, Duration::from_micros(33_000 + 15_750 + 30_000));
    assert!(!d.slow_render_outlasts_lease);
    assert_eq!(d.envs, ["a"]);
    // A batch of four slow renders (1.2 s) is more than 80% of a 1.4 s lease: a job may be given up at every
    // delivery, and no environment is held to a bound.
    s.system.lease = Some(Dur(ms(1_400)));
    let d = sim::oracle::fairness::derive(&s, &[(SlowRender, 10)]);
    assert!(d.slow_render_outlasts_lease);
    assert!(d.envs.is_empty());
    // With the point off, the same lease is long enough.
    let d = sim::oracle::fairness::derive(&s, &[]);
    assert!(!d.slow_render_outlasts_lease);
    assert_eq!(d.envs, ["a"]);
}

#[test]
fn a_write_late_beyond_its_fair_share_is_starvation_unless_a_fault_delayed_it() {
    let mut h = History::good();
    // Acknowledged at 1.1 s, first seen 5 s later: beyond the derived 2.8 s.
    h.reads = vec![read(1_500, vec![]), read(6_100, vec![view(1, 1)])];
    assert_eq!(h.kinds_in(&fair_share()), [Starvation]);
    // A worker crash from 0.5 s to 1 s: its leases (5 s) may hold the job until after 6 s.
    h.faults =
        vec![fault_window("at = \"500ms\"\nkind = \"crash\"\nduration = \"500ms\"\ntarget = \"worker-0\"", 1_000)];
    assert_eq!(h.kinds_in(&fair_share()), []);
    // A crash that healed long before the write does not excuse it.
    h.writes = vec![write(1, 1, 20_000, acked(1, 20_100))];
    h.reads = vec![read(20_500, vec![]), read(25_100, vec![view(1, 1)])];
    assert_eq!(h.kinds_in(&fair_share()), [Starvation]);
    // A burst excuses the environments it names only.
    h.faults = vec![fault_window(
        "at = \"19s\"\nkind = \"burst\"\nduration = \"2s\"\nenvironments = [\"b\"]\nrate_percent = 500",
        21_000,
    )];
    assert_eq!(h.kinds_in(&fair_share()), [Starvation]);
    h.faults[0].spec =
        toml::from_str("at = \"19s\"\nkind = \"burst\"\nduration = \"2s\"\nenvironments = [\"a\"]\nrate_percent = 500")
            .expect("a fault spec");
    assert_eq!(h.kinds_in(&fair_share()), []);
    // A deploy is the bulk work the bound holds fresh work against: it excuses nothing.
    h.faults[0].spec = toml::from_str("at = \"19s\"\nkind = \"deploy\"\nenvironment = \"a\"\nschema = \"page\"")
        .expect("a fault spec");
    assert_eq!(h.kinds_in(&fair_share()), [Starvation]);
}

// ---- bounded work, counted by the network ----

#[test]
fn messages_far_beyond_the_necessary_work_are_unbounded_work() {
    let mut h = History::good();
    h.net_messages = 1_000_000;
    assert_eq!(h.kinds(), [UnboundedWork]);
}
