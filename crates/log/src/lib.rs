//! Brook's durable segmented log.
//!
//! A [`Partition`] is an append-only sequence of records, each with a dense offset and
//! a strictly increasing stream ID, stored in segment files of Kafka RecordBatch v2
//! entries (see [`batch`] and docs/format.md). The log knows nothing about Redis or
//! Kafka wire protocols: it stores records, finds them by offset, timestamp or stream
//! ID, makes them durable by the topic's fsync policy with group commit, recovers
//! after a crash, and trims by retention.
//!
//! All file access goes through [`storage::Storage`], so the same code runs on the real
//! file system and on [`sim::SimStorage`] in crash tests.

pub mod batch;
mod deletions;
mod index;
pub mod meta;
mod partition;
mod segment;
pub mod sim;
pub mod storage;
mod sync;

pub use batch::{CorruptEntry, EncodeError, Entry, EntryMeta};
pub use meta::{MetaChange, MetaError, MetaLog};
pub use partition::{
    AppendError, Appended, Marks, OpenError, Partition, PartitionConfig, PartitionStats, ReadError,
    Retention, WaitError,
};
pub use storage::{FsStorage, Storage, StorageFile};
pub use sync::{shrink_in_steps, Removal, Syncer};
