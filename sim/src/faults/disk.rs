//! The simulated disk: one file behind a page cache, as weak as a real one.
//!
//! Appends land in the cache; a sync takes a seeded latency and then makes durable the bytes cached when it was
//! called. A crash keeps what was durable and, depending on how the node died, none of the cache (`clean`), a
//! prefix of it cut at an arbitrary byte (`torn`: the last record half-written), or a prefix with one bit
//! flipped (`corrupt`). A failed sync drops the cache it covered, as Linux does after an `fsync` error, so a
//! process that retries the sync and carries on has lost data without knowing. A full disk refuses appends and
//! compactions. Compaction writes its new prefix after a latency proportional to its size and installs it
//! atomically; a crash meanwhile leaves the old file. (madsim's own file system keeps unsynced writes across a
//! kill, so the harness models all of this itself.)
//!
//! When the cache writes back in any order (`writeback = "any-order"`), a crash keeps each unsynced write whole,
//! torn at a sector boundary, or not at all, and a truncate of synced bytes is itself only durable at the next
//! sync: a crash before it may bring the cut bytes back, beneath whatever writes the cache did keep (a torn
//! truncate, as a file system that had not yet committed the new length).
//!
//! Every draw comes from the disk's own random stream, in the order the node calls it, so a disk's behaviour
//! is a function of the seed.

use super::active::Active;
use crate::branch::Stream;
use rand::Rng;
use std::sync::Mutex;
use std::time::Duration;
use system::disk::{Disk, DiskError, DiskFuture};

/// The fastest and slowest sync of a healthy disk.
const SYNC_LATENCY_MIN: Duration = Duration::from_micros(200);
const SYNC_LATENCY_MAX: Duration = Duration::from_millis(2);
/// The unit a torn write is cut at when the cache writes back in any order.
const SECTOR: usize = 512;

/// Forgets the first `bytes` of cached writes (a sync made them durable).
fn drop_writes(writes: &mut Vec<usize>, mut bytes: usize) {
    while let Some(first) = writes.first_mut() {
        if bytes == 0 {
            break;
        }
        if *first <= bytes {
            bytes -= *first;
            writes.remove(0);
        } else {
            *first -= bytes;
            bytes = 0;
        }
    }
}

/// Keeps the cached writes within the first `bytes` of the cache (a truncate cut the rest).
fn keep_writes(writes: &mut Vec<usize>, bytes: usize) {
    let mut total = 0;
    writes.retain_mut(|len| {
        if total >= bytes {
            return false;
        }
        *len = (*len).min(bytes - total);
        total += *len;
        true
    });
}

/// How fast compaction writes its new file.
const COMPACTION_BYTES_PER_MS: u64 = 100 * 1024;

/// How a crash leaves the bytes the disk had cached but not synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashMode {
    /// All of them lost (a clean power cut between writes).
    Clean,
    /// A prefix kept, cut at an arbitrary byte: a write torn by the crash.
    Torn,
    /// A prefix kept with one bit flipped in it: a write the crash corrupted.
    Corrupt,
}

/// What a crash did to a disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashReport {
    /// Bytes written but not synced when the node died.
    pub cached: u64,
    /// How many of them reached the medium anyway.
    pub kept: u64,
    /// Whether one of the kept bytes had a bit flipped.
    pub flipped: bool,
    /// Whether a compaction was in flight.
    pub compacting: bool,
    /// Whether a truncate that had not yet been synced was undone, its cut bytes back.
    pub untruncated: bool,
}

/// Counts of what the disk did, for statistics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    pub syncs: u64,
    pub failed_syncs: u64,
    pub refused_appends: u64,
    pub compactions: u64,
    pub interrupted_compactions: u64,
    pub failed_reads: u64,
}

struct Medium {
    durable: Vec<u8>,
    cache: Vec<u8>,
    /// The lengths of the appends the cache holds, oldest first: the writes a crash may keep or lose each.
    writes: Vec<usize>,
    /// Whether a crash writes back the cache in any order (each write whole, torn at a sector, or lost) rather
    /// than a prefix of it.
    any_order: bool,
    /// Synced bytes a truncate cut off since the last sync (in any-order mode only): a crash before the next sync
    /// may bring them back. They lie right after `durable`.
    untruncated: Option<Vec<u8>>,
    rng: Stream,
    /// Bumped by every crash: an operation in flight across a crash does nothing.
    boot: u64,
    /// Active faults, counted so that overlapping ones heal in any order.
    full: u32,
    failing_syncs: u32,
    /// Extra sync latency of the active `disk-slow` faults, each fixed or long-tailed (drawn per sync).
    slow: Active<(Duration, bool)>,
    /// The share of reads and truncates that fail (the highest of the active faults').
    read_errors: Active<u64>,
    compacting: bool,
    stats: DiskStats,
}

pub struct SimDisk {
    medium: Mutex<Medium>,
}

impl SimDisk {
    /// An empty disk drawing from `rng`; `any_order`: a crash writes back the cache in any order.
    pub fn new(rng: Stream, any_order: bool) -> Self {
        SimDisk {
            medium: Mutex::new(Medium {
                durable: Vec::new(),
                cache: Vec::new(),
                writes: Vec::new(),
                any_order,
                untruncated: None,
                rng,
                boot: 0,
                full: 0,
                failing_syncs: 0,
                slow: Active::default(),
                read_errors: Active::default(),
                compacting: false,
                stats: DiskStats::default(),
            }),
        }
    }

    fn medium(&self) -> std::sync::MutexGuard<'_, Medium> {
        self.medium.lock().expect("disk lock")
    }

    /// The node died: the cache is lost, kept or damaged as `mode` says.
    pub fn crash(&self, mode: CrashMode) -> CrashReport {
        let mut m = self.medium();
        let m = &mut *m;
        m.boot += 1;
        let cached = m.cache.len();
        let mut report = CrashReport { cached: cached as u64, compacting: m.compacting, ..CrashReport::default() };
        if m.compacting {
            m.stats.interrupted_compactions += 1;
        }
        m.compacting = false;
        if m.any_order {
            return Self::crash_any_order(m, mode, report);
        }
        let keep = match mode {
            CrashMode::Clean => 0,
            CrashMode::Torn if cached > 1 => m.rng.gen_range(1..cached),
            CrashMode::Corrupt if cached > 0 => m.rng.gen_range(1..=cached),
            _ => 0,
        };
        let start = m.durable.len();
        m.durable.extend_from_slice(&m.cache[..keep]);
        if mode == CrashMode::Corrupt && keep > 0 {
            let bit = m.rng.gen_range(0..keep * 8);
            m.durable[start + bit / 8] ^= 1 << (bit % 8);
            report.flipped = true;
        }
        m.cache.clear();
        m.writes.clear();
        report.kept = keep as u64;
        report
    }

    /// A crash of a disk whose page cache writes back in any order: each cached write reaches the medium whole,
    /// torn at a sector boundary (a prefix of its sectors), or not at all, independently. What did not reach it
    /// reads as zeros up to the last byte that did (the file was extended), and the file ends there.
    fn crash_any_order(m: &mut Medium, mode: CrashMode, mut report: CrashReport) -> CrashReport {
        let start = m.durable.len();
        // A truncate not yet synced is lost in half the crashes: the file comes back at its old length, and the
        // writes the cache did keep lie over the old bytes rather than over zeros.
        let base = match m.untruncated.take() {
            Some(cut) if m.rng.gen_bool(0.5) => {
                report.untruncated = true;
                cut
            }
            _ => Vec::new(),
        };
        let mut tail = base.clone();
        tail.resize(base.len().max(m.cache.len()), 0);
        let (mut at, mut end, mut kept) = (0usize, base.len(), 0usize);
        for &len in &m.writes {
            let keep = match m.rng.gen_range(0..3) {
                0 => len,
                1 => {
                    // A torn write ends at a sector boundary of the file, not of the write.
                    let first = (start + at).div_ceil(SECTOR);
                    let last = (start + at + len) / SECTOR;
                    if first > last {
                        0
                    } else {
                        m.rng.gen_range(first..=last) * SECTOR - (start + at)
                    }
                }
                _ => 0,
            };
            tail[at..at + keep].copy_from_slice(&m.cache[at..at + keep]);
            if keep > 0 {
                end = end.max(at + keep);
            }
            kept += keep;
            at += len;
        }
        tail.truncate(end);
        if mode == CrashMode::Corrupt && end > 0 {
            let bit = m.rng.gen_range(0..end * 8);
            tail[bit / 8] ^= 1 << (bit % 8);
            report.flipped = true;
        }
        m.durable.extend_from_slice(&tail);
        m.cache.clear();
        m.writes.clear();
        report.kept = kept as u64;
        report
    }

    /// While on, appends and compactions are refused.
    pub fn set_full(&self, on: bool) {
        let mut m = self.medium();
        m.full = if on { m.full + 1 } else { m.full.saturating_sub(1) };
    }

    /// While on, every sync fails.
    pub fn set_failing_syncs(&self, on: bool) {
        let mut m = self.medium();
        m.failing_syncs = if on { m.failing_syncs + 1 } else { m.failing_syncs.saturating_sub(1) };
    }

    /// While on, every sync takes `extra` longer.
    pub fn set_slow(&self, extra: Duration, tail: bool, on: bool) {
        self.medium().slow.set((extra, tail), on);
    }

    /// Heals every disk fault.
    pub fn heal(&self) {
        let mut m = self.medium();
        m.full = 0;
        m.failing_syncs = 0;
        m.slow.clear();
        m.read_errors.clear();
    }

    /// While on, `percent` of reads and truncates fail (and do nothing).
    pub fn set_read_errors(&self, percent: u64, on: bool) {
        self.medium().read_errors.set(percent, on);
    }

    /// Whether this read or truncate fails: drawn only while a fault is active, so a run without one draws
    /// nothing.
    fn read_fails(m: &mut Medium) -> bool {
        let Some(&percent) = m.read_errors.iter().max() else { return false };
        let fails = m.rng.gen_range(0..100u64) < percent;
        if fails {
            m.stats.failed_reads += 1;
        }
        fails
    }

    /// Bytes written and not yet synced.
    pub fn cached_bytes(&self) -> u64 {
        self.medium().cache.len() as u64
    }

    /// Whether a crash now could tear a write in two: with any-order writeback, a cached write crosses a sector
    /// boundary of the file (sectors are written whole); otherwise, more than one byte is cached.
    pub fn tearable(&self) -> bool {
        let m = self.medium();
        if m.any_order {
            any_tearable(m.durable.len(), &m.writes)
        } else {
            m.cache.len() > 1
        }
    }

    /// Whether a compaction is in flight.
    pub fn compacting(&self) -> bool {
        self.medium().compacting
    }

    pub fn stats(&self) -> DiskStats {
        self.medium().stats
    }

    /// The durable bytes: what a node booting now would find.
    pub fn durable(&self) -> Vec<u8> {
        self.medium().durable.clone()
    }

    fn sync_latency(m: &mut Medium) -> Duration {
        let base = m.rng.gen_range(SYNC_LATENCY_MIN..=SYNC_LATENCY_MAX);
        // Borrowed apart, so that a long tail draws from the stream without a copy of the active faults per sync.
        let Medium { slow, rng, .. } = m;
        slow.iter().fold(base, |total, &(extra, tail)| total + if tail { super::tail_delay(extra, rng) } else { extra })
    }
}

impl Disk for SimDisk {
    fn append(&self, bytes: &[u8]) -> Result<(), DiskError> {
        let mut m = self.medium();
        if m.full > 0 {
            m.stats.refused_appends += 1;
            return Err(DiskError::Full);
        }
        m.cache.extend_from_slice(bytes);
        m.writes.push(bytes.len());
        Ok(())
    }

    fn sync(&self) -> DiskFuture<'_, Result<(), DiskError>> {
        let (covered, boot, latency) = {
            let mut m = self.medium();
            let latency = Self::sync_latency(&mut m);
            (m.cache.len(), m.boot, latency)
        };
        Box::pin(async move {
            madsim::time::sleep(latency).await;
            let mut m = self.medium();
            if m.boot != boot {
                return Err(DiskError::Interrupted);
            }
            m.stats.syncs += 1;
            if m.failing_syncs > 0 {
                // As Linux after an fsync error: the cached pages are dropped, and nothing says which.
                m.stats.failed_syncs += 1;
                m.cache.clear();
                m.writes.clear();
                return Err(DiskError::SyncFailed);
            }
            let m = &mut *m;
            m.untruncated = None;
            let covered = covered.min(m.cache.len());
            m.durable.extend(m.cache.drain(..covered));
            drop_writes(&mut m.writes, covered);
            Ok(())
        })
    }

    fn read(&self) -> Result<Vec<u8>, DiskError> {
        // A running process reads back its own cached writes; only a crash or a failed sync loses them.
        let mut m = self.medium();
        if Self::read_fails(&mut m) {
            return Err(DiskError::Io);
        }
        let mut bytes = m.durable.clone();
        bytes.extend_from_slice(&m.cache);
        Ok(bytes)
    }

    fn truncate(&self, len: u64) -> Result<(), DiskError> {
        let mut m = self.medium();
        if Self::read_fails(&mut m) {
            return Err(DiskError::Io);
        }
        let len = len as usize;
        if len <= m.durable.len() {
            if m.any_order {
                let mut cut = m.durable.split_off(len);
                cut.extend(m.untruncated.take().unwrap_or_default());
                m.untruncated = Some(cut);
            }
            m.durable.truncate(len);
            m.cache.clear();
            m.writes.clear();
        } else {
            let keep = len - m.durable.len();
            m.cache.truncate(keep);
            keep_writes(&mut m.writes, keep);
        }
        Ok(())
    }

    fn compact(&self, upto: u64, prefix: Vec<u8>) -> DiskFuture<'_, Result<(), DiskError>> {
        let (boot, latency) = {
            let mut m = self.medium();
            m.compacting = true;
            let write = Duration::from_millis(1 + prefix.len() as u64 / COMPACTION_BYTES_PER_MS);
            (m.boot, write + Self::sync_latency(&mut m))
        };
        Box::pin(async move {
            madsim::time::sleep(latency).await;
            let mut m = self.medium();
            if m.boot != boot {
                return Err(DiskError::Interrupted);
            }
            m.compacting = false;
            if m.full > 0 {
                m.stats.refused_appends += 1;
                return Err(DiskError::Full);
            }
            if m.failing_syncs > 0 {
                m.stats.failed_syncs += 1;
                return Err(DiskError::SyncFailed);
            }
            let upto = (upto as usize).min(m.durable.len());
            let tail = m.durable.split_off(upto);
            // The new file was renamed over the old one with the folder synced: a truncate of the old is moot.
            m.untruncated = None;
            m.durable = prefix;
            m.durable.extend(tail);
            m.stats.compactions += 1;
            Ok(())
        })
    }
}

/// Whether one of the cached writes (lengths, in order, from file offset `start`) crosses a sector boundary
/// strictly inside it: where a crash can leave a write torn.
fn any_tearable(start: usize, writes: &[usize]) -> bool {
    let mut at = start;
    writes.iter().any(|&len| {
        // A boundary b with at < b < at + len.
        let crosses = len > 1 && (at + len - 1) / SECTOR > at / SECTOR;
        at += len;
        crosses
    })
}
