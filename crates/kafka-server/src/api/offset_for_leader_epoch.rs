//! OffsetForLeaderEpoch: Brook has one leader epoch, 0, for every partition, forever.
//! Epoch 0 ends at the high watermark (what a consumer can have read), so a consumer
//! validating its position after a metadata change sees no truncation. As Kafka's
//! leader-epoch cache answers for a leader: epoch -1 (unknown) gets (-1, -1), an epoch
//! after 0 (-1, -1), an epoch before 0 the log start. A `current_leader_epoch` other
//! than -1 (not checked) or 0 is fenced (below 0) or unknown (above 0).

use bytes::Bytes;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    ApiKey, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, RequestHeader,
};
use kafka_protocol::ResponseError;

use brook_broker::Partition;

use super::topics::live_topic;
use super::{decode, encode, Api, Ctx, HandlerFuture};

pub const API: Api = Api {
    key: ApiKey::OffsetForLeaderEpoch,
    name: "OffsetForLeaderEpoch",
    min_version: 2,
    max_version: 4,
    handler,
};

/// The only leader epoch a Brook partition ever has.
pub const LEADER_EPOCH: i32 = 0;
/// Kafka's "no epoch" / "do not check".
const NO_EPOCH: i32 = -1;

/// Checks a request's `current_leader_epoch` against [`LEADER_EPOCH`], as Kafka
/// fences clients that know a different leader.
pub fn check_current_epoch(current_leader_epoch: i32) -> Result<(), ResponseError> {
    match current_leader_epoch {
        NO_EPOCH | LEADER_EPOCH => Ok(()),
        e if e < LEADER_EPOCH => Err(ResponseError::FencedLeaderEpoch),
        _ => Err(ResponseError::UnknownLeaderEpoch),
    }
}

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: OffsetForLeaderEpochRequest =
            decode(body, "OffsetForLeaderEpochRequest", version)?;
        let topics = request
            .topics
            .into_iter()
            .map(|t| {
                let topic = live_topic(ctx, &t.topic.0).map_err(|(code, _)| code);
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let response = EpochEndOffset::default().with_partition(p.partition);
                        let found = topic.as_ref().map_err(|e| *e).and_then(|topic| {
                            u32::try_from(p.partition)
                                .ok()
                                .and_then(|i| topic.partition(i))
                                .ok_or(ResponseError::UnknownTopicOrPartition)
                        });
                        let answer = found.and_then(|partition| {
                            check_current_epoch(p.current_leader_epoch)?;
                            Ok(end_offset(partition, p.leader_epoch))
                        });
                        match answer {
                            Ok((epoch, offset)) => {
                                response.with_leader_epoch(epoch).with_end_offset(offset)
                            }
                            Err(code) => response.with_error_code(code.code()),
                        }
                    })
                    .collect();
                OffsetForLeaderTopicResult::default()
                    .with_topic(t.topic)
                    .with_partitions(partitions)
            })
            .collect();
        encode(
            &OffsetForLeaderEpochResponse::default().with_topics(topics),
            "OffsetForLeaderEpochResponse",
            version,
        )
    })
}

/// `(epoch, end offset)` for the requested epoch.
fn end_offset(partition: &Partition, requested: i32) -> (i32, i64) {
    let marks = partition.marks();
    let offset = |o: u64| i64::try_from(o).unwrap_or(i64::MAX);
    match requested {
        LEADER_EPOCH => (LEADER_EPOCH, offset(marks.high_watermark)),
        e if e < NO_EPOCH => (e, offset(marks.log_start)),
        _ => (NO_EPOCH, -1),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::testing::{call, ctx, s, topic_with_records, versions};
    use kafka_protocol::messages::offset_for_leader_epoch_request::{
        OffsetForLeaderPartition, OffsetForLeaderTopic,
    };
    use kafka_protocol::messages::TopicName;

    async fn ask(
        ctx: &Ctx,
        version: i16,
        topic: &str,
        parts: &[(i32, i32, i32)],
    ) -> Vec<(i16, i32, i64)> {
        let partitions = parts
            .iter()
            .map(|&(p, current, epoch)| {
                OffsetForLeaderPartition::default()
                    .with_partition(p)
                    .with_current_leader_epoch(current)
                    .with_leader_epoch(epoch)
            })
            .collect();
        let request = OffsetForLeaderEpochRequest::default().with_topics(vec![
            OffsetForLeaderTopic::default()
                .with_topic(TopicName(s(topic)))
                .with_partitions(partitions),
        ]);
        let response: OffsetForLeaderEpochResponse =
            call(ctx, ApiKey::OffsetForLeaderEpoch, version, &request).await;
        response.topics[0]
            .partitions
            .iter()
            .map(|p| (p.error_code, p.leader_epoch, p.end_offset))
            .collect()
    }

    #[tokio::test]
    async fn epoch_zero_ends_at_the_high_watermark() {
        let (ctx, _dir) = ctx();
        let topic = topic_with_records(&ctx, "t", 2, &[1, 2, 3, 4]).await;
        topic.partition(0).unwrap().trim_to(1).unwrap();
        let fenced = ResponseError::FencedLeaderEpoch.code();
        let unknown_epoch = ResponseError::UnknownLeaderEpoch.code();
        let unknown = ResponseError::UnknownTopicOrPartition.code();
        for version in versions(ApiKey::OffsetForLeaderEpoch) {
            let got = ask(
                &ctx,
                version,
                "t",
                &[
                    (0, -1, 0),
                    (0, 0, 0),
                    (1, 0, 0),
                    (0, 0, -1),
                    (0, 0, 3),
                    (0, 0, -3),
                    (0, 1, 0),
                    (0, -2, 0),
                    (9, 0, 0),
                ],
            )
            .await;
            assert_eq!(
                got,
                vec![
                    (0, 0, 4),
                    (0, 0, 4),
                    (0, 0, 0),
                    (0, -1, -1),
                    (0, -1, -1),
                    (0, -3, 1),
                    (unknown_epoch, -1, -1),
                    (fenced, -1, -1),
                    (unknown, -1, -1),
                ],
                "v{version}"
            );
            assert_eq!(
                ask(&ctx, version, "nope", &[(0, 0, 0)]).await,
                vec![(unknown, -1, -1)]
            );
        }
    }
}
