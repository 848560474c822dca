//! Limits. Every buffer, batch and frame in Brook has one; they live here so that
//! the protocol front ends and the log agree on them.

/// Largest encoded batch the log accepts in one append (Kafka's default
/// `message.max.bytes` is 1 MiB; we allow 8 MiB so that large producer batches fit).
pub const BATCH_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Most records one append may carry.
pub const BATCH_RECORDS_MAX: usize = 100_000;

/// Most headers one record may carry.
pub const RECORD_HEADERS_MAX: usize = 4096;

/// Default size at which the active segment is sealed and a new one started.
/// Kept well below Kafka's 1 GiB so crash recovery (which re-checks the active
/// segment) stays well under a second.
pub const SEGMENT_BYTES_DEFAULT: u64 = 128 * 1024 * 1024;

/// Smallest and largest segment size a topic may configure.
pub const SEGMENT_BYTES_MIN: u64 = 1024;
pub const SEGMENT_BYTES_MAX: u64 = 1024 * 1024 * 1024;

/// One sparse-index entry per this many bytes of segment data (Kafka's
/// `index.interval.bytes`).
pub const INDEX_INTERVAL_BYTES: u64 = 4096;

/// Largest partition count a topic may have.
pub const PARTITIONS_MAX: u32 = 10_000;

/// Longest topic name (stream key), in bytes. Redis allows keys up to 512 MB; longer
/// stream keys than this are refused. Kafka sees only names of at most 249 bytes (see
/// `broker::names`); the empty Redis key is a stream like any other, not seen by Kafka.
pub const TOPIC_NAME_BYTES_MAX: usize = 64 * 1024;
