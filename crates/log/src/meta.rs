//! A small durable key-value store on top of a [`Partition`]: Brook's metadata log.
//!
//! Topic definitions and configs, and (in later issues) consumer-group state, are
//! stored as records whose key is the entry's key and whose value is its value; a
//! record without a value is a deletion (tombstone). The whole state is replayed into
//! memory at open. Writes reuse the partition's group commit, CRCs and crash recovery:
//! a batch of puts and deletes ([`MetaLog::apply`]) is one log entry, so it is applied
//! entirely or not at all after a crash.
//!
//! Compaction: when the log holds much more than the live state, the live state is
//! appended again as fresh records and the log start is moved to the first of them,
//! which drops the old segments. A crash mid-compaction leaves old records followed by
//! part of the copy, and replaying that in order yields the same state.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use brook_model::{IdSpec, Record};

use crate::partition::{AppendError, Partition, ReadError, WaitError};

/// Compact when the log is larger than this and than twice the live state.
const COMPACT_BYTES_MIN: u64 = 4 * 1024 * 1024;
/// Records per batch when rewriting the live state.
const COMPACT_BATCH_RECORDS: usize = 1000;

/// One change: `Some(value)` puts, `None` deletes.
pub type MetaChange = (Bytes, Option<Bytes>);

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("metadata log: {0}")]
    Append(#[from] AppendError),
    #[error("metadata log: {0}")]
    Read(#[from] ReadError),
    #[error("metadata log: {0}")]
    Wait(#[from] WaitError),
    #[error("metadata log: record at offset {offset} has no key")]
    NoKey { offset: u64 },
}

#[derive(Debug)]
pub struct MetaLog {
    partition: Arc<Partition>,
    state: Mutex<BTreeMap<Bytes, Bytes>>,
}

impl MetaLog {
    /// Replays the partition into memory.
    pub fn open(partition: Arc<Partition>) -> Result<MetaLog, MetaError> {
        let mut state = BTreeMap::new();
        let mut next = partition.marks().log_start;
        loop {
            let records = partition.read_records(next, 10_000, 8 * 1024 * 1024)?;
            let Some(last) = records.last() else { break };
            next = last.offset + 1;
            for r in records {
                let key = r.key.ok_or(MetaError::NoKey { offset: r.offset })?;
                match r.value {
                    Some(v) => state.insert(key, v),
                    None => state.remove(&key),
                };
            }
        }
        Ok(MetaLog {
            partition,
            state: Mutex::new(state),
        })
    }

    pub fn get(&self, key: &[u8]) -> Option<Bytes> {
        self.state.lock().get(key).cloned()
    }

    /// All entries whose key starts with `prefix`, in key order.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Vec<(Bytes, Bytes)> {
        let state = self.state.lock();
        state
            .range(Bytes::copy_from_slice(prefix)..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Applies changes atomically and waits until they are durable.
    pub async fn apply(&self, changes: Vec<MetaChange>, now_ms: u64) -> Result<(), MetaError> {
        let next = self.apply_unsynced(changes, now_ms)?;
        self.partition.wait_durable(next).await?;
        self.maybe_compact(now_ms).await
    }

    /// Applies changes atomically without waiting for durability; returns the offset
    /// to pass to [`Partition::wait_durable`].
    fn apply_unsynced(&self, changes: Vec<MetaChange>, now_ms: u64) -> Result<u64, MetaError> {
        if changes.is_empty() {
            return Ok(0);
        }
        let records = changes
            .iter()
            .map(|(k, v)| (IdSpec::Auto, meta_record(k, v.as_ref(), now_ms)))
            .collect();
        let mut state = self.state.lock();
        let appended = self.partition.append(records, now_ms)?;
        for (k, v) in changes {
            match v {
                Some(v) => state.insert(k, v),
                None => state.remove(&k),
            };
        }
        Ok(appended.next_offset)
    }

    async fn maybe_compact(&self, now_ms: u64) -> Result<(), MetaError> {
        let size = self.partition.size_bytes();
        if size < COMPACT_BYTES_MIN {
            return Ok(());
        }
        let (start, next) = {
            let state = self.state.lock();
            let live: u64 = state
                .iter()
                .map(|(k, v)| (k.len() + v.len() + 32) as u64)
                .sum();
            if size < live * 2 {
                return Ok(());
            }
            let mut start = None;
            let mut next = 0;
            let entries: Vec<(&Bytes, &Bytes)> = state.iter().collect();
            for chunk in entries.chunks(COMPACT_BATCH_RECORDS) {
                let records = chunk
                    .iter()
                    .map(|(k, v)| (IdSpec::Auto, meta_record(k, Some(v), now_ms)))
                    .collect();
                let a = self.partition.append(records, now_ms)?;
                start.get_or_insert(a.base_offset);
                next = a.next_offset;
            }
            (start.unwrap_or(self.partition.marks().log_end), next)
        };
        self.partition.wait_durable(next).await?;
        self.partition.trim_to(start)?;
        tracing::info!(
            before_bytes = size,
            after_bytes = self.partition.size_bytes(),
            "compacted metadata log"
        );
        Ok(())
    }

    pub fn partition(&self) -> &Arc<Partition> {
        &self.partition
    }
}

fn meta_record(key: &Bytes, value: Option<&Bytes>, now_ms: u64) -> Record {
    Record {
        timestamp_ms: now_ms as i64,
        key: Some(key.clone()),
        value: value.cloned(),
        headers: Vec::new(),
    }
}
