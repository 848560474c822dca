//! Read-ahead for consumers that are catching up.
//!
//! A Kafka client keeps one Fetch in flight per connection: it sends the next one
//! only after it has taken the last response apart. Served in turn, the server's
//! read of a response's batches (copy out of the page cache, CRC check) and the
//! client's parsing of the previous one never overlap, and on a 2-core machine one
//! core idles through each. So after a Fetch that returned data from a partition
//! with more behind it (the byte limit ended the response, not the end of the
//! log), the connection starts reading that partition's next chunk (from the offset
//! the client will ask for next, with the same byte limit) while the response is
//! sent and parsed: as a task on the runtime when the data is in the page cache
//! (Tokio runs it on the connection's worker once the connection task yields, as
//! it does when it waits for the next request), on a blocking thread when not.
//! The next Fetch from that offset takes the result instead of reading. (Only the
//! first such partition of a Fetch is read ahead.)
//!
//! A read-ahead is used only where it gives what a read now would: the Fetch
//! handler drops XDEL'd records from it as from any read, and [`ReadAhead::take`]
//! refuses it (the Fetch then reads as usual, and so answers OFFSET_OUT_OF_RANGE
//! or the read's error) when it was for another partition or offset, failed or
//! came back empty, when the log start has moved past its offset, when the Fetch's
//! byte limit is larger than the one it read with, or when it reached the high
//! watermark and that has moved since (in the last two cases a read now would return
//! more, and a long poll with `min_bytes` would otherwise wait for data that is
//! already there).
//!
//! Limits: a connection has at most one read-ahead running or held (a new one is
//! not started while the last one still runs: a read cannot be called off), until
//! its next Fetch or until it closes (a connection that stops fetching keeps its
//! share of the budget); all connections together hold at most
//! [`READ_AHEADS_MAX`] of them and [`READ_AHEAD_BYTES_MAX`] bytes, each counted as
//! the larger of its byte limit and what it read. Past either, Fetches simply read
//! in turn.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use brook_broker::{Entry, Partition, ReadError};
use parking_lot::Mutex;
use tokio::task::JoinHandle;

/// Most bytes the read-aheads of all connections may hold at once.
pub const READ_AHEAD_BYTES_MAX: usize = 128 * 1024 * 1024;
/// Most read-aheads (running or held) of all connections at once.
pub const READ_AHEADS_MAX: usize = 64;

/// What all connections' read-aheads share: the byte and count limits, and a count
/// of the read-aheads Fetches used.
#[derive(Debug, Default)]
pub struct Budget {
    bytes: AtomicUsize,
    count: AtomicUsize,
    used: AtomicU64,
}

impl Budget {
    /// Bytes currently held.
    pub fn held_bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }

    /// Read-aheads currently running or held.
    pub fn held_count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Read-aheads a Fetch used instead of reading, since start.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    fn take(self: &Arc<Self>, bytes: usize) -> Option<Held> {
        if !add_within(&self.count, 1, READ_AHEADS_MAX) {
            return None;
        }
        // From here on, dropping `held` gives back what was taken.
        let mut held = Held {
            budget: Arc::clone(self),
            bytes: 0,
        };
        held.grow_to(bytes).then_some(held)
    }
}

/// Adds `n` to `counter` unless that would take it past `max`.
fn add_within(counter: &AtomicUsize, n: usize, max: usize) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
            current.checked_add(n).filter(|&next| next <= max)
        })
        .is_ok()
}

/// One read-ahead's share of the [`Budget`], given back when dropped: with the
/// read's result, so a read-ahead nobody waits for any more still counts until it
/// ends.
#[derive(Debug)]
struct Held {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Held {
    /// Makes this share at least `bytes`; false if the budget has not that much.
    fn grow_to(&mut self, bytes: usize) -> bool {
        let extra = bytes.saturating_sub(self.bytes);
        if !add_within(&self.budget.bytes, extra, READ_AHEAD_BYTES_MAX) {
            return false;
        }
        self.bytes += extra;
        true
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.bytes.fetch_sub(self.bytes, Ordering::AcqRel);
        self.budget.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a read-ahead's task returns.
#[derive(Debug)]
struct Read {
    _held: Held,
    /// The high watermark before the read started.
    high_watermark: u64,
    entries: Result<Vec<Entry>, ReadError>,
}

#[derive(Debug)]
struct Pending {
    partition: Arc<Partition>,
    offset: u64,
    /// The byte limit it reads with.
    max_bytes: usize,
    task: JoinHandle<Option<Read>>,
}

/// Empties `slot` unless it holds a read-ahead still running; whether it is empty.
fn retire(slot: &mut Option<Pending>) -> bool {
    if slot.as_ref().is_some_and(|p| !p.task.is_finished()) {
        return false;
    }
    *slot = None;
    true
}

/// One connection's read-ahead (see the module docs).
#[derive(Debug)]
pub struct ReadAhead {
    budget: Arc<Budget>,
    slot: Mutex<Option<Pending>>,
}

impl ReadAhead {
    /// A connection's read-ahead, sharing `budget` with the server's other connections.
    pub fn new(budget: Arc<Budget>) -> ReadAhead {
        ReadAhead {
            budget,
            slot: Mutex::new(None),
        }
    }

    /// Starts reading `partition` from `offset`, about `max_bytes` (see the module
    /// docs for where), in place of a read-ahead not used. Starts nothing if that
    /// one is still running (it stays) or the budget is spent. Must be called on a
    /// Tokio runtime.
    pub fn start(&self, partition: &Arc<Partition>, offset: u64, max_bytes: usize) {
        let mut slot = self.slot.lock();
        if !retire(&mut slot) {
            return;
        }
        let Some(mut held) = self.budget.take(max_bytes) else {
            return;
        };
        let p = Arc::clone(partition);
        let read = move || {
            let high_watermark = p.marks().high_watermark;
            let entries = p.read(offset, max_bytes);
            // The first entry is returned whatever its size: count what was read.
            let read: usize = entries
                .as_ref()
                .map_or(0, |e| e.iter().map(|e| e.bytes.len()).sum());
            held.grow_to(read).then_some(Read {
                _held: held,
                high_watermark,
                entries,
            })
        };
        // As a Fetch reads: in the page cache, on the runtime (a task on this worker,
        // run once the connection task yields); from the device, on a blocking thread.
        let task = if partition.read_probably_cached(offset) {
            tokio::spawn(async move { read() })
        } else {
            tokio::task::spawn_blocking(read)
        };
        *slot = Some(Pending {
            partition: Arc::clone(partition),
            offset,
            max_bytes,
            task,
        });
    }

    /// Drops the read-ahead, if any, once it has finished (one still running stays,
    /// so that this connection never has two).
    pub fn clear(&self) {
        retire(&mut self.slot.lock());
    }

    /// The offset the read-ahead reads from, if one is running or held.
    pub fn pending(&self) -> Option<u64> {
        self.slot.lock().as_ref().map(|p| p.offset)
    }

    /// The entries read ahead for `partition` from `offset`, once read, if a
    /// read-ahead for exactly that was started and a Fetch with a byte limit of
    /// `max_bytes` may take them (see the module docs); `None` means: read as usual.
    /// A read-ahead for something else stays.
    pub async fn take(
        &self,
        partition: &Arc<Partition>,
        offset: u64,
        max_bytes: usize,
    ) -> Option<Vec<Entry>> {
        let pending = {
            let mut slot = self.slot.lock();
            match slot.as_ref() {
                // (A larger limit than it read with: a read now would give more.)
                Some(p)
                    if Arc::ptr_eq(&p.partition, partition)
                        && p.offset == offset
                        && p.max_bytes >= max_bytes =>
                {
                    slot.take()?
                }
                _ => return None,
            }
        };
        let read = pending.task.await.ok()??;
        let entries = read.entries.ok().filter(|e| !e.is_empty())?;
        let marks = partition.marks();
        if marks.log_start > offset {
            return None;
        }
        let end = entries.last().map_or(offset, |e| e.meta.next_offset());
        if end >= read.high_watermark && marks.high_watermark != read.high_watermark {
            return None;
        }
        self.budget.used.fetch_add(1, Ordering::Relaxed);
        Some(entries)
    }

    /// Waits until the read-ahead, if any, has finished reading.
    #[cfg(test)]
    pub async fn settled(&self) {
        loop {
            let running = self
                .slot
                .lock()
                .as_ref()
                .is_some_and(|p| !p.task.is_finished());
            if !running {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    /// The budget this read-ahead draws on.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }
}

/// A read-ahead with a budget of its own (tests, and contexts outside a server).
impl Default for ReadAhead {
    fn default() -> Self {
        ReadAhead::new(Arc::default())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_bounds_bytes_and_count_and_is_given_back() {
        let budget = Arc::new(Budget::default());
        let mut a = budget.take(READ_AHEAD_BYTES_MAX - 10).unwrap();
        assert!(budget.take(11).is_none());
        // A refused take gives back the count it took.
        assert_eq!(budget.held_count(), 1);
        let mut b = budget.take(10).unwrap();
        assert_eq!(budget.held_bytes(), READ_AHEAD_BYTES_MAX);
        assert!(!b.grow_to(11));
        assert!(b.grow_to(10));
        drop(a);
        assert_eq!(budget.held_bytes(), 10);
        assert!(b.grow_to(1000));
        assert_eq!(budget.held_bytes(), 1000);
        drop(b);
        assert_eq!((budget.held_bytes(), budget.held_count()), (0, 0));
        assert!(budget.take(usize::MAX).is_none());

        let held: Vec<Held> = (0..READ_AHEADS_MAX)
            .map(|_| budget.take(1).unwrap())
            .collect();
        assert!(budget.take(1).is_none());
        drop(held);
        assert_eq!((budget.held_bytes(), budget.held_count()), (0, 0));
        a = budget.take(1).unwrap();
        assert!(a.grow_to(2));
    }
}
