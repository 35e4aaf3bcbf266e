//! Every fault kind has an effect the system can observe, during its window and not after it heals.
//! Network, clock and pause faults are shown on a three-node cluster with a counting ping service, driven by the
//! harness's real injector; process, load and deploy faults on the full system, through its trace.

use madsim::time::{sleep, sleep_until, Instant};
use sim::faults::FaultKind;
use sim::trace::{HarnessEvent, TraceEvent};
use std::time::Duration;
use system::clock::Clock;
use system::events::Event;
use system::net::RpcError;
use tests::mini::{simulate, spec, Mini};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn isolating_a_node_times_out_calls_during_the_window_and_they_succeed_after() {
    simulate(|| async {
        let mini = Mini::new().await;
        let t0 = Instant::now();
        mini.inject(vec![spec("at = \"1s\"\nkind = \"isolate\"\ntarget = \"b\"\nduration = \"2s\"")]);
        assert!(mini.ping("a", "b").await.0.is_ok(), "before the fault");
        sleep_until(t0 + ms(1_200)).await;
        assert_eq!(mini.ping("a", "b").await.0, Err(RpcError::Timeout), "b is cut off");
        assert_eq!(mini.ping("c", "b").await.0, Err(RpcError::Timeout), "from every node");
        assert!(mini.ping("a", "c").await.0.is_ok(), "the others still talk");
        sleep_until(t0 + ms(3_100)).await;
        assert!(mini.ping("a", "b").await.0.is_ok(), "healed");
    });
}

#[test]
fn a_split_separates_the_group_from_the_rest_only() {
    simulate(|| async {
        let mini = Mini::new().await;
        mini.inject(vec![spec("at = \"0s\"\nkind = \"split\"\ngroup = [\"a\"]\nduration = \"2s\"")]);
        sleep(ms(100)).await;
        assert_eq!(mini.ping("a", "b").await.0, Err(RpcError::Timeout));
        assert_eq!(mini.ping("c", "a").await.0, Err(RpcError::Timeout));
        assert!(mini.ping("b", "c").await.0.is_ok(), "the rest is one side");
    });
}

#[test]
fn a_one_way_cut_loses_messages_in_one_direction_only() {
    simulate(|| async {
        let mini = Mini::new().await;
        mini.inject(vec![spec("at = \"0s\"\nkind = \"cut\"\nfrom = \"a\"\nto = \"b\"\nduration = \"5s\"")]);
        sleep(ms(100)).await;
        // a -> b: the request is lost, b never sees it.
        assert_eq!(mini.ping("a", "b").await.0, Err(RpcError::Timeout));
        assert_eq!(mini.received("b"), 0);
        // b -> a: the request arrives and takes effect, but the answer is lost on the way back.
        assert_eq!(mini.ping("b", "a").await.0, Err(RpcError::Timeout));
        assert_eq!(mini.received("a"), 1, "the request crossed the cut in the open direction");
    });
}

#[test]
fn whole_network_loss_drops_messages_until_it_heals() {
    simulate(|| async {
        let mini = Mini::new().await;
        mini.inject(vec![spec(
            "at = \"0s\"\nkind = \"loss\"\ntarget = \"network\"\nloss_percent = 100\nduration = \"3s\"",
        )]);
        sleep(ms(100)).await;
        assert_eq!(mini.ping("a", "b").await.0, Err(RpcError::Timeout));
        assert_eq!(mini.ping("b", "c").await.0, Err(RpcError::Timeout));
        sleep(ms(3_000)).await;
        assert!(mini.ping("a", "b").await.0.is_ok());
    });
}

#[test]
fn loss_on_one_node_drops_only_its_messages() {
    simulate(|| async {
        let mini = Mini::new().await;
        mini.inject(vec![spec("at = \"0s\"\nkind = \"loss\"\ntarget = \"b\"\nloss_percent = 100\nduration = \"3s\"")]);
        sleep(ms(100)).await;
        assert_eq!(mini.ping("a", "b").await.0, Err(RpcError::Timeout));
        assert_eq!(mini.ping("b", "c").await.0, Err(RpcError::Timeout));
        assert!(mini.ping("a", "c").await.0.is_ok());
    });
}

#[test]
fn per_link_latency_delays_only_that_link() {
    simulate(|| async {
        let mini = Mini::new().await;
        mini.inject(vec![spec(
            "at = \"0s\"\nkind = \"latency\"\nfrom = \"a\"\nto = \"b\"\nlatency = \"300ms\"\nduration = \"5s\"",
        )]);
        sleep(ms(100)).await;
        let (slow, slow_time) = mini.ping("a", "b").await;
        let (fast, fast_time) = mini.ping("a", "c").await;
        assert!(slow.is_ok() && fast.is_ok());
        assert!(slow_time >= ms(300), "a->b took {slow_time:?}");
        assert!(fast_time < ms(100), "a->c took {fast_time:?}");
        let (_, back) = mini.ping("b", "a").await;
        assert!(back >= ms(300), "the reply crosses a->b too: {back:?}");
    });
}

#[test]
fn a_long_tailed_latency_delays_most_messages_about_its_median_and_a_few_far_more() {
    simulate(|| async {
        let mini = Mini::new().await;
        mini.inject(vec![spec(
            "at = \"0s\"\nkind = \"latency\"\nfrom = \"a\"\nto = \"b\"\nlatency = \"10ms\"\ntail = \"pareto\"\nduration = \"60s\"",
        )]);
        sleep(ms(10)).await;
        let mut times = Vec::new();
        for _ in 0..300 {
            let (answer, took) = mini.ping("a", "b").await;
            // A delay past the call's timeout is the tail too.
            times.push(if answer.is_ok() { took } else { Duration::MAX });
        }
        times.sort();
        let median = times[times.len() / 2];
        let slow = times.iter().filter(|t| **t >= ms(100)).count();
        assert!(median >= ms(5) && median < ms(40), "most messages see about the latency: median {median:?}");
        assert!((5..=90).contains(&slow), "about one in ten is ten times slower: {slow} of 300 took 100ms or more");
        assert!(times[0] >= ms(5), "none is faster than half the latency: {:?}", times[0]);
    });
}

/// A request held up past its caller's timeout is on the wire, not in the caller: the call times out, and the
/// request still reaches its receiver when its delay is over (what a late first attempt of a retried call is).
#[test]
fn a_request_delayed_past_its_timeout_still_arrives_late() {
    simulate(|| async {
        let mini = Mini::new().await;
        mini.inject(vec![spec(
            "at = \"0s\"\nkind = \"latency\"\nfrom = \"a\"\nto = \"b\"\nlatency = \"2s\"\nduration = \"1s\"",
        )]);
        sleep(ms(100)).await;
        let before = mini.received("b");
        let (answer, took) = mini.ping("a", "b").await;
        assert_eq!(answer, Err(RpcError::Timeout), "the caller gave up after {took:?}");
        assert!(took < ms(2_000), "at its own timeout, not the delay: {took:?}");
        assert_eq!(mini.received("b"), before, "not yet delivered when the caller gave up");
        sleep(ms(2_200)).await;
        assert_eq!(mini.received("b"), before + 1, "delivered late, after the caller gave up");
    });
}

#[test]
fn a_slow_node_and_a_network_latency_spike_delay_calls() {
    simulate(|| async {
        let mini = Mini::new().await;
        mini.inject(vec![
            spec("at = \"0s\"\nkind = \"latency\"\ntarget = \"c\"\nlatency = \"200ms\"\nduration = \"2s\""),
            spec("at = \"3s\"\nkind = \"latency\"\ntarget = \"network\"\nlatency = \"150ms\"\nduration = \"2s\""),
        ]);
        sleep(ms(100)).await;
        assert!(mini.ping("a", "c").await.1 >= ms(400), "both directions of a slow node's link");
        assert!(mini.ping("a", "b").await.1 < ms(100));
        sleep_until(Instant::now() + ms(3_000)).await;
        assert!(mini.ping("a", "b").await.1 >= ms(300), "a network spike delays every link");
        sleep(ms(2_500)).await;
        assert!(mini.ping("a", "b").await.1 < ms(100), "healed");
    });
}

#[test]
fn a_clock_offset_moves_one_nodes_clock_for_the_window() {
    simulate(|| async {
        let mini = Mini::new().await;
        mini.inject(vec![spec(
            "at = \"1s\"\nkind = \"clock-offset\"\ntarget = \"b\"\noffset = \"+30s\"\nduration = \"2s\"",
        )]);
        let skew = |mini: &Mini| mini.clocks["b"].now().0 as i64 - mini.clocks["a"].now().0 as i64;
        assert_eq!(skew(&mini), 0);
        sleep(ms(1_500)).await;
        assert_eq!(skew(&mini), 30_000);
        sleep(ms(2_000)).await;
        assert_eq!(skew(&mini), 0);
    });
}

#[test]
fn a_drifting_clock_runs_fast_and_is_slewed_back_when_healed() {
    simulate(|| async {
        let mini = Mini::new().await;
        mini.inject(vec![spec(
            "at = \"0s\"\nkind = \"clock-drift\"\ntarget = \"b\"\ndrift_ppm = 100000\nduration = \"20s\"",
        )]);
        sleep(ms(10_000)).await;
        let ahead = mini.clocks["b"].now().0 as i64 - mini.clocks["a"].now().0 as i64;
        assert!((990..=1_010).contains(&ahead), "10% fast for 10 s: {ahead} ms ahead");
        sleep(ms(10_100)).await;
        let offset = mini.clocks["b"].offset_us();
        assert!((1_900_000..=2_000_000).contains(&offset), "the 2 s it gained slew back, not a step: {offset}");
        sleep(ms(5_000)).await;
        assert_eq!(mini.clocks["b"].offset_us(), 0, "back at true time after the slew");
    });
}

/// Clock faults compose: for every order of starting and healing an offset, a drift and a jump on one node, the
/// clock reads true time plus the sum of what is active at each step (an offset while it lasts; a drift's gain,
/// slewed back at 50% once healed; a jump, slewed back once healed), and ends at true time.
#[test]
fn overlapping_clock_faults_add_up_and_heal_in_any_order() {
    use sim::faults::clock::{Change, SimClock};
    const SLEW: i64 = sim::faults::clock::SLEW_PPM;
    let changes = [Change::Offset(20_000_000), Change::Drift(100_000), Change::Jump(-5_000_000)];
    // Every order of the six steps in which each fault starts before it heals.
    let mut orders: Vec<Vec<(usize, bool)>> = vec![Vec::new()];
    for _ in 0..6 {
        let mut next = Vec::new();
        for order in &orders {
            for f in 0..3 {
                for on in [true, false] {
                    let started = order.contains(&(f, true));
                    let healed = order.contains(&(f, false));
                    if (on && !started) || (!on && started && !healed) {
                        let mut o = order.clone();
                        o.push((f, on));
                        next.push(o);
                    }
                }
            }
        }
        orders = next;
    }
    assert_eq!(orders.len(), 90);
    for order in orders {
        simulate(|| async {
            let clock = SimClock::new();
            let t0 = Instant::now();
            let now = || t0.elapsed().as_micros() as i64;
            let mut spans: [(Option<i64>, Option<i64>); 3] = [(None, None); 3];
            // What the clock must read: each fault's own part, added up.
            let expected = |spans: &[(Option<i64>, Option<i64>); 3], t: i64| -> i64 {
                let slewed = |from: i64, since: i64| {
                    let moved = SLEW * (t - since) / 1_000_000;
                    if from > 0 {
                        (from - moved).max(0)
                    } else {
                        (from + moved).min(0)
                    }
                };
                changes
                    .iter()
                    .zip(spans)
                    .map(|(change, (start, heal))| match (change, *start, *heal) {
                        (_, None, _) => 0,
                        (Change::Offset(us), Some(_), None) => *us,
                        (Change::Offset(_), Some(_), Some(_)) => 0,
                        (Change::Drift(ppm), Some(s), None) => ppm * (t - s) / 1_000_000,
                        (Change::Drift(ppm), Some(s), Some(h)) => slewed(ppm * (h - s) / 1_000_000, h),
                        (Change::Jump(us), Some(_), None) => *us,
                        (Change::Jump(us), Some(_), Some(h)) => slewed(*us, h),
                    })
                    .sum()
            };
            for &(f, on) in &order {
                sleep(ms(1_000)).await;
                let t = now();
                if on {
                    clock.start(changes[f]);
                    spans[f].0 = Some(t);
                } else {
                    clock.heal(changes[f]);
                    spans[f].1 = Some(t);
                }
                assert_eq!(clock.offset_us(), expected(&spans, t), "{order:?} at step {f} {on}");
            }
            sleep(ms(60_000)).await;
            assert_eq!(clock.offset_us(), 0, "{order:?}: back at true time");
        });
    }
}

/// The case found on `main`: an offset of +20 s on the queue from 1 s for 10 s, and a drift from 3 s for 3 s.
/// Healing the drift must not drop the offset, nor healing the offset step the clock 20 s behind.
#[test]
fn an_offset_and_a_drift_on_one_node_end_at_true_time() {
    simulate(|| async {
        let mini = Mini::new().await;
        mini.inject(vec![
            spec("at = \"1s\"\nkind = \"clock-offset\"\ntarget = \"b\"\noffset = \"+20s\"\nduration = \"10s\""),
            spec("at = \"3s\"\nkind = \"clock-drift\"\ntarget = \"b\"\ndrift_ppm = 100000\nduration = \"3s\""),
        ]);
        sleep(ms(7_000)).await;
        let offset = mini.clocks["b"].offset_us();
        assert!((20_000_000..20_300_000).contains(&offset), "the offset holds after the drift healed: {offset}");
        sleep(ms(5_000)).await;
        assert_eq!(mini.clocks["b"].offset_us(), 0, "true time once both healed, not 20 s behind");
    });
}

#[test]
fn a_clock_jump_backwards_is_slewed_back_after_the_window() {
    simulate(|| async {
        let mini = Mini::new().await;
        mini.inject(vec![spec(
            "at = \"0s\"\nkind = \"clock-jump\"\ntarget = \"b\"\noffset = \"-10s\"\nduration = \"1s\"",
        )]);
        sleep(ms(500)).await;
        assert_eq!(mini.clocks["b"].offset_us(), -10_000_000, "jumped back");
        sleep(ms(500 + 10_000)).await;
        let offset = mini.clocks["b"].offset_us();
        assert!((-5_010_000..=-4_990_000).contains(&offset), "slewing back at 50%: {offset}");
        sleep(ms(20_000)).await;
        assert_eq!(mini.clocks["b"].offset_us(), 0, "the slew stops at true time");
    });
}

#[test]
fn a_paused_node_answers_nothing_until_it_resumes() {
    simulate(|| async {
        let mini = Mini::new().await;
        mini.inject(vec![spec("at = \"0s\"\nkind = \"pause\"\ntarget = \"b\"\nduration = \"3s\"")]);
        sleep(ms(100)).await;
        assert_eq!(mini.ping("a", "b").await.0, Err(RpcError::Timeout));
        sleep(ms(3_000)).await;
        assert!(mini.ping("a", "b").await.0.is_ok());
    });
}

// ---- on the full system ----

use sim::world::run_seed;
use tests::scenario;

fn baseline_with(script: &str) -> sim::scenario::LoadedScenario {
    let mut s = scenario("baseline");
    let faults: sim::faults::FaultsConfig = toml::from_str(script).unwrap();
    s.scenario.faults = faults;
    s
}

/// When the safety phase started, from the trace.
fn safety_start(trace: &[sim::trace::Record]) -> Duration {
    trace
        .iter()
        .find(|r| matches!(r.event, TraceEvent::Harness(HarnessEvent::PhaseStarted { phase: "safety" })))
        .expect("a safety phase")
        .at
}

#[test]
fn a_queue_clock_skewed_by_30s_judges_leases_expired() {
    let skewed = baseline_with(
        "[[script]]\nat = \"10s\"\nkind = \"clock-offset\"\ntarget = \"queue\"\noffset = \"+30s\"\nduration = \"5s\"",
    );
    let plain = run_seed(&scenario("baseline"), 3).outcome;
    let result = run_seed(&skewed, 3);
    assert_eq!(plain.stats.leases_expired, 0);
    assert!(result.outcome.stats.leases_expired > 0, "every live lease looked 30 s older to the queue");
    assert!(result.outcome.passed(), "{:#?}", result.outcome.violations);
}

#[test]
fn a_store_crash_keeps_synced_writes_and_the_run_stays_correct() {
    // What exactly a crash keeps is shown record by record in `disk.rs`; here, the whole system around it.
    let crashed = baseline_with("[[script]]\nat = \"12s\"\nkind = \"crash\"\ntarget = \"store\"\nduration = \"2s\"");
    let result = run_seed(&crashed, 5);
    assert!(result.outcome.passed(), "{:#?}", result.outcome.violations);
    let crash_at = safety_start(&result.trace) + Duration::from_secs(12);
    let crashes: Vec<u64> = result
        .trace
        .iter()
        .filter_map(|r| match &r.event {
            TraceEvent::Harness(HarnessEvent::NodeCrashed { node, kept_bytes, .. }) if node == "store" => {
                Some(*kept_bytes)
            }
            _ => None,
        })
        .collect();
    assert_eq!(crashes, [0], "one clean crash of the store: no unsynced byte reaches its disk");
    let recovered: Vec<usize> = result
        .trace
        .iter()
        .filter_map(|r| match r.event {
            TraceEvent::System(Event::Recovered { ops }) if &*r.node == "store" && r.at > crash_at => Some(ops),
            _ => None,
        })
        .collect();
    assert!(
        recovered.len() == 1 && recovered[0] > 0,
        "the restarted store rebuilt itself from its log once: {recovered:?}"
    );
}

#[test]
fn pausing_all_workers_stops_all_leases_and_they_resume_together() {
    let paused = baseline_with("[[script]]\nat = \"5s\"\nkind = \"pause-workers\"\nduration = \"10s\"");
    let result = run_seed(&paused, 2);
    assert!(result.outcome.passed(), "{:#?}", result.outcome.violations);
    let start = safety_start(&result.trace);
    let leased_at: Vec<Duration> = result
        .trace
        .iter()
        .filter(|r| matches!(r.event, TraceEvent::System(Event::JobLeased { .. })))
        .map(|r| r.at - start.min(r.at))
        .collect();
    // A lease asked for just before the pause may still be granted on the queue's side: a long poll waits up to
    // 400ms (80% of the RPC timeout) for work.
    assert!(!leased_at.iter().any(|&t| t > ms(5_500) && t < ms(15_000)), "no lease while every worker is paused");
    assert!(leased_at.iter().any(|&t| t >= ms(15_000) && t < ms(15_500)), "workers resume onto the backlog");
}

#[test]
fn a_burst_multiplies_an_environments_ingest_rate_in_its_window() {
    let burst = baseline_with(
        "[[script]]\nat = \"10s\"\nkind = \"burst\"\nenvironments = [\"globex\"]\nrate_percent = 500\nduration = \"10s\"",
    );
    let result = run_seed(&burst, 4);
    assert!(result.outcome.passed(), "{:#?}", result.outcome.violations);
    let start = safety_start(&result.trace);
    let acks = |env: &str, from: u64, to: u64| {
        result
            .trace
            .iter()
            .filter(|r| matches!(&r.event, TraceEvent::Harness(HarnessEvent::ClientAcked { env: e, .. }) if e == env))
            .filter(|r| r.at >= start + Duration::from_secs(from) && r.at < start + Duration::from_secs(to))
            .count()
    };
    let (before, during) = (acks("globex", 0, 10), acks("globex", 10, 20));
    assert!(during >= 3 * before, "globex: {before} ingests before, {during} during the burst");
    let (other_before, other_during) = (acks("initech", 0, 10), acks("initech", 10, 20));
    assert!(other_during < 2 * other_before, "initech is not bursting: {other_before} vs {other_during}");
}

#[test]
fn a_deploy_fault_reprocesses_a_whole_environment() {
    let deploy =
        baseline_with("[[script]]\nat = \"20s\"\nkind = \"deploy\"\nenvironment = \"initech\"\nschema = \"page\"");
    let result = run_seed(&deploy, 6);
    assert!(result.outcome.passed(), "{:#?}", result.outcome.violations);
    let bulk_jobs = result
        .trace
        .iter()
        .filter(|r| matches!(&r.event, TraceEvent::System(Event::DeployAcked { env, jobs, .. }) if env == "initech" && *jobs > 50))
        .count();
    assert_eq!(bulk_jobs, 1, "one deploy enqueued a job for every initech entity");
}

// ---- plans ----

#[test]
fn a_scripted_plan_executes_exactly_as_written() {
    let text = "\
[[script]]
at = \"2s\"
kind = \"isolate\"
target = \"worker-1\"
duration = \"3s\"

[[script]]
at = \"4s\"
kind = \"latency\"
from = \"ingest-1\"
to = \"store\"
latency = \"50ms\"
duration = \"1s\"

[[script]]
at = \"9s\"
kind = \"crash\"
target = \"queue\"
duration = \"500ms\"
";
    let scripted = baseline_with(text);
    let result = run_seed(&scripted, 1);
    assert!(result.outcome.passed(), "{:#?}", result.outcome.violations);
    assert_eq!(result.outcome.fault_plan, scripted.scenario.faults.script, "the executed plan is the script");
    let start = safety_start(&result.trace);
    let faults: Vec<(Duration, String)> = result
        .trace
        .iter()
        .filter_map(|r| match &r.event {
            // Trace times carry madsim's scheduling granularity (tens of nanoseconds): compare milliseconds.
            TraceEvent::Harness(HarnessEvent::FaultStarted { spec }) => {
                Some((ms((r.at - start).as_millis() as u64), format!("start {spec}")))
            }
            TraceEvent::Harness(HarnessEvent::FaultHealed { spec }) => {
                Some((ms((r.at - start).as_millis() as u64), format!("heal {spec}")))
            }
            _ => None,
        })
        .collect();
    let expected = [
        (ms(2_000), "start isolate worker-1 for 3s"),
        (ms(4_000), "start latency ingest-1->store latency=50ms for 1s"),
        (ms(5_000), "heal isolate worker-1 for 3s"),
        (ms(5_000), "heal latency ingest-1->store latency=50ms for 1s"),
        (ms(9_000), "start crash queue for 500ms"),
        (ms(9_500), "heal crash queue for 500ms"),
    ];
    let got: Vec<(Duration, &str)> = faults.iter().take(expected.len()).map(|(t, d)| (*t, d.as_str())).collect();
    assert_eq!(got, expected);
}

#[test]
fn the_first_200_swarm_seeds_use_every_fault_kind_and_differ() {
    let swarm = scenario("swarm").scenario;
    let plans: Vec<Vec<sim::faults::FaultSpec>> =
        (0..200).map(|seed| sim::world::fault_plan(&swarm, seed, &[])).collect();
    for &kind in FaultKind::ALL {
        assert!(plans.iter().any(|p| p.iter().any(|f| f.kind() == kind)), "no swarm seed used {kind}");
    }
    let distinct: std::collections::BTreeSet<String> = plans.iter().map(|p| format!("{p:?}")).collect();
    assert_eq!(distinct.len(), 200, "every seed has its own plan");
    // Swarm mode: seeds differ in which kinds they enable, not only in timing.
    let mixes: std::collections::BTreeSet<Vec<FaultKind>> = plans
        .iter()
        .map(|p| {
            let mut kinds: Vec<FaultKind> = p.iter().map(|f| f.kind()).collect();
            kinds.sort();
            kinds.dedup();
            kinds
        })
        .collect();
    assert!(mixes.len() > 50, "only {} different mixes of kinds", mixes.len());
}

#[test]
fn swarm_aims_a_third_of_its_clock_steps_at_the_queue_and_other_scenarios_aim_them_evenly() {
    let queue_share = |name: &str| {
        // The generated steps only (clock-skew scripts one of the queue's own).
        let mut s = scenario(name).scenario;
        s.faults.script.clear();
        let targets: Vec<String> = (0..400)
            .flat_map(|seed| sim::world::fault_plan(&s, seed, &[]))
            .filter(|f| matches!(f.kind(), FaultKind::ClockOffset | FaultKind::ClockJump))
            .filter_map(|f| f.target().map(str::to_string))
            .collect();
        assert!(targets.len() > 100, "{name}: only {} clock steps", targets.len());
        targets.iter().filter(|t| *t == "queue").count() as f64 / targets.len() as f64
    };
    // A third aimed at the queue, and the rest spread over every node (the queue among them): about 40%.
    let swarm = queue_share("swarm");
    assert!((0.33..0.55).contains(&swarm), "swarm aims {swarm:.2} of its clock steps at the queue");
    // clock-skew's seven nodes share them evenly.
    let skew = queue_share("clock-skew");
    assert!(skew < 0.3, "clock-skew aims {skew:.2} of its clock steps at the queue");
}

#[test]
fn the_fault_plan_does_not_shift_the_load() {
    // The same seed with and without faults draws the same load: the client's first requests are identical.
    let with_faults =
        baseline_with("[[script]]\nat = \"1s\"\nkind = \"pause\"\ntarget = \"worker-2\"\nduration = \"1s\"");
    let first_acks = |result: &sim::world::RunResult| -> Vec<String> {
        result
            .trace
            .iter()
            .filter_map(|r| match &r.event {
                TraceEvent::Harness(HarnessEvent::ClientAcked { env, entity, request, .. }) => {
                    Some(format!("{env}/{entity}#{request}"))
                }
                _ => None,
            })
            .collect()
    };
    let mut a = first_acks(&run_seed(&scenario("baseline"), 8));
    let mut b = first_acks(&run_seed(&with_faults, 8));
    a.sort();
    b.sort();
    assert_eq!(a, b, "the same requests, whatever the faults");
}

/// Partitions and latency act beneath the system: traffic sent by a plain madsim endpoint, which never touches the
/// system's RPC layer or its link shaping, is dropped by isolation, splits and cuts, and delayed by a network
/// latency spike, exactly as the system's own traffic is. Loss (network-wide or per node) and per-node or per-link
/// delay are decided by the link layer, which the system's transport seam (the only way system code can send,
/// by clippy) and the harness's own actors both pass: deciding loss before a message is sent is what lets madsim's
/// count of delivered messages be split exactly between the system and the observers.
#[test]
fn faults_beneath_the_system_reach_a_plain_madsim_endpoint() {
    simulate(|| async {
        let mini = Mini::new().await;
        let t0 = Instant::now();
        mini.inject(vec![
            spec("at = \"1s\"\nkind = \"loss\"\ntarget = \"network\"\nloss_percent = 100\nduration = \"1s\""),
            spec("at = \"3s\"\nkind = \"isolate\"\ntarget = \"b\"\nduration = \"1s\""),
            spec("at = \"5s\"\nkind = \"split\"\ngroup = [\"a\"]\nduration = \"1s\""),
            spec("at = \"7s\"\nkind = \"cut\"\nfrom = \"a\"\nto = \"b\"\nduration = \"1s\""),
            spec("at = \"9s\"\nkind = \"latency\"\ntarget = \"network\"\nlatency = \"200ms\"\nduration = \"2s\""),
        ]);
        let (ok, quick) = mini.plain_ping("a", "b").await;
        assert!(ok.is_ok() && quick < ms(100), "before any fault: {ok:?} in {quick:?}");
        sleep_until(t0 + ms(1_100)).await;
        let before = mini.received("b");
        assert_eq!(mini.outside_ping("a", "b").await, None, "network loss drops an outside actor's call");
        assert_eq!(mini.received("b"), before, "network loss: the request reached b");
        for (at, what, from, to) in
            [(3_100, "isolation", "a", "b"), (5_100, "split", "a", "c"), (7_100, "cut", "a", "b")]
        {
            sleep_until(t0 + ms(at)).await;
            let before = mini.received(to);
            let (result, _) = mini.plain_ping(from, to).await;
            assert!(result.is_err(), "{what}: the plain call got through");
            assert_eq!(mini.received(to), before, "{what}: the request reached {to}");
        }
        sleep_until(t0 + ms(9_100)).await;
        let (ok, slow) = mini.plain_ping("a", "b").await;
        assert!(ok.is_ok() && slow >= ms(400), "a latency spike delays both directions: {slow:?}");
        sleep_until(t0 + ms(11_500)).await;
        let (ok, quick) = mini.plain_ping("a", "b").await;
        assert!(ok.is_ok() && quick < ms(100), "healed: {quick:?}");
    });
}

/// `duplicate`: the network delivers a copy of a request again, later: the receiver gets it twice, the second
/// time after the delay (here after it restarted, as a late copy can).
#[test]
fn a_duplicated_request_reaches_its_receiver_twice() {
    simulate(|| async {
        let mini = Mini::new().await;
        mini.inject(vec![spec(
            "at = \"0s\"\nkind = \"duplicate\"\ntarget = \"b\"\nduplicate_percent = 100\ndelay = \"2s\"\nduration = \"1s\"",
        )]);
        sleep(ms(100)).await;
        let before = mini.received("b");
        assert!(mini.ping("a", "b").await.0.is_ok());
        assert_eq!(mini.received("b"), before + 1, "the request itself");
        sleep(ms(2_500)).await;
        assert_eq!(mini.received("b"), before + 2, "and its copy, up to 2 s later");
        // Healed: no more copies.
        sleep(ms(1_000)).await;
        let healed = mini.received("b");
        assert!(mini.ping("a", "b").await.0.is_ok());
        sleep(ms(3_000)).await;
        assert_eq!(mini.received("b"), healed + 1);
    });
}

/// The simulated time a fault that waits for its moment met it (its mark's first hit).
fn moment(result: &sim::world::RunResult, mark: &str) -> Duration {
    result.marks.get(mark).and_then(|hits| hits.times.first().copied()).unwrap_or_else(|| panic!("{mark} not met"))
}

#[test]
fn a_pause_while_leased_stops_a_worker_that_holds_a_lease() {
    let paused = baseline_with(
        "[[script]]\nat = \"10s\"\nkind = \"pause-while-leased\"\ntarget = \"worker-1\"\nduration = \"8s\"",
    );
    let result = run_seed(&paused, 3);
    assert!(result.outcome.passed(), "{:#?}", result.outcome.violations);
    let at = moment(&result, sim::marks::MOMENT_LEASE_HELD);
    assert!(at >= safety_start(&result.trace) + Duration::from_secs(10));
    // The worker held a lease at that moment: granted before it, and neither completed nor expired by then.
    let mut held = std::collections::BTreeSet::new();
    for r in result.trace.iter().filter(|r| r.at <= at) {
        match &r.event {
            TraceEvent::System(Event::JobLeased { token, worker, .. }) if worker == "worker-1" => {
                held.insert(*token);
            }
            TraceEvent::System(Event::JobCompleted { token, .. } | Event::LeaseExpired { token, .. }) => {
                held.remove(token);
            }
            _ => {}
        }
    }
    assert!(!held.is_empty(), "worker-1 held no lease when it was paused");
    // Paused for the rest of the fault: it renders nothing until the fault ends.
    let end = safety_start(&result.trace) + Duration::from_secs(18);
    let rendered = |from: Duration, to: Duration| {
        result
            .trace
            .iter()
            .filter(|r| &*r.node == "worker-1" && r.at > from && r.at < to)
            .filter(|r| matches!(r.event, TraceEvent::System(Event::JobRendered { .. })))
            .count()
    };
    assert_eq!(rendered(at + ms(1), end), 0, "a paused worker rendered");
    assert!(rendered(end, end + Duration::from_secs(5)) > 0, "worker-1 resumed after the fault");
    // Its leases ran out while it could not know.
    assert!(result.outcome.stats.leases_expired > 0);
}

#[test]
fn a_crash_after_ack_crashes_a_node_right_after_it_answered() {
    for (target, acked) in [("ingest-1", "ingest-acked"), ("store", "")] {
        let crashed = baseline_with(&format!(
            "[[script]]\nat = \"10s\"\nkind = \"crash-after-ack\"\ntarget = \"{target}\"\nduration = \"2s\""
        ));
        let result = run_seed(&crashed, 4);
        assert!(result.outcome.passed(), "{target}: {:#?}", result.outcome.violations);
        let at = moment(&result, sim::marks::MOMENT_AFTER_ACK);
        let crash = result
            .trace
            .iter()
            .find(|r| matches!(&r.event, TraceEvent::Harness(HarnessEvent::NodeCrashed { node, .. }) if node == target))
            .expect("the node crashed");
        assert_eq!(crash.at, at, "{target}: it crashed at the moment");
        if !acked.is_empty() {
            // The last thing the node did before it died was to answer an ingest, within one poll of the moment.
            let last = result
                .trace
                .iter()
                .filter(|r| &*r.node == target && r.at <= at)
                .rfind(|r| matches!(r.event, TraceEvent::System(Event::IngestAcked { .. })))
                .expect("an ingest answered before the crash");
            assert!(at - last.at <= ms(1), "{target}: answered at {:?}, crashed at {at:?}", last.at);
        }
    }
}

#[test]
fn a_cut_during_views_lets_a_batch_land_and_loses_its_answer() {
    let cut = baseline_with(
        "[[script]]\nat = \"10s\"\nkind = \"cut-during-views\"\ntarget = \"worker-1\"\nduration = \"3s\"",
    );
    let result = run_seed(&cut, 5);
    assert!(result.outcome.passed(), "{:#?}", result.outcome.violations);
    let at = moment(&result, sim::marks::MOMENT_VIEWS_IN_FLIGHT);
    let end = safety_start(&result.trace) + Duration::from_secs(13);
    let during = |node: &str, event: fn(&Event) -> bool| {
        result
            .trace
            .iter()
            .filter(|r| &*r.node == node && r.at > at && r.at < end)
            .filter(|r| matches!(&r.event, TraceEvent::System(e) if event(e)))
            .count()
    };
    // The store took the views the worker sent after the moment, and the worker heard nothing back until the
    // cut healed.
    assert!(during("store", |e| matches!(e, Event::ViewWritten { .. } | Event::ViewWriteRefused { .. })) > 0);
    assert_eq!(during("worker-1", |e| matches!(e, Event::ViewsSubmitted { .. })), 0, "an answer got through");
}
