//! `/v1/topics/{name}/records`: produce and consume over HTTP (what `brook produce`
//! and `brook consume` use). Records are stored as a Kafka producer would send them
//! (format 0), so Kafka and Redis clients read them as they read each other's.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use hyper::StatusCode;

use brook_broker::{fields, names, Ack, Partition, ProduceError, TopicSettings};
use brook_model::{Header, IdSpec, Record, StoredRecord, StreamId};

use super::{json, text, ApiResult, Call, Failure};
use crate::types::{Produce, ProduceResult, Produced, RecordOut, Records};

/// Most records one produce request may carry.
pub const PRODUCE_RECORDS_MAX: usize = 10_000;
/// Most records one consume request returns.
pub const CONSUME_RECORDS_MAX: usize = 10_000;
/// Longest a consume request waits for records.
pub const WAIT_MS_MAX: u64 = 60_000;
/// Bytes read per partition per request.
const READ_BYTES_MAX: usize = 4 * 1024 * 1024;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Text or base64 (exactly one may be given).
fn bytes_of(
    what: &str,
    text: &Option<String>,
    base64: &Option<String>,
) -> Result<Option<Bytes>, Failure> {
    match (text, base64) {
        (Some(_), Some(_)) => Err(Failure::bad_request(format!(
            "give {what} or {what}_base64, not both"
        ))),
        (Some(t), None) => Ok(Some(Bytes::from(t.clone()))),
        (None, Some(b)) => b64()
            .decode(b)
            .map(|v| Some(Bytes::from(v)))
            .map_err(|e| Failure::bad_request(format!("{what}_base64: {e}"))),
        (None, None) => Ok(None),
    }
}

pub async fn produce(call: &Call<'_>) -> ApiResult {
    let key = call.topic_key(1)?;
    let req: Produce = call.json()?;
    if req.records.is_empty() {
        return Err(Failure::bad_request("no records"));
    }
    if req.records.len() > PRODUCE_RECORDS_MAX {
        return Err(Failure::bad_request(format!(
            "{} records in one request; at most {PRODUCE_RECORDS_MAX}",
            req.records.len()
        )));
    }
    let broker = &call.state.broker;
    // Like XADD and Kafka's auto-creation: a missing topic is created.
    let topic = match broker.topic(&key) {
        Some(t) if !t.expired(brook_broker::now_ms()) => t,
        _ => match broker
            .create_topic(key.clone(), TopicSettings::default())
            .await
        {
            Ok(t) => t,
            Err(brook_broker::TopicError::AlreadyExists(k)) => broker
                .topic(&k)
                .ok_or_else(|| Failure::conflict("the topic was deleted concurrently"))?,
            Err(e) => return Err(super::topics::topic_failure(e)),
        },
    };
    let n = topic.partitions().len() as u32;
    let now = brook_broker::now_ms() as i64;
    // Group the records by partition, keeping each partition's order.
    let mut by_partition: Vec<Vec<(usize, Record)>> = vec![Vec::new(); n as usize];
    for (i, r) in req.records.iter().enumerate() {
        let k = bytes_of("key", &r.key, &r.key_base64)?;
        let v = bytes_of("value", &r.value, &r.value_base64)?;
        let partition = match (r.partition, &k) {
            (Some(p), _) if p < n => p,
            (Some(p), _) => {
                return Err(Failure::bad_request(format!(
                    "topic {key} has no partition {p} (it has {n})"
                )))
            }
            (None, Some(k)) => brook_model::partitioner::partition_for_key(k, n),
            (None, None) => (i as u32) % n,
        };
        let record = Record {
            timestamp_ms: now,
            key: k,
            value: v,
            headers: r
                .headers
                .iter()
                .map(|(name, value)| Header {
                    name: Bytes::from(name.clone()),
                    value: Some(Bytes::from(value.clone())),
                })
                .collect(),
        };
        by_partition[partition as usize].push((i, record));
    }
    let mut out: Vec<Option<Produced>> = vec![None; req.records.len()];
    for (partition, records) in by_partition.into_iter().enumerate() {
        if records.is_empty() {
            continue;
        }
        let order: Vec<usize> = records.iter().map(|(i, _)| *i).collect();
        let appended = broker
            .append(
                &topic,
                partition as u32,
                records
                    .into_iter()
                    .map(|(_, r)| (IdSpec::Auto, r))
                    .collect(),
                Ack::Policy,
            )
            .await
            .map_err(produce_failure)?;
        for (j, i) in order.into_iter().enumerate() {
            out[i] = Some(Produced {
                partition: partition as u32,
                offset: appended.base_offset + j as u64,
                id: appended
                    .ids
                    .get(j)
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            });
        }
    }
    json(
        StatusCode::OK,
        &ProduceResult {
            records: out.into_iter().flatten().collect(),
        },
    )
}

fn produce_failure(e: ProduceError) -> Failure {
    match e {
        ProduceError::UnknownPartition { .. } => Failure::bad_request(e.to_string()),
        ProduceError::Append(brook_broker::AppendError::Encode(_)) => {
            Failure::bad_request(e.to_string())
        }
        _ => Failure::internal(e),
    }
}

/// Where a read starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum From {
    Beginning,
    End,
    Offset(u64),
    TimeMs(i64),
    Id(StreamId),
}

impl From {
    pub fn parse(s: &str) -> Result<From, Failure> {
        let bad = |why: String| {
            Failure::bad_request(format!(
                "from={s:?}: {why}; expected beginning, end, offset:N, time:<RFC 3339> or id:<ms>-<seq>"
            ))
        };
        match s {
            "beginning" | "earliest" => Ok(From::Beginning),
            "end" | "latest" => Ok(From::End),
            _ => match s.split_once(':') {
                Some(("offset", n)) => n
                    .parse()
                    .map(From::Offset)
                    .map_err(|_| bad(format!("{n:?} is not an offset"))),
                Some(("time", t)) => humantime::parse_rfc3339_weak(t)
                    .map_err(|e| bad(e.to_string()))
                    .and_then(|t| {
                        t.duration_since(std::time::UNIX_EPOCH)
                            .map(|d| From::TimeMs(d.as_millis() as i64))
                            .map_err(|_| bad("before 1970".into()))
                    }),
                Some(("id", id)) => id
                    .parse::<StreamId>()
                    .map(From::Id)
                    .map_err(|e| bad(e.to_string())),
                _ => Err(bad("unknown form".into())),
            },
        }
    }

    /// The offset of `p` this position names (clamped to what is readable).
    pub fn resolve(&self, p: &Partition) -> Result<u64, Failure> {
        let marks = p.marks();
        let offset = match self {
            From::Beginning => marks.log_start,
            From::End => marks.high_watermark,
            From::Offset(o) => *o,
            From::TimeMs(ms) => p
                .offset_for_timestamp(*ms)
                .map_err(Failure::internal)?
                .unwrap_or(marks.high_watermark),
            From::Id(id) => p.offset_for_stream_id(*id).map_err(Failure::internal)?,
        };
        Ok(offset.clamp(marks.log_start, marks.high_watermark))
    }
}

pub async fn consume(call: &Call<'_>) -> ApiResult {
    let topic = super::topics::find(call, 1)?;
    let from = From::parse(call.param("from").unwrap_or("beginning"))?;
    let count = call
        .number::<usize>("count")?
        .unwrap_or(100)
        .clamp(1, CONSUME_RECORDS_MAX);
    let wait_ms = call.number::<u64>("wait_ms")?.unwrap_or(0).min(WAIT_MS_MAX);
    let n = topic.partitions().len() as u32;
    let partitions: Vec<u32> = match call.number::<u32>("partition")? {
        Some(p) if p < n => vec![p],
        Some(p) => {
            return Err(Failure::bad_request(format!(
                "topic has no partition {p} (it has {n})"
            )))
        }
        None => (0..n).collect(),
    };
    let group = call.param("group");
    let kafka_name = names::kafka_name(&topic.key);
    let mut starts = Vec::with_capacity(partitions.len());
    for &i in &partitions {
        let p = topic
            .partition(i)
            .ok_or_else(|| Failure::internal("partition vanished"))?;
        let committed = match (group, &kafka_name) {
            (Some(g), Some(name)) => call
                .state
                .broker
                .committed_offset(g, name, i as i32)
                .and_then(|c| u64::try_from(c.offset).ok()),
            _ => None,
        };
        let start = match committed {
            Some(o) => From::Offset(o).resolve(p)?,
            None => from.resolve(p)?,
        };
        starts.push((i, p.clone(), start));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
    loop {
        let mut records = Vec::new();
        let mut next = Vec::with_capacity(starts.len());
        for (i, p, start) in &starts {
            let left = count.saturating_sub(records.len());
            let mut at = *start;
            if left > 0 {
                let read = match p.read_records(*start, left, READ_BYTES_MAX) {
                    Ok(r) => r,
                    Err(brook_broker::ReadError::OffsetOutOfRange { .. }) => Vec::new(),
                    Err(e) => return Err(Failure::internal(e)),
                };
                for r in read {
                    at = r.offset + 1;
                    records.push(record_out(*i, &r));
                }
            }
            next.push((*i, at));
        }
        let now = tokio::time::Instant::now();
        if !records.is_empty() || now >= deadline {
            return json(StatusCode::OK, &Records { records, next });
        }
        // Nothing yet: wait until a partition has a record past its start.
        let waits = starts.iter().map(|(_, p, start)| {
            let mut rx = p.subscribe();
            let start = *start;
            Box::pin(async move {
                let _ = rx.wait_for(|m| m.high_watermark > start).await;
            })
        });
        let _ = tokio::time::timeout_at(deadline, futures_util::future::select_all(waits)).await;
    }
}

/// Bytes as text when they are UTF-8, else base64.
fn text_or_base64(b: &Option<Bytes>) -> (Option<String>, Option<String>) {
    match b {
        None => (None, None),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => (Some(s.to_owned()), None),
            Err(_) => (None, Some(b64().encode(b))),
        },
    }
}

fn record_out(partition: u32, r: &StoredRecord) -> RecordOut {
    let (key, key_base64) = text_or_base64(&r.key);
    let (value, value_base64) = text_or_base64(&r.value);
    let fields = (r.format != fields::FORMAT_KAFKA)
        .then(|| fields::decode(r).ok())
        .flatten()
        .map(|fs| {
            fs.iter()
                .map(|(f, v)| (field_text(f), field_text(v)))
                .collect()
        });
    RecordOut {
        partition,
        offset: r.offset,
        id: r.stream_id.to_string(),
        timestamp_ms: r.timestamp_ms,
        key,
        key_base64,
        value,
        value_base64,
        headers: r
            .headers
            .iter()
            .map(|h| {
                (
                    text(&h.name),
                    h.value.as_deref().map(text).unwrap_or_default(),
                )
            })
            .collect(),
        fields,
    }
}

/// A field name or value: text, or `b64:` + base64 when it is not UTF-8.
fn field_text(b: &Bytes) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => format!("b64:{}", b64().encode(b)),
    }
}
