//! Single-record deletions (Redis `XDEL`) without rewriting segments.
//!
//! Deleted offsets are kept in memory as a sorted set and persisted in the partition's
//! `deleted.log`: a sequence of frames `count: u32 BE | count × offset: u64 BE |
//! crc32c: u32 BE` (CRC over count and offsets), each fsynced before the deletion is
//! acknowledged. At open, frames are read until the first torn or bad one, and the
//! file is cut there (a torn frame was never acknowledged). When the log start moves
//! past deleted offsets, the file is rewritten atomically without them.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::storage::{Storage, StorageFile};

pub const DELETIONS_FILE: &str = "deleted.log";
/// Most offsets one deletion call may carry.
pub const DELETE_BATCH_MAX: usize = 100_000;

#[derive(Debug)]
pub struct Deletions {
    path: PathBuf,
    file: Arc<dyn StorageFile>,
    len: u64,
    set: BTreeSet<u64>,
}

impl Deletions {
    pub fn open(storage: &dyn Storage, dir: &Path) -> io::Result<Deletions> {
        let path = dir.join(DELETIONS_FILE);
        let existed = storage.exists(&path);
        let file = storage.open(&path, true)?;
        if !existed {
            // The new name must survive a crash, or acknowledged deletions would too.
            storage.sync_dir(dir)?;
        }
        let file_len = file.len()?;
        let mut bytes = vec![0u8; file_len as usize];
        file.read_exact_at(&mut bytes, 0)?;
        let mut set = BTreeSet::new();
        let mut at = 0usize;
        while let Some(frame) = parse_frame(&bytes[at..]) {
            set.extend(frame.0);
            at += frame.1;
        }
        if at as u64 != file_len {
            tracing::warn!(path = %path.display(), dropped_bytes = file_len - at as u64, "truncating a torn deletion frame");
            file.set_len(at as u64)?;
            file.sync_data()?;
        }
        Ok(Deletions {
            path,
            file,
            len: at as u64,
            set,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds offsets durably. Returns how many were not already deleted.
    pub fn add(&mut self, offsets: &[u64]) -> io::Result<usize> {
        let fresh: Vec<u64> = offsets
            .iter()
            .copied()
            .filter(|o| !self.set.contains(o))
            .collect::<BTreeSet<u64>>()
            .into_iter()
            .collect();
        if fresh.is_empty() {
            return Ok(0);
        }
        let frame = encode_frame(&fresh);
        if let Err(e) = self
            .file
            .write_all_at(&frame, self.len)
            .and_then(|()| self.file.sync_data())
        {
            let _ = self.file.set_len(self.len);
            return Err(e);
        }
        self.len += frame.len() as u64;
        self.set.extend(fresh.iter().copied());
        Ok(fresh.len())
    }

    pub fn contains(&self, offset: u64) -> bool {
        self.set.contains(&offset)
    }

    /// Deleted offsets in `[from, to)`.
    pub fn range(&self, from: u64, to: u64) -> Vec<u64> {
        if from >= to {
            return Vec::new();
        }
        self.set.range(from..to).copied().collect()
    }

    /// Number of deleted offsets in `[from, to)`.
    pub fn count_in(&self, from: u64, to: u64) -> usize {
        if from >= to {
            return 0;
        }
        self.set.range(from..to).count()
    }

    /// Forgets offsets below `log_start`, rewriting the file if that drops many.
    pub fn prune(&mut self, storage: &dyn Storage, log_start: u64) -> io::Result<()> {
        let below = self.set.range(..log_start).count();
        if below == 0 || below * 2 < self.set.len() && below < 10_000 {
            return Ok(());
        }
        let keep: Vec<u64> = self.set.range(log_start..).copied().collect();
        self.rewrite(storage, keep)
    }

    /// Forgets offsets at or past `end`, the end of the log after a crash: under the
    /// interval and `never` policies an entry can be deleted before it is durable,
    /// and the crash frees its offset for a new record, which must not show as
    /// deleted.
    pub fn forget_from(&mut self, storage: &dyn Storage, end: u64) -> io::Result<()> {
        if self.set.range(end..).next().is_none() {
            return Ok(());
        }
        let keep: Vec<u64> = self.set.range(..end).copied().collect();
        self.rewrite(storage, keep)
    }

    fn rewrite(&mut self, storage: &dyn Storage, keep: Vec<u64>) -> io::Result<()> {
        // Frames of at most DELETE_BATCH_MAX offsets: `open` reads no larger one.
        let bytes: Vec<u8> = keep
            .chunks(DELETE_BATCH_MAX)
            .flat_map(encode_frame)
            .collect();
        storage.write_atomic(&self.path, &bytes)?;
        self.file = storage.open(&self.path, false)?;
        self.len = bytes.len() as u64;
        self.set = keep.into_iter().collect();
        Ok(())
    }
}

fn encode_frame(offsets: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + offsets.len() * 8);
    out.extend_from_slice(&(offsets.len() as u32).to_be_bytes());
    for o in offsets {
        out.extend_from_slice(&o.to_be_bytes());
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// Parses one frame; `None` if incomplete or bad.
fn parse_frame(b: &[u8]) -> Option<(Vec<u64>, usize)> {
    let count = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    if count == 0 || count > DELETE_BATCH_MAX {
        return None;
    }
    let len = 4 + count * 8 + 4;
    let frame = b.get(..len)?;
    let crc = u32::from_be_bytes(frame.get(len - 4..)?.try_into().ok()?);
    if crc32c::crc32c(frame.get(..len - 4)?) != crc {
        return None;
    }
    let offsets = frame
        .get(4..len - 4)?
        .chunks_exact(8)
        .filter_map(|c| c.try_into().ok().map(u64::from_be_bytes))
        .collect();
    Some((offsets, len))
}
