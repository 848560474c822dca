//! Produce: each partition's record batches are appended through the broker —
//! uncompressed batches as sent, compressed ones after capped decompression
//! ([`crate::compression`]) — and acknowledged as `acks` asks: `0` no response,
//! `1` once written (after fsync when the topic's policy is `always`, since readers
//! would not see the records before that either), `-1` after fsync.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use brook_broker::{check_kafka_batch, AppendError, EncodeError, Partition, ProduceError, Topic};
use brook_model::LogLimit;
use bytes::Bytes;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse, RequestHeader};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{decode, encode, Api, Ctx, HandlerFuture, Reply};
use crate::compression::{self, Codec, DecompressError};
use crate::error::ConnError;
use crate::idempotence::{ProducerBatch, SequenceError, Verdict};

pub const API: Api = Api {
    key: ApiKey::Produce,
    name: "Produce",
    min_version: 3,
    max_version: 9,
    handler,
};

/// Largest batch accepted, compressed or after decompression.
pub const BATCH_BYTES_MAX: usize = brook_model::BATCH_BYTES_MAX;

/// A partition's outcome before the durability wait.
struct Written {
    partition: Arc<Partition>,
    base_offset: u64,
    next_offset: u64,
    must_wait: bool,
}

/// Why a partition's records were refused, with a message for the client.
type Refusal = (ResponseError, String);

/// One topic's partitions and their outcomes, in request order.
type TopicResults = (StrBytes, Vec<(i32, Result<Written, Refusal>)>);

fn handler<'a>(ctx: &'a Ctx, header: &'a RequestHeader, body: Bytes) -> HandlerFuture<'a> {
    Box::pin(async move {
        let version = header.request_api_version;
        let request: ProduceRequest = decode(body, "ProduceRequest", version)?;
        let acks = request.acks;
        let mut results: Vec<TopicResults> = Vec::new();
        for topic_data in request.topic_data {
            let name = topic_data.name.0;
            let topic = super::metadata::find_or_create(ctx, &name, false).await;
            let mut partitions = Vec::with_capacity(topic_data.partition_data.len());
            for data in topic_data.partition_data {
                let result = if !matches!(acks, -1..=1) {
                    Err((
                        ResponseError::InvalidRequiredAcks,
                        format!("acks must be -1, 0 or 1, not {acks}"),
                    ))
                } else {
                    match &topic {
                        Err(error) => Err((*error, format!("topic {}", &*name))),
                        Ok(topic) => {
                            produce_partition(ctx, topic, data.index, data.records.as_ref())
                        }
                    }
                };
                partitions.push((data.index, result));
            }
            results.push((name, partitions));
        }

        if acks == 0 {
            return Ok(Reply::None);
        }
        // The records are appended; the response waits for durability (acks=-1, or
        // acks=1 under `always`) without holding up the connection's next Produce.
        Ok(Reply::Later(Box::pin(respond(results, acks, version))))
    })
}

/// The Produce response once every partition that must be durable is.
async fn respond(results: Vec<TopicResults>, acks: i16, version: i16) -> Result<Reply, ConnError> {
    let mut responses = Vec::with_capacity(results.len());
    for (name, partitions) in results {
        let mut partition_responses = Vec::with_capacity(partitions.len());
        for (index, result) in partitions {
            let mut result = result;
            if let Ok(written) = &result {
                let wait = acks == -1 || (acks == 1 && written.must_wait);
                if wait {
                    if let Err(error) = written.partition.wait_durable(written.next_offset).await {
                        result = Err((ResponseError::KafkaStorageError, error.to_string()));
                    }
                }
            }
            partition_responses.push(match result {
                Ok(written) => PartitionProduceResponse::default()
                    .with_index(index)
                    .with_base_offset(i64::try_from(written.base_offset).unwrap_or(i64::MAX))
                    .with_log_append_time_ms(-1)
                    .with_log_start_offset(
                        i64::try_from(written.partition.marks().log_start).unwrap_or(i64::MAX),
                    ),
                Err((error, message)) => {
                    tracing::debug!(
                        topic = &*name,
                        partition = index,
                        ?error,
                        message,
                        "produce refused"
                    );
                    PartitionProduceResponse::default()
                        .with_index(index)
                        .with_error_code(error.code())
                        .with_base_offset(-1)
                        .with_log_append_time_ms(-1)
                        .with_log_start_offset(-1)
                        .with_error_message(Some(StrBytes::from_string(message)))
                }
            });
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(name.into())
                .with_partition_responses(partition_responses),
        );
    }
    encode(
        &ProduceResponse::default().with_responses(responses),
        "ProduceResponse",
        version,
    )
}

/// Appends every batch in `records` to partition `index` of `topic`. When there are
/// several, all are checked first (decompressing each and dropping the result, so
/// memory stays at one batch), so a bad batch refuses the whole partition instead
/// of leaving the ones before it stored.
fn produce_partition(
    ctx: &Ctx,
    topic: &Topic,
    index: i32,
    records: Option<&Bytes>,
) -> Result<Written, Refusal> {
    let partition = u32::try_from(index)
        .ok()
        .filter(|&p| (p as usize) < topic.partitions().len())
        .ok_or((
            ResponseError::UnknownTopicOrPartition,
            format!("no partition {index}"),
        ))?;
    let batches = split_batches(records.map(|b| &b[..]).unwrap_or_default())?;
    // The topic's `max.message.bytes`, on batches as sent (compressed), as Kafka
    // checks it. (Unset, the limit is the server-wide one split_batches applies.)
    if let Some(max) = topic.settings().max_message_bytes {
        if let Some(big) = batches.iter().find(|b| b.len() as u64 > max) {
            return Err((
                ResponseError::MessageTooLarge,
                format!(
                    "batch of {} bytes exceeds the topic's max.message.bytes ({max})",
                    big.len()
                ),
            ));
        }
    }
    if batches.len() > 1 {
        for batch in &batches {
            let plain = plain_batch(batch)?;
            check_kafka_batch(&plain).map_err(|e| corrupt(e.to_string()))?;
        }
    }
    let mut written: Option<Written> = None;
    for batch in batches {
        let plain = plain_batch(batch)?;
        let (p, base_offset, next_offset, must_wait) = match ProducerBatch::of(&plain) {
            None => append(ctx, topic, partition, &plain)?,
            Some(producer) => {
                let p = topic.partition(partition).ok_or((
                    ResponseError::UnknownTopicOrPartition,
                    format!("no partition {index}"),
                ))?;
                let table = ctx
                    .idempotence
                    .producers
                    .table(&topic.id, partition, p, || {
                        ctx.broker.topics().iter().map(|t| t.id.clone()).collect()
                    });
                let mut table = table.lock();
                match table.check(&producer) {
                    Ok(Verdict::Duplicate { base_offset }) => {
                        let next = base_offset + producer.record_count as u64;
                        (p.clone(), base_offset, next, true)
                    }
                    Ok(Verdict::Append) => {
                        let appended = append(ctx, topic, partition, &plain)?;
                        table.record(&producer, appended.1);
                        appended
                    }
                    Err(e @ SequenceError::OutOfOrder { .. }) => {
                        return Err((ResponseError::OutOfOrderSequenceNumber, e.to_string()))
                    }
                    Err(e @ SequenceError::StaleEpoch { .. }) => {
                        return Err((ResponseError::InvalidProducerEpoch, e.to_string()))
                    }
                }
            }
        };
        match &mut written {
            None => {
                written = Some(Written {
                    partition: p,
                    base_offset,
                    next_offset,
                    must_wait,
                })
            }
            Some(w) => {
                w.next_offset = next_offset;
                w.must_wait |= must_wait;
            }
        }
    }
    written.ok_or_else(|| corrupt("no records".into()))
}

/// Appends one plain batch: `(partition, base offset, next offset, must wait)`.
fn append(
    ctx: &Ctx,
    topic: &Topic,
    partition: u32,
    plain: &[u8],
) -> Result<(Arc<Partition>, u64, u64, bool), Refusal> {
    let (p, appended, must_wait) = ctx
        .broker
        .append_kafka_batch_deferred(topic, partition, plain)
        .map_err(produce_error)?;
    Ok((p, appended.base_offset, appended.next_offset, must_wait))
}

fn corrupt(what: String) -> Refusal {
    (ResponseError::CorruptMessage, what)
}

/// Splits a partition's records into its RecordBatches by their length fields.
fn split_batches(mut rest: &[u8]) -> Result<Vec<&[u8]>, Refusal> {
    let mut batches = Vec::new();
    if rest.is_empty() {
        return Err(corrupt("no records".into()));
    }
    while !rest.is_empty() {
        let batch_length = rest
            .get(8..12)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| {
                corrupt(format!(
                    "{} trailing bytes are not a record batch",
                    rest.len()
                ))
            })?;
        let len = usize::try_from(batch_length)
            .ok()
            .and_then(|l| l.checked_add(12))
            .ok_or_else(|| corrupt(format!("batch length {batch_length}")))?;
        if len > BATCH_BYTES_MAX + compression::BATCH_HEADER_LEN {
            return Err((
                ResponseError::MessageTooLarge,
                format!("batch of {len} bytes exceeds {BATCH_BYTES_MAX}"),
            ));
        }
        let (batch, tail) = rest
            .split_at_checked(len)
            .ok_or_else(|| corrupt(format!("batch of {len} bytes, {} sent", rest.len())))?;
        batches.push(batch);
        rest = tail;
    }
    Ok(batches)
}

/// The batch as the log stores it: as sent if uncompressed, else decompressed.
fn plain_batch(batch: &[u8]) -> Result<Cow<'_, [u8]>, Refusal> {
    match compression::batch_codec(batch).map_err(|e| corrupt(e.to_string()))? {
        Codec::None => Ok(Cow::Borrowed(batch)),
        _ => compression::decompress_batch(batch, BATCH_BYTES_MAX)
            .map(Cow::Owned)
            .map_err(|e| match e {
                DecompressError::TooLarge { .. } => (ResponseError::MessageTooLarge, e.to_string()),
                _ => corrupt(e.to_string()),
            }),
    }
}

fn produce_error(error: ProduceError) -> Refusal {
    let code = match &error {
        ProduceError::UnknownPartition { .. } => ResponseError::UnknownTopicOrPartition,
        ProduceError::Append(AppendError::InvalidBatch(_)) => ResponseError::CorruptMessage,
        ProduceError::Append(AppendError::Encode(EncodeError::Empty)) => {
            ResponseError::CorruptMessage
        }
        ProduceError::Append(AppendError::Encode(_)) => ResponseError::MessageTooLarge,
        ProduceError::Append(
            AppendError::DiskFull { .. }
            | AppendError::Io { .. }
            | AppendError::Failed { .. }
            | AppendError::Closed,
        )
        | ProduceError::Wait(_) => ResponseError::KafkaStorageError,
        ProduceError::Append(AppendError::StreamId(_) | AppendError::IdBelowStored { .. }) => {
            ResponseError::UnknownServerError
        }
    };
    if code == ResponseError::KafkaStorageError {
        // A full disk, or a partition failed by an fsync error, fails every produce
        // until space returns or the server restarts: a line per kind per 10 s (so
        // one kind flooding does not hide another).
        static DISK_FULL: LogLimit = LogLimit::new(Duration::from_secs(10));
        static FAILED: LogLimit = LogLimit::new(Duration::from_secs(10));
        static OTHER: LogLimit = LogLimit::new(Duration::from_secs(10));
        let limit = match error {
            ProduceError::Append(AppendError::DiskFull { .. }) => &DISK_FULL,
            ProduceError::Append(AppendError::Failed { .. }) => &FAILED,
            _ => &OTHER,
        };
        if let Some(suppressed) = limit.allow() {
            tracing::warn!(%error, suppressed, "Kafka produce failed");
        }
    }
    (code, error.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use brook_broker::{Broker, BrokerConfig, TopicKey, TopicSettings};
    use std::io::Write as _;

    /// A RecordBatch v2 header for `count` records with `attributes`, then `records`,
    /// with a correct length and CRC.
    fn batch(attributes: i16, count: i32, records: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; compression::BATCH_HEADER_LEN];
        b[16] = 2;
        b[21..23].copy_from_slice(&attributes.to_be_bytes());
        b[23..27].copy_from_slice(&(count - 1).to_be_bytes());
        b[43..51].copy_from_slice(&(-1i64).to_be_bytes());
        b[57..61].copy_from_slice(&count.to_be_bytes());
        b.extend_from_slice(records);
        let len = (b.len() - 12) as i32;
        b[8..12].copy_from_slice(&len.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    /// One record: key "k", value "v", no headers (zig-zag varints: length 8, key
    /// and value length 1).
    fn record() -> Vec<u8> {
        vec![16, 0, 0, 0, 2, b'k', 2, b'v', 0]
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    async fn ctx() -> (Ctx, Arc<Topic>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let broker = Broker::open(BrokerConfig::new(dir.path())).unwrap();
        let topic = broker
            .create_topic(TopicKey::new(0, &b"t"[..]), TopicSettings::default())
            .await
            .unwrap();
        let ctx = Ctx {
            broker,
            advertised: crate::api::Advertised {
                host: "127.0.0.1".into(),
                port: 9092,
            },
            peer: std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
            idempotence: Arc::default(),
            stopping: Arc::default(),
            auto_create_topics: true,
            topic_ids: Default::default(),
            read_ahead: Default::default(),
        };
        (ctx, topic, dir)
    }

    fn code(result: Result<Written, Refusal>) -> Option<ResponseError> {
        result.err().map(|(code, _)| code)
    }

    #[tokio::test]
    async fn plain_and_gzip_batches_are_appended_with_dense_offsets() {
        let (ctx, topic, _dir) = ctx().await;
        let plain = Bytes::from(batch(0, 1, &record()));
        let written = produce_partition(&ctx, &topic, 0, Some(&plain)).unwrap();
        assert_eq!((written.base_offset, written.next_offset), (0, 1));
        let mut two = record();
        two.extend_from_slice(&record());
        two[9 + 3] = 2; // second record's offset delta = 1
        let gz = Bytes::from(batch(1, 2, &gzip(&two)));
        let written = produce_partition(&ctx, &topic, 0, Some(&gz)).unwrap();
        assert_eq!((written.base_offset, written.next_offset), (1, 3));
        // Two batches in one partition's records.
        let mut both = plain.to_vec();
        both.extend_from_slice(&gz);
        let written = produce_partition(&ctx, &topic, 0, Some(&Bytes::from(both))).unwrap();
        assert_eq!((written.base_offset, written.next_offset), (3, 6));
    }

    #[tokio::test]
    async fn a_compression_bomb_is_message_too_large() {
        let (ctx, topic, _dir) = ctx().await;
        let bomb = gzip(&vec![0u8; BATCH_BYTES_MAX + 1]);
        assert!(bomb.len() < 64 * 1024);
        let records = Bytes::from(batch(1, 1, &bomb));
        assert_eq!(
            code(produce_partition(&ctx, &topic, 0, Some(&records))),
            Some(ResponseError::MessageTooLarge)
        );
        assert_eq!(topic.partition(0).unwrap().marks().log_end, 0);
    }

    #[tokio::test]
    async fn the_topics_max_message_bytes_applies_to_batches_as_sent() {
        let (ctx, topic, _dir) = ctx().await;
        let mut many = Vec::new();
        for i in 0..50u8 {
            let mut r = record();
            r[3] = i * 2; // offset delta
            many.extend_from_slice(&r);
        }
        let gz = Bytes::from(batch(1, 50, &gzip(&many)));
        let raw = Bytes::from(batch(0, 50, &many));
        assert!(gz.len() < raw.len());
        // The limit is the compressed batch's size: it passes, the same records
        // uncompressed do not.
        let limit = gz.len() as u64;
        let topic = ctx
            .broker
            .update_topic_settings(&topic.key, |s| s.max_message_bytes = Some(limit))
            .await
            .unwrap();
        let (code, message) = produce_partition(&ctx, &topic, 0, Some(&raw))
            .err()
            .unwrap();
        assert_eq!(code, ResponseError::MessageTooLarge);
        assert!(message.contains("max.message.bytes"), "{message}");
        assert_eq!(topic.partition(0).unwrap().marks().log_end, 0);
        let written = produce_partition(&ctx, &topic, 0, Some(&gz)).unwrap();
        assert_eq!(written.next_offset, 50);
    }

    #[tokio::test]
    async fn bad_input_gets_kafka_errors() {
        let (ctx, topic, _dir) = ctx().await;
        let good = batch(0, 1, &record());
        let mut bad_crc = good.clone();
        bad_crc[62] ^= 1;
        let cases: Vec<(Option<Bytes>, i32, ResponseError)> = vec![
            (None, 0, ResponseError::CorruptMessage),
            (Some(Bytes::new()), 0, ResponseError::CorruptMessage),
            (Some(Bytes::from(bad_crc)), 0, ResponseError::CorruptMessage),
            (
                Some(Bytes::from(good[..30].to_vec())),
                0,
                ResponseError::CorruptMessage,
            ),
            (
                Some(Bytes::from(batch(7, 1, b"x"))),
                0,
                ResponseError::CorruptMessage,
            ),
            (
                Some(Bytes::from(batch(1, 1, b"not gzip"))),
                0,
                ResponseError::CorruptMessage,
            ),
            (
                Some(Bytes::from(good.clone())),
                1,
                ResponseError::UnknownTopicOrPartition,
            ),
            (
                Some(Bytes::from(good.clone())),
                -1,
                ResponseError::UnknownTopicOrPartition,
            ),
        ];
        for (records, index, want) in cases {
            let got = code(produce_partition(&ctx, &topic, index, records.as_ref()));
            assert_eq!(got, Some(want), "{records:?}");
        }
        assert_eq!(topic.partition(0).unwrap().marks().log_end, 0);
        // A good batch followed by a bad one: nothing is stored.
        let mut two = good.clone();
        two.extend_from_slice(&batch(1, 1, b"not gzip"));
        let got = code(produce_partition(&ctx, &topic, 0, Some(&Bytes::from(two))));
        assert_eq!(got, Some(ResponseError::CorruptMessage));
        let mut two = good.clone();
        two.extend_from_slice(&batch(0, 2, &record())); // count 2, one record
        let got = code(produce_partition(&ctx, &topic, 0, Some(&Bytes::from(two))));
        assert_eq!(got, Some(ResponseError::CorruptMessage));
        assert_eq!(topic.partition(0).unwrap().marks().log_end, 0);
    }

    /// `batch` from an idempotent producer: fields set, CRC recomputed.
    fn idempotent(mut b: Vec<u8>, producer_id: i64, epoch: i16, sequence: i32) -> Bytes {
        b[43..51].copy_from_slice(&producer_id.to_be_bytes());
        b[51..53].copy_from_slice(&epoch.to_be_bytes());
        b[53..57].copy_from_slice(&sequence.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        Bytes::from(b)
    }

    #[tokio::test]
    async fn idempotent_retries_are_stored_once_and_gaps_are_refused() {
        let (ctx, topic, _dir) = ctx().await;
        let offsets = |r: Result<Written, Refusal>| {
            let w = r.unwrap();
            (w.base_offset, w.next_offset)
        };
        let first = idempotent(batch(0, 1, &record()), 9, 0, 0);
        assert_eq!(
            offsets(produce_partition(&ctx, &topic, 0, Some(&first))),
            (0, 1)
        );
        // The retry is answered with the first copy's offset and not stored again.
        assert_eq!(
            offsets(produce_partition(&ctx, &topic, 0, Some(&first))),
            (0, 1)
        );
        let second = idempotent(batch(1, 1, &gzip(&record())), 9, 0, 1);
        assert_eq!(
            offsets(produce_partition(&ctx, &topic, 0, Some(&second))),
            (1, 2)
        );
        let gap = idempotent(batch(0, 1, &record()), 9, 0, 5);
        assert_eq!(
            code(produce_partition(&ctx, &topic, 0, Some(&gap))),
            Some(ResponseError::OutOfOrderSequenceNumber)
        );
        let bumped = idempotent(batch(0, 1, &record()), 9, 1, 0);
        assert_eq!(
            offsets(produce_partition(&ctx, &topic, 0, Some(&bumped))),
            (2, 3)
        );
        let fenced = idempotent(batch(0, 1, &record()), 9, 0, 2);
        assert_eq!(
            code(produce_partition(&ctx, &topic, 0, Some(&fenced))),
            Some(ResponseError::InvalidProducerEpoch)
        );
        assert_eq!(topic.partition(0).unwrap().marks().log_end, 3);

        // After a restart the state is rebuilt from the stored (durable) batch headers.
        topic.partition(0).unwrap().wait_durable(3).await.unwrap();
        let restarted = Ctx {
            idempotence: Arc::default(),
            ..ctx.clone()
        };
        assert_eq!(
            offsets(produce_partition(&restarted, &topic, 0, Some(&bumped))),
            (2, 3)
        );
        assert_eq!(topic.partition(0).unwrap().marks().log_end, 3);
    }
}
