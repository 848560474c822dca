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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::testing::{call, ctx, s, topic_with_records, versions};
    use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;

    /// A topic's name and its partitions' (index, size, offset lag).
    type TopicSizes = (String, Vec<(i32, i64, i64)>);

    #[tokio::test]
    async fn one_log_dir_with_partition_sizes() {
        let (ctx, dir) = ctx();
        let a = topic_with_records(&ctx, "a", 2, &[1, 2, 3]).await;
        topic_with_records(&ctx, "b", 1, &[]).await;
        // Not visible to Kafka: another Redis database.
        ctx.broker
            .create_topic(
                brook_broker::TopicKey::new(3, &b"hidden"[..]),
                Default::default(),
            )
            .await
            .unwrap();
        let a_size = i64::try_from(a.partition(0).unwrap().size_bytes()).unwrap();
        assert!(a_size > 0);
        for version in versions(ApiKey::DescribeLogDirs) {
            let all: DescribeLogDirsResponse = call(
                &ctx,
                ApiKey::DescribeLogDirs,
                version,
                &DescribeLogDirsRequest::default().with_topics(None),
            )
            .await;
            assert_eq!(all.results.len(), 1);
            let result = &all.results[0];
            assert_eq!(result.error_code, 0);
            assert_eq!(&*result.log_dir, dir.path().join("data").to_str().unwrap());
            let topics: Vec<TopicSizes> = result
                .topics
                .iter()
                .map(|t| {
                    let parts = t
                        .partitions
                        .iter()
                        .map(|p| (p.partition_index, p.partition_size, p.offset_lag))
                        .collect();
                    (t.name.0.to_string(), parts)
                })
                .collect();
            assert_eq!(
                topics,
                vec![
                    ("a".to_string(), vec![(0, a_size, 0), (1, 0, 0)]),
                    ("b".to_string(), vec![(0, 0, 0)]),
                ]
            );
            // Asked for: unknown topics and partitions are left out.
            let wanted = vec![
                DescribableLogDirTopic::default()
                    .with_topic(TopicName(s("a")))
                    .with_partitions(vec![1, 7]),
                DescribableLogDirTopic::default()
                    .with_topic(TopicName(s("nope")))
                    .with_partitions(vec![0]),
            ];
            let some: DescribeLogDirsResponse = call(
                &ctx,
                ApiKey::DescribeLogDirs,
                version,
                &DescribeLogDirsRequest::default().with_topics(Some(wanted)),
            )
            .await;
            let topics = &some.results[0].topics;
            assert_eq!(topics.len(), 1);
            assert_eq!(topics[0].partitions.len(), 1);
            assert_eq!(topics[0].partitions[0].partition_index, 1);
        }
    }
}
