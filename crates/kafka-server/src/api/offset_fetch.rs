//! OffsetFetch: a group's committed offsets (-1 where nothing was committed); all
//! of them when no topics are named. v8+ asks for several groups at once.

use bytes::Bytes;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    ApiKey, GroupId, OffsetFetchRequest, OffsetFetchResponse, RequestHeader, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use brook_broker::{Broker, CommittedOffset};

use super::{decode, encode, Api, Ctx, HandlerFuture};

pub const API: Api = Api {
    key: ApiKey::OffsetFetch,
    name: "OffsetFetch",
    min_version: 1,
    max_version: 9,
    handler,
};

/// One topic's answer: `(partition, committed offset if any)`.
type TopicOffsets = (String, Vec<(i32, Option<CommittedOffset>)>);

/// The offsets of `group` for `topics` (or all it committed, when `None`).
fn fetch(
    broker: &Broker,
    group: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
) -> Vec<TopicOffsets> {
    match topics {
        Some(topics) => topics
            .into_iter()
            .map(|(topic, partitions)| {
                let offsets = partitions
                    .into_iter()
                    .map(|p| (p, broker.committed_offset(group, &topic, p)))
                    .collect();
                (topic, offsets)
            })
            .collect(),
        None => {
            let mut out: Vec<TopicOffsets> = Vec::new();
            for (topic, partition, offset) in broker.committed_offsets(group) {
                match out.last_mut() {
                    Some((t, ps)) if *t == topic => ps.push((partition, Some(offset))),
                    _ => out.push((topic, vec![(partition, Some(offset))])),
                }
            }
            out
        }
    }
}

/// One answer per partition, built by `make(partition, offset, leader epoch,
/// metadata)` (-1, -1, "" where nothing was committed).
fn answers<T>(
    partitions: Vec<(i32, Option<CommittedOffset>)>,
    make: impl Fn(i32, i64, i32, StrBytes) -> T,
) -> Vec<T> {
    partitions
        .into_iter()
        .map(|(p, o)| match o {
            Some(o) => make(
                p,
                o.offset,
                o.leader_epoch,
                StrBytes::from_string(o.metadata),
            ),
            None => make(p, -1, -1, StrBytes::from_static_str("")),
        })
        .collect()
}

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: OffsetFetchRequest = decode(body, "OffsetFetchRequest", version)?;
        let response = if version < 8 {
            let topics = request.topics.map(|ts| {
                ts.into_iter()
                    .map(|t| (t.name.0.to_string(), t.partition_indexes))
                    .collect()
            });
            let topics = fetch(&ctx.broker, &request.group_id.0, topics)
                .into_iter()
                .map(|(name, partitions)| {
                    OffsetFetchResponseTopic::default()
                        .with_name(TopicName(StrBytes::from_string(name)))
                        .with_partitions(answers(partitions, |p, offset, epoch, metadata| {
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(p)
                                .with_committed_offset(offset)
                                .with_committed_leader_epoch(epoch)
                                .with_metadata(Some(metadata))
                        }))
                })
                .collect();
            OffsetFetchResponse::default().with_topics(topics)
        } else {
            let groups = request
                .groups
                .into_iter()
                .map(|g| {
                    let topics = g.topics.map(|ts| {
                        ts.into_iter()
                            .map(|t| (t.name.0.to_string(), t.partition_indexes))
                            .collect()
                    });
                    let topics = fetch(&ctx.broker, &g.group_id.0, topics)
                        .into_iter()
                        .map(|(name, partitions)| {
                            OffsetFetchResponseTopics::default()
                                .with_name(TopicName(StrBytes::from_string(name)))
                                .with_partitions(answers(
                                    partitions,
                                    |p, offset, epoch, metadata| {
                                        OffsetFetchResponsePartitions::default()
                                            .with_partition_index(p)
                                            .with_committed_offset(offset)
                                            .with_committed_leader_epoch(epoch)
                                            .with_metadata(Some(metadata))
                                    },
                                ))
                        })
                        .collect();
                    OffsetFetchResponseGroup::default()
                        .with_group_id(GroupId(g.group_id.0))
                        .with_topics(topics)
                })
                .collect();
            OffsetFetchResponse::default().with_groups(groups)
        };
        encode(&response, "OffsetFetchResponse", version)
    })
}
