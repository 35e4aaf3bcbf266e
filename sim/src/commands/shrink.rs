//! `cargo sim shrink FILE`: make a failing seed file as small as it can be while it fails the same way.

use super::bad_input;
use crate::report::files::write_atomically;
use crate::{seedfile, shrink};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub fn shrink(file: &str, output: Option<PathBuf>, stop: Arc<AtomicBool>) -> u8 {
    let path = Path::new(file);
    let original = match seedfile::load(path) {
        Ok(f) => f,
        Err(e) => return bad_input(e),
    };
    crate::errln!("shrinking {} (signature `{}`) ...", path.display(), original.seed.signature);
    let shrunk = shrink::shrink(&original, path, &stop);
    let out = output.unwrap_or_else(|| path.to_path_buf());
    if let Err(e) = write_atomically(&out, &shrunk.file.to_toml(&out)) {
        return bad_input(format!("could not write {}: {e}", out.display()));
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
