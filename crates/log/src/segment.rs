//! One segment: a file of entries (`<base>.log`) and its sparse index.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

use brook_model::{StreamId, INDEX_INTERVAL_BYTES};

use crate::batch::{self, CorruptEntry, Entry, EntryMeta, ENTRY_LEN_MAX, KAFKA_HEADER_LEN};
use crate::index::{encode_index_file, FileIndex, IndexEntry, SegmentIndex, SegmentSummary};
use crate::storage::{Storage, StorageFile};

/// Bytes read per I/O when scanning a segment.
const SCAN_CHUNK_BYTES: usize = 1024 * 1024;

pub fn log_file_name(base_offset: u64) -> String {
    format!("{base_offset:020}.log")
}

pub fn index_file_name(base_offset: u64) -> String {
    format!("{base_offset:020}.idx")
}

/// Parses `<20 digits>.log` into a base offset.
pub fn parse_log_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Mutable state of a segment, guarded by the segment's lock.
#[derive(Debug, Clone)]
pub struct SegState {
    /// Bytes of complete, checked entries. Readers never read past it.
    pub len: u64,
    pub next_offset: u64,
    pub max_ts: i64,
    pub first_id: Option<StreamId>,
    pub last_id: Option<StreamId>,
    pub index: SegmentIndex,
    last_index_pos: Option<u64>,
    /// Where a sealed segment stops being readable, and why.
    pub corrupt: Option<(u64, CorruptEntry)>,
}

impl SegState {
    fn empty(base_offset: u64) -> SegState {
        SegState {
            len: 0,
            next_offset: base_offset,
            max_ts: i64::MIN,
            first_id: None,
            last_id: None,
            index: SegmentIndex::Memory(Vec::new()),
            last_index_pos: None,
            corrupt: None,
        }
    }

    /// Records that an entry was written at `pos` (in memory only).
    pub fn note_entry(&mut self, base_offset: u64, pos: u64, meta: &EntryMeta) {
        self.max_ts = self.max_ts.max(meta.max_timestamp_ms);
        let due = match self.last_index_pos {
            None => true,
            Some(last) => pos - last >= INDEX_INTERVAL_BYTES,
        };
        if due {
            if let SegmentIndex::Memory(v) = &mut self.index {
                v.push(IndexEntry {
                    rel_offset: (meta.base_offset - base_offset) as u32,
                    position: pos as u32,
                    max_ts: self.max_ts,
                    first_id: meta.first_id,
                });
                self.last_index_pos = Some(pos);
            }
        }
        self.len = pos + meta.entry_len as u64;
        self.next_offset = meta.next_offset();
        if self.first_id.is_none() {
            self.first_id = Some(meta.first_id);
        }
        self.last_id = Some(meta.last_id);
    }

    pub fn summary(&self) -> SegmentSummary {
        SegmentSummary {
            covered_len: self.len,
            next_offset: self.next_offset,
            max_ts: self.max_ts,
            first_id: self.first_id,
            last_id: self.last_id,
        }
    }
}

#[derive(Debug)]
pub struct Segment {
    pub base_offset: u64,
    pub log_path: PathBuf,
    pub index_path: PathBuf,
    pub file: Arc<dyn StorageFile>,
    pub state: RwLock<SegState>,
}

/// How a scan of a segment ended before its physical end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanStop {
    /// The last entry is incomplete (a torn write).
    Torn { position: u64 },
    /// An entry fails its checks.
    Corrupt { position: u64, error: CorruptEntry },
}

impl Segment {
    /// Creates a new, empty segment file.
    pub fn create(storage: &dyn Storage, dir: &Path, base_offset: u64) -> io::Result<Segment> {
        let log_path = dir.join(log_file_name(base_offset));
        let index_path = dir.join(index_file_name(base_offset));
        // An index left by a segment that recovery removed must not describe this one.
        if storage.exists(&index_path) {
            storage.remove_file(&index_path)?;
        }
        let file = storage.open(&log_path, true)?;
        file.set_len(0)?;
        Ok(Segment {
            base_offset,
            index_path,
            log_path,
            file,
            state: RwLock::new(SegState::empty(base_offset)),
        })
    }

    /// Opens an existing segment. With a valid index file its state comes from the
    /// index (no scan); otherwise the segment is scanned entry by entry. Returns how
    /// the scan stopped early, if it did; the caller decides what that means
    /// (truncate a torn tail of the active segment; refuse to serve past corruption in
    /// a sealed one).
    pub fn open(
        storage: &dyn Storage,
        dir: &Path,
        base_offset: u64,
    ) -> io::Result<(Segment, Option<ScanStop>)> {
        let log_path = dir.join(log_file_name(base_offset));
        let index_path = dir.join(index_file_name(base_offset));
        let file = storage.open(&log_path, false)?;
        let file_len = file.len()?;
        let mut segment = Segment {
            base_offset,
            log_path,
            index_path,
            file,
            state: RwLock::new(SegState::empty(base_offset)),
        };
        if storage.exists(&segment.index_path) {
            let idx_file = storage.open(&segment.index_path, false)?;
            match FileIndex::open(idx_file, file_len) {
                Ok((index, summary)) => {
                    let st = segment.state.get_mut();
                    st.len = summary.covered_len;
                    st.next_offset = summary.next_offset;
                    st.max_ts = summary.max_ts;
                    st.first_id = summary.first_id;
                    st.last_id = summary.last_id;
                    st.index = SegmentIndex::File(index);
                    return Ok((segment, None));
                }
                Err(e) => {
                    tracing::info!(segment = %segment.log_path.display(), error = %e, "rebuilding segment index");
                }
            }
        }
        let stop = segment.scan(file_len)?;
        Ok((segment, stop))
    }

    /// Scans the whole file, rebuilding the in-memory index and state.
    fn scan(&mut self, file_len: u64) -> io::Result<Option<ScanStop>> {
        let base_offset = self.base_offset;
        let mut st = SegState::empty(base_offset);
        let mut buf: Vec<u8> = Vec::new();
        let mut buf_pos: u64 = 0; // file position of buf[0]
        let mut pos: u64 = 0;
        let stop = loop {
            if pos >= file_len {
                break None;
            }
            let at = (pos - buf_pos) as usize;
            match batch::check_entry(&buf[at.min(buf.len())..]) {
                Ok(Some(meta)) => {
                    let expected = st.next_offset;
                    if meta.base_offset != expected {
                        break Some(ScanStop::Corrupt {
                            position: pos,
                            error: CorruptEntry::Count(meta.base_offset as i64 - expected as i64),
                        });
                    }
                    if st.last_id.is_some_and(|last| meta.first_id <= last) {
                        break Some(ScanStop::Corrupt {
                            position: pos,
                            error: CorruptEntry::StreamIds,
                        });
                    }
                    st.note_entry(base_offset, pos, &meta);
                    pos += meta.entry_len as u64;
                }
                Ok(None) => {
                    // Need more bytes: refill from `pos`.
                    let have = buf.len().saturating_sub(at);
                    if pos + have as u64 >= file_len {
                        break Some(ScanStop::Torn { position: pos });
                    }
                    let want = SCAN_CHUNK_BYTES
                        .max(have * 2)
                        .min(ENTRY_LEN_MAX + SCAN_CHUNK_BYTES);
                    let n = ((file_len - pos) as usize).min(want);
                    buf.resize(n, 0);
                    self.file.read_exact_at(&mut buf, pos)?;
                    buf_pos = pos;
                    if n < KAFKA_HEADER_LEN && pos + n as u64 >= file_len {
                        break Some(ScanStop::Torn { position: pos });
                    }
                }
                Err(error) => {
                    break Some(ScanStop::Corrupt {
                        position: pos,
                        error,
                    })
                }
            }
        };
        *self.state.get_mut() = st;
        Ok(stop)
    }

    /// Writes the index file for the current state. The segment data must already be
    /// durable (the index claims to cover it).
    pub fn write_index(&self, storage: &dyn Storage) -> io::Result<()> {
        let st = self.state.read().clone();
        let entries = match &st.index {
            SegmentIndex::Memory(v) => v.clone(),
            SegmentIndex::File(f) => f.load_all()?,
        };
        let bytes = encode_index_file(&st.summary(), &entries);
        storage.write_atomic(&self.index_path, &bytes)
    }

    /// After sealing: search the index file instead of memory.
    pub fn switch_to_file_index(&self, storage: &dyn Storage) -> io::Result<()> {
        let len = self.state.read().len;
        let file = storage.open(&self.index_path, false)?;
        let (index, _) = FileIndex::open(file, len).map_err(io::Error::other)?;
        self.state.write().index = SegmentIndex::File(index);
        Ok(())
    }

    /// Makes a sealed segment the active one again (its index goes back to memory and
    /// the now-stale index file is removed).
    pub fn reactivate(&self, storage: &dyn Storage, dir: &Path) -> io::Result<()> {
        let mut st = self.state.write();
        if let SegmentIndex::File(f) = &st.index {
            let entries = f.load_all()?;
            st.last_index_pos = entries.last().map(|e| u64::from(e.position));
            st.index = SegmentIndex::Memory(entries);
        }
        drop(st);
        if storage.exists(&self.index_path) {
            storage.remove_file(&self.index_path)?;
            storage.sync_dir(dir)?;
        }
        Ok(())
    }

    /// Whether the segment is searched through a valid index file, which marks a
    /// sealed segment (see `Partition::open`).
    pub fn has_index_file(&self) -> bool {
        matches!(self.state.read().index, SegmentIndex::File(_))
    }

    /// Reads `len` bytes at `pos`.
    pub fn read_bytes(&self, pos: u64, len: usize) -> io::Result<Bytes> {
        Ok(Bytes::from(self.file.read_vec_at(len, pos)?))
    }
}

/// Splits checked entries out of `chunk` (which starts at an entry boundary). Returns
/// the entries, how many bytes they span, and the error that stopped the split if an
/// entry is corrupt (the entries before it are good). Stops at the first incomplete
/// entry.
pub fn split_entries(chunk: &Bytes) -> (Vec<Entry>, usize, Option<CorruptEntry>) {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < chunk.len() {
        match batch::check_entry(&chunk[at..]) {
            Ok(Some(meta)) => {
                out.push(Entry {
                    meta,
                    bytes: chunk.slice(at..at + meta.entry_len),
                });
                at += meta.entry_len;
            }
            Ok(None) => break,
            Err(e) => return (out, at, Some(e)),
        }
    }
    (out, at, None)
}
