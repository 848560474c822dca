//! Integration tests of the log through its public API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod basic;
mod crash;
mod model;

use std::path::PathBuf;
use std::sync::Arc;

use brook_log::sim::SimStorage;
use brook_log::{Partition, PartitionConfig, Storage, Syncer};
use brook_model::{Durability, IdSpec, Record};
use bytes::Bytes;

pub fn record(value: &str) -> (IdSpec, Record) {
    (
        IdSpec::Auto,
        Record {
            timestamp_ms: 1_000,
            key: None,
            value: Some(Bytes::copy_from_slice(value.as_bytes())),
            headers: vec![],
        },
    )
}

pub fn values(p: &Partition, from: u64) -> Vec<String> {
    p.read_records(from, usize::MAX, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|r| String::from_utf8(r.value.unwrap().to_vec()).unwrap())
        .collect()
}

pub fn config(durability: Durability, segment_bytes: u64) -> PartitionConfig {
    PartitionConfig {
        durability,
        segment_bytes,
        ..PartitionConfig::default()
    }
}

pub struct Sim {
    pub storage: SimStorage,
    pub syncer: Syncer,
    pub dir: PathBuf,
}

impl Default for Sim {
    fn default() -> Sim {
        Sim::new()
    }
}

impl Sim {
    pub fn new() -> Sim {
        Sim {
            storage: SimStorage::new(),
            syncer: Syncer::start(2).unwrap(),
            dir: PathBuf::from("/data/topics/t/0"),
        }
    }

    pub fn open(&self, config: PartitionConfig) -> Arc<Partition> {
        let storage: Arc<dyn Storage> = Arc::new(self.storage.clone());
        Partition::open(storage, self.syncer.clone(), self.dir.clone(), config).unwrap()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.syncer.shutdown();
    }
}

/// Sleeps while `flag` is set.
pub fn wait_while(flag: &std::sync::atomic::AtomicBool) {
    while flag.load(std::sync::atomic::Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// A file whose `sync_data` waits while `hold` is set, then panics if `panic` is.
#[derive(Debug)]
pub struct GatedFile {
    pub inner: Arc<dyn brook_log::StorageFile>,
    pub panic: Arc<std::sync::atomic::AtomicBool>,
    pub hold: Arc<std::sync::atomic::AtomicBool>,
}

impl brook_log::StorageFile for GatedFile {
    fn read_at(&self, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
        self.inner.read_at(buf, pos)
    }
    fn write_all_at(&self, buf: &[u8], pos: u64) -> std::io::Result<()> {
        self.inner.write_all_at(buf, pos)
    }
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.inner.set_len(len)
    }
    fn reserve(&self, pos: u64, len: u64) -> std::io::Result<()> {
        self.inner.reserve(pos, len)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        wait_while(&self.hold);
        assert!(
            !self.panic.load(std::sync::atomic::Ordering::SeqCst),
            "sync_data panics (expected by this test)"
        );
        self.inner.sync_data()
    }
}
