//! Read-ahead for consumers that are catching up.
//!
//! A Kafka client keeps one Fetch in flight per connection: it sends the next one
//! only after it has taken the last response apart. Served in turn, the server's
//! read of a response's batches (copy out of the page cache, CRC check) and the
//! client's parsing of the previous one never overlap, and on a 2-core machine one
//! core idles through each. So after a Fetch that returned data from a partition
//! with more behind it, the connection starts reading the partition's next chunk
//! (from the offset the client will ask for next, with the same byte limit) on a
//! blocking thread while the response is sent and parsed; the next Fetch from that
//! offset takes the result instead of reading.
//!
//! What a read-ahead returns is what a read at that moment would have returned:
//! entries up to the high watermark, all durable. When it is used, the Fetch
//! handler drops XDEL'd records from it as from any read, and this module refuses
//! it if the log start has moved past its offset since (the Fetch then reads, and
//! answers OFFSET_OUT_OF_RANGE as usual), if it failed or came back empty, or if it
//! was for another partition or offset.
//!
//! Limits: one read-ahead per connection, of at most the byte limit the last Fetch
//! had for that partition; all connections together hold at most
//! [`READ_AHEAD_BYTES_MAX`] (past it, Fetches simply read in turn).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use brook_broker::{Entry, Partition, ReadError};
use parking_lot::Mutex;
use tokio::task::JoinHandle;

/// Most bytes the read-aheads of all connections may hold (counted by their byte
/// limits) at once.
pub const READ_AHEAD_BYTES_MAX: usize = 128 * 1024 * 1024;

/// The byte budget all connections' read-aheads share.
#[derive(Debug, Default)]
pub struct Budget {
    held: AtomicUsize,
}

impl Budget {
    /// Bytes currently held.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    fn take(self: &Arc<Self>, bytes: usize) -> Option<Held> {
        let mut current = self.held.load(Ordering::Acquire);
        loop {
            let next = current
                .checked_add(bytes)
                .filter(|&n| n <= READ_AHEAD_BYTES_MAX)?;
            match self.held.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Some(Held {
                        budget: Arc::clone(self),
                        bytes,
                    })
                }
                Err(now) => current = now,
            }
        }
    }
}

/// Bytes taken from the [`Budget`], given back when dropped: with the read's
/// result, so a read-ahead nobody waits for any more still counts until it ends.
#[derive(Debug)]
struct Held {
    budget: Arc<Budget>,
    bytes: usize,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

type Read = (Held, Result<Vec<Entry>, ReadError>);

#[derive(Debug)]
struct Pending {
    partition: Arc<Partition>,
    offset: u64,
    task: JoinHandle<Read>,
}

/// One connection's read-ahead (see the module docs).
#[derive(Debug, Default)]
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

    /// Starts reading `partition` from `offset`, about `max_bytes`, on a blocking
    /// thread, in place of a read-ahead not used. Does nothing beyond dropping that
    /// one if the budget is spent. Must be called on a Tokio runtime.
    pub fn start(&self, partition: &Arc<Partition>, offset: u64, max_bytes: usize) {
        let mut slot = self.slot.lock();
        *slot = None;
        let Some(held) = self.budget.take(max_bytes) else {
            return;
        };
        let p = Arc::clone(partition);
        let task = tokio::task::spawn_blocking(move || (held, p.read(offset, max_bytes)));
        *slot = Some(Pending {
            partition: Arc::clone(partition),
            offset,
            task,
        });
    }

    /// The offset the read-ahead reads from, if one is held.
    pub fn pending(&self) -> Option<u64> {
        self.slot.lock().as_ref().map(|p| p.offset)
    }

    /// Drops the read-ahead, if any.
    pub fn clear(&self) {
        *self.slot.lock() = None;
    }

    /// The entries read ahead for `partition` from `offset`, once read, if a
    /// read-ahead for exactly that was started and is still good (see the module
    /// docs); `None` means: read as usual. A read-ahead for something else stays.
    pub async fn take(&self, partition: &Arc<Partition>, offset: u64) -> Option<Vec<Entry>> {
        let pending = {
            let mut slot = self.slot.lock();
            match slot.as_ref() {
                Some(p) if Arc::ptr_eq(&p.partition, partition) && p.offset == offset => {
                    slot.take()?
                }
                _ => return None,
            }
        };
        let (_held, read) = pending.task.await.ok()?;
        let entries = read.ok().filter(|e| !e.is_empty())?;
        (partition.marks().log_start <= offset).then_some(entries)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_shared_bounded_and_given_back() {
        let budget = Arc::new(Budget::default());
        let a = budget.take(READ_AHEAD_BYTES_MAX - 10).unwrap();
        assert!(budget.take(11).is_none());
        let b = budget.take(10).unwrap();
        assert_eq!(budget.held(), READ_AHEAD_BYTES_MAX);
        drop(a);
        assert_eq!(budget.held(), 10);
        drop(b);
        assert_eq!(budget.held(), 0);
        assert!(budget.take(usize::MAX).is_none());
    }
}
