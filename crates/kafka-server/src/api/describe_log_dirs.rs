//! DescribeLogDirs: one log dir, the data directory's absolute path, with the size of
//! every requested partition (all of them when `topics` is null). Brook keeps one
//! copy, so the offset lag is 0 and there are no future replicas. Partitions and
//! topics that do not exist are left out, as Kafka does; the volume's total and
//! usable bytes (v4) are not measured (-1).

use bytes::Bytes;
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{
    ApiKey, DescribeLogDirsRequest, DescribeLogDirsResponse, RequestHeader, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use brook_broker::Topic;

use super::topics::{live_topic, log_dir};
use super::{decode, encode, Api, Ctx, HandlerFuture};
use crate::names;

pub const API: Api = Api {
    key: ApiKey::DescribeLogDirs,
    name: "DescribeLogDirs",
    min_version: 1,
    max_version: 4,
    handler,
};

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: DescribeLogDirsRequest = decode(body, "DescribeLogDirsRequest", version)?;
        let topics: Vec<DescribeLogDirsTopic> = match request.topics {
            None => {
                let now = brook_broker::now_ms();
                ctx.broker
                    .topics()
                    .into_iter()
                    .filter(|t| !t.expired(now))
                    .filter_map(|t| {
                        let name = names::kafka_name(&t.key)?;
                        let all: Vec<i32> = (0..t.partitions().len())
                            .filter_map(|i| i32::try_from(i).ok())
                            .collect();
                        Some(topic_result(StrBytes::from_string(name), &t, &all))
                    })
                    .collect()
            }
            Some(wanted) => wanted
                .into_iter()
                .filter_map(|w| {
                    let topic = live_topic(ctx, &w.topic.0).ok()?;
                    let result = topic_result(w.topic.0, &topic, &w.partitions);
                    (!result.partitions.is_empty()).then_some(result)
                })
                .collect(),
        };
        let result = DescribeLogDirsResult::default()
            .with_log_dir(StrBytes::from_string(log_dir(ctx)))
            .with_topics(topics);
        encode(
            &DescribeLogDirsResponse::default().with_results(vec![result]),
            "DescribeLogDirsResponse",
            version,
        )
    })
}

fn topic_result(name: StrBytes, topic: &Topic, partitions: &[i32]) -> DescribeLogDirsTopic {
    let partitions = partitions
        .iter()
        .filter_map(|&index| {
            let p = topic.partition(u32::try_from(index).ok()?)?;
            Some(
                DescribeLogDirsPartition::default()
                    .with_partition_index(index)
                    .with_partition_size(i64::try_from(p.size_bytes()).unwrap_or(i64::MAX))
                    .with_offset_lag(0)
                    .with_is_future_key(false),
            )
        })
        .collect();
    DescribeLogDirsTopic::default()
        .with_name(TopicName(name))
        .with_partitions(partitions)
}
