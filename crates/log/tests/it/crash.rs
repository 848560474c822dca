//! Crash and corruption tests over the simulated storage.

use std::path::{Path, PathBuf};

use brook_log::sim::SimStorage;
use brook_log::ReadError;
use brook_model::Durability;

use crate::{config, record, values, wait_while, GatedFile, Sim};

#[test]
fn acknowledged_records_survive_a_crash_under_always() {
    for round in 0..20u64 {
        let sim = Sim::new();
        let p = sim.open(config(Durability::Always, 4096));
        let mut acked = 0;
        let mut appended = std::collections::BTreeMap::new();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let p = p.clone();
                    s.spawn(move || {
                        let mut mine = Vec::new();
                        for i in 0..(20 + round) {
                            let value = format!("{t}-{i}");
                            let a = p.append(&[record(&value)], 0).unwrap();
                            // Acknowledge most appends; leave some in flight.
                            let ack = i % 3 != 0;
                            if ack {
                                p.wait_durable_blocking(a.next_offset).unwrap();
                            }
                            mine.push((a.base_offset, value, ack));
                        }
                        mine
                    })
                })
                .collect();
            for h in handles {
                for (offset, value, ack) in h.join().unwrap() {
                    if ack {
                        acked = acked.max(offset);
                    }
                    appended.insert(offset, value);
                }
            }
        });
        drop(p);
        sim.storage.crash();
        let p = sim.open(config(Durability::Always, 4096));
        let recovered = values(&p, 0);
        assert!(
            recovered.len() as u64 > acked,
            "round {round}: acked offset {acked} lost ({} recovered)",
            recovered.len()
        );
        for (offset, value) in recovered.iter().enumerate() {
            assert_eq!(
                Some(value),
                appended.get(&(offset as u64)),
                "offset {offset}"
            );
        }
        // Appends continue at the recovered end.
        let a = p.append(&[record("after")], 0).unwrap();
        assert_eq!(a.base_offset, recovered.len() as u64);
    }
}

fn segment_files(sim: &SimStorage, dir: &Path) -> Vec<PathBuf> {
    sim.files()
        .into_iter()
        .filter(|p| p.parent() == Some(dir) && p.extension().is_some_and(|e| e == "log"))
        .collect()
}

/// Writes `n` records in one segment, closes cleanly, and returns the segment path,
/// its bytes, and where the last entry starts.
fn one_segment(n: usize) -> (Sim, PathBuf, Vec<u8>, usize) {
    let sim = Sim::new();
    let p = sim.open(config(Durability::Always, 1 << 20));
    let mut last_start = 0;
    for i in 0..n {
        last_start = p.size_bytes() as usize;
        let a = p.append(&[record(&format!("record-{i}"))], 0).unwrap();
        p.wait_durable_blocking(a.next_offset).unwrap();
    }
    p.close().unwrap();
    drop(p);
    let seg = segment_files(&sim.storage, &sim.dir).remove(0);
    let bytes = sim.storage.read_file(&seg).unwrap();
    (sim, seg, bytes, last_start)
}

fn fresh_sim_with(sim: &Sim, seg: &Path, contents: Vec<u8>) -> Sim {
    let fresh = Sim::new();
    for f in sim.storage.files() {
        if f.as_path() == seg {
            fresh.storage.write_file(&f, contents.clone());
        } else {
            fresh
                .storage
                .write_file(&f, sim.storage.read_file(&f).unwrap());
        }
    }
    fresh
}

#[test]
fn torn_tail_is_truncated_at_every_byte_of_the_last_entry() {
    let (sim, seg, bytes, last_start) = one_segment(5);
    for cut in last_start..bytes.len() {
        let fresh = fresh_sim_with(&sim, &seg, bytes[..cut].to_vec());
        let p = fresh.open(config(Durability::Always, 1 << 20));
        let v = values(&p, 0);
        assert_eq!(v.len(), 4, "cut at {cut}");
        assert_eq!(p.marks().log_end, 4);
        assert_eq!(
            fresh.storage.read_file(&seg).unwrap().len(),
            last_start,
            "torn tail truncated (cut {cut})"
        );
        let a = p.append(&[record("again")], 0).unwrap();
        assert_eq!(a.base_offset, 4);
    }
}

#[test]
fn corruption_of_any_byte_of_the_last_entry_is_detected() {
    let (sim, seg, bytes, last_start) = one_segment(5);
    for at in last_start..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0x40;
        let fresh = fresh_sim_with(&sim, &seg, bad);
        // Remove the clean-shutdown index so recovery has to check the entries.
        for f in fresh.storage.files() {
            if f.extension().is_some_and(|e| e == "idx") {
                use brook_log::Storage;
                fresh.storage.remove_file(&f).unwrap();
            }
        }
        let p = fresh.open(config(Durability::Always, 1 << 20));
        let v = values(&p, 0);
        assert_eq!(v.len(), 4, "flipped byte {at}");
    }
}

#[test]
fn garbage_after_the_last_entry_is_dropped() {
    let (sim, seg, mut bytes, _) = one_segment(3);
    let len = bytes.len();
    bytes.extend_from_slice(&[0u8; 100]);
    let fresh = fresh_sim_with(&sim, &seg, bytes);
    let p = fresh.open(config(Durability::Always, 1 << 20));
    assert_eq!(values(&p, 0).len(), 3);
    assert_eq!(fresh.storage.read_file(&seg).unwrap().len(), len);
}

#[test]
fn corruption_inside_a_sealed_segment_is_reported_not_served() {
    let sim = Sim::new();
    let p = sim.open(config(Durability::Always, 2048));
    for i in 0..100 {
        let a = p.append(&[record(&format!("record-{i:03}"))], 0).unwrap();
        p.wait_durable_blocking(a.next_offset).unwrap();
    }
    p.close().unwrap();
    drop(p);
    let first = segment_files(&sim.storage, &sim.dir).remove(0);
    let mut bytes = sim.storage.read_file(&first).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    for drop_index in [false, true] {
        let fresh = fresh_sim_with(&sim, &first, bytes.clone());
        if drop_index {
            use brook_log::Storage;
            fresh
                .storage
                .remove_file(&first.with_extension("idx"))
                .unwrap();
        }
        let p = fresh.open(config(Durability::Always, 2048));
        // The first records are fine.
        let early = p.read_records(0, 3, 1 << 20).unwrap();
        assert_eq!(early.len(), 3);
        // Reading across the damage is an error, never garbage.
        let err = p.read_records(0, 1000, 1 << 20).unwrap_err();
        assert!(matches!(err, ReadError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("corrupt"));
        // The segment file was not truncated.
        assert_eq!(fresh.storage.read_file(&first).unwrap().len(), bytes.len());
        // Later segments still read.
        let late = p.read_records(90, 10, 1 << 20).unwrap();
        assert_eq!(late.len(), 10);
    }
}

#[test]
fn stale_index_is_rebuilt() {
    let sim = Sim::new();
    let p = sim.open(config(Durability::Always, 1 << 20));
    for i in 0..10 {
        let a = p.append(&[record(&format!("r{i}"))], 0).unwrap();
        p.wait_durable_blocking(a.next_offset).unwrap();
    }
    p.close().unwrap();
    drop(p);
    // Reopen, append more without a clean close, crash.
    let p = sim.open(config(Durability::Always, 1 << 20));
    for i in 10..15 {
        let a = p.append(&[record(&format!("r{i}"))], 0).unwrap();
        p.wait_durable_blocking(a.next_offset).unwrap();
    }
    drop(p);
    sim.storage.crash();
    let p = sim.open(config(Durability::Always, 1 << 20));
    assert_eq!(values(&p, 0).len(), 15);
    assert_eq!(values(&p, 12), vec!["r12", "r13", "r14"]);
}

/// The segment files (`<base offset>.log`), in order.
fn numbered_segments(sim: &Sim) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = segment_files(&sim.storage, &sim.dir)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.as_encoded_bytes()[0].is_ascii_digit())
        })
        .collect();
    v.sort();
    v
}

/// Three segments written under `never` and closed; then the disk as a crash between
/// a roll and its seal may leave it: no index files, and the first segment's last
/// entry torn.
fn unsealed_crash_image() -> (Sim, Vec<PathBuf>, Vec<u8>) {
    let sim = Sim::new();
    let p = sim.open(config(Durability::Never, 600));
    for i in 0..40 {
        p.append(&[record(&format!("record-{i:02}"))], 0).unwrap();
    }
    p.close().unwrap();
    drop(p);
    let segments = numbered_segments(&sim);
    assert!(segments.len() >= 3, "{segments:?}");
    let first = sim.storage.read_file(&segments[0]).unwrap();
    let torn = first[..first.len() - 3].to_vec();
    (sim, segments, torn)
}

#[test]
fn a_torn_segment_before_unsealed_ones_ends_the_log_there() {
    let (sim, segments, torn) = unsealed_crash_image();
    let fresh = fresh_sim_with(&sim, &segments[0], torn);
    for f in fresh.storage.files() {
        if f.extension().is_some_and(|e| e == "idx") {
            use brook_log::Storage;
            fresh.storage.remove_file(&f).unwrap();
        }
    }
    let p = fresh.open(config(Durability::Never, 600));
    let recovered = values(&p, 0);
    // The complete entries of the first segment, and nothing after the lost one.
    assert!(!recovered.is_empty());
    assert!(recovered.len() < 40);
    for (i, v) in recovered.iter().enumerate() {
        assert_eq!(v, &format!("record-{i:02}"));
    }
    assert_eq!(numbered_segments(&fresh), segments[..1]);
    // Appends continue at the recovered end, in order.
    let a = p.append(&[record("after")], 0).unwrap();
    assert_eq!(a.base_offset, recovered.len() as u64);
}

#[test]
fn a_torn_segment_before_a_sealed_one_is_reported_as_corrupt() {
    let (sim, segments, torn) = unsealed_crash_image();
    let fresh = fresh_sim_with(&sim, &segments[0], torn.clone());
    // Only the first segment lost its index file: the second is sealed, so the
    // first was too, and its damage is corruption, not a crash.
    {
        use brook_log::Storage;
        fresh
            .storage
            .remove_file(&segments[0].with_extension("idx"))
            .unwrap();
    }
    let p = fresh.open(config(Durability::Never, 600));
    let err = p.read_records(0, 1000, 1 << 20).unwrap_err();
    assert!(matches!(err, ReadError::Corrupt { .. }), "{err:?}");
    assert_eq!(numbered_segments(&fresh), segments);
    assert_eq!(fresh.storage.read_file(&segments[0]).unwrap(), torn);
}

#[test]
fn a_segment_that_lost_whole_entries_before_unsealed_ones_ends_the_log_there() {
    // Segments whose first one ends, cleanly, before its last entry: the crash lost
    // that entry whole, while the next segment's file reached the disk.
    let sim = Sim::new();
    let p = sim.open(config(Durability::Never, 600));
    let mut first_segment_ends = Vec::new();
    for i in 0..40 {
        p.append(&[record(&format!("record-{i:02}"))], 0).unwrap();
        if p.segment_count() == 1 {
            first_segment_ends.push(p.size_bytes() as usize);
        }
    }
    p.close().unwrap();
    drop(p);
    let segments = numbered_segments(&sim);
    assert!(segments.len() >= 3, "{segments:?}");
    let kept = first_segment_ends.len() - 1;
    let first = sim.storage.read_file(&segments[0]).unwrap();
    let short = first[..first_segment_ends[kept - 1]].to_vec();
    let fresh = fresh_sim_with(&sim, &segments[0], short.clone());
    for f in fresh.storage.files() {
        if f.extension().is_some_and(|e| e == "idx") {
            use brook_log::Storage;
            fresh.storage.remove_file(&f).unwrap();
        }
    }
    let p = fresh.open(config(Durability::Never, 600));
    let recovered = values(&p, 0);
    assert_eq!(recovered.len(), kept);
    for (i, v) in recovered.iter().enumerate() {
        assert_eq!(v, &format!("record-{i:02}"));
    }
    assert_eq!(numbered_segments(&fresh), segments[..1]);
    assert_eq!(fresh.storage.read_file(&segments[0]).unwrap(), short);
    let a = p.append(&[record("after")], 0).unwrap();
    assert_eq!(a.base_offset, kept as u64);
    p.close().unwrap();
    drop(p);
    // And it opens again (the cut is not a gap).
    let p = fresh.open(config(Durability::Never, 600));
    assert_eq!(values(&p, 0).len(), kept + 1);
}

#[test]
fn recovered_segments_whose_index_does_not_fit_are_indexed_once_there_is_room() {
    let (sim, segments, _) = unsealed_crash_image();
    let fresh = fresh_sim_with(
        &sim,
        &segments[0],
        sim.storage.read_file(&segments[0]).unwrap(),
    );
    for f in fresh.storage.files() {
        if f.extension().is_some_and(|e| e == "idx") {
            use brook_log::Storage;
            fresh.storage.remove_file(&f).unwrap();
        }
    }
    let idx_files = |sim: &Sim| {
        sim.storage
            .files()
            .into_iter()
            .filter(|f| f.extension().is_some_and(|e| e == "idx"))
            .count()
    };
    // A full disk: the recovered segments' index files do not fit, the partition
    // opens anyway and serves everything.
    fresh.storage.set_space_left(Some(0));
    let p = fresh.open(config(Durability::Always, 600));
    assert_eq!(values(&p, 0).len(), 40);
    assert_eq!(idx_files(&fresh), 0);
    // Room again: the next group commit writes them.
    fresh.storage.set_space_left(None);
    let a = p.append(&[record("after")], 0).unwrap();
    p.wait_durable_blocking(a.next_offset).unwrap();
    assert!(
        idx_files(&fresh) >= segments.len() - 1,
        "{}",
        idx_files(&fresh)
    );
}

#[test]
fn a_trim_past_the_durable_end_does_not_cost_records_appended_after_a_crash() {
    // A process-and-forget stream under `never` (as under an interval, readers and
    // so trims go past what is fsynced; no timer fsyncs behind the test's back).
    let sim = Sim::new();
    let cfg = config(Durability::Never, 4096);
    let p = sim.open(cfg);
    let mut end = 0;
    for i in 0..10 {
        end = p
            .append(&[record(&format!("r{i}"))], 5_000)
            .unwrap()
            .next_offset;
    }
    assert_eq!(p.trim_to(end).unwrap(), end);
    drop(p);
    sim.storage.crash();
    // After the crash, new records are appended and acknowledged as durable...
    let p = sim.open(cfg);
    let start = p.marks().log_end;
    let mut last = start;
    for i in 0..5 {
        last = p
            .append(&[record(&format!("n{i}"))], 5_000)
            .unwrap()
            .next_offset;
    }
    p.wait_durable_blocking(last).unwrap();
    let before = values(&p, p.marks().log_start);
    p.close().unwrap();
    drop(p);
    // ...and the next start still has every one of them.
    let p = sim.open(cfg);
    assert_eq!(values(&p, p.marks().log_start), before);
    assert_eq!(before.len(), 5);
    assert_eq!(p.marks().log_end, last);
}

#[test]
fn a_deletion_of_a_record_a_crash_took_back_does_not_hide_its_successor() {
    // Under `never` (as under an interval, entries are visible, and deletable, before
    // they are durable; no timer fsyncs behind the test's back).
    let sim = Sim::new();
    let cfg = config(Durability::Never, 4096);
    let p = sim.open(cfg);
    let a = p.append(&[record("durable")], 5_000).unwrap();
    p.wait_durable_blocking(a.next_offset).unwrap();
    let lost = p.append(&[record("lost")], 5_000).unwrap();
    // XDEL of a visible but not yet durable entry: the deletion is durable.
    assert_eq!(p.delete_records(&[lost.base_offset]).unwrap(), 1);
    drop(p);
    sim.storage.crash();
    let p = sim.open(cfg);
    assert_eq!(p.marks().log_end, lost.base_offset);
    let next = p.append(&[record("new")], 5_000).unwrap();
    assert_eq!(next.base_offset, lost.base_offset);
    assert!(!p.is_deleted(next.base_offset));
    assert_eq!(values(&p, 0), ["durable", "new"]);
}

#[test]
fn more_deletions_than_one_frame_holds_survive_a_prune_and_a_restart() {
    let sim = Sim::new();
    let cfg = config(Durability::Always, 1 << 30);
    let p = sim.open(cfg);
    // 120,000 deletions; a trim drops 15,000 of them and the set is rewritten with
    // 105,000, more than one frame may hold.
    let n = 240_000u64;
    for first in (0..n).step_by(60_000) {
        let batch: Vec<_> = (first..first + 60_000)
            .map(|i| record(&i.to_string()))
            .collect();
        let a = p.append(&batch, 5_000).unwrap();
        p.wait_durable_blocking(a.next_offset).unwrap();
    }
    let odd: Vec<u64> = (0..n).filter(|o| o % 2 == 1).collect();
    for chunk in odd.chunks(50_000) {
        p.delete_records(chunk).unwrap();
    }
    p.trim_to(30_000).unwrap();
    p.close().unwrap();
    drop(p);
    let p = sim.open(cfg);
    assert!(p.is_deleted(n - 1));
    assert!(p.is_deleted(30_001));
    assert!(!p.is_deleted(30_002));
}

/// The simulated storage, with a hook run once after the next atomic write of a
/// partition checkpoint (`partition.meta`); `sync_data` of files under `held_dir`
/// waits while `hold` is set.
struct AfterCheckpoint {
    inner: SimStorage,
    hook: std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>,
    held_dir: PathBuf,
    hold: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// `remove_file` waits while set (the remover fsyncs the directory after it).
    hold_removals: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for AfterCheckpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfterCheckpoint").finish_non_exhaustive()
    }
}

impl brook_log::Storage for AfterCheckpoint {
    fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn open(
        &self,
        path: &Path,
        create: bool,
    ) -> std::io::Result<std::sync::Arc<dyn brook_log::StorageFile>> {
        let file = self.inner.open(path, create)?;
        if path.starts_with(&self.held_dir) {
            return Ok(std::sync::Arc::new(GatedFile {
                inner: file,
                panic: std::sync::Arc::default(),
                hold: self.hold.clone(),
            }));
        }
        Ok(file)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        wait_while(&self.hold_removals);
        self.inner.remove_file(path)
    }
    fn remove_dir_all(&self, path: &Path) -> std::io::Result<()> {
        self.inner.remove_dir_all(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.inner.rename(from, to)
    }
    fn list_dir(&self, dir: &Path) -> std::io::Result<Vec<String>> {
        self.inner.list_dir(dir)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        self.inner.sync_dir(dir)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn write_atomic(&self, path: &Path, contents: &[u8]) -> std::io::Result<()> {
        self.inner.write_atomic(path, contents)?;
        if path.ends_with("partition.meta") {
            if let Some(hook) = self.hook.lock().unwrap().take() {
                hook();
            }
        }
        Ok(())
    }
}

#[test]
fn a_segment_rolled_during_a_trim_of_the_one_before_it_survives_a_crash() {
    use std::sync::atomic::Ordering::SeqCst;
    use std::sync::{Arc, OnceLock, Weak};
    let sim = Sim::new();
    let held_dir = PathBuf::from("/data/topics/busy/0");
    let storage = Arc::new(AfterCheckpoint {
        inner: sim.storage.clone(),
        hook: std::sync::Mutex::new(None),
        held_dir: held_dir.clone(),
        hold: Arc::default(),
        hold_removals: Arc::new(true.into()),
    });
    // One fsync worker, kept busy by another partition while the trim runs: the
    // group commit the roll asks for starts only after the trim is done.
    let syncer = brook_log::Syncer::start(1).unwrap();
    let cfg = config(Durability::Interval { ms: 3_600_000 }, 600);
    let open = |dir: &PathBuf| {
        brook_log::Partition::open(storage.clone(), syncer.clone(), dir.clone(), cfg).unwrap()
    };
    let busy = open(&held_dir);
    let p = open(&sim.dir);
    let mut end = 0;
    while p.marks().log_end < 3 {
        end = p
            .append(&[record(&"x".repeat(120))], 5_000)
            .unwrap()
            .next_offset;
    }
    p.wait_durable_blocking(end).unwrap();
    // The trim of everything there is writes its checkpoint (and fsyncs the
    // directory); right then an append rolls over to a new segment, before the trim
    // picks the segments to drop: the one before the new segment goes unsealed.
    let me: Arc<OnceLock<Weak<brook_log::Partition>>> = Arc::default();
    let _ = me.set(Arc::downgrade(&p));
    let rolled = Arc::new(OnceLock::new());
    {
        let (me, rolled) = (me.clone(), rolled.clone());
        let (hold, busy) = (storage.hold.clone(), busy.clone());
        *storage.hook.lock().unwrap() = Some(Box::new(move || {
            hold.store(true, SeqCst);
            let b = busy.append(&[record("busy")], 5_000).unwrap();
            let waiter = std::thread::spawn(move || busy.wait_durable_blocking(b.next_offset));
            std::thread::sleep(std::time::Duration::from_millis(50));
            drop(waiter);
            let p = me.get().and_then(Weak::upgrade).unwrap();
            let a = p.append(&[record(&"y".repeat(500))], 5_000).unwrap();
            let _ = rolled.set(a);
        }));
    }
    assert_eq!(p.trim_to(end).unwrap(), end);
    let a = rolled.get().unwrap().clone();
    assert_eq!(p.segment_count(), 1);
    storage.hold.store(false, SeqCst);
    // The new record is reported durable, so it must survive a crash.
    // (Before the remover, whose directory fsync would cover the entry too.)
    p.wait_durable_blocking(a.next_offset).unwrap();
    drop(p);
    sim.storage.crash();
    storage.hold_removals.store(false, SeqCst);
    syncer.shutdown();
    let p = sim.open(cfg);
    assert_eq!(p.marks().log_end, a.next_offset);
    assert_eq!(values(&p, a.base_offset), ["y".repeat(500)]);
}
