//! `cargo sim shrink FILE`: make a failing seed file as small as it can be while it fails the same way. The input
//! is never overwritten unless asked (`--in-place`); a seed that no longer fails is said so (exit 1), and nothing
//! is written.

use super::bad_input;
use crate::report::files::{check_writable_file, write_atomically};
use crate::{seedfile, shrink, sweep, world};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Where the shrunk file goes without `--output` or `--in-place`: beside the input, `<name>.shrunk.toml`.
pub fn beside(path: &Path) -> PathBuf {
    let stem = path.file_stem().map_or_else(|| "seed".into(), |s| s.to_string_lossy().to_string());
    path.with_file_name(format!("{stem}.shrunk.toml"))
}

pub fn shrink(file: &str, output: Option<PathBuf>, in_place: bool, stop: Arc<AtomicBool>) -> u8 {
    let path = Path::new(file);
    let original = match seedfile::load(path) {
        Ok(f) => f,
        Err(e) => return bad_input(e),
    };
    let out = match (output, in_place) {
        (Some(out), _) => out,
        (None, true) => path.to_path_buf(),
        (None, false) => beside(path),
    };
    if let Err(e) = check_writable_file(&out) {
        return bad_input(format!("--output: {e}"));
    }
    // The seed must still fail as saved: shrinking a seed that passes would keep nothing.
    let replay = world::run_seed(&original.to_loaded(path), original.seed.seed);
    let now = sweep::signature(&replay.outcome);
    if now.as_deref() != Some(original.seed.signature.as_str()) {
        crate::errln!(
            "error: {} does not fail as saved (`{}`): it now {}; nothing to shrink, nothing written",
            path.display(),
            original.seed.signature,
            now.map_or("passes".to_string(), |sig| format!("fails as `{sig}`"))
        );
        return super::EXIT_FAIL;
    }
    crate::errln!("shrinking {} (fingerprint `{}`) ...", path.display(), original.seed.signature);
    let shrunk = shrink::shrink(&original, path, &stop);
    if let Err(e) = write_atomically(&out, &shrunk.file.to_toml(&out)) {
        crate::errln!("error: could not write {}: {e}", out.display());
        return super::EXIT_OUTPUT_LOST;
    }
    crate::outln!("before: {}", shrunk.before);
    crate::outln!("after:  {}", shrunk.after);
    crate::outln!(
        "{} replays · written to {} · replay: cargo sim repro {}",
        shrunk.replays,
        out.display(),
        out.display()
    );
    0
}
