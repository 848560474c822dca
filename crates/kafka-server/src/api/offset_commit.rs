//! OffsetCommit: checked against the group's membership and generation, stored in
//! the metadata log, answered once durable. Commits for topics or partitions that
//! do not exist, or with too much metadata, are refused per partition.

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{ApiKey, OffsetCommitRequest, OffsetCommitResponse, RequestHeader};
use kafka_protocol::ResponseError;

use brook_broker::kafka_groups::OFFSET_METADATA_BYTES_MAX;
use brook_broker::{CommitError, CommittedOffset};

use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::error::{code, group_error_code};

pub const API: Api = Api {
    key: ApiKey::OffsetCommit,
    name: "OffsetCommit",
    min_version: 2,
    max_version: 9,
    handler,
};

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: OffsetCommitRequest = decode(body, "OffsetCommitRequest", version)?;
        let now = brook_broker::now_ms();
        // Per partition: an error found before the commit, or the offset to commit.
        let mut checked: Vec<(usize, i32, Option<ResponseError>)> = Vec::new();
        let mut offsets = Vec::new();
        for (t, topic) in request.topics.iter().enumerate() {
            let name = topic.name.0.to_string();
            let partitions = super::metadata::find_or_create(ctx, &name, false)
                .await
                .map(|t| t.partitions().len());
            for p in &topic.partitions {
                let metadata = p.committed_metadata.as_deref().unwrap_or_default();
                let error = match partitions {
                    Ok(n) if usize::try_from(p.partition_index).is_ok_and(|i| i < n) => {
                        if metadata.len() > OFFSET_METADATA_BYTES_MAX {
                            Some(ResponseError::OffsetMetadataTooLarge)
                        } else {
                            offsets.push((
                                name.clone(),
                                p.partition_index,
                                CommittedOffset {
                                    offset: p.committed_offset,
                                    leader_epoch: p.committed_leader_epoch,
                                    metadata: metadata.to_owned(),
                                    commit_ms: now,
                                },
                            ));
                            None
                        }
                    }
                    _ => Some(ResponseError::UnknownTopicOrPartition),
                };
                checked.push((t, p.partition_index, error));
            }
        }
        let group_error = if offsets.is_empty() {
            None
        } else {
            match ctx
                .broker
                .kafka_groups()
                .commit(
                    ctx.broker.meta(),
                    &request.group_id.0,
                    &request.member_id,
                    request.group_instance_id.as_deref(),
                    request.generation_id_or_member_epoch,
                    &offsets,
                    &|name| ctx.broker.kafka_topic_exists(name),
                )
                .await
            {
                Ok(()) => None,
                Err(CommitError::Group(e)) => Some(group_error_code(e)),
                Err(CommitError::Meta(error)) => {
                    tracing::warn!(%error, "offset commit failed");
                    Some(ResponseError::KafkaStorageError)
                }
            }
        };
        let mut by_topic: HashMap<usize, Vec<OffsetCommitResponsePartition>> = HashMap::new();
        for (t, partition, error) in checked {
            let error = error.or(group_error);
            by_topic.entry(t).or_default().push(
                OffsetCommitResponsePartition::default()
                    .with_partition_index(partition)
                    .with_error_code(code(error)),
            );
        }
        let topics = request
            .topics
            .into_iter()
            .enumerate()
            .map(|(t, topic)| {
                OffsetCommitResponseTopic::default()
                    .with_name(topic.name)
                    .with_partitions(by_topic.remove(&t).unwrap_or_default())
            })
            .collect();
        encode(
            &OffsetCommitResponse::default().with_topics(topics),
            "OffsetCommitResponse",
            version,
        )
    })
}
