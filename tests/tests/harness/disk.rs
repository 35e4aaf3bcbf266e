//! Storage faults against the system's write-ahead log (`system::log`) on the simulated disk: for each fault, the
//! state a node recovers is the longest valid prefix of what it wrote, and holds everything it acknowledged.
//!
//! A record is acknowledged here exactly as a service acknowledges a request: when `DurableLog::durable` for its
//! ticket returned `Ok`.

use madsim::time::{sleep, Duration};
use sim::faults::disk::{CrashMode, SimDisk};
use std::sync::Arc;
use system::disk::{Disk, DiskError};
use system::log::{Damage, DurableLog, Lost, Recovery};
use tests::mini::simulate;

type Log = DurableLog<u64>;

/// An empty disk with its own seeded stream.
fn disk(seed: u64) -> Arc<SimDisk> {
    Arc::new(SimDisk::new(sim::branch::Streams::new(seed, &[]).stream("disk-test", 0), false))
}

/// An empty disk whose page cache writes back in any order when the node crashes.
fn any_order_disk(seed: u64) -> Arc<SimDisk> {
    Arc::new(SimDisk::new(sim::branch::Streams::new(seed, &[]).stream("disk-test", 0), true))
}

/// Opens the log on `disk` as a booting node does, and starts its committer.
async fn boot(disk: &Arc<SimDisk>) -> (Arc<Log>, Recovery<u64>) {
    let (log, recovery) = DurableLog::open(disk.clone()).await;
    let log = Arc::new(log);
    let committer = log.clone();
    madsim::task::spawn(async move {
        committer.commit().await;
    });
    (log, recovery)
}

/// Appends `values` and waits until each is durable: the acknowledged records.
async fn acknowledged(log: &Log, values: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let mut acked = Vec::new();
    for value in values {
        let ticket = log.append(&value).expect("the disk has room");
        log.durable(ticket).await.expect("a healthy disk syncs");
        acked.push(value);
    }
    acked
}

/// Appends `values` without waiting: written, never acknowledged.
fn unacknowledged(log: &Log, values: impl IntoIterator<Item = u64>) {
    for value in values {
        log.append(&value).expect("the disk has room");
    }
}

/// The recovered records are a prefix of what was written, and hold every acknowledged one.
fn assert_prefix_keeping(recovered: &[u64], written: &[u64], acked: &[u64]) {
    assert!(written.starts_with(recovered), "recovered {recovered:?} is not a prefix of written {written:?}");
    assert!(recovered.len() >= acked.len(), "recovered {recovered:?} lost acknowledged records {acked:?}");
    assert_eq!(&recovered[..acked.len()], acked);
}

#[test]
fn a_torn_write_recovers_the_longest_valid_prefix_and_new_records_follow_it() {
    for seed in 0..20 {
        simulate(|| async move {
            let disk = disk(seed);
            let (log, _) = boot(&disk).await;
            let acked = acknowledged(&log, 1..=10).await;
            unacknowledged(&log, 11..=20);
            let report = disk.crash(CrashMode::Torn);
            assert!(report.cached > 0 && report.kept < report.cached);

            let (log, recovery) = boot(&disk).await;
            let written: Vec<u64> = (1..=20).collect();
            assert_prefix_keeping(&recovery.ops, &written, &acked);
            // Records of a u64 are 16 bytes: a cut inside one is a torn tail, found and cut off.
            let torn = !report.kept.is_multiple_of(16);
            assert_eq!(recovery.damage.map(|d| d.0), torn.then_some(Damage::Torn), "seed {seed}: {report:?}");
            assert_eq!(recovery.ops.len() as u64, 10 + report.kept / 16);

            // The damaged tail is gone: a record written now follows the valid prefix, not the garbage.
            let more = acknowledged(&log, [99]).await;
            disk.crash(CrashMode::Clean);
            let (_, again) = boot(&disk).await;
            let expected: Vec<u64> = recovery.ops.iter().copied().chain(more).collect();
            assert_eq!(again.ops, expected);
            assert_eq!(again.damage, None);
        });
    }
}

#[test]
fn a_corrupt_write_is_detected_by_its_checksum_and_nothing_after_it_is_used() {
    for seed in 0..20 {
        simulate(|| async move {
            let disk = disk(seed);
            let (log, _) = boot(&disk).await;
            let acked = acknowledged(&log, 1..=10).await;
            unacknowledged(&log, 11..=30);
            let report = disk.crash(CrashMode::Corrupt);
            assert!(report.flipped && report.kept > 0);

            let (_, recovery) = boot(&disk).await;
            let written: Vec<u64> = (1..=30).collect();
            assert_prefix_keeping(&recovery.ops, &written, &acked);
            assert!(recovery.damage.is_some(), "seed {seed}: a flipped bit went unnoticed: {report:?}");
            // The flipped bit lies in the kept bytes: the prefix stops at or before the record that holds it.
            assert!((recovery.ops.len() as u64) < 10 + report.kept.div_ceil(16));
        });
    }
}

#[test]
fn a_failed_sync_acknowledges_nothing_it_covered_and_the_node_goes_back_to_its_disk() {
    simulate(|| async {
        let disk = disk(1);
        let (log, recovery) = DurableLog::<u64>::open(disk.clone()).await;
        assert!(recovery.ops.is_empty());
        let log = Arc::new(log);
        let committer = {
            let log = log.clone();
            madsim::task::spawn(async move { log.commit().await })
        };
        let acked = acknowledged(&log, 1..=10).await;

        disk.set_failing_syncs(true);
        let ticket = log.append(&11).unwrap();
        let waiter = {
            let log = log.clone();
            madsim::task::spawn(async move { log.durable(ticket).await })
        };
        assert_eq!(committer.await.unwrap(), DiskError::SyncFailed, "the committer stops at the failed sync");
        let after = log.recover_after_failure();
        assert_eq!(waiter.await.unwrap(), Err(Lost), "a write a failed sync covered is never acknowledged");
        assert_eq!(after.ops, acked, "the node rebuilds from what the disk really holds");
        assert_eq!(log.durable(log.position()).await, Ok(()), "a read of the rebuilt state is answered");

        // A sync that works again does not resurrect the lost write (the cache it was in was dropped).
        disk.set_failing_syncs(false);
        let log2 = log.clone();
        madsim::task::spawn(async move {
            log2.commit().await;
        });
        let more = acknowledged(&log, [12]).await;
        disk.crash(CrashMode::Clean);
        let (_, recovery) = boot(&disk).await;
        assert_eq!(recovery.ops, acked.iter().copied().chain(more).collect::<Vec<_>>());
    });
}

#[test]
fn a_full_disk_refuses_appends_and_loses_nothing_acknowledged() {
    simulate(|| async {
        let disk = disk(2);
        let (log, _) = boot(&disk).await;
        let acked = acknowledged(&log, 1..=5).await;
        disk.set_full(true);
        assert_eq!(log.append(&6), Err(DiskError::Full), "a full disk refuses the append: nothing to acknowledge");
        disk.set_full(false);
        let more = acknowledged(&log, [7]).await;
        disk.crash(CrashMode::Torn);
        let (_, recovery) = boot(&disk).await;
        assert_eq!(recovery.ops, acked.iter().copied().chain(more).collect::<Vec<_>>());
        assert_eq!(disk.stats().refused_appends, 1);
    });
}

#[test]
fn a_crash_during_compaction_leaves_the_old_log_and_a_finished_one_keeps_later_records() {
    simulate(|| async {
        let disk = disk(3);
        let (log, _) = boot(&disk).await;
        let acked = acknowledged(&log, 1..=10).await;

        // Crash while the compaction is in flight: the old log is still there, whole.
        let compaction = {
            let log = log.clone();
            let upto = log.position();
            madsim::task::spawn(async move { log.compact(&1000, upto).await })
        };
        while !disk.compacting() {
            sleep(Duration::from_micros(10)).await;
        }
        let report = disk.crash(CrashMode::Clean);
        assert!(report.compacting);
        assert_eq!(compaction.await.unwrap(), Err(DiskError::Interrupted));
        let (log, recovery) = boot(&disk).await;
        assert_eq!(recovery.ops, acked);
        assert_eq!(disk.stats().interrupted_compactions, 1);

        // A compaction that finishes replaces the prefix with the snapshot, keeping records appended meanwhile.
        let upto = log.position();
        let compaction = {
            let log = log.clone();
            madsim::task::spawn(async move { log.compact(&1000, upto).await })
        };
        let during = acknowledged(&log, [11, 12]).await;
        assert!(compaction.await.unwrap().is_ok());
        let after = acknowledged(&log, [13]).await;
        disk.crash(CrashMode::Clean);
        let (_, recovery) = boot(&disk).await;
        let expected: Vec<u64> = [1000].into_iter().chain(during).chain(after).collect();
        assert_eq!(recovery.ops, expected);
        assert_eq!(disk.stats().compactions, 1);
    });
}

#[test]
fn a_slow_disk_delays_acknowledgements_and_group_commit_shares_one_sync() {
    simulate(|| async {
        let disk = disk(4);
        let (log, _) = boot(&disk).await;
        acknowledged(&log, [1]).await;
        disk.set_slow(Duration::from_millis(100), false, true);
        let start = madsim::time::Instant::now();
        // Ten writers at once: they share the syncs in flight instead of syncing one by one.
        let tickets: Vec<_> = (2..=11).map(|v| log.append(&v).unwrap()).collect();
        let waiters: Vec<_> = tickets
            .into_iter()
            .map(|t| {
                let log = log.clone();
                madsim::task::spawn(async move { log.durable(t).await })
            })
            .collect();
        for waiter in waiters {
            waiter.await.unwrap().unwrap();
        }
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(100), "a slow sync delays the acknowledgement: {elapsed:?}");
        assert!(elapsed < Duration::from_millis(250), "ten writers shared one or two syncs: {elapsed:?}");
        assert!(disk.stats().syncs <= 3, "group commit: {:?}", disk.stats());
    });
}

/// Writeback in any order: a crash keeps each unsynced write whole, torn at a sector, or not at all,
/// independently, holes reading as zeros. The log must still recover a prefix of what it wrote (it may not trust a
/// record after a hole) holding every acknowledged record, and append after it.
#[test]
fn a_crash_that_writes_back_in_any_order_recovers_a_valid_prefix() {
    let mut holes = 0;
    for seed in 0..60 {
        let found = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let f = found.clone();
        simulate(|| async move {
            let disk = any_order_disk(seed);
            let (log, _) = boot(&disk).await;
            let acked = acknowledged(&log, 0..5).await;
            // Large records, so that several sectors make up each and a torn one is torn inside a record.
            let big: Vec<u64> = (100..140).collect();
            unacknowledged(&log, big.iter().copied());
            let report = disk.crash(CrashMode::Clean);
            if report.kept > 0 && report.kept < report.cached {
                f.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let (log, recovery) = boot(&disk).await;
            let written: Vec<u64> = acked.iter().copied().chain(big.iter().copied()).collect();
            assert_prefix_keeping(&recovery.ops, &written, &acked);
            let after = acknowledged(&log, [999]).await;
            let (_, again) = boot(&disk).await;
            assert_eq!(again.ops.last(), after.last(), "seed {seed}: a record appended after recovery is kept");
        });
        holes += found.load(std::sync::atomic::Ordering::SeqCst);
    }
    assert!(holes > 10, "most crashes kept some of the unsynced writes and lost others: {holes}");
}

/// A torn truncate: with writeback in any order, a truncate of synced bytes is durable only at the next sync, and
/// a crash before it brings the cut bytes back (in about half the crashes), beneath whatever writes the cache kept.
#[test]
fn a_crash_before_the_next_sync_may_undo_a_truncate_and_bring_the_cut_bytes_back() {
    let undone = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for seed in 0..40 {
        let u = undone.clone();
        simulate(|| async move {
            let disk = any_order_disk(seed);
            disk.append(&[7u8; 1000]).expect("room");
            disk.sync().await.expect("a healthy disk syncs");
            disk.truncate(400).expect("no read errors");
            assert_eq!(disk.read().expect("reads").len(), 400, "a running process sees the truncate at once");
            disk.append(&[9u8; 100]).expect("room");
            let report = disk.crash(CrashMode::Clean);
            let after = disk.durable();
            assert_eq!(&after[..400], &[7u8; 400][..], "synced bytes before the cut are never touched");
            if report.untruncated {
                assert_eq!(after.len(), 1000, "seed {seed}: the old length came back");
                let overlaid = after[400..500].iter().filter(|&&b| b == 9).count();
                assert!(after[400..500].iter().all(|&b| b == 7 || b == 9), "seed {seed}: old bytes or kept writes");
                assert_eq!(&after[500..], &[7u8; 500][..], "seed {seed}");
                // The one write lies inside a sector: it is kept whole or lost, never torn.
                assert!(overlaid == 0 || overlaid == 100, "seed {seed}: {overlaid} bytes of the write");
            } else {
                assert!(after.len() <= 500 && after[400..].iter().all(|&b| b == 9), "seed {seed}: {}", after.len());
            }
            // A sync makes the truncate durable: the next crash cannot undo it.
            disk.truncate(450).expect("no read errors");
            disk.sync().await.expect("a healthy disk syncs");
            assert!(!disk.crash(CrashMode::Clean).untruncated);
            assert!(disk.durable().len() <= 450);
            if report.untruncated {
                u.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
    }
    let undone = undone.load(std::sync::atomic::Ordering::SeqCst);
    assert!((8..=32).contains(&undone), "about half the crashes undo the truncate: {undone} of 40");
}

/// The log against a torn truncate: it cuts a damaged tail at boot, appends, and crashes before its next sync. Had
/// the cut not been synced, the old tail (old whole records after a hole) would come back beneath the new writes,
/// and an old record could line up after a new one: a log that cut without syncing recovered `[0..4, 200, 201,
/// 102]` here. It must recover a prefix of what it wrote, in this boot's order.
#[test]
fn a_log_whose_boot_truncate_is_undone_by_a_crash_recovers_only_what_it_wrote_in_order() {
    let mut cut = 0;
    for seed in 0..200 {
        let found = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let f = found.clone();
        simulate(|| async move {
            let disk = any_order_disk(seed);
            let (log, _) = boot(&disk).await;
            acknowledged(&log, 0..5).await;
            unacknowledged(&log, 100..140);
            disk.crash(CrashMode::Clean);
            let (log, first) = boot(&disk).await;
            let acked: Vec<u64> = first.ops.clone();
            assert!(acked.starts_with(&[0, 1, 2, 3, 4]));
            if first.damage.is_some() {
                f.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            unacknowledged(&log, 200..210);
            let report = disk.crash(CrashMode::Clean);
            assert!(!report.untruncated, "seed {seed}: the boot's cut was synced before anything was appended");
            let (_, second) = boot(&disk).await;
            let written: Vec<u64> = acked.iter().copied().chain(200..210).collect();
            assert_prefix_keeping(&second.ops, &written, &acked);
        });
        cut += found.load(std::sync::atomic::Ordering::SeqCst);
    }
    assert!(cut > 100, "most first boots cut a damaged tail: {cut} of 200");
}

#[test]
fn a_disk_with_read_errors_fails_whole_reads_and_a_booting_log_reads_through_them() {
    simulate(|| async {
        let disk = disk(7);
        let (log, _) = boot(&disk).await;
        let acked = acknowledged(&log, 1..=20).await;
        let whole = disk.read().expect("a healthy disk reads");

        disk.set_read_errors(50, true);
        let (mut failed, mut read) = (0, 0);
        for _ in 0..200 {
            match disk.read() {
                // Never a part of the file: all of it, or an error and nothing.
                Ok(bytes) => {
                    assert_eq!(bytes, whole);
                    read += 1;
                }
                Err(error) => {
                    assert_eq!(error, DiskError::Io);
                    failed += 1;
                }
            }
        }
        assert!(failed > 50 && read > 50, "about half fail: {failed} failed, {read} read");
        // A failed truncate changes nothing; the first that succeeds cuts.
        let half = whole.len() as u64 / 2;
        let mut refused = 0;
        while disk.truncate(half).is_err() {
            refused += 1;
            assert_eq!(disk.durable().len(), whole.len(), "a failed truncate cut the file");
        }
        assert_eq!(disk.durable(), whole[..half as usize]);
        assert!(refused > 0 || disk.stats().failed_reads > 0);

        // Booting through errors: the log is read whole, after retries, with every acknowledged record.
        let disk = self::disk(8);
        let (log, _) = boot(&disk).await;
        let acked_again = acknowledged(&log, 1..=20).await;
        assert_eq!(acked_again, acked);
        disk.crash(CrashMode::Clean);
        disk.set_read_errors(90, true);
        let (_, recovery) = boot(&disk).await;
        assert_eq!(recovery.ops, acked);
        assert!(recovery.read_errors > 0, "at 90% errors, the first read fails for this seed");
        disk.set_read_errors(90, false);
        assert_eq!(disk.read().expect("healed"), whole, "the disk booted through errors holds the same file");
    });
}

#[test]
fn a_long_tailed_slow_disk_makes_a_few_syncs_far_slower_than_the_rest() {
    simulate(|| async {
        let disk = disk(9);
        disk.set_slow(Duration::from_millis(10), true, true);
        let mut times = Vec::new();
        for n in 0..300u64 {
            disk.append(&n.to_le_bytes()).expect("room");
            let start = madsim::time::Instant::now();
            disk.sync().await.expect("a slow disk still syncs");
            times.push(start.elapsed());
        }
        times.sort();
        let median = times[times.len() / 2];
        let slow = times.iter().filter(|t| **t >= Duration::from_millis(100)).count();
        assert!(median >= Duration::from_millis(5) && median < Duration::from_millis(20), "median {median:?}");
        assert!((5..=90).contains(&slow), "{slow} of 300 syncs took ten times the latency or more");
        assert!(times[299] <= Duration::from_millis(1_003), "capped at a hundred times: {:?}", times[299]);
    });
}

#[test]
fn a_torn_write_waits_for_a_write_it_can_tear() {
    // With any-order writeback a sector reaches the medium whole: only a write across a sector boundary can
    // be torn. 100 bytes at offset 0 cannot; 500 more (bytes 100 to 599) cross the boundary at 512.
    let any = any_order_disk(1);
    assert!(!any.tearable(), "nothing cached");
    any.append(&[7; 100]).unwrap();
    assert!(!any.tearable(), "a write within one sector");
    any.append(&[7; 500]).unwrap();
    assert!(any.tearable(), "a write across a sector boundary");
    // A write that ends exactly on a boundary (412 bytes from 100) has none inside it.
    let any = any_order_disk(1);
    any.append(&[7; 100]).unwrap();
    any.append(&[7; 412]).unwrap();
    assert!(!any.tearable(), "a write ending on the boundary");
    // In-order writeback can cut a write anywhere: more than one cached byte is enough.
    let in_order = disk(1);
    in_order.append(&[7; 1]).unwrap();
    assert!(!in_order.tearable());
    in_order.append(&[7; 1]).unwrap();
    assert!(in_order.tearable());
}
