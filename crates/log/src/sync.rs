//! The fsync workers shared by all partitions of a log: a small thread pool that runs
//! group commits, and a timer thread for the interval policy.
//!
//! A partition submits itself when it needs an fsync; a worker runs
//! [`Partition::run_sync`], which keeps fsyncing as long as new appends arrived during
//! the previous fsync. That is the group commit: every append that arrives while an
//! fsync is in flight is covered by the next one.

use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use crate::partition::Partition;

/// Pending partitions per worker pool; a partition is queued at most once at a time
/// (see `SyncFlags::in_flight`), so this bounds the number of partitions, not appends.
#[derive(Debug, Default)]
struct Inner {
    queue: Mutex<VecDeque<Arc<Partition>>>,
    queue_cv: Condvar,
    timers: Mutex<BinaryHeap<Timer>>,
    timers_cv: Condvar,
    shutdown: AtomicBool,
}

#[derive(Debug)]
struct Timer {
    at: Instant,
    partition: Weak<Partition>,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    // Earliest first in a max-heap.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.at.cmp(&self.at)
    }
}

/// Handle to the fsync workers. Cloning shares them; they stop when
/// [`Syncer::shutdown`] is called.
#[derive(Debug, Clone)]
pub struct Syncer {
    inner: Arc<Inner>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Syncer {
    /// Starts `workers` fsync threads (at least one) and the timer thread.
    pub fn start(workers: usize) -> std::io::Result<Syncer> {
        let inner = Arc::new(Inner::default());
        let mut threads = Vec::new();
        for i in 0..workers.max(1) {
            let inner = inner.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("brook-fsync-{i}"))
                    .spawn(move || worker(&inner))?,
            );
        }
        let timer_inner = inner.clone();
        threads.push(
            std::thread::Builder::new()
                .name("brook-fsync-timer".into())
                .spawn(move || timer(&timer_inner))?,
        );
        Ok(Syncer {
            inner,
            threads: Arc::new(Mutex::new(threads)),
        })
    }

    pub(crate) fn submit(&self, partition: Arc<Partition>) {
        self.inner.queue.lock().push_back(partition);
        self.inner.queue_cv.notify_one();
    }

    pub(crate) fn schedule(&self, at: Instant, partition: Weak<Partition>) {
        self.inner.timers.lock().push(Timer { at, partition });
        self.inner.timers_cv.notify_one();
    }

    /// Finishes queued fsyncs and stops the threads.
    pub fn shutdown(&self) {
        self.inner.shutdown.store(true, Ordering::SeqCst);
        {
            let _q = self.inner.queue.lock();
            self.inner.queue_cv.notify_all();
        }
        {
            let _t = self.inner.timers.lock();
            self.inner.timers_cv.notify_all();
        }
        let threads = std::mem::take(&mut *self.threads.lock());
        for t in threads {
            let _ = t.join();
        }
    }
}

fn worker(inner: &Inner) {
    loop {
        let next = {
            let mut q = inner.queue.lock();
            loop {
                if let Some(p) = q.pop_front() {
                    break Some(p);
                }
                if inner.shutdown.load(Ordering::SeqCst) {
                    break None;
                }
                inner.queue_cv.wait(&mut q);
            }
        };
        match next {
            Some(p) => p.run_sync(),
            None => return,
        }
    }
}

fn timer(inner: &Inner) {
    let mut timers = inner.timers.lock();
    loop {
        if inner.shutdown.load(Ordering::SeqCst) {
            return;
        }
        let now = Instant::now();
        match timers.peek() {
            Some(t) if t.at <= now => {
                if let Some(t) = timers.pop() {
                    if let Some(p) = t.partition.upgrade() {
                        // Never call into a partition while holding the timer lock.
                        parking_lot::MutexGuard::unlocked(&mut timers, || p.timer_fired());
                    }
                }
            }
            Some(t) => {
                let at = t.at;
                inner.timers_cv.wait_until(&mut timers, at);
            }
            None => inner.timers_cv.wait(&mut timers),
        }
    }
}
