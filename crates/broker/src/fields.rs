//! How a Redis stream entry (an ordered list of field/value pairs) is stored as a log
//! record, and how any record is shown to Redis readers. Kafka readers always see the
//! stored key, value and headers as they are. The mapping (also in docs/mapping.md):
//!
//! | written by | fields | stored as (key, value, headers) | format tag |
//! |---|---|---|---|
//! | Redis | exactly `key K value V`, in that order | (K, V, none) | 1 |
//! | Redis | all UTF-8, no duplicate field names | (null, JSON object `{"f":"v",...}` in order, none) | 2 |
//! | Redis | anything else | (null, binary field list, none) | 3 |
//! | Kafka | — | as produced | 0 |
//!
//! Binary field list: `count: u32 BE`, then per pair `len: u32 BE, field, len: u32 BE,
//! value`.
//!
//! Redis readers see format 1–3 entries with exactly the fields that were written. A
//! Kafka record (format 0) appears with field `key` (if the key is not null), field
//! `value` (if the value is not null), then one field per header (a null header value
//! shows as an empty string).

use bytes::{BufMut, Bytes, BytesMut};
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use brook_model::{Header, Record, StoredRecord};

pub const FORMAT_KAFKA: u8 = 0;
pub const FORMAT_REDIS_KV: u8 = 1;
pub const FORMAT_REDIS_JSON: u8 = 2;
pub const FORMAT_REDIS_BINARY: u8 = 3;

/// Most field/value pairs in one entry.
pub const FIELDS_MAX: usize = 1 << 20;

/// A Redis entry's field/value pairs.
pub type Fields = Vec<(Bytes, Bytes)>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldsError {
    #[error("stored entry at offset {offset} has an unknown format tag {format}")]
    UnknownFormat { offset: u64, format: u8 },
    #[error("stored entry at offset {offset} has a malformed field list")]
    Malformed { offset: u64 },
}

/// Encodes a Redis entry's fields as (format tag, record without timestamp). `pairs`
/// is the field list as XADD carries it: field, value, field, value, ... Its length
/// must be even (XADD checks the count; an odd last element would be ignored).
pub fn encode(pairs: &[Bytes], timestamp_ms: i64) -> (u8, Record) {
    debug_assert!(pairs.len().is_multiple_of(2), "odd field list");
    let record = |key: Option<Bytes>, value: Bytes| Record {
        timestamp_ms,
        key,
        value: Some(value),
        headers: Vec::new(),
    };
    if let [k, kv, v, vv] = pairs {
        if k.as_ref() == b"key" && v.as_ref() == b"value" {
            return (FORMAT_REDIS_KV, record(Some(kv.clone()), vv.clone()));
        }
    }
    if let Some(json) = encode_json(pairs) {
        return (FORMAT_REDIS_JSON, record(None, json));
    }
    let size: usize = fields(pairs).map(|(f, v)| 8 + f.len() + v.len()).sum();
    let mut out = BytesMut::with_capacity(4 + size);
    out.put_u32(fields(pairs).len() as u32);
    for (f, v) in fields(pairs) {
        out.put_u32(f.len() as u32);
        out.put_slice(f);
        out.put_u32(v.len() as u32);
        out.put_slice(v);
    }
    (FORMAT_REDIS_BINARY, record(None, out.freeze()))
}

/// The (field, value) pairs of XADD's flat field list.
fn fields(pairs: &[Bytes]) -> impl ExactSizeIterator<Item = (&Bytes, &Bytes)> + Clone {
    pairs.chunks_exact(2).map(|kv| (&kv[0], &kv[1]))
}

fn encode_json(pairs: &[Bytes]) -> Option<Bytes> {
    // Duplicate field names: a scan for the usual few fields, a set beyond.
    const SCAN_MAX: usize = 8;
    let count = fields(pairs).len();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(
        fields(pairs)
            .map(|(f, v)| f.len() + v.len() + 6)
            .sum::<usize>()
            + 2,
    );
    out.push(b'{');
    for (i, (f, v)) in fields(pairs).enumerate() {
        let duplicate = if count <= SCAN_MAX {
            fields(pairs).take(i).any(|(g, _)| g == f)
        } else {
            !seen.insert(f.as_ref())
        };
        if duplicate {
            return None;
        }
        if i > 0 {
            out.push(b',');
        }
        json_string(&mut out, f)?;
        out.push(b':');
        json_string(&mut out, v)?;
    }
    out.push(b'}');
    Some(Bytes::from(out))
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The bytes of `w` that need escaping in a JSON string (a control byte below 0x20,
/// `"` or `\\`), as their high bits; bytes of 0x80 and above (parts of UTF-8
/// sequences) do not. Bit tricks on a whole word ("has a byte less than n" and "has
/// a zero byte"), exact as a yes/no answer.
fn word_escapes(w: u64) -> u64 {
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let q = w ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q & HIGH;
    let b = w ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b & HIGH;
    below_space | quote | backslash
}

/// Length of the run of whole 32-byte blocks at the start of `bytes` that are plain
/// ASCII needing no escape: copied as they are, valid UTF-8 without a check. Most
/// stream values (JSON, numbers, identifiers, text) are plain all along.
fn plain_ascii_prefix(bytes: &[u8]) -> usize {
    let mut plain = 0;
    for block in bytes.chunks_exact(32) {
        let not_plain = block.chunks_exact(8).fold(0, |acc, w| {
            let w = <[u8; 8]>::try_from(w).map_or(HIGH, u64::from_le_bytes);
            acc | word_escapes(w) | (w & HIGH)
        });
        if not_plain != 0 {
            break;
        }
        plain += 32;
    }
    plain
}

/// Appends `bytes` as a JSON string; `None` if they are not UTF-8.
fn json_string(out: &mut Vec<u8>, bytes: &[u8]) -> Option<()> {
    let (plain, rest) = bytes.split_at(plain_ascii_prefix(bytes));
    let rest = std::str::from_utf8(rest).ok()?;
    out.push(b'"');
    out.extend_from_slice(plain);
    escape_into(out, rest);
    out.push(b'"');
    Some(())
}

/// Appends `s` escaped for a JSON string, without quotes.
fn escape_into(out: &mut Vec<u8>, s: &str) {
    // Copy runs that need no escaping in one go, skipping clean 8-byte words fast.
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(word) = bytes
            .get(i..i + 8)
            .and_then(|c| <[u8; 8]>::try_from(c).ok())
        {
            if word_escapes(u64::from_le_bytes(word)) == 0 {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.extend_from_slice(escape);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Pairs of a JSON object, in document order, duplicates kept.
struct OrderedPairs(Vec<(String, String)>);

impl<'de> Deserialize<'de> for OrderedPairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedPairs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object of strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedPairs, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = map.next_entry::<String, String>()? {
                    if v.len() >= FIELDS_MAX {
                        return Err(serde::de::Error::custom("too many fields"));
                    }
                    v.push((k, val));
                }
                Ok(OrderedPairs(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// The fields a Redis reader sees for a stored record.
pub fn decode(r: &StoredRecord) -> Result<Fields, FieldsError> {
    let malformed = || FieldsError::Malformed { offset: r.offset };
    let value = || r.value.clone().unwrap_or_default();
    match r.format {
        FORMAT_KAFKA => {
            let mut out = Vec::with_capacity(2 + r.headers.len());
            if let Some(k) = &r.key {
                out.push((Bytes::from_static(b"key"), k.clone()));
            }
            if let Some(v) = &r.value {
                out.push((Bytes::from_static(b"value"), v.clone()));
            }
            for Header { name, value } in &r.headers {
                out.push((name.clone(), value.clone().unwrap_or_default()));
            }
            Ok(out)
        }
        FORMAT_REDIS_KV => Ok(vec![
            (
                Bytes::from_static(b"key"),
                r.key.clone().unwrap_or_default(),
            ),
            (Bytes::from_static(b"value"), value()),
        ]),
        FORMAT_REDIS_JSON => {
            let pairs: OrderedPairs = serde_json::from_slice(&value()).map_err(|_| malformed())?;
            Ok(pairs
                .0
                .into_iter()
                .map(|(f, v)| (Bytes::from(f), Bytes::from(v)))
                .collect())
        }
        FORMAT_REDIS_BINARY => {
            let v = value();
            let mut at = 0usize;
            let mut take = |n: usize| -> Result<Bytes, FieldsError> {
                let end = at
                    .checked_add(n)
                    .filter(|&e| e <= v.len())
                    .ok_or_else(malformed)?;
                let out = v.slice(at..end);
                at = end;
                Ok(out)
            };
            let u32_at = |b: Bytes| -> usize {
                let mut a = [0u8; 4];
                a.copy_from_slice(&b);
                u32::from_be_bytes(a) as usize
            };
            let count = u32_at(take(4)?);
            if count > FIELDS_MAX {
                return Err(malformed());
            }
            let mut out = Vec::with_capacity(count);
            for _ in 0..count {
                let n = u32_at(take(4)?);
                let f = take(n)?;
                let n = u32_at(take(4)?);
                let val = take(n)?;
                out.push((f, val));
            }
            if at != v.len() {
                return Err(malformed());
            }
            Ok(out)
        }
        format => Err(FieldsError::UnknownFormat {
            offset: r.offset,
            format,
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use brook_model::StreamId;

    fn stored(format: u8, rec: Record) -> StoredRecord {
        StoredRecord {
            offset: 0,
            stream_id: StreamId::new(1, 0),
            format,
            timestamp_ms: rec.timestamp_ms,
            key: rec.key,
            value: rec.value,
            headers: rec.headers,
        }
    }

    fn round_trip(fields: Fields) -> u8 {
        let (format, rec) = encode(&flat(&fields), 7);
        assert_eq!(decode(&stored(format, rec)).unwrap(), fields);
        format
    }

    /// The field list as XADD carries it.
    fn flat(fields: &Fields) -> Vec<Bytes> {
        fields
            .iter()
            .flat_map(|(f, v)| [f.clone(), v.clone()])
            .collect()
    }

    fn f(pairs: &[(&[u8], &[u8])]) -> Fields {
        pairs
            .iter()
            .map(|(a, b)| (Bytes::copy_from_slice(a), Bytes::copy_from_slice(b)))
            .collect()
    }

    #[test]
    fn each_form_round_trips_byte_exactly() {
        assert_eq!(
            round_trip(f(&[(b"key", b"k1"), (b"value", b"\xff\x00")])),
            FORMAT_REDIS_KV
        );
        assert_eq!(
            round_trip(f(&[(b"value", b"v"), (b"key", b"k")])),
            FORMAT_REDIS_JSON
        );
        assert_eq!(
            round_trip(f(&[
                (b"name", b"caf\xc3\xa9 \"q\" \\ \n\x01"),
                (b"n", b"1")
            ])),
            FORMAT_REDIS_JSON
        );
        assert_eq!(
            round_trip(f(&[(b"a", b"1"), (b"a", b"2")])),
            FORMAT_REDIS_BINARY
        );
        // Duplicates among more fields than are scanned (found by the set).
        let names: Vec<Vec<u8>> = (0..12).map(|i| format!("f{i}").into_bytes()).collect();
        let mut distinct: Vec<(&[u8], &[u8])> = names
            .iter()
            .map(|n| (n.as_slice(), b"v" as &[u8]))
            .collect();
        assert_eq!(round_trip(f(&distinct)), FORMAT_REDIS_JSON);
        distinct.push((b"f3", b"again"));
        assert_eq!(round_trip(f(&distinct)), FORMAT_REDIS_BINARY);
        assert_eq!(round_trip(f(&[(b"bin", b"\xff")])), FORMAT_REDIS_BINARY);
        assert_eq!(round_trip(f(&[(b"", b"")])), FORMAT_REDIS_JSON);
    }

    #[test]
    fn escaping_finds_special_bytes_at_every_position() {
        // Past 32 bytes the plain-ASCII block scan runs first: each special byte in
        // each block and in the tail after it.
        for len in 0..80 {
            for at in 0..len {
                for special in [b'"', b'\\', b'\n', 0x01u8, 0x1f, 0x7f] {
                    let mut v = vec![b'a'; len];
                    v[at] = special;
                    let fields = vec![(Bytes::from_static(b"f"), Bytes::from(v))];
                    assert_eq!(round_trip(fields), FORMAT_REDIS_JSON, "len {len} at {at}");
                }
                // UTF-8 beyond ASCII is kept as JSON; a byte that is not UTF-8
                // makes the entry binary, wherever it is.
                let mut v = vec![b'a'; len + 1];
                v[at] = 0xc3;
                v[at + 1] = 0xa9;
                let fields = vec![(Bytes::from_static(b"f"), Bytes::from(v.clone()))];
                assert_eq!(round_trip(fields), FORMAT_REDIS_JSON, "len {len} at {at}");
                v[at] = 0xff;
                let fields = vec![(Bytes::from_static(b"f"), Bytes::from(v))];
                assert_eq!(round_trip(fields), FORMAT_REDIS_BINARY, "len {len} at {at}");
            }
        }
        assert_eq!(word_escapes(u64::from_le_bytes(*b"abc ~\x7f\x80\xff")), 0);
    }

    #[test]
    fn json_form_is_what_kafka_consumers_see() {
        let (_, rec) = encode(&flat(&f(&[(b"user", b"ann"), (b"qty", b"2")])), 0);
        assert_eq!(
            rec.value.unwrap(),
            Bytes::from_static(br#"{"user":"ann","qty":"2"}"#)
        );
        assert_eq!(rec.key, None);
    }

    #[test]
    fn kafka_records_show_key_value_and_headers() {
        let rec = Record {
            timestamp_ms: 0,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"v")),
            headers: vec![Header {
                name: Bytes::from_static(b"trace"),
                value: None,
            }],
        };
        let got = decode(&stored(FORMAT_KAFKA, rec)).unwrap();
        assert_eq!(got, f(&[(b"key", b"k"), (b"value", b"v"), (b"trace", b"")]));
    }

    #[test]
    fn malformed_binary_is_an_error_not_a_panic() {
        for bad in [
            &b"\x00\x00\x00\x02\x00"[..],
            b"\x00\x00\x00\x01\x00\x00\x00\x09ab",
            b"\xff\xff\xff\xff",
        ] {
            let rec = Record {
                value: Some(Bytes::copy_from_slice(bad)),
                ..Record::default()
            };
            assert!(decode(&stored(FORMAT_REDIS_BINARY, rec)).is_err());
        }
        let rec = Record {
            value: Some(Bytes::from_static(b"{\"a\":1}")),
            ..Record::default()
        };
        assert!(decode(&stored(FORMAT_REDIS_JSON, rec)).is_err());
    }
}
