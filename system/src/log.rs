//! The write-ahead log every durable service keeps on its [`Disk`]: framed, checksummed records, group commit,
//! recovery of the longest valid prefix, and compaction.
//!
//! A service decides a change under its state lock, appends the change here (a cheap write to the page cache)
//! and applies it, and answers only once [`DurableLog::durable`] says a sync covers it. One committer task
//! syncs whatever has accumulated, so many writers share one sync (group commit) and a crash can fall between
//! a write and its sync. A read answers only once everything it could have seen is durable, so no client ever
//! sees a state a crash could take back.
//!
//! Each record is framed as `length (u32 LE) | crc32 of length and payload (u32 LE) | payload (bincode)`. On
//! boot the log keeps the longest prefix of whole records whose checksums match and cuts the rest off before
//! appending again; a record after a damaged one is never used, so the log stays a prefix of what was written.
//! The cut is synced before the first new record: an unsynced truncate may be undone by a crash, and the old
//! tail would then lie beneath the new records, where an old whole record could line up after a new one.
//! A failed sync is never retried as if it had worked (the cached writes it covered may be gone): every write
//! since the last good sync counts as lost, their requests go unanswered, and the service rebuilds its state
//! from what the disk really holds.

use crate::disk::{Disk, DiskError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Bytes of a record's header: its length and its checksum.
const HEADER: usize = 8;
/// The largest record a log writes; a header claiming more is damage. A compaction snapshot is one record, so this
/// bounds a service's state: far above what any scenario's limits allow (`INGESTS_PER_RUN_MAX`, entity counts).
pub const RECORD_MAX: usize = 1 << 30;
/// Failed syncs remembered. A waiter learns of the failure that lost its write as soon as it happens, so only
/// a waiter that slept through this many failures could be answered wrongly.
const LOST_RANGES_MAX: usize = 256;

/// Frames one record. The record is serialized in place after room for its header, which is filled in after.
pub fn encode<Op: Serialize + ?Sized>(op: &Op) -> Vec<u8> {
    let mut frame = vec![0u8; HEADER];
    bincode::serialize_into(&mut frame, op).expect("log records are plain data and always serialize");
    let size = frame.len() - HEADER;
    assert!(size <= RECORD_MAX, "a log record of {size} bytes is over the limit");
    let len = (size as u32).to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len);
    crc.update(&frame[HEADER..]);
    frame[..4].copy_from_slice(&len);
    frame[4..HEADER].copy_from_slice(&crc.finalize().to_le_bytes());
    frame
}

/// A borrowed state that serializes exactly as a log's `Op::Snapshot(Box<State>)` variant would, so that
/// compaction can frame the state where it lies instead of copying it first. `index` must be the variant's
/// position in its enum; each service's tests compare the two encodings.
pub struct SnapshotVariant<T> {
    pub log_op: &'static str,
    pub index: u32,
    pub value: T,
}

impl<T: Serialize> Serialize for SnapshotVariant<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_variant(self.log_op, self.index, "Snapshot", &self.value)
    }
}

/// What was wrong with the end of a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    /// The file ends inside a record: a write the crash cut short.
    Torn,
    /// A record whose checksum does not match, or that does not decode.
    Corrupt,
}

/// What a log held when it was opened.
#[derive(Debug)]
pub struct Recovery<Op> {
    /// The records of the longest valid prefix, in order.
    pub ops: Vec<Op>,
    /// The length of that prefix.
    pub valid_bytes: u64,
    /// What ended the prefix early, and how many bytes after it were cut off.
    pub damage: Option<(Damage, u64)>,
    /// How many reads (or truncates) of the file failed before one succeeded.
    pub read_errors: u32,
}

/// Reads the longest valid prefix of a log.
pub fn decode<Op: DeserializeOwned>(bytes: &[u8]) -> Recovery<Op> {
    let mut ops = Vec::new();
    let mut at = 0;
    let damage = loop {
        let rest = &bytes[at..];
        if rest.is_empty() {
            break None;
        }
        if rest.len() < HEADER {
            break Some(Damage::Torn);
        }
        let len = u32::from_le_bytes(rest[0..4].try_into().expect("four bytes")) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("four bytes"));
        if len > RECORD_MAX {
            break Some(Damage::Corrupt);
        }
        if rest.len() < HEADER + len {
            break Some(Damage::Torn);
        }
        let payload = &rest[HEADER..HEADER + len];
        let mut check = crc32fast::Hasher::new();
        check.update(&rest[0..4]);
        check.update(payload);
        if check.finalize() != crc {
            break Some(Damage::Corrupt);
        }
        match bincode::deserialize(payload) {
            Ok(op) => ops.push(op),
            Err(_) => break Some(Damage::Corrupt),
        }
        at += HEADER + len;
    };
    Recovery { ops, valid_bytes: at as u64, damage: damage.map(|d| (d, (bytes.len() - at) as u64)), read_errors: 0 }
}

/// Whether a whole record (a frame whose checksum matches) starts anywhere in `bytes` at or after `from`. Only the
/// flaw `hole-taken-for-corruption` asks: a correct log never reads past damage.
fn whole_record_after(bytes: &[u8], from: usize) -> bool {
    (from..bytes.len().saturating_sub(HEADER)).any(|at| {
        let rest = &bytes[at..];
        let len = u32::from_le_bytes(rest[0..4].try_into().expect("four bytes")) as usize;
        if len == 0 || len > RECORD_MAX || rest.len() < HEADER + len {
            return false;
        }
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("four bytes"));
        let mut check = crc32fast::Hasher::new();
        check.update(&rest[0..4]);
        check.update(&rest[HEADER..HEADER + len]);
        check.finalize() == crc
    })
}

/// Reports what opening a log found wrong with its end.
pub fn report_damage(ctx: &crate::node::NodeContext, damage: Option<(Damage, u64)>) {
    report_damage_and_retries(ctx, damage, 0);
}

/// [`report_damage`], and the reads that failed before the log could be read.
pub fn report_damage_and_retries(ctx: &crate::node::NodeContext, damage: Option<(Damage, u64)>, read_errors: u32) {
    if read_errors > 0 {
        ctx.mark(crate::marks::LOG_READ_RETRIED);
        ctx.emit(crate::events::Event::LogReadRetried { failed: read_errors });
    }
    let Some((damage, cut_bytes)) = damage else { return };
    let (mark, name) = match damage {
        Damage::Torn => (crate::marks::LOG_TORN_TAIL, "torn"),
        Damage::Corrupt => (crate::marks::LOG_CORRUPT_RECORD, "corrupt"),
    };
    ctx.mark(mark);
    ctx.emit(crate::events::Event::LogDamaged { damage: name, cut_bytes });
}

/// What a handler decided: its answer and the log position that must be durable before the answer may leave,
/// or nothing if its change could not be logged (the disk refused it) and the request must go unanswered.
pub type Decided<T> = Option<(T, Ticket)>;

/// Sends a handler's answer once its log position is durable (at once if `early`, which only a flaw asks for).
/// A request whose change the disk refused, or whose change a failed sync lost, is never answered: to its caller
/// that is a lost reply, which every caller already survives by retrying (every write is idempotent), and no
/// client is ever told of a change that a crash could take back.
pub async fn answer<Op: Serialize + DeserializeOwned, T>(log: &DurableLog<Op>, decided: Decided<T>, early: bool) -> T {
    let Some((reply, ticket)) = decided else { return std::future::pending().await };
    if !early && log.durable(ticket).await.is_err() {
        return std::future::pending().await;
    }
    reply
}

/// A service's committer, forever: group commits, and after each failed sync `rebuild`, which must take the
/// service's state lock, call [`DurableLog::recover_after_failure`] under it, rebuild the state from the records,
/// and return how many there were and what damage the read found.
pub async fn keep_committing<Op: Serialize + DeserializeOwned>(
    ctx: &crate::node::NodeContext,
    log: &DurableLog<Op>,
    lazy: Option<std::time::Duration>,
    rebuild: impl Fn() -> (usize, Option<(Damage, u64)>, u32),
) {
    loop {
        let error = log.commit_lazily(lazy).await;
        let (ops, damage, read_errors) = rebuild();
        ctx.mark(crate::marks::LOG_SYNC_FAILED);
        ctx.emit(crate::events::Event::SyncFailed { error: error.to_string(), ops });
        report_damage_and_retries(ctx, damage, read_errors);
    }
}

/// A booting node's first wait after a failed read of its log, and the longest (the wait doubles).
const BOOT_READ_BACKOFF_MIN: std::time::Duration = std::time::Duration::from_millis(10);
const BOOT_READ_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(1);
/// A running node's reads of its own log in a row that may fail before it stops. Transient errors pass long
/// before this; a disk that fails this many is not coming back.
const REREAD_ATTEMPTS_MAX: u32 = 1_000;

/// How often a service checks whether its log has grown enough to compact.
const COMPACT_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// Compacts a service's log forever, whenever it has doubled. `snapshot` takes the service's state lock and
/// returns its whole state as one record together with the log position it stands for.
pub async fn keep_compacted<Op: Serialize + DeserializeOwned>(
    ctx: &crate::node::NodeContext,
    log: &DurableLog<Op>,
    snapshot: impl Fn() -> (Vec<u8>, Ticket),
) {
    loop {
        madsim::time::sleep(COMPACT_CHECK_INTERVAL).await;
        // Fault point: compact now, although the log has not doubled (a compaction of any size is correct).
        if !log.wants_compaction(ctx.config.log_compact_bytes) && !ctx.fire(crate::points::Point::EarlyCompaction) {
            continue;
        }
        let (frame, upto) = snapshot();
        let before = log.bytes();
        let in_place = ctx.config.flaws.has(crate::flaws::Flaw::CompactionInPlace);
        ctx.mark(crate::marks::LOG_COMPACTION_STARTED);
        if let Ok(snapshot_bytes) = log.compact_framed_with(frame, upto, in_place).await {
            ctx.mark(crate::marks::LOG_COMPACTED);
            ctx.emit(crate::events::Event::LogCompacted { before, snapshot: snapshot_bytes, after: log.bytes() });
        }
    }
}

/// A position in the log: everything appended up to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// Records appended since the log was opened, up to and including this one.
    lsn: u64,
    /// The file's length just after it.
    offset: u64,
}

/// The writes up to a ticket can never be durable: a sync failed. The request must not be acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lost;

struct Inner {
    appended: u64,
    synced: u64,
    /// The file's length as this process wrote it.
    bytes: u64,
    /// The length right after opening or the last compaction: the log compacts when it has doubled.
    base_bytes: u64,
    compacting: bool,
    /// Ranges of records `(after, through]` that a failed sync lost.
    lost: VecDeque<(u64, u64)>,
}

/// A service's write-ahead log of `Op`s.
pub struct DurableLog<Op> {
    disk: Arc<dyn Disk>,
    inner: Mutex<Inner>,
    /// Wakes every waiter whenever `synced` or `lost` changes. (Not `tokio::sync::watch`: it picks which of its
    /// notifiers to use with a per-thread random number, so its wake-up order would not follow the seed.)
    changed: Notify,
    /// Wakes the committer when there is something to sync.
    work: Notify,
    _op: PhantomData<fn(Op) -> Op>,
}

impl<Op: Serialize + DeserializeOwned> DurableLog<Op> {
    /// Opens the log on a booting node: keeps the longest valid prefix and cuts any damaged tail off, durably, so
    /// that new records never follow garbage. A read or a cut that fails is tried again, backing off, for as long as
    /// it takes: a node that cannot read its whole log does not serve.
    pub async fn open(disk: Arc<dyn Disk>) -> (Self, Recovery<Op>) {
        Self::open_with(disk, &crate::flaws::Flaws::none()).await
    }

    /// [`Self::open`] for a service that may have flaws switched on (the flaws `hole-taken-for-corruption` and
    /// `unreadable-log-started-afresh` are the log's own).
    pub async fn open_with(disk: Arc<dyn Disk>, flaws: &crate::flaws::Flaws) -> (Self, Recovery<Op>) {
        let holes_fatal = flaws.has(crate::flaws::Flaw::HoleTakenForCorruption);
        let afresh = flaws.has(crate::flaws::Flaw::UnreadableLogStartedAfresh);
        let mut backoff = BOOT_READ_BACKOFF_MIN;
        let mut read_errors = 0u32;
        let mut recovery = loop {
            match Self::try_read_valid(&*disk, holes_fatal) {
                Ok(recovery) => break recovery,
                Err(_) if afresh => {
                    // The flaw: the file is emptied and the node boots as a new one would. The cut is tried until
                    // it holds, so that what follows is at least a consistent (empty) log.
                    read_errors = read_errors.saturating_add(1);
                    let mut backoff = BOOT_READ_BACKOFF_MIN;
                    while disk.truncate(0).is_err() || disk.sync().await.is_err() {
                        madsim::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(BOOT_READ_BACKOFF_MAX);
                    }
                    break Recovery { ops: Vec::new(), valid_bytes: 0, damage: None, read_errors: 0 };
                }
                Err(_) => {
                    read_errors = read_errors.saturating_add(1);
                    madsim::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BOOT_READ_BACKOFF_MAX);
                }
            }
        };
        if recovery.damage.is_some() {
            // The cut must be durable before anything is appended after it (see the module's comment). A sync that
            // fails is tried again: nothing is cached yet, so a failure loses nothing.
            let mut backoff = BOOT_READ_BACKOFF_MIN;
            while disk.sync().await.is_err() {
                madsim::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BOOT_READ_BACKOFF_MAX);
            }
        }
        recovery.read_errors = read_errors;
        let inner = Inner {
            appended: 0,
            synced: 0,
            bytes: recovery.valid_bytes,
            base_bytes: recovery.valid_bytes,
            compacting: false,
            lost: VecDeque::new(),
        };
        let log = DurableLog {
            disk,
            inner: Mutex::new(inner),
            changed: Notify::new(),
            work: Notify::new(),
            _op: PhantomData,
        };
        (log, recovery)
    }

    /// Reads the valid prefix and cuts a damaged tail off, or fails having read nothing (and cut nothing, or cut
    /// only damage: a retry finds the same prefix).
    /// `holes_fatal` is the flaw `hole-taken-for-corruption`.
    fn try_read_valid(disk: &dyn Disk, holes_fatal: bool) -> Result<Recovery<Op>, DiskError> {
        let bytes = disk.read()?;
        let recovery = decode(&bytes);
        if holes_fatal && recovery.damage.is_some() {
            assert!(
                !whole_record_after(&bytes, recovery.valid_bytes as usize + 1),
                "the log is corrupt before its end (a damaged record at byte {} is followed by whole records): \
                 refusing to start",
                recovery.valid_bytes
            );
        }
        if recovery.damage.is_some() {
            disk.truncate(recovery.valid_bytes)?;
        }
        Ok(recovery)
    }

    /// [`Self::try_read_valid`] in a running process, which cannot wait while it holds its state lock: tried
    /// again at once, up to [`REREAD_ATTEMPTS_MAX`] times. A disk that fails every one of them is gone, and the
    /// node stops (fail-stop, as PostgreSQL does on an fsync error) rather than guess its own state.
    fn read_valid_now(disk: &dyn Disk) -> Recovery<Op> {
        let mut read_errors = 0u32;
        loop {
            match Self::try_read_valid(disk, false) {
                Ok(mut recovery) => {
                    recovery.read_errors = read_errors;
                    return recovery;
                }
                Err(error) => {
                    read_errors += 1;
                    assert!(
                        read_errors < REREAD_ATTEMPTS_MAX,
                        "the log could not be read {REREAD_ATTEMPTS_MAX} times in a row ({error}): stopping"
                    );
                }
            }
        }
    }

    /// Appends a record to the cache. The caller applies the change only if this succeeds, and answers only
    /// after [`DurableLog::durable`] for the ticket.
    pub fn append(&self, op: &Op) -> Result<Ticket, DiskError> {
        let frame = encode(op);
        let mut inner = self.inner.lock().expect("log lock");
        self.disk.append(&frame)?;
        inner.appended += 1;
        inner.bytes += frame.len() as u64;
        let ticket = Ticket { lsn: inner.appended, offset: inner.bytes };
        drop(inner);
        self.work.notify_one();
        Ok(ticket)
    }

    /// A ticket for everything appended so far: what a reader waits for before answering with what it saw.
    pub fn position(&self) -> Ticket {
        let inner = self.inner.lock().expect("log lock");
        Ticket { lsn: inner.appended, offset: inner.bytes }
    }

    /// Waits until every record up to `ticket` is durable, or returns [`Lost`] if a failed sync lost it.
    pub async fn durable(&self, ticket: Ticket) -> Result<(), Lost> {
        loop {
            // Registered before the check, so that a change between the check and the wait is not missed.
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            {
                let inner = self.inner.lock().expect("log lock");
                if inner.lost.iter().any(|&(after, through)| ticket.lsn > after && ticket.lsn <= through) {
                    return Err(Lost);
                }
                if inner.synced >= ticket.lsn {
                    return Ok(());
                }
            }
            changed.await;
        }
    }

    /// The committer: syncs whatever has been appended, one sync at a time, so that every writer waiting
    /// meanwhile shares the next one. Returns when a sync fails; the service must then call
    /// [`DurableLog::recover_after_failure`] under its state lock and start the committer again.
    pub async fn commit(&self) -> DiskError {
        self.commit_lazily(None).await
    }

    /// [`DurableLog::commit`], waiting `delay` after work arrives before each sync (only a flaw asks for this:
    /// a group commit on a timer, like PostgreSQL with `synchronous_commit = off`).
    pub async fn commit_lazily(&self, delay: Option<std::time::Duration>) -> DiskError {
        loop {
            loop {
                {
                    let inner = self.inner.lock().expect("log lock");
                    if inner.appended > inner.synced {
                        break;
                    }
                }
                self.work.notified().await;
            }
            if let Some(delay) = delay {
                madsim::time::sleep(delay).await;
            }
            let (target, sync) = {
                let inner = self.inner.lock().expect("log lock");
                // The disk fixes the covered range when `sync` is called, under this lock: nothing appended after
                // `target` is taken for synced.
                (inner.appended, self.disk.sync())
            };
            match sync.await {
                Ok(()) => {
                    let mut inner = self.inner.lock().expect("log lock");
                    inner.synced = inner.synced.max(target);
                    drop(inner);
                    self.changed.notify_waiters();
                }
                Err(error) => return error,
            }
        }
    }

    /// After a failed sync: every record not known to be durable is lost (its waiters get [`Lost`]), and the
    /// log is read back from the disk. The service must rebuild its state from the returned records, holding
    /// its state lock so that nothing is appended meanwhile.
    pub fn recover_after_failure(&self) -> Recovery<Op> {
        let mut inner = self.inner.lock().expect("log lock");
        let lost = (inner.synced, inner.appended);
        if lost.1 > lost.0 {
            inner.lost.push_back(lost);
            if inner.lost.len() > LOST_RANGES_MAX {
                inner.lost.pop_front();
            }
        }
        // Positions taken from now on lie past every lost record: what they see is rebuilt from the disk.
        inner.appended += 1;
        inner.synced = inner.appended;
        let recovery = Self::read_valid_now(&*self.disk);
        inner.bytes = recovery.valid_bytes;
        drop(inner);
        self.changed.notify_waiters();
        recovery
    }

    /// Whether the log has grown enough to be worth compacting: to `min_bytes`, and to twice its size after the
    /// last compaction (so that a large state is not rewritten over and over).
    pub fn wants_compaction(&self, min_bytes: u64) -> bool {
        let inner = self.inner.lock().expect("log lock");
        !inner.compacting && inner.bytes >= min_bytes.max(inner.base_bytes.saturating_mul(2))
    }

    /// Replaces the records up to `upto` with `snapshot`, a record that stands for all of them. The caller
    /// takes the snapshot and the ticket under its state lock, at the same moment. Records after `upto`,
    /// including ones appended while this runs, are kept. A crash meanwhile leaves the old log.
    pub async fn compact(&self, snapshot: &Op, upto: Ticket) -> Result<u64, DiskError> {
        self.compact_framed(encode(snapshot), upto).await
    }

    /// [`DurableLog::compact`] with the snapshot already framed by [`encode`]; the frame must decode as an `Op`.
    pub async fn compact_framed(&self, frame: Vec<u8>, upto: Ticket) -> Result<u64, DiskError> {
        self.compact_framed_with(frame, upto, false).await
    }

    /// [`Self::compact_framed`]; `in_place` is the flaw `compaction-in-place`.
    async fn compact_framed_with(&self, frame: Vec<u8>, upto: Ticket, in_place: bool) -> Result<u64, DiskError> {
        {
            let mut inner = self.inner.lock().expect("log lock");
            if inner.compacting {
                return Err(DiskError::Interrupted);
            }
            inner.compacting = true;
        }
        let result = self.compact_inner(frame, upto, in_place).await;
        let mut inner = self.inner.lock().expect("log lock");
        inner.compacting = false;
        if let Ok(snapshot_bytes) = result {
            // A failed sync meanwhile re-read the file, whose durable part still holds everything up to `upto`.
            inner.bytes = inner.bytes.saturating_sub(upto.offset) + snapshot_bytes;
            inner.base_bytes = inner.bytes;
        }
        result
    }

    async fn compact_inner(&self, frame: Vec<u8>, upto: Ticket, in_place: bool) -> Result<u64, DiskError> {
        // Only a durable prefix may be replaced: the snapshot must not stand for a write a sync may still lose.
        self.durable(upto).await.map_err(|Lost| DiskError::SyncFailed)?;
        let len = frame.len() as u64;
        if in_place {
            // The flaw: rewrite the file where it lies (cut it, write the snapshot and the tail, sync) instead of
            // writing a new file and renaming it over the old one. Until the sync returns, nothing is durable.
            let mut bytes = frame;
            let file = self.disk.read()?;
            bytes.extend_from_slice(file.get(upto.offset as usize..).unwrap_or_default());
            self.disk.truncate(0)?;
            self.disk.append(&bytes)?;
            self.disk.sync().await?;
            return Ok(len);
        }
        self.disk.compact(upto.offset, frame).await?;
        Ok(len)
    }

    /// Everything the disk holds for this log, as a booting node would read it, without changing anything:
    /// for a service that changed its state and then could not log the change, to go back to what its log says.
    pub fn reread(&self) -> Vec<Op> {
        let mut attempts = 0u32;
        loop {
            match self.disk.read() {
                Ok(bytes) => return decode(&bytes).ops,
                Err(error) => {
                    attempts += 1;
                    assert!(
                        attempts < REREAD_ATTEMPTS_MAX,
                        "the log could not be read {REREAD_ATTEMPTS_MAX} times in a row ({error}): stopping"
                    );
                }
            }
        }
    }

    /// The file's length as this process wrote it.
    pub fn bytes(&self) -> u64 {
        self.inner.lock().expect("log lock").bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_reads_back_every_whole_record_and_stops_at_damage() {
        let mut bytes = Vec::new();
        for n in 0..5u32 {
            bytes.extend(encode(&n));
        }
        let whole: Recovery<u32> = decode(&bytes);
        assert_eq!(whole.ops, [0, 1, 2, 3, 4]);
        assert_eq!(whole.damage, None);

        let torn: Recovery<u32> = decode(&bytes[..bytes.len() - 1]);
        assert_eq!(torn.ops, [0, 1, 2, 3]);
        assert_eq!(torn.damage, Some((Damage::Torn, 11)));

        let mut flipped = bytes.clone();
        flipped[12 * 2 + 9] ^= 0x10;
        let corrupt: Recovery<u32> = decode(&flipped);
        assert_eq!(corrupt.ops, [0, 1], "records after a corrupt one are never used");
        assert_eq!(corrupt.damage.map(|d| d.0), Some(Damage::Corrupt));
    }
}
