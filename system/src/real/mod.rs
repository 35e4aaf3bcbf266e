//! What a real deployment hands a node: the host's wall clock and a disk on a file in a data folder.
//!
//! The services never see these types, only the [`Clock`] and [`Disk`] interfaces the system owns; the simulation
//! hands the same services a skewed clock and a simulated disk. Every line of the services is therefore shared by
//! the simulated and the real variant. Nothing here is used inside a simulation, which is why reading the host's
//! clock is allowed in this module alone.
//!
//! - [`net`]: RPC over TCP, for peers that die and come back (only in the unsimulated build).
//! - [`links`]: network faults at the transport seam, from a rules file (dropping or delaying traffic between
//!   processes would otherwise take root).

pub mod links;
#[cfg(not(madsim))]
pub mod net;

use crate::clock::{Clock, WallMillis};
use crate::disk::{Disk, DiskError, DiskFuture};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The host's wall clock: what `date` says, stepped by NTP and the operator as the host's clock is.
pub struct HostClock;

impl Clock for HostClock {
    fn now(&self) -> WallMillis {
        // A real node reads the real clock: this type is never handed to a node inside a simulation.
        #[allow(clippy::disallowed_methods)]
        let now = std::time::SystemTime::now();
        WallMillis(now.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0))
    }
}

/// The log's file name inside a data folder.
pub const LOG_FILE: &str = "log";
/// The file a compaction writes before it renames it over the log. One left behind is a compaction that a crash
/// interrupted before its rename: the old log is still whole, so the leftover is removed on open.
pub const COMPACT_FILE: &str = "log.compact";

/// A [`Disk`] on a file: appends through the OS's page cache, `sync` as `fdatasync`, compaction by writing a new
/// file, syncing it, renaming it over the log and syncing the folder, as a real write-ahead log must.
///
/// With a write buffer ([`FileDisk::open_with`]), appends stay in the process until the next sync writes them
/// and syncs them at once (one `write` and one `fdatasync` per group commit, as many logs do). A process killed
/// then loses what it had not synced, as a machine that loses power loses its page cache: the live mode uses it
/// so that a SIGKILL is a crash of the whole machine as far as the log can tell.
///
/// Operations run on the caller's thread and hold one lock: a sync blocks its task for as long as the device
/// takes (the log's group commit keeps syncs few), and compaction blocks appends, so nothing appended while it
/// runs can be lost between copying the tail and the rename.
pub struct FileDisk {
    dir: PathBuf,
    options: FileDiskOptions,
    state: Mutex<Open>,
}

/// How a [`FileDisk`] behaves beyond the interface.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileDiskOptions {
    /// The data folder's size limit, if any: an append that would pass it fails with [`DiskError::Full`], as on
    /// a full device (a quota the operator sets, and the way a live run fills a folder without root).
    pub limit: Option<u64>,
    /// Keep appends in the process until the next sync (see above).
    pub write_buffer: bool,
}

struct Open {
    file: File,
    /// Bytes in the file.
    file_len: u64,
    /// Appended, not yet written to the file (only with a write buffer).
    buffer: Vec<u8>,
}

impl Open {
    fn len(&self) -> u64 {
        self.file_len + self.buffer.len() as u64
    }
}

impl FileDisk {
    /// Opens (or creates) the log in `dir`, creating the folder if it is missing.
    pub fn open(dir: &Path) -> io::Result<FileDisk> {
        FileDisk::open_with(dir, FileDiskOptions::default())
    }

    /// [`FileDisk::open`], with a size limit or a write buffer.
    pub fn open_with(dir: &Path, options: FileDiskOptions) -> io::Result<FileDisk> {
        std::fs::create_dir_all(dir)?;
        match std::fs::remove_file(dir.join(COMPACT_FILE)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let file = OpenOptions::new().read(true).append(true).create(true).open(dir.join(LOG_FILE))?;
        // The log's name must survive a crash as well as its bytes.
        sync_dir(dir)?;
        let file_len = file.metadata()?.len();
        Ok(FileDisk { dir: dir.to_path_buf(), options, state: Mutex::new(Open { file, file_len, buffer: Vec::new() }) })
    }

    /// The folder the log lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        // A panic while holding the lock leaves the file as the OS has it, which is all the state there is.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn compact_now(&self, upto: u64, prefix: &[u8]) -> io::Result<()> {
        let mut open = self.lock();
        if upto > open.file_len {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "compaction of bytes not yet durable"));
        }
        let mut tail = Vec::with_capacity((open.file_len - upto) as usize);
        open.file.seek(SeekFrom::Start(upto))?;
        open.file.read_to_end(&mut tail)?;
        let temp = self.dir.join(COMPACT_FILE);
        let mut new = OpenOptions::new().write(true).create(true).truncate(true).open(&temp)?;
        new.write_all(prefix)?;
        new.write_all(&tail)?;
        new.sync_all()?;
        drop(new);
        std::fs::rename(&temp, self.dir.join(LOG_FILE))?;
        sync_dir(&self.dir)?;
        // The old handle names the replaced file: appends must go to the new one. A write buffer stays as it
        // is: what it holds was not durable before the compaction and is not after.
        open.file = OpenOptions::new().read(true).append(true).open(self.dir.join(LOG_FILE))?;
        open.file_len = (prefix.len() + tail.len()) as u64;
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn is_full(e: &io::Error) -> bool {
    // ENOSPC (28) and EDQUOT (122 on Linux): the device or the user's quota is out of room.
    e.kind() == io::ErrorKind::StorageFull || matches!(e.raw_os_error(), Some(28) | Some(122))
}

impl Disk for FileDisk {
    fn append(&self, bytes: &[u8]) -> Result<(), DiskError> {
        let mut open = self.lock();
        if self.options.limit.is_some_and(|limit| open.len() + bytes.len() as u64 > limit) {
            return Err(DiskError::Full);
        }
        if self.options.write_buffer {
            open.buffer.extend_from_slice(bytes);
            return Ok(());
        }
        match open.file.write_all(bytes) {
            Ok(()) => {
                open.file_len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                // A short write leaves part of the record in the file: cut it off, so that a failed append has
                // written nothing, as the interface promises. If even that fails, the log's recovery drops the
                // torn record on the next open.
                let len = open.file_len;
                let _ = open.file.set_len(len);
                Err(if is_full(&e) { DiskError::Full } else { DiskError::Io })
            }
        }
    }

    fn sync(&self) -> DiskFuture<'_, Result<(), DiskError>> {
        // fdatasync covers every write made before it is called, and may cover later ones: the covered range is
        // fixed at the call, as the interface requires, because the call is made here and now.
        let mut open = self.lock();
        let result = (|| {
            if !open.buffer.is_empty() {
                let buffer = std::mem::take(&mut open.buffer);
                let written = open.file.write_all(&buffer);
                if written.is_err() {
                    // As after a failed fsync, nothing since the last good sync may be taken for durable; what
                    // reached the file is cut off again, so that a reader sees only what a sync covered.
                    let len = open.file_len;
                    let _ = open.file.set_len(len);
                    return Err(DiskError::SyncFailed);
                }
                open.file_len += buffer.len() as u64;
            }
            open.file.sync_data().map_err(|_| DiskError::SyncFailed)
        })();
        drop(open);
        Box::pin(async move { result })
    }

    fn read(&self) -> Result<Vec<u8>, DiskError> {
        let mut open = self.lock();
        let mut bytes = Vec::with_capacity(open.len() as usize);
        open.file.seek(SeekFrom::Start(0)).map_err(|_| DiskError::Io)?;
        open.file.read_to_end(&mut bytes).map_err(|_| DiskError::Io)?;
        bytes.truncate(open.file_len as usize);
        bytes.extend_from_slice(&open.buffer);
        Ok(bytes)
    }

    fn truncate(&self, len: u64) -> Result<(), DiskError> {
        let mut open = self.lock();
        if len >= open.file_len {
            let keep = (len - open.file_len) as usize;
            open.buffer.truncate(keep);
            return Ok(());
        }
        open.file.set_len(len).and_then(|()| open.file.sync_data()).map_err(|_| DiskError::Io)?;
        open.file_len = len;
        open.buffer.clear();
        Ok(())
    }

    fn compact(&self, upto: u64, prefix: Vec<u8>) -> DiskFuture<'_, Result<(), DiskError>> {
        let result = self.compact_now(upto, &prefix).map_err(|e| {
            // The rename is the commit point: until it, the old log is whole and in place. A failure before it
            // leaves a temporary file that the next open removes.
            let _ = std::fs::remove_file(self.dir.join(COMPACT_FILE));
            if is_full(&e) {
                DiskError::Full
            } else {
                DiskError::SyncFailed
            }
        });
        Box::pin(async move { result })
    }
}
