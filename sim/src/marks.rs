//! Coverage marks: the system's own (`system::marks`), and the moments only the harness can see, because they
//! happen to the medium beneath the system rather than in it.

/// The harness's marks, with what each means.
pub const HARNESS: &[(&str, &str)] = &[
    (CRASH_BEFORE_SYNC, "a node crashed with writes cached and not yet synced (a crash between write and sync)"),
    (CRASH_DURING_COMPACTION, "a node crashed while its log's compaction was in flight"),
];

pub const CRASH_BEFORE_SYNC: &str = "disk.crash-before-sync";
pub const CRASH_DURING_COMPACTION: &str = "disk.crash-during-compaction";

/// Every mark a scenario may require: the system's, then the harness's.
pub fn all() -> impl Iterator<Item = (&'static str, &'static str)> {
    system::marks::ALL.iter().chain(HARNESS).copied()
}

pub fn is_known(name: &str) -> bool {
    all().any(|(n, _)| n == name)
}
