//! Fetch: the stored record batches from each requested offset, sent as stored
//! (`Entry::kafka_batch`, no re-encoding). Long polls until `min_bytes` are there or
//! `max_wait_ms` has passed; honours the per-partition and the total byte limits
//! (the first batch of the first non-empty partition is sent even if larger, as
//! Kafka does, so consumers always progress). Fetch sessions are declined
//! (session ID 0): clients then send full requests.

use std::sync::Arc;
use std::time::Duration;

use brook_broker::{Partition, ReadError};
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, RequestHeader, TopicName,
};
use kafka_protocol::ResponseError;
use tokio::time::Instant;

use super::{decode, encode, Api, Ctx, HandlerFuture};

pub const API: Api = Api {
    key: ApiKey::Fetch,
    name: "Fetch",
    min_version: 4,
    // v13+ name topics by ID; not served yet.
    max_version: 12,
    handler,
};

/// Longest long poll, whatever the client asks.
pub const MAX_WAIT_MS_MAX: u64 = 300_000;
/// Most bytes one Fetch response carries, whatever the client asks.
pub const RESPONSE_BYTES_MAX: usize = 64 * 1024 * 1024;

struct Wanted {
    topic: usize,
    index: i32,
    fetch_offset: i64,
    max_bytes: usize,
    partition: Result<Arc<Partition>, ResponseError>,
}

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: FetchRequest = decode(body, "FetchRequest", version)?;
        let deadline = Instant::now()
            + Duration::from_millis(
                u64::try_from(request.max_wait_ms)
                    .unwrap_or(0)
                    .min(MAX_WAIT_MS_MAX),
            );
        let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0);
        let max_bytes = usize::try_from(request.max_bytes)
            .ok()
            .filter(|&b| b > 0)
            .unwrap_or(RESPONSE_BYTES_MAX)
            .min(RESPONSE_BYTES_MAX);

        let mut names: Vec<TopicName> = Vec::with_capacity(request.topics.len());
        let mut wanted = Vec::new();
        for t in request.topics {
            let topic = super::metadata::find_or_create(ctx, &t.topic.0, false).await;
            for p in t.partitions {
                let partition = match &topic {
                    Err(e) => Err(*e),
                    Ok(topic) => u32::try_from(p.partition)
                        .ok()
                        .and_then(|i| topic.partition(i))
                        .cloned()
                        .ok_or(ResponseError::UnknownTopicOrPartition),
                };
                wanted.push(Wanted {
                    topic: names.len(),
                    index: p.partition,
                    fetch_offset: p.fetch_offset,
                    max_bytes: usize::try_from(p.partition_max_bytes).unwrap_or(0),
                    partition,
                });
            }
            names.push(t.topic);
        }

        loop {
            let (partitions, bytes, errors) = collect(&wanted, max_bytes);
            if bytes >= min_bytes || errors || Instant::now() >= deadline {
                let mut topics: Vec<FetchableTopicResponse> = names
                    .iter()
                    .map(|name| FetchableTopicResponse::default().with_topic(name.clone()))
                    .collect();
                for (w, data) in wanted.iter().zip(partitions) {
                    if let Some(t) = topics.get_mut(w.topic) {
                        t.partitions.push(data);
                    }
                }
                let response = FetchResponse::default()
                    .with_session_id(0)
                    .with_responses(topics);
                return encode(&response, "FetchResponse", version);
            }
            // Nothing (enough) yet: wait until some partition has data past what was
            // asked for, or the deadline.
            let waits: Vec<_> = wanted
                .iter()
                .filter_map(|w| {
                    let p = w.partition.as_ref().ok()?;
                    let offset = u64::try_from(w.fetch_offset).ok()?;
                    Some(Box::pin(p.wait_for_data(offset)))
                })
                .collect();
            if waits.is_empty() {
                tokio::time::sleep_until(deadline).await;
            } else {
                let _ = tokio::time::timeout_at(deadline, futures_util::future::select_all(waits))
                    .await;
            }
        }
    })
}

/// Reads every wanted partition; returns the partition responses, the record bytes
/// they carry, and whether any partition has an error (which ends the long poll).
fn collect(wanted: &[Wanted], max_bytes: usize) -> (Vec<PartitionData>, usize, bool) {
    let mut total = 0usize;
    let mut errors = false;
    let mut out = Vec::with_capacity(wanted.len());
    for w in wanted {
        let data = PartitionData::default()
            .with_partition_index(w.index)
            .with_preferred_read_replica(BrokerId(-1));
        let p = match &w.partition {
            Ok(p) => p,
            Err(e) => {
                errors = true;
                out.push(data.with_error_code(e.code()));
                continue;
            }
        };
        let marks = p.marks();
        let as_i64 = |o: u64| i64::try_from(o).unwrap_or(i64::MAX);
        let data = data
            .with_high_watermark(as_i64(marks.high_watermark))
            .with_last_stable_offset(as_i64(marks.high_watermark))
            .with_log_start_offset(as_i64(marks.log_start));
        let limit = w.max_bytes.min(max_bytes.saturating_sub(total));
        let read = match u64::try_from(w.fetch_offset) {
            Err(_) => Err(ResponseError::OffsetOutOfRange),
            Ok(_) if limit == 0 && total > 0 => Ok(Vec::new()),
            Ok(offset) => p.read(offset, limit.max(1)).map_err(|e| match e {
                ReadError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
                error => {
                    tracing::warn!(%error, "Kafka fetch read failed");
                    ResponseError::KafkaStorageError
                }
            }),
        };
        match read {
            Err(e) => {
                errors = true;
                out.push(data.with_error_code(e.code()));
            }
            Ok(entries) => {
                let mut records = BytesMut::new();
                for entry in entries {
                    let batch = entry.kafka_batch();
                    let first_of_response = total == 0 && records.is_empty();
                    if records.len() + batch.len() > limit && !first_of_response {
                        break;
                    }
                    records.extend_from_slice(&batch);
                }
                total += records.len();
                out.push(data.with_records(Some(records.freeze())));
            }
        }
    }
    (out, total, errors)
}
