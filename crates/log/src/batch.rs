//! The on-disk entry: a Kafka RecordBatch v2 followed by Brook's stream-ID trailer.
//!
//! ```text
//! entry := kafka_batch | trailer_len: u32 BE | format: u8 | sid_block | frame_crc: u32 BE
//! ```
//! `trailer_len` counts `format` and `sid_block`. `format` is an opaque tag the log
//! stores for its caller (how the broker encoded the records' values); the log never
//! interprets it.
//! `kafka_batch` is byte-for-byte a Kafka RecordBatch (magic 2), so a Kafka Fetch can
//! send it without re-encoding. Kafka's own CRC32C covers `attributes..end`; the
//! `frame_crc` (CRC32C) covers what Kafka's does not — the first 21 bytes of the batch
//! (base offset, length, leader epoch, magic, crc) — plus the whole trailer up to
//! `frame_crc`. Together every byte of an entry is checksummed. Layout in docs/format.md.

use bytes::Bytes;

use brook_model::{
    Header, Record, StoredRecord, StreamId, BATCH_BYTES_MAX, BATCH_RECORDS_MAX, RECORD_HEADERS_MAX,
};

/// Bytes of a Kafka RecordBatch v2 header, up to and including the record count.
pub const KAFKA_HEADER_LEN: usize = 61;
/// Bytes of the batch header not covered by Kafka's CRC.
const UNCOVERED_PREFIX_LEN: usize = 21;
/// Offset of `attributes`, where Kafka's CRC coverage starts.
const CRC_START: usize = 21;
/// Offset of `maxTimestamp` in the batch header.
const MAX_TIMESTAMP_AT: usize = 35;
/// Largest stream-ID trailer: format byte, first ID, at most 20 bytes per further ID.
const TRAILER_LEN_MAX: usize = 1 + 16 + BATCH_RECORDS_MAX * 20;
/// Smallest trailer: format byte and one ID.
const TRAILER_LEN_MIN: usize = 1 + 16;
/// Largest entry the log writes or accepts when reading.
pub const ENTRY_LEN_MAX: usize = BATCH_BYTES_MAX + 1024 + 4 + TRAILER_LEN_MAX + 4;

const COMPRESSION_MASK: i16 = 0x07;

/// Why bytes on disk are not a valid entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorruptEntry {
    #[error("batch magic is {0}, expected 2")]
    Magic(i8),
    #[error("batch length {0} is out of range")]
    Length(i64),
    #[error("record count {0} is out of range")]
    Count(i64),
    #[error("Kafka CRC32C mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    KafkaCrc { stored: u32, computed: u32 },
    #[error("frame CRC32C mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    FrameCrc { stored: u32, computed: u32 },
    #[error("stream-ID block is malformed")]
    StreamIds,
    #[error("record {index} is malformed: {what}")]
    Record { index: usize, what: &'static str },
    #[error("batch is compressed (codec {0}); decompression is not supported by the log")]
    Compressed(i16),
}

/// What the log needs to know about an entry without decoding its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryMeta {
    pub base_offset: u64,
    pub record_count: u32,
    pub first_id: StreamId,
    pub last_id: StreamId,
    pub max_timestamp_ms: i64,
    /// Length of the Kafka batch part.
    pub kafka_len: usize,
    /// The caller's record-format tag, stored as is.
    pub format: u8,
    /// Length of the whole entry.
    pub entry_len: usize,
}

impl EntryMeta {
    /// One past the last offset in the entry.
    pub fn next_offset(&self) -> u64 {
        self.base_offset + u64::from(self.record_count)
    }
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[at..at + 2]);
    i16::from_be_bytes(a)
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    i32::from_be_bytes(a)
}
fn be_u32(b: &[u8], at: usize) -> u32 {
    be_i32(b, at) as u32
}
fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

// ---- varints -------------------------------------------------------------------------

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_uvarint(buf: &mut &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        if i == 9 && b > 1 {
            return None;
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn get_varlong(buf: &mut &[u8]) -> Option<i64> {
    let u = get_uvarint(buf)?;
    Some(((u >> 1) as i64) ^ -((u & 1) as i64))
}

fn get_varint(buf: &mut &[u8]) -> Option<i32> {
    i32::try_from(get_varlong(buf)?).ok()
}

// ---- encoding ------------------------------------------------------------------------

/// Why records cannot be encoded as one batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("an append must carry at least one record")]
    Empty,
    #[error("batch has {count} records; at most {max} are allowed")]
    TooManyRecords { count: usize, max: usize },
    #[error("record {index} has {count} headers; at most {max} are allowed")]
    TooManyHeaders {
        index: usize,
        count: usize,
        max: usize,
    },
    #[error("batch is at least {bytes} bytes; at most {max} are allowed")]
    TooLarge { bytes: usize, max: usize },
}

fn varlong_len(v: i64) -> usize {
    let u = ((v << 1) ^ (v >> 63)) as u64;
    // 7 bits per byte; at least one byte.
    (64 - (u | 1).leading_zeros()).div_ceil(7) as usize
}

/// Varints of one record, gathered on the stack and copied into the batch in one
/// piece: the encoder writes a run of varints between payloads with one copy
/// instead of a push (and a capacity check) per byte.
struct Varints {
    buf: [u8; Self::CAPACITY],
    len: usize,
}

impl Varints {
    /// Room for the longest run of varints the encoder writes between two payloads:
    /// body length, attributes, timestamp delta, offset delta, key length, value
    /// length (when key and value are null or empty), header count and the first
    /// header's name length. At most 10 bytes each, and most are far shorter: 53
    /// bytes at worst. `flush` empties it before each payload, and `byte` is
    /// bounds-checked (an overflow would panic, not corrupt).
    const CAPACITY: usize = 64;

    fn new() -> Self {
        Varints {
            buf: [0; Self::CAPACITY],
            len: 0,
        }
    }

    fn byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    fn varlong(&mut self, v: i64) {
        let mut u = ((v << 1) ^ (v >> 63)) as u64;
        while u >= 0x80 {
            self.byte((u as u8) | 0x80);
            u >>= 7;
        }
        self.byte(u as u8);
    }

    /// Writes a nullable byte string: its length (-1 for null) here, its bytes
    /// after what is gathered so far.
    fn nullable(&mut self, out: &mut Vec<u8>, v: Option<&Bytes>) {
        match v {
            None => self.varlong(-1),
            Some(b) => {
                self.varlong(b.len() as i64);
                if !b.is_empty() {
                    self.flush(out);
                    out.extend_from_slice(b);
                }
            }
        }
    }

    fn flush(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.buf[..self.len]);
        self.len = 0;
    }
}

fn nullable_len(v: Option<&Bytes>) -> usize {
    match v {
        None => 1,
        Some(b) => varlong_len(b.len() as i64) + b.len(),
    }
}

/// Encodes records as an uncompressed Kafka RecordBatch v2 with base offset 0 (patched
/// when the offset is assigned) into `out` (cleared first; pass a reused buffer to
/// avoid an allocation per append). The timestamp of the batch is that of the first
/// record; `maxTimestamp` is the largest.
pub fn encode_batch<'a, I>(records: I, out: &mut Vec<u8>) -> Result<(), EncodeError>
where
    I: IntoIterator<Item = &'a Record>,
    I::IntoIter: Clone + ExactSizeIterator,
{
    let records = records.into_iter();
    let count = records.len();
    let first = records.clone().next().ok_or(EncodeError::Empty)?;
    if count > BATCH_RECORDS_MAX {
        return Err(EncodeError::TooManyRecords {
            count,
            max: BATCH_RECORDS_MAX,
        });
    }
    let base_ts = first.timestamp_ms;
    out.clear();
    // One pass: each record's size is checked before it is written (so an oversized
    // batch is refused before the record that would pass the limit is copied) and
    // the largest timestamp is patched in at the end.
    out.reserve(KAFKA_HEADER_LEN + count * 32);
    out.extend_from_slice(&0i64.to_be_bytes()); // baseOffset
    out.extend_from_slice(&0i32.to_be_bytes()); // batchLength, patched below
    out.extend_from_slice(&0i32.to_be_bytes()); // partitionLeaderEpoch
    out.push(2); // magic
    out.extend_from_slice(&0u32.to_be_bytes()); // crc, patched below
    out.extend_from_slice(&0i16.to_be_bytes()); // attributes: no compression, CreateTime
    out.extend_from_slice(&((count - 1) as i32).to_be_bytes()); // lastOffsetDelta
    out.extend_from_slice(&base_ts.to_be_bytes());
    out.extend_from_slice(&base_ts.to_be_bytes()); // maxTimestamp, patched below
    out.extend_from_slice(&(-1i64).to_be_bytes()); // producerId
    out.extend_from_slice(&(-1i16).to_be_bytes()); // producerEpoch
    out.extend_from_slice(&(-1i32).to_be_bytes()); // baseSequence
    out.extend_from_slice(&(count as i32).to_be_bytes());
    let mut max_ts = base_ts;
    for (index, r) in records.enumerate() {
        if r.headers.len() > RECORD_HEADERS_MAX {
            return Err(EncodeError::TooManyHeaders {
                index,
                count: r.headers.len(),
                max: RECORD_HEADERS_MAX,
            });
        }
        let ts_delta = r.timestamp_ms.wrapping_sub(base_ts);
        // The body length is computed up front so the record is written in one pass.
        let mut body_len = 1
            + varlong_len(ts_delta)
            + varlong_len(index as i64)
            + nullable_len(r.key.as_ref())
            + nullable_len(r.value.as_ref())
            + varlong_len(r.headers.len() as i64);
        for h in &r.headers {
            body_len +=
                varlong_len(h.name.len() as i64) + h.name.len() + nullable_len(h.value.as_ref());
        }
        // Refused before anything of the record is copied: a record can be as large
        // as the protocol front ends accept (hundreds of MiB).
        let record_len = varlong_len(body_len as i64) + body_len;
        let total = out.len().saturating_add(record_len);
        if total > BATCH_BYTES_MAX {
            return Err(EncodeError::TooLarge {
                bytes: total,
                max: BATCH_BYTES_MAX,
            });
        }
        out.reserve(record_len);
        let mut v = Varints::new();
        v.varlong(body_len as i64);
        let body_start = out.len() + v.len;
        v.byte(0); // record attributes
        v.varlong(ts_delta);
        v.varlong(index as i64);
        v.nullable(out, r.key.as_ref());
        v.nullable(out, r.value.as_ref());
        v.varlong(r.headers.len() as i64);
        for h in &r.headers {
            v.varlong(h.name.len() as i64);
            v.flush(out);
            out.extend_from_slice(&h.name);
            v.nullable(out, h.value.as_ref());
        }
        v.flush(out);
        debug_assert_eq!(out.len() - body_start, body_len);
        max_ts = max_ts.max(r.timestamp_ms);
    }
    out[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&max_ts.to_be_bytes());
    // Room for the stream-ID trailer, so that sealing does not reallocate.
    out.reserve(32 + count * 4);
    let batch_len = (out.len() - 12) as i32;
    out[8..12].copy_from_slice(&batch_len.to_be_bytes());
    let crc = crc32c::crc32c(&out[CRC_START..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// Completes an encoded batch into an entry: sets the base offset and appends the
/// trailer (format tag, stream IDs) and the frame CRC. `ids` has one ID per record,
/// strictly increasing, at least one. Returns the entry's metadata.
pub fn seal_entry(
    batch: &mut Vec<u8>,
    base_offset: u64,
    ids: &[StreamId],
    format: u8,
) -> EntryMeta {
    let kafka_len = batch.len();
    let meta = seal_entry_split(batch, kafka_len, base_offset, ids, format);
    debug_assert_eq!(check_entry(batch), Ok(Some(meta)));
    meta
}

/// [`seal_entry`] for a batch held in two pieces: `head` (at least the
/// [`KAFKA_HEADER_LEN`]-byte header) and a body of `kafka_len - head.len()` bytes
/// kept elsewhere, so a large batch is written as received instead of copied. The
/// trailer is appended to `head`: the entry is `head[..head_len]`, the body, then
/// `head[head_len..]` (`head_len` being `head.len()` on entry).
pub fn seal_entry_split(
    head: &mut Vec<u8>,
    kafka_len: usize,
    base_offset: u64,
    ids: &[StreamId],
    format: u8,
) -> EntryMeta {
    debug_assert!(ids.windows(2).all(|w| w[0] < w[1]));
    debug_assert!(head.len() >= KAFKA_HEADER_LEN && head.len() <= kafka_len);
    head[0..8].copy_from_slice(&base_offset.to_be_bytes());
    let mut crc = crc32c::crc32c(&head[..UNCOVERED_PREFIX_LEN]);
    let max_timestamp_ms = be_i64(head, MAX_TIMESTAMP_AT);
    let trailer_start = head.len();
    head.extend_from_slice(&0u32.to_be_bytes()); // trailer_len, patched below
    let sid_start = head.len();
    head.push(format);
    if let Some(first) = ids.first() {
        head.extend_from_slice(&first.to_be_bytes());
    }
    for w in ids.windows(2) {
        let (prev, id) = (w[0], w[1]);
        let ms_delta = id.ms - prev.ms;
        put_uvarint(head, ms_delta);
        if ms_delta > 0 {
            put_uvarint(head, id.seq);
        } else {
            put_uvarint(head, id.seq - prev.seq - 1);
        }
    }
    let trailer_len = (head.len() - sid_start) as u32;
    head[trailer_start..trailer_start + 4].copy_from_slice(&trailer_len.to_be_bytes());
    crc = crc32c::crc32c_append(crc, &head[trailer_start..]);
    head.extend_from_slice(&crc.to_be_bytes());
    EntryMeta {
        base_offset,
        record_count: ids.len() as u32,
        first_id: ids.first().copied().unwrap_or_default(),
        last_id: ids.last().copied().unwrap_or_default(),
        max_timestamp_ms,
        kafka_len,
        format,
        entry_len: kafka_len + (head.len() - trailer_start),
    }
}

// ---- decoding ------------------------------------------------------------------------

/// Checks the fixed header of an entry (the first [`KAFKA_HEADER_LEN`] bytes) and
/// returns the Kafka batch length.
pub fn kafka_len_from_header(header: &[u8]) -> Result<usize, CorruptEntry> {
    debug_assert!(header.len() >= KAFKA_HEADER_LEN);
    let magic = header[16] as i8;
    if magic != 2 {
        return Err(CorruptEntry::Magic(magic));
    }
    let batch_length = i64::from(be_i32(header, 8));
    let kafka_len = batch_length + 12;
    if kafka_len < KAFKA_HEADER_LEN as i64 || kafka_len > (BATCH_BYTES_MAX as i64) + 1024 {
        return Err(CorruptEntry::Length(batch_length));
    }
    let last_delta = i64::from(be_i32(header, 23));
    if !(0..BATCH_RECORDS_MAX as i64).contains(&last_delta) {
        return Err(CorruptEntry::Count(last_delta + 1));
    }
    Ok(kafka_len as usize)
}

/// Given at least the Kafka batch plus the 4-byte `trailer_len`, the total entry
/// length.
pub fn entry_len(buf: &[u8], kafka_len: usize) -> Result<usize, CorruptEntry> {
    entry_len_from_trailer_len(&buf[kafka_len..kafka_len + 4], kafka_len)
}

/// [`entry_len`] from the 4-byte `trailer_len` field alone.
pub fn entry_len_from_trailer_len(
    trailer_len: &[u8],
    kafka_len: usize,
) -> Result<usize, CorruptEntry> {
    let trailer_len = be_u32(trailer_len, 0) as usize;
    if !(TRAILER_LEN_MIN..=TRAILER_LEN_MAX).contains(&trailer_len) {
        return Err(CorruptEntry::StreamIds);
    }
    Ok(kafka_len + 4 + trailer_len + 4)
}

/// Parses and checks a complete entry at the start of `buf`. Returns `Ok(None)` if
/// `buf` holds only part of it.
pub fn check_entry(buf: &[u8]) -> Result<Option<EntryMeta>, CorruptEntry> {
    if buf.len() < KAFKA_HEADER_LEN {
        return Ok(None);
    }
    let kafka_len = kafka_len_from_header(buf)?;
    if buf.len() < kafka_len + 4 {
        return Ok(None);
    }
    let entry_len = entry_len(buf, kafka_len)?;
    if buf.len() < entry_len {
        return Ok(None);
    }
    let stored = be_u32(buf, 17);
    let computed = crc32c::crc32c(&buf[CRC_START..kafka_len]);
    if stored != computed {
        return Err(CorruptEntry::KafkaCrc { stored, computed });
    }
    let stored = be_u32(buf, entry_len - 4);
    let mut computed = crc32c::crc32c(&buf[..UNCOVERED_PREFIX_LEN]);
    computed = crc32c::crc32c_append(computed, &buf[kafka_len..entry_len - 4]);
    if stored != computed {
        return Err(CorruptEntry::FrameCrc { stored, computed });
    }
    let record_count = (be_i32(buf, 23) as u32) + 1;
    let format = buf[kafka_len + 4];
    let ids = decode_ids(&buf[kafka_len + 5..entry_len - 4], record_count)?;
    let (first_id, last_id) = match (ids.first(), ids.last()) {
        (Some(f), Some(l)) => (*f, *l),
        _ => return Err(CorruptEntry::StreamIds),
    };
    Ok(Some(EntryMeta {
        base_offset: be_i64(buf, 0) as u64,
        record_count,
        first_id,
        last_id,
        max_timestamp_ms: be_i64(buf, MAX_TIMESTAMP_AT),
        kafka_len,
        format,
        entry_len,
    }))
}

/// Checks a Kafka RecordBatch v2 handed to the log already encoded (a Kafka
/// producer's batch): exact length, magic, CRC32C, no compression, a record count
/// that matches `lastOffsetDelta`, and record framing that covers the records section
/// exactly. Returns the record count. (Record contents are not decoded: a malformed
/// record body is reported when a reader decodes it, never served as data.)
pub fn check_kafka_batch(b: &[u8]) -> Result<u32, CorruptEntry> {
    if b.len() < KAFKA_HEADER_LEN {
        return Err(CorruptEntry::Length(b.len() as i64));
    }
    let kafka_len = kafka_len_from_header(b)?;
    if kafka_len != b.len() || kafka_len > BATCH_BYTES_MAX + 1024 {
        return Err(CorruptEntry::Length(b.len() as i64));
    }
    let stored = be_u32(b, 17);
    let computed = crc32c::crc32c(&b[CRC_START..]);
    if stored != computed {
        return Err(CorruptEntry::KafkaCrc { stored, computed });
    }
    let attributes = be_i16(b, 21);
    if attributes & COMPRESSION_MASK != 0 {
        return Err(CorruptEntry::Compressed(attributes & COMPRESSION_MASK));
    }
    let count = be_i32(b, 57);
    let last_delta = be_i32(b, 23);
    if count < 1
        || i64::from(count) != i64::from(last_delta) + 1
        || count as usize > BATCH_RECORDS_MAX
    {
        return Err(CorruptEntry::Count(i64::from(count)));
    }
    let mut cursor = &b[KAFKA_HEADER_LEN..];
    for index in 0..count as usize {
        let bad = CorruptEntry::Record {
            index,
            what: "length",
        };
        let len = get_varint(&mut cursor).ok_or(bad.clone())?;
        let len = usize::try_from(len).map_err(|_| bad.clone())?;
        if len == 0 || len > cursor.len() {
            return Err(bad);
        }
        cursor = &cursor[len..];
    }
    if !cursor.is_empty() {
        return Err(CorruptEntry::Record {
            index: count as usize,
            what: "trailing bytes after last record",
        });
    }
    Ok(count as u32)
}

/// Decodes the stream-ID block of an entry holding `count` records.
pub fn decode_ids(mut block: &[u8], count: u32) -> Result<Vec<StreamId>, CorruptEntry> {
    if block.len() < 16 {
        return Err(CorruptEntry::StreamIds);
    }
    let mut first = [0u8; 16];
    first.copy_from_slice(&block[..16]);
    block = &block[16..];
    let mut prev = StreamId::from_be_bytes(first);
    let mut ids = Vec::with_capacity(count as usize);
    ids.push(prev);
    for _ in 1..count {
        let ms_delta = get_uvarint(&mut block).ok_or(CorruptEntry::StreamIds)?;
        let n = get_uvarint(&mut block).ok_or(CorruptEntry::StreamIds)?;
        let id = if ms_delta > 0 {
            StreamId::new(
                prev.ms
                    .checked_add(ms_delta)
                    .ok_or(CorruptEntry::StreamIds)?,
                n,
            )
        } else {
            let seq = prev
                .seq
                .checked_add(n)
                .and_then(|s| s.checked_add(1))
                .ok_or(CorruptEntry::StreamIds)?;
            StreamId::new(prev.ms, seq)
        };
        ids.push(id);
        prev = id;
    }
    if !block.is_empty() {
        return Err(CorruptEntry::StreamIds);
    }
    Ok(ids)
}

/// A checked entry held in memory, as returned by reads.
#[derive(Debug, Clone)]
pub struct Entry {
    pub meta: EntryMeta,
    /// The whole entry (Kafka batch and trailer).
    pub bytes: Bytes,
}

impl Entry {
    /// The Kafka RecordBatch bytes, ready to be sent in a Fetch response.
    pub fn kafka_batch(&self) -> Bytes {
        self.bytes.slice(..self.meta.kafka_len)
    }

    /// The Kafka batch without the records at `deleted` offsets (Redis `XDEL`), as log
    /// compaction leaves a batch: the kept records byte for byte (each keeps its offset
    /// delta), the same base offset and `lastOffsetDelta` (so consumers move past the
    /// gap, even when no record is left), a new record count, length and CRC.
    pub fn kafka_batch_without(&self, deleted: &[u64]) -> Result<Bytes, CorruptEntry> {
        let b = self.kafka_batch();
        if deleted.is_empty() {
            return Ok(b);
        }
        let attributes = be_i16(&b, 21);
        if attributes & COMPRESSION_MASK != 0 {
            return Err(CorruptEntry::Compressed(attributes & COMPRESSION_MASK));
        }
        let base = self.meta.base_offset;
        let mut out = Vec::with_capacity(b.len());
        out.extend_from_slice(&b[..KAFKA_HEADER_LEN]);
        let mut kept = 0i32;
        let mut cursor: &[u8] = &b[KAFKA_HEADER_LEN..];
        for index in 0..self.meta.record_count as usize {
            let bad = |what| CorruptEntry::Record { index, what };
            let start = cursor;
            let len = get_varint(&mut cursor).ok_or(bad("length"))?;
            let len = usize::try_from(len).map_err(|_| bad("length"))?;
            let header_len = start.len() - cursor.len();
            let mut body = cursor.get(..len).ok_or(bad("length"))?;
            cursor = &cursor[len..];
            body = body.get(1..).ok_or(bad("attributes"))?;
            get_varlong(&mut body).ok_or(bad("timestamp"))?;
            let delta = get_varint(&mut body).ok_or(bad("offset delta"))?;
            let offset = base + u64::try_from(delta).map_err(|_| bad("offset delta"))?;
            if deleted.binary_search(&offset).is_err() {
                out.extend_from_slice(&start[..header_len + len]);
                kept += 1;
            }
        }
        out[57..61].copy_from_slice(&kept.to_be_bytes());
        let batch_len = (out.len() - 12) as i32;
        out[8..12].copy_from_slice(&batch_len.to_be_bytes());
        let crc = crc32c::crc32c(&out[CRC_START..]);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
        Ok(Bytes::from(out))
    }

    /// The stream IDs of the entry's records, without decoding the records.
    pub fn stream_ids(&self) -> Result<Vec<StreamId>, CorruptEntry> {
        let m = self.meta;
        decode_ids(
            &self.bytes[m.kafka_len + 5..m.entry_len - 4],
            m.record_count,
        )
    }

    /// Decodes every record of the entry.
    pub fn records(&self) -> Result<Vec<StoredRecord>, CorruptEntry> {
        let b = &self.bytes;
        let attributes = be_i16(b, 21);
        if attributes & COMPRESSION_MASK != 0 {
            return Err(CorruptEntry::Compressed(attributes & COMPRESSION_MASK));
        }
        let meta = self.meta;
        let ids = decode_ids(
            &b[meta.kafka_len + 5..meta.entry_len - 4],
            meta.record_count,
        )?;
        let base_ts = be_i64(b, 27);
        let count = be_i32(b, 57);
        if count < 0 || count as u32 != meta.record_count {
            return Err(CorruptEntry::Count(i64::from(count)));
        }
        let records_bytes = b.slice(KAFKA_HEADER_LEN..meta.kafka_len);
        let mut out = Vec::with_capacity(ids.len());
        let mut cursor: &[u8] = &records_bytes;
        for (index, id) in ids.into_iter().enumerate() {
            let bad = |what| CorruptEntry::Record { index, what };
            let len = get_varint(&mut cursor).ok_or(bad("length"))?;
            let len = usize::try_from(len).map_err(|_| bad("length"))?;
            if len > cursor.len() {
                return Err(bad("length"));
            }
            let start = records_bytes.len() - cursor.len();
            let mut rec: &[u8] = &cursor[..len];
            cursor = &cursor[len..];
            let field = |rec: &&[u8]| start + len - rec.len();
            rec = rec.split_first().ok_or(bad("attributes"))?.1;
            let ts_delta = get_varlong(&mut rec).ok_or(bad("timestamp"))?;
            let offset_delta = get_varint(&mut rec).ok_or(bad("offset delta"))?;
            if offset_delta as usize != index {
                return Err(bad("offset delta"));
            }
            let nullable = |rec: &mut &[u8]| -> Result<Option<Bytes>, CorruptEntry> {
                let n = get_varint(rec).ok_or(bad("length"))?;
                if n < 0 {
                    return Ok(None);
                }
                let n = n as usize;
                if n > rec.len() {
                    return Err(bad("length"));
                }
                let at = field(rec);
                *rec = &rec[n..];
                Ok(Some(records_bytes.slice(at..at + n)))
            };
            let key = nullable(&mut rec)?;
            let value = nullable(&mut rec)?;
            let header_count = get_varint(&mut rec).ok_or(bad("header count"))?;
            if header_count < 0 || header_count as usize > RECORD_HEADERS_MAX {
                return Err(bad("header count"));
            }
            let mut headers = Vec::with_capacity(header_count as usize);
            for _ in 0..header_count {
                let name = nullable(&mut rec)?.ok_or(bad("header name"))?;
                let value = nullable(&mut rec)?;
                headers.push(Header { name, value });
            }
            if !rec.is_empty() {
                return Err(bad("trailing bytes"));
            }
            out.push(StoredRecord {
                offset: meta.base_offset + index as u64,
                stream_id: id,
                format: meta.format,
                timestamp_ms: base_ts.wrapping_add(ts_delta),
                key,
                value,
                headers,
            });
        }
        if !cursor.is_empty() {
            return Err(CorruptEntry::Record {
                index: out.len(),
                what: "trailing bytes after last record",
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Kafka's RecordBatch v2 as the protocol guide writes it, record by record into
    /// its own buffer (no precomputed lengths): what `encode_batch` must produce.
    fn reference_encode(records: &[Record]) -> Vec<u8> {
        fn varlong(out: &mut Vec<u8>, v: i64) {
            let mut u = ((v << 1) ^ (v >> 63)) as u64;
            while u >= 0x80 {
                out.push((u as u8) | 0x80);
                u >>= 7;
            }
            out.push(u as u8);
        }
        fn nullable(out: &mut Vec<u8>, v: &Option<Bytes>) {
            match v {
                None => varlong(out, -1),
                Some(b) => {
                    varlong(out, b.len() as i64);
                    out.extend_from_slice(b);
                }
            }
        }
        let base_ts = records[0].timestamp_ms;
        let max_ts = records
            .iter()
            .map(|r| r.timestamp_ms)
            .max()
            .unwrap_or(base_ts);
        let mut out = Vec::new();
        out.extend_from_slice(&0i64.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        out.push(2);
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&0i16.to_be_bytes());
        out.extend_from_slice(&(records.len() as i32 - 1).to_be_bytes());
        out.extend_from_slice(&base_ts.to_be_bytes());
        out.extend_from_slice(&max_ts.to_be_bytes());
        out.extend_from_slice(&(-1i64).to_be_bytes());
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out.extend_from_slice(&(-1i32).to_be_bytes());
        out.extend_from_slice(&(records.len() as i32).to_be_bytes());
        for (i, r) in records.iter().enumerate() {
            let mut body = vec![0u8];
            varlong(&mut body, r.timestamp_ms.wrapping_sub(base_ts));
            varlong(&mut body, i as i64);
            nullable(&mut body, &r.key);
            nullable(&mut body, &r.value);
            varlong(&mut body, r.headers.len() as i64);
            for h in &r.headers {
                varlong(&mut body, h.name.len() as i64);
                body.extend_from_slice(&h.name);
                nullable(&mut body, &h.value);
            }
            varlong(&mut out, body.len() as i64);
            out.extend_from_slice(&body);
        }
        let len = (out.len() - 12) as i32;
        out[8..12].copy_from_slice(&len.to_be_bytes());
        let crc = crc32c::crc32c(&out[21..]);
        out[17..21].copy_from_slice(&crc.to_be_bytes());
        out
    }

    fn bytes_opt() -> impl Strategy<Value = Option<Bytes>> {
        prop_oneof![
            Just(None),
            Just(Some(Bytes::new())),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(|v| Some(Bytes::from(v))),
        ]
    }

    fn record() -> impl Strategy<Value = Record> {
        let header = (proptest::collection::vec(any::<u8>(), 0..20), bytes_opt()).prop_map(
            |(name, value)| Header {
                name: Bytes::from(name),
                value,
            },
        );
        (
            prop_oneof![any::<i64>(), 1_700_000_000_000i64..1_700_000_100_000],
            bytes_opt(),
            bytes_opt(),
            proptest::collection::vec(header, 0..4),
        )
            .prop_map(|(timestamp_ms, key, value, headers)| Record {
                timestamp_ms,
                key,
                value,
                headers,
            })
    }

    proptest! {
        #[test]
        fn encoder_matches_the_reference(records in proptest::collection::vec(record(), 1..40)) {
            let mut out = Vec::new();
            encode_batch(records.iter(), &mut out).unwrap();
            prop_assert_eq!(out, reference_encode(&records));
        }
    }

    #[test]
    fn an_oversized_record_is_refused_with_nothing_of_it_copied() {
        let small = Record {
            value: Some(Bytes::from_static(b"v")),
            ..Record::default()
        };
        let huge = Record {
            value: Some(Bytes::from(vec![0u8; BATCH_BYTES_MAX])),
            ..Record::default()
        };
        let mut out = Vec::new();
        let err = encode_batch([&small, &huge], &mut out).unwrap_err();
        assert!(matches!(err, EncodeError::TooLarge { bytes, .. } if bytes > BATCH_BYTES_MAX));
        // The header and the first record only: the huge value was not copied.
        assert!(
            out.len() < KAFKA_HEADER_LEN + 64,
            "{} bytes buffered",
            out.len()
        );
    }
}
