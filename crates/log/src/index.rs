//! The sparse segment index: one entry per ~[`INDEX_INTERVAL_BYTES`] of segment data,
//! with three monotonic columns — relative offset, running max timestamp, first stream
//! ID — so one file serves as the offset index, the time index and the stream-ID index.
//!
//! The active segment keeps its index in memory. When a segment is sealed (or at clean
//! shutdown) the index is written to `<base>.idx` after the segment data is fsynced,
//! with the segment length it covers; at open, an index whose covered length differs
//! from the segment's is stale and is rebuilt by scanning. Sealed indexes are searched
//! with positional reads, so memory does not grow with retained history.
//!
//! [`INDEX_INTERVAL_BYTES`]: brook_model::INDEX_INTERVAL_BYTES

use std::io;
use std::sync::Arc;

use brook_model::StreamId;

use crate::storage::StorageFile;

pub const INDEX_MAGIC: &[u8; 8] = b"BRKIDX01";
pub const INDEX_HEADER_LEN: usize = 64;
pub const INDEX_ENTRY_LEN: usize = 32;

/// One sparse-index entry: the entry starting at `position` holds `rel_offset`
/// (relative to the segment base); `max_ts` is the largest timestamp at or before it;
/// `first_id` is its first stream ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub rel_offset: u32,
    pub position: u32,
    pub max_ts: i64,
    pub first_id: StreamId,
}

impl IndexEntry {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.rel_offset.to_be_bytes());
        out.extend_from_slice(&self.position.to_be_bytes());
        out.extend_from_slice(&self.max_ts.to_be_bytes());
        out.extend_from_slice(&self.first_id.to_be_bytes());
    }

    fn decode(b: &[u8; INDEX_ENTRY_LEN]) -> IndexEntry {
        let mut u4 = [0u8; 4];
        let mut u8b = [0u8; 8];
        let mut id = [0u8; 16];
        u4.copy_from_slice(&b[0..4]);
        let rel_offset = u32::from_be_bytes(u4);
        u4.copy_from_slice(&b[4..8]);
        let position = u32::from_be_bytes(u4);
        u8b.copy_from_slice(&b[8..16]);
        let max_ts = i64::from_be_bytes(u8b);
        id.copy_from_slice(&b[16..32]);
        IndexEntry {
            rel_offset,
            position,
            max_ts,
            first_id: StreamId::from_be_bytes(id),
        }
    }
}

/// What a sealed segment's index file says about the segment as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentSummary {
    pub covered_len: u64,
    pub next_offset: u64,
    pub max_ts: i64,
    pub first_id: Option<StreamId>,
    pub last_id: Option<StreamId>,
}

/// Encodes an index file.
pub fn encode_index_file(summary: &SegmentSummary, entries: &[IndexEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(INDEX_HEADER_LEN + entries.len() * INDEX_ENTRY_LEN);
    out.extend_from_slice(INDEX_MAGIC);
    out.extend_from_slice(&summary.covered_len.to_be_bytes());
    out.extend_from_slice(&summary.next_offset.to_be_bytes());
    out.extend_from_slice(&summary.max_ts.to_be_bytes());
    out.extend_from_slice(&summary.last_id.unwrap_or_default().to_be_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes()); // crc, patched below
    out.extend_from_slice(&[0u8; 8]);
    for e in entries {
        e.encode(&mut out);
    }
    let crc = crc32c::crc32c(&out);
    out[52..56].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Why an index file cannot be used (it is then rebuilt from the segment).
#[derive(Debug, thiserror::Error)]
pub enum IndexFileError {
    #[error("index file is malformed: {0}")]
    Malformed(&'static str),
    #[error("index covers {covered} bytes but the segment has {actual}")]
    Stale { covered: u64, actual: u64 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A sealed segment's on-disk index, searched with positional reads.
#[derive(Debug, Clone)]
pub struct FileIndex {
    file: Arc<dyn StorageFile>,
    count: u32,
}

impl FileIndex {
    /// Opens and fully checks an index file against the segment length.
    pub fn open(
        file: Arc<dyn StorageFile>,
        segment_len: u64,
    ) -> Result<(FileIndex, SegmentSummary), IndexFileError> {
        let len = file.len()?;
        if len < INDEX_HEADER_LEN as u64 || len > 64 * 1024 * 1024 {
            return Err(IndexFileError::Malformed("length"));
        }
        let mut bytes = vec![0u8; len as usize];
        file.read_exact_at(&mut bytes, 0)?;
        if &bytes[..8] != INDEX_MAGIC {
            return Err(IndexFileError::Malformed("magic"));
        }
        let u64_at = |at: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&bytes[at..at + 8]);
            u64::from_be_bytes(a)
        };
        let mut u4 = [0u8; 4];
        u4.copy_from_slice(&bytes[48..52]);
        let count = u32::from_be_bytes(u4);
        u4.copy_from_slice(&bytes[52..56]);
        let stored_crc = u32::from_be_bytes(u4);
        if len != (INDEX_HEADER_LEN + count as usize * INDEX_ENTRY_LEN) as u64 {
            return Err(IndexFileError::Malformed("entry count"));
        }
        let mut crc = crc32c::crc32c(&bytes[..52]);
        crc = crc32c::crc32c_append(crc, &[0; 4]);
        crc = crc32c::crc32c_append(crc, &bytes[56..]);
        if crc != stored_crc {
            return Err(IndexFileError::Malformed("crc"));
        }
        let covered_len = u64_at(8);
        if covered_len != segment_len {
            return Err(IndexFileError::Stale {
                covered: covered_len,
                actual: segment_len,
            });
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&bytes[32..48]);
        let first_id = if count > 0 {
            let mut e = [0u8; INDEX_ENTRY_LEN];
            e.copy_from_slice(&bytes[INDEX_HEADER_LEN..INDEX_HEADER_LEN + INDEX_ENTRY_LEN]);
            Some(IndexEntry::decode(&e).first_id)
        } else {
            None
        };
        let summary = SegmentSummary {
            covered_len,
            next_offset: u64_at(16),
            max_ts: u64_at(24) as i64,
            first_id,
            last_id: first_id.map(|_| StreamId::from_be_bytes(id)),
        };
        Ok((FileIndex { file, count }, summary))
    }

    /// Reads all entries (used when a sealed segment becomes active again).
    pub fn load_all(&self) -> io::Result<Vec<IndexEntry>> {
        (0..self.count).map(|i| self.get(i)).collect()
    }

    fn get(&self, i: u32) -> io::Result<IndexEntry> {
        let mut b = [0u8; INDEX_ENTRY_LEN];
        self.file.read_exact_at(
            &mut b,
            (INDEX_HEADER_LEN + i as usize * INDEX_ENTRY_LEN) as u64,
        )?;
        Ok(IndexEntry::decode(&b))
    }
}

/// An index being searched: in memory (active segment) or in a file (sealed).
#[derive(Debug, Clone)]
pub enum SegmentIndex {
    Memory(Vec<IndexEntry>),
    File(FileIndex),
}

impl SegmentIndex {
    fn len(&self) -> u32 {
        match self {
            SegmentIndex::Memory(v) => v.len() as u32,
            SegmentIndex::File(f) => f.count,
        }
    }

    fn get(&self, i: u32) -> io::Result<IndexEntry> {
        match self {
            SegmentIndex::Memory(v) => v
                .get(i as usize)
                .copied()
                .ok_or_else(|| io::ErrorKind::InvalidInput.into()),
            SegmentIndex::File(f) => f.get(i),
        }
    }

    /// The position of the last index entry for which `before(entry)` holds (entries
    /// are ordered so that `before` is true for a prefix), or 0.
    pub fn seek(&self, before: impl Fn(&IndexEntry) -> bool) -> io::Result<u64> {
        let (mut lo, mut hi) = (0u32, self.len());
        // Invariant: before() holds for all entries < lo and fails for all >= hi.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if before(&self.get(mid)?) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == 0 {
            Ok(0)
        } else {
            Ok(u64::from(self.get(lo - 1)?.position))
        }
    }
}
