//! Metadata: one broker (node 0, the address the client connected to), the
//! requested topics (or all Kafka-visible ones), each partition led by node 0.
//! Unknown topics with valid names are created (1 partition) when the client allows.

use std::sync::Arc;

use brook_broker::{Topic, TopicError, TopicSettings};
use bytes::Bytes;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, MetadataRequest, MetadataResponse, RequestHeader, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::names;
use crate::{CLUSTER_ID, NODE_ID};

pub const API: Api = Api {
    key: ApiKey::Metadata,
    name: "Metadata",
    min_version: 0,
    // v10+ carry topic IDs; not served yet.
    max_version: 9,
    handler,
};

/// Kafka's "authorized operations not requested".
const OPERATIONS_OMITTED: i32 = i32::MIN;

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: MetadataRequest = decode(body, "MetadataRequest", version)?;
        // Before v4 there is no flag and Kafka creates topics when configured to.
        let allow_create =
            ctx.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
        let names: Option<Vec<StrBytes>> = match request.topics {
            // v0: an empty list means every topic.
            Some(topics) if !(version == 0 && topics.is_empty()) => Some(
                topics
                    .into_iter()
                    .filter_map(|t| t.name.map(|n| n.0))
                    .collect(),
            ),
            _ => None,
        };
        let topics = match names {
            None => ctx
                .broker
                .topics()
                .into_iter()
                .filter(|t| !t.expired(brook_broker::now_ms()))
                .filter_map(|t| {
                    let name = names::kafka_name(&t.key)?;
                    Some(topic_response(StrBytes::from_string(name), Ok(&t)))
                })
                .collect(),
            Some(names) => {
                let mut out = Vec::with_capacity(names.len());
                for name in names {
                    let found = find_or_create(ctx, &name, allow_create).await;
                    out.push(topic_response(name, found.as_ref().map_err(|e| *e)));
                }
                out
            }
        };
        let broker = MetadataResponseBroker::default()
            .with_node_id(BrokerId(NODE_ID))
            .with_host(StrBytes::from_string(ctx.advertised.host.clone()))
            .with_port(i32::from(ctx.advertised.port));
        let response = MetadataResponse::default()
            .with_brokers(vec![broker])
            .with_cluster_id(Some(StrBytes::from_static_str(CLUSTER_ID)))
            .with_controller_id(BrokerId(NODE_ID))
            .with_topics(topics)
            .with_cluster_authorized_operations(OPERATIONS_OMITTED);
        encode(&response, "MetadataResponse", version)
    })
}

/// The topic called `name`, created if it does not exist and `create` allows.
pub async fn find_or_create(
    ctx: &Ctx,
    name: &str,
    create: bool,
) -> Result<Arc<Topic>, ResponseError> {
    let key = names::topic_key(name).ok_or(ResponseError::InvalidTopicException)?;
    if let Some(topic) = ctx.broker.topic(&key) {
        if !topic.expired(brook_broker::now_ms()) {
            return Ok(topic);
        }
    }
    // A Redis string under that name blocks the topic, as it blocks XADD.
    if !create || ctx.broker.string_get(key.db, &key.name).is_some() {
        return Err(ResponseError::UnknownTopicOrPartition);
    }
    match ctx
        .broker
        .create_topic(key.clone(), TopicSettings::default())
        .await
    {
        Ok(topic) => {
            tracing::info!(topic = name, "created topic for a Kafka client");
            Ok(topic)
        }
        Err(TopicError::AlreadyExists(_)) => ctx
            .broker
            .topic(&key)
            .ok_or(ResponseError::UnknownTopicOrPartition),
        Err(TopicError::Invalid(_)) => Err(ResponseError::InvalidTopicException),
        Err(error) => {
            tracing::warn!(topic = name, %error, "cannot create topic");
            Err(ResponseError::KafkaStorageError)
        }
    }
}

fn topic_response(
    name: StrBytes,
    topic: Result<&Arc<Topic>, ResponseError>,
) -> MetadataResponseTopic {
    let response = MetadataResponseTopic::default()
        .with_name(Some(TopicName(name)))
        .with_topic_authorized_operations(OPERATIONS_OMITTED);
    match topic {
        Err(error) => response.with_error_code(error.code()),
        Ok(topic) => {
            let partitions = (0..topic.partitions().len())
                .map(|i| {
                    MetadataResponsePartition::default()
                        .with_partition_index(i32::try_from(i).unwrap_or(i32::MAX))
                        .with_leader_id(BrokerId(NODE_ID))
                        .with_leader_epoch(0)
                        .with_replica_nodes(vec![BrokerId(NODE_ID)])
                        .with_isr_nodes(vec![BrokerId(NODE_ID)])
                })
                .collect();
            response.with_partitions(partitions)
        }
    }
}
