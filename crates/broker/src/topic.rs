//! Topics: names, settings, and their partitions.

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use brook_log::{Partition, PartitionConfig, Retention};
use brook_model::{
    Durability, BATCH_BYTES_MAX, PARTITIONS_MAX, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN,
    TOPIC_NAME_BYTES_MAX,
};

/// Redis databases (`SELECT 0..15`) are separate keyspaces; Kafka sees database 0.
pub const DATABASES: u8 = 16;

/// A topic's identity: its database and its (binary) name. A Redis stream key is a
/// topic name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicKey {
    pub db: u8,
    pub name: Bytes,
}

impl TopicKey {
    pub fn new(db: u8, name: impl Into<Bytes>) -> TopicKey {
        TopicKey {
            db,
            name: name.into(),
        }
    }

    /// The same key with its name copied out of the buffer it was read from. The
    /// registry keeps its keys this way: a name from a request is a view of that
    /// request's read buffer (up to a whole RESP read or Kafka frame), which the
    /// view would keep alive as long as the topic.
    pub fn detached(&self) -> TopicKey {
        TopicKey {
            db: self.db,
            name: Bytes::copy_from_slice(&self.name),
        }
    }

    /// The key under which the topic's definition is stored in the metadata log:
    /// `topic/` + db byte + name.
    pub(crate) fn meta_key(&self) -> Bytes {
        let mut k = Vec::with_capacity(7 + self.name.len());
        k.extend_from_slice(META_PREFIX);
        k.push(self.db);
        k.extend_from_slice(&self.name);
        Bytes::from(k)
    }

    pub(crate) fn from_meta_key(k: &[u8]) -> Option<TopicKey> {
        let rest = k.strip_prefix(META_PREFIX)?;
        let (&db, name) = rest.split_first()?;
        Some(TopicKey::new(db, Bytes::copy_from_slice(name)))
    }
}

pub(crate) const META_PREFIX: &[u8] = b"topic/";

impl std::fmt::Display for TopicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "db{}:{}", self.db, String::from_utf8_lossy(&self.name))
    }
}

/// Per-topic settings; `None` means "the server default".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSettings {
    pub partitions: u32,
    #[serde(default, with = "durability_opt")]
    pub fsync: Option<Durability>,
    #[serde(default)]
    pub segment_bytes: Option<u64>,
    #[serde(default)]
    pub retention_ms: Option<u64>,
    #[serde(default)]
    pub retention_bytes: Option<u64>,
    #[serde(default)]
    pub retention_records: Option<u64>,
    /// Largest record batch a Kafka producer may send to the topic, as sent
    /// (compressed); `None`: [`BATCH_BYTES_MAX`]. Kafka's `max.message.bytes`. Not
    /// written when unset, so older versions still read the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_message_bytes: Option<u64>,
    /// Trim records every consumer group has acknowledged ("process and forget"):
    /// below the first entry a Redis group still needs and below the lowest offset
    /// a Kafka group committed. Not written when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trim_acked: bool,
}

impl Default for TopicSettings {
    fn default() -> Self {
        TopicSettings {
            partitions: 1,
            fsync: None,
            segment_bytes: None,
            retention_ms: None,
            retention_bytes: None,
            retention_records: None,
            max_message_bytes: None,
            trim_acked: false,
        }
    }
}

mod durability_opt {
    use brook_model::Durability;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Durability>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_some(&d.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Durability>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| s.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Why topic settings or a name are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTopic {
    #[error("stream key or topic name too long: {len} bytes, at most {max}")]
    NameLength { len: usize, max: usize },
    #[error("database {0} does not exist (0 to 15)")]
    Database(u8),
    #[error("partition count must be 1 to {max}, got {got}")]
    Partitions { got: u32, max: u32 },
    #[error("segment size must be {min} to {max} bytes, got {got}")]
    SegmentBytes { got: u64, min: u64, max: u64 },
    #[error("the largest message must be 1 to {max} bytes, got {got}")]
    MaxMessageBytes { got: u64, max: u64 },
}

impl TopicSettings {
    pub fn validate(&self) -> Result<(), InvalidTopic> {
        if self.partitions == 0 || self.partitions > PARTITIONS_MAX {
            return Err(InvalidTopic::Partitions {
                got: self.partitions,
                max: PARTITIONS_MAX,
            });
        }
        if let Some(b) = self.segment_bytes {
            if !(SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(&b) {
                return Err(InvalidTopic::SegmentBytes {
                    got: b,
                    min: SEGMENT_BYTES_MIN,
                    max: SEGMENT_BYTES_MAX,
                });
            }
        }
        if let Some(b) = self.max_message_bytes {
            if b == 0 || b > BATCH_BYTES_MAX as u64 {
                return Err(InvalidTopic::MaxMessageBytes {
                    got: b,
                    max: BATCH_BYTES_MAX as u64,
                });
            }
        }
        Ok(())
    }

    /// The largest Kafka record batch the topic accepts (see `max_message_bytes`).
    pub fn max_message_bytes_or_default(&self) -> u64 {
        self.max_message_bytes.unwrap_or(BATCH_BYTES_MAX as u64)
    }

    /// The partition configuration these settings produce under the server defaults.
    pub fn partition_config(&self, defaults: &PartitionConfig) -> PartitionConfig {
        PartitionConfig {
            durability: self.fsync.unwrap_or(defaults.durability),
            segment_bytes: self.segment_bytes.unwrap_or(defaults.segment_bytes),
            retention: Retention {
                ms: self.retention_ms.or(defaults.retention.ms),
                bytes: self.retention_bytes.or(defaults.retention.bytes),
                records: self.retention_records.or(defaults.retention.records),
            },
        }
    }
}

pub(crate) fn validate_key(key: &TopicKey) -> Result<(), InvalidTopic> {
    if key.db >= DATABASES {
        return Err(InvalidTopic::Database(key.db));
    }
    if key.name.len() > TOPIC_NAME_BYTES_MAX {
        return Err(InvalidTopic::NameLength {
            len: key.name.len(),
            max: TOPIC_NAME_BYTES_MAX,
        });
    }
    Ok(())
}

/// What the metadata log stores for a topic (its key is [`TopicKey::meta_key`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TopicRecord {
    /// 32 hex digits; also the topic's directory name under `topics/`.
    pub id: String,
    pub created_ms: u64,
    pub settings: TopicSettings,
    /// Redis `EXPIRE` on the stream key.
    #[serde(default)]
    pub expire_at_ms: Option<u64>,
    #[serde(default)]
    pub stream: StreamMeta,
}

/// Redis stream counters that are not derived from the log: the largest ID removed
/// by XDEL, XDELEX or XACKDEL (`max-deleted-entry-id`; trims leave it, as in Redis)
/// or set by XSETID MAXDELETEDID, and the amount by which XSETID
/// ENTRIESADDED moved `entries-added` away from the log's dense offset count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamMeta {
    pub max_deleted_ms: u64,
    pub max_deleted_seq: u64,
    pub entries_added_delta: i64,
}

impl StreamMeta {
    pub fn max_deleted(&self) -> brook_model::StreamId {
        brook_model::StreamId::new(self.max_deleted_ms, self.max_deleted_seq)
    }

    pub fn set_max_deleted(&mut self, id: brook_model::StreamId) {
        self.max_deleted_ms = id.ms;
        self.max_deleted_seq = id.seq;
    }

    /// `entries-added` (or a group's `entries-read`) for `offsets` dense offsets:
    /// moved by XSETID ENTRIESADDED's delta, kept within 0..=i64::MAX (Redis's
    /// counters are signed 64-bit).
    pub fn entries_added(&self, offsets: u64) -> u64 {
        let n = i128::from(offsets) + i128::from(self.entries_added_delta);
        n.clamp(0, i128::from(i64::MAX)) as u64
    }
}

/// A live topic.
#[derive(Debug)]
pub struct Topic {
    pub key: TopicKey,
    /// Random 128-bit ID (Kafka's topic ID), as 32 hex digits.
    pub id: String,
    pub created_ms: u64,
    pub(crate) settings: RwLock<TopicSettings>,
    pub(crate) partitions: Vec<Arc<Partition>>,
    /// Redis consumer groups of each partition's stream (shared with the renamed
    /// copy).
    pub(crate) groups: Vec<Arc<parking_lot::Mutex<brook_groups::StreamGroups>>>,
    /// Expiry (ms since the epoch), 0 for none.
    pub(crate) expire_at_ms: std::sync::atomic::AtomicU64,
    pub(crate) stream_meta: parking_lot::Mutex<StreamMeta>,
    /// Bumped when a group is destroyed (wakes readers blocked on that group).
    pub(crate) groups_gone: Arc<tokio::sync::watch::Sender<u64>>,
    /// Set once a RENAME has logged this topic's deletion (it is overwritten) and
    /// until the renamed topic takes its place: Kafka offset commits for it are
    /// refused then, as after a delete.
    pub(crate) overwritten: std::sync::atomic::AtomicBool,
}

impl Topic {
    pub fn expire_at(&self) -> Option<u64> {
        match self.expire_at_ms.load(std::sync::atomic::Ordering::SeqCst) {
            0 => None,
            t => Some(t),
        }
    }

    /// Whether the topic's expiry has passed (it is then treated as missing).
    pub fn expired(&self, now_ms: u64) -> bool {
        self.expire_at().is_some_and(|t| t <= now_ms)
    }

    pub fn settings(&self) -> TopicSettings {
        self.settings.read().clone()
    }

    /// A receiver that changes when a group of this stream is destroyed.
    pub fn subscribe_group_removals(&self) -> tokio::sync::watch::Receiver<u64> {
        self.groups_gone.subscribe()
    }

    pub fn stream_meta(&self) -> StreamMeta {
        *self.stream_meta.lock()
    }

    /// A copy of this topic under `key` with `partitions`, sharing its groups; what
    /// replaces it in the registry after a rename or when partitions are added.
    /// Called under the broker's admin lock, so the copied settings, expiry and
    /// stream counters are current.
    pub(crate) fn replaced(&self, key: TopicKey, partitions: Vec<Arc<Partition>>) -> Topic {
        let mut settings = self.settings();
        settings.partitions = partitions.len() as u32;
        Topic {
            key,
            id: self.id.clone(),
            created_ms: self.created_ms,
            settings: RwLock::new(settings),
            // Existing partitions keep their groups; added ones start without.
            groups: (0..partitions.len())
                .map(|i| self.groups.get(i).cloned().unwrap_or_default())
                .collect(),
            partitions,
            expire_at_ms: std::sync::atomic::AtomicU64::new(self.expire_at().unwrap_or(0)),
            stream_meta: parking_lot::Mutex::new(self.stream_meta()),
            groups_gone: self.groups_gone.clone(),
            overwritten: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The record that describes this topic in the metadata log.
    pub(crate) fn record(&self) -> TopicRecord {
        TopicRecord {
            id: self.id.clone(),
            created_ms: self.created_ms,
            settings: self.settings(),
            expire_at_ms: self.expire_at(),
            stream: self.stream_meta(),
        }
    }

    pub fn partitions(&self) -> &[Arc<Partition>] {
        &self.partitions
    }

    pub fn partition(&self, index: u32) -> Option<&Arc<Partition>> {
        self.partitions.get(index as usize)
    }

    /// The index of one of this topic's partitions.
    pub fn partition_index(&self, partition: &Partition) -> Option<u32> {
        self.partitions
            .iter()
            .position(|p| std::ptr::eq(p.as_ref(), partition))
            .map(|i| i as u32)
    }

    /// Reads the Redis consumer groups of a partition's stream (for replies; mutate
    /// through `Broker::update_groups`).
    pub fn groups(
        &self,
        partition: &Partition,
    ) -> parking_lot::MutexGuard<'_, brook_groups::StreamGroups> {
        self.group_slot(partition).1.lock()
    }

    /// The partition's index and groups (partition 0's for a partition of another
    /// topic, which callers never pass).
    pub(crate) fn group_slot(
        &self,
        partition: &Partition,
    ) -> (u32, &Arc<parking_lot::Mutex<brook_groups::StreamGroups>>) {
        let index = self.partition_index(partition).unwrap_or(0);
        match self.groups.get(index as usize).or(self.groups.first()) {
            Some(g) => (index, g),
            None => unreachable_groups(),
        }
    }
}

/// A topic always has at least one partition, and one group table per partition
/// (`open_topic` builds both); this is an invariant, not an input error.
fn unreachable_groups() -> ! {
    panic!("a topic without partitions")
}

/// The scope of a partition's Redis group records in the metadata log: the topic ID
/// for partition 0 (as before partitions had streams of their own), `<id>.<n>` for
/// partition n.
pub fn group_scope(topic_id: &str, index: u32) -> String {
    if index == 0 {
        topic_id.to_owned()
    } else {
        format!("{topic_id}.{index}")
    }
}

/// Longest partition number in a `name#N` stream key (partitions are fewer than
/// 100,000).
const PARTITION_DIGITS_MAX: usize = 5;

/// Splits a Redis key of the form `name#N` (N in decimal, no leading zeros) into
/// `name` and N: how Redis clients name partition N of a topic with several
/// partitions (docs/mapping.md). Whether `name` is such a topic is the caller's check.
pub fn split_partition_key(key: &Bytes) -> Option<(Bytes, u32)> {
    let hash = key.iter().rposition(|&b| b == b'#')?;
    let digits = key.get(hash + 1..)?;
    if digits.is_empty()
        || digits.len() > PARTITION_DIGITS_MAX
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits.len() > 1 && digits.first() == Some(&b'0'))
    {
        return None;
    }
    let index = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((key.slice(..hash), index))
}

/// The Redis key of partition `index`'s stream: the topic's name when it has one
/// partition, `name#index` otherwise.
pub fn partition_stream_key(topic: &Topic, index: u32) -> Bytes {
    if topic.partitions().len() == 1 {
        topic.key.name.clone()
    } else {
        let mut k = topic.key.name.to_vec();
        k.extend_from_slice(format!("#{index}").as_bytes());
        Bytes::from(k)
    }
}

#[cfg(test)]
mod partition_key_tests {
    use super::*;

    #[test]
    fn only_name_hash_decimal_is_a_partition_key() {
        let split = |k: &'static str| split_partition_key(&Bytes::from_static(k.as_bytes()));
        assert_eq!(split("orders#3"), Some((Bytes::from_static(b"orders"), 3)));
        assert_eq!(split("a#b#10"), Some((Bytes::from_static(b"a#b"), 10)));
        assert_eq!(split("#0"), Some((Bytes::new(), 0)));
        for not in [
            "orders",
            "orders#",
            "orders#03",
            "orders#-1",
            "orders#1x",
            "o#123456",
        ] {
            assert_eq!(split(not), None, "{not}");
        }
    }
}
