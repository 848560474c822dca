//! ListOffsets: `-2` (earliest) is the log-start offset, `-1` (latest) the high
//! watermark, any other timestamp the first offset whose record timestamp is at or
//! after it (or -1 if none). From v7, `-3` (max timestamp) is the first record with
//! the largest timestamp; from v8, `-4` (earliest local) is the log start, since a
//! Brook log is all local; from v9, `-5` (latest tiered) is -1, as Kafka answers
//! without tiered storage. A special timestamp the request's version does not know
//! is `UNSUPPORTED_VERSION` for that partition. The leader epoch is always 0
//! ([`super::offset_for_leader_epoch`]), and `current_leader_epoch` is checked
//! against it.

use brook_broker::{Partition, ReadError};
use bytes::Bytes;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ApiKey, ListOffsetsRequest, ListOffsetsResponse, RequestHeader};
use kafka_protocol::ResponseError;

use super::offset_for_leader_epoch::{check_current_epoch, LEADER_EPOCH};
use super::{decode, encode, Api, Ctx, HandlerFuture};

pub const API: Api = Api {
    key: ApiKey::ListOffsets,
    name: "ListOffsets",
    min_version: 1,
    max_version: 10,
    handler,
};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: ListOffsetsRequest = decode(body, "ListOffsetsRequest", version)?;
        let mut topics = Vec::with_capacity(request.topics.len());
        for t in request.topics {
            let topic = super::metadata::find_or_create(ctx, &t.name.0, false).await;
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let response = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index);
                    let partition = match &topic {
                        Err(e) => Err(*e),
                        Ok(topic) => u32::try_from(p.partition_index)
                            .ok()
                            .and_then(|i| topic.partition(i))
                            .ok_or(ResponseError::UnknownTopicOrPartition),
                    };
                    let found = partition.and_then(|partition| {
                        check_current_epoch(p.current_leader_epoch)?;
                        lookup(partition, p.timestamp, version)
                    });
                    match found {
                        Ok((timestamp, offset)) => response
                            .with_timestamp(timestamp)
                            .with_offset(offset)
                            .with_leader_epoch(if version >= 4 && offset >= 0 {
                                LEADER_EPOCH
                            } else {
                                -1
                            }),
                        Err(e) => response
                            .with_error_code(e.code())
                            .with_timestamp(-1)
                            .with_offset(-1),
                    }
                })
                .collect();
            topics.push(
                ListOffsetsTopicResponse::default()
                    .with_name(t.name)
                    .with_partitions(partitions),
            );
        }
        encode(
            &ListOffsetsResponse::default().with_topics(topics),
            "ListOffsetsResponse",
            version,
        )
    })
}

/// `(timestamp, offset)` for the requested timestamp; `-1` for an offset not found.
fn lookup(
    partition: &Partition,
    timestamp: i64,
    version: i16,
) -> Result<(i64, i64), ResponseError> {
    let marks = partition.marks();
    let offset = |o: u64| i64::try_from(o).unwrap_or(i64::MAX);
    match timestamp {
        EARLIEST => Ok((-1, offset(marks.log_start))),
        LATEST => Ok((-1, offset(marks.high_watermark))),
        MAX_TIMESTAMP if version >= 7 => match partition.max_timestamp() {
            Ok(Some((ts, found))) => Ok((ts, offset(found))),
            Ok(None) => Ok((-1, -1)),
            Err(error) => {
                tracing::warn!(%error, "ListOffsets max-timestamp lookup failed");
                Err(ResponseError::KafkaStorageError)
            }
        },
        EARLIEST_LOCAL if version >= 8 => Ok((-1, offset(marks.log_start))),
        LATEST_TIERED if version >= 9 => Ok((-1, -1)),
        ts if ts < 0 => Err(ResponseError::UnsupportedVersion),
        ts => match partition.offset_for_timestamp(ts) {
            Ok(None) => Ok((-1, -1)),
            Ok(Some(found)) => {
                let record_ts = partition
                    .read_records(found, 1, 64 * 1024)
                    .ok()
                    .and_then(|r| r.first().map(|r| r.timestamp_ms))
                    .unwrap_or(ts);
                Ok((record_ts, offset(found)))
            }
            Err(ReadError::OffsetOutOfRange { .. }) => Ok((-1, -1)),
            Err(error) => {
                tracing::warn!(%error, "ListOffsets lookup failed");
                Err(ResponseError::KafkaStorageError)
            }
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::testing::{call, ctx, s, topic_with_records, versions};
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    use kafka_protocol::messages::TopicName;

    /// `(error, timestamp, offset, leader epoch)` per `(partition, current epoch,
    /// timestamp)` asked for.
    async fn ask(ctx: &Ctx, version: i16, parts: &[(i32, i32, i64)]) -> Vec<(i16, i64, i64, i32)> {
        let partitions = parts
            .iter()
            .map(|&(p, current, ts)| {
                ListOffsetsPartition::default()
                    .with_partition_index(p)
                    .with_current_leader_epoch(if version >= 4 { current } else { -1 })
                    .with_timestamp(ts)
            })
            .collect();
        let request = ListOffsetsRequest::default()
            .with_replica_id(kafka_protocol::messages::BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(TopicName(s("t")))
                .with_partitions(partitions)]);
        let response: ListOffsetsResponse = call(ctx, ApiKey::ListOffsets, version, &request).await;
        response.topics[0]
            .partitions
            .iter()
            .map(|p| (p.error_code, p.timestamp, p.offset, p.leader_epoch))
            .collect()
    }

    #[tokio::test]
    async fn special_timestamps_by_version() {
        let (ctx, _dir) = ctx();
        // Timestamps 10, 50, 30, 50, 20: the largest first appears at offset 1.
        let topic = topic_with_records(&ctx, "t", 2, &[10, 50, 30, 50, 20]).await;
        topic.partition(0).unwrap().trim_to(1).unwrap();
        let unsupported = ResponseError::UnsupportedVersion.code();
        for version in versions(ApiKey::ListOffsets) {
            let e = if version >= 4 { 0 } else { -1 };
            // 25: the first record at or after it in offset order (50, at offset 1).
            let got = ask(
                &ctx,
                version,
                &[(0, -1, -2), (0, -1, -1), (0, -1, 25), (0, -1, 99)],
            )
            .await;
            assert_eq!(
                got,
                vec![(0, -1, 1, e), (0, -1, 5, e), (0, 50, 1, e), (0, -1, -1, -1)],
                "v{version}"
            );
            let got = ask(
                &ctx,
                version,
                &[
                    (0, -1, -3),
                    (1, -1, -3),
                    (0, -1, -4),
                    (0, -1, -5),
                    (0, -1, -6),
                ],
            )
            .await;
            let max = if version >= 7 {
                (0, 50, 1, e)
            } else {
                (unsupported, -1, -1, -1)
            };
            let empty = if version >= 7 {
                (0, -1, -1, -1)
            } else {
                (unsupported, -1, -1, -1)
            };
            let local = if version >= 8 {
                (0, -1, 1, e)
            } else {
                (unsupported, -1, -1, -1)
            };
            let tiered = if version >= 9 {
                (0, -1, -1, -1)
            } else {
                (unsupported, -1, -1, -1)
            };
            assert_eq!(
                got,
                vec![max, empty, local, tiered, (unsupported, -1, -1, -1)],
                "v{version}"
            );
        }
        // The current leader epoch is checked (v4+).
        let got = ask(&ctx, 10, &[(0, 0, -1), (0, 1, -1), (0, -7, -1)]).await;
        let codes: Vec<i16> = got.iter().map(|g| g.0).collect();
        assert_eq!(
            codes,
            vec![
                0,
                ResponseError::UnknownLeaderEpoch.code(),
                ResponseError::FencedLeaderEpoch.code()
            ]
        );
        // Max timestamp skips a deleted record: the other 50 is at offset 3.
        topic.partition(0).unwrap().delete_records(&[1]).unwrap();
        assert_eq!(ask(&ctx, 7, &[(0, -1, -3)]).await, vec![(0, 50, 3, 0)]);
    }
}
