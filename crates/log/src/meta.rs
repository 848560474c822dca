//! A small durable key-value store on top of a [`Partition`]: Brook's metadata log.
//!
//! Topic definitions, strings, and consumer-group state are stored as records whose
//! key is the entry's key and whose value is its value; a record without a value is a
//! deletion (tombstone). Writes reuse the partition's group commit, CRCs and crash
//! recovery: one [`MetaLog::apply`] of at most [`APPLY_RECORDS_MAX`] changes is one
//! log entry, so it is applied entirely or not at all after a crash.
//!
//! Keys under the *external prefix* (consumer-group state, which its owner keeps in
//! its own structures) are not kept in memory here: [`MetaLog::open`] hands their
//! replayed state to the caller, and compaction asks the caller for them again.
//!
//! Compaction: when the log is much larger than the live state, the live state is
//! appended again as fresh records ([`MetaLog::snapshot_internal`] and
//! [`MetaLog::append_snapshot`], each under the lock that orders that state's
//! writes), and the log start is moved to the first of them
//! ([`MetaLog::finish_compaction`]). Every live key's latest value is then at or after
//! the new start. A crash mid-compaction leaves old records followed by part of the
//! copy, and replaying that in order yields the same state.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use brook_model::{IdSpec, Record};

use crate::partition::{AppendError, Partition, ReadError, WaitError};

/// Compaction pays off when the log is larger than this and than twice the live state.
pub const COMPACT_BYTES_MIN: u64 = 16 * 1024 * 1024;
/// Most changes one atomic apply may carry.
pub const APPLY_RECORDS_MAX: usize = 10_000;
/// Records per entry when writing large change lists and snapshots.
const CHUNK_RECORDS: usize = 5_000;

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
    #[error("metadata log: {count} changes in one atomic apply; at most {max}")]
    TooManyChanges { count: usize, max: usize },
}

#[derive(Debug)]
pub struct MetaLog {
    partition: Arc<Partition>,
    external_prefix: Option<Bytes>,
    state: Mutex<BTreeMap<Bytes, Bytes>>,
}

fn meta_record(key: &Bytes, value: Option<&Bytes>, now_ms: u64) -> (IdSpec, Record) {
    (
        IdSpec::Auto,
        Record {
            timestamp_ms: now_ms as i64,
            key: Some(key.clone()),
            value: value.cloned(),
            headers: Vec::new(),
        },
    )
}

impl MetaLog {
    /// Replays the partition. Returns the log and the live records under
    /// `external_prefix` (which the log does not keep).
    pub fn open(
        partition: Arc<Partition>,
        external_prefix: Option<Bytes>,
    ) -> Result<(MetaLog, Vec<(Bytes, Bytes)>), MetaError> {
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
        let mut external = Vec::new();
        if let Some(prefix) = &external_prefix {
            let keys: Vec<Bytes> = state
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, _)| k.clone())
                .collect();
            for k in keys {
                if let Some(v) = state.remove(&k) {
                    external.push((k, v));
                }
            }
        }
        Ok((
            MetaLog {
                partition,
                external_prefix,
                state: Mutex::new(state),
            },
            external,
        ))
    }

    pub fn get(&self, key: &[u8]) -> Option<Bytes> {
        self.state.lock().get(key).cloned()
    }

    /// All entries whose key starts with `prefix`, in key order (not external ones).
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
        let next = self.apply_nowait(changes, now_ms)?;
        self.partition.wait_durable(next).await?;
        Ok(())
    }

    /// Applies changes atomically without waiting for durability; returns the offset
    /// to pass to [`Partition::wait_durable`] on [`MetaLog::partition`].
    pub fn apply_nowait(&self, changes: Vec<MetaChange>, now_ms: u64) -> Result<u64, MetaError> {
        if changes.len() > APPLY_RECORDS_MAX {
            return Err(MetaError::TooManyChanges {
                count: changes.len(),
                max: APPLY_RECORDS_MAX,
            });
        }
        if changes.is_empty() {
            return Ok(0);
        }
        let records: Vec<(IdSpec, Record)> = changes
            .iter()
            .map(|(k, v)| meta_record(k, v.as_ref(), now_ms))
            .collect();
        let mut state = self.state.lock();
        let appended = self.partition.append(&records, now_ms)?;
        for (k, v) in changes {
            if self.is_external(&k) {
                continue;
            }
            match v {
                Some(v) => state.insert(k, v),
                None => state.remove(&k),
            };
        }
        Ok(appended.next_offset)
    }

    /// Applies a change list of any length in chunks: each chunk is atomic, the whole
    /// is not. For changes whose partial application is harmless (deleting many
    /// keys). Returns the offset to wait for.
    pub fn apply_chunked_nowait(
        &self,
        changes: Vec<MetaChange>,
        now_ms: u64,
    ) -> Result<u64, MetaError> {
        let mut next = 0;
        for chunk in changes.chunks(CHUNK_RECORDS) {
            next = self.apply_nowait(chunk.to_vec(), now_ms)?;
        }
        Ok(next)
    }

    fn is_external(&self, key: &[u8]) -> bool {
        self.external_prefix
            .as_ref()
            .is_some_and(|p| key.starts_with(p))
    }

    /// Whether compaction would pay off, given the size of the external state.
    pub fn needs_compaction(&self, external_bytes: u64) -> bool {
        let size = self.partition.size_bytes();
        if size < COMPACT_BYTES_MIN {
            return false;
        }
        let internal: u64 = self
            .state
            .lock()
            .iter()
            .map(|(k, v)| (k.len() + v.len() + 32) as u64)
            .sum();
        size > 2 * (internal + external_bytes)
    }

    /// Compaction step 1: rewrites the in-memory state. Returns the first offset of
    /// the copy: pass it to [`MetaLog::finish_compaction`].
    pub fn snapshot_internal(&self, now_ms: u64) -> Result<u64, MetaError> {
        let state = self.state.lock();
        let start = self.partition.marks().log_end;
        let entries: Vec<(&Bytes, &Bytes)> = state.iter().collect();
        for chunk in entries.chunks(CHUNK_RECORDS) {
            let records: Vec<(IdSpec, Record)> = chunk
                .iter()
                .map(|(k, v)| meta_record(k, Some(v), now_ms))
                .collect();
            self.partition.append(&records, now_ms)?;
        }
        Ok(start)
    }

    /// Compaction step 2 (once per external owner, under the lock that orders its
    /// writes): rewrites live external records.
    pub fn append_snapshot(
        &self,
        records: Vec<(Bytes, Bytes)>,
        now_ms: u64,
    ) -> Result<(), MetaError> {
        let _state = self.state.lock();
        for chunk in records.chunks(CHUNK_RECORDS) {
            let recs: Vec<(IdSpec, Record)> = chunk
                .iter()
                .map(|(k, v)| meta_record(k, Some(v), now_ms))
                .collect();
            self.partition.append(&recs, now_ms)?;
        }
        Ok(())
    }

    /// Compaction step 3: makes the copy durable and drops what precedes it.
    pub fn finish_compaction(&self, start: u64) -> Result<(), MetaError> {
        let before = self.partition.size_bytes();
        let end = self.partition.marks().log_end;
        self.partition.wait_durable_blocking(end)?;
        self.partition.trim_to(start)?;
        tracing::info!(
            before_bytes = before,
            after_bytes = self.partition.size_bytes(),
            "compacted metadata log"
        );
        Ok(())
    }

    pub fn partition(&self) -> &Arc<Partition> {
        &self.partition
    }
}
