//! Durable storage as the system sees it: one append-only file of bytes, written through a page cache.
//!
//! This is the interface the system owns and whoever runs a node implements. It is deliberately as weak as a
//! real file: appends land in a cache and are durable only once a later [`Disk::sync`] has completed; a sync
//! takes time and can fail; the disk can be full; and after a crash the file may end in a torn or corrupted
//! record. What the system builds on top of it (framing, checksums, group commit, recovery of the longest
//! valid prefix, compaction) lives in [`crate::log`], where the harness cannot help it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

/// A future a disk returns; it borrows the disk.
pub type DiskFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a disk operation can fail with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskError {
    /// No room left: nothing was written.
    Full,
    /// A sync reported an error. As with `fsync` on Linux, the cached writes it covered may or may not have
    /// reached the medium, and a later sync will not retry them: nothing appended since the last successful sync
    /// may be assumed durable, ever.
    SyncFailed,
    /// The node restarted while the operation was in flight.
    Interrupted,
    /// A read or a truncate failed (an I/O error): nothing was read, nothing changed. Transient: the same call
    /// may succeed when tried again.
    Io,
}

impl std::fmt::Display for DiskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DiskError::Full => "disk full",
            DiskError::SyncFailed => "sync failed",
            DiskError::Interrupted => "interrupted by a restart",
            DiskError::Io => "I/O error",
        })
    }
}

/// One append-only file.
pub trait Disk: Send + Sync {
    /// Appends bytes to the file's cache. They are durable only after a sync that started after this call
    /// completes.
    fn append(&self, bytes: &[u8]) -> Result<(), DiskError>;
    /// Makes every byte appended before this call durable. The covered range is fixed when this is called, not
    /// when the future is first polled.
    fn sync(&self) -> DiskFuture<'_, Result<(), DiskError>>;
    /// The whole file as a booting process reads it (including what it appended itself and has not synced), or
    /// an error and nothing: a read never returns part of the file.
    fn read(&self) -> Result<Vec<u8>, DiskError>;
    /// Cuts the file to `len` bytes, durably (used to drop a damaged tail before appending again), or fails and
    /// changes nothing.
    fn truncate(&self, len: u64) -> Result<(), DiskError>;
    /// Compaction: atomically replaces the file's first `upto` bytes, which must be durable, with `prefix`
    /// (written to a new file, synced and renamed over the old one). Bytes after `upto`, including ones
    /// appended while this runs, are kept. A crash before it completes leaves the old file as it was.
    fn compact(&self, upto: u64, prefix: Vec<u8>) -> DiskFuture<'_, Result<(), DiskError>>;
}

/// A file that never fails and is always durable, for running the system outside a simulation.
#[derive(Default)]
pub struct MemDisk {
    bytes: Mutex<Vec<u8>>,
}

impl Disk for MemDisk {
    fn append(&self, bytes: &[u8]) -> Result<(), DiskError> {
        self.bytes.lock().expect("disk lock").extend_from_slice(bytes);
        Ok(())
    }

    fn sync(&self) -> DiskFuture<'_, Result<(), DiskError>> {
        Box::pin(async { Ok(()) })
    }

    fn read(&self) -> Result<Vec<u8>, DiskError> {
        Ok(self.bytes.lock().expect("disk lock").clone())
    }

    fn truncate(&self, len: u64) -> Result<(), DiskError> {
        self.bytes.lock().expect("disk lock").truncate(len as usize);
        Ok(())
    }

    fn compact(&self, upto: u64, prefix: Vec<u8>) -> DiskFuture<'_, Result<(), DiskError>> {
        let mut bytes = self.bytes.lock().expect("disk lock");
        let tail = bytes.split_off(upto as usize);
        *bytes = prefix;
        bytes.extend(tail);
        Box::pin(async { Ok(()) })
    }
}
