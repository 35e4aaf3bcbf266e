//! The simulated disk: a durable log whose unsynced tail is lost when its node crashes, as after a power
//! failure. (madsim's own file system keeps unsynced writes across a kill, so the harness models this itself.)

use std::sync::Mutex;
use system::disk::Disk;

#[derive(Debug)]
struct Log<Op> {
    synced: Vec<Op>,
    unsynced: Vec<Op>,
    lost: u64,
}

pub struct SimDisk<Op> {
    log: Mutex<Log<Op>>,
}

impl<Op> Default for SimDisk<Op> {
    fn default() -> Self {
        Self { log: Mutex::new(Log { synced: Vec::new(), unsynced: Vec::new(), lost: 0 }) }
    }
}

/// What the fault injector needs of any disk: to crash it.
pub trait Crashable: Send + Sync {
    /// Drops every write that was not synced. Returns how many were lost.
    fn crash(&self) -> usize;
}

impl<Op: Send> Crashable for SimDisk<Op> {
    fn crash(&self) -> usize {
        let mut log = self.log.lock().expect("disk lock");
        let lost = log.unsynced.len();
        log.unsynced.clear();
        log.lost += lost as u64;
        lost
    }
}

impl<Op: Clone + Send> Disk<Op> for SimDisk<Op> {
    fn append(&self, op: Op) {
        self.log.lock().expect("disk lock").unsynced.push(op);
    }

    fn sync(&self) {
        let mut log = self.log.lock().expect("disk lock");
        let tail = std::mem::take(&mut log.unsynced);
        log.synced.extend(tail);
    }

    fn open(&self) -> Vec<Op> {
        // A running process reads back its own unsynced writes; only a crash loses them.
        let log = self.log.lock().expect("disk lock");
        log.synced.iter().chain(&log.unsynced).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_loses_unsynced_writes_and_keeps_synced_ones() {
        let disk = SimDisk::<u32>::default();
        disk.append(1);
        disk.append(2);
        disk.sync();
        disk.append(3);
        assert_eq!(disk.open(), [1, 2, 3], "before a crash the process sees its own writes");
        assert_eq!(disk.crash(), 1);
        assert_eq!(disk.open(), [1, 2]);
    }
}
