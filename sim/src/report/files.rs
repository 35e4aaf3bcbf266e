//! Writing result files: a regular file atomically (a reader never sees half a file: a temporary file beside the
//! target, renamed over it); anything else written through as it is (`-` is standard output; a device such as
//! `/dev/null`, a FIFO, stays what it is); a symlink is followed, so its target gets the file. Checked for
//! writability before a long run starts (its folder must exist: a typo in a path is an error, not a new folder),
//! and never overwriting what another sweep saved.

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

/// Links followed at most (a loop of links is an error, as the OS says).
const LINKS_MAX: usize = 40;

/// Where writing to `path` really writes: the file at the end of its chain of symlinks.
fn resolve(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let mut at = path.to_path_buf();
    for _ in 0..LINKS_MAX {
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                let next = std::fs::read_link(&at)?;
                at = if next.is_absolute() { next } else { parent(&at).join(next) };
            }
            _ => return Ok(at),
        }
    }
    Err(std::io::Error::other(format!("{}: too many levels of symbolic links", path.display())))
}

/// Whether `path` is standard output.
pub fn is_stdout(path: &Path) -> bool {
    path == Path::new("-")
}

/// Writes an output: `-` to standard output, a device or FIFO through, a symlink's target, a regular file so that
/// a reader never sees half of it.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    if is_stdout(path) {
        crate::out!("{text}");
        return Ok(());
    }
    let target = resolve(path)?;
    match std::fs::metadata(&target) {
        Ok(m) if m.is_dir() => {
            return Err(std::io::Error::other(format!("{} is a folder", target.display())));
        }
        Ok(m) if !m.is_file() => {
            // A device or a FIFO: written through; renaming over it would replace it with a regular file.
            let mut file = std::fs::OpenOptions::new().write(true).open(&target)?;
            return file.write_all(text.as_bytes());
        }
        _ => {}
    }
    let dir = parent(&target);
    std::fs::create_dir_all(dir)?;
    let tmp = staged(dir, text)?;
    tmp.persist(&target).map_err(|e| e.error)?;
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

/// Checks, before a long run, that a result file can be written at `path`: `-` (standard output); a device or a
/// FIFO that can be opened for writing; or a file whose folder exists (a typo in a folder is an error here, not a
/// new folder) and lets a file be created in it. `path` may not be a folder. Nothing is left behind.
pub fn check_writable_file(path: &Path) -> Result<(), String> {
    if is_stdout(path) {
        return Ok(());
    }
    let target = resolve(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match std::fs::metadata(&target) {
        Ok(m) if m.is_dir() => return Err(format!("{} is a folder; give a file name", path.display())),
        Ok(m) if !m.is_file() => {
            return std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .map(drop)
                .map_err(|e| format!("{} cannot be written: {e}", path.display()));
        }
        _ => {}
    }
    let dir = parent(&target);
    if !dir.is_dir() {
        return Err(format!(
            "{} cannot be written: the folder {} does not exist (create it first, or check the path for a typo)",
            path.display(),
            dir.display()
        ));
    }
    tempfile::NamedTempFile::new_in(dir)
        .map(drop)
        .map_err(|e| format!("{} cannot be written: cannot create files in {}: {e}", path.display(), dir.display()))
}

/// Checks that files can be created in `dir` (made if missing).
pub fn check_writable_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create folder {}: {e}", dir.display()))?;
    tempfile::NamedTempFile::new_in(dir).map(drop).map_err(|e| format!("cannot create files in {}: {e}", dir.display()))
}

fn parent(path: &Path) -> &Path {
    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}
