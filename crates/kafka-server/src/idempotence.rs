//! Idempotent producers (`enable.idempotence=true`): a producer gets an ID and epoch
//! from InitProducerId and numbers its batches per partition (`baseSequence` in the
//! batch header). A retried batch — same producer, epoch and sequences as one of the
//! producer's last [`BATCHES_KEPT`] batches on that partition — is answered with the
//! offset it was first stored at instead of being appended again; a batch that skips
//! ahead is refused with OUT_OF_ORDER_SEQUENCE_NUMBER; one from an older epoch with
//! INVALID_PRODUCER_EPOCH.
//!
//! The table of a partition is built on the first idempotent batch it receives
//! after the server starts, from the batch headers of the partition's tail (at most
//! [`REBUILD_RECORDS`] records and [`REBUILD_BYTES_MAX`] bytes): the log stores
//! batches as producers sent them, headers included, so nothing else is persisted.
//! A producer Brook has no state for (new, or idle beyond that tail) may start at
//! any sequence, as Kafka lets a producer continue after its state expired.
//!
//! Checking and appending happen under the partition table's lock, so two copies
//! of a batch sent on two connections cannot both be appended.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use brook_broker::Partition;
use parking_lot::Mutex;

/// Batches remembered per producer and partition (Kafka keeps 5, the most a
/// producer may have in flight with idempotence).
pub const BATCHES_KEPT: usize = 5;
/// Producers remembered per partition; the least recently active are forgotten.
pub const PRODUCERS_PER_PARTITION_MAX: usize = 10_000;
/// Partition tables kept before tables of deleted topics are dropped.
const TABLES_MAX: usize = 100_000;
/// How far back the rebuild after a restart looks.
pub const REBUILD_RECORDS: u64 = 20_000;
pub const REBUILD_BYTES_MAX: usize = 32 * 1024 * 1024;

/// The producer fields of a RecordBatch v2 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerBatch {
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

impl ProducerBatch {
    /// The batch's producer fields, if it comes from an idempotent producer.
    pub fn of(batch: &[u8]) -> Option<ProducerBatch> {
        let i64_at = |at: usize| {
            batch
                .get(at..at + 8)?
                .try_into()
                .ok()
                .map(i64::from_be_bytes)
        };
        let i32_at = |at: usize| {
            batch
                .get(at..at + 4)?
                .try_into()
                .ok()
                .map(i32::from_be_bytes)
        };
        let producer_id = i64_at(43)?;
        let epoch = i16::from_be_bytes(batch.get(51..53)?.try_into().ok()?);
        let base_sequence = i32_at(53)?;
        let record_count = i32_at(57)?;
        (producer_id >= 0 && base_sequence >= 0 && record_count > 0).then_some(ProducerBatch {
            producer_id,
            epoch,
            base_sequence,
            record_count,
        })
    }

    /// The sequence of the batch's last record (sequences wrap at `i32::MAX`).
    pub fn last_sequence(&self) -> i32 {
        let last = i64::from(self.base_sequence) + i64::from(self.record_count) - 1;
        (last % (i64::from(i32::MAX) + 1)) as i32
    }
}

fn next_sequence(seq: i32) -> i32 {
    if seq == i32::MAX {
        0
    } else {
        seq + 1
    }
}

/// Why an idempotent batch is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    #[error("out of order sequence number: expected {expected}, got {got}")]
    OutOfOrder { expected: i32, got: i32 },
    #[error("producer epoch {got} is older than the current epoch {current}")]
    StaleEpoch { current: i16, got: i16 },
}

/// What to do with an idempotent batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Append,
    /// Already stored, at this base offset.
    Duplicate {
        base_offset: u64,
    },
}

#[derive(Debug, Clone)]
struct Producer {
    epoch: i16,
    /// `(first sequence, last sequence, base offset)` of the latest batches.
    batches: VecDeque<(i32, i32, u64)>,
    last_offset: u64,
}

/// The producers of one partition.
#[derive(Debug, Default)]
pub struct ProducerTable {
    producers: HashMap<i64, Producer>,
    loaded: bool,
}

impl ProducerTable {
    pub fn check(&self, b: &ProducerBatch) -> Result<Verdict, SequenceError> {
        let Some(p) = self.producers.get(&b.producer_id) else {
            return Ok(Verdict::Append);
        };
        if b.epoch < p.epoch {
            return Err(SequenceError::StaleEpoch {
                current: p.epoch,
                got: b.epoch,
            });
        }
        if b.epoch > p.epoch {
            // A new epoch starts its sequences again.
            return if b.base_sequence == 0 {
                Ok(Verdict::Append)
            } else {
                Err(SequenceError::OutOfOrder {
                    expected: 0,
                    got: b.base_sequence,
                })
            };
        }
        if let Some(&(_, _, base_offset)) = p
            .batches
            .iter()
            .find(|(first, last, _)| *first == b.base_sequence && *last == b.last_sequence())
        {
            return Ok(Verdict::Duplicate { base_offset });
        }
        let expected = p
            .batches
            .back()
            .map_or(b.base_sequence, |&(_, last, _)| next_sequence(last));
        if b.base_sequence == expected {
            Ok(Verdict::Append)
        } else {
            Err(SequenceError::OutOfOrder {
                expected,
                got: b.base_sequence,
            })
        }
    }

    /// Records an appended batch.
    pub fn record(&mut self, b: &ProducerBatch, base_offset: u64) {
        if !self.producers.contains_key(&b.producer_id)
            && self.producers.len() >= PRODUCERS_PER_PARTITION_MAX
        {
            if let Some(oldest) = self
                .producers
                .iter()
                .min_by_key(|(_, p)| p.last_offset)
                .map(|(id, _)| *id)
            {
                self.producers.remove(&oldest);
            }
        }
        let p = self.producers.entry(b.producer_id).or_insert(Producer {
            epoch: b.epoch,
            batches: VecDeque::new(),
            last_offset: base_offset,
        });
        if b.epoch != p.epoch {
            p.epoch = b.epoch;
            p.batches.clear();
        }
        if p.batches.len() == BATCHES_KEPT {
            p.batches.pop_front();
        }
        p.batches
            .push_back((b.base_sequence, b.last_sequence(), base_offset));
        p.last_offset = base_offset;
    }

    /// Fills the table from the partition's tail once after start.
    fn load(&mut self, partition: &Partition) {
        if self.loaded {
            return;
        }
        self.loaded = true;
        let marks = partition.marks();
        let mut from = marks
            .high_watermark
            .saturating_sub(REBUILD_RECORDS)
            .max(marks.log_start);
        let mut read = 0usize;
        while from < marks.high_watermark && read < REBUILD_BYTES_MAX {
            let entries = match partition.read(from, 4 * 1024 * 1024) {
                Ok(entries) => entries,
                Err(error) => {
                    tracing::warn!(%error, "cannot rebuild idempotent-producer state");
                    return;
                }
            };
            let Some(last) = entries.last() else { break };
            from = last.meta.next_offset();
            for e in &entries {
                read += e.bytes.len();
                if let Some(b) = ProducerBatch::of(&e.bytes) {
                    self.record(&b, e.meta.base_offset);
                }
            }
        }
    }
}

/// A partition's table, locked while a batch is checked and appended.
pub type SharedTable = Arc<Mutex<ProducerTable>>;

/// The producer tables of every partition, by topic ID and partition.
#[derive(Debug, Default)]
pub struct Producers {
    tables: Mutex<HashMap<(String, u32), SharedTable>>,
}

impl Producers {
    /// The table of a partition, loaded from its tail if this is its first use.
    pub fn table(
        &self,
        topic_id: &str,
        index: u32,
        partition: &Partition,
        live_topics: impl FnOnce() -> Vec<String>,
    ) -> SharedTable {
        let table = {
            let mut tables = self.tables.lock();
            if tables.len() >= TABLES_MAX && !tables.contains_key(&(topic_id.to_owned(), index)) {
                let live = live_topics();
                tables.retain(|(id, _), _| live.contains(id));
            }
            tables
                .entry((topic_id.to_owned(), index))
                .or_default()
                .clone()
        };
        table.lock().load(partition);
        table
    }
}

/// The Kafka server's idempotence state.
#[derive(Debug, Default)]
pub struct Idempotence {
    pub producers: Producers,
    pub ids: ProducerIds,
}

/// Producer IDs: handed out by InitProducerId, unique across restarts (blocks of
/// IDs are reserved in the metadata log before use).
#[derive(Debug, Default)]
pub struct ProducerIds {
    state: tokio::sync::Mutex<(i64, i64)>,
}

/// IDs reserved per metadata-log write.
const ID_BLOCK: i64 = 1000;
const NEXT_ID_KEY: &[u8] = b"kp/next_producer_id";

impl ProducerIds {
    /// A new producer ID.
    pub async fn allocate(
        &self,
        broker: &brook_broker::Broker,
    ) -> Result<i64, brook_broker::MetaError> {
        let mut state = self.state.lock().await;
        let (next, end) = &mut *state;
        if *next >= *end {
            let stored = broker
                .meta()
                .get(NEXT_ID_KEY)
                .and_then(|v| <[u8; 8]>::try_from(&v[..]).ok())
                .map_or(0, i64::from_be_bytes);
            let start = stored.max(*next);
            let new_end = start + ID_BLOCK;
            broker
                .meta()
                .apply(
                    vec![(
                        bytes::Bytes::from_static(NEXT_ID_KEY),
                        Some(bytes::Bytes::copy_from_slice(&new_end.to_be_bytes())),
                    )],
                    brook_broker::now_ms(),
                )
                .await?;
            *next = start;
            *end = new_end;
        }
        let id = *next;
        *next += 1;
        Ok(id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn batch(producer_id: i64, epoch: i16, base_sequence: i32, record_count: i32) -> ProducerBatch {
        ProducerBatch {
            producer_id,
            epoch,
            base_sequence,
            record_count,
        }
    }

    #[test]
    fn retries_are_duplicates_gaps_are_refused_old_epochs_are_fenced() {
        let mut t = ProducerTable::default();
        let b0 = batch(1, 0, 0, 10);
        assert_eq!(t.check(&b0), Ok(Verdict::Append));
        t.record(&b0, 100);
        assert_eq!(t.check(&b0), Ok(Verdict::Duplicate { base_offset: 100 }));
        let b1 = batch(1, 0, 10, 5);
        assert_eq!(t.check(&b1), Ok(Verdict::Append));
        t.record(&b1, 110);
        assert_eq!(
            t.check(&batch(1, 0, 20, 1)),
            Err(SequenceError::OutOfOrder {
                expected: 15,
                got: 20
            })
        );
        assert_eq!(t.check(&b0), Ok(Verdict::Duplicate { base_offset: 100 }));
        // A new epoch restarts at 0; the old epoch is fenced after it.
        assert_eq!(
            t.check(&batch(1, 1, 3, 1)),
            Err(SequenceError::OutOfOrder {
                expected: 0,
                got: 3
            })
        );
        t.record(&batch(1, 1, 0, 1), 120);
        assert_eq!(
            t.check(&batch(1, 0, 15, 1)),
            Err(SequenceError::StaleEpoch { current: 1, got: 0 })
        );
        // Other producers are independent; unknown ones may start anywhere.
        assert_eq!(t.check(&batch(2, 0, 77, 1)), Ok(Verdict::Append));
    }

    #[test]
    fn only_the_last_batches_are_remembered_and_sequences_wrap() {
        let mut t = ProducerTable::default();
        for i in 0..(BATCHES_KEPT as i32 + 1) {
            t.record(&batch(1, 0, i, 1), i as u64);
        }
        assert_eq!(
            t.check(&batch(1, 0, 0, 1)),
            Err(SequenceError::OutOfOrder {
                expected: 6,
                got: 0
            }),
            "too old to be recognised"
        );
        let near_end = batch(3, 0, i32::MAX - 1, 2);
        assert_eq!(near_end.last_sequence(), i32::MAX);
        t.record(&near_end, 50);
        assert_eq!(t.check(&batch(3, 0, 0, 1)), Ok(Verdict::Append));
        assert_eq!(batch(3, 0, i32::MAX, 2).last_sequence(), 0);
    }

    #[test]
    fn producer_fields_are_read_from_the_batch_header() {
        let mut b = vec![0u8; 61];
        b[43..51].copy_from_slice(&7i64.to_be_bytes());
        b[51..53].copy_from_slice(&2i16.to_be_bytes());
        b[53..57].copy_from_slice(&40i32.to_be_bytes());
        b[57..61].copy_from_slice(&3i32.to_be_bytes());
        assert_eq!(ProducerBatch::of(&b), Some(batch(7, 2, 40, 3)));
        b[43..51].copy_from_slice(&(-1i64).to_be_bytes());
        assert_eq!(ProducerBatch::of(&b), None, "not idempotent");
        assert_eq!(ProducerBatch::of(&b[..50]), None);
    }
}
