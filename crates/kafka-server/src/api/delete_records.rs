//! DeleteRecords: moves a partition's log-start offset up to the requested offset
//! (`-1`: the high watermark), the same trim `XTRIM` and retention use
//! ([`brook_broker::Partition::trim_to`]); segments wholly below it are removed. An
//! offset past the high watermark is `OFFSET_OUT_OF_RANGE`; one at or below the log
//! start changes nothing. The response's low watermark is the new log start. As with
//! `XTRIM` (and as in Redis), a trim leaves the stream's `max-deleted-entry-id` alone:
//! only deletions of single entries move it.

use std::sync::Arc;

use brook_broker::Topic;
use bytes::Bytes;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{
    ApiKey, DeleteRecordsRequest, DeleteRecordsResponse, RequestHeader,
};
use kafka_protocol::ResponseError;

use super::topics::live_topic;
use super::{decode, encode, Api, Ctx, HandlerFuture};

pub const API: Api = Api {
    key: ApiKey::DeleteRecords,
    name: "DeleteRecords",
    min_version: 0,
    max_version: 2,
    handler,
};

/// The offset that means "the high watermark".
const HIGH_WATERMARK: i64 = -1;

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: DeleteRecordsRequest = decode(body, "DeleteRecordsRequest", version)?;
        let mut topics = Vec::with_capacity(request.topics.len());
        for t in request.topics {
            let topic = live_topic(ctx, &t.name.0).map_err(|(code, _)| code);
            let mut partitions = Vec::with_capacity(t.partitions.len());
            for p in &t.partitions {
                let result = match &topic {
                    Err(code) => Err(*code),
                    Ok(topic) => delete_in(topic, p.partition_index, p.offset).map(
                        |(low_watermark, moved)| {
                            if moved {
                                // A RESP client's WATCH of the stream sees the trim.
                                ctx.broker
                                    .note_modified(topic, u32::try_from(p.partition_index).ok());
                            }
                            low_watermark
                        },
                    ),
                };
                let response =
                    DeleteRecordsPartitionResult::default().with_partition_index(p.partition_index);
                partitions.push(match result {
                    Ok(low_watermark) => response.with_low_watermark(low_watermark),
                    Err(code) => response.with_error_code(code.code()).with_low_watermark(-1),
                });
            }
            topics.push(
                DeleteRecordsTopicResult::default()
                    .with_name(t.name)
                    .with_partitions(partitions),
            );
        }
        encode(
            &DeleteRecordsResponse::default().with_topics(topics),
            "DeleteRecordsResponse",
            version,
        )
    })
}

/// Trims partition `index` of `topic` to `offset`; returns the new log start and
/// whether it moved.
fn delete_in(topic: &Arc<Topic>, index: i32, offset: i64) -> Result<(i64, bool), ResponseError> {
    let partition = u32::try_from(index)
        .ok()
        .and_then(|i| topic.partition(i))
        .cloned()
        .ok_or(ResponseError::UnknownTopicOrPartition)?;
    let marks = partition.marks();
    let as_i64 = |o: u64| i64::try_from(o).unwrap_or(i64::MAX);
    let target = match offset {
        HIGH_WATERMARK => marks.high_watermark,
        o => u64::try_from(o).map_err(|_| ResponseError::OffsetOutOfRange)?,
    };
    if target > marks.high_watermark {
        return Err(ResponseError::OffsetOutOfRange);
    }
    if target <= marks.log_start {
        return Ok((as_i64(marks.log_start), false));
    }
    let log_start = partition.trim_to(target).map_err(|error| {
        tracing::warn!(topic = %topic.key, partition = index, %error, "DeleteRecords failed");
        ResponseError::KafkaStorageError
    })?;
    Ok((as_i64(log_start), log_start > marks.log_start))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::testing::{call, ctx, s, topic_with_records, versions};
    use kafka_protocol::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    use kafka_protocol::messages::TopicName;

    async fn run(ctx: &Ctx, version: i16, name: &str, parts: &[(i32, i64)]) -> Vec<(i16, i64)> {
        let partitions = parts
            .iter()
            .map(|&(p, o)| {
                DeleteRecordsPartition::default()
                    .with_partition_index(p)
                    .with_offset(o)
            })
            .collect();
        let request = DeleteRecordsRequest::default()
            .with_topics(vec![DeleteRecordsTopic::default()
                .with_name(TopicName(s(name)))
                .with_partitions(partitions)])
            .with_timeout_ms(5000);
        let response: DeleteRecordsResponse =
            call(ctx, ApiKey::DeleteRecords, version, &request).await;
        response.topics[0]
            .partitions
            .iter()
            .map(|p| (p.error_code, p.low_watermark))
            .collect()
    }

    #[tokio::test]
    async fn moves_the_log_start_and_reports_the_low_watermark() {
        let (ctx, _dir) = ctx();
        for version in versions(ApiKey::DeleteRecords) {
            let name = format!("t{version}");
            let topic = topic_with_records(&ctx, &name, 2, &[1; 10]).await;
            let p = topic.partition(0).unwrap().clone();
            assert_eq!(run(&ctx, version, &name, &[(0, 4)]).await, vec![(0, 4)]);
            assert_eq!(p.marks().log_start, 4);
            // A trim, not a deletion: max-deleted-entry-id stays (as XTRIM, and
            // as Redis's trims).
            assert_eq!(
                topic.stream_meta().max_deleted(),
                brook_model::StreamId::ZERO
            );
            // At or below the log start: nothing changes.
            assert_eq!(run(&ctx, version, &name, &[(0, 2)]).await, vec![(0, 4)]);
            let out_of_range = ResponseError::OffsetOutOfRange.code();
            assert_eq!(
                run(&ctx, version, &name, &[(0, 11), (0, -2), (7, 1), (1, 0)]).await,
                vec![
                    (out_of_range, -1),
                    (out_of_range, -1),
                    (ResponseError::UnknownTopicOrPartition.code(), -1),
                    (0, 0),
                ]
            );
            // -1: the high watermark.
            assert_eq!(run(&ctx, version, &name, &[(0, -1)]).await, vec![(0, 10)]);
            assert_eq!(p.live_count(), 0);
        }
        let unknown = ResponseError::UnknownTopicOrPartition.code();
        assert_eq!(run(&ctx, 2, "nope", &[(0, 1)]).await, vec![(unknown, -1)]);
    }
}
