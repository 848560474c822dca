//! `parse_request` / `RequestDecoder`: Redis's request grammar, error texts, limits,
//! incremental input.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use brook_resp_proto::{parse_request, split_args, Limits, ProtocolError, RequestDecoder};

use crate::{buf, bytes_vec, multibulk};

fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
    let mut b = buf(input);
    let mut out = Vec::new();
    while let Some(args) = parse_request(&mut b, &Limits::default())? {
        out.push(args);
    }
    assert!(b.is_empty(), "left over: {b:?}");
    Ok(out)
}

fn err_of(input: &[u8], limits: &Limits) -> String {
    let mut b = buf(input);
    loop {
        match parse_request(&mut b, limits) {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("no error for {:?}", String::from_utf8_lossy(input)),
            Err(e) => return e.to_string(),
        }
    }
}

fn err(input: &[u8]) -> String {
    err_of(input, &Limits::default())
}

#[test]
fn multibulk_request() {
    let input = multibulk(&[b"SET", b"key", b"va\r\nl\0ue"]);
    let mut b = buf(&input);
    let args = parse_request(&mut b, &Limits::default()).unwrap().unwrap();
    assert_eq!(args, bytes_vec(&[b"SET", b"key", b"va\r\nl\0ue"]));
    assert!(b.is_empty());
}

#[test]
fn empty_bulk_and_binary_args() {
    let all: Vec<u8> = (0..=255u8).collect();
    let input = multibulk(&[b"", &all]);
    assert_eq!(parse_all(&input).unwrap(), vec![bytes_vec(&[b"", &all])]);
}

#[test]
fn ping_inline_like_redis_benchmark() {
    assert_eq!(parse_all(b"PING\r\n").unwrap(), vec![bytes_vec(&[b"PING"])]);
    // redis-benchmark PING_INLINE pipelines the same line.
    assert_eq!(
        parse_all(b"PING\r\nPING\r\nPING\r\n").unwrap().len(),
        3,
        "pipelined inline"
    );
}

#[test]
fn inline_bare_lf_and_quotes() {
    assert_eq!(
        parse_all(b"set k \"a b\\x41\"\nget 'k'\r\n").unwrap(),
        vec![
            bytes_vec(&[b"set", b"k", b"a bA"]),
            bytes_vec(&[b"get", b"k"])
        ]
    );
    // A '\r' in the middle of an inline line is a blank.
    assert_eq!(
        parse_all(b"a\rb\r\n").unwrap(),
        vec![bytes_vec(&[b"a", b"b"])]
    );
}

#[test]
fn ignored_requests_are_consumed() {
    assert_eq!(
        parse_all(b"*0\r\n*-1\r\n*-7\r\n\r\n\n   \t\r\nPING\r\n").unwrap(),
        vec![bytes_vec(&[b"PING"])]
    );
    let mut b = buf(b"*0\r\n\r\n*1\r\n$4\r\nPI");
    assert_eq!(parse_request(&mut b, &Limits::default()), Ok(None));
    assert_eq!(
        &b[..],
        b"*1\r\n$4\r\nPI",
        "skipped requests consumed, rest kept"
    );
}

#[test]
fn incomplete_leaves_buffer_untouched() {
    let input = multibulk(&[b"GET", b"key"]);
    for cut in 0..input.len() {
        let mut b = buf(&input[..cut]);
        assert_eq!(
            parse_request(&mut b, &Limits::default()),
            Ok(None),
            "cut {cut}"
        );
        assert_eq!(&b[..], &input[..cut]);
    }
}

#[test]
fn redis_skips_the_bytes_after_cr_and_payload_unchecked() {
    // Redis reads `*1\rX` as a count line and skips two bytes after a payload.
    assert_eq!(
        parse_all(b"*1\rX$3\rXfooXY").unwrap(),
        vec![bytes_vec(&[b"foo"])]
    );
}

#[test]
fn error_invalid_multibulk_length() {
    let want = "ERR Protocol error: invalid multibulk length";
    for input in [
        &b"*abc\r\n"[..],
        b"*\r\n",
        b"*+1\r\n",
        b"*01\r\n",
        b"*1 \r\n",
        b"*99999999999999999999\r\n",
        b"*1048577\r\n",
    ] {
        assert_eq!(err(input), want, "{:?}", String::from_utf8_lossy(input));
    }
    let limits = Limits {
        array_len_max: 2,
        ..Limits::default()
    };
    assert_eq!(err_of(b"*3\r\n", &limits), want);
}

#[test]
fn error_invalid_bulk_length() {
    let want = "ERR Protocol error: invalid bulk length";
    for input in [
        &b"*1\r\n$-1\r\n"[..],
        b"*1\r\n$abc\r\n",
        b"*1\r\n$\r\n",
        b"*1\r\n$01\r\n",
        b"*1\r\n$536870913\r\n",
        b"*1\r\n$9223372036854775808\r\n",
    ] {
        assert_eq!(err(input), want, "{:?}", String::from_utf8_lossy(input));
    }
    // Exactly the limit is fine (incomplete, not an error).
    let mut b = buf(b"*1\r\n$536870912\r\n");
    assert_eq!(parse_request(&mut b, &Limits::default()), Ok(None));
}

#[test]
fn error_expected_dollar() {
    assert_eq!(
        err(b"*1\r\nx3\r\nfoo\r\n"),
        "ERR Protocol error: expected '$', got 'x'"
    );
    assert_eq!(
        err(b"*2\r\n$3\r\nfoo\r\n:1\r\n"),
        "ERR Protocol error: expected '$', got ':'"
    );
    assert_eq!(
        err(b"*1\r\n\r\n"),
        "ERR Protocol error: expected '$', got ' '"
    );
}

#[test]
fn error_too_big_mbulk_count_string() {
    let mut input = b"*".to_vec();
    input.extend(std::iter::repeat_n(b'1', 64 * 1024));
    assert_eq!(
        err(&input),
        "ERR Protocol error: too big mbulk count string"
    );
    // One byte less is still waiting for the '\r'.
    let mut b = buf(&input[..64 * 1024]);
    assert_eq!(parse_request(&mut b, &Limits::default()), Ok(None));
}

#[test]
fn error_too_big_bulk_count_string() {
    let mut input = b"*1\r\n$".to_vec();
    input.extend(std::iter::repeat_n(b'1', 64 * 1024));
    assert_eq!(err(&input), "ERR Protocol error: too big bulk count string");
}

#[test]
fn error_too_big_inline_request() {
    let want = "ERR Protocol error: too big inline request";
    let line = vec![b'a'; 64 * 1024 + 1];
    assert_eq!(err(&line), want, "no newline yet");
    let mut complete = line.clone();
    complete.extend_from_slice(b"\r\n");
    assert_eq!(err(&complete), want, "whole line");
    // Exactly the limit is accepted, with CRLF or LF, and a pending '\r' is not
    // counted.
    let mut ok = vec![b'a'; 64 * 1024];
    let mut b = buf(&ok);
    assert_eq!(parse_request(&mut b, &Limits::default()), Ok(None));
    ok.push(b'\r');
    let mut b = buf(&ok);
    assert_eq!(parse_request(&mut b, &Limits::default()), Ok(None));
    ok.push(b'\n');
    assert_eq!(parse_all(&ok).unwrap().len(), 1);
}

#[test]
fn error_unbalanced_quotes() {
    let want = "ERR Protocol error: unbalanced quotes in request";
    assert_eq!(err(b"set k \"v\r\n"), want);
    assert_eq!(err(b"set k 'v\n"), want);
    assert_eq!(err(b"set k \"v\"x\r\n"), want);
}

#[test]
fn error_query_buffer_limit() {
    let limits = Limits {
        buffer_bytes_max: 100,
        ..Limits::default()
    };
    // A bulk that cannot fit is refused as soon as its header arrives.
    let e = err_of(b"*1\r\n$200\r\n", &limits);
    assert!(
        e.starts_with("ERR Protocol error: client reached max query buffer length"),
        "{e}"
    );
    // So is an incomplete request that has grown past the limit.
    let mut input = b"*1000\r\n".to_vec();
    for _ in 0..20 {
        input.extend_from_slice(b"$1\r\na\r\n");
    }
    let mut b = buf(&input);
    assert!(matches!(
        parse_request(&mut b, &limits),
        Err(ProtocolError::QueryBufferLimit { .. })
    ));
}

#[test]
fn every_error_is_an_error_frame_text() {
    use brook_resp_proto::{Frame, Protocol};
    let e = ProtocolError::InvalidBulkLength;
    let mut out = BytesMut::new();
    Frame::from(&e).encode(Protocol::Resp2, &mut out);
    assert_eq!(&out[..], b"-ERR Protocol error: invalid bulk length\r\n");
}

/// A pipeline mixing every request shape, and what must come out of it.
fn pipeline() -> (Vec<u8>, Vec<Vec<Bytes>>) {
    let mut input = Vec::new();
    let mut want = Vec::new();
    input.extend(multibulk(&[b"SET", b"k", b"v\r\n"]));
    want.push(bytes_vec(&[b"SET", b"k", b"v\r\n"]));
    input.extend_from_slice(b"*0\r\n");
    input.extend_from_slice(b"PING\r\n");
    want.push(bytes_vec(&[b"PING"]));
    input.extend_from_slice(b"\r\n");
    input.extend(multibulk(&[b"XADD", b"s", b"*", b"f", &[0u8; 300]]));
    want.push(bytes_vec(&[b"XADD", b"s", b"*", b"f", &[0u8; 300]]));
    input.extend_from_slice(b"  echo \"a\\x00b\" 'c d'\n");
    want.push(bytes_vec(&[b"echo", b"a\0b", b"c d"]));
    input.extend_from_slice(b"*-1\r\n");
    input.extend(multibulk(&[b"GET", b""]));
    want.push(bytes_vec(&[b"GET", b""]));
    (input, want)
}

#[test]
fn pipeline_fed_one_byte_at_a_time() {
    let (input, want) = pipeline();
    let limits = Limits::default();

    // Stateless.
    let mut b = BytesMut::new();
    let mut got = Vec::new();
    for &byte in &input {
        b.extend_from_slice(&[byte]);
        while let Some(args) = parse_request(&mut b, &limits).unwrap() {
            got.push(args);
        }
    }
    assert_eq!(got, want);
    assert!(b.is_empty());

    // Resumable.
    let mut d = RequestDecoder::new();
    let mut b = BytesMut::new();
    let mut got = Vec::new();
    for &byte in &input {
        b.extend_from_slice(&[byte]);
        while let Some(args) = d.decode(&mut b, &limits).unwrap() {
            got.push(args);
        }
    }
    assert_eq!(got, want);
    assert!(b.is_empty());
}

#[test]
fn pipeline_split_at_every_byte() {
    let (input, want) = pipeline();
    let limits = Limits::default();
    for cut in 0..=input.len() {
        let mut d = RequestDecoder::new();
        let mut b = buf(&input[..cut]);
        let mut got = Vec::new();
        while let Some(args) = d.decode(&mut b, &limits).unwrap() {
            got.push(args);
        }
        b.extend_from_slice(&input[cut..]);
        while let Some(args) = d.decode(&mut b, &limits).unwrap() {
            got.push(args);
        }
        assert_eq!(got, want, "cut at {cut}");
    }
}

/// One large bulk arriving in small reads: each call jumps over the payload by
/// length, so this is linear (it would take minutes if every call re-scanned it).
#[test]
fn large_bulk_in_small_reads_is_linear() {
    let payload = vec![b'x'; 16 * 1024 * 1024];
    let input = multibulk(&[b"SET", b"k", &payload]);
    let limits = Limits::default();
    let mut b = BytesMut::with_capacity(input.len());
    let mut got = None;
    for chunk in input.chunks(1024) {
        b.extend_from_slice(chunk);
        if let Some(args) = parse_request(&mut b, &limits).unwrap() {
            got = Some(args);
        }
    }
    let got = got.unwrap();
    assert_eq!(got[2].len(), payload.len());
}

/// Many arguments arriving in small reads: the decoder resumes, so this is linear
/// too.
#[test]
fn many_args_in_small_reads_with_decoder() {
    let args: Vec<Vec<u8>> = (0..200_000).map(|i| format!("{i}").into_bytes()).collect();
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let input = multibulk(&refs);
    let limits = Limits::default();
    let mut d = RequestDecoder::new();
    let mut b = BytesMut::new();
    let mut got = None;
    for chunk in input.chunks(7) {
        b.extend_from_slice(chunk);
        if let Some(a) = d.decode(&mut b, &limits).unwrap() {
            got = Some(a);
        }
    }
    assert_eq!(got.unwrap().len(), 200_000);
}

#[test]
fn split_args_is_public_and_matches_inline_parsing() {
    assert_eq!(
        split_args(b"set \"a\\x20b\" c").unwrap(),
        bytes_vec(&[b"set", b"a b", b"c"])
    );
}

/// Encodes one argument for an inline request so that `sdssplitargs` returns it
/// unchanged: double-quoted, every byte as `\xHH`.
fn inline_quote(arg: &[u8]) -> Vec<u8> {
    let mut out = b"\"".to_vec();
    for b in arg {
        out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
    }
    out.push(b'"');
    out
}

proptest! {
    #[test]
    fn multibulk_requests_round_trip(
        requests in prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6),
            1..5,
        ),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let mut input = Vec::new();
        for r in &requests {
            let refs: Vec<&[u8]> = r.iter().map(Vec::as_slice).collect();
            input.extend(multibulk(&refs));
        }
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        points.push(input.len());
        points.sort_unstable();

        let limits = Limits::default();
        let mut d = RequestDecoder::new();
        let mut b = BytesMut::new();
        let mut fed = 0;
        let mut got = Vec::new();
        for p in points {
            b.extend_from_slice(&input[fed..p]);
            fed = p;
            while let Some(args) = d.decode(&mut b, &limits).unwrap() {
                got.push(args.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
            }
        }
        prop_assert_eq!(got, requests);
        prop_assert!(b.is_empty());
    }

    #[test]
    fn inline_requests_round_trip(
        args in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 1..6),
        lf_only in any::<bool>(),
    ) {
        let mut line = Vec::new();
        for a in &args {
            line.extend(inline_quote(a));
            line.push(b' ');
        }
        line.extend_from_slice(if lf_only { b"\n" } else { b"\r\n" });
        let mut b = buf(&line);
        let got = parse_request(&mut b, &Limits::default()).unwrap().unwrap();
        let got: Vec<Vec<u8>> = got.iter().map(|a| a.to_vec()).collect();
        prop_assert_eq!(got, args);
    }

    #[test]
    fn arbitrary_input_never_panics(input in prop::collection::vec(any::<u8>(), 0..200)) {
        let limits = Limits { inline_bytes_max: 32, bulk_bytes_max: 64, ..Limits::default() };
        let mut b = buf(&input);
        let mut d = RequestDecoder::new();
        for _ in 0..input.len() + 1 {
            match d.decode(&mut b, &limits) {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        // The stateless parser agrees with the decoder on fresh input.
        let mut b1 = buf(&input);
        let mut b2 = buf(&input);
        let r1 = parse_request(&mut b1, &limits);
        let r2 = RequestDecoder::new().decode(&mut b2, &limits);
        prop_assert_eq!(r1, r2);
        prop_assert_eq!(b1, b2);
    }
}
