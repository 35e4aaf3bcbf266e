//! Writing result files: atomically (a reader never sees half a file: a temporary file beside the target,
//! renamed over it), checked for writability before a long run starts, and without overwriting what another
//! sweep saved.

use std::io::Write;
use std::path::Path;

/// A temporary file beside `dir`'s target holding `text`, readable as an ordinary file is (a temporary file is
/// made private, and a renamed one would stay so).
fn staged(dir: &Path, text: &str) -> std::io::Result<tempfile::NamedTempFile> {
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(tmp)
}

/// Writes a file so that a reader never sees half of it.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = parent(path);
    std::fs::create_dir_all(dir)?;
    let tmp = staged(dir, text)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Writes a new file atomically; if `path` already exists it is left alone and `Ok(false)` is returned. Two
/// sweeps saving into one folder never overwrite each other's files.
pub fn write_new(path: &Path, text: &str) -> std::io::Result<bool> {
    let dir = parent(path);
    std::fs::create_dir_all(dir)?;
    let tmp = staged(dir, text)?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(true),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e.error),
    }
}

/// Checks, before a long run, that a result file can be written at `path`: its folder exists or can be made,
/// a file can be created in it, and `path` is not a folder. Nothing is left behind but the folder.
pub fn check_writable_file(path: &Path) -> Result<(), String> {
    if path.is_dir() {
        return Err(format!("{} is a folder; give a file name", path.display()));
    }
    check_writable_dir(parent(path)).map_err(|e| format!("{} cannot be written: {e}", path.display()))
}

/// Checks that files can be created in `dir` (made if missing).
pub fn check_writable_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create folder {}: {e}", dir.display()))?;
    tempfile::NamedTempFile::new_in(dir).map(drop).map_err(|e| format!("cannot create files in {}: {e}", dir.display()))
}

fn parent(path: &Path) -> &Path {
    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}
