//! Durability, and newest wins as the client sees it: a write acknowledged to its client is never lost, and
//! the entity ends up with the content of the client's last acknowledged write or of a write it sent after that
//! one, never an older content that a late retry or a replay brought back.
//!
//! Judged from the clients' records and the final reading only:
//! - two acknowledgements of one version with different contents: one of the writes was lost;
//! - an acknowledgement that says "superseded" although the client had sent no later write by then;
//! - an acknowledged entity without a source, at a lower version than acknowledged, with other content than
//!   acknowledged under that version, or with content older (in the client's order) than the last
//!   acknowledged write.

use super::history::History;
use crate::load::WriteOutcome;
use crate::model::Model;
use crate::outcome::{Violation, ViolationKind};
use crate::world::FinalState;
use std::collections::BTreeMap;
use system::model::Version;

fn secs(d: std::time::Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// Checks the replies alone: they must be consistent with each other and with what the clients sent.
pub fn check_replies(model: &Model, found: &mut Vec<Violation>) {
    for (env, env_model) in &model.envs {
        for (entity, writes) in &env_model.entities {
            let mut by_version: BTreeMap<Version, &crate::load::Write> = BTreeMap::new();
            for w in writes {
                if let Some(version) = w.acked_version() {
                    match by_version.get(&version) {
                        Some(other) if other.payload != w.payload => found.push(
                            Violation::new(
                                ViolationKind::LostIngest,
                                format!(
                                    "requests {} and {} were both acknowledged as {version} with different contents: \
                                     one of the two writes was lost",
                                    other.request, w.request
                                ),
                            )
                            .at(env, entity, None)
                            .versions(Some(version.0), Some(version.0))
                            .at_ms(w.acked_at().unwrap_or_default().as_millis() as u64),
                        ),
                        Some(_) => {}
                        None => {
                            by_version.insert(version, w);
                        }
                    }
                }
                if let WriteOutcome::Acked { version, superseded: true, at } = w.outcome {
                    if !writes.iter().any(|later| later.seq > w.seq && later.sent_at <= at) {
                        found.push(
                            Violation::new(
                                ViolationKind::LostIngest,
                                format!(
                                    "request {} was acknowledged at {} as superseded by a later write, but the client \
                                     had sent no later write of the entity by then: its content was dropped",
                                    w.request,
                                    secs(at)
                                ),
                            )
                            .at(env, entity, None)
                            .versions(None, Some(version.0))
                            .at_ms(at.as_millis() as u64),
                        );
                    }
                }
            }
        }
    }
}

/// Checks the final reading against the clients' acknowledged writes.
pub fn check(model: &Model, state: &FinalState, history: &History, found: &mut Vec<Violation>) {
    for (env, env_model) in &model.envs {
        for entity in env_model.entities.keys() {
            let Some(last) = model.last_acked(env, entity) else { continue };
            let acked_at = last.acked_at().unwrap_or_default();
            let highest_acked = model.writes(env, entity).iter().filter_map(|w| w.acked_version()).max();
            let source = state.envs.get(env).and_then(|e| e.sources.get(entity));
            let lost = |what: String, expected: Option<u64>, actual: Option<u64>| {
                Violation::new(
                    ViolationKind::LostIngest,
                    format!(
                        "request {} (write #{} of the entity) was acknowledged at {}; {what}; {}",
                        last.request,
                        last.seq,
                        secs(acked_at),
                        history.explain_entity(env, entity)
                    ),
                )
                .at(env, entity, None)
                .versions(expected, actual)
                .at_ms(acked_at.as_millis() as u64)
            };
            let Some(source) = source else {
                found.push(lost(
                    "the store has no source for the entity at all".into(),
                    highest_acked.map(|v| v.0),
                    None,
                ));
                continue;
            };
            if let Some(highest) = highest_acked.filter(|v| source.version < *v) {
                found.push(lost(
                    format!("the store went back to {} although {highest} was acknowledged", source.version),
                    Some(highest.0),
                    Some(source.version.0),
                ));
                continue;
            }
            if let Some(content) = model.acked_contents(env, entity, source.version).first() {
                if **content != source.payload {
                    found.push(lost(
                        format!("the store holds {} with other content than was acknowledged for it", source.version),
                        Some(source.version.0),
                        Some(source.version.0),
                    ));
                    continue;
                }
            }
            let candidates = model.final_candidates(env, entity);
            if !candidates.iter().any(|w| w.payload == source.payload) {
                let older =
                    model.writes(env, entity).iter().filter(|w| w.payload == source.payload).map(|w| w.seq).max();
                let what = match older {
                    Some(seq) => format!(
                        "the store ends with the content of write #{seq}, which the client sent before it: an older \
                         write came back over a newer one"
                    ),
                    None => "the store ends with content the client never sent".to_string(),
                };
                found.push(lost(what, None, Some(source.version.0)));
            }
        }
    }
}
