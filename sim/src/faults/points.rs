//! Fault points in the simulation: the harness's side of `system::points`. Per run, each point is switched on
//! or off (by the scenario's list, or from the seed), and a point switched on fires with a probability per call
//! of its own (1–25%, from the seed). Every point draws from a stream of its own, so switching one off (as
//! shrinking does) leaves the others' draws alone, and a run without points draws nothing. Each firing hits the
//! point's coverage mark: a sweep reports how often each fired. Like every fault, points steer what the system
//! does; they never decide a verdict.

use super::Points;
use crate::branch::{Stream, Streams};
use crate::trace::Recorder;
use rand::Rng;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use system::points::{FaultPoints, Point};

/// The highest per-call firing probability of a point, in percent.
const FIRE_PERCENT_MAX: u64 = 25;

/// The points of one run.
pub struct SimPoints {
    /// Points switched on: the percent of calls they fire at, and their stream.
    on: BTreeMap<Point, (u64, Mutex<Stream>)>,
    recorder: Arc<Recorder>,
}

/// Which points are on for a run, and the percent of calls each fires at: a function of the spec and the seed.
pub fn resolve(spec: &Points, streams: &Streams) -> Vec<(Point, u64)> {
    let mut switch = streams.stream_named("points", "switch");
    let mut on = Vec::new();
    for &point in Point::ALL {
        // Both draws for every point, whatever the spec, so that one point's rate does not depend on which others
        // are listed.
        let seeded_on = switch.gen_bool(0.5);
        let percent = switch.gen_range(1..=FIRE_PERCENT_MAX);
        let is_on = match spec {
            Points::Seeded(all) => *all && seeded_on,
            Points::Listed(list) => list.contains(&point),
        };
        if is_on {
            on.push((point, percent));
        }
    }
    on
}

impl SimPoints {
    /// The points of this run (see [`resolve`]), each with its own stream.
    pub fn new(spec: &Points, streams: &Streams, recorder: Arc<Recorder>) -> SimPoints {
        let on = resolve(spec, streams)
            .into_iter()
            .map(|(point, percent)| (point, (percent, Mutex::new(streams.stream_named("points", point.name())))))
            .collect();
        SimPoints { on, recorder }
    }

    /// The points switched on, in order, with the percent of calls each fires at.
    pub fn switched_on(&self) -> Vec<(Point, u64)> {
        self.on.iter().map(|(point, (percent, _))| (*point, *percent)).collect()
    }
}

impl FaultPoints for SimPoints {
    fn fire(&self, point: Point) -> bool {
        let Some((percent, rng)) = self.on.get(&point) else { return false };
        let fires = rng.lock().expect("points lock").gen_range(0..100) < *percent;
        if fires {
            self.recorder.harness_mark(point.mark());
        }
        fires
    }

    fn is_on(&self, point: Point) -> bool {
        self.on.contains_key(&point)
    }
}
