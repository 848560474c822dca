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
