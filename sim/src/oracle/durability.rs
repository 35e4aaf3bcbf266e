//! Durability: an ingest acknowledged to its client is never lost, whatever happened afterwards. At the end the
//! store must hold that version of the entity (with the acknowledged content) or a newer one.

use super::history::History;
use crate::load::Ack;
use crate::outcome::{Violation, ViolationKind};
use crate::world::FinalState;

pub fn check(history: &History, acks: &[Ack], state: &FinalState, found: &mut Vec<Violation>) {
    for ack in acks {
        let source = state.envs.get(&ack.env).and_then(|env| env.sources.get(&ack.entity));
        let problem = match source {
            None => Some(("the store has no source for the entity at all".to_string(), None)),
            Some(s) if s.version < ack.version => {
                Some((format!("the store went back to {}", s.version), Some(s.version.0)))
            }
            Some(s) if s.version == ack.version && s.payload != ack.payload => Some((
                format!("the store holds {} with other content than was acknowledged", s.version),
                Some(s.version.0),
            )),
            Some(_) => None,
        };
        if let Some((what, actual)) = problem {
            let stored = history
                .stored_ms(&ack.env, &ack.entity, ack.version)
                .map_or("never reported stored".to_string(), |ms| format!("stored at {:.3}s", ms as f64 / 1e3));
            found.push(
                Violation::new(
                    ViolationKind::LostIngest,
                    format!(
                        "request {} was acknowledged as {} at {:.3}s ({stored}); {what}",
                        ack.request,
                        ack.version,
                        ack.at.as_secs_f64()
                    ),
                )
                .at(&ack.env, &ack.entity, None)
                .versions(Some(ack.version.0), actual)
                .at_ms(ack.at.as_millis() as u64),
            );
        }
    }
}
