//! Fetch: the stored record batches from each requested offset, sent as stored
//! (`Entry::kafka_batch`, no re-encoding). Long polls until `min_bytes` are there or
//! `max_wait_ms` has passed; honours the per-partition and the total byte limits
//! (the first batch of the first non-empty partition is sent even if larger, as
//! Kafka does, so consumers always progress). Fetch sessions are declined
//! (session ID 0): clients then send full requests.

use std::sync::Arc;
use std::time::Duration;

use brook_broker::{Entry, Partition, ReadError};
use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, RequestHeader, TopicName,
};
use kafka_protocol::ResponseError;
use tokio::time::Instant;
use uuid::Uuid;

use super::{decode, encode_spliced, Api, Ctx, HandlerFuture};
use crate::gather::Splices;
use crate::read_ahead::ReadAhead;

pub const API: Api = Api {
    key: ApiKey::Fetch,
    name: "Fetch",
    min_version: 4,
    // v13+ name topics by ID; v15 replaces the replica ID by a replica state and v17
    // adds a replica directory, both for followers (a consumer sends -1 / nothing).
    max_version: 17,
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

        let mut names: Vec<(TopicName, Uuid)> = Vec::with_capacity(request.topics.len());
        let mut wanted = Vec::new();
        for t in request.topics {
            let topic = if version >= 13 {
                super::topics::cached_topic_by_id(ctx, t.topic_id)
                    .map(|(topic, _)| topic)
                    .ok_or(ResponseError::UnknownTopicId)
            } else {
                super::metadata::find_or_create(ctx, &t.topic.0, false).await
            };
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
            names.push((t.topic, t.topic_id));
        }

        let collected = long_poll(
            &ctx.read_ahead,
            &wanted,
            min_bytes,
            max_bytes,
            deadline,
            &ctx.stopping,
        )
        .await;
        let Collected {
            partitions,
            splices,
            behind,
            ..
        } = collected;
        // Read ahead the first partition the consumer is still catching up on
        // (nothing once the server stops).
        let behind = wanted
            .iter()
            .zip(&behind)
            .filter(|_| !ctx.stopping.is_stopped())
            .find_map(|(w, next)| {
                let p = w.partition.as_ref().ok()?;
                Some((p, (*next)?, w.max_bytes.min(max_bytes)))
            });
        match behind {
            Some((p, next, limit)) => ctx.read_ahead.start(p, next, limit.max(1)),
            None => ctx.read_ahead.clear(),
        }
        let mut topics: Vec<FetchableTopicResponse> = names
            .into_iter()
            .map(|(name, id)| {
                FetchableTopicResponse::default()
                    .with_topic(name)
                    .with_topic_id(id)
            })
            .collect();
        for (w, data) in wanted.iter().zip(partitions) {
            if let Some(t) = topics.get_mut(w.topic) {
                t.partitions.push(data);
            }
        }
        let response = FetchResponse::default()
            .with_session_id(0)
            .with_responses(topics);
        encode_spliced(&response, "FetchResponse", version, splices)
    })
}

/// Collects the wanted partitions until they hold `min_bytes`, a partition has an
/// error, `deadline`, or the server stops; in between, sleeps until some
/// partition's high watermark moves past what the last collection saw.
async fn long_poll(
    read_ahead: &ReadAhead,
    wanted: &[Wanted],
    min_bytes: usize,
    max_bytes: usize,
    deadline: Instant,
    stopping: &super::Stopping,
) -> Collected {
    let stopped = stopping.stopped();
    tokio::pin!(stopped);
    let mut stop = false;
    loop {
        let collected = collect(read_ahead, wanted, max_bytes).await;
        if collected.bytes >= min_bytes || collected.errors || stop || Instant::now() >= deadline {
            return collected;
        }
        let partitions = collected.partitions;
        let waits: Vec<_> = wanted
            .iter()
            .zip(&partitions)
            .filter_map(|(w, data)| {
                let p = w.partition.as_ref().ok()?;
                let seen = u64::try_from(data.high_watermark.max(w.fetch_offset)).ok()?;
                Some(Box::pin(p.wait_for_data(seen)))
            })
            .collect();
        let wait = async {
            if waits.is_empty() {
                tokio::time::sleep_until(deadline).await;
            } else {
                let _ = tokio::time::timeout_at(deadline, futures_util::future::select_all(waits))
                    .await;
            }
        };
        tokio::select! {
            () = wait => {}
            () = &mut stopped => stop = true,
        }
    }
}

/// What one pass over the wanted partitions found.
struct Collected {
    partitions: Vec<PartitionData>,
    /// The batches to splice into the partitions' records fields.
    splices: Splices,
    /// Record bytes in the response.
    bytes: usize,
    /// Whether a partition has an error (which ends the long poll).
    errors: bool,
    /// Per wanted partition, the offset after its last batch in the response (where
    /// the consumer fetches next) if that is short of the high watermark as it was
    /// before the read: the byte limit, not the end of the log, ended the response,
    /// so the consumer is catching up.
    behind: Vec<Option<u64>>,
}

/// Reads every wanted partition, taking what `read_ahead` read where it fits.
async fn collect(read_ahead: &ReadAhead, wanted: &[Wanted], max_bytes: usize) -> Collected {
    let mut splices = Splices::default();
    let mut total = 0usize;
    let mut errors = false;
    let mut out = Vec::with_capacity(wanted.len());
    let mut behind = vec![None; wanted.len()];
    for (w, next_offset) in wanted.iter().zip(&mut behind) {
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
        let limit = w.max_bytes.min(max_bytes.saturating_sub(total));
        let end_before = p.marks().high_watermark;
        let read = match u64::try_from(w.fetch_offset) {
            Err(_) => Err(ResponseError::OffsetOutOfRange),
            Ok(_) if limit == 0 && total > 0 => Ok(Vec::new()),
            Ok(offset) => match read_ahead.take(p, offset, limit.max(1)).await {
                Some(entries) => Ok(entries),
                None => read(p, offset, limit.max(1)).await,
            },
        };
        // After the read (which may have waited for the device): never behind it.
        let marks = p.marks();
        let as_i64 = |o: u64| i64::try_from(o).unwrap_or(i64::MAX);
        let data = data
            .with_high_watermark(as_i64(marks.high_watermark))
            .with_last_stable_offset(as_i64(marks.high_watermark))
            .with_log_start_offset(as_i64(marks.log_start));
        match read {
            Err(e) => {
                errors = true;
                out.push(data.with_error_code(e.code()));
            }
            Ok(entries) => {
                let mut batches = Vec::with_capacity(entries.len());
                let mut len = 0usize;
                for entry in entries {
                    // XDEL'd records are left out: an offset gap, as compaction leaves.
                    let deleted = p.deleted_in(entry.meta.base_offset, entry.meta.next_offset());
                    let batch = match entry.kafka_batch_without(&deleted) {
                        Ok(batch) => batch,
                        Err(error) => {
                            tracing::warn!(%error, "cannot filter deleted records from a batch");
                            break;
                        }
                    };
                    let first_of_response = total == 0 && batches.is_empty();
                    if len + batch.len() > limit && !first_of_response {
                        break;
                    }
                    len += batch.len();
                    batches.push(batch);
                    *next_offset = Some(entry.meta.next_offset());
                }
                *next_offset = next_offset.filter(|&next| next < end_before);
                // The batches are written as read, not copied (see `crate::gather`).
                let records = splices.records(batches);
                total += records.len();
                out.push(data.with_records(Some(records)));
            }
        }
    }
    Collected {
        partitions: out,
        splices,
        bytes: total,
        errors,
        behind,
    }
}

/// Reads `p` inline when what is asked for is probably in the page cache, and on a
/// blocking thread when not: a consumer replaying old data from the device must not
/// hold up the other connections this runtime worker serves.
async fn read(
    p: &Arc<Partition>,
    offset: u64,
    max_bytes: usize,
) -> Result<Vec<Entry>, ResponseError> {
    let read = if p.read_probably_cached(offset) {
        p.read(offset, max_bytes)
    } else {
        let p = p.clone();
        match tokio::task::spawn_blocking(move || p.read(offset, max_bytes)).await {
            Ok(read) => read,
            Err(error) => {
                tracing::warn!(%error, "Kafka fetch read task failed");
                return Err(ResponseError::KafkaStorageError);
            }
        }
    };
    read.map_err(|e| match e {
        ReadError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
        // Deleted under the read (a deleted topic's partitions are closed, then its
        // files cut on the remover thread), or the server is closing: the partition
        // is gone from here, the disk is fine.
        _ if p.marks().closed => ResponseError::UnknownTopicOrPartition,
        error => {
            tracing::warn!(%error, "Kafka fetch read failed");
            ResponseError::KafkaStorageError
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use brook_broker::{Broker, BrokerConfig, TopicKey, TopicSettings};
    use brook_model::{IdSpec, Record};

    async fn topic(partitions: u32) -> (Arc<Broker>, Arc<brook_broker::Topic>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let broker = Broker::open(BrokerConfig::new(dir.path())).unwrap();
        let settings = TopicSettings {
            partitions,
            ..TopicSettings::default()
        };
        let topic = broker
            .create_topic(TopicKey::new(0, &b"t"[..]), settings)
            .await
            .unwrap();
        (broker, topic, dir)
    }

    async fn append(
        broker: &Broker,
        topic: &brook_broker::Topic,
        partition: u32,
        value_len: usize,
    ) {
        let record = Record {
            timestamp_ms: 1,
            key: None,
            value: Some(Bytes::from(vec![b'x'; value_len])),
            headers: Vec::new(),
        };
        let (p, appended, _) = broker
            .append_deferred(topic, partition, vec![(IdSpec::Auto, record)], 0)
            .unwrap();
        p.wait_durable(appended.next_offset).await.unwrap();
    }

    fn wanted(
        topic: &brook_broker::Topic,
        index: i32,
        fetch_offset: i64,
        max_bytes: usize,
    ) -> Wanted {
        Wanted {
            topic: 0,
            index,
            fetch_offset,
            max_bytes,
            partition: Ok(topic.partition(index as u32).unwrap().clone()),
        }
    }

    fn records_len(data: &PartitionData) -> usize {
        data.records.as_ref().map_or(0, |r| r.len())
    }

    /// A Fetch (v12, by name) of partition 0 of `t` from `offset`.
    fn fetch_t(offset: i64, partition_max_bytes: i32) -> FetchRequest {
        use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_bytes(1 << 20)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(crate::api::testing::s("t")))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(partition_max_bytes)])])
    }

    /// Partition 0's error code and the offsets of its records.
    fn fetched(r: &FetchResponse) -> (i16, Vec<i64>) {
        let data = &r.responses[0].partitions[0];
        let mut records = data.records.clone().unwrap_or_default();
        let offsets = kafka_protocol::records::RecordBatchDecoder::decode_all(&mut records)
            .unwrap()
            .iter()
            .flat_map(|set| set.records.iter().map(|r| r.offset))
            .collect();
        (data.error_code, offsets)
    }

    #[tokio::test]
    async fn a_read_of_a_topic_deleted_under_it_says_the_topic_is_gone() {
        let (broker, topic, _dir) = topic(1).await;
        for _ in 0..3 {
            append(&broker, &topic, 0, 100).await;
        }
        let p = topic.partition(0).unwrap().clone();
        assert_eq!(read(&p, 0, 1 << 20).await.unwrap().len(), 3);
        broker
            .delete_topic(&TopicKey::new(0, &b"t"[..]))
            .await
            .unwrap();
        // The remover has cut the files to zero (and unlinked them); `p` still holds
        // the open segment.
        broker.wait_for_removals();
        assert_eq!(
            read(&p, 0, 1 << 20).await.unwrap_err(),
            ResponseError::UnknownTopicOrPartition
        );
    }

    #[tokio::test]
    async fn a_consumer_catching_up_is_read_ahead_and_gets_what_a_read_would_give() {
        use crate::api::testing::{append_records, call, ctx, topic_with_records};
        let (ctx, _dir) = ctx();
        let topic = topic_with_records(&ctx, "t", 1, &[1; 12]).await;
        let p = topic.partition(0).unwrap().clone();
        let batch = p.read(0, 1).unwrap()[0].kafka_batch().len() as i32;
        let fetch = |offset, limit| {
            let ctx = &ctx;
            async move {
                let r: FetchResponse = call(ctx, ApiKey::Fetch, 12, &fetch_t(offset, limit)).await;
                ctx.read_ahead.settled().await;
                fetched(&r)
            }
        };
        let used = || ctx.read_ahead.budget().used();
        let two = 2 * batch + 1;

        // Each Fetch that leaves records behind starts a read-ahead from where it
        // ended; the next Fetch from there is served from it.
        assert_eq!(fetch(0, two).await, (0, vec![0, 1]));
        assert_eq!((ctx.read_ahead.pending(), used()), (Some(2), 0));
        assert_eq!(fetch(2, two).await, (0, vec![2, 3]));
        assert_eq!((ctx.read_ahead.pending(), used()), (Some(4), 1));

        // Records deleted (XDEL) after the read-ahead read them are still left out.
        p.delete_records(&[5]).unwrap();
        assert_eq!(fetch(4, two).await, (0, vec![4]));
        assert_eq!((ctx.read_ahead.pending(), used()), (Some(6), 2));

        // A log start moved past the read-ahead's offset: out of range, as a read says.
        p.trim_to(8).unwrap();
        let (code, offsets) = fetch(6, two).await;
        assert_eq!(code, ResponseError::OffsetOutOfRange.code());
        assert!(offsets.is_empty());
        assert_eq!((ctx.read_ahead.pending(), used()), (None, 2));

        // A Fetch from elsewhere reads, and replaces the read-ahead.
        assert_eq!(fetch(8, two).await, (0, vec![8, 9]));
        assert_eq!((ctx.read_ahead.pending(), used()), (Some(10), 2));
        assert_eq!(fetch(9, two).await, (0, vec![9, 10]));
        assert_eq!((ctx.read_ahead.pending(), used()), (Some(11), 2));

        // A read-ahead that stopped at the high watermark is not used once more
        // records came in: a read gives them too.
        append_records(&ctx, &topic, &[1; 2]).await;
        assert_eq!(fetch(11, two).await, (0, vec![11, 12]));
        assert_eq!((ctx.read_ahead.pending(), used()), (Some(13), 2));
        // One that stopped at its byte limit is used although records came in
        // meanwhile; not by a Fetch with a larger limit.
        assert_eq!(fetch(8, two).await, (0, vec![8, 9]));
        append_records(&ctx, &topic, &[1]).await;
        assert_eq!(fetch(10, two).await, (0, vec![10, 11]));
        assert_eq!((ctx.read_ahead.pending(), used()), (Some(12), 3));
        assert_eq!(fetch(12, 4 * batch).await, (0, vec![12, 13, 14]));
        assert_eq!((ctx.read_ahead.pending(), used()), (None, 3));
        assert_eq!(fetch(10, two).await, (0, vec![10, 11]));
        assert_eq!(fetch(12, two).await, (0, vec![12, 13]));
        assert_eq!((ctx.read_ahead.pending(), used()), (Some(14), 4));
        // At the end of the log nothing is read ahead.
        assert_eq!(fetch(14, 10 * batch).await, (0, vec![14]));
        assert_eq!((ctx.read_ahead.pending(), used()), (None, 4));
        assert_eq!(ctx.read_ahead.budget().held_count(), 0);
    }

    #[tokio::test]
    async fn data_not_in_the_page_cache_is_read_on_a_blocking_thread() {
        let (broker, topic, dir) = topic(1).await;
        for _ in 0..20 {
            append(&broker, &topic, 0, 50_000).await;
        }
        let hot = collect(
            &ReadAhead::default(),
            &[wanted(&topic, 0, 0, 1 << 20)],
            1 << 20,
        )
        .await;
        let p = topic.partition(0).unwrap();
        assert!(p.read_probably_cached(0));
        // Drop the (fsynced, clean) pages from the page cache.
        let pdir = dir.path().join("topics").join(&topic.id).join("0");
        for entry in std::fs::read_dir(pdir).unwrap() {
            let file = std::fs::File::open(entry.unwrap().path()).unwrap();
            rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        }
        assert!(!p.read_probably_cached(0));
        let cold = collect(
            &ReadAhead::default(),
            &[wanted(&topic, 0, 0, 1 << 20)],
            1 << 20,
        )
        .await;
        assert!(!cold.errors);
        assert!(hot.bytes > 20 * 50_000);
        assert_eq!(cold.bytes, hot.bytes);
        // The same bytes on the wire.
        let wire = |c: Collected| {
            let response = FetchResponse::default().with_responses(vec![
                FetchableTopicResponse::default().with_partitions(c.partitions),
            ]);
            match encode_spliced(&response, "FetchResponse", 12, c.splices).unwrap() {
                super::super::Reply::Body(framed) => framed.into_body(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(wire(cold), wire(hot));
    }

    #[tokio::test]
    async fn byte_limits_per_partition_and_in_total() {
        let (broker, topic, _dir) = topic(2).await;
        for p in 0..2 {
            for _ in 0..3 {
                append(&broker, &topic, p, 1000).await;
            }
        }
        let c = collect(
            &ReadAhead::default(),
            &[wanted(&topic, 0, 0, 1 << 20)],
            1 << 20,
        )
        .await;
        let (all, bytes, errors) = (c.partitions, c.bytes, c.errors);
        assert!(!errors);
        let batch = bytes / 3;
        assert!(batch > 1000 && bytes == 3 * batch, "{bytes}");
        assert_eq!(all[0].high_watermark, 3);

        // Per partition: two batches fit, not three.
        let bytes = collect(
            &ReadAhead::default(),
            &[wanted(&topic, 0, 0, 2 * batch + 10)],
            1 << 20,
        )
        .await
        .bytes;
        assert_eq!(bytes, 2 * batch);
        // A limit below one batch still returns the first batch of the response...
        let two = [wanted(&topic, 0, 0, 10), wanted(&topic, 1, 0, 10)];
        let c = collect(&ReadAhead::default(), &two, 1 << 20).await;
        let (data, bytes) = (c.partitions, c.bytes);
        assert_eq!((records_len(&data[0]), records_len(&data[1])), (batch, 0));
        assert_eq!(bytes, batch);
        // ... and the total limit leaves later partitions empty.
        let two = [wanted(&topic, 0, 0, 1 << 20), wanted(&topic, 1, 0, 1 << 20)];
        let data = collect(&ReadAhead::default(), &two, batch + 10)
            .await
            .partitions;
        assert_eq!((records_len(&data[0]), records_len(&data[1])), (batch, 0));
        // Fetching from inside the log returns the batch holding that offset on.
        let data = collect(
            &ReadAhead::default(),
            &[wanted(&topic, 0, 2, 1 << 20)],
            1 << 20,
        )
        .await
        .partitions;
        assert_eq!(records_len(&data[0]), batch);
        // At the high watermark: empty, no error; past it: OFFSET_OUT_OF_RANGE.
        let c = collect(
            &ReadAhead::default(),
            &[wanted(&topic, 0, 3, 1 << 20)],
            1 << 20,
        )
        .await;
        let (data, bytes, errors) = (c.partitions, c.bytes, c.errors);
        assert_eq!((bytes, errors, data[0].error_code), (0, false, 0));
        for offset in [4, -1] {
            let c = collect(
                &ReadAhead::default(),
                &[wanted(&topic, 0, offset, 1 << 20)],
                1 << 20,
            )
            .await;
            let (data, errors) = (c.partitions, c.errors);
            assert!(errors);
            assert_eq!(data[0].error_code, ResponseError::OffsetOutOfRange.code());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_poll_wakes_on_append_and_otherwise_waits_out_max_wait() {
        let (broker, topic, _dir) = topic(1).await;
        append(&broker, &topic, 0, 10).await;

        // Nothing new past offset 1: waits the whole max wait.
        let started = Instant::now();
        let data = long_poll(
            &ReadAhead::default(),
            &[wanted(&topic, 0, 1, 1 << 20)],
            1,
            1 << 20,
            started + Duration::from_millis(300),
            &super::super::Stopping::default(),
        )
        .await
        .partitions;
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(records_len(&data[0]), 0);

        // min_bytes not reached by what is there: waits for more, wakes on append
        // (long before the 10 s deadline).
        let started = Instant::now();
        let stopping = super::super::Stopping::default();
        let from_start = [wanted(&topic, 0, 0, 1 << 20)];
        let read_ahead = ReadAhead::default();
        let poll = long_poll(
            &read_ahead,
            &from_start,
            10_000,
            1 << 20,
            started + Duration::from_secs(10),
            &stopping,
        );
        let writer = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            append(&broker, &topic, 0, 20_000).await;
        };
        let (data, ()) = tokio::join!(poll, writer);
        let data = data.partitions;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(records_len(&data[0]) > 20_000);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_poll_answers_at_once_when_the_server_stops() {
        let (broker, topic, _dir) = topic(1).await;
        append(&broker, &topic, 0, 10).await;
        let stopping = super::super::Stopping::default();
        let started = Instant::now();
        let past_end = [wanted(&topic, 0, 1, 1 << 20)];
        let read_ahead = ReadAhead::default();
        let poll = long_poll(
            &read_ahead,
            &past_end,
            1,
            1 << 20,
            started + Duration::from_secs(30),
            &stopping,
        );
        let stop = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            stopping.stop();
        };
        let (data, ()) = tokio::join!(poll, stop);
        let data = data.partitions;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(records_len(&data[0]), 0);
    }
}
