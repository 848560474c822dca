//! Brook's protocol-neutral engine: the data directory, the topic registry, appends
//! that honour the fsync policy, and background retention.
//!
//! Data directory layout (details in docs/format.md):
//! ```text
//! <data_dir>/LOCK                      held (flock) while a server runs
//! <data_dir>/meta/0/                   the metadata log (a partition of the log crate)
//! <data_dir>/topics/<topic-id>/<n>/    partition n of a topic
//! ```
//! Commit points: a topic exists once its record is durable in the metadata log. It
//! is created by first creating its partition directories, then writing the record;
//! it is deleted by first writing a tombstone, then removing the directories. A crash
//! between the two steps leaves a directory without a record, which [`Broker::open`]
//! removes.
//!
//! Partitions are added ([`Broker::add_partitions`]) the same way: the new partition
//! directories are created first, then the record with the new count is written (the
//! commit point), then the topic is published with them. A crash before the record is
//! durable leaves directories numbered at or past the recorded count; nothing was
//! appended to them (the topic was not published with them), and [`Broker::open`]
//! removes them.

pub mod fields;
pub mod kafka_groups;
pub mod names;
mod strings;
mod topic;

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex, RwLock};

use brook_log::{FsStorage, MetaLog, PartitionConfig, Removal, Retention, Storage, Syncer};
use brook_model::{Durability, IdSpec, Record};

pub use brook_groups::kafka::{
    GroupState as KafkaGroupState, GroupSummary as KafkaGroupSummary, JoinReply, JoinRequest,
    JoinedMember, KafkaGroupConfig, KafkaGroupError, Leaving, MemberSummary, SyncReply,
    SyncRequest,
};
use brook_groups::persist as groups_persist;
pub use brook_groups::{Change as GroupChange, Group, GroupError, StreamGroups};
/// Checks an uncompressed Kafka RecordBatch v2 as [`Partition::append_kafka_batch`]
/// will, without appending it.
pub use brook_log::batch::check_kafka_batch;
pub use brook_log::{
    AppendError, Appended, CorruptEntry, EncodeError, Entry, Marks, MetaError, Partition,
    ReadError, WaitError,
};
pub use kafka_groups::{CommitError, CommittedOffset, KafkaGroups};
pub use strings::{StringValue, STRING_BYTES_MAX};
pub use topic::{
    partition_stream_key, split_partition_key, InvalidTopic, StreamMeta, Topic, TopicKey,
    TopicSettings, DATABASES,
};
use topic::{validate_key, TopicRecord};

/// What the broker needs to open a data directory.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub data_dir: PathBuf,
    /// The fsync policy of topics that do not set their own.
    pub default_fsync: Durability,
    /// Segment size of topics that do not set their own.
    pub segment_bytes: u64,
    /// Retention of topics that do not set their own (default: keep everything).
    pub default_retention: Retention,
    /// How often retention is enforced.
    pub retention_check_ms: u64,
    /// Threads that run fsyncs (group commits) for all partitions.
    pub fsync_workers: usize,
    /// Kafka consumer-group settings.
    pub kafka_groups: KafkaGroupConfig,
}

impl BrokerConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> BrokerConfig {
        BrokerConfig {
            data_dir: data_dir.into(),
            default_fsync: Durability::Always,
            segment_bytes: brook_model::SEGMENT_BYTES_DEFAULT,
            default_retention: Retention::default(),
            retention_check_ms: 1000,
            fsync_workers: 4,
            kafka_groups: KafkaGroupConfig::default(),
        }
    }

    fn partition_defaults(&self) -> PartitionConfig {
        PartitionConfig {
            durability: self.default_fsync,
            segment_bytes: self.segment_bytes,
            retention: self.default_retention,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("data directory {path} is in use by another brook process (lock file {path}/LOCK is held); stop that process or use another --data-dir")]
    Locked { path: PathBuf },
    #[error("cannot use data directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open {what}: {source}")]
    Partition {
        what: String,
        #[source]
        source: brook_log::OpenError,
    },
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error("metadata record for {key} is invalid: {reason}")]
    BadRecord { key: String, reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("topic {0} already exists")]
    AlreadyExists(TopicKey),
    #[error("topic {0} does not exist")]
    NotFound(TopicKey),
    #[error(
        "topic {key} has {current} partitions; the count can only grow, so {requested} is refused"
    )]
    PartitionsNotIncreased {
        key: TopicKey,
        current: u32,
        requested: u32,
    },
    #[error(transparent)]
    Invalid(#[from] InvalidTopic),
    #[error("cannot open partition of topic {key}: {source}")]
    Partition {
        key: TopicKey,
        #[source]
        source: brook_log::OpenError,
    },
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    #[error("topic {topic} has no partition {partition}")]
    UnknownPartition { topic: TopicKey, partition: u32 },
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error(transparent)]
    Wait(#[from] brook_log::WaitError),
}

/// When an append may be acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// As the topic's fsync policy says: after fsync under `always`, after the write
    /// otherwise.
    Policy,
    /// After fsync, whatever the policy (Kafka `acks=-1`, Redis `WAITAOF`).
    Durable,
}

/// A snapshot of the broker's state for `/metrics` and status.
#[derive(Debug, Clone, Default)]
pub struct BrokerStats {
    pub topics: u64,
    pub partitions: u64,
    pub log_bytes: u64,
    pub records_appended_total: u64,
    pub bytes_appended_total: u64,
    pub fsyncs_total: u64,
    /// Streams and strings deleted because their expiry passed.
    pub expired_keys_total: u64,
}

#[derive(Debug, Default)]
struct Background {
    stop: Mutex<bool>,
    wake: Condvar,
}

pub struct Broker {
    config: BrokerConfig,
    storage: Arc<dyn Storage>,
    syncer: Syncer,
    meta: MetaLog,
    strings: strings::Strings,
    /// Streams and strings deleted because their expiry passed.
    expired_keys: AtomicU64,
    topics: RwLock<HashMap<TopicKey, Arc<Topic>>>,
    /// Serialises topic creation, deletion and alteration.
    admin: tokio::sync::Mutex<()>,
    background: Arc<Background>,
    /// Bumped whenever a topic is created, deleted, renamed or given more partitions
    /// (wakes blocked readers waiting for a stream that does not exist yet).
    topics_changed: tokio::sync::watch::Sender<u64>,
    retention_thread: Mutex<Option<JoinHandle<()>>>,
    kafka_groups: Arc<KafkaGroups>,
    /// Told of the changes to streams the broker makes or sees (see
    /// [`KeyListener`]).
    key_listener: std::sync::OnceLock<Arc<dyn KeyListener>>,
    _lock: File,
}

/// Told when the data under a key changes through the broker: appends from any
/// protocol, trims (Kafka DeleteRecords, retention, `trim_acked`), topics created,
/// deleted, renamed or given more partitions. The RESP front end's
/// `WATCH` listens, so a Kafka producer writing to a watched stream aborts the
/// watcher's `EXEC` as another RESP client's `XADD` would.
pub trait KeyListener: Send + Sync {
    /// Whether any key is listened for (checked first: the common answer is no, and
    /// then nothing is built or looked up).
    fn listening(&self) -> bool;
    /// `key` of database `db` changed.
    fn modified(&self, db: u8, key: &Bytes);
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("data_dir", &self.config.data_dir)
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn random_id() -> String {
    let state = std::collections::hash_map::RandomState::new();
    let mut a = state.build_hasher();
    a.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    a.write_u32(std::process::id());
    let hi = a.finish();
    let mut b = std::collections::hash_map::RandomState::new().build_hasher();
    b.write_u64(hi);
    format!("{:016x}{:016x}", hi, b.finish())
}

impl Broker {
    /// Opens (creating if needed) the data directory, takes its lock, and recovers
    /// the metadata log and every topic.
    pub fn open(config: BrokerConfig) -> Result<Arc<Broker>, OpenError> {
        let started = std::time::Instant::now();
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| OpenError::Io { path, source }
        };
        std::fs::create_dir_all(&config.data_dir).map_err(io(&config.data_dir))?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(config.data_dir.join("LOCK"))
            .map_err(io(&config.data_dir))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(OpenError::Locked {
                    path: config.data_dir.clone(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&config.data_dir)(e)),
        }
        let storage: Arc<dyn Storage> = Arc::new(FsStorage);
        let syncer = Syncer::start(config.fsync_workers).map_err(io(&config.data_dir))?;
        let meta_dir = config.data_dir.join("meta").join("0");
        let meta_partition = Partition::open(
            storage.clone(),
            syncer.clone(),
            meta_dir,
            PartitionConfig {
                durability: Durability::Always,
                segment_bytes: 8 * 1024 * 1024,
                retention: Retention::default(),
            },
        )
        .map_err(|source| OpenError::Partition {
            what: "the metadata log".into(),
            source,
        })?;
        let (meta, group_records) = MetaLog::open(
            meta_partition,
            Some(Bytes::from_static(groups_persist::PREFIX.as_bytes())),
        )?;
        let mut group_records_by_scope: HashMap<String, Vec<(Bytes, Bytes)>> = HashMap::new();
        for (k, v) in group_records {
            let scope = k
                .strip_prefix(groups_persist::PREFIX.as_bytes())
                .and_then(|rest| rest.split(|&b| b == b'/').next())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .unwrap_or_default();
            group_records_by_scope
                .entry(scope)
                .or_default()
                .push((k, v));
        }

        let defaults = config.partition_defaults();
        let topics_dir = config.data_dir.join("topics");
        std::fs::create_dir_all(&topics_dir).map_err(io(&topics_dir))?;
        let mut topics = HashMap::new();
        let mut stale_group_keys: Vec<Bytes> = Vec::new();
        for (k, v) in meta.scan_prefix(topic::META_PREFIX) {
            let bad = |reason: String| OpenError::BadRecord {
                key: String::from_utf8_lossy(&k).into_owned(),
                reason,
            };
            let key = TopicKey::from_meta_key(&k).ok_or_else(|| bad("malformed key".into()))?;
            let record: TopicRecord = serde_json::from_slice(&v).map_err(|e| bad(e.to_string()))?;
            let topic = open_topic(
                &storage,
                &syncer,
                &topics_dir,
                key.clone(),
                record,
                &defaults,
            )
            .map_err(|e| bad(e.to_string()))?;
            for (index, slot) in topic.groups.iter().enumerate() {
                let scope = topic::group_scope(&topic.id, index as u32);
                let records = group_records_by_scope.remove(&scope).unwrap_or_default();
                let (groups, orphans) = groups_persist::load(&scope, &records);
                *slot.lock() = groups;
                stale_group_keys.extend(orphans);
            }
            topics.insert(key, Arc::new(topic));
        }
        // Group records of topics that no longer exist (a crash during a delete).
        for records in group_records_by_scope.into_values() {
            stale_group_keys.extend(records.into_iter().map(|(k, _)| k));
        }
        if !stale_group_keys.is_empty() {
            tracing::info!(
                records = stale_group_keys.len(),
                "removing stale consumer-group records"
            );
            let next = meta.apply_chunked_nowait(
                stale_group_keys.into_iter().map(|k| (k, None)).collect(),
                now_ms(),
            )?;
            meta.partition()
                .wait_durable_blocking(next)
                .map_err(|e| OpenError::Meta(MetaError::Wait(e)))?;
        }
        // Partition directories past a topic's recorded count are leftovers of a crash
        // while partitions were being added (never committed, never written).
        for topic in topics.values() {
            let dir = topics_dir.join(&topic.id);
            for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
                let entry = entry.map_err(io(&dir))?;
                let index = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse::<u32>().ok());
                // Removed now, not in the background: the next add of partitions
                // creates directories under the same names.
                if index.is_some_and(|i| i as usize >= topic.partitions.len()) {
                    tracing::info!(dir = %entry.path().display(), "removing leftover partition directory");
                    std::fs::remove_dir_all(entry.path()).map_err(io(&entry.path()))?;
                }
            }
        }
        // Directories without a record are leftovers of a crashed create or delete.
        let known: std::collections::HashSet<&str> =
            topics.values().map(|t| t.id.as_str()).collect();
        for entry in std::fs::read_dir(&topics_dir).map_err(io(&topics_dir))? {
            let entry = entry.map_err(io(&topics_dir))?;
            let name = entry.file_name();
            if !known.contains(name.to_string_lossy().as_ref()) {
                remove_dir_later(&syncer, entry.path(), "leftover topic directory", None);
            }
        }
        tracing::info!(
            topics = topics.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "data directory recovered"
        );
        let id_seed = {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            h.finish()
        };
        let kafka_groups =
            KafkaGroups::start(config.kafka_groups, id_seed).map_err(io(&config.data_dir))?;
        let broker = Arc::new(Broker {
            config,
            storage,
            syncer,
            meta,
            strings: strings::Strings::default(),
            expired_keys: AtomicU64::new(0),
            topics: RwLock::new(topics),
            admin: tokio::sync::Mutex::new(()),
            background: Arc::default(),
            topics_changed: tokio::sync::watch::channel(0).0,
            retention_thread: Mutex::new(None),
            kafka_groups,
            key_listener: std::sync::OnceLock::new(),
            _lock: lock,
        });
        broker.sweep_orphan_offsets();
        let weak = Arc::downgrade(&broker);
        let background = broker.background.clone();
        let period = Duration::from_millis(broker.config.retention_check_ms.max(10));
        let handle = std::thread::Builder::new()
            .name("brook-retention".into())
            .spawn(move || retention_loop(weak, background, period))
            .map_err(io(&broker.config.data_dir))?;
        *broker.retention_thread.lock() = Some(handle);
        Ok(broker)
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// The metadata log, for state that must survive restarts (consumer groups).
    pub fn meta(&self) -> &MetaLog {
        &self.meta
    }

    /// The Kafka consumer-group coordinator.
    pub fn kafka_groups(&self) -> &KafkaGroups {
        &self.kafka_groups
    }

    /// The offsets a Kafka group has committed: `(topic, partition, offset)`.
    pub fn committed_offsets(&self, group_id: &str) -> Vec<(String, i32, CommittedOffset)> {
        kafka_groups::committed_offsets(&self.meta, group_id)
    }

    /// The offset a Kafka group has committed for one partition.
    pub fn committed_offset(
        &self,
        group_id: &str,
        topic: &str,
        partition: i32,
    ) -> Option<CommittedOffset> {
        kafka_groups::committed_offset(&self.meta, group_id, topic, partition)
    }

    /// Every Kafka group: the ones with members and the ones with only committed
    /// offsets (state `Empty`), as `(group ID, protocol type, state)` sorted by ID.
    pub fn kafka_group_list(&self) -> Vec<(String, String, KafkaGroupState)> {
        let mut groups = self.kafka_groups.list_active();
        for id in kafka_groups::groups_with_offsets(&self.meta) {
            if !groups.iter().any(|(g, _, _)| *g == id) {
                groups.push((id, String::new(), KafkaGroupState::Empty));
            }
        }
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        groups
    }

    pub fn topic(&self, key: &TopicKey) -> Option<Arc<Topic>> {
        self.topics.read().get(key).cloned()
    }

    /// All topics, sorted by key.
    pub fn topics(&self) -> Vec<Arc<Topic>> {
        let mut v: Vec<Arc<Topic>> = self.topics.read().values().cloned().collect();
        v.sort_by(|a, b| a.key.cmp(&b.key));
        v
    }

    /// Creates a topic; it is durable when this returns.
    pub async fn create_topic(
        &self,
        key: TopicKey,
        settings: TopicSettings,
    ) -> Result<Arc<Topic>, TopicError> {
        validate_key(&key)?;
        settings.validate()?;
        let key = key.detached();
        let _admin = self.admin.lock().await;
        let existing = self.topics.read().get(&key).cloned();
        if let Some(existing) = existing {
            if !existing.expired(now_ms()) {
                return Err(TopicError::AlreadyExists(key));
            }
            let (old, next) = self.delete_topic_locked(&key)?;
            self.meta
                .partition()
                .wait_durable(next)
                .await
                .map_err(MetaError::Wait)?;
            self.remove_topic_dir(old);
        }
        let record = TopicRecord {
            id: random_id(),
            created_ms: now_ms(),
            settings,
            expire_at_ms: None,
            stream: StreamMeta::default(),
        };
        let topics_dir = self.config.data_dir.join("topics");
        let topic = open_topic(
            &self.storage,
            &self.syncer,
            &topics_dir,
            key.clone(),
            record.clone(),
            &self.config.partition_defaults(),
        )?;
        let value = serde_json::to_vec(&record).map_err(|e| TopicError::Io {
            path: topics_dir.clone(),
            source: std::io::Error::other(e),
        })?;
        self.meta
            .apply(vec![(key.meta_key(), Some(Bytes::from(value)))], now_ms())
            .await?;
        let topic = Arc::new(topic);
        self.topics.write().insert(key, topic.clone());
        self.topics_changed.send_modify(|g| *g += 1);
        self.note_modified(&topic, None);
        Ok(topic)
    }

    /// A receiver that changes whenever a topic is created, deleted, renamed or given
    /// more partitions.
    pub fn subscribe_topics(&self) -> tokio::sync::watch::Receiver<u64> {
        self.topics_changed.subscribe()
    }

    /// Renames a topic (Redis `RENAME`): a metadata change only, the data stays in
    /// place. An existing topic under the new name is replaced (deleted).
    pub async fn rename_topic(
        &self,
        from: &TopicKey,
        to: TopicKey,
    ) -> Result<Arc<Topic>, TopicError> {
        validate_key(&to)?;
        let to = to.detached();
        let _admin = self.admin.lock().await;
        let topic = self
            .topic(from)
            // Expired since the caller looked: gone, as for Redis.
            .filter(|t| !t.expired(now_ms()))
            .ok_or_else(|| TopicError::NotFound(from.clone()))?;
        if *from == to {
            return Ok(topic);
        }
        // RENAME overwrites the destination: its deletion is logged first (its own
        // commit), but it leaves the registry only when the renamed topic takes its
        // place, so no client sees the key missing in between (Redis's RENAME is
        // atomic: a blocked XREADGROUP on the key sees the new stream, not a DEL).
        let overwritten = self.topic(&to);
        if let Some(old) = &overwritten {
            // Before its Kafka offsets are dropped (under the coordinator's lock,
            // where a commit re-checks its topic).
            old.overwritten
                .store(true, std::sync::atomic::Ordering::SeqCst);
            let next = match self.log_topic_deletion(&to, old) {
                Ok(next) => next,
                Err(e) => {
                    // Part of the deletion may be logged (it is written in chunks):
                    // out of the registry, as a failed DEL leaves it, files kept.
                    self.drop_overwritten(&to, old, false);
                    return Err(e);
                }
            };
            if let Err(e) = self.meta.partition().wait_durable(next).await {
                // Logged, but not known to be durable: out of the registry as the
                // log says, its files left for the next start to judge.
                self.drop_overwritten(&to, old, false);
                return Err(MetaError::Wait(e).into());
            }
        }
        let record = topic.record();
        let applied = match serde_json::to_vec(&record) {
            Ok(value) => self
                .meta
                .apply(
                    vec![
                        (from.meta_key(), None),
                        (to.meta_key(), Some(Bytes::from(value))),
                    ],
                    now_ms(),
                )
                .await
                .map_err(TopicError::from),
            Err(e) => Err(TopicError::Io {
                path: self.config.data_dir.clone(),
                source: std::io::Error::other(e),
            }),
        };
        if let Err(e) = applied {
            if let Some(old) = &overwritten {
                self.drop_overwritten(&to, old, true);
            }
            return Err(e);
        }
        let renamed = Arc::new(topic.replaced(to.clone(), topic.partitions.clone()));
        {
            let mut topics = self.topics.write();
            topics.remove(from);
            topics.insert(to, renamed.clone());
        }
        self.note_modified(&topic, None);
        self.note_modified(&renamed, None);
        if let Some(old) = overwritten {
            self.note_modified(&old, None);
            for p in old.partitions() {
                let _ = p.close();
            }
            self.remove_topic_dir(old);
        }
        // Kafka has no rename: the old name's committed offsets go, as at a delete
        // (after the name left the registry). The rename is done: a failure here is
        // logged, and the next start sweeps what a failure or a crash leaves.
        let next = self
            .kafka_groups
            .apply_dropping_offsets(&self.meta, names::kafka_name(from).as_deref(), Vec::new())
            .unwrap_or_else(|error| {
                tracing::warn!(topic = %from, %error, "cannot drop the committed offsets of a renamed topic's old name");
                0
            });
        self.meta
            .partition()
            .wait_durable(next)
            .await
            .map_err(MetaError::Wait)?;
        self.topics_changed.send_modify(|g| *g += 1);
        Ok(renamed)
    }

    /// Deletes a topic, its data and its consumer groups.
    pub async fn delete_topic(&self, key: &TopicKey) -> Result<(), TopicError> {
        let _admin = self.admin.lock().await;
        let (topic, next) = self.delete_topic_locked(key)?;
        self.meta
            .partition()
            .wait_durable(next)
            .await
            .map_err(MetaError::Wait)?;
        self.remove_topic_dir(topic);
        Ok(())
    }

    /// Deletes `expired` if its key still holds it and it is still expired, for
    /// threads outside the async runtime (key expiry). Checked under the admin lock:
    /// since `expired` was listed, the key may have been created again, renamed
    /// onto, or made persistent, and that topic must stay. Returns whether it deleted.
    fn delete_expired_topic_blocking(&self, expired: &Topic) -> Result<bool, TopicError> {
        let _admin = self.admin.blocking_lock();
        let still = self
            .topics
            .read()
            .get(&expired.key)
            .is_some_and(|t| t.id == expired.id && t.expired(now_ms()));
        if !still {
            return Ok(false);
        }
        let (topic, next) = self.delete_topic_locked(&expired.key)?;
        self.meta
            .partition()
            .wait_durable_blocking(next)
            .map_err(MetaError::Wait)?;
        self.remove_topic_dir(topic);
        Ok(true)
    }

    /// The commit point of a delete: the tombstone (first) and the group deletions
    /// are logged; the caller waits for them, then removes the directory.
    fn delete_topic_locked(&self, key: &TopicKey) -> Result<(Arc<Topic>, u64), TopicError> {
        let topic = self
            .topics
            .write()
            .remove(key)
            .ok_or_else(|| TopicError::NotFound(key.clone()))?;
        // Gone from the registry: an EXEC watching it must not run from here on.
        self.note_modified(&topic, None);
        let next = self.log_topic_deletion(key, &topic)?;
        for p in topic.partitions() {
            let _ = p.close();
        }
        self.topics_changed.send_modify(|g| *g += 1);
        Ok((topic, next))
    }

    /// A RENAME failed after it logged (or began to log) the deletion of the topic it
    /// overwrites: that topic leaves the registry, as the log says, and its files go
    /// if `remove_files` (the deletion is durable).
    fn drop_overwritten(&self, key: &TopicKey, old: &Arc<Topic>, remove_files: bool) {
        let removed = {
            let mut topics = self.topics.write();
            match topics.get(key) {
                Some(t) if Arc::ptr_eq(t, old) => topics.remove(key),
                _ => None,
            }
        };
        if let Some(old) = removed {
            for p in old.partitions() {
                let _ = p.close();
            }
            self.topics_changed.send_modify(|g| *g += 1);
            if remove_files {
                self.remove_topic_dir(old);
            }
        }
    }

    /// Logs the deletion of `topic` under `key`: the tombstone first (the commit
    /// point), then the groups' and the Kafka offsets' deletions (what a crash leaves
    /// of those, the next start sweeps). Returns the offset to wait for.
    fn log_topic_deletion(&self, key: &TopicKey, topic: &Topic) -> Result<u64, TopicError> {
        let mut changes = vec![(key.meta_key(), None)];
        for (index, slot) in topic.groups.iter().enumerate() {
            let groups = slot.lock();
            changes.extend(groups_persist::encode(
                &topic::group_scope(&topic.id, index as u32),
                &groups.delete_all_changes(),
            ));
        }
        Ok(self.kafka_groups.apply_dropping_offsets(
            &self.meta,
            names::kafka_name(key).as_deref(),
            changes,
        )?)
    }

    /// At start: drops committed offsets whose topic no longer exists (left by a
    /// crash in the middle of a topic's delete, or by versions that kept them). A
    /// failure (a full disk) is logged, not fatal: the next start tries again.
    fn sweep_orphan_offsets(&self) {
        let orphans: Vec<Bytes> = self
            .meta
            .scan_prefix(kafka_groups::OFFSETS_PREFIX)
            .into_iter()
            .filter(|(k, _)| {
                kafka_groups::offset_key_topic(k).is_some_and(|t| !self.kafka_topic_exists(&t))
            })
            .map(|(k, _)| k)
            .collect();
        let count = orphans.len();
        let swept = self
            .kafka_groups
            .drop_offsets(&self.meta, orphans)
            .and_then(|next| {
                self.meta
                    .partition()
                    .wait_durable_blocking(next)
                    .map_err(MetaError::Wait)
            });
        if let Err(error) = swept {
            tracing::warn!(count, %error, "cannot drop the committed offsets of deleted topics; the next start tries again");
        }
    }

    /// Whether a live topic answers to this Kafka name (offset commits re-check it
    /// under the group coordinator's lock).
    pub fn kafka_topic_exists(&self, name: &str) -> bool {
        names::topic_key(name)
            .and_then(|key| self.topic(&key))
            .is_some_and(|t| {
                !t.expired(now_ms()) && !t.overwritten.load(std::sync::atomic::Ordering::SeqCst)
            })
    }

    /// Once the delete is durable: the data goes in the background (a directory
    /// without a topic record is garbage; a start removes any left over).
    fn remove_topic_dir(&self, topic: Arc<Topic>) {
        let dir = self.config.data_dir.join("topics").join(&topic.id);
        remove_dir_later(&self.syncer, dir, "deleted topic's directory", Some(topic));
    }

    /// Sets or clears a topic's expiry (Redis `EXPIRE`/`PERSIST` on a stream key);
    /// the topic is deleted once it passes.
    pub async fn set_topic_expiry(
        &self,
        key: &TopicKey,
        expire_at_ms: Option<u64>,
    ) -> Result<(), TopicError> {
        let _admin = self.admin.lock().await;
        let topic = self
            .topic(key)
            .ok_or_else(|| TopicError::NotFound(key.clone()))?;
        let record = TopicRecord {
            expire_at_ms,
            ..topic.record()
        };
        self.put_topic_record(key, &record).await?;
        topic
            .expire_at_ms
            .store(expire_at_ms.unwrap_or(0), Ordering::SeqCst);
        Ok(())
    }

    /// Updates a stream's Redis counters (see [`StreamMeta`]) durably.
    pub async fn update_stream_meta(
        &self,
        topic: &Topic,
        f: impl FnOnce(&mut StreamMeta),
    ) -> Result<(), TopicError> {
        let _admin = self.admin.lock().await;
        // The registry's copy: `topic` may have been replaced since the caller looked
        // it up (renamed, partitions added) or deleted; writing a record built from
        // the stale copy would undo that.
        let topic = self.current(topic)?;
        let mut meta = topic.stream_meta();
        f(&mut meta);
        if meta == topic.stream_meta() {
            return Ok(());
        }
        let record = TopicRecord {
            stream: meta,
            ..topic.record()
        };
        self.put_topic_record(&topic.key, &record).await?;
        *topic.stream_meta.lock() = meta;
        Ok(())
    }

    /// The registry's current copy of `topic` (same ID), wherever it is now.
    fn current(&self, topic: &Topic) -> Result<Arc<Topic>, TopicError> {
        let topics = self.topics.read();
        match topics.get(&topic.key) {
            Some(t) if t.id == topic.id => Ok(t.clone()),
            _ => topics
                .values()
                .find(|t| t.id == topic.id)
                .cloned()
                .ok_or_else(|| TopicError::NotFound(topic.key.clone())),
        }
    }

    async fn put_topic_record(
        &self,
        key: &TopicKey,
        record: &TopicRecord,
    ) -> Result<(), TopicError> {
        let value = serde_json::to_vec(record).map_err(|e| TopicError::Io {
            path: self.config.data_dir.clone(),
            source: std::io::Error::other(e),
        })?;
        self.meta
            .apply(vec![(key.meta_key(), Some(Bytes::from(value)))], now_ms())
            .await?;
        Ok(())
    }

    /// Deletes topics and strings whose expiry passed (run in the background).
    fn expire_keys(&self) {
        let now = now_ms();
        for t in self.topics() {
            if t.expired(now) {
                match self.delete_expired_topic_blocking(&t) {
                    Ok(deleted) => {
                        self.expired_keys
                            .fetch_add(u64::from(deleted), Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::warn!(topic = %t.key, error = %e, "cannot delete an expired stream")
                    }
                }
            }
        }
        match self.strings.expire(&self.meta, now) {
            Ok(n) => {
                self.expired_keys.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!(error = %e, "cannot delete expired strings"),
        }
    }

    /// Replaces a topic's settings; the partition count must stay as it is (see
    /// [`Broker::add_partitions`]).
    pub async fn alter_topic(
        &self,
        key: &TopicKey,
        settings: TopicSettings,
    ) -> Result<Arc<Topic>, TopicError> {
        self.update_topic_settings(key, |s| *s = settings).await
    }

    /// Changes a topic's settings: `f` edits the current ones under the admin lock
    /// (so concurrent changes are not lost). The partition count must stay as it is
    /// (see [`Broker::add_partitions`]). Durable when this returns; the partitions use
    /// the new settings from then on.
    pub async fn update_topic_settings(
        &self,
        key: &TopicKey,
        f: impl FnOnce(&mut TopicSettings),
    ) -> Result<Arc<Topic>, TopicError> {
        let _admin = self.admin.lock().await;
        let topic = self
            .topic(key)
            .ok_or_else(|| TopicError::NotFound(key.clone()))?;
        let mut settings = topic.settings();
        f(&mut settings);
        settings.validate()?;
        if settings.partitions != topic.partitions.len() as u32 {
            return Err(TopicError::Invalid(InvalidTopic::Partitions {
                got: settings.partitions,
                max: topic.partitions.len() as u32,
            }));
        }
        let record = TopicRecord {
            settings: settings.clone(),
            ..topic.record()
        };
        self.put_topic_record(key, &record).await?;
        let pc = settings.partition_config(&self.config.partition_defaults());
        for p in topic.partitions() {
            p.set_config(pc);
        }
        *topic.settings.write() = settings;
        Ok(topic)
    }

    /// Grows a topic to `count` partitions (Kafka CreatePartitions); the new ones
    /// start empty. Durable when this returns. See the module docs for the commit
    /// point. Holders of the topic's previous `Arc` keep seeing the old partition
    /// list; look the topic up again to see the new one.
    pub async fn add_partitions(
        &self,
        key: &TopicKey,
        count: u32,
    ) -> Result<Arc<Topic>, TopicError> {
        let _admin = self.admin.lock().await;
        let topic = self
            .topic(key)
            .ok_or_else(|| TopicError::NotFound(key.clone()))?;
        let current = topic.partitions.len() as u32;
        if count <= current {
            return Err(TopicError::PartitionsNotIncreased {
                key: key.clone(),
                current,
                requested: count,
            });
        }
        let settings = TopicSettings {
            partitions: count,
            ..topic.settings()
        };
        settings.validate()?;
        let dir = self.config.data_dir.join("topics").join(&topic.id);
        let pc = settings.partition_config(&self.config.partition_defaults());
        let mut added: Vec<Arc<Partition>> = Vec::with_capacity((count - current) as usize);
        for i in current..count {
            let partition_dir = dir.join(i.to_string());
            let opened = remove_leftover_dir(&partition_dir).and_then(|()| {
                Partition::open(self.storage.clone(), self.syncer.clone(), partition_dir, pc)
                    .map_err(|source| TopicError::Partition {
                        key: key.clone(),
                        source,
                    })
            });
            match opened {
                Ok(p) => added.push(p),
                Err(e) => {
                    discard_partitions(&added);
                    return Err(e);
                }
            }
        }
        let record = TopicRecord {
            settings,
            ..topic.record()
        };
        if let Err(e) = self.put_topic_record(key, &record).await {
            // Not committed (or not known to be): nothing was appended to the new
            // partitions; if the record did become durable, open recreates them empty.
            discard_partitions(&added);
            return Err(e);
        }
        let mut partitions = topic.partitions.clone();
        partitions.extend(added);
        let grown = Arc::new(topic.replaced(key.clone(), partitions));
        self.topics.write().insert(key.clone(), grown.clone());
        self.topics_changed.send_modify(|g| *g += 1);
        // New `key#N` keys, and the plain key no longer names one stream.
        self.note_modified(&topic, None);
        self.note_modified(&grown, None);
        Ok(grown)
    }

    /// Appends records to one partition and waits as `ack` asks.
    pub async fn append(
        &self,
        topic: &Topic,
        partition: u32,
        records: Vec<(IdSpec, Record)>,
        ack: Ack,
    ) -> Result<Appended, ProduceError> {
        let p = partition_of(topic, partition)?;
        let appended = p.append(&records, now_ms())?;
        self.note_modified(topic, Some(partition));
        let wait = match ack {
            Ack::Durable => true,
            Ack::Policy => p.config().durability == Durability::Always,
        };
        if wait {
            p.wait_durable(appended.next_offset).await?;
        }
        Ok(appended)
    }

    /// Appends without waiting: returns what was appended and whether the caller
    /// must wait for durability (with [`Partition::wait_durable`]) before
    /// acknowledging — true under the `always` policy. For front ends that batch
    /// their waits (a RESP pipeline waits once for all its appends).
    pub fn append_deferred(
        &self,
        topic: &Topic,
        partition: u32,
        records: Vec<(IdSpec, Record)>,
        format: u8,
    ) -> Result<(Arc<Partition>, Appended, bool), ProduceError> {
        let p = partition_of(topic, partition)?;
        let appended = p.append_formatted(&records, format, now_ms())?;
        self.note_modified(topic, Some(partition));
        let must_wait = p.config().durability == Durability::Always;
        Ok((p.clone(), appended, must_wait))
    }

    /// [`Broker::append_deferred`] for a Kafka producer's uncompressed RecordBatch v2,
    /// stored as sent ([`Partition::append_kafka_batch`], format tag 0).
    pub fn append_kafka_batch_deferred(
        &self,
        topic: &Topic,
        partition: u32,
        kafka_batch: &[u8],
    ) -> Result<(Arc<Partition>, Appended, bool), ProduceError> {
        let p = partition_of(topic, partition)?;
        let appended = p.append_kafka_batch(kafka_batch, now_ms())?;
        self.note_modified(topic, Some(partition));
        let must_wait = p.config().durability == Durability::Always;
        Ok((p.clone(), appended, must_wait))
    }

    /// Sets the [`KeyListener`] (once; false if one is set already).
    pub fn set_key_listener(&self, listener: Arc<dyn KeyListener>) -> bool {
        self.key_listener.set(listener).is_ok()
    }

    /// Tells the key listener that `partition` of `topic` changed (`None`: all of
    /// them): the topic's key, and for a topic with several partitions the
    /// partition's own key (`key#N`) too.
    pub fn note_modified(&self, topic: &Topic, partition: Option<u32>) {
        let Some(listener) = self.key_listener.get() else {
            return;
        };
        if !listener.listening() {
            return;
        }
        let key = &topic.key;
        listener.modified(key.db, &key.name);
        let count = topic.partitions().len() as u32;
        if count > 1 {
            let touched = match partition {
                Some(p) => p..p + 1,
                None => 0..count,
            };
            for p in touched {
                listener.modified(key.db, &topic::partition_stream_key(topic, p));
            }
        }
    }

    /// The live string at `db`/`name`.
    pub fn string_get(&self, db: u8, name: &[u8]) -> Option<StringValue> {
        self.strings.get(&self.meta, db, name, now_ms())
    }

    /// Per database with keys: how many live keys (streams and strings) it holds, how
    /// many of them have an expiry, and the sum of their remaining times to live (ms),
    /// for `INFO keyspace`. Walks every topic and string (Redis keeps counters): fine
    /// for the few strings Brook is meant to hold, a cost per INFO otherwise.
    pub fn keyspace_summary(&self) -> std::collections::BTreeMap<u8, KeyspaceCounts> {
        let now = now_ms();
        let mut dbs = std::collections::BTreeMap::<u8, KeyspaceCounts>::new();
        let mut count = |db: u8, expire_at: Option<u64>| {
            let c = dbs.entry(db).or_default();
            c.keys += 1;
            if let Some(t) = expire_at {
                c.expires += 1;
                c.ttl_ms_sum = c.ttl_ms_sum.saturating_add(t.saturating_sub(now));
            }
        };
        for t in self.topics() {
            if !t.expired(now) {
                count(t.key.db, t.expire_at());
            }
        }
        for (db, expire_at) in self.strings.expiries(&self.meta, now) {
            count(db, expire_at);
        }
        dbs
    }

    /// Names of the live strings of a database.
    pub fn string_names(&self, db: u8) -> Vec<Bytes> {
        self.strings.names(&self.meta, db, now_ms())
    }

    /// Sets several strings at once, all or none (see `Strings::set_many`).
    pub fn string_set_many(
        &self,
        db: u8,
        values: &[(Bytes, StringValue)],
        only_if_none_exist: bool,
    ) -> Result<(bool, Option<u64>), MetaError> {
        self.strings
            .set_many(&self.meta, db, values, only_if_none_exist, now_ms())
    }

    /// Atomic read-modify-write of a string (see `Strings::update`). Returns the
    /// closure's result and the metadata-log offset to wait for before replying.
    pub fn string_update<R>(
        &self,
        db: u8,
        name: &[u8],
        f: impl FnOnce(Option<StringValue>) -> (Option<StringValue>, R),
    ) -> Result<(R, Option<u64>), MetaError> {
        self.strings.update(&self.meta, db, name, now_ms(), f)
    }

    /// Mutates the Redis consumer groups of a partition's stream and logs the
    /// changes, in one step under the groups' lock (so the log order is the mutation
    /// order). Returns the closure's result and the metadata-log offset that must be
    /// durable before the result is acknowledged (wait on [`Broker::meta`]'s
    /// partition), if anything changed.
    pub fn update_groups<R>(
        &self,
        topic: &Topic,
        partition: &Partition,
        f: impl FnOnce(&mut StreamGroups) -> Result<(R, Vec<GroupChange>), GroupError>,
    ) -> Result<Result<(R, Option<u64>), GroupError>, MetaError> {
        let (index, slot) = topic.group_slot(partition);
        let mut groups = slot.lock();
        let (result, changes) = match f(&mut groups) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        if changes.is_empty() {
            return Ok(Ok((result, None)));
        }
        if changes
            .iter()
            .any(|c| matches!(c, GroupChange::GroupDelete { .. }))
        {
            topic.groups_gone.send_modify(|v| *v += 1);
        }
        let records = groups_persist::encode(&topic::group_scope(&topic.id, index), &changes);
        let next = if records.len() > brook_log::meta::APPLY_RECORDS_MAX {
            self.meta.apply_chunked_nowait(records, now_ms())?
        } else {
            self.meta.apply_nowait(records, now_ms())?
        };
        Ok(Ok((result, Some(next))))
    }

    /// The first offset some consumer group of `partition` still needs: for Redis
    /// groups the first entry one has not read or has pending, for Kafka groups the
    /// lowest committed offset. `None` when the partition has no groups.
    pub fn first_needed_offset(&self, topic: &Topic, partition: &Partition) -> Option<u64> {
        let mut needed: Option<u64> = None;
        let mut consider = |o: u64| needed = Some(needed.map_or(o, |n| n.min(o)));
        {
            let groups = topic.groups(partition);
            if !groups.groups.is_empty() {
                match groups.first_needed() {
                    Some(id) => match partition.offset_for_stream_id(id) {
                        Ok(o) => consider(o),
                        Err(_) => consider(partition.marks().log_start),
                    },
                    // Every group has read everything and has nothing pending.
                    None => consider(partition.marks().high_watermark),
                }
            }
        }
        if let (Some(name), Some(index)) = (
            names::kafka_name(&topic.key),
            topic.partition_index(partition),
        ) {
            for group in kafka_groups::groups_with_offsets(&self.meta) {
                if let Some(c) = self.committed_offset(&group, &name, index as i32) {
                    consider(u64::try_from(c.offset).unwrap_or(0));
                }
            }
        }
        needed
    }

    /// Trims each partition of a `trim_acked` topic below what its consumer groups
    /// still need (nothing when a partition has no group).
    fn trim_acked(&self, topic: &Topic) -> Result<(), AppendError> {
        for (index, p) in topic.partitions().iter().enumerate() {
            if let Some(cut) = self.first_needed_offset(topic, p) {
                let marks = p.marks();
                let cut = cut.min(marks.high_watermark);
                if cut > marks.log_start {
                    p.trim_to(cut)?;
                    self.note_modified(topic, Some(index as u32));
                }
            }
        }
        Ok(())
    }

    /// Rewrites the metadata log without its dead records when that pays off.
    pub fn compact_meta_if_needed(&self) -> Result<bool, MetaError> {
        let topics = self.topics();
        let external: u64 = topics
            .iter()
            .flat_map(|t| t.groups.iter())
            .map(|g| g.lock().persisted_bytes())
            .sum();
        if !self.meta.needs_compaction(external) {
            return Ok(false);
        }
        let now = now_ms();
        let start = self.meta.snapshot_internal(now)?;
        // Listed again after the snapshot: a topic (and group) created since the
        // first listing has its group records below `start`, dropped by
        // `finish_compaction` unless copied here.
        let topics = self.topics();
        for t in &topics {
            for (index, slot) in t.groups.iter().enumerate() {
                let groups = slot.lock();
                let scope = topic::group_scope(&t.id, index as u32);
                let records: Vec<(Bytes, Bytes)> =
                    groups_persist::encode(&scope, &groups.snapshot_changes())
                        .into_iter()
                        .filter_map(|(k, v)| v.map(|v| (k, v)))
                        .collect();
                self.meta.append_snapshot(records, now)?;
            }
        }
        self.meta.finish_compaction(start)?;
        Ok(true)
    }

    pub fn stats(&self) -> BrokerStats {
        let topics = self.topics.read();
        let mut s = BrokerStats {
            topics: topics.len() as u64,
            expired_keys_total: self.expired_keys.load(Ordering::Relaxed),
            ..BrokerStats::default()
        };
        for t in topics.values() {
            for p in t.partitions() {
                s.partitions += 1;
                s.log_bytes += p.size_bytes();
                s.records_appended_total += p.stats.records.load(Ordering::Relaxed);
                s.bytes_appended_total += p.stats.bytes.load(Ordering::Relaxed);
                s.fsyncs_total += p.stats.fsyncs.load(Ordering::Relaxed);
            }
        }
        s
    }

    /// Removals of deleted topics' and trimmed segments' files queued or running.
    pub fn removals_pending(&self) -> usize {
        self.syncer.removals_pending()
    }

    /// Waits until the data of deleted topics and trimmed segments queued for removal
    /// so far is gone from the disk (it is removed in the background).
    pub fn wait_for_removals(&self) {
        self.syncer.wait_for_removals();
    }

    /// Makes everything durable, writes the active segments' indexes (so the next
    /// start needs no scan) and stops background work. The data-dir lock is released
    /// when the broker is dropped.
    pub fn shutdown(&self) -> Result<(), std::io::Error> {
        self.kafka_groups.stop();
        *self.background.stop.lock() = true;
        self.background.wake.notify_all();
        if let Some(handle) = self.retention_thread.lock().take() {
            let _ = handle.join();
        }
        let mut first_error = None;
        for t in self.topics.read().values() {
            for p in t.partitions() {
                if let Err(e) = p.close() {
                    tracing::error!(partition = %p.dir().display(), error = %e, "close failed");
                    first_error.get_or_insert_with(|| std::io::Error::other(e.to_string()));
                }
            }
        }
        if let Err(e) = self.meta.partition().close() {
            first_error.get_or_insert_with(|| std::io::Error::other(e.to_string()));
        }
        self.syncer.shutdown();
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kafka_groups.stop();
        *self.background.stop.lock() = true;
        self.background.wake.notify_all();
        self.syncer.shutdown();
    }
}

/// Queues the removal of `dir` (which nothing refers to any more) for the log's
/// remover thread: freeing gigabytes can take seconds. The files are truncated before
/// they are unlinked, so the blocks are freed there and then, not by whichever
/// thread closes a file last (a runtime worker, when a connection drops the
/// `topic` it still holds, the deleted one its data came from).
fn remove_dir_later(syncer: &Syncer, dir: PathBuf, what: &str, topic: Option<Arc<Topic>>) {
    tracing::info!(dir = %dir.display(), "removing {what}");
    let label = format!("{what} {}", dir.display());
    syncer.remove_later(Removal::new(label, move || {
        // Best effort: the removal is what matters.
        if let Err(error) = truncate_files(&dir) {
            tracing::debug!(dir = %dir.display(), %error, "cannot truncate before removing");
        }
        let removed = std::fs::remove_dir_all(&dir);
        drop(topic);
        removed
    }));
}

/// Truncates every file under `dir` to zero length, in steps (see
/// [`brook_log::shrink_in_steps`]; a topic directory: partition directories holding
/// files, two levels). Unlike a trimmed segment, a deleted topic's files are cut even
/// while a connection still holds the topic: a read there then fails (short read),
/// as reads of a deleted topic may, and its blocks are freed now rather than by
/// whichever thread lets go of the topic last.
fn truncate_files(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            truncate_files(&entry.path())?;
        } else if kind.is_file() {
            let file = std::fs::OpenOptions::new().write(true).open(entry.path())?;
            brook_log::shrink_in_steps(file.metadata()?.len(), |len| file.set_len(len))?;
        }
    }
    Ok(())
}

/// Removes a directory left by an uncommitted partition add, if there is one.
fn remove_leftover_dir(dir: &Path) -> Result<(), TopicError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {
            tracing::info!(dir = %dir.display(), "removed leftover partition directory");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(TopicError::Io {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Closes and removes partitions created for an add that did not commit.
fn discard_partitions(partitions: &[Arc<Partition>]) {
    for p in partitions {
        let _ = p.close();
        if let Err(error) = std::fs::remove_dir_all(p.dir()) {
            tracing::warn!(dir = %p.dir().display(), %error, "cannot remove an uncommitted partition directory; the next start removes it");
        }
    }
}

fn partition_of(topic: &Topic, partition: u32) -> Result<&Arc<Partition>, ProduceError> {
    topic
        .partition(partition)
        .ok_or_else(|| ProduceError::UnknownPartition {
            topic: topic.key.clone(),
            partition,
        })
}

fn open_topic(
    storage: &Arc<dyn Storage>,
    syncer: &Syncer,
    topics_dir: &Path,
    key: TopicKey,
    record: TopicRecord,
    defaults: &PartitionConfig,
) -> Result<Topic, TopicError> {
    let pc = record.settings.partition_config(defaults);
    let dir = topics_dir.join(&record.id);
    let mut partitions = Vec::with_capacity(record.settings.partitions as usize);
    for i in 0..record.settings.partitions {
        let p = Partition::open(storage.clone(), syncer.clone(), dir.join(i.to_string()), pc)
            .map_err(|source| TopicError::Partition {
                key: key.clone(),
                source,
            })?;
        partitions.push(p);
    }
    Ok(Topic {
        key,
        id: record.id.clone(),
        created_ms: record.created_ms,
        settings: RwLock::new(record.settings.clone()),
        groups: partitions.iter().map(|_| Arc::default()).collect(),
        partitions,
        expire_at_ms: AtomicU64::new(record.expire_at_ms.unwrap_or(0)),
        stream_meta: parking_lot::Mutex::new(record.stream),
        groups_gone: Arc::new(tokio::sync::watch::channel(0).0),
        overwritten: std::sync::atomic::AtomicBool::new(false),
    })
}

fn retention_loop(broker: std::sync::Weak<Broker>, background: Arc<Background>, period: Duration) {
    loop {
        {
            let mut stop = background.stop.lock();
            if *stop {
                return;
            }
            background.wake.wait_for(&mut stop, period);
            if *stop {
                return;
            }
        }
        let Some(broker) = broker.upgrade() else {
            return;
        };
        broker.expire_keys();
        if let Err(e) = broker.compact_meta_if_needed() {
            tracing::warn!(error = %e, "metadata log compaction failed; will retry");
        }
        let now = now_ms() as i64;
        for t in broker.topics() {
            for (index, p) in t.partitions().iter().enumerate() {
                let before = p.marks().log_start;
                match p.enforce_retention(now) {
                    Ok(start) if start > before => broker.note_modified(&t, Some(index as u32)),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(topic = %t.key, partition = %p.dir().display(), error = %e, "retention failed; will retry");
                    }
                }
            }
            if t.settings().trim_acked {
                if let Err(e) = broker.trim_acked(&t) {
                    tracing::warn!(topic = %t.key, error = %e, "trimming acknowledged records failed; will retry");
                }
            }
        }
    }
}

/// One database's line of `INFO keyspace` (see [`Broker::keyspace_summary`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeyspaceCounts {
    pub keys: u64,
    pub expires: u64,
    pub ttl_ms_sum: u64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expiry_deletes_only_the_topic_that_expired() {
        let dir = tempfile::tempdir().unwrap();
        let b = Broker::open(BrokerConfig::new(dir.path())).unwrap();
        let key = TopicKey::new(0, "k");
        b.create_topic(key.clone(), TopicSettings::default())
            .await
            .unwrap();
        let expired = b.topics.read().get(&key).cloned().unwrap();
        b.set_topic_expiry(&key, Some(1)).await.unwrap();
        // What the expiry pass listed is gone by the time it deletes: the key was
        // created again (an XADD after the expiry).
        let fresh = b
            .create_topic(key.clone(), TopicSettings::default())
            .await
            .unwrap();
        assert_ne!(fresh.id, expired.id);
        let broker = b.clone();
        tokio::task::spawn_blocking(move || broker.delete_expired_topic_blocking(&expired))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(b.topic(&key).map(|t| t.id.clone()), Some(fresh.id.clone()));
        // Made persistent after it was listed: kept as well.
        b.set_topic_expiry(&key, Some(1)).await.unwrap();
        let listed = b.topics.read().get(&key).cloned().unwrap();
        b.set_topic_expiry(&key, None).await.unwrap();
        let broker = b.clone();
        tokio::task::spawn_blocking(move || broker.delete_expired_topic_blocking(&listed))
            .await
            .unwrap()
            .unwrap();
        assert!(b.topic(&key).is_some());
        b.shutdown().unwrap();
    }

    #[tokio::test]
    async fn renaming_an_expired_key_finds_nothing_and_keeps_the_destination() {
        let dir = tempfile::tempdir().unwrap();
        let b = Broker::open(BrokerConfig::new(dir.path())).unwrap();
        let (from, to) = (TopicKey::new(0, "from"), TopicKey::new(0, "to"));
        for key in [&from, &to] {
            b.create_topic(key.clone(), TopicSettings::default())
                .await
                .unwrap();
        }
        b.set_topic_expiry(&from, Some(1)).await.unwrap();
        assert!(matches!(
            b.rename_topic(&from, to.clone()).await,
            Err(TopicError::NotFound(_))
        ));
        assert!(b.topic(&to).is_some());
        b.shutdown().unwrap();
    }

    fn committed(offset: i64) -> CommittedOffset {
        CommittedOffset {
            offset,
            leader_epoch: -1,
            metadata: String::new(),
            commit_ms: 1,
        }
    }

    #[tokio::test]
    async fn a_deleted_or_renamed_topics_kafka_offsets_are_not_inherited() {
        let dir = tempfile::tempdir().unwrap();
        let b = Broker::open(BrokerConfig::new(dir.path())).unwrap();
        let commit = |topic: &str| {
            let b = b.clone();
            let topic = topic.to_owned();
            async move {
                let offset = committed(7);
                b.kafka_groups()
                    .commit(&b.meta, "g", "", None, -1, &[(topic, 0, offset)], &|n| {
                        b.kafka_topic_exists(n)
                    })
                    .await
                    .unwrap();
            }
        };
        for name in ["deleted", "renamed", "kept"] {
            b.create_topic(TopicKey::new(0, name), TopicSettings::default())
                .await
                .unwrap();
            commit(name).await;
        }
        b.delete_topic(&TopicKey::new(0, "deleted")).await.unwrap();
        b.rename_topic(&TopicKey::new(0, "renamed"), TopicKey::new(0, "new"))
            .await
            .unwrap();
        assert!(b.committed_offset("g", "deleted", 0).is_none());
        assert!(b.committed_offset("g", "renamed", 0).is_none());
        assert_eq!(b.committed_offset("g", "kept", 0).unwrap().offset, 7);
        // An offset whose topic is gone (as a crash between a delete and the removal
        // of its offsets leaves it) is swept at the next start.
        let ghost = committed(3);
        b.kafka_groups()
            .commit(
                &b.meta,
                "g",
                "",
                None,
                -1,
                &[("ghost".into(), 0, ghost)],
                &|_| true,
            )
            .await
            .unwrap();
        assert!(b.committed_offset("g", "ghost", 0).is_some());
        b.shutdown().unwrap();
        drop(b);
        let b = Broker::open(BrokerConfig::new(dir.path())).unwrap();
        assert!(b.committed_offset("g", "ghost", 0).is_none());
        assert_eq!(b.committed_offset("g", "kept", 0).unwrap().offset, 7);
        b.shutdown().unwrap();
    }
}
