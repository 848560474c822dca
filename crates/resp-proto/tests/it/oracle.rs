//! Random frames: our encoder's output parses back with our `parse_frame` to the same
//! frame, and decodes with the independent `redis-protocol` crate (aembke) to an
//! equivalent value — its RESP3 decoder for RESP3 output, its RESP2 decoder for the
//! RESP2 downgrade.

use std::collections::HashSet;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use redis_protocol::resp2::types::OwnedFrame as O2;
use redis_protocol::resp3::types::{OwnedFrame as O3, VerbatimStringFormat};

use brook_resp_proto::{format_double, parse_frame, Frame, Limits, Protocol};

fn line_text() -> impl Strategy<Value = Bytes> {
    "[ -~]{0,12}".prop_map(Bytes::from)
}

fn bulk_bytes() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

/// Scalars that can be map keys and set members (hashable for the oracle).
fn key() -> impl Strategy<Value = Frame> {
    prop_oneof![
        line_text().prop_map(Frame::Simple),
        any::<i64>().prop_map(Frame::Integer),
        bulk_bytes().prop_map(Frame::Bulk),
    ]
}

fn scalar() -> impl Strategy<Value = Frame> {
    prop_oneof![
        line_text().prop_map(Frame::Simple),
        line_text().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        bulk_bytes().prop_map(Frame::Bulk),
        Just(Frame::Null),
        Just(Frame::NullArray),
        any::<f64>().prop_map(Frame::Double),
        prop_oneof![
            Just(1.5),
            Just(3.0),
            Just(-0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(f64::NAN),
            Just(1e-7),
            Just(1e300),
        ]
        .prop_map(Frame::Double),
        any::<bool>().prop_map(Frame::Boolean),
        (prop_oneof![Just(*b"txt"), Just(*b"mkd")], bulk_bytes())
            .prop_map(|(format, text)| Frame::Verbatim { format, text }),
        "-?[1-9][0-9]{0,40}".prop_map(|s| Frame::BigNumber(Bytes::from(s))),
    ]
}

fn wire3(f: &Frame) -> Vec<u8> {
    let mut out = BytesMut::new();
    f.encode(Protocol::Resp3, &mut out);
    out.to_vec()
}

/// Drops repeated keys (the oracle's maps and sets would collapse them).
fn dedupe<T>(items: Vec<T>, key: impl Fn(&T) -> &Frame) -> Vec<T> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|i| seen.insert(wire3(key(i))))
        .collect()
}

fn frame() -> impl Strategy<Value = Frame> {
    scalar().prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Array),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Push),
            prop::collection::vec(key(), 0..6).prop_map(|v| Frame::Set(dedupe(v, |f| f))),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|v| Frame::Map(dedupe(v, |(k, _)| k))),
        ]
    })
}

/// What a RESP2 client sees: Redis 7's downgrade, as a RESP2-only frame.
fn downgrade(f: &Frame) -> Frame {
    match f {
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => {
            Frame::Array(v.iter().map(downgrade).collect())
        }
        Frame::Map(pairs) => Frame::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| [downgrade(k), downgrade(v)])
                .collect(),
        ),
        Frame::Double(d) => Frame::Bulk(Bytes::from(format_double(*d))),
        Frame::Boolean(b) => Frame::Integer(i64::from(*b)),
        Frame::Verbatim { text, .. } => Frame::Bulk(text.clone()),
        Frame::BigNumber(n) => Frame::Bulk(n.clone()),
        other => other.clone(),
    }
}

/// What RESP3 reads back as: both nulls are `_`.
fn resp3_view(f: &Frame) -> Frame {
    match f {
        Frame::NullArray => Frame::Null,
        Frame::Array(v) => Frame::Array(v.iter().map(resp3_view).collect()),
        Frame::Set(v) => Frame::Set(v.iter().map(resp3_view).collect()),
        Frame::Push(v) => Frame::Push(v.iter().map(resp3_view).collect()),
        Frame::Map(p) => Frame::Map(
            p.iter()
                .map(|(k, v)| (resp3_view(k), resp3_view(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Equality with NaN equal to NaN.
fn same(a: &Frame, b: &Frame) -> bool {
    match (a, b) {
        (Frame::Double(x), Frame::Double(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        (Frame::Array(x), Frame::Array(y))
        | (Frame::Set(x), Frame::Set(y))
        | (Frame::Push(x), Frame::Push(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Frame::Map(x), Frame::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| same(ka, kb) && same(va, vb))
        }
        _ => a == b,
    }
}

fn key_o3(f: &Frame) -> O3 {
    match f {
        Frame::Simple(s) => O3::SimpleString {
            data: s.to_vec(),
            attributes: None,
        },
        Frame::Integer(n) => O3::Number {
            data: *n,
            attributes: None,
        },
        Frame::Bulk(b) => O3::BlobString {
            data: b.to_vec(),
            attributes: None,
        },
        other => panic!("not a key: {other:?}"),
    }
}

/// Our frame vs the oracle's RESP3 reading of our encoding.
fn eq3(a: &Frame, o: &O3) -> bool {
    match (a, o) {
        (Frame::Simple(s), O3::SimpleString { data, .. }) => s[..] == data[..],
        (Frame::Error(s), O3::SimpleError { data, .. }) => s[..] == *data.as_bytes(),
        (Frame::Integer(n), O3::Number { data, .. }) => n == data,
        (Frame::Bulk(b), O3::BlobString { data, .. }) => b[..] == data[..],
        (Frame::Null | Frame::NullArray, O3::Null) => true,
        (Frame::Array(v), O3::Array { data, .. }) | (Frame::Push(v), O3::Push { data, .. }) => {
            v.len() == data.len() && v.iter().zip(data).all(|(a, o)| eq3(a, o))
        }
        (Frame::Set(v), O3::Set { data, .. }) => {
            v.len() == data.len() && v.iter().all(|m| data.contains(&key_o3(m)))
        }
        (Frame::Map(v), O3::Map { data, .. }) => {
            v.len() == data.len()
                && v.iter()
                    .all(|(k, val)| data.get(&key_o3(k)).is_some_and(|ov| eq3(val, ov)))
        }
        (Frame::Double(x), O3::Double { data, .. }) => {
            x.to_bits() == data.to_bits() || (x.is_nan() && data.is_nan())
        }
        (Frame::Boolean(x), O3::Boolean { data, .. }) => x == data,
        (
            Frame::Verbatim { format, text },
            O3::VerbatimString {
                data, format: of, ..
            },
        ) => {
            let of: &[u8; 3] = match of {
                VerbatimStringFormat::Text => b"txt",
                VerbatimStringFormat::Markdown => b"mkd",
            };
            text[..] == data[..] && format == of
        }
        (Frame::BigNumber(n), O3::BigNumber { data, .. }) => n[..] == data[..],
        _ => false,
    }
}

/// A RESP2-only frame vs the oracle's RESP2 reading.
fn eq2(a: &Frame, o: &O2) -> bool {
    match (a, o) {
        (Frame::Simple(s), O2::SimpleString(d)) => s[..] == d[..],
        (Frame::Error(s), O2::Error(d)) => s[..] == *d.as_bytes(),
        (Frame::Integer(n), O2::Integer(d)) => n == d,
        (Frame::Bulk(b), O2::BulkString(d)) => b[..] == d[..],
        (Frame::Null | Frame::NullArray, O2::Null) => true,
        (Frame::Array(v), O2::Array(d)) => {
            v.len() == d.len() && v.iter().zip(d).all(|(a, o)| eq2(a, o))
        }
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn resp3_round_trip_and_oracle(f in frame()) {
        let wire = wire3(&f);

        let mut b = BytesMut::from(&wire[..]);
        let ours = parse_frame(&mut b, &Limits::default()).unwrap().unwrap();
        prop_assert!(b.is_empty());
        prop_assert!(same(&ours, &resp3_view(&f)), "ours {:?}\nwant {:?}", ours, f);

        let (theirs, used) = redis_protocol::resp3::decode::complete::decode(&wire)
            .unwrap()
            .unwrap();
        prop_assert_eq!(used, wire.len());
        prop_assert!(eq3(&f, &theirs), "oracle {:?}\nours {:?}", theirs, f);
    }

    #[test]
    fn resp2_downgrade_round_trip_and_oracle(f in frame()) {
        let mut out = BytesMut::new();
        f.encode(Protocol::Resp2, &mut out);
        let wire = out.to_vec();
        let want = downgrade(&f);

        let ours = parse_frame(&mut out, &Limits::default()).unwrap().unwrap();
        prop_assert!(out.is_empty());
        prop_assert_eq!(&ours, &want);

        let (theirs, used) = redis_protocol::resp2::decode::decode(&wire).unwrap().unwrap();
        prop_assert_eq!(used, wire.len());
        prop_assert!(eq2(&want, &theirs), "oracle {:?}\nwant {:?}", theirs, want);
    }

    #[test]
    fn arbitrary_bytes_never_panic_parse_frame(input in prop::collection::vec(any::<u8>(), 0..200)) {
        let limits = Limits { inline_bytes_max: 32, bulk_bytes_max: 64, array_len_max: 16, ..Limits::default() };
        let mut b = BytesMut::from(&input[..]);
        for _ in 0..input.len() + 1 {
            match parse_frame(&mut b, &limits) {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }

    #[test]
    fn frames_split_anywhere_parse_the_same(f in frame(), cut in any::<prop::sample::Index>()) {
        let wire = wire3(&f);
        let cut = cut.index(wire.len());
        let mut b = BytesMut::from(&wire[..cut]);
        prop_assert_eq!(parse_frame(&mut b, &Limits::default()), Ok(None));
        b.extend_from_slice(&wire[cut..]);
        let ours = parse_frame(&mut b, &Limits::default()).unwrap().unwrap();
        prop_assert!(same(&ours, &resp3_view(&f)));
    }
}
