//! Monotonic reads: a reader never sees a view go back to a strictly older (source version, schema version).
//! Judged on every read the readers made during the run, followed by the final reading, so that a regression
//! that was later repaired is still caught. Seeing the same versions again (a rewrite of an identical view) is
//! not a regression.

use super::history::History;
use crate::outcome::{Violation, ViolationKind};
use crate::readers::Read;
use crate::world::FinalState;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use system::model::{Name, Version, View, ViewKey};

pub fn check(reads: &[Read], state: Option<&FinalState>, history: &History, found: &mut Vec<Violation>) {
    // The newest (source version, schema version) seen of each view so far, and when.
    let mut newest: BTreeMap<ViewKey, ((Version, u64), Option<Duration>)> = BTreeMap::new();
    let mut reported: BTreeSet<ViewKey> = BTreeSet::new();
    let mut see = |env: &Name, entity: &Name, view: &View, at: Option<Duration>| {
        let key = ViewKey { env: env.clone(), entity: entity.clone(), schema: view.schema.clone() };
        let rank = (view.source_version, view.schema_version);
        match newest.get(&key) {
            Some(&(before, before_at)) if rank < before => {
                if reported.insert(key.clone()) {
                    let when = |t: Option<Duration>| {
                        t.map_or("in the final reading".to_string(), |t| format!("at {:.3}s", t.as_secs_f64()))
                    };
                    let mut v = Violation::new(
                        ViolationKind::ViewRegressed,
                        format!(
                            "a reader saw {} schema-v{} {}, then {} schema-v{} {}; {}",
                            before.0,
                            before.1,
                            when(before_at),
                            rank.0,
                            rank.1,
                            when(at),
                            history.explain(&key)
                        ),
                    )
                    .at(env, entity, Some(&view.schema))
                    .versions(Some(before.0 .0), Some(rank.0 .0));
                    if let Some(at) = at {
                        v = v.at_ms(at.as_millis() as u64);
                    }
                    found.push(v);
                }
            }
            Some(&(before, _)) if rank == before => {}
            _ => {
                newest.insert(key, (rank, at));
            }
        }
    };
    for read in reads {
        for view in &read.views {
            see(&read.env, &read.entity, view, Some(read.at));
        }
    }
    if let Some(state) = state {
        for (env, env_state) in &state.envs {
            for (entity, views) in &env_state.views {
                for view in views.values() {
                    see(env, entity, view, None);
                }
            }
        }
    }
}
