//! The real disk ([`system::real::FileDisk`]) on a temporary folder: what a reopened log holds after appends,
//! syncs, truncation, compaction, a full folder, and a process killed with SIGKILL in the middle of its writes.

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::pin::pin;
use std::process::{Command, Stdio};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use system::disk::{Disk, DiskError};
use system::log;
use system::real::{FileDisk, FileDiskOptions, COMPACT_FILE};

/// The file disk does its work when called: its futures are ready at the first poll.
fn ready<T>(future: impl Future<Output = T>) -> T {
    fn clone(_: *const ()) -> RawWaker {
        RawWaker::new(std::ptr::null(), &VTABLE)
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    // SAFETY: every function of the table ignores the (null) data pointer.
    let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };
    match pin!(future).poll(&mut Context::from_waker(&waker)) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("a file disk's future was not ready at once"),
    }
}

/// What the writer appends: numbered records, and snapshots that stand for every record below a number.
#[derive(Serialize, Deserialize, Debug)]
enum Rec {
    Item(u64, Vec<u8>),
    Snapshot(u64),
}

/// The numbers a log's records cover, in order: a snapshot covers `0..upto`.
fn covered(bytes: &[u8]) -> (Vec<u64>, Option<(log::Damage, u64)>) {
    let recovery = log::decode::<Rec>(bytes);
    let mut numbers = Vec::new();
    for rec in recovery.ops {
        match rec {
            Rec::Snapshot(upto) => numbers.extend(0..upto),
            Rec::Item(n, _) => numbers.push(n),
        }
    }
    (numbers, recovery.damage)
}

#[test]
fn appends_survive_a_reopen_and_truncate_and_compaction_keep_what_they_promise() {
    let dir = tempfile::tempdir().unwrap();
    let disk = FileDisk::open(dir.path()).unwrap();
    let frames: Vec<Vec<u8>> = (0..10).map(|n| log::encode(&Rec::Item(n, vec![n as u8; 100]))).collect();
    for frame in &frames[..6] {
        disk.append(frame).unwrap();
    }
    ready(disk.sync()).unwrap();
    assert_eq!(covered(&disk.read().unwrap()).0, (0..6).collect::<Vec<_>>());

    // Compaction replaces the first four records with one snapshot and keeps the rest.
    let upto: u64 = frames[..4].iter().map(|f| f.len() as u64).sum();
    ready(disk.compact(upto, log::encode(&Rec::Snapshot(4)))).unwrap();
    disk.append(&frames[6]).unwrap();
    ready(disk.sync()).unwrap();
    drop(disk);
    assert!(!dir.path().join(COMPACT_FILE).exists(), "a completed compaction leaves no temporary file");

    let disk = FileDisk::open(dir.path()).unwrap();
    let bytes = disk.read().unwrap();
    assert_eq!(covered(&bytes), ((0..7).collect::<Vec<_>>(), None));
    // Truncate drops a tail durably; the next append lands after the cut.
    let cut = bytes.len() as u64 - frames[6].len() as u64;
    disk.truncate(cut).unwrap();
    disk.append(&frames[7]).unwrap();
    ready(disk.sync()).unwrap();
    drop(disk);
    let disk = FileDisk::open(dir.path()).unwrap();
    assert_eq!(covered(&disk.read().unwrap()), (vec![0, 1, 2, 3, 4, 5, 7], None));
}

#[test]
fn a_compaction_cut_short_before_its_rename_leaves_the_old_log_whole() {
    let dir = tempfile::tempdir().unwrap();
    let disk = FileDisk::open(dir.path()).unwrap();
    for n in 0..3 {
        disk.append(&log::encode(&Rec::Item(n, vec![1; 10]))).unwrap();
    }
    ready(disk.sync()).unwrap();
    drop(disk);
    // A crash between writing the new file and renaming it: the new file is there, half written.
    std::fs::write(dir.path().join(COMPACT_FILE), &log::encode(&Rec::Snapshot(3))[..5]).unwrap();
    let disk = FileDisk::open(dir.path()).unwrap();
    assert!(!dir.path().join(COMPACT_FILE).exists(), "the interrupted compaction's file is removed on open");
    assert_eq!(covered(&disk.read().unwrap()), (vec![0, 1, 2], None));
}

#[test]
fn a_full_folder_refuses_the_append_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let frame = log::encode(&Rec::Item(0, vec![0; 100]));
    // Room for two and a half records.
    let limit = Some(frame.len() as u64 * 5 / 2);
    let disk = FileDisk::open_with(dir.path(), FileDiskOptions { limit, ..FileDiskOptions::default() }).unwrap();
    disk.append(&frame).unwrap();
    disk.append(&frame).unwrap();
    assert_eq!(disk.append(&frame), Err(DiskError::Full));
    ready(disk.sync()).unwrap();
    assert_eq!(disk.read().unwrap().len(), 2 * frame.len(), "the refused append left no bytes behind");
}

/// The child of the kill test: writes records (and compacts now and then) until it is killed, printing the
/// number of every record whose sync has returned. Run only by that test, which sets the folder.
#[test]
#[ignore = "the child process of a_process_killed_mid_append_keeps_every_record_whose_sync_returned"]
fn writer_until_killed() {
    let Some(dir) = std::env::var_os("FILE_DISK_WRITER_DIR") else {
        return;
    };
    let write_buffer = std::env::var_os("FILE_DISK_WRITE_BUFFER").is_some();
    let disk =
        FileDisk::open_with(Path::new(&dir), FileDiskOptions { write_buffer, ..FileDiskOptions::default() }).unwrap();
    let payload = vec![0xab; 48 * 1024];
    // The file is a snapshot (none at first) followed by the frames of the records after it.
    let mut snapshot_len = 0u64;
    let mut tail: Vec<u64> = Vec::new();
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for n in 0..1_000_000u64 {
        let frame = log::encode(&Rec::Item(n, payload.clone()));
        tail.push(frame.len() as u64);
        disk.append(&frame).unwrap();
        ready(disk.sync()).unwrap();
        writeln!(out, "synced {n}").unwrap();
        out.flush().unwrap();
        if n % 16 == 15 {
            // Everything is durable: fold all but the last four records into a snapshot.
            let folded = tail.len() - 4;
            let upto = snapshot_len + tail[..folded].iter().sum::<u64>();
            let snapshot = log::encode(&Rec::Snapshot(n + 1 - 4));
            snapshot_len = snapshot.len() as u64;
            ready(disk.compact(upto, snapshot)).unwrap();
            tail.drain(..folded);
        }
    }
}

#[test]
fn a_process_killed_mid_append_keeps_every_record_whose_sync_returned() {
    // Rounds 0 to 2 append through the OS, 3 to 5 through the write buffer.
    for round in 0..6u32 {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(std::env::current_exe().unwrap());
        if round >= 3 {
            command.env("FILE_DISK_WRITE_BUFFER", "1");
        }
        let mut child = command
            .args(["writer_until_killed", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env("FILE_DISK_WRITER_DIR", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut last = None;
        // Kill at a different point each round, some while a compaction is likely under way.
        let kill_after = 40 + 23 * u64::from(round % 3);
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("synced ") {
                last = Some(n.parse::<u64>().unwrap());
                if last == Some(kill_after) {
                    break;
                }
            }
        }
        // Child::kill sends SIGKILL on Unix: no destructor, no flush, no chance to finish the write under way.
        child.kill().unwrap();
        child.wait().unwrap();
        // Lines the child printed before it died: each is a sync that returned.
        for line in lines {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("synced ") {
                last = Some(n.parse::<u64>().unwrap());
            }
        }
        let last = last.expect("the writer synced at least one record");
        let disk = FileDisk::open(dir.path()).unwrap();
        let (numbers, damage) = covered(&disk.read().unwrap());
        assert!(
            numbers.len() as u64 > last,
            "round {round}: sync returned for record {last}, the reopened log covers only {} records ({damage:?})",
            numbers.len()
        );
        assert_eq!(numbers, (0..numbers.len() as u64).collect::<Vec<_>>(), "round {round}: records out of order");
    }
}

#[test]
fn with_a_write_buffer_what_was_not_synced_is_gone_after_a_kill_as_after_a_power_cut() {
    let dir = tempfile::tempdir().unwrap();
    let options = FileDiskOptions { write_buffer: true, ..FileDiskOptions::default() };
    let disk = FileDisk::open_with(dir.path(), options).unwrap();
    disk.append(&log::encode(&Rec::Item(0, vec![1; 10]))).unwrap();
    ready(disk.sync()).unwrap();
    disk.append(&log::encode(&Rec::Item(1, vec![1; 10]))).unwrap();
    // The process sees its own unsynced append...
    assert_eq!(covered(&disk.read().unwrap()).0, vec![0, 1]);
    // ...and a process that dies without syncing leaves only what was synced (a dropped disk is a dead process:
    // nothing flushes the buffer).
    drop(disk);
    let disk = FileDisk::open_with(dir.path(), options).unwrap();
    assert_eq!(covered(&disk.read().unwrap()), (vec![0], None));
    // A compaction keeps the buffer pending: it becomes durable with the next sync, after the snapshot.
    let first = log::encode(&Rec::Item(0, vec![1; 10])).len() as u64;
    disk.append(&log::encode(&Rec::Item(1, vec![2; 10]))).unwrap();
    ready(disk.compact(first, log::encode(&Rec::Snapshot(1)))).unwrap();
    ready(disk.sync()).unwrap();
    drop(disk);
    assert_eq!(covered(&FileDisk::open(dir.path()).unwrap().read().unwrap()), (vec![0, 1], None));
}
