//! Reading stream entries by ID range, forwards and backwards, as Redis replies.

use std::sync::Arc;

use tokio::sync::Semaphore;

use bytes::Bytes;

use brook_broker::fields;
use brook_broker::{Partition, ReadError};
use brook_model::{StoredRecord, StreamId};
use brook_resp_proto::Frame;

use crate::cmd::{bulk, err};

/// Largest reply (approximate bytes of entries) one read may build; past it the
/// command fails and the client is told to use COUNT. Redis would buffer any size.
pub const REPLY_BYTES_MAX: usize = 256 * 1024 * 1024;
/// Reads of entries not in the page cache running on blocking threads at once,
/// server-wide; more wait for a turn (without holding up a runtime worker).
pub const COLD_READS_MAX: usize = 4;
/// Entries an XREADGROUP's warm-up reads at most (one without COUNT may ask for a
/// whole backlog; the rest is read where the delivery runs).
pub const WARM_ENTRIES_MAX: usize = 10_000;
/// Records decoded per read call.
const CHUNK_RECORDS: usize = 512;
const CHUNK_BYTES: usize = 4 * 1024 * 1024;

pub fn read_error(e: ReadError) -> Frame {
    err(format!("stream read failed: {e}"))
}

fn too_large() -> Frame {
    err("reply would exceed 256 MiB; use COUNT to read the range in parts")
}

/// Why a range read stopped short.
enum RangeError {
    Read(ReadError),
    TooLarge,
}

impl From<ReadError> for RangeError {
    fn from(e: ReadError) -> Self {
        RangeError::Read(e)
    }
}

/// The reply for a range read. One that failed because the stream was deleted under
/// it (DEL, UNLINK or FLUSHDB on another connection: the partition is closed, then
/// its files are cut) reads as the deleted stream, empty, as if the command had run
/// just after the delete; Redis, running one command at a time, shows nothing else.
fn range_reply(
    p: &Partition,
    read: Result<Vec<StoredRecord>, RangeError>,
) -> Result<Vec<StoredRecord>, Frame> {
    match read {
        Ok(out) => Ok(out),
        Err(RangeError::Read(_)) if p.marks().closed => Ok(Vec::new()),
        Err(RangeError::Read(e)) => Err(read_error(e)),
        Err(RangeError::TooLarge) => Err(too_large()),
    }
}

fn size(r: &StoredRecord) -> usize {
    64 + r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len())
}

/// Live entries with `start <= id <= end`, oldest first, at most `count`.
pub fn range(
    p: &Partition,
    start: StreamId,
    end: StreamId,
    count: usize,
) -> Result<Vec<StoredRecord>, Frame> {
    range_reply(p, read_range(p, start, end, count))
}

fn read_range(
    p: &Partition,
    start: StreamId,
    end: StreamId,
    count: usize,
) -> Result<Vec<StoredRecord>, RangeError> {
    let mut out = Vec::new();
    if start > end || count == 0 {
        return Ok(out);
    }
    let mut from = p.offset_for_stream_id(start)?;
    let mut bytes = 0usize;
    loop {
        let want = (count - out.len()).min(CHUNK_RECORDS);
        let recs = p.read_records(from, want, CHUNK_BYTES)?;
        let Some(last) = recs.last() else { break };
        from = last.offset + 1;
        for r in recs {
            if r.stream_id > end {
                return Ok(out);
            }
            if r.stream_id >= start {
                bytes += size(&r);
                if bytes > REPLY_BYTES_MAX {
                    return Err(RangeError::TooLarge);
                }
                out.push(r);
                if out.len() >= count {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// Live entries with `start <= id <= end`, newest first, at most `count`.
pub fn range_rev(
    p: &Partition,
    end: StreamId,
    start: StreamId,
    count: usize,
) -> Result<Vec<StoredRecord>, Frame> {
    range_reply(p, read_range_rev(p, end, start, count))
}

fn read_range_rev(
    p: &Partition,
    end: StreamId,
    start: StreamId,
    count: usize,
) -> Result<Vec<StoredRecord>, RangeError> {
    let mut out = Vec::new();
    if start > end || count == 0 {
        return Ok(out);
    }
    // From the beginning: no lookup (it would read the head of the log).
    let lo = if start == StreamId::ZERO {
        p.marks().log_start
    } else {
        p.offset_for_stream_id(start)?
    };
    let mut upper = match end.successor() {
        Some(next) => p.offset_for_stream_id(next)?,
        None => p.marks().high_watermark,
    };
    let mut step: u64 = 64;
    let mut bytes = 0usize;
    while upper > lo && out.len() < count {
        let from = upper.saturating_sub(step).max(lo);
        let recs = p.read_records(from, (upper - from) as usize, usize::MAX)?;
        for r in recs.into_iter().rev() {
            if r.offset >= upper || r.stream_id > end || r.stream_id < start {
                continue;
            }
            bytes += size(&r);
            if bytes > REPLY_BYTES_MAX {
                return Err(RangeError::TooLarge);
            }
            out.push(r);
            if out.len() >= count {
                break;
            }
        }
        upper = from;
        step = (step * 2).min(8192);
    }
    Ok(out)
}

/// Which way [`range_off_worker`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forwards,
    Backwards,
}

/// [`range`] or [`range_rev`], run inline when the entries it reads from are
/// probably in the page cache and on a blocking thread when not (one of
/// `cold_reads`' permits, waited for asynchronously): a client reading old history
/// from the device (XRANGE of last month) must not hold up the other connections
/// this runtime worker serves. Kafka fetches do the same.
pub async fn range_off_worker(
    p: &Arc<Partition>,
    start: StreamId,
    end: StreamId,
    count: usize,
    direction: Direction,
    cold_reads: &Arc<Semaphore>,
) -> Result<Vec<StoredRecord>, Frame> {
    let cached = match direction {
        Direction::Forwards => p.stream_id_probably_cached(start),
        // Backwards: from the newest entry or from `end`; and the lookup of `start`
        // reads where it is (unless it is the beginning).
        Direction::Backwards => {
            let at_end = if end == StreamId::MAX {
                p.read_probably_cached(p.marks().high_watermark.saturating_sub(1))
            } else {
                p.stream_id_probably_cached(end)
            };
            at_end && (start == StreamId::ZERO || p.stream_id_probably_cached(start))
        }
    };
    let read = {
        let p = Arc::clone(p);
        move || match direction {
            Direction::Forwards => range(&p, start, end, count),
            Direction::Backwards => range_rev(&p, end, start, count),
        }
    };
    if cached {
        return read();
    }
    tracing::debug!(
        ?direction,
        "stream read of entries not in the page cache, on a blocking thread"
    );
    let Ok(permit) = Arc::clone(cold_reads).acquire_owned().await else {
        // Closed: never, the server owns it; read here rather than fail.
        return read();
    };
    match tokio::task::spawn_blocking(move || {
        let result = read();
        drop(permit);
        result
    })
    .await
    {
        Ok(result) => result,
        Err(error) => {
            tracing::warn!(%error, "stream read task failed");
            Err(err("stream read failed: the read task did not finish"))
        }
    }
}

/// Before a read that must run where it is (XREADGROUP reads under its group's
/// lock): when the entries from `start` on are probably not in the page cache,
/// reads (at most [`WARM_ENTRIES_MAX`] of) those up to `end` once on a blocking
/// thread, so the read under the lock finds them there instead of holding up the
/// runtime worker while the device answers.
pub async fn warm_off_worker(
    p: &Arc<Partition>,
    start: StreamId,
    end: StreamId,
    count: usize,
    cold_reads: &Arc<Semaphore>,
) {
    if count == 0 || p.stream_id_probably_cached(start) {
        return;
    }
    tracing::debug!(
        "stream read of entries not in the page cache, on a blocking thread (XREADGROUP: \
         warming the pages it will read)"
    );
    let Ok(permit) = Arc::clone(cold_reads).acquire_owned().await else {
        return;
    };
    let p = Arc::clone(p);
    let count = count.min(WARM_ENTRIES_MAX);
    // What it read is dropped; a failure is met again, and reported, by the read.
    let _ = tokio::task::spawn_blocking(move || {
        let _ = range(&p, start, end, count);
        drop(permit);
    })
    .await;
}

/// The newest live entry.
pub fn last_entry(p: &Partition) -> Result<Option<StoredRecord>, Frame> {
    Ok(range_rev(p, StreamId::MAX, StreamId::ZERO, 1)?.pop())
}

/// The oldest live entry.
pub fn first_entry(p: &Partition) -> Result<Option<StoredRecord>, Frame> {
    Ok(range(p, StreamId::ZERO, StreamId::MAX, 1)?.pop())
}

/// `[id, [field, value, ...]]`.
pub fn entry_frame(r: &StoredRecord) -> Frame {
    let fields = match fields::decode(r) {
        Ok(f) => f,
        Err(e) => return err(e),
    };
    let mut flat = Vec::with_capacity(fields.len() * 2);
    for (f, v) in fields {
        flat.push(bulk(f));
        flat.push(bulk(v));
    }
    Frame::Array(vec![id_frame(r.stream_id), Frame::Array(flat)])
}

pub fn entries_frame(records: &[StoredRecord]) -> Frame {
    Frame::Array(records.iter().map(entry_frame).collect())
}

pub fn id_frame(id: StreamId) -> Frame {
    // Hot (every XADD reply, every entry read): format without `fmt`.
    fn put(mut n: u64, buf: &mut [u8; 41], at: &mut usize) {
        loop {
            *at -= 1;
            buf[*at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
    }
    let mut buf = [0u8; 41];
    let mut at = buf.len();
    put(id.seq, &mut buf, &mut at);
    at -= 1;
    buf[at] = b'-';
    put(id.ms, &mut buf, &mut at);
    bulk(Bytes::copy_from_slice(&buf[at..]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use brook_broker::{Broker, BrokerConfig, TopicKey, TopicSettings};
    use brook_model::{IdSpec, Record};

    #[tokio::test]
    async fn a_range_read_of_a_stream_deleted_under_it_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let broker = Broker::open(BrokerConfig::new(dir.path())).unwrap();
        let key = TopicKey::new(0, &b"s"[..]);
        let topic = broker
            .create_topic(key.clone(), TopicSettings::default())
            .await
            .unwrap();
        let record = Record {
            timestamp_ms: 1,
            key: None,
            value: Some(Bytes::from_static(b"v")),
            headers: Vec::new(),
        };
        let (p, appended, _) = broker
            .append_deferred(&topic, 0, vec![(IdSpec::Auto, record)], 0)
            .unwrap();
        p.wait_durable(appended.next_offset).await.unwrap();
        let all = |p: &Partition| range(p, StreamId::ZERO, StreamId::MAX, 10);
        assert_eq!(all(&p).unwrap().len(), 1);
        assert_eq!(
            range_rev(&p, StreamId::MAX, StreamId::ZERO, 10)
                .unwrap()
                .len(),
            1
        );
        broker.delete_topic(&key).await.unwrap();
        // The remover has cut the files; `p` is still held, as by a command that
        // looked the key up just before another connection's DEL.
        broker.wait_for_removals();
        assert!(all(&p).unwrap().is_empty());
        assert!(range_rev(&p, StreamId::MAX, StreamId::ZERO, 10)
            .unwrap()
            .is_empty());
    }
}
