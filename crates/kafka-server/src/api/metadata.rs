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
use uuid::Uuid;

use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::names;
use crate::{CLUSTER_ID, NODE_ID};

pub const API: Api = Api {
    key: ApiKey::Metadata,
    name: "Metadata",
    min_version: 0,
    max_version: 12,
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
        let wanted: Option<Vec<(Option<StrBytes>, Uuid)>> = match request.topics {
            // v0: an empty list means every topic.
            Some(topics) if !(version == 0 && topics.is_empty()) => Some(
                topics
                    .into_iter()
                    .map(|t| (t.name.map(|n| n.0), t.topic_id))
                    .collect(),
            ),
            _ => None,
        };
        let topics = match wanted {
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
            Some(wanted) => {
                let mut out = Vec::with_capacity(wanted.len());
                for (name, id) in wanted {
                    out.push(match name {
                        Some(name) => {
                            let found = find_or_create(ctx, &name, allow_create).await;
                            topic_response(name, found.as_ref().map_err(|e| *e))
                        }
                        // A null name is only valid from v12, where it means by ID.
                        None if version < 12 => MetadataResponseTopic::default()
                            .with_name(Some(TopicName(StrBytes::default())))
                            .with_topic_authorized_operations(OPERATIONS_OMITTED)
                            .with_error_code(ResponseError::InvalidRequest.code()),
                        // v12+: a topic asked for by ID only.
                        None => match super::topics::topic_by_id(ctx, id) {
                            Some((topic, name)) => {
                                topic_response(StrBytes::from_string(name), Ok(&topic))
                            }
                            None => MetadataResponseTopic::default()
                                .with_topic_id(id)
                                .with_topic_authorized_operations(OPERATIONS_OMITTED)
                                .with_error_code(ResponseError::UnknownTopicId.code()),
                        },
                    });
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
            let response = response.with_topic_id(super::topics::topic_id(topic));
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::testing::{call, ctx, s, topic_with_records, versions};
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use kafka_protocol::messages::{FetchRequest, FetchResponse};

    /// A Fetch of partition 0 of the topic with `topic_id` from `offset`.
    fn fetch_by_id(topic_id: Uuid, offset: i64) -> FetchRequest {
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_bytes(1 << 20)
            .with_topics(vec![FetchTopic::default()
                .with_topic_id(topic_id)
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(1 << 20)])])
    }

    #[tokio::test]
    async fn topic_ids_in_metadata_and_fetch_by_id() {
        let (ctx, _dir) = ctx();
        let topic = topic_with_records(&ctx, "t", 1, &[10, 20, 30]).await;
        let id = super::super::topics::topic_id(&topic);
        assert!(!id.is_nil());
        let unknown = Uuid::from_u128(42);

        for version in versions(ApiKey::Metadata) {
            let by_name = MetadataRequest::default().with_topics(Some(vec![
                MetadataRequestTopic::default().with_name(Some(TopicName(s("t")))),
            ]));
            let r: MetadataResponse = call(&ctx, ApiKey::Metadata, version, &by_name).await;
            let expect = if version >= 10 { id } else { Uuid::nil() };
            assert_eq!(r.topics[0].topic_id, expect, "v{version}");
            assert_eq!(r.topics[0].error_code, 0);
        }
        // v12: by ID only, known and unknown.
        let by_id = MetadataRequest::default().with_topics(Some(vec![
            MetadataRequestTopic::default()
                .with_name(None)
                .with_topic_id(id),
            MetadataRequestTopic::default()
                .with_name(None)
                .with_topic_id(unknown),
        ]));
        let r: MetadataResponse = call(&ctx, ApiKey::Metadata, 12, &by_id).await;
        assert_eq!(r.topics[0].name, Some(TopicName(s("t"))));
        assert_eq!(
            (r.topics[0].topic_id, r.topics[0].partitions.len()),
            (id, 1)
        );
        assert_eq!(
            (r.topics[1].topic_id, r.topics[1].error_code),
            (unknown, ResponseError::UnknownTopicId.code())
        );

        // Fetch v13+ names topics by ID.
        for version in 13..=17 {
            let fetch = |topic_id| fetch_by_id(topic_id, 1);
            let r: FetchResponse = call(&ctx, ApiKey::Fetch, version, &fetch(id)).await;
            let p = &r.responses[0].partitions[0];
            assert_eq!(r.responses[0].topic_id, id, "v{version}");
            assert_eq!((p.error_code, p.high_watermark), (0, 3));
            let records = p.records.clone().unwrap();
            assert_eq!(
                i64::from_be_bytes(records[..8].try_into().unwrap()),
                1,
                "from offset 1"
            );
            let r: FetchResponse = call(&ctx, ApiKey::Fetch, version, &fetch(unknown)).await;
            assert_eq!(
                r.responses[0].partitions[0].error_code,
                ResponseError::UnknownTopicId.code()
            );
        }

        // Deleted and created again under the same name: the old ID (cached by the
        // connection's lookups above) is unknown, the new one is served.
        ctx.broker.delete_topic(&topic.key).await.unwrap();
        let again = topic_with_records(&ctx, "t", 1, &[5]).await;
        let new_id = super::super::topics::topic_id(&again);
        assert_ne!(new_id, id);
        for (topic_id, error) in [(id, ResponseError::UnknownTopicId.code()), (new_id, 0)] {
            let r: FetchResponse = call(&ctx, ApiKey::Fetch, 17, &fetch_by_id(topic_id, 0)).await;
            assert_eq!(r.responses[0].partitions[0].error_code, error);
        }
    }
}
