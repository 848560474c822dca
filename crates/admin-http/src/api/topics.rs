//! `/v1/topics`: list, create (with presets), describe, alter, delete.

use std::sync::Arc;

use hyper::StatusCode;

use brook_broker::{names, Broker, TopicError, TopicSettings};
use brook_model::Durability;

use super::{json, no_content, text, ApiResult, Call, Failure};
use crate::types::{
    AlterTopic, CreateTopic, EffectiveConfig, PartitionInfo, Preset, Topic, TopicConfig, TopicList,
};

pub fn list(call: &Call<'_>) -> ApiResult {
    let db = call.number::<u8>("db")?;
    let topics = call
        .state
        .broker
        .topics()
        .into_iter()
        .filter(|t| db.is_none_or(|db| t.key.db == db))
        .filter(|t| !t.expired(brook_broker::now_ms()))
        .map(|t| describe(&call.state.broker, &t, false))
        .collect();
    json(StatusCode::OK, &TopicList { topics })
}

pub fn get(call: &Call<'_>) -> ApiResult {
    let topic = find(call, 1)?;
    json(StatusCode::OK, &describe(&call.state.broker, &topic, true))
}

/// The live topic named by path segment `i`.
pub fn find(call: &Call<'_>, i: usize) -> Result<Arc<brook_broker::Topic>, Failure> {
    let key = call.topic_key(i)?;
    call.state
        .broker
        .topic(&key)
        .filter(|t| !t.expired(brook_broker::now_ms()))
        .ok_or_else(|| Failure::not_found(format!("topic {key} does not exist")))
}

pub async fn create(call: &Call<'_>) -> ApiResult {
    let req: CreateTopic = call.json()?;
    if req.db >= brook_broker::DATABASES {
        return Err(Failure::bad_request(format!(
            "db {} does not exist",
            req.db
        )));
    }
    let mut settings = TopicSettings {
        partitions: req.partitions.unwrap_or(1),
        ..TopicSettings::default()
    };
    if let Some(preset) = req.preset {
        apply(&mut settings, &preset.config())?;
    }
    apply(&mut settings, &req.config)?;
    let key = brook_broker::TopicKey::new(req.db, req.name.clone().into_bytes());
    let topic = call
        .state
        .broker
        .create_topic(key, settings)
        .await
        .map_err(topic_failure)?;
    json(
        StatusCode::CREATED,
        &describe(&call.state.broker, &topic, true),
    )
}

pub async fn alter(call: &Call<'_>) -> ApiResult {
    let key = call.topic_key(1)?;
    let req: AlterTopic = call.json()?;
    let broker = &call.state.broker;
    find(call, 1)?;
    // Check every change before making any.
    let mut changes = TopicConfig::default();
    let mut resets = Vec::new();
    if let Some(preset) = req.preset {
        changes = preset.config();
    }
    for (name, value) in &req.config {
        if value.is_null() {
            resets.push(name.clone());
            continue;
        }
        let one: TopicConfig = serde_json::from_value(serde_json::json!({ name: value }))
            .map_err(|e| Failure::bad_request(format!("config {name}: {e}")))?;
        merge(&mut changes, one);
    }
    for name in &resets {
        if !CONFIG_NAMES.contains(&name.as_str()) {
            return Err(Failure::bad_request(format!(
                "unknown config {name:?}; known: {}",
                CONFIG_NAMES.join(", ")
            )));
        }
    }
    let mut check = TopicSettings::default();
    apply(&mut check, &changes)?;
    if let Some(n) = req.partitions {
        let current = find(call, 1)?.partitions().len() as u32;
        if n < current {
            return Err(Failure::bad_request(format!(
                "partitions can only grow: the topic has {current}, not {n}"
            )));
        }
        if n > current {
            broker
                .add_partitions(&key, n)
                .await
                .map_err(topic_failure)?;
        }
    }
    let mut failed = None;
    let topic = broker
        .update_topic_settings(&key, |s| {
            for name in &resets {
                reset(s, name);
            }
            if let Err(e) = apply(s, &changes) {
                failed = Some(e);
            }
        })
        .await
        .map_err(topic_failure)?;
    if let Some(e) = failed {
        return Err(e);
    }
    json(StatusCode::OK, &describe(broker, &topic, true))
}

pub async fn delete(call: &Call<'_>) -> ApiResult {
    let key = call.topic_key(1)?;
    find(call, 1)?;
    call.state
        .broker
        .delete_topic(&key)
        .await
        .map_err(topic_failure)?;
    no_content()
}

pub fn topic_failure(e: TopicError) -> Failure {
    match e {
        TopicError::AlreadyExists(_) => Failure::conflict(e.to_string()),
        TopicError::NotFound(_) => Failure::not_found(e.to_string()),
        TopicError::Invalid(_) | TopicError::PartitionsNotIncreased { .. } => {
            Failure::bad_request(e.to_string())
        }
        _ => Failure::internal(e),
    }
}

const CONFIG_NAMES: &[&str] = &[
    "fsync",
    "retention_ms",
    "retention_bytes",
    "retention_records",
    "segment_bytes",
    "max_message_bytes",
    "trim_acked",
    "cleanup_policy",
];

/// `over`'s fields replace `into`'s where set.
fn merge(into: &mut TopicConfig, over: TopicConfig) {
    let TopicConfig {
        fsync,
        retention_ms,
        retention_bytes,
        retention_records,
        segment_bytes,
        max_message_bytes,
        trim_acked,
        cleanup_policy,
    } = over;
    into.fsync = fsync.or(into.fsync.take());
    into.retention_ms = retention_ms.or(into.retention_ms);
    into.retention_bytes = retention_bytes.or(into.retention_bytes);
    into.retention_records = retention_records.or(into.retention_records);
    into.segment_bytes = segment_bytes.or(into.segment_bytes);
    into.max_message_bytes = max_message_bytes.or(into.max_message_bytes);
    into.trim_acked = trim_acked.or(into.trim_acked);
    into.cleanup_policy = cleanup_policy.or(into.cleanup_policy.take());
}

/// Sets the fields `config` names.
fn apply(s: &mut TopicSettings, config: &TopicConfig) -> Result<(), Failure> {
    if let Some(f) = &config.fsync {
        let d: Durability = f
            .parse()
            .map_err(|e| Failure::bad_request(format!("config fsync: {e}")))?;
        s.fsync = Some(d);
    }
    if let Some(v) = config.retention_ms {
        s.retention_ms = Some(v);
    }
    if let Some(v) = config.retention_bytes {
        s.retention_bytes = Some(v);
    }
    if let Some(v) = config.retention_records {
        s.retention_records = Some(v);
    }
    if let Some(v) = config.segment_bytes {
        s.segment_bytes = Some(v);
    }
    if let Some(v) = config.max_message_bytes {
        s.max_message_bytes = Some(v);
    }
    if let Some(v) = config.trim_acked {
        s.trim_acked = v;
    }
    match config.cleanup_policy.as_deref() {
        None | Some("delete") => {}
        Some(other) => {
            return Err(Failure::bad_request(format!(
                "config cleanup_policy: {other:?} is not supported; Brook deletes old records (retention) and does not compact"
            )))
        }
    }
    s.validate()
        .map_err(|e| Failure::bad_request(e.to_string()))
}

fn reset(s: &mut TopicSettings, name: &str) {
    match name {
        "fsync" => s.fsync = None,
        "retention_ms" => s.retention_ms = None,
        "retention_bytes" => s.retention_bytes = None,
        "retention_records" => s.retention_records = None,
        "segment_bytes" => s.segment_bytes = None,
        "max_message_bytes" => s.max_message_bytes = None,
        "trim_acked" => s.trim_acked = false,
        _ => {}
    }
}

/// The topic's own settings as the API shows them.
fn config_of(s: &TopicSettings) -> TopicConfig {
    TopicConfig {
        fsync: s.fsync.map(|d| d.to_string()),
        retention_ms: s.retention_ms,
        retention_bytes: s.retention_bytes,
        retention_records: s.retention_records,
        segment_bytes: s.segment_bytes,
        max_message_bytes: s.max_message_bytes,
        trim_acked: s.trim_acked.then_some(true),
        cleanup_policy: None,
    }
}

/// The preset whose settings the topic has.
fn preset_of(s: &TopicSettings) -> Option<Preset> {
    [Preset::ProcessAndForget, Preset::StoreAndReplay]
        .into_iter()
        .find(|p| {
            let c = p.config();
            let fsync = c
                .fsync
                .as_deref()
                .and_then(|f| f.parse::<Durability>().ok());
            fsync == s.fsync
                && c.retention_ms == s.retention_ms
                && c.trim_acked.unwrap_or(false) == s.trim_acked
        })
}

/// The stream key of partition `i` (`name`, or `name#i` with several partitions).
pub fn stream_key(topic: &brook_broker::Topic, i: u32) -> String {
    text(&brook_broker::partition_stream_key(topic, i))
}

pub fn describe(broker: &Broker, topic: &brook_broker::Topic, details: bool) -> Topic {
    let settings = topic.settings();
    let pc = topic.partitions().first().map(|p| p.config());
    let effective = EffectiveConfig {
        fsync: pc
            .map(|c| c.durability.to_string())
            .unwrap_or_else(|| broker.config().default_fsync.to_string()),
        retention_ms: pc.and_then(|c| c.retention.ms),
        retention_bytes: pc.and_then(|c| c.retention.bytes),
        retention_records: pc.and_then(|c| c.retention.records),
        segment_bytes: pc.map_or(broker.config().segment_bytes, |c| c.segment_bytes),
        max_message_bytes: settings
            .max_message_bytes
            .unwrap_or(brook_model::BATCH_BYTES_MAX as u64),
        trim_acked: settings.trim_acked,
        cleanup_policy: "delete".into(),
    };
    let partition_details = if details {
        topic
            .partitions()
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let marks = p.marks();
                PartitionInfo {
                    partition: i as u32,
                    stream: stream_key(topic, i as u32),
                    log_start: marks.log_start,
                    high_watermark: marks.high_watermark,
                    log_end: marks.log_end,
                    size_bytes: p.size_bytes(),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    Topic {
        name: text(&topic.key.name),
        db: topic.key.db,
        kafka_name: names::kafka_name(&topic.key),
        id: topic.id.clone(),
        partitions: topic.partitions().len() as u32,
        preset: preset_of(&settings),
        config: config_of(&settings),
        effective,
        records: topic.partitions().iter().map(|p| p.live_count()).sum(),
        size_bytes: topic.partitions().iter().map(|p| p.size_bytes()).sum(),
        partition_details,
    }
}
