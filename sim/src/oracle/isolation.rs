//! Isolation: a view of environment A is made only from environment A's data. Every view read at the end must
//! name its own environment, entity and schema, must not carry another environment's site, and when it is at
//! the newest source and schema its content must be exactly what that source renders to.

use crate::outcome::{Violation, ViolationKind};
use crate::world::FinalState;

/// The source field in which every load client writes its environment's name, as a page names its site.
const SITE_FIELD: &str = "site";

pub fn check(state: &FinalState, found: &mut Vec<Violation>) {
    for (env, env_state) in &state.envs {
        for (entity, views) in &env_state.views {
            for (schema, view) in views {
                let mut breach = |what: String, actual: u64| {
                    found.push(
                        Violation::new(ViolationKind::IsolationBreach, what)
                            .at(env, entity, Some(schema))
                            .versions(env_state.sources.get(entity).map(|s| s.version.0), Some(actual)),
                    )
                };
                if &view.env != env || &view.entity != entity || &view.schema != schema {
                    breach(
                        format!("view says it is {}/{}/{}", view.env, view.entity, view.schema),
                        view.source_version.0,
                    );
                    continue;
                }
                if let Some(site) = view.fields.get(SITE_FIELD).filter(|site| *site != env) {
                    breach(format!("view carries site `{site}`, another environment's data"), view.source_version.0);
                    continue;
                }
                let (Some(source), Some(def)) = (env_state.sources.get(entity), env_state.schemas.get(schema)) else {
                    continue;
                };
                if (view.source_version, view.schema_version) > (source.version, def.version) {
                    breach(
                        format!(
                            "view claims {} schema-v{}, newer than the store's {} schema-v{}",
                            view.source_version, view.schema_version, source.version, def.version
                        ),
                        view.source_version.0,
                    );
                } else if (view.source_version, view.schema_version) == (source.version, def.version)
                    && view.fields != def.render(&source.payload)
                {
                    breach(
                        format!("view content {:?} is not what its source renders to", view.fields),
                        view.source_version.0,
                    );
                }
            }
        }
    }
}
