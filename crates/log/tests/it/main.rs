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
