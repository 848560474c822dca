//! OffsetDelete: removes a group's committed offsets for some partitions, except
//! for topics the group's active consumers subscribe to (GROUP_SUBSCRIBED_TO_TOPIC).

use std::collections::HashSet;

use bytes::{Buf as _, Bytes};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, ConsumerProtocolSubscription, OffsetDeleteRequest, OffsetDeleteResponse, RequestHeader,
};
use kafka_protocol::protocol::Decodable as _;
use kafka_protocol::ResponseError;

use brook_broker::{CommitError, KafkaGroupSummary};

use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::error::{code, group_error_code};

pub const API: Api = Api {
    key: ApiKey::OffsetDelete,
    name: "OffsetDelete",
    min_version: 0,
    max_version: 0,
    handler,
};

/// Topics the members of a `consumer` group subscribe to, from their metadata.
fn subscribed_topics(group: &KafkaGroupSummary) -> HashSet<String> {
    let mut topics = HashSet::new();
    if group.protocol_type != "consumer" {
        return topics;
    }
    for m in &group.members {
        let mut metadata = m.metadata.clone();
        if metadata.len() < 2 {
            continue;
        }
        let version = metadata.get_i16().clamp(0, 3);
        if let Ok(s) = ConsumerProtocolSubscription::decode(&mut metadata, version) {
            topics.extend(s.topics.iter().map(ToString::to_string));
        }
    }
    topics
}

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: OffsetDeleteRequest = decode(body, "OffsetDeleteRequest", version)?;
        let group_id = request.group_id.0.to_string();
        let active = ctx.broker.kafka_groups().describe(&group_id);
        if active.is_none() && ctx.broker.committed_offsets(&group_id).is_empty() {
            return encode(
                &OffsetDeleteResponse::default()
                    .with_error_code(ResponseError::GroupIdNotFound.code()),
                "OffsetDeleteResponse",
                version,
            );
        }
        let subscribed = active.as_ref().map(subscribed_topics).unwrap_or_default();
        let mut deletable = Vec::new();
        let mut answers = Vec::with_capacity(request.topics.len());
        for topic in request.topics {
            let name = topic.name.0.to_string();
            let partitions = super::metadata::find_or_create(ctx, &name, false)
                .await
                .map(|t| t.partitions().len());
            let errors: Vec<(i32, Option<ResponseError>)> = topic
                .partitions
                .iter()
                .map(|p| {
                    let error = match partitions {
                        Ok(n) if usize::try_from(p.partition_index).is_ok_and(|i| i < n) => {
                            if subscribed.contains(&name) {
                                Some(ResponseError::GroupSubscribedToTopic)
                            } else {
                                deletable.push((name.clone(), p.partition_index));
                                None
                            }
                        }
                        _ => Some(ResponseError::UnknownTopicOrPartition),
                    };
                    (p.partition_index, error)
                })
                .collect();
            answers.push((topic.name, errors));
        }
        let mut top_error = None;
        if !deletable.is_empty() {
            match ctx
                .broker
                .kafka_groups()
                .delete_offsets(ctx.broker.meta(), &group_id, &deletable)
                .await
            {
                Ok(()) => {}
                Err(CommitError::Group(e)) => top_error = Some(group_error_code(e)),
                Err(CommitError::Meta(error)) => {
                    tracing::warn!(%error, "offset deletion failed");
                    top_error = Some(ResponseError::KafkaStorageError);
                }
            }
        }
        let topics = answers
            .into_iter()
            .map(|(name, errors)| {
                OffsetDeleteResponseTopic::default()
                    .with_name(name)
                    .with_partitions(
                        errors
                            .into_iter()
                            .map(|(p, e)| {
                                OffsetDeleteResponsePartition::default()
                                    .with_partition_index(p)
                                    .with_error_code(code(e))
                            })
                            .collect(),
                    )
            })
            .collect();
        encode(
            &OffsetDeleteResponse::default()
                .with_error_code(code(top_error))
                .with_topics(topics),
            "OffsetDeleteResponse",
            version,
        )
    })
}
