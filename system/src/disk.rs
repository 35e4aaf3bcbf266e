//! Durable storage as the system sees it: an append-only log of operations with an explicit sync.
//!
//! A service appends each state change to its log and syncs before it answers; on boot it rebuilds its state
//! by replaying what the log holds. Whoever runs the node provides the medium. The simulation's medium loses
//! every write that was not synced when the node crashed, as a power failure does, so a service that answers
//! before syncing is caught losing acknowledged work.

use std::sync::Mutex;

/// An append-only log of `Op`s.
pub trait Disk<Op>: Send + Sync {
    /// Appends an operation. It is durable only after the next [`Disk::sync`].
    fn append(&self, op: Op);
    /// Makes every appended operation durable.
    fn sync(&self);
    /// The operations a booting node finds: every synced one, in order.
    fn open(&self) -> Vec<Op>;
}

/// A medium that never fails, for running the system outside a simulation.
pub struct MemDisk<Op> {
    log: Mutex<Vec<Op>>,
}

impl<Op> Default for MemDisk<Op> {
    fn default() -> Self {
        Self { log: Mutex::new(Vec::new()) }
    }
}

impl<Op: Clone + Send> Disk<Op> for MemDisk<Op> {
    fn append(&self, op: Op) {
        self.log.lock().expect("disk lock").push(op);
    }

    fn sync(&self) {}

    fn open(&self) -> Vec<Op> {
        self.log.lock().expect("disk lock").clone()
    }
}
