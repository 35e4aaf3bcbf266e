//! What a real deployment hands a node: the host's wall clock and a disk on a file in a data folder.
//!
//! The services never see these types, only the [`Clock`] and [`Disk`] interfaces the system owns; the simulation
//! hands the same services a skewed clock and a simulated disk. Every line of the services is therefore shared by
//! the simulated and the real variant. Nothing here is used inside a simulation, which is why reading the host's
//! clock is allowed in this file alone.

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
/// Operations run on the caller's thread and hold one lock: a sync blocks its task for as long as the device
/// takes (the log's group commit keeps syncs few), and compaction blocks appends, so nothing appended while it
/// runs can be lost between copying the tail and the rename.
pub struct FileDisk {
    dir: PathBuf,
    /// The data folder's size limit, if any: an append that would pass it fails with [`DiskError::Full`], as on a
    /// full device (a quota the operator sets, and the way a live run fills a folder without root).
    limit: Option<u64>,
    state: Mutex<Open>,
}

struct Open {
    file: File,
    len: u64,
}

impl FileDisk {
    /// Opens (or creates) the log in `dir`, creating the folder if it is missing.
    pub fn open(dir: &Path) -> io::Result<FileDisk> {
        FileDisk::open_limited(dir, None)
    }

    /// [`FileDisk::open`], with appends refused past `limit` bytes.
    pub fn open_limited(dir: &Path, limit: Option<u64>) -> io::Result<FileDisk> {
        std::fs::create_dir_all(dir)?;
        match std::fs::remove_file(dir.join(COMPACT_FILE)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let file = OpenOptions::new().read(true).append(true).create(true).open(dir.join(LOG_FILE))?;
        // The log's name must survive a crash as well as its bytes.
        sync_dir(dir)?;
        let len = file.metadata()?.len();
        Ok(FileDisk { dir: dir.to_path_buf(), limit, state: Mutex::new(Open { file, len }) })
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
        if upto > open.len {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "compaction past the end of the log"));
        }
        let mut tail = Vec::with_capacity((open.len - upto) as usize);
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
        // The old handle names the replaced file: appends must go to the new one.
        open.file = OpenOptions::new().read(true).append(true).open(self.dir.join(LOG_FILE))?;
        open.len = (prefix.len() + tail.len()) as u64;
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
        if self.limit.is_some_and(|limit| open.len + bytes.len() as u64 > limit) {
            return Err(DiskError::Full);
        }
        match open.file.write_all(bytes) {
            Ok(()) => {
                open.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                // A short write leaves part of the record in the file: cut it off, so that a failed append has
                // written nothing, as the interface promises. If even that fails, the log's recovery drops the
                // torn record on the next open.
                let len = open.len;
                let _ = open.file.set_len(len);
                Err(if is_full(&e) { DiskError::Full } else { DiskError::Io })
            }
        }
    }

    fn sync(&self) -> DiskFuture<'_, Result<(), DiskError>> {
        // fdatasync covers every write made before it is called, and may cover later ones: the covered range is
        // fixed at the call, as the interface requires, because the call is made here and now.
        let result = self.lock().file.sync_data().map_err(|_| DiskError::SyncFailed);
        Box::pin(async move { result })
    }

    fn read(&self) -> Result<Vec<u8>, DiskError> {
        let mut open = self.lock();
        let mut bytes = Vec::with_capacity(open.len as usize);
        open.file.seek(SeekFrom::Start(0)).map_err(|_| DiskError::Io)?;
        open.file.read_to_end(&mut bytes).map_err(|_| DiskError::Io)?;
        Ok(bytes)
    }

    fn truncate(&self, len: u64) -> Result<(), DiskError> {
        let mut open = self.lock();
        open.file.set_len(len).and_then(|()| open.file.sync_data()).map_err(|_| DiskError::Io)?;
        open.len = open.len.min(len);
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
