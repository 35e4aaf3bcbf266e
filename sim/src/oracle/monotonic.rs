//! Monotonic views: a view never goes back to an older version of its source (or an older schema of the same
//! source). Checked on every write the store reported, not only on the final state, so that a regression that
//! was later repaired is still caught.

use super::history::History;
use crate::outcome::{Violation, ViolationKind};

pub fn check(history: &History, found: &mut Vec<Violation>) {
    for (key, writes) in &history.view_writes {
        for pair in writes.windows(2) {
            let (before, after) = (&pair[0], &pair[1]);
            if (after.source_version, after.schema_version) <= (before.source_version, before.schema_version) {
                found.push(
                    Violation::new(
                        ViolationKind::ViewRegressed,
                        format!(
                            "view went from {} schema-v{} (written at {:.3}s) to {} schema-v{}",
                            before.source_version,
                            before.schema_version,
                            before.at.as_secs_f64(),
                            after.source_version,
                            after.schema_version
                        ),
                    )
                    .at(&key.env, &key.entity, Some(&key.schema))
                    .versions(Some(before.source_version.0), Some(after.source_version.0))
                    .at_ms(after.at.as_millis() as u64),
                );
            }
        }
    }
}
