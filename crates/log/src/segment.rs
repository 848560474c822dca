//! One segment: a file of entries (`<base>.log`) and its sparse index.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use brook_model::{StreamId, INDEX_INTERVAL_BYTES};

use crate::batch::{self, CorruptEntry, Entry, EntryMeta, ENTRY_LEN_MAX, KAFKA_HEADER_LEN};
use crate::index::{encode_index_file, FileIndex, IndexEntry, SegmentIndex, SegmentSummary};
use crate::storage::{Storage, StorageFile};

/// Bytes read per I/O when scanning a segment.
const SCAN_CHUNK_BYTES: usize = 1024 * 1024;

/// File space reserved at a time for write-behind entries (see [`Segment::reserve`]).
const RESERVE_CHUNK_BYTES: u64 = 1024 * 1024;

/// A write-behind buffer above this size is written by the appender itself
/// ([`Segment::buffer`] says so), which bounds the memory a stalled fsync can pin
/// and the write the fsync worker does before its fsync.
pub const WRITE_BEHIND_MAX_BYTES: usize = 1024 * 1024;

/// Entries above this size are written to the file by the appender, not buffered:
/// copying them costs more than the system call it saves, and their write overlaps
/// the fsync in flight instead of delaying the next one.
pub const WRITE_BEHIND_ENTRY_MAX_BYTES: u64 = 64 * 1024;

/// Sentinel of [`Segment::pending_from`]: nothing is waiting to be written.
const NOTHING_PENDING: u64 = u64::MAX;

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
    /// Entries appended under `always` that are not written to the file yet (the
    /// write-behind buffer): the fsync worker writes them just before its fsync, with
    /// one system call for all the appends the fsync covers. Invariant: the buffer's
    /// bytes end at `state.len`.
    pending: Mutex<Pending>,
    /// Held while pending bytes are being written, so a reader that needs them waits
    /// for a write in progress (see [`Segment::flush`]).
    flushing: Mutex<()>,
    /// The file position of the first byte not known to be in the file, or
    /// [`NOTHING_PENDING`]. Covers the bytes of a write in progress too.
    pending_from: AtomicU64,
    /// File space reserved up to here (`fallocate`, keeping the file's length), so
    /// that writing the buffer cannot fail for lack of space; 0 when nothing is.
    reserved_end: Mutex<u64>,
}

#[derive(Debug, Default)]
struct Pending {
    /// File position of `buf[0]`.
    start: u64,
    buf: Vec<u8>,
    /// An emptied buffer kept for its allocation.
    spare: Vec<u8>,
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
        Ok(Segment::new(base_offset, log_path, index_path, file))
    }

    fn new(
        base_offset: u64,
        log_path: PathBuf,
        index_path: PathBuf,
        file: Arc<dyn StorageFile>,
    ) -> Segment {
        Segment {
            base_offset,
            log_path,
            index_path,
            file,
            state: RwLock::new(SegState::empty(base_offset)),
            pending: Mutex::new(Pending::default()),
            flushing: Mutex::new(()),
            pending_from: AtomicU64::new(NOTHING_PENDING),
            reserved_end: Mutex::new(0),
        }
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
        let mut segment = Segment::new(base_offset, log_path, index_path, file);
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

    /// Where the bytes in the file end, as far as readers of entries are concerned:
    /// what follows is in the write-behind buffer, above the durable end (so above the
    /// high watermark under `always`, and nothing is buffered under other policies).
    pub fn written_len(&self) -> u64 {
        self.pending_from.load(Ordering::Acquire)
    }

    /// Reads `len` bytes at `pos`. Bytes still in the write-behind buffer are written
    /// first (only lookups of a position past the durable end need that).
    pub fn read_bytes(&self, pos: u64, len: usize) -> io::Result<Bytes> {
        if pos + len as u64 > self.pending_from.load(Ordering::Acquire) {
            self.flush()?;
        }
        Ok(Bytes::from(self.file.read_vec_at(len, pos)?))
    }

    /// Makes sure the file has room for the bytes from `pos` up to `end`, so that
    /// writing them later (from the write-behind buffer) cannot fail for lack of
    /// space: reserves [`RESERVE_CHUNK_BYTES`] ahead, or just up to `end` when that
    /// much is not free. `Ok(false)`: the file system cannot reserve space; write
    /// through instead. An error (a full disk) leaves nothing changed.
    pub fn reserve(&self, pos: u64, end: u64) -> io::Result<bool> {
        let mut reserved = self.reserved_end.lock();
        if end <= *reserved {
            return Ok(true);
        }
        let from = pos.max(*reserved);
        let ahead = end + RESERVE_CHUNK_BYTES;
        let result = match self.file.reserve(from, ahead - from) {
            Err(e) if e.kind() == io::ErrorKind::StorageFull => {
                self.file.reserve(from, end - from).map(|()| end)
            }
            other => other.map(|()| ahead),
        };
        match result {
            Ok(new_end) => {
                *reserved = new_end;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Cuts the file at `len` (a failed write's partial entry), which also frees the
    /// space reserved past it: the next `reserve` reserves again.
    pub fn cut(&self, len: u64) -> io::Result<()> {
        let mut reserved = self.reserved_end.lock();
        *reserved = 0;
        self.file.set_len(len)
    }

    /// Gives back the space reserved past the segment's end (it is sealed, or the
    /// partition closes: nothing more is written to it before a reserve).
    pub fn release_reservation(&self) -> io::Result<()> {
        let mut reserved = self.reserved_end.lock();
        if *reserved == 0 {
            return Ok(());
        }
        let len = self.state.read().len;
        if *reserved > len {
            self.file.set_len(len)?;
        }
        *reserved = 0;
        Ok(())
    }

    /// Whether the write-behind buffer holds more than [`WRITE_BEHIND_MAX_BYTES`]
    /// (the appender then writes it with [`Segment::flush`] before it adds more).
    pub fn buffer_full(&self) -> bool {
        self.pending.lock().buf.len() > WRITE_BEHIND_MAX_BYTES
    }

    /// Adds an entry's bytes (`parts`, one after the other) at `pos` to the
    /// write-behind buffer; `pos` is where the last buffered entry ends.
    pub fn buffer(&self, pos: u64, parts: &[&[u8]]) {
        let mut p = self.pending.lock();
        if p.buf.is_empty() {
            p.start = pos;
            if p.buf.capacity() == 0 {
                p.buf = std::mem::take(&mut p.spare);
            }
            // A write in progress keeps the mark at its own start.
            if self.pending_from.load(Ordering::Acquire) == NOTHING_PENDING {
                self.pending_from.store(pos, Ordering::Release);
            }
        }
        debug_assert_eq!(p.start + p.buf.len() as u64, pos);
        for part in parts {
            p.buf.extend_from_slice(part);
        }
    }

    /// Writes the write-behind buffer to the file (one system call). Appends may go on
    /// meanwhile (into a fresh buffer); a concurrent `flush` waits for this one. On an
    /// error the bytes stay buffered.
    pub fn flush(&self) -> io::Result<()> {
        if self.pending_from.load(Ordering::Acquire) == NOTHING_PENDING {
            return Ok(());
        }
        let _flushing = self.flushing.lock();
        let (start, buf) = {
            let mut p = self.pending.lock();
            if p.buf.is_empty() {
                return Ok(());
            }
            let fresh = std::mem::take(&mut p.spare);
            (p.start, std::mem::replace(&mut p.buf, fresh))
        };
        let written = self.file.write_all_at(&buf, start);
        let mut p = self.pending.lock();
        match written {
            Ok(()) => {
                let end = start + buf.len() as u64;
                debug_assert!(p.buf.is_empty() || p.start == end);
                let next = if p.buf.is_empty() {
                    NOTHING_PENDING
                } else {
                    end
                };
                self.pending_from.store(next, Ordering::Release);
                let mut buf = buf;
                buf.clear();
                if buf.capacity() <= WRITE_BEHIND_MAX_BYTES && p.spare.capacity() == 0 {
                    p.spare = buf;
                }
                Ok(())
            }
            Err(e) => {
                // Put the bytes back in front of what was buffered meanwhile.
                let mut buf = buf;
                buf.extend_from_slice(&p.buf);
                p.buf = buf;
                p.start = start;
                Err(e)
            }
        }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sim::SimStorage;

    fn segment(storage: &SimStorage) -> Segment {
        Segment::create(storage, Path::new("/p"), 0).unwrap()
    }

    #[test]
    fn buffered_bytes_reach_the_file_on_flush_and_readers_never_miss_them() {
        let storage = SimStorage::new();
        let seg = segment(&storage);
        assert!(seg.reserve(0, 7).unwrap());
        seg.buffer(0, &[b"abc", b"", b"d"]);
        seg.buffer(4, &[b"efg", b"", b""]);
        // Entry readers stop where the file's bytes end.
        assert_eq!(seg.written_len(), 0);
        // Not in the file yet: a reader that needs the bytes writes them first.
        assert_eq!(storage.read_file(&seg.log_path).unwrap(), b"");
        assert_eq!(&seg.read_bytes(2, 4).unwrap()[..], b"cdef");
        assert_eq!(storage.read_file(&seg.log_path).unwrap(), b"abcdefg");
        // Later entries start a new buffer where the file ends.
        assert_eq!(seg.written_len(), NOTHING_PENDING);
        seg.buffer(7, &[b"h", b"i", b"j"]);
        assert_eq!(seg.written_len(), 7);
        seg.flush().unwrap();
        seg.flush().unwrap();
        assert_eq!(storage.read_file(&seg.log_path).unwrap(), b"abcdefghij");
        assert_eq!(seg.pending_from.load(Ordering::Acquire), NOTHING_PENDING);
    }

    #[test]
    fn a_buffer_past_its_limit_asks_to_be_written() {
        let storage = SimStorage::new();
        let seg = segment(&storage);
        let chunk = vec![7u8; WRITE_BEHIND_MAX_BYTES / 2];
        seg.buffer(0, &[&chunk, b"", b""]);
        seg.buffer(chunk.len() as u64, &[&chunk, b"", b""]);
        assert!(!seg.buffer_full());
        seg.buffer(2 * chunk.len() as u64, &[b"x", b"", b""]);
        assert!(seg.buffer_full());
        seg.flush().unwrap();
        assert!(!seg.buffer_full());
    }

    #[test]
    fn reserved_space_takes_writes_that_a_full_disk_refuses() {
        let storage = SimStorage::new();
        let seg = segment(&storage);
        storage.set_space_left(Some(RESERVE_CHUNK_BYTES + 100));
        // A chunk ahead is reserved, so the next entries need no new space.
        assert!(seg.reserve(0, 100).unwrap());
        assert!(seg.reserve(100, 200).unwrap());
        storage.set_space_left(Some(0));
        assert!(seg.reserve(200, RESERVE_CHUNK_BYTES).unwrap());
        seg.buffer(0, &[&[1u8; 100], b"", b""]);
        seg.flush().unwrap();
        // Past the reservation, a full disk refuses the reservation, not the write.
        let err = seg.reserve(RESERVE_CHUNK_BYTES, 2 * RESERVE_CHUNK_BYTES + 200);
        assert_eq!(err.unwrap_err().kind(), io::ErrorKind::StorageFull);
        // With less room than a chunk ahead, exactly what is needed is reserved.
        storage.set_space_left(Some(50));
        let end = RESERVE_CHUNK_BYTES + 100 + 50;
        assert!(seg.reserve(RESERVE_CHUNK_BYTES, end).unwrap());
        assert_eq!(*seg.reserved_end.lock(), end);
        // A sealed segment gives back what it did not use.
        seg.release_reservation().unwrap();
        assert_eq!(*seg.reserved_end.lock(), 0);
    }

    #[test]
    fn cutting_off_a_failed_write_drops_the_reservation_with_it() {
        let storage = SimStorage::new();
        let seg = segment(&storage);
        assert!(seg.reserve(0, 100).unwrap());
        // A truncate frees the blocks past the cut, reserved ones too...
        seg.cut(0).unwrap();
        storage.set_space_left(Some(0));
        // ...so the next entry needs a reservation of its own, which a full disk
        // refuses (rather than a later write of the buffer failing).
        let err = seg.reserve(0, 100).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    }
}
