//! One partition: an ordered list of segments, the writer, group commit, reads,
//! trimming and retention.
//!
//! # Commit points and crash reasoning
//! - An entry is written with one positional write at the end of the active segment,
//!   then the in-memory state advances. A crash may leave a torn or partly written
//!   entry at the tail; recovery ([`Partition::open`]) checks the active segment entry
//!   by entry (lengths, both CRCs, offset continuity) and truncates at the first bad
//!   one. Nothing past that point was ever acknowledged under `always`, because
//!   acknowledgement waits for the fsync that covers the entry.
//! - Under `always` the high watermark (what readers see) is the durable end, so no
//!   reader acts on an entry a crash could take back.
//! - A roll only creates the next segment file and makes it the active one (on the
//!   appending thread, writer locked, no fsync). The fsync worker then *seals* the
//!   old segment: it fsyncs the old segment's data and the directory (which holds
//!   the new segment's entry), fsyncs the active segment, writes the old segment's
//!   index file atomically (temp + fsync + rename + directory fsync), and only then
//!   reports offsets past the old segment durable (while the disk is too full for
//!   the index file, offsets up to the old segment's end only, retried every second;
//!   any other error fails the partition like a failed fsync). So an index file
//!   marks a sealed segment, and nothing after an unsealed segment was ever
//!   acknowledged under `always`. After a failed fsync nothing more is reported
//!   durable (a later fsync that succeeds proves nothing). An index file is trusted
//!   only if it covers exactly the segment's length; otherwise it is rebuilt by
//!   scanning.
//! - A crash between a roll and its seal can leave the old segment with a torn tail
//!   (or short by whole entries) and later segments holding data written after it.
//!   Unsealed segments are recovered like the active one: the log is cut at the
//!   first of the segments after the last indexed one that ends early or does not
//!   reach the next one's base, and the segments after it are removed (nothing in
//!   them was acknowledged under `always`). An early end in an indexed segment, or
//!   before one, is corruption: reported (at open if the segment is scanned, else
//!   when a read reaches it), never served, the file left as it is. What
//!   recovery keeps but finds unindexed is fsynced (with the directory) before the
//!   partition opens, since it is then reported durable.
//! - The log-start offset and the last stream ID live in `partition.meta`, replaced
//!   atomically. It is written *before* trimmed segments are deleted, so a crash in
//!   between leaves segments that recovery deletes again. Under the interval and
//!   `never` policies a trim can pass the durable end; a start that finds the log
//!   start past the recovered end rewrites it (the offsets there are used again, and
//!   the next start would drop them).
//! - An fsync failure leaves the page cache in an unknown state (it may have dropped
//!   the dirty pages), so the partition stops accepting appends until restart, when
//!   recovery re-reads what actually reached the disk.

use brook_model::metrics::Histogram;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use rustix::thread::futex;
use tokio::sync::watch;

use brook_model::{Durability, IdSpec, LogLimit, Record, StoredRecord, StreamId, StreamIdError};

use crate::batch::{self, CorruptEntry, EncodeError, Entry, ENTRY_LEN_MAX, KAFKA_HEADER_LEN};
use crate::deletions::{Deletions, DELETE_BATCH_MAX};
use crate::segment::{parse_log_file_name, ScanStop, Segment, WRITE_BEHIND_ENTRY_MAX_BYTES};
use crate::storage::Storage;
use crate::sync::{Removal, Syncer};

const CHECKPOINT_FILE: &str = "partition.meta";

thread_local! {
    /// Per-thread encode buffer: an append encodes into it and writes from it, so a
    /// busy writer does not allocate (and page-fault in) a fresh buffer per append.
    static ENCODE_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}
/// Smallest and largest file read when reading entries.
const READ_CHUNK_MIN: usize = 16 * 1024;
const READ_CHUNK_MAX: usize = 4 * 1024 * 1024;
/// Buffers larger than this are freed after use rather than kept.
const ENCODE_BUFFER_KEEP_BYTES: usize = 16 * 1024 * 1024;
const CHECKPOINT_MAGIC: &[u8; 8] = b"BRKPART1";
const CHECKPOINT_LEN: usize = 8 + 8 + 16 + 4;

/// Retention limits; `None` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    pub ms: Option<u64>,
    pub bytes: Option<u64>,
    pub records: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionConfig {
    pub durability: Durability,
    pub segment_bytes: u64,
    pub retention: Retention,
}

impl Default for PartitionConfig {
    fn default() -> Self {
        PartitionConfig {
            durability: Durability::Always,
            segment_bytes: brook_model::SEGMENT_BYTES_DEFAULT,
            retention: Retention::default(),
        }
    }
}

/// The positions of a partition. Invariant:
/// `log_start <= high_watermark <= log_end` and `durable_end <= log_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Marks {
    /// First offset that may be read (Kafka's log-start offset).
    pub log_start: u64,
    /// One past the last offset readers may see.
    pub high_watermark: u64,
    /// One past the last offset written.
    pub log_end: u64,
    /// One past the last offset known to be on stable storage.
    pub durable_end: u64,
    /// The partition refuses appends (fsync failure or closed).
    pub failed: bool,
    pub closed: bool,
}

/// Result of a successful append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub base_offset: u64,
    /// One stream ID per record, in order.
    pub ids: Vec<StreamId>,
    /// One past the last offset of the append (wait for durability up to here).
    pub next_offset: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("{0}")]
    StreamId(#[from] StreamIdError),
    #[error(
        "disk full: cannot write to {path}; the append was not stored, retry once space is freed"
    )]
    DiskFull { path: PathBuf },
    #[error("I/O error writing {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("partition {dir} refuses writes after an fsync failure ({reason}); restart brook to recover")]
    Failed { dir: PathBuf, reason: String },
    #[error("partition is closed")]
    Closed,
    #[error("the ID is smaller than the stored record {stored}")]
    IdBelowStored { stored: StreamId },
    #[error("invalid record batch: {0}")]
    InvalidBatch(CorruptEntry),
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("offset {requested} is out of range [{log_start}, {high_watermark}]")]
    OffsetOutOfRange {
        requested: u64,
        log_start: u64,
        high_watermark: u64,
    },
    #[error("corrupt data in {path} at byte {position}: {error}")]
    Corrupt {
        path: PathBuf,
        position: u64,
        error: CorruptEntry,
    },
    #[error("I/O error reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("I/O error opening partition {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("partition checkpoint {path} is invalid: {what}")]
    Checkpoint { path: PathBuf, what: &'static str },
    #[error("partition {path}: segment {base} does not continue the previous one (which ends at offset {expected})")]
    Gap {
        path: PathBuf,
        base: u64,
        expected: u64,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("partition refuses writes after an fsync failure; restart brook to recover")]
    Failed,
    #[error("partition is closed")]
    Closed,
}

/// Counters for metrics.
#[derive(Debug)]
pub struct PartitionStats {
    pub appends: AtomicU64,
    pub records: AtomicU64,
    pub bytes: AtomicU64,
    pub fsyncs: AtomicU64,
    /// Sum over fsyncs of how many appends each covered (group-commit batch size).
    pub appends_per_fsync_sum: AtomicU64,
    /// Total time spent in fsync calls, in nanoseconds.
    pub fsync_nanos: AtomicU64,
    /// Records and bytes of the entries read (by any reader).
    pub records_read: AtomicU64,
    pub bytes_read: AtomicU64,
    /// Latency of each fsync.
    pub fsync_seconds: Histogram,
    /// Appends each fsync made durable (the group-commit batch size).
    pub appends_per_fsync: Histogram,
    /// Duration of each segment roll (the next segment created; the old one is
    /// sealed later by the fsync worker), during which appends to the partition wait.
    pub roll_seconds: Histogram,
}

impl Default for PartitionStats {
    fn default() -> Self {
        PartitionStats {
            appends: AtomicU64::new(0),
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            fsyncs: AtomicU64::new(0),
            appends_per_fsync_sum: AtomicU64::new(0),
            fsync_nanos: AtomicU64::new(0),
            records_read: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            fsync_seconds: Histogram::latency(),
            appends_per_fsync: Histogram::new(brook_model::metrics::COUNT_BUCKETS),
            roll_seconds: Histogram::latency(),
        }
    }
}

#[derive(Debug)]
struct Writer {
    active: Arc<Segment>,
    /// Segments rolled over but not yet sealed, oldest first: their data, and the
    /// directory entry of the segment after them, are not known durable yet, and their
    /// index files are not written. `run_sync` seals them, off the appending thread.
    unsealed: Vec<Arc<Segment>>,
    /// Segments created by rolls so far, and how many of their directory entries a
    /// directory fsync is known to cover. Usually `unsealed` says the directory needs
    /// one, but a trim can take a rolled segment out of `unsealed` after the
    /// checkpoint's directory fsync and before the entry of the segment after it
    /// was synced.
    rolls: u64,
    dir_synced_rolls: u64,
    next_offset: u64,
    last_id: Option<StreamId>,
    log_start: u64,
    failed: Option<String>,
    closed: bool,
}

#[derive(Debug, Default)]
struct SyncFlags {
    in_flight: bool,
    requested: bool,
    /// When the armed timer (interval policy, or seal retry) fires, if one is armed.
    /// Several may be queued: a seal retry can be armed before a later interval
    /// timer; whichever fires requests an fsync.
    timer_at: Option<Instant>,
    last_sync: Option<Instant>,
    /// Appends written since the current fsync started, and how many of them were
    /// small (fewer than [`GATHER_SMALL_RECORDS`] records). Approximate: an append
    /// that lands while an fsync starts may be counted against either fsync; the
    /// counts only steer the gather wait.
    appends_since_sync: u64,
    small_since_sync: u64,
    /// How many appends the last fsync covered (and how many of them were small),
    /// and how long it took: the next fsync may wait (briefly) for about as many
    /// small appends to gather.
    last_covered: u64,
    last_covered_small: u64,
    last_fsync: Duration,
    /// The fsync worker is waiting for appends to gather (append notifies `gathered`).
    gathering: bool,
}

impl SyncFlags {
    /// Asks for an fsync: true if none is in flight and the caller must submit the
    /// partition to the fsync worker (see `Partition::submit_sync`); otherwise the
    /// fsync in flight is told to run again when done.
    fn ask(&mut self) -> bool {
        if self.in_flight {
            self.requested = true;
            return false;
        }
        self.in_flight = true;
        true
    }

    /// Whether the next fsync should wait for appends to gather (see
    /// `Partition::gather`): the last one covered several small appends, which were
    /// most of its appends, and fewer than that many have arrived since it started.
    /// (After a quiet spell the counts are old: the first append then may wait once,
    /// up to two fsync durations, for writers who are gone.)
    fn should_gather(&self) -> bool {
        self.last_covered_small > 1
            && self.last_covered_small.saturating_mul(2) > self.last_covered
            && self.small_since_sync < self.last_covered_small
    }
}

/// Why a sealed segment's index file could not be written, and the offset up to
/// which offsets may still be reported durable.
struct IndexFailure {
    limit: u64,
    path: PathBuf,
    error: io::Error,
}

/// How soon the fsync worker tries again to write a sealed segment's index file when
/// the disk was full (offsets after that segment are not reported durable until it
/// succeeds).
const SEAL_RETRY: Duration = Duration::from_secs(1);

/// Under the interval policy an fsync is also asked for every this many bytes
/// appended to a segment (see `Partition::sync_ahead`).
const SYNC_AHEAD_BYTES: u64 = 16 << 20;

/// Longest an fsync waits for appends to gather.
const GATHER_MAX: Duration = Duration::from_millis(1);
/// An append of fewer records than this is "small": the fsync waits for small
/// appends to gather, not for batches. Writers of batches (a pipeline of XADDs, a
/// producer's batch) spend the time between appends building the next one; holding
/// the fsync back for them serialises that work with the fsync instead of
/// overlapping them.
const GATHER_SMALL_RECORDS: u64 = 4;

/// See the module docs.
#[derive(Debug)]
pub struct Partition {
    dir: PathBuf,
    storage: Arc<dyn Storage>,
    syncer: Syncer,
    config: RwLock<PartitionConfig>,
    writer: Mutex<Writer>,
    segments: RwLock<Arc<Vec<Arc<Segment>>>>,
    marks: watch::Sender<Marks>,
    sync: Mutex<SyncFlags>,
    gathered: parking_lot::Condvar,
    trim_lock: Mutex<()>,
    /// Serialises the writing of sealed segments' index files (`index_sealed`).
    seal_lock: Mutex<()>,
    index_warnings: LogLimit,
    /// Threads blocked in `wait_durable_blocking` sleep on this futex word, which
    /// `update_marks` bumps when the durable end, a failure or close changes (and then
    /// wakes them all, if `blocking_waiters` says there are any). A futex and not a
    /// condition variable: woken threads re-check the marks without taking a shared
    /// mutex, so a group commit that releases 16 writers does not have them queue for
    /// one lock before they can append again.
    durable_epoch: AtomicU32,
    blocking_waiters: AtomicU32,
    deletions: Mutex<Deletions>,
    me: Weak<Partition>,
    pub stats: PartitionStats,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OpenError + '_ {
    move |source| OpenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

struct Checkpoint {
    log_start: u64,
    last_id: Option<StreamId>,
}

fn encode_checkpoint(cp: &Checkpoint) -> Vec<u8> {
    let mut out = Vec::with_capacity(CHECKPOINT_LEN);
    out.extend_from_slice(CHECKPOINT_MAGIC);
    out.extend_from_slice(&cp.log_start.to_be_bytes());
    out.extend_from_slice(&cp.last_id.unwrap_or_default().to_be_bytes());
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

fn decode_checkpoint(b: &[u8]) -> Result<Checkpoint, &'static str> {
    if b.len() != CHECKPOINT_LEN {
        return Err("length");
    }
    if &b[..8] != CHECKPOINT_MAGIC {
        return Err("magic");
    }
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&b[32..36]);
    if crc32c::crc32c(&b[..32]) != u32::from_be_bytes(crc) {
        return Err("crc");
    }
    let mut u = [0u8; 8];
    u.copy_from_slice(&b[8..16]);
    let mut id = [0u8; 16];
    id.copy_from_slice(&b[16..32]);
    let last_id = StreamId::from_be_bytes(id);
    Ok(Checkpoint {
        log_start: u64::from_be_bytes(u),
        last_id: (last_id != StreamId::ZERO).then_some(last_id),
    })
}

impl Partition {
    /// Opens (or creates) the partition in `dir` and recovers it. See the module docs.
    pub fn open(
        storage: Arc<dyn Storage>,
        syncer: Syncer,
        dir: PathBuf,
        config: PartitionConfig,
    ) -> Result<Arc<Partition>, OpenError> {
        if !storage.exists(&dir) {
            storage.create_dir_all(&dir).map_err(io_err(&dir))?;
            if let Some(parent) = dir.parent() {
                storage.sync_dir(parent).map_err(io_err(parent))?;
            }
        }
        let cp_path = dir.join(CHECKPOINT_FILE);
        let mut checkpoint = Checkpoint {
            log_start: 0,
            last_id: None,
        };
        if storage.exists(&cp_path) {
            let f = storage.open(&cp_path, false).map_err(io_err(&cp_path))?;
            let len = f.len().map_err(io_err(&cp_path))?;
            let mut b = vec![0u8; len.min(CHECKPOINT_LEN as u64 + 1) as usize];
            f.read_exact_at(&mut b, 0).map_err(io_err(&cp_path))?;
            checkpoint = decode_checkpoint(&b).map_err(|what| OpenError::Checkpoint {
                path: cp_path.clone(),
                what,
            })?;
        }
        let mut bases: Vec<u64> = storage
            .list_dir(&dir)
            .map_err(io_err(&dir))?
            .iter()
            .filter_map(|n| parse_log_file_name(n))
            .collect();
        bases.sort_unstable();

        // Segments wholly below the log start were trimmed; a crash (or a shutdown
        // before the remover got to them) may have left them.
        let mut trimmed = Vec::new();
        while bases.len() > 1 && bases[1] <= checkpoint.log_start {
            trimmed.push(bases.remove(0));
        }
        remove_segments_later(&syncer, &storage, &dir, trimmed, Vec::new());

        let mut opened = Vec::with_capacity(bases.len());
        for &base in &bases {
            opened.push(Segment::open(storage.as_ref(), &dir, base).map_err(io_err(&dir))?);
        }
        drop_after_unsealed_tail(storage.as_ref(), &dir, &mut opened).map_err(io_err(&dir))?;
        let not_indexed = seal_recovered(storage.as_ref(), &dir, &opened).map_err(io_err(&dir))?;

        let mut segments: Vec<Arc<Segment>> = Vec::with_capacity(opened.len().max(1));
        let last = opened.len().saturating_sub(1);
        for (i, (seg, stop)) in opened.into_iter().enumerate() {
            let base = seg.base_offset;
            if let Some(prev) = segments.last() {
                let expected = prev.state.read().next_offset;
                if prev.state.read().corrupt.is_some() {
                    // Its unreadable tail ends where this segment begins.
                    prev.state.write().next_offset = base;
                } else if expected != base {
                    return Err(OpenError::Gap {
                        path: dir.clone(),
                        base,
                        expected,
                    });
                }
            }
            match stop {
                None => {}
                Some(stop) if i == last => {
                    // The active segment: drop the torn or bad tail.
                    let (position, why) = match &stop {
                        ScanStop::Torn { position } => (*position, "torn write".to_string()),
                        ScanStop::Corrupt { position, error } => (*position, error.to_string()),
                    };
                    let file_len = seg.file.len().map_err(io_err(&seg.log_path))?;
                    tracing::warn!(
                        segment = %seg.log_path.display(), position, dropped_bytes = file_len - position, reason = %why,
                        "truncating the tail of the active segment"
                    );
                    seg.file.set_len(position).map_err(io_err(&seg.log_path))?;
                    seg.file.sync_data().map_err(io_err(&seg.log_path))?;
                }
                Some(ScanStop::Torn { position }) | Some(ScanStop::Corrupt { position, .. }) => {
                    let error = match stop {
                        Some(ScanStop::Corrupt { error, .. }) => error,
                        _ => CorruptEntry::Length(0),
                    };
                    tracing::error!(
                        segment = %seg.log_path.display(), position, %error,
                        "sealed segment is corrupt; records from this position on are not served"
                    );
                    seg.state.write().corrupt = Some((position, error));
                }
            }
            segments.push(Arc::new(seg));
        }
        let active = match segments.last() {
            Some(seg) => {
                seg.reactivate(storage.as_ref(), &dir)
                    .map_err(io_err(&dir))?;
                seg.clone()
            }
            None => {
                let seg = Segment::create(storage.as_ref(), &dir, checkpoint.log_start)
                    .map_err(io_err(&dir))?;
                storage.sync_dir(&dir).map_err(io_err(&dir))?;
                let seg = Arc::new(seg);
                segments.push(seg.clone());
                seg
            }
        };
        let (next_offset, seg_last_id) = {
            let st = active.state.read();
            (st.next_offset, st.last_id)
        };
        let last_id = segments
            .iter()
            .rev()
            .find_map(|s| s.state.read().last_id)
            .max(checkpoint.last_id)
            .max(seg_last_id);
        let first_base = segments.first().map_or(0, |s| s.base_offset);
        let log_start = checkpoint.log_start.max(first_base).min(next_offset);
        if checkpoint.log_start > next_offset {
            // A crash took back records a trim had passed (under the interval and
            // `never` policies readers, and so trims, reach past the durable end):
            // offsets from `next_offset` on are used again, so the start on disk must
            // not stay past them, or the next start would drop what is appended now.
            let cp_path = dir.join(CHECKPOINT_FILE);
            let cp = encode_checkpoint(&Checkpoint { log_start, last_id });
            storage
                .write_atomic(&cp_path, &cp)
                .map_err(io_err(&cp_path))?;
        }
        // Everything that survived recovery is on disk: it is durable.
        let marks = Marks {
            log_start,
            high_watermark: next_offset,
            log_end: next_offset,
            durable_end: next_offset,
            failed: false,
            closed: false,
        };
        let (marks_tx, _) = watch::channel(marks);
        // Recovered segments whose index file did not fit: sealed by the fsync worker
        // once there is room (their data is fsynced already).
        let unsealed: Vec<Arc<Segment>> = segments
            .iter()
            .filter(|s| not_indexed.contains(&s.base_offset))
            .cloned()
            .collect();
        let mut deletions = Deletions::open(storage.as_ref(), &dir).map_err(io_err(&dir))?;
        deletions
            .forget_from(storage.as_ref(), next_offset)
            .map_err(io_err(deletions.path()))?;
        Ok(Arc::new_cyclic(|me| Partition {
            dir,
            storage,
            syncer,
            config: RwLock::new(config),
            writer: Mutex::new(Writer {
                active,
                unsealed,
                rolls: 0,
                dir_synced_rolls: 0,
                next_offset,
                last_id,
                log_start,
                failed: None,
                closed: false,
            }),
            segments: RwLock::new(Arc::new(segments)),
            marks: marks_tx,
            sync: Mutex::new(SyncFlags::default()),
            gathered: parking_lot::Condvar::new(),
            trim_lock: Mutex::new(()),
            seal_lock: Mutex::new(()),
            index_warnings: LogLimit::new(Duration::from_secs(60)),
            durable_epoch: AtomicU32::new(0),
            blocking_waiters: AtomicU32::new(0),
            deletions: Mutex::new(deletions),
            me: me.clone(),
            stats: PartitionStats::default(),
        }))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> PartitionConfig {
        *self.config.read()
    }

    pub fn set_config(&self, config: PartitionConfig) {
        let durability_before = {
            let mut w = self.writer.lock();
            let before = std::mem::replace(&mut *self.config.write(), config).durability;
            // Readers are about to see everything appended: nothing may stay in the
            // write-behind buffer (and no append adds to it from now on).
            if before == Durability::Always && config.durability != Durability::Always {
                let active = w.active.clone();
                if let Err(e) = active.flush() {
                    let _ = self.fail(&mut w, &active.log_path, e);
                }
            }
            before
        };
        // A switch away from `always` makes everything written visible.
        self.update_marks(|_| {});
        if config.durability != durability_before {
            // What was written under the old policy may wait for a timer of the old
            // interval, or for nothing (`never`): fsync it now, then go on by the new.
            self.request_sync();
        }
    }

    pub fn marks(&self) -> Marks {
        *self.marks.borrow()
    }

    /// A receiver that changes whenever the marks change; use it to await new data.
    pub fn subscribe(&self) -> watch::Receiver<Marks> {
        self.marks.subscribe()
    }

    /// The largest stream ID ever assigned (or set), if any.
    pub fn last_id(&self) -> Option<StreamId> {
        self.writer.lock().last_id
    }

    /// Total bytes of segment data.
    pub fn size_bytes(&self) -> u64 {
        self.segments
            .read()
            .iter()
            .map(|s| s.state.read().len)
            .sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.read().len()
    }

    /// Updates the marks. Waiters (readers awaiting data, appenders awaiting
    /// durability) are woken only when something they wait on changed — not when
    /// only `log_end` moved, which under `always` happens on every append and would
    /// wake every waiter for nothing.
    fn update_marks(&self, f: impl FnOnce(&mut Marks)) {
        let visible_when_durable = self.config.read().durability.visible_when_durable();
        let mut durability_changed = false;
        self.marks.send_if_modified(|m| {
            let before = *m;
            f(m);
            let visible = if visible_when_durable {
                m.durable_end
            } else {
                m.log_end
            };
            m.high_watermark = m.high_watermark.max(visible).min(m.log_end);
            debug_assert!(m.log_start <= m.log_end);
            debug_assert!(m.durable_end <= m.log_end);
            durability_changed = (m.durable_end, m.failed, m.closed)
                != (before.durable_end, before.failed, before.closed);
            let mut quiet = *m;
            quiet.log_end = before.log_end;
            quiet != before
        });
        // Threads in `wait_durable_blocking` care about nothing else (under the
        // interval policy the high watermark moves on every append).
        if durability_changed {
            // SeqCst here and in `wait_durable_blocking`: either that thread sees the
            // new epoch (and does not sleep) or this one sees it waiting (and wakes it).
            self.durable_epoch.fetch_add(1, Ordering::SeqCst);
            if self.blocking_waiters.load(Ordering::SeqCst) > 0 {
                // Wake them all: the kernel reads the count as an `int` (`u32::MAX`
                // would be -1 and wake one). There is no error to expect for a
                // valid private futex word.
                let _ = futex::wake(&self.durable_epoch, futex::Flags::PRIVATE, i32::MAX as u32);
            }
        }
    }

    /// Appends records as one batch. The write reaches the OS before this returns;
    /// under `always`, the caller must await [`Partition::wait_durable`] with
    /// `next_offset` before acknowledging (readers will not see the records before
    /// that either). Either all records are appended or none.
    pub fn append(
        &self,
        records: &[(IdSpec, Record)],
        now_ms: u64,
    ) -> Result<Appended, AppendError> {
        self.append_formatted(records, 0, now_ms)
    }

    /// [`Partition::append`] with a record-format tag stored with the entry and
    /// returned with every record read from it.
    pub fn append_formatted(
        &self,
        records: &[(IdSpec, Record)],
        format: u8,
        now_ms: u64,
    ) -> Result<Appended, AppendError> {
        ENCODE_BUFFER.with(|cell| {
            let mut entry = cell.take();
            let result = self.append_encoded(records, format, now_ms, &mut entry);
            if entry.capacity() <= ENCODE_BUFFER_KEEP_BYTES {
                cell.replace(entry);
            }
            result
        })
    }

    fn append_encoded(
        &self,
        records: &[(IdSpec, Record)],
        format: u8,
        now_ms: u64,
        entry: &mut Vec<u8>,
    ) -> Result<Appended, AppendError> {
        batch::encode_batch(records.iter().map(|(_, r)| r), entry)?;
        let mut specs = records.iter().map(|(spec, _)| *spec);
        self.append_entry(entry, &[], &mut specs, records.len(), format, now_ms)
    }

    /// Appends a Kafka RecordBatch v2 as a producer encoded it (uncompressed), without
    /// re-encoding its records: the batch is checked
    /// ([`batch::check_kafka_batch`]), gets its base offset and automatic stream IDs,
    /// and is written as one entry (format tag 0). The producer's timestamps, keys,
    /// values, headers and producer fields are kept as sent.
    pub fn append_kafka_batch(
        &self,
        kafka_batch: &[u8],
        now_ms: u64,
    ) -> Result<Appended, AppendError> {
        let count = batch::check_kafka_batch(kafka_batch).map_err(AppendError::InvalidBatch)?;
        // Only the header is copied (to set the base offset and leader epoch); the
        // records are written from `kafka_batch` itself.
        let (header, body) = kafka_batch.split_at(batch::KAFKA_HEADER_LEN.min(kafka_batch.len()));
        ENCODE_BUFFER.with(|cell| {
            let mut entry = cell.take();
            entry.clear();
            entry.reserve(header.len() + 32 + count as usize * 4);
            entry.extend_from_slice(header);
            // Not covered by Kafka's CRC: the broker owns the leader epoch.
            entry[12..16].copy_from_slice(&0i32.to_be_bytes());
            let mut specs = std::iter::repeat_n(IdSpec::Auto, count as usize);
            let result = self.append_entry(&mut entry, body, &mut specs, count as usize, 0, now_ms);
            if entry.capacity() <= ENCODE_BUFFER_KEEP_BYTES {
                cell.replace(entry);
            }
            result
        })
    }

    /// Assigns offsets and stream IDs to an encoded batch, seals it and writes it.
    /// The batch is `entry` followed by `body` (empty when `entry` holds all of it;
    /// otherwise `entry` holds at least the batch header). `specs` yields `count` ID
    /// specs.
    fn append_entry(
        &self,
        entry: &mut Vec<u8>,
        body: &[u8],
        specs: &mut dyn Iterator<Item = IdSpec>,
        count: usize,
        format: u8,
        now_ms: u64,
    ) -> Result<Appended, AppendError> {
        let records_len = count;
        let count = count as u64;
        let mut w = self.writer.lock();
        if let Some(reason) = &w.failed {
            return Err(AppendError::Failed {
                dir: self.dir.clone(),
                reason: reason.clone(),
            });
        }
        if w.closed {
            return Err(AppendError::Closed);
        }
        let mut ids = Vec::with_capacity(records_len);
        let mut last = w.last_id;
        for spec in specs {
            // Runs of automatic IDs in one millisecond are consecutive: skip the rules.
            let id = match (spec, last) {
                (IdSpec::Auto, Some(prev)) if prev.ms >= now_ms && prev.seq < u64::MAX => {
                    StreamId::new(prev.ms, prev.seq + 1)
                }
                _ => spec.assign(last, now_ms)?,
            };
            ids.push(id);
            last = Some(id);
        }
        let base_offset = w.next_offset;
        let head_len = entry.len();
        let meta = if body.is_empty() {
            batch::seal_entry(entry, base_offset, &ids, format)
        } else {
            batch::seal_entry_split(entry, head_len + body.len(), base_offset, &ids, format)
        };
        let PartitionConfig {
            segment_bytes,
            durability,
            ..
        } = *self.config.read();
        let active_len = w.active.state.read().len;
        let rolled = active_len > 0 && active_len + meta.entry_len as u64 > segment_bytes;
        if rolled {
            self.roll(&mut w)?;
        }
        let active = w.active.clone();
        let pos = active.state.read().len;
        let (head, trailer) = if body.is_empty() {
            (&entry[..], &[][..])
        } else {
            entry.split_at(head_len)
        };
        let parts = [head, body, trailer];
        if let Err(e) = self.write_entry(&mut w, &active, pos, &parts, durability) {
            if rolled {
                // The old segment still gets sealed.
                drop(w);
                self.request_sync();
            }
            return Err(e);
        }
        active
            .state
            .write()
            .note_entry(active.base_offset, pos, &meta);
        w.next_offset = base_offset + count;
        w.last_id = last;
        let next_offset = w.next_offset;
        self.update_marks(|m| m.log_end = next_offset);
        drop(w);
        self.stats.appends.fetch_add(1, Ordering::Relaxed);
        self.stats.records.fetch_add(count, Ordering::Relaxed);
        self.stats
            .bytes
            .fetch_add(meta.entry_len as u64, Ordering::Relaxed);
        // The segment rolled over: seal it now, whatever the policy.
        let sync_now = rolled || durability == Durability::Always;
        // One lock for the count and the request: appends from several threads
        // contend for it.
        let submit = {
            let mut f = self.sync.lock();
            f.appends_since_sync += 1;
            if count < GATHER_SMALL_RECORDS {
                f.small_since_sync += 1;
            }
            if f.gathering && f.small_since_sync >= f.last_covered_small {
                self.gathered.notify_one();
            }
            sync_now && f.ask()
        };
        if submit {
            self.submit_sync();
        }
        match durability {
            Durability::Interval { ms } if !sync_now => {
                self.arm_timer(Duration::from_millis(ms));
                self.sync_ahead(pos, meta.entry_len as u64, segment_bytes, true);
            }
            Durability::Never if !sync_now => {
                self.sync_ahead(pos, meta.entry_len as u64, segment_bytes, false)
            }
            // Asked for above (`always`, or a roll).
            _ => {}
        }
        Ok(Appended {
            base_offset,
            ids,
            next_offset,
        })
    }

    /// Writes an entry (`parts`, one after the other) at `pos` of the active segment
    /// `seg`. Under `always` the bytes of a small entry go to the segment's
    /// write-behind buffer, once the file has room reserved for them: the fsync
    /// worker writes all the appends an fsync covers with one system call, off the
    /// appending thread (an append waits for that fsync anyway, and readers of
    /// entries stop where the file's bytes end). Otherwise (other policies, large
    /// entries, or where space cannot be reserved) they are written to the file
    /// now, after what is buffered. On an error nothing of the entry is written or
    /// buffered (a full disk: the append fails, later ones succeed once there is
    /// room).
    fn write_entry(
        &self,
        w: &mut Writer,
        seg: &Segment,
        pos: u64,
        parts: &[&[u8]; 3],
        durability: Durability,
    ) -> Result<(), AppendError> {
        let end = pos + parts.iter().map(|p| p.len() as u64).sum::<u64>();
        let io_error = |e| write_error(&seg.log_path, e);
        let behind = durability == Durability::Always
            && end - pos <= WRITE_BEHIND_ENTRY_MAX_BYTES
            && seg.reserve(pos, end).map_err(io_error)?;
        // What is buffered goes first: when a large entry follows small ones, or the
        // buffer is full (a stalled fsync must not pin unbounded memory). The entries
        // in it are accepted: if they cannot be written, as after a failed fsync.
        if !behind || seg.buffer_full() {
            seg.flush().map_err(|e| self.fail(w, &seg.log_path, e))?;
        }
        if behind {
            seg.buffer(pos, parts);
            return Ok(());
        }
        seg.file.write_all_vectored_at(parts, pos).map_err(|e| {
            // Drop whatever part of the entry reached the file.
            let _ = seg.cut(pos);
            io_error(e)
        })
    }

    /// Under the interval and `never` policies, asks for an fsync before the timer
    /// (or a roll) would (the entry at `pos`, `len` bytes, crossed a mark), so no
    /// fsync has a lot left to write and the appends waiting for one (acks=-1,
    /// WAITAOF) do not wait behind up to an interval's worth of dirty data:
    /// - when the active segment passes 3/4 and 15/16 of `segment_bytes`: the fsync
    ///   that seals the segment after its roll then has little left to write;
    /// - under the interval policy (`every_chunk`), also at every [`SYNC_AHEAD_BYTES`]
    ///   of the segment: the device writes while appends go on, instead of all at
    ///   once when the timer fires (the OS would start only once gigabytes are
    ///   dirty).
    fn sync_ahead(&self, pos: u64, len: u64, segment_bytes: u64, every_chunk: bool) {
        let crossed = |mark: u64| pos < mark && pos + len >= mark;
        let chunk = every_chunk && pos / SYNC_AHEAD_BYTES != (pos + len) / SYNC_AHEAD_BYTES;
        if chunk || crossed(segment_bytes / 4 * 3) || crossed(segment_bytes / 16 * 15) {
            self.request_sync();
        }
    }

    /// Starts a new active segment; the old one joins `Writer::unsealed` for
    /// `run_sync` to seal. Called with the writer locked, on the appending thread: it
    /// writes the old segment's write-behind bytes and creates a file, nothing more
    /// (no fsync), so appends to the partition, and the runtime worker the append
    /// runs on, wait microseconds, not the milliseconds to seconds an fsync can take.
    fn roll(&self, w: &mut Writer) -> Result<(), AppendError> {
        let started = Instant::now();
        // Once rolled, a segment's file is fsynced, not its write-behind buffer.
        if let Err(e) = w.active.flush() {
            let path = w.active.log_path.clone();
            return Err(self.fail(w, &path, e));
        }
        let new = Segment::create(self.storage.as_ref(), &self.dir, w.next_offset)
            .map_err(|e| write_error(&self.dir, e))?;
        let new = Arc::new(new);
        {
            let mut segs = self.segments.write();
            let mut v: Vec<Arc<Segment>> = segs.as_ref().clone();
            v.push(new.clone());
            *segs = Arc::new(v);
        }
        let old = std::mem::replace(&mut w.active, new);
        // Nothing more is written to it. (Failing leaves unused blocks allocated.)
        let _ = old.release_reservation();
        w.unsealed.push(old);
        w.rolls += 1;
        self.stats.roll_seconds.observe_duration(started.elapsed());
        Ok(())
    }

    /// Makes rolled-over segments durable: their data, then the directory (which
    /// holds the entries of the segments created after them). Until this returns, no
    /// offset past their start may be reported durable.
    ///
    /// `rolls`: the writer's roll count if a directory fsync may be missing for a
    /// segment not in `unsealed` (see `Writer::rolls`); the caller records it once
    /// this succeeds.
    fn seal_data(
        &self,
        unsealed: &[Arc<Segment>],
        rolls: Option<u64>,
    ) -> Result<(), (PathBuf, io::Error)> {
        if unsealed.is_empty() && rolls.is_none() {
            return Ok(());
        }
        for seg in unsealed {
            seg.file
                .sync_data()
                .map_err(|e| (seg.log_path.clone(), e))?;
        }
        self.storage
            .sync_dir(&self.dir)
            .map_err(|e| (self.dir.clone(), e))
    }

    /// After [`Partition::seal_data`]: writes the index files of `sealed`, oldest
    /// first, and searches them instead of memory from then on, taking each out of
    /// `Writer::unsealed`. An index file marks a sealed segment (see
    /// `Partition::open`), so it is written before any offset after the segment is
    /// reported durable: on a failure this stops and reports the end of the segment it
    /// failed on, the limit of what may be reported durable until a retry succeeds.
    /// Segments trimmed away meanwhile, or sealed already by a concurrent call (`close`
    /// and the fsync worker), are skipped.
    fn index_sealed(&self, sealed: &[Arc<Segment>]) -> Result<(), IndexFailure> {
        let _seal = self.seal_lock.lock();
        for seg in sealed {
            let pending = self
                .writer
                .lock()
                .unsealed
                .iter()
                .any(|u| Arc::ptr_eq(u, seg));
            if !pending {
                continue;
            }
            let listed = || self.segments.read().iter().any(|s| Arc::ptr_eq(s, seg));
            if listed() {
                let indexed = seg
                    .write_index(self.storage.as_ref())
                    .and_then(|()| seg.switch_to_file_index(self.storage.as_ref()));
                // Trimmed meanwhile, the remover may have taken the files away
                // under the index writer: that is no failure.
                if let Err(error) = indexed.or_else(|e| if listed() { Err(e) } else { Ok(()) }) {
                    // Retried every second while the disk is full: a line per minute.
                    if let Some(suppressed) = self.index_warnings.allow() {
                        tracing::warn!(segment = %seg.log_path.display(), %error, suppressed, "cannot write the index of a sealed segment");
                    }
                    return Err(IndexFailure {
                        limit: seg.state.read().next_offset,
                        path: seg.index_path.clone(),
                        error,
                    });
                }
                if !listed() {
                    // Trimmed meanwhile: its files are being removed, this one too.
                    let _ = self.storage.remove_file(&seg.index_path);
                }
            }
            self.writer.lock().unsealed.retain(|u| !Arc::ptr_eq(u, seg));
        }
        Ok(())
    }

    /// After `run_sync` panicked: the partition fails as after a failed fsync
    /// (appends are refused, waiters get [`WaitError::Failed`]) rather than leave
    /// them waiting for an fsync that never comes.
    pub(crate) fn sync_panicked(&self) {
        let mut w = self.writer.lock();
        let path = w.active.log_path.clone();
        let _ = self.fail(&mut w, &path, io::Error::other("the fsync worker panicked"));
        drop(w);
        self.sync.lock().in_flight = false;
    }

    fn fail(&self, w: &mut Writer, path: &Path, e: io::Error) -> AppendError {
        // Writes of buffered appends, fsyncs and seals all end here.
        let reason = format!("making {} durable failed: {e}", path.display());
        tracing::error!(partition = %self.dir.display(), %reason, "partition stops accepting appends");
        w.failed = Some(reason.clone());
        self.update_marks(|m| m.failed = true);
        AppendError::Failed {
            dir: self.dir.clone(),
            reason,
        }
    }

    fn request_sync(&self) {
        let submit = self.sync.lock().ask();
        if submit {
            self.submit_sync();
        }
    }

    /// Hands the partition to an fsync worker, after [`SyncFlags::ask`] said to.
    fn submit_sync(&self) {
        if let Some(me) = self.me.upgrade() {
            self.syncer.submit(me);
        }
    }

    fn arm_timer(&self, interval: Duration) {
        let mut f = self.sync.lock();
        let now = Instant::now();
        let due = f.last_sync.map_or(now, |t| t + interval).max(now);
        if f.timer_at.is_some_and(|at| at <= due) {
            return; // A timer asks for an fsync by then.
        }
        if f.in_flight && due <= now {
            // Due, and the fsync in flight may have taken its target before this
            // append: the worker goes on with another.
            f.requested = true;
            return;
        }
        // A timer: also while an fsync is in flight but the next is not due (that
        // one may have missed this append, which would otherwise wait for the next
        // append or `close`), and sooner than a later one armed already (a seal
        // retry, or the timer of a longer interval before a policy change).
        f.timer_at = Some(due);
        drop(f);
        if !self.syncer.schedule(due, self.me.clone()) {
            // Shut down: no timer will fire; fsync now instead.
            self.sync.lock().timer_at = None;
            self.request_sync();
        }
    }

    pub(crate) fn timer_fired(&self) {
        let mut f = self.sync.lock();
        // Disarm unless this was an older, later timer and an earlier one is armed.
        if f.timer_at.is_some_and(|at| at <= Instant::now()) {
            f.timer_at = None;
        }
        drop(f);
        self.request_sync();
    }

    /// Run by an fsync worker: fsync until no append is left waiting.
    pub(crate) fn run_sync(&self) {
        loop {
            self.gather();
            let captured = {
                let w = self.writer.lock();
                // After a failed fsync nothing may be reported durable any more (a
                // second fsync can succeed although the pages it should have written
                // were dropped), and after `close` (which seals and publishes all)
                // nothing is left to do: the directory may be on its way out.
                (w.failed.is_none() && !w.closed).then(|| {
                    (
                        w.active.clone(),
                        w.next_offset,
                        w.unsealed.clone(),
                        (w.rolls > w.dir_synced_rolls).then_some(w.rolls),
                    )
                })
            };
            let Some((active, target, unsealed, rolls)) = captured else {
                self.sync.lock().in_flight = false;
                return;
            };
            let (appends, small) = {
                let mut f = self.sync.lock();
                (
                    std::mem::take(&mut f.appends_since_sync),
                    std::mem::take(&mut f.small_since_sync),
                )
            };
            let started = Instant::now();
            if let Err((path, e)) = self.seal_data(&unsealed, rolls) {
                let mut w = self.writer.lock();
                let _ = self.fail(&mut w, &path, e);
                self.sync.lock().in_flight = false;
                return;
            }
            if let Some(r) = rolls {
                let mut w = self.writer.lock();
                w.dir_synced_rolls = w.dir_synced_rolls.max(r);
            }
            if target > self.marks().durable_end {
                // The appends' bytes, if they wait in the write-behind buffer (`always`).
                if let Err(e) = active.flush().and_then(|()| active.file.sync_data()) {
                    let mut w = self.writer.lock();
                    let _ = self.fail(&mut w, &active.log_path, e);
                    self.sync.lock().in_flight = false;
                    return;
                }
                self.stats.fsyncs.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .appends_per_fsync_sum
                    .fetch_add(appends, Ordering::Relaxed);
                let took = started.elapsed();
                self.stats
                    .fsync_nanos
                    .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
                self.stats.fsync_seconds.observe_duration(took);
                self.stats.appends_per_fsync.observe(appends as f64);
            }
            let limit = match self.index_sealed(&unsealed) {
                Ok(()) => target,
                Err(IndexFailure { limit, path, error }) => {
                    if !is_disk_full(&error) {
                        // An I/O error in its fsyncs is as bad as any failed fsync.
                        let mut w = self.writer.lock();
                        let _ = self.fail(&mut w, &path, error);
                        self.sync.lock().in_flight = false;
                        return;
                    }
                    // Out of space: later offsets wait until the index is written;
                    // a timer retries (sooner than an interval timer already armed).
                    let mut f = self.sync.lock();
                    let at = Instant::now() + SEAL_RETRY;
                    // (Once shut down no timer is queued: `close` seals what is left.)
                    if f.timer_at.is_none_or(|armed| armed > at)
                        && self.syncer.schedule(at, self.me.clone())
                    {
                        f.timer_at = Some(at);
                    }
                    limit.min(target)
                }
            };
            {
                // Not if the partition failed meanwhile (`close`'s fsync of the same
                // file): then this fsync's success proves nothing.
                let w = self.writer.lock();
                if w.failed.is_some() {
                    drop(w);
                    self.sync.lock().in_flight = false;
                    return;
                }
                self.update_marks(|m| m.durable_end = m.durable_end.max(limit));
            }
            let mut f = self.sync.lock();
            f.last_sync = Some(Instant::now());
            f.last_fsync = started.elapsed();
            f.last_covered = appends;
            f.last_covered_small = small;
            if f.requested {
                f.requested = false;
                continue;
            }
            f.in_flight = false;
            return;
        }
    }

    /// Before an fsync: if most of the appends the last fsync covered were small
    /// (fewer than [`GATHER_SMALL_RECORDS`] records: writers that do not batch) and
    /// there were several, wait up to two fsync durations (at most [`GATHER_MAX`])
    /// for about as many small appends to arrive. The writers released by the
    /// previous fsync append again within microseconds; without this pause the next
    /// fsync would start just before they do, and closed-loop writers would split
    /// into two alternating half-size groups (16 appender threads: about 8 appends
    /// per fsync and 7x one thread's rate without it, 16 and about 10x with it).
    /// Writers of batches do not get the pause: they spend the time between appends
    /// building the next batch, and holding the fsync back for them only serialises
    /// that work with the fsync (RESP XADD -c 50 -P 16 under `always`, one append
    /// per pipeline: 13-39% more requests/s without the pause). A lone writer under
    /// `always` (the last fsync covered one append) never waits; under the interval
    /// and `never` policies the last fsync covers all of an interval's appends, so
    /// a `wait_durable` there may wait up to [`GATHER_MAX`] unless most of those
    /// appends were batches.
    fn gather(&self) {
        let mut f = self.sync.lock();
        if !f.should_gather() {
            return;
        }
        let deadline = Instant::now() + (f.last_fsync * 2).min(GATHER_MAX);
        f.gathering = true;
        while f.small_since_sync < f.last_covered_small {
            if self.gathered.wait_until(&mut f, deadline).timed_out() {
                break;
            }
        }
        f.gathering = false;
    }

    /// Waits until every offset below `next_offset` is durable, asking for an fsync if
    /// none is coming (so this also works under the interval and `never` policies).
    pub async fn wait_durable(&self, next_offset: u64) -> Result<(), WaitError> {
        let mut rx = self.marks.subscribe();
        let mut asked = false;
        loop {
            let m = *rx.borrow_and_update();
            if m.durable_end >= next_offset.min(m.log_end) {
                return Ok(());
            }
            if m.failed {
                return Err(WaitError::Failed);
            }
            if !asked {
                self.request_sync();
                asked = true;
            }
            if rx.changed().await.is_err() {
                return Err(WaitError::Closed);
            }
        }
    }

    /// Blocking form of [`Partition::wait_durable`] for callers outside async code
    /// (threads sleep on one futex word: a group commit wakes them all with one
    /// call, where waking each thread's waker would take a call per thread).
    pub fn wait_durable_blocking(&self, next_offset: u64) -> Result<(), WaitError> {
        let mut asked = false;
        loop {
            // The epoch before the marks: a change after this read bumps the epoch,
            // and the futex wait below then returns at once.
            let epoch = self.durable_epoch.load(Ordering::SeqCst);
            let m = self.marks();
            if m.durable_end >= next_offset.min(m.log_end) {
                return Ok(());
            }
            if m.failed {
                return Err(WaitError::Failed);
            }
            if m.closed {
                return Err(WaitError::Closed);
            }
            if !asked {
                // Under `always` the append asked already; this is for the others.
                self.request_sync();
                asked = true;
                continue;
            }
            self.blocking_waiters.fetch_add(1, Ordering::SeqCst);
            // Returns when woken, when the epoch is no longer `epoch` (EAGAIN), on a
            // signal (EINTR) or spuriously: every case re-checks the marks.
            let _ = futex::wait(&self.durable_epoch, futex::Flags::PRIVATE, epoch, None);
            self.blocking_waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Waits until the high watermark passes `offset` (some record at or after
    /// `offset` is readable) or the partition closes. Wrap in a timeout for blocking
    /// reads and long-poll fetches.
    pub async fn wait_for_data(&self, offset: u64) -> Marks {
        let mut rx = self.marks.subscribe();
        loop {
            let m = *rx.borrow_and_update();
            if m.high_watermark > offset || m.closed || m.failed {
                return m;
            }
            if rx.changed().await.is_err() {
                return m;
            }
        }
    }

    /// Reads entries starting with the one containing `from`, up to the high
    /// watermark, stopping before their Kafka batches would exceed `max_bytes` (the
    /// first entry is returned whatever its size if any is readable, as Kafka's Fetch
    /// does). Corrupt data is
    /// never returned: a read that reaches it gets the entries before it, and the
    /// next read (starting at it) gets [`ReadError::Corrupt`].
    pub fn read(&self, from: u64, max_bytes: usize) -> Result<Vec<Entry>, ReadError> {
        self.read_limited(from, max_bytes, usize::MAX)
    }

    /// Whether a [`Partition::read`] from `from` would probably be served from the
    /// page cache: whether where it starts is (see [`StorageFile::probably_cached`]).
    /// Callers on an async runtime read inline when it would and on a blocking thread
    /// when not: a consumer replaying old data from the device must not stall the
    /// other connections its runtime worker serves.
    ///
    /// [`StorageFile::probably_cached`]: crate::storage::StorageFile::probably_cached
    pub fn read_probably_cached(&self, from: u64) -> bool {
        if from >= self.marks().high_watermark {
            return true;
        }
        let segments = self.segments.read().clone();
        let i = segments
            .partition_point(|s| s.base_offset <= from)
            .saturating_sub(1);
        let Some(seg) = segments.get(i) else {
            return true;
        };
        let (start, len) = {
            let st = seg.state.read();
            let rel = from.saturating_sub(seg.base_offset);
            // A sealed segment's index is a file: if that read fails, so would the
            // read itself, which reports it.
            let Ok(start) = st.index.seek(|e| u64::from(e.rel_offset) <= rel) else {
                return true;
            };
            (start, st.len.saturating_sub(start))
        };
        len == 0 || seg.file.probably_cached(start)
    }

    /// [`Partition::read`] that also stops once the entries hold `max_records`
    /// records from `from` on. Reads the file in chunks that start small (16 KiB) and
    /// double, so a read of a few records does not load (and check) megabytes.
    pub fn read_limited(
        &self,
        from: u64,
        max_bytes: usize,
        max_records: usize,
    ) -> Result<Vec<Entry>, ReadError> {
        let entries = self.read_entries(from, max_bytes, max_records)?;
        let records: u64 = entries.iter().map(|e| u64::from(e.meta.record_count)).sum();
        let bytes: u64 = entries.iter().map(|e| e.bytes.len() as u64).sum();
        self.stats
            .records_read
            .fetch_add(records, Ordering::Relaxed);
        self.stats.bytes_read.fetch_add(bytes, Ordering::Relaxed);
        Ok(entries)
    }

    fn read_entries(
        &self,
        from: u64,
        max_bytes: usize,
        max_records: usize,
    ) -> Result<Vec<Entry>, ReadError> {
        let marks = self.marks();
        if from < marks.log_start || from > marks.high_watermark {
            return Err(ReadError::OffsetOutOfRange {
                requested: from,
                log_start: marks.log_start,
                high_watermark: marks.high_watermark,
            });
        }
        let segments = self.segments.read().clone();
        let mut out = Vec::new();
        let mut total = 0usize;
        let mut offset = from;
        let mut chunk = READ_CHUNK_MIN;
        let first = segments
            .partition_point(|s| s.base_offset <= from)
            .saturating_sub(1);
        for seg in segments.iter().skip(first) {
            let io = |source| ReadError::Io {
                path: seg.log_path.clone(),
                source,
            };
            let corrupt_or = |out: Vec<Entry>, position, error| {
                if out.is_empty() {
                    Err(ReadError::Corrupt {
                        path: seg.log_path.clone(),
                        position,
                        error,
                    })
                } else {
                    Ok(out)
                }
            };
            let (len, corrupt, mut pos) = {
                let st = seg.state.read();
                let rel = offset.saturating_sub(seg.base_offset);
                let start = st
                    .index
                    .seek(|e| u64::from(e.rel_offset) <= rel)
                    .map_err(io)?;
                (st.len, st.corrupt.clone(), start)
            };
            // Not into the write-behind buffer: its entries are above the durable
            // end, and reading them would write the buffer from this thread.
            let end = corrupt
                .as_ref()
                .map_or(len, |(p, _)| (*p).min(len))
                .min(seg.written_len());
            while offset < marks.high_watermark {
                if pos >= end {
                    if let Some((position, error)) = corrupt {
                        return corrupt_or(out, position, error);
                    }
                    break;
                }
                let want = max_bytes
                    .saturating_sub(total)
                    .clamp(READ_CHUNK_MIN, READ_CHUNK_MAX)
                    .min(chunk);
                chunk = (chunk * 2).min(READ_CHUNK_MAX);
                // End the chunk where an indexed entry starts if one does within
                // `want`, so that no entry is cut (and read twice).
                let boundary = seg
                    .state
                    .read()
                    .index
                    .seek(|e| u64::from(e.position) <= pos + want as u64)
                    .map_err(io)?;
                let n = if boundary > pos {
                    (boundary - pos) as usize
                } else {
                    want
                };
                let n = ((end - pos) as usize).min(n);
                let chunk = seg.read_bytes(pos, n).map_err(io)?;
                let (mut entries, mut used, mut error) = crate::segment::split_entries(&chunk);
                if entries.is_empty() {
                    if let Some(error) = error {
                        return corrupt_or(out, pos, error);
                    }
                    // The next entry is larger than the chunk: read it whole, unless it
                    // would take the read past `max_bytes` (only the first entry may).
                    let (entry_len, kafka_len) = entry_len_at(seg, pos, end)?;
                    if !out.is_empty() && total + kafka_len > max_bytes {
                        return Ok(out);
                    }
                    let chunk = seg.read_bytes(pos, entry_len).map_err(io)?;
                    (entries, used, error) = crate::segment::split_entries(&chunk);
                    if entries.is_empty() {
                        let error = error.unwrap_or(CorruptEntry::Length(entry_len as i64));
                        return corrupt_or(out, pos, error);
                    }
                }
                let full = collect(
                    entries,
                    &mut out,
                    &mut total,
                    &mut offset,
                    &marks,
                    max_bytes,
                );
                pos += used as u64;
                let records = offset.saturating_sub(from) as usize;
                if (full || total >= max_bytes || records >= max_records) && !out.is_empty() {
                    return Ok(out);
                }
            }
            if offset >= marks.high_watermark {
                break;
            }
        }
        Ok(out)
    }

    /// Reads decoded records with offsets in `[from, high watermark)`, at most
    /// `max_records` of them and about `max_bytes`. Offsets below the log start are
    /// skipped (not an error): Redis readers simply start at the first live entry.
    pub fn read_records(
        &self,
        from: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredRecord>, ReadError> {
        let marks = self.marks();
        let from = from.max(marks.log_start);
        if from >= marks.high_watermark || max_records == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut next = from;
        while out.len() < max_records && next < marks.high_watermark {
            let entries = match self.read_limited(next, max_bytes, max_records - out.len()) {
                Ok(e) => e,
                // Trimmed concurrently: continue from the new start.
                Err(ReadError::OffsetOutOfRange { log_start, .. }) if log_start > next => {
                    next = log_start;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if entries.is_empty() {
                break;
            }
            for entry in entries {
                let recs = entry.records().map_err(|error| ReadError::Corrupt {
                    path: self.dir.clone(),
                    position: 0,
                    error,
                })?;
                let deletions = self.deletions.lock();
                for r in recs {
                    if r.offset >= next
                        && r.offset < marks.high_watermark
                        && out.len() < max_records
                    {
                        next = r.offset + 1;
                        if !deletions.contains(r.offset) {
                            out.push(r);
                        }
                    }
                }
                next = next.max(entry.meta.next_offset());
            }
            if out
                .iter()
                .map(|r| r.value.as_ref().map_or(0, |v| v.len()))
                .sum::<usize>()
                >= max_bytes
            {
                break;
            }
        }
        Ok(out)
    }

    /// The first offset whose timestamp is at or after `ts_ms` (Kafka ListOffsets), or
    /// `None` if there is none below the high watermark.
    pub fn offset_for_timestamp(&self, ts_ms: i64) -> Result<Option<u64>, ReadError> {
        let marks = self.marks();
        let segments = self.segments.read().clone();
        for seg in segments.iter() {
            let (max_ts, next_offset, start) = {
                let st = seg.state.read();
                if st.max_ts < ts_ms || st.next_offset <= marks.log_start {
                    continue;
                }
                let start =
                    st.index
                        .seek(|e| e.max_ts < ts_ms)
                        .map_err(|source| ReadError::Io {
                            path: seg.log_path.clone(),
                            source,
                        })?;
                (st.max_ts, st.next_offset, start)
            };
            debug_assert!(max_ts >= ts_ms);
            let from = self.offset_at_position(seg, start)?.max(marks.log_start);
            let found = self.scan_records(from, next_offset, |r| r.timestamp_ms >= ts_ms)?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// The readable record (in `[log_start, high_watermark)`, deleted ones skipped)
    /// with the largest timestamp, as `(timestamp, offset)`; the first of them if
    /// several share it (Kafka ListOffsets `-3`). `None` if nothing is readable.
    ///
    /// Cost: segments are tried from the largest timestamp they hold down. For each,
    /// the sparse index finds the first entry that reaches that timestamp and a short
    /// scan finds the record; only when that record is not readable (trimmed, deleted
    /// or not yet visible) is the segment's readable part scanned whole.
    pub fn max_timestamp(&self) -> Result<Option<(i64, u64)>, ReadError> {
        let marks = self.marks();
        let segments = self.segments.read().clone();
        let mut candidates: Vec<(i64, usize)> = segments
            .iter()
            .enumerate()
            .filter_map(|(i, seg)| {
                let st = seg.state.read();
                let readable = st.next_offset > marks.log_start
                    && seg.base_offset < marks.high_watermark
                    && st.max_ts != i64::MIN;
                readable.then_some((st.max_ts, i))
            })
            .collect();
        // Largest timestamp first; among equals, the earlier segment first.
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut best: Option<(i64, u64)> = None;
        for (bound, i) in candidates {
            if best.is_some_and(|(ts, _)| ts > bound) {
                break;
            }
            let Some(seg) = segments.get(i) else { break };
            let (next_offset, start) = {
                let st = seg.state.read();
                let start =
                    st.index
                        .seek(|e| e.max_ts < bound)
                        .map_err(|source| ReadError::Io {
                            path: seg.log_path.clone(),
                            source,
                        })?;
                (st.next_offset, start)
            };
            let from = self.offset_at_position(seg, start)?.max(marks.log_start);
            let found = match self.scan_records(from, next_offset, |r| r.timestamp_ms >= bound)? {
                Some(offset) => Some((bound, offset)),
                None => self.max_timestamp_in(seg.base_offset.max(marks.log_start), next_offset)?,
            };
            if let Some((ts, offset)) = found {
                let better = match best {
                    None => true,
                    Some((best_ts, best_offset)) => {
                        ts > best_ts || (ts == best_ts && offset < best_offset)
                    }
                };
                if better {
                    best = Some((ts, offset));
                }
            }
        }
        Ok(best)
    }

    /// The first readable record with the largest timestamp in `[from, end)` (bounded
    /// by the high watermark), by reading them all.
    fn max_timestamp_in(&self, from: u64, end: u64) -> Result<Option<(i64, u64)>, ReadError> {
        let mut best: Option<(i64, u64)> = None;
        let mut next = from;
        let end = end.min(self.marks().high_watermark);
        while next < end {
            let recs = self.read_records(next, 1024, 1024 * 1024)?;
            if recs.is_empty() {
                break;
            }
            for r in recs.iter().take_while(|r| r.offset < end) {
                if best.is_none_or(|(ts, _)| r.timestamp_ms > ts) {
                    best = Some((r.timestamp_ms, r.offset));
                }
                next = r.offset + 1;
            }
            if recs.last().is_some_and(|r| r.offset >= end) {
                break;
            }
        }
        Ok(best)
    }

    /// [`Partition::read_probably_cached`] for a read from the entry with stream ID
    /// `id`, judged from the sparse index alone: looking the offset up first
    /// ([`Partition::offset_for_stream_id`]) would read that very page and make the
    /// probe answer yes.
    pub fn stream_id_probably_cached(&self, id: StreamId) -> bool {
        match self.indexed_position_of(id) {
            Ok(Some((seg, start))) => seg.file.probably_cached(start),
            // Nothing to read there, or a failed index read (the read reports it).
            Ok(None) | Err(_) => true,
        }
    }

    /// The segment holding the entry with stream ID `id` (or the first after it)
    /// and the indexed position at or before that entry; `None` when no entry has
    /// an ID at or after `id`.
    fn indexed_position_of(&self, id: StreamId) -> Result<Option<(Arc<Segment>, u64)>, ReadError> {
        if self.last_id().is_none_or(|last| last < id) {
            return Ok(None);
        }
        let segments = self.segments.read().clone();
        let first = segments.partition_point(|s| s.state.read().last_id.is_none_or(|l| l < id));
        let Some(seg) = segments.get(first) else {
            return Ok(None);
        };
        let start = seg
            .state
            .read()
            .index
            .seek(|e| e.first_id <= id)
            .map_err(|source| ReadError::Io {
                path: seg.log_path.clone(),
                source,
            })?;
        Ok(Some((Arc::clone(seg), start)))
    }

    /// The first offset whose stream ID is at or after `id`; the high watermark if
    /// there is none. Deleted records are not skipped (readers skip them anyway).
    /// Cost: a binary search over segments and their sparse index, then decoding the
    /// stream IDs (not the records) of the few entries after the index hit.
    pub fn offset_for_stream_id(&self, id: StreamId) -> Result<u64, ReadError> {
        let marks = self.marks();
        let Some((seg, start)) = self.indexed_position_of(id)? else {
            return Ok(marks.high_watermark);
        };
        let mut from = self.offset_at_position(&seg, start)?.max(marks.log_start);
        while from < marks.high_watermark {
            let entries = match self.read_limited(from, 256 * 1024, 64) {
                Ok(e) => e,
                // Trimmed concurrently: what was below the new start is gone.
                Err(ReadError::OffsetOutOfRange { log_start, .. }) if log_start > from => {
                    from = log_start;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let Some(last) = entries.last() else { break };
            from = last.meta.next_offset();
            for e in entries {
                if e.meta.last_id < id {
                    continue;
                }
                let ids = e.stream_ids().map_err(|error| ReadError::Corrupt {
                    path: seg.log_path.clone(),
                    position: 0,
                    error,
                })?;
                let k = ids.partition_point(|x| *x < id) as u64;
                let now = self.marks();
                return Ok((e.meta.base_offset + k)
                    .max(now.log_start)
                    .min(now.high_watermark));
            }
        }
        // (A trim meanwhile may have moved the start past the mark read on entry.)
        let now = self.marks();
        Ok(marks.high_watermark.max(now.log_start))
    }

    /// Base offset of the entry at `pos` in `seg`.
    fn offset_at_position(&self, seg: &Segment, pos: u64) -> Result<u64, ReadError> {
        if pos == 0 {
            return Ok(seg.base_offset);
        }
        let header = seg.read_bytes(pos, 8).map_err(|source| ReadError::Io {
            path: seg.log_path.clone(),
            source,
        })?;
        let mut b = [0u8; 8];
        b.copy_from_slice(&header);
        Ok(u64::from_be_bytes(b))
    }

    /// First record in `[from, end)` (bounded by the high watermark) matching `pred`.
    fn scan_records(
        &self,
        from: u64,
        end: u64,
        pred: impl Fn(&StoredRecord) -> bool,
    ) -> Result<Option<u64>, ReadError> {
        let mut next = from;
        let hw = self.marks().high_watermark;
        while next < end.min(hw) {
            let recs = self.read_records(next, 1024, 1024 * 1024)?;
            if recs.is_empty() {
                break;
            }
            for r in &recs {
                if pred(r) {
                    return Ok(Some(r.offset));
                }
                next = r.offset + 1;
            }
        }
        Ok(None)
    }

    /// Deletes single records (Redis `XDEL`) without rewriting segments: the offsets
    /// join the partition's durable deletion set, and readers skip them. Offsets
    /// outside `[log_start, high_watermark)` or already deleted are ignored. Returns how
    /// many records were newly deleted; they are durable when this returns.
    pub fn delete_records(&self, offsets: &[u64]) -> Result<usize, AppendError> {
        if offsets.len() > DELETE_BATCH_MAX {
            return Err(AppendError::Encode(EncodeError::TooManyRecords {
                count: offsets.len(),
                max: DELETE_BATCH_MAX,
            }));
        }
        let marks = self.marks();
        let live: Vec<u64> = offsets
            .iter()
            .copied()
            .filter(|o| (marks.log_start..marks.high_watermark).contains(o))
            .collect();
        let mut deletions = self.deletions.lock();
        deletions
            .add(&live)
            .map_err(|e| write_error(deletions.path(), e))
    }

    /// Deleted offsets in `[from, to)`, in order.
    pub fn deleted_in(&self, from: u64, to: u64) -> Vec<u64> {
        self.deletions.lock().range(from, to)
    }

    pub fn is_deleted(&self, offset: u64) -> bool {
        self.deletions.lock().contains(offset)
    }

    /// Readable records: `[log_start, high_watermark)` minus deletions.
    pub fn live_count(&self) -> u64 {
        self.live_count_from(0)
    }

    /// Readable records at or after `offset`.
    pub fn live_count_from(&self, offset: u64) -> u64 {
        let m = self.marks();
        let from = offset.max(m.log_start).min(m.high_watermark);
        let deleted = self.deletions.lock().count_in(from, m.high_watermark) as u64;
        (m.high_watermark - from).saturating_sub(deleted)
    }

    /// The offset from which exactly `n` live records remain (the log start if fewer
    /// than `n` are live): where `XTRIM MAXLEN n` cuts.
    pub fn offset_keeping_last(&self, n: u64) -> u64 {
        let m = self.marks();
        // live_count_from is non-increasing in the offset: binary search the largest
        // offset that still keeps n live records.
        let (mut lo, mut hi) = (m.log_start, m.high_watermark);
        if self.live_count_from(lo) <= n {
            return lo;
        }
        // Invariant: live(lo) > n, live(hi) <= n.
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.live_count_from(mid) > n {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    }

    /// Sets the last stream ID (Redis `XSETID`), which the next auto ID must exceed.
    /// It may go down, but never below the ID of a record still stored (even a
    /// deleted one: stream IDs stay strictly increasing in the segments). Persisted
    /// in the partition checkpoint.
    pub fn set_last_id(&self, id: StreamId) -> Result<(), AppendError> {
        let _trim = self.trim_lock.lock();
        let mut w = self.writer.lock();
        let stored = self
            .segments
            .read()
            .iter()
            .rev()
            .find_map(|s| s.state.read().last_id);
        if let Some(stored) = stored {
            if id < stored {
                return Err(AppendError::IdBelowStored { stored });
            }
        }
        let cp_path = self.dir.join(CHECKPOINT_FILE);
        let cp = encode_checkpoint(&Checkpoint {
            log_start: w.log_start,
            last_id: Some(id),
        });
        self.storage
            .write_atomic(&cp_path, &cp)
            .map_err(|e| write_error(&cp_path, e))?;
        w.last_id = Some(id);
        Ok(())
    }

    /// Advances the log start to `offset` (clamped to the high watermark) and deletes
    /// segments that fall wholly below it. Returns the new log start.
    pub fn trim_to(&self, offset: u64) -> Result<u64, AppendError> {
        let _trim = self.trim_lock.lock();
        let (current, last_id) = {
            let w = self.writer.lock();
            (w.log_start, w.last_id)
        };
        let new_start = offset.min(self.marks().high_watermark);
        if new_start <= current {
            return Ok(current);
        }
        let cp_path = self.dir.join(CHECKPOINT_FILE);
        let cp = encode_checkpoint(&Checkpoint {
            log_start: new_start,
            last_id,
        });
        self.storage
            .write_atomic(&cp_path, &cp)
            .map_err(|e| write_error(&cp_path, e))?;
        self.writer.lock().log_start = new_start;
        self.update_marks(|m| m.log_start = new_start);
        // Drop segments wholly below the new start; never the active one.
        let doomed: Vec<Arc<Segment>> = {
            let mut segs = self.segments.write();
            let count = segs.len();
            let mut keep = Vec::with_capacity(count);
            let mut doomed = Vec::new();
            for (i, s) in segs.iter().enumerate() {
                if i + 1 == count || s.state.read().next_offset > new_start {
                    keep.push(s.clone());
                } else {
                    doomed.push(s.clone());
                }
            }
            *segs = Arc::new(keep);
            doomed
        };
        // Trimmed before they were sealed (interval and `never` policies): they need
        // no seal, and their last handle must go with the remover's.
        self.writer
            .lock()
            .unsealed
            .retain(|u| !doomed.iter().any(|d| Arc::ptr_eq(d, u)));
        if let Err(e) = self
            .deletions
            .lock()
            .prune(self.storage.as_ref(), new_start)
        {
            tracing::warn!(partition = %self.dir.display(), error = %e, "cannot prune the deletion set");
        }
        // Readers still holding one of them keep its open file; the files go in the
        // background (see `Syncer::remove_later`).
        let bases = doomed.iter().map(|s| s.base_offset).collect();
        remove_segments_later(&self.syncer, &self.storage, &self.dir, bases, doomed);
        Ok(new_start)
    }

    /// Applies the retention limits; returns the new log start.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<u64, AppendError> {
        let retention = self.config.read().retention;
        let marks = self.marks();
        let mut start = marks.log_start;
        if let Some(n) = retention.records {
            start = start.max(marks.high_watermark.saturating_sub(n));
        }
        let segments = self.segments.read().clone();
        let sealed = &segments[..segments.len().saturating_sub(1)];
        if let Some(ms) = retention.ms {
            let cutoff = now_ms.saturating_sub(ms as i64);
            for seg in sealed {
                let st = seg.state.read();
                if st.max_ts >= cutoff {
                    break;
                }
                start = start.max(st.next_offset);
            }
        }
        if let Some(limit) = retention.bytes {
            let mut total: u64 = segments.iter().map(|s| s.state.read().len).sum();
            for seg in sealed {
                let st = seg.state.read();
                if total.saturating_sub(st.len) < limit {
                    break;
                }
                total -= st.len;
                start = start.max(st.next_offset);
            }
        }
        if start > marks.log_start {
            self.trim_to(start)
        } else {
            Ok(marks.log_start)
        }
    }

    /// Makes everything durable, writes the active segment's index (so the next start
    /// needs no scan) and refuses further appends.
    pub fn close(&self) -> Result<(), AppendError> {
        let mut w = self.writer.lock();
        if w.closed {
            return Ok(());
        }
        w.closed = true;
        let active = w.active.clone();
        let unsealed = w.unsealed.clone();
        let rolls = (w.rolls > w.dir_synced_rolls).then_some(w.rolls);
        if w.failed.is_none() {
            if let Err((path, e)) = self.seal_data(&unsealed, rolls) {
                return Err(self.fail(&mut w, &path, e));
            }
            if let Some(r) = rolls {
                w.dir_synced_rolls = w.dir_synced_rolls.max(r);
            }
            if let Err(e) = active.flush().and_then(|()| active.file.sync_data()) {
                return Err(self.fail(&mut w, &active.log_path, e));
            }
            // (Failing leaves unused blocks allocated past the end.)
            let _ = active.release_reservation();
            let end = w.next_offset;
            drop(w);
            // Everything is fsynced. If an index file cannot be written, the active
            // segment's (below) still marks the ones before it sealed; if that fails
            // too, the next start checks their tails, which are complete.
            let _ = self.index_sealed(&unsealed);
            self.update_marks(|m| m.durable_end = m.durable_end.max(end));
            let indexed = active
                .write_index(self.storage.as_ref())
                .map_err(|e| write_error(&active.index_path, e));
            self.update_marks(|m| m.closed = true);
            return indexed;
        }
        self.update_marks(|m| m.closed = true);
        Ok(())
    }
}

/// Moves `entries` below the high watermark and past `offset` to `out`, as long as
/// they keep `total` within `max_bytes` (the first entry of `out` is taken whatever
/// its size). Returns whether an entry was left out for lack of room.
fn collect(
    entries: Vec<Entry>,
    out: &mut Vec<Entry>,
    total: &mut usize,
    offset: &mut u64,
    marks: &Marks,
    max_bytes: usize,
) -> bool {
    for e in entries {
        if e.meta.base_offset >= marks.high_watermark {
            break;
        }
        if e.meta.next_offset() <= *offset {
            continue;
        }
        if !out.is_empty() && *total + e.meta.kafka_len > max_bytes {
            return true;
        }
        *offset = e.meta.next_offset();
        *total += e.meta.kafka_len;
        out.push(e);
    }
    false
}

/// The length of the entry at `pos` and of its Kafka batch, from its header and
/// trailer length.
fn entry_len_at(seg: &Segment, pos: u64, end: u64) -> Result<(usize, usize), ReadError> {
    let corrupt = |error| ReadError::Corrupt {
        path: seg.log_path.clone(),
        position: pos,
        error,
    };
    let io = |source| ReadError::Io {
        path: seg.log_path.clone(),
        source,
    };
    let header = seg.read_bytes(pos, KAFKA_HEADER_LEN).map_err(io)?;
    let kafka_len = batch::kafka_len_from_header(&header).map_err(corrupt)?;
    let trailer_len = seg.read_bytes(pos + kafka_len as u64, 4).map_err(io)?;
    let len = batch::entry_len_from_trailer_len(&trailer_len, kafka_len).map_err(corrupt)?;
    if len > ENTRY_LEN_MAX || pos + len as u64 > end {
        return Err(corrupt(CorruptEntry::Length(len as i64)));
    }
    Ok((len, kafka_len))
}

/// Crash recovery of segments rolled over but not sealed (see `Writer::unsealed`).
/// A segment is sealed once its data and the directory are fsynced, and its index
/// file is written only after that: a segment with a valid index file is sealed. The
/// segments after the last one with an index file may not be (a crash came between a
/// roll and the seal): if one of them ends early (a torn or bad tail, or entries lost
/// whole so that the next segment does not start where it ends: the part of it that
/// did not reach the disk), the log ends there. It is cut there and the later
/// segments, written after data that was lost, are removed: none of their records
/// was durable, so none was acknowledged under `always`. (A stop in a segment with
/// an index file, or before it, is corruption and is reported as such.)
fn drop_after_unsealed_tail(
    storage: &dyn Storage,
    dir: &Path,
    opened: &mut Vec<(Segment, Option<ScanStop>)>,
) -> io::Result<()> {
    let unsealed_from = opened
        .iter()
        .rposition(|(seg, _)| seg.has_index_file())
        .map_or(0, |i| i + 1);
    // The log ends at the first of them that stops early, or whose next segment does
    // not start where it ends (its last entries were lost whole).
    let ends = |i: usize| {
        let (seg, stop) = &opened[i];
        stop.is_some()
            || opened
                .get(i + 1)
                .is_some_and(|(next, _)| next.base_offset != seg.state.read().next_offset)
    };
    let Some(cut) = (unsealed_from..opened.len()).find(|&i| ends(i)) else {
        return Ok(());
    };
    // (The last segment's tail is truncated like any active segment's, by the caller.)
    if cut + 1 < opened.len() {
        for (seg, _) in opened.drain(cut + 1..) {
            let bytes = seg.file.len().unwrap_or(0);
            tracing::warn!(
                segment = %seg.log_path.display(), bytes,
                "removing a segment written after a segment whose tail was lost in a crash (nothing in it was durable)"
            );
            drop(seg.file);
            if storage.exists(&seg.index_path) {
                storage.remove_file(&seg.index_path)?;
            }
            storage.remove_file(&seg.log_path)?;
        }
        storage.sync_dir(dir)?;
    }
    Ok(())
}

/// After [`drop_after_unsealed_tail`]: what survived a crash may still be only in the
/// page cache (the process died, the machine did not). Everything recovery serves is
/// reported durable, so the segments without an index file (not sealed, or the active
/// one after no clean shutdown) are fsynced now, with the directory, and the sealed
/// ones among them get their index file. Returns the base offsets of those whose
/// index file did not fit on the disk (any other failure fails the open).
fn seal_recovered(
    storage: &dyn Storage,
    dir: &Path,
    opened: &[(Segment, Option<ScanStop>)],
) -> io::Result<Vec<u64>> {
    let unindexed: Vec<&Segment> = opened
        .iter()
        .map(|(seg, _)| seg)
        .filter(|seg| !seg.has_index_file())
        .collect();
    if unindexed.is_empty() {
        return Ok(Vec::new());
    }
    for seg in &unindexed {
        seg.file.sync_data()?;
    }
    storage.sync_dir(dir)?;
    let last = opened.len().saturating_sub(1);
    let mut not_indexed = Vec::new();
    for (i, (seg, stop)) in opened.iter().enumerate() {
        let unsealed = unindexed.iter().any(|u| std::ptr::eq(*u, seg));
        if i < last && unsealed && stop.is_none() {
            // Its index file marks it sealed; without one, a later recovery would
            // treat it as unsealed although what follows it is reported durable.
            match seg
                .write_index(storage)
                .and_then(|()| seg.switch_to_file_index(storage))
            {
                Ok(()) => {}
                // The fsync worker writes it once there is room (see `run_sync`).
                Err(e) if is_disk_full(&e) => not_indexed.push(seg.base_offset),
                Err(e) => return Err(e),
            }
        }
    }
    Ok(not_indexed)
}

fn is_disk_full(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

fn write_error(path: &Path, e: io::Error) -> AppendError {
    if is_disk_full(&e) {
        AppendError::DiskFull {
            path: path.to_path_buf(),
        }
    } else {
        AppendError::Io {
            path: path.to_path_buf(),
            source: e,
        }
    }
}

/// Queues the removal of the files of trimmed segments (below the log start, out of
/// the segment list), then the sync of `dir`. Their `open` handles are closed there
/// too, after the unlink, unless a reader still holds one: closing an unlinked file
/// frees its blocks, which with online discard takes as long as removing it.
fn remove_segments_later(
    syncer: &Syncer,
    storage: &Arc<dyn Storage>,
    dir: &Path,
    bases: Vec<u64>,
    open: Vec<Arc<Segment>>,
) {
    if bases.is_empty() {
        return;
    }
    let (storage, dir) = (storage.clone(), dir.to_path_buf());
    let what = format!("{} trimmed segments in {}", bases.len(), dir.display());
    syncer.remove_later(Removal::new(what, move || {
        // The directory entries of the segments after these are durable before any
        // of these is cut: a crash must not leave a cut segment as the last one,
        // whose "torn tail" recovery would then truncate.
        storage.sync_dir(&dir)?;
        for base in bases {
            // Cut down in steps first (see `shrink_in_steps`), unless a reader still
            // holds the segment (then it keeps its open file, and the blocks go when
            // it closes it). A segment not open here (left by an earlier run) is in
            // no segment list, so no reader has it.
            let log_path = dir.join(crate::segment::log_file_name(base));
            let file = match open.iter().find(|s| s.base_offset == base) {
                Some(seg) if Arc::strong_count(seg) == 1 => Ok(Some(seg.file.clone())),
                Some(_) => Ok(None),
                None => storage.open(&log_path, false).map(Some),
            };
            let cut = file.and_then(|file| match file {
                Some(f) => crate::sync::shrink_in_steps(f.len()?, |l| f.set_len(l)),
                None => Ok(()),
            });
            match cut {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    tracing::debug!(segment = %log_path.display(), error = %e, "cannot shorten before removing");
                }
                _ => {}
            }
            // The index first: a start finds segments by their log files, so a log
            // file left by an interrupted removal is removed again, an index is not.
            for name in [
                crate::segment::index_file_name(base),
                crate::segment::log_file_name(base),
            ] {
                match storage.remove_file(&dir.join(name)) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
        }
        drop(open);
        storage.sync_dir(&dir)
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(last_covered: u64, last_covered_small: u64, small_since: u64) -> SyncFlags {
        SyncFlags {
            last_covered,
            last_covered_small,
            small_since_sync: small_since,
            ..SyncFlags::default()
        }
    }

    #[test]
    fn fsyncs_gather_for_writers_of_single_records_only() {
        // 16 writers of one record each: wait until they are back ...
        assert!(flags(16, 16, 0).should_gather());
        assert!(flags(16, 16, 15).should_gather());
        // ... but not once they are.
        assert!(!flags(16, 16, 16).should_gather());
        // A lone writer never waits.
        assert!(!flags(1, 1, 0).should_gather());
        assert!(!flags(0, 0, 0).should_gather());
        // Writers of batches do not wait, even if a few appends were small.
        assert!(!flags(40, 0, 0).should_gather());
        assert!(!flags(40, 3, 0).should_gather());
        assert!(!flags(40, 20, 0).should_gather());
        // Mostly small appends with a batch among them: wait for the small ones.
        assert!(flags(16, 15, 0).should_gather());
        assert!(flags(16, 15, 14).should_gather());
        assert!(!flags(16, 15, 15).should_gather());
    }
}
