//! The JSON bodies of the admin API (`/v1/...`), shared with the `brook` CLI. The
//! layout is documented in docs/admin-api.md and docs/openapi.yaml; fields are only
//! ever added.

use serde::{Deserialize, Serialize};

/// Every error response: `{"error": "..."}` with a 4xx or 5xx status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub uptime_seconds: f64,
    pub data_dir: String,
    /// Bytes of log data (all partitions).
    pub log_bytes: u64,
    /// Free and total bytes of the data directory's file system.
    pub disk_free_bytes: Option<u64>,
    pub disk_total_bytes: Option<u64>,
    pub listeners: Listeners,
    pub topics: u64,
    pub partitions: u64,
    pub connections: Connections,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listeners {
    pub resp: Option<String>,
    pub kafka: Option<String>,
    pub http: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connections {
    pub resp: u64,
    pub kafka: u64,
}

/// The two presets, named after the two ways teams treat events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// A work queue: records every group has acknowledged are trimmed, retention
    /// is short (1 day) and acknowledgements are fsynced every second.
    ProcessAndForget,
    /// A log to replay: long retention (7 days, Kafka's default) and every write
    /// fsynced before it is acknowledged.
    StoreAndReplay,
}

impl Preset {
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::ProcessAndForget => "process-and-forget",
            Preset::StoreAndReplay => "store-and-replay",
        }
    }

    /// The settings the preset stands for.
    pub fn config(self) -> TopicConfig {
        match self {
            Preset::ProcessAndForget => TopicConfig {
                fsync: Some("everysec".into()),
                retention_ms: Some(24 * 3600 * 1000),
                trim_acked: Some(true),
                ..TopicConfig::default()
            },
            Preset::StoreAndReplay => TopicConfig {
                fsync: Some("always".into()),
                retention_ms: Some(7 * 24 * 3600 * 1000),
                trim_acked: Some(false),
                ..TopicConfig::default()
            },
        }
    }
}

/// A topic's own settings; `None` means "the server default". In a PATCH, a field
/// that is absent stays as it is and a field that is `null` goes back to the
/// default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicConfig {
    /// always | everysec | <N>ms | never
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fsync: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_records: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_message_bytes: Option<u64>,
    /// Trim what every consumer group has acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trim_acked: Option<bool>,
}

/// The settings in force, defaults filled in (`None`: unlimited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectiveConfig {
    pub fsync: String,
    pub retention_ms: Option<u64>,
    pub retention_bytes: Option<u64>,
    pub retention_records: Option<u64>,
    pub segment_bytes: u64,
    pub max_message_bytes: u64,
    pub trim_acked: bool,
    /// Kafka's `cleanup.policy`; Brook deletes (it does not compact).
    pub cleanup_policy: String,
}

/// `POST /v1/topics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTopic {
    pub name: String,
    /// Redis database (0–15; Kafka sees 0).
    #[serde(default)]
    pub db: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    /// Settings over the preset's.
    #[serde(default)]
    pub config: TopicConfig,
}

/// `PATCH /v1/topics/{name}`: settings to change (see [`TopicConfig`]) and a
/// partition count to grow to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlterTopic {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    /// Each field: absent = unchanged, `null` = back to the default, else the value.
    #[serde(default)]
    pub config: serde_json::Map<String, serde_json::Value>,
}

/// One topic (list entries leave `partition_details` empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topic {
    pub name: String,
    pub db: u8,
    /// The name Kafka clients use, if they can reach the topic (database 0).
    pub kafka_name: Option<String>,
    pub id: String,
    pub partitions: u32,
    /// The preset whose settings the topic has, if any.
    pub preset: Option<Preset>,
    pub config: TopicConfig,
    pub effective: EffectiveConfig,
    /// Records readable now, summed over partitions (XDEL'd ones excluded).
    pub records: u64,
    pub size_bytes: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partition_details: Vec<PartitionInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionInfo {
    pub partition: u32,
    /// The Redis key of this partition's stream.
    pub stream: String,
    pub log_start: u64,
    pub high_watermark: u64,
    pub log_end: u64,
    pub size_bytes: u64,
}

/// `GET /v1/topics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicList {
    pub topics: Vec<Topic>,
}

/// Which kind of consumer group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupKind {
    Kafka,
    Redis,
}

/// One group in `GET /v1/groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub kind: GroupKind,
    pub name: String,
    /// Redis groups: the stream (key) the group belongs to, and its database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<u8>,
    /// Kafka: the group state (Stable, Empty, ...); Redis: `active` or `idle`.
    pub state: String,
    /// Kafka members or Redis consumers.
    pub members: u64,
    /// Records not yet consumed, summed over partitions (when known).
    pub lag: Option<u64>,
    /// Redis groups: entries delivered and not acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupList {
    pub groups: Vec<GroupSummary>,
}

/// A group's position on one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPartition {
    /// Kafka topic name (Kafka groups) or the stream key (Redis groups).
    pub topic: String,
    pub partition: u32,
    /// Kafka: the committed offset; Redis: the offset after the last delivered entry.
    pub committed: Option<u64>,
    pub end: u64,
    pub lag: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Redis consumers: pending entries and milliseconds since last seen / active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_ms: Option<u64>,
}

/// `GET /v1/groups/kafka/{name}` and `GET /v1/groups/redis/{stream}/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDetail {
    pub kind: GroupKind,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    pub members: Vec<GroupMember>,
    pub partitions: Vec<GroupPartition>,
    /// Redis groups: last delivered ID, pending count, oldest pending entry's idle time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivered_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_pending_idle_ms: Option<u64>,
}

/// `POST .../reset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetGroup {
    /// `earliest`, `latest`, `time:<RFC 3339>`, `offset:<N>` (Redis groups also
    /// `id:<ms-seq>`).
    pub to: String,
    /// Kafka groups: only this topic's partitions (default: every topic the group
    /// has committed offsets for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Kafka groups, with `topic`: only this partition of it (default: every
    /// partition). `brook consume --group` commits per partition with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    /// Apply the reset; without it, only report what it would do.
    #[serde(default)]
    pub execute: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetPartition {
    pub topic: String,
    pub partition: u32,
    pub from: Option<u64>,
    pub to: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetResult {
    pub executed: bool,
    pub partitions: Vec<ResetPartition>,
}

/// A record to produce. `key` and `value` are UTF-8 text; binary data goes in
/// `key_base64` / `value_base64` instead.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// Default: chosen from the key's hash (Kafka's partitioner), else partition 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
}

/// `POST /v1/topics/{name}/records`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Produce {
    pub records: Vec<NewRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Produced {
    pub partition: u32,
    pub offset: u64,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProduceResult {
    pub records: Vec<Produced>,
}

/// A stored record as `GET /v1/topics/{name}/records` returns it. Text is given as
/// is; bytes that are not UTF-8 come as `*_base64`. Redis-written entries also
/// carry their field list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordOut {
    pub partition: u32,
    pub offset: u64,
    pub id: String,
    pub timestamp_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// Redis entries: the field/value list (text, or base64 marked `b64:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<(String, String)>>,
}

/// `GET /v1/topics/{name}/records`: records in offset order per partition, and
/// where to continue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Records {
    pub records: Vec<RecordOut>,
    /// Per partition, the offset to ask for next (`from=offset:N`).
    pub next: Vec<(u32, u64)>,
}
