//! What the queue remembers of lease requests, so that a request it sees twice is answered once.
//!
//! A lease request can arrive more than once: a retry after a lost answer, a copy the network duplicated, or a
//! spurious retry of a call whose first attempt succeeded. A copy may also arrive late, after the work loop that
//! sent it has had its answer and sent its next request. Served as new work, either gives jobs to nobody: the
//! worker is not waiting for that answer, so the jobs sit leased until their leases run out. The memo tells the
//! three cases apart per work loop (worker, slot): the request it answered last (a repeat), an older one (stale),
//! or a newer one (new). Request numbers restart when a worker restarts, so they are compared only within one
//! incarnation of the worker; a request of an incarnation the queue has seen replaced is stale too.

use std::collections::{BTreeMap, VecDeque};

/// Replaced incarnations remembered per worker: a late copy from further back than this is served as new (its
/// jobs then wait for their leases to run out, as after any lost answer).
const RETIRED_MAX: usize = 8;

/// Who asks for leases: one work loop of one incarnation of one worker, and the number of its request.
#[derive(Clone, Copy, Debug)]
pub struct Asker<'a> {
    pub worker: &'a str,
    pub incarnation: u64,
    pub slot: u32,
    pub request: u64,
}

/// How a lease request relates to what its work loop asked before.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen<'a> {
    /// Not seen before: serve it.
    New,
    /// The request answered last: answer it again with the same leases (possibly none).
    Repeat(&'a [u64]),
    /// Older than the request answered last, or from a replaced incarnation: nobody waits for its answer.
    Stale,
}

#[derive(Default)]
struct Worker {
    incarnation: u64,
    retired: VecDeque<u64>,
    /// Per slot: the request answered last and the fencing tokens it got.
    slots: BTreeMap<u32, (u64, Vec<u64>)>,
}

/// The memo. In memory only: after a queue restart a repeated request is simply served anew, as any
/// at-least-once queue would.
#[derive(Default)]
pub struct LeaseMemo {
    workers: BTreeMap<String, Worker>,
}

impl LeaseMemo {
    pub fn seen(&self, asker: Asker<'_>) -> Seen<'_> {
        let Some(worker) = self.workers.get(asker.worker) else { return Seen::New };
        if worker.retired.contains(&asker.incarnation) {
            return Seen::Stale;
        }
        if worker.incarnation != asker.incarnation {
            return Seen::New;
        }
        match worker.slots.get(&asker.slot) {
            Some((request, tokens)) if *request == asker.request => Seen::Repeat(tokens),
            Some((request, _)) if *request > asker.request => Seen::Stale,
            _ => Seen::New,
        }
    }

    /// Records the answer to a new request: what a repeat of it gets from now on. A request from another
    /// incarnation than the worker's last retires that one (the worker restarted).
    pub fn record(&mut self, asker: Asker<'_>, tokens: Vec<u64>) {
        let worker = match self.workers.get_mut(asker.worker) {
            Some(worker) => worker,
            None => {
                let fresh = Worker { incarnation: asker.incarnation, ..Worker::default() };
                self.workers.entry(asker.worker.to_string()).or_insert(fresh)
            }
        };
        if worker.incarnation != asker.incarnation {
            if worker.retired.len() == RETIRED_MAX {
                worker.retired.pop_front();
            }
            worker.retired.push_back(worker.incarnation);
            worker.incarnation = asker.incarnation;
            worker.slots.clear();
        }
        worker.slots.insert(asker.slot, (asker.request, tokens));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asker(incarnation: u64, slot: u32, request: u64) -> Asker<'static> {
        Asker { worker: "worker-1", incarnation, slot, request }
    }

    #[test]
    fn a_request_is_new_then_repeated_then_stale_once_the_next_is_answered() {
        let mut memo = LeaseMemo::default();
        assert_eq!(memo.seen(asker(7, 0, 0)), Seen::New);
        memo.record(asker(7, 0, 0), vec![1, 2]);
        assert_eq!(memo.seen(asker(7, 0, 0)), Seen::Repeat(&[1, 2]));
        assert_eq!(memo.seen(asker(7, 0, 1)), Seen::New);
        assert_eq!(memo.seen(asker(7, 1, 0)), Seen::New, "another slot has its own requests");
        memo.record(asker(7, 0, 1), vec![]);
        assert_eq!(memo.seen(asker(7, 0, 1)), Seen::Repeat(&[]));
        assert_eq!(memo.seen(asker(7, 0, 0)), Seen::Stale, "a late copy of an answered request");
    }

    #[test]
    fn a_restarted_worker_starts_its_requests_again_and_its_old_incarnation_is_stale() {
        let mut memo = LeaseMemo::default();
        memo.record(asker(7, 0, 5), vec![3]);
        // After a restart the worker counts from 0 again: new, although 0 < 5.
        assert_eq!(memo.seen(asker(9, 0, 0)), Seen::New);
        memo.record(asker(9, 0, 0), vec![4]);
        assert_eq!(memo.seen(asker(7, 0, 6)), Seen::Stale, "the replaced incarnation's requests");
        assert_eq!(memo.seen(asker(9, 0, 0)), Seen::Repeat(&[4]));
        // Only the last few incarnations are remembered.
        for incarnation in 10..10 + RETIRED_MAX as u64 {
            memo.record(asker(incarnation, 0, 0), vec![]);
        }
        assert_eq!(memo.seen(asker(7, 0, 6)), Seen::New);
        assert_eq!(memo.seen(asker(9, 0, 1)), Seen::Stale);
    }
}
