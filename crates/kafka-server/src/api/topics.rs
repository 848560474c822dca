//! Helpers shared by the admin APIs: finding a topic with an error a user can act
//! on, topic IDs, duplicate detection.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use brook_broker::{InvalidTopic, Topic, TopicError};
use kafka_protocol::ResponseError;
use uuid::Uuid;

use super::Ctx;
use crate::names;

/// Why a request item was refused: the Kafka error and a message for the user.
pub type Refusal = (ResponseError, String);

/// The live (not expired) Kafka-visible topic called `name`.
pub fn live_topic(ctx: &Ctx, name: &str) -> Result<Arc<Topic>, Refusal> {
    let key = names::topic_key(name).ok_or_else(|| {
        (
            ResponseError::InvalidTopicException,
            names::refusal_reason(name),
        )
    })?;
    ctx.broker
        .topic(&key)
        .filter(|t| !t.expired(brook_broker::now_ms()))
        .ok_or_else(|| {
            (
                ResponseError::UnknownTopicOrPartition,
                format!("Topic {name} does not exist"),
            )
        })
}

/// A topic's Kafka topic ID (its 32-hex-digit ID as a UUID).
pub fn topic_id(topic: &Topic) -> Uuid {
    u128::from_str_radix(&topic.id, 16).map_or(Uuid::nil(), Uuid::from_u128)
}

/// Topics this connection looked up by ID (Fetch v13+ names every topic by ID on
/// every request), so a lookup does not scan all topics each time. An entry is used
/// only while its topic is still the live one under its key.
#[derive(Debug, Default)]
pub struct TopicIds {
    cache: parking_lot::Mutex<std::collections::HashMap<Uuid, (Arc<Topic>, String)>>,
}

/// Most topic IDs one connection caches (it starts over beyond).
const TOPIC_IDS_CACHED: usize = 1024;

/// [`topic_by_id`] through the connection's cache.
pub fn cached_topic_by_id(ctx: &Ctx, id: Uuid) -> Option<(Arc<Topic>, String)> {
    let hit = ctx.topic_ids.cache.lock().get(&id).cloned();
    if let Some((topic, name)) = hit {
        let live = ctx
            .broker
            .topic(&topic.key)
            .is_some_and(|current| Arc::ptr_eq(&current, &topic));
        if live && !topic.expired(brook_broker::now_ms()) {
            return Some((topic, name));
        }
    }
    let found = topic_by_id(ctx, id);
    let mut cache = ctx.topic_ids.cache.lock();
    match &found {
        Some(found) => {
            if cache.len() >= TOPIC_IDS_CACHED {
                cache.clear();
            }
            cache.insert(id, found.clone());
        }
        None => {
            cache.remove(&id);
        }
    }
    found
}

/// The Kafka-visible live topic with `id`, and its Kafka name.
pub fn topic_by_id(ctx: &Ctx, id: Uuid) -> Option<(Arc<Topic>, String)> {
    if id.is_nil() {
        return None;
    }
    let now = brook_broker::now_ms();
    let hex = format!("{:032x}", id.as_u128());
    ctx.broker.topics().into_iter().find_map(|t| {
        if t.expired(now) || t.id != hex {
            return None;
        }
        let name = names::kafka_name(&t.key)?;
        Some((t, name))
    })
}

/// The data directory's absolute path (Kafka's log dir).
pub fn log_dir(ctx: &Ctx) -> String {
    let data_dir = &ctx.broker.config().data_dir;
    std::path::absolute(data_dir)
        .unwrap_or_else(|_| data_dir.clone())
        .display()
        .to_string()
}

/// How many times each item occurs.
pub fn counts<T: Eq + Hash>(items: impl IntoIterator<Item = T>) -> HashMap<T, usize> {
    let mut counts = HashMap::new();
    for item in items {
        *counts.entry(item).or_insert(0) += 1;
    }
    counts
}

/// The Kafka error for a failed broker topic operation; storage failures are logged.
pub fn topic_error(name: &str, error: TopicError) -> Refusal {
    let code = match &error {
        TopicError::AlreadyExists(_) => ResponseError::TopicAlreadyExists,
        TopicError::NotFound(_) => ResponseError::UnknownTopicOrPartition,
        TopicError::PartitionsNotIncreased { .. } => ResponseError::InvalidPartitions,
        TopicError::Invalid(InvalidTopic::Partitions { .. }) => ResponseError::InvalidPartitions,
        TopicError::Invalid(InvalidTopic::NameLength { .. } | InvalidTopic::Database(_)) => {
            ResponseError::InvalidTopicException
        }
        TopicError::Invalid(_) => ResponseError::InvalidConfig,
        TopicError::Partition { .. } | TopicError::Meta(_) | TopicError::Io { .. } => {
            tracing::warn!(topic = name, %error, "topic change failed");
            ResponseError::KafkaStorageError
        }
    };
    (code, error.to_string())
}
