//! How Redis group state is stored in the metadata log (key/value records; a null
//! value deletes). All integers big-endian. `<scope>` is chosen by the caller (the
//! broker uses the topic ID) and must not contain `/`.
//!
//! | key | value |
//! |---|---|
//! | `rg/<scope>/G` + group | last_ms u64, last_seq u64, entries_read i64 (-1: unknown) |
//! | `rg/<scope>/C` + group_len u32 + group + consumer | seen_ms u64, active_ms i64 (-1: never) |
//! | `rg/<scope>/P` + group_len u32 + group + id (16 bytes) | delivery_ms u64, count u64, consumer |
//!
//! Loading applies group headers first, then consumers, then pending entries;
//! records of a group without a header (left by a crash during `XGROUP DESTROY`) are
//! returned as orphans for the caller to delete.

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};

use brook_model::StreamId;

use crate::{Change, StreamGroups};

pub const PREFIX: &str = "rg/";

/// The key prefix of all records of one scope.
pub fn scope_prefix(scope: &str) -> Bytes {
    Bytes::from(format!("{PREFIX}{scope}/"))
}

fn key(scope: &str, kind: u8, group: &[u8], rest: &[u8]) -> Bytes {
    let mut k = BytesMut::with_capacity(PREFIX.len() + scope.len() + 6 + group.len() + rest.len());
    k.put_slice(PREFIX.as_bytes());
    k.put_slice(scope.as_bytes());
    k.put_u8(b'/');
    k.put_u8(kind);
    if kind == b'G' {
        k.put_slice(group);
    } else {
        k.put_u32(group.len() as u32);
        k.put_slice(group);
        k.put_slice(rest);
    }
    k.freeze()
}

/// Encodes changes as metadata-log records.
pub fn encode(scope: &str, changes: &[Change]) -> Vec<(Bytes, Option<Bytes>)> {
    changes
        .iter()
        .map(|c| match c {
            Change::GroupPut {
                group,
                last_delivered,
                entries_read,
            } => {
                let mut v = BytesMut::with_capacity(24);
                v.put_u64(last_delivered.ms);
                v.put_u64(last_delivered.seq);
                v.put_i64(entries_read.map_or(-1, |n| n as i64));
                (key(scope, b'G', group, &[]), Some(v.freeze()))
            }
            Change::GroupDelete { group } => (key(scope, b'G', group, &[]), None),
            Change::ConsumerPut {
                group,
                consumer,
                seen_ms,
                active_ms,
            } => {
                let mut v = BytesMut::with_capacity(16);
                v.put_u64(*seen_ms);
                v.put_i64(active_ms.map_or(-1, |n| n as i64));
                (key(scope, b'C', group, consumer), Some(v.freeze()))
            }
            Change::ConsumerDelete { group, consumer } => (key(scope, b'C', group, consumer), None),
            Change::PendingPut {
                group,
                id,
                consumer,
                delivery_ms,
                delivery_count,
            } => {
                let mut v = BytesMut::with_capacity(16 + consumer.len());
                v.put_u64(*delivery_ms);
                v.put_u64(*delivery_count);
                v.put_slice(consumer);
                (key(scope, b'P', group, &id.to_be_bytes()), Some(v.freeze()))
            }
            Change::PendingDelete { group, id } => {
                (key(scope, b'P', group, &id.to_be_bytes()), None)
            }
        })
        .collect()
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Splits `group_len u32 + group + rest`.
fn split_group(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
    let group = b.get(4..4 + len)?;
    Some((group, b.get(4 + len..)?))
}

/// Rebuilds the state of one scope from its records (`records` are the entries under
/// [`scope_prefix`], in any order). Returns the state and the keys of malformed or
/// orphaned records.
pub fn load(scope: &str, records: &[(Bytes, Bytes)]) -> (StreamGroups, Vec<Bytes>) {
    let prefix = scope_prefix(scope);
    let mut headers = Vec::new();
    let mut consumers = Vec::new();
    let mut pending = Vec::new();
    let mut bad = Vec::new();
    for (k, v) in records {
        let Some(rest) = k.strip_prefix(prefix.as_ref()) else {
            bad.push(k.clone());
            continue;
        };
        let parsed = match rest.split_first() {
            Some((b'G', group)) => (|| {
                Some(Change::GroupPut {
                    group: Bytes::copy_from_slice(group),
                    last_delivered: StreamId::new(u64_at(v, 0)?, u64_at(v, 8)?),
                    entries_read: {
                        let n = u64_at(v, 16)? as i64;
                        (n >= 0).then_some(n as u64)
                    },
                })
            })()
            .map(|c| headers.push(c)),
            Some((b'C', body)) => (|| {
                let (group, consumer) = split_group(body)?;
                let active = u64_at(v, 8)? as i64;
                Some(Change::ConsumerPut {
                    group: Bytes::copy_from_slice(group),
                    consumer: Bytes::copy_from_slice(consumer),
                    seen_ms: u64_at(v, 0)?,
                    active_ms: (active >= 0).then_some(active as u64),
                })
            })()
            .map(|c| consumers.push(c)),
            Some((b'P', body)) => (|| {
                let (group, id) = split_group(body)?;
                let id: [u8; 16] = id.try_into().ok()?;
                Some(Change::PendingPut {
                    group: Bytes::copy_from_slice(group),
                    id: StreamId::from_be_bytes(id),
                    delivery_ms: u64_at(v, 0)?,
                    delivery_count: u64_at(v, 8)?,
                    consumer: Bytes::copy_from_slice(v.get(16..)?),
                })
            })()
            .map(|c| pending.push(c)),
            _ => None,
        };
        if parsed.is_none() {
            bad.push(k.clone());
        }
    }
    let mut state = StreamGroups::default();
    for c in headers {
        state.apply(c);
    }
    let groups: BTreeMap<Bytes, ()> = state.groups.keys().map(|g| (g.clone(), ())).collect();
    for c in consumers.into_iter().chain(pending) {
        let group = match &c {
            Change::ConsumerPut { group, .. } | Change::PendingPut { group, .. } => group.clone(),
            _ => continue,
        };
        if groups.contains_key(&group) {
            state.apply(c);
        } else {
            bad.extend(encode(scope, &[c]).into_iter().map(|(k, _)| k));
        }
    }
    (state, bad)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_load_round_trips_and_reports_orphans() {
        let mut s = StreamGroups::default();
        let mut changes = s
            .create(Bytes::from_static(b"g/1"), StreamId::new(5, 5), Some(7))
            .unwrap();
        changes.extend(
            s.deliver_new(
                b"g/1",
                &Bytes::from_static(b"c"),
                &[StreamId::new(6, 0)],
                Some(8),
                false,
                99,
            )
            .unwrap(),
        );
        let mut kv: BTreeMap<Bytes, Bytes> = BTreeMap::new();
        for (k, v) in encode("t1", &changes) {
            match v {
                Some(v) => kv.insert(k, v),
                None => kv.remove(&k),
            };
        }
        // An orphan pending entry of a destroyed group.
        let orphan = encode(
            "t1",
            &[Change::PendingPut {
                group: Bytes::from_static(b"gone"),
                id: StreamId::new(1, 1),
                consumer: Bytes::from_static(b"x"),
                delivery_ms: 1,
                delivery_count: 1,
            }],
        );
        for (k, v) in orphan.clone() {
            kv.insert(k, v.unwrap());
        }
        let records: Vec<(Bytes, Bytes)> = kv.into_iter().collect();
        let (loaded, bad) = load("t1", &records);
        assert_eq!(loaded, s);
        assert_eq!(bad, vec![orphan[0].0.clone()]);
    }
}
