//! `Frame::encode` for RESP2 and RESP3 and `parse_frame`.

use bytes::{Bytes, BytesMut};

use brook_resp_proto::{parse_frame, Frame, FrameError, Limits, Protocol, FRAME_DEPTH_MAX};

use crate::buf;

fn enc(f: &Frame, p: Protocol) -> Vec<u8> {
    let mut out = BytesMut::new();
    f.encode(p, &mut out);
    out.to_vec()
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Every variant, its RESP3 bytes and its RESP2 (downgraded, Redis 7) bytes.
fn table() -> Vec<(Frame, &'static [u8], &'static [u8])> {
    vec![
        (Frame::ok(), b"+OK\r\n", b"+OK\r\n"),
        (
            Frame::error("ERR unknown command"),
            b"-ERR unknown command\r\n",
            b"-ERR unknown command\r\n",
        ),
        (Frame::integer(-42), b":-42\r\n", b":-42\r\n"),
        (Frame::bulk("foo"), b"$3\r\nfoo\r\n", b"$3\r\nfoo\r\n"),
        (Frame::bulk(""), b"$0\r\n\r\n", b"$0\r\n\r\n"),
        (Frame::Null, b"_\r\n", b"$-1\r\n"),
        (Frame::NullArray, b"_\r\n", b"*-1\r\n"),
        (
            Frame::array(vec![Frame::integer(1), Frame::bulk("a")]),
            b"*2\r\n:1\r\n$1\r\na\r\n",
            b"*2\r\n:1\r\n$1\r\na\r\n",
        ),
        (Frame::array(vec![]), b"*0\r\n", b"*0\r\n"),
        (
            Frame::Map(vec![
                (Frame::bulk("a"), Frame::integer(1)),
                (Frame::simple("b"), Frame::Boolean(true)),
            ]),
            b"%2\r\n$1\r\na\r\n:1\r\n+b\r\n#t\r\n",
            b"*4\r\n$1\r\na\r\n:1\r\n+b\r\n:1\r\n",
        ),
        (
            Frame::Set(vec![Frame::bulk("x"), Frame::Double(2.5)]),
            b"~2\r\n$1\r\nx\r\n,2.5\r\n",
            b"*2\r\n$1\r\nx\r\n$3\r\n2.5\r\n",
        ),
        (Frame::Double(1.5), b",1.5\r\n", b"$3\r\n1.5\r\n"),
        (Frame::Double(3.0), b",3\r\n", b"$1\r\n3\r\n"),
        (Frame::Double(f64::INFINITY), b",inf\r\n", b"$3\r\ninf\r\n"),
        (
            Frame::Double(f64::NEG_INFINITY),
            b",-inf\r\n",
            b"$4\r\n-inf\r\n",
        ),
        (Frame::Double(f64::NAN), b",nan\r\n", b"$3\r\nnan\r\n"),
        (Frame::Double(1e-7), b",1e-7\r\n", b"$4\r\n1e-7\r\n"),
        (Frame::Boolean(true), b"#t\r\n", b":1\r\n"),
        (Frame::Boolean(false), b"#f\r\n", b":0\r\n"),
        (
            Frame::verbatim_text("Some string"),
            b"=15\r\ntxt:Some string\r\n",
            b"$11\r\nSome string\r\n",
        ),
        (
            Frame::Verbatim {
                format: *b"mkd",
                text: b("# hi"),
            },
            b"=8\r\nmkd:# hi\r\n",
            b"$4\r\n# hi\r\n",
        ),
        (
            Frame::BigNumber(b("3492890328409238509324850943850943825024385")),
            b"(3492890328409238509324850943850943825024385\r\n",
            b"$43\r\n3492890328409238509324850943850943825024385\r\n",
        ),
        (
            Frame::Push(vec![
                Frame::bulk("message"),
                Frame::bulk("ch"),
                Frame::bulk("hi"),
            ]),
            b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
        ),
        (
            Frame::array(vec![Frame::Map(vec![(
                Frame::bulk("k"),
                Frame::Set(vec![Frame::Null]),
            )])]),
            b"*1\r\n%1\r\n$1\r\nk\r\n~1\r\n_\r\n",
            b"*1\r\n*2\r\n$1\r\nk\r\n*1\r\n$-1\r\n",
        ),
    ]
}

#[test]
fn resp3_encoding() {
    for (f, resp3, _) in table() {
        assert_eq!(
            enc(&f, Protocol::Resp3),
            resp3,
            "{f:?}: {:?}",
            String::from_utf8_lossy(&enc(&f, Protocol::Resp3))
        );
    }
}

#[test]
fn resp2_downgrade_of_each_type() {
    for (f, _, resp2) in table() {
        assert_eq!(
            enc(&f, Protocol::Resp2),
            resp2,
            "{f:?}: {:?}",
            String::from_utf8_lossy(&enc(&f, Protocol::Resp2))
        );
    }
}

#[test]
fn line_breaks_in_simple_strings_and_errors_are_neutralised() {
    assert_eq!(
        enc(&Frame::error("ERR bad\r\nthing"), Protocol::Resp2),
        b"-ERR bad  thing\r\n"
    );
    assert_eq!(enc(&Frame::simple("a\nb"), Protocol::Resp3), b"+a b\r\n");
}

#[test]
fn encoded_frames_parse_back_at_every_split() {
    let limits = Limits::default();
    for (f, resp3, resp2) in table() {
        for wire in [resp3, resp2] {
            for cut in 0..wire.len() {
                let mut b = buf(&wire[..cut]);
                assert_eq!(parse_frame(&mut b, &limits), Ok(None), "{f:?} cut {cut}");
                assert_eq!(b.len(), cut, "incomplete leaves the buffer alone");
            }
            let mut b = buf(wire);
            b.extend_from_slice(b"+next\r\n");
            assert!(parse_frame(&mut b, &limits).unwrap().is_some());
            assert_eq!(&b[..], b"+next\r\n");
        }
    }
}

#[test]
fn resp3_parse_gives_the_frame_back() {
    let limits = Limits::default();
    for (f, resp3, _) in table() {
        let got = parse_frame(&mut buf(resp3), &limits).unwrap().unwrap();
        match (&f, &got) {
            (Frame::Double(a), Frame::Double(b)) if a.is_nan() => assert!(b.is_nan()),
            (Frame::NullArray, Frame::Null) => {}
            _ => assert_eq!(got, f),
        }
    }
}

#[test]
fn parses_other_resp3_forms() {
    let limits = Limits::default();
    let p = |w: &[u8]| parse_frame(&mut buf(w), &limits);
    assert_eq!(
        p(b"!21\r\nSYNTAX invalid syntax\r\n"),
        Ok(Some(Frame::error("SYNTAX invalid syntax")))
    );
    assert_eq!(p(b"$-1\r\n"), Ok(Some(Frame::Null)));
    assert_eq!(p(b"*-1\r\n"), Ok(Some(Frame::NullArray)));
    assert_eq!(p(b",-1.5e3\r\n"), Ok(Some(Frame::Double(-1500.0))));
    assert_eq!(p(b"(-12\r\n"), Ok(Some(Frame::BigNumber(b("-12")))));
    // Attributes are read and dropped.
    assert_eq!(
        p(b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:2\r\n"),
        Ok(Some(Frame::array(vec![Frame::integer(2)])))
    );
}

#[test]
fn malformed_frames_are_errors() {
    let limits = Limits::default();
    let p = |w: &[u8]| parse_frame(&mut buf(w), &limits);
    assert!(matches!(
        p(b"x\r\n"),
        Err(FrameError::UnknownType {
            byte: b'x',
            offset: 0
        })
    ));
    assert!(matches!(
        p(b":12a\r\n"),
        Err(FrameError::InvalidInteger { .. })
    ));
    assert!(matches!(
        p(b":99999999999999999999\r\n"),
        Err(FrameError::InvalidInteger { .. })
    ));
    assert!(matches!(
        p(b"$-2\r\n"),
        Err(FrameError::InvalidLength { .. })
    ));
    assert!(matches!(
        p(b"%-1\r\n"),
        Err(FrameError::InvalidLength { .. })
    ));
    assert!(matches!(
        p(b"$3\r\nfooXY"),
        Err(FrameError::MissingCrlf { offset: 7 })
    ));
    assert!(matches!(
        p(b"$3\r\nfooX"),
        Err(FrameError::MissingCrlf { offset: 7 })
    ));
    assert!(matches!(p(b"+a\rb\r\n"), Err(FrameError::BadLine { .. })));
    assert!(matches!(
        p(b"#x\r\n"),
        Err(FrameError::InvalidBoolean { .. })
    ));
    assert!(matches!(
        p(b",abc\r\n"),
        Err(FrameError::InvalidDouble { .. })
    ));
    assert!(matches!(
        p(b"_x\r\n"),
        Err(FrameError::InvalidScalar { .. })
    ));
    assert!(matches!(
        p(b"(12a\r\n"),
        Err(FrameError::InvalidScalar { .. })
    ));
    assert!(matches!(
        p(b"=3\r\ntxt\r\n"),
        Err(FrameError::InvalidVerbatim { .. })
    ));
    assert!(matches!(
        p(b"=5\r\ntxt-a\r\n"),
        Err(FrameError::InvalidVerbatim { .. })
    ));
    assert!(matches!(p(b"$?\r\n"), Err(FrameError::Streamed { .. })));
    assert!(matches!(
        p(b"*2000000\r\n"),
        Err(FrameError::TooLong { .. })
    ));
    assert!(matches!(
        p(b"$536870913\r\n"),
        Err(FrameError::TooLong { .. })
    ));
    let long = vec![b'+'; 64 * 1024 + 2];
    assert!(matches!(p(&long), Err(FrameError::BadLine { .. })));
}

#[test]
fn nesting_is_bounded() {
    let limits = Limits::default();
    let mut ok = b"*1\r\n".repeat(FRAME_DEPTH_MAX);
    ok.extend_from_slice(b":1\r\n");
    assert!(parse_frame(&mut buf(&ok), &limits).unwrap().is_some());
    let mut deep = b"*1\r\n".repeat(FRAME_DEPTH_MAX + 1);
    deep.extend_from_slice(b":1\r\n");
    assert!(matches!(
        parse_frame(&mut buf(&deep), &limits),
        Err(FrameError::TooDeep { .. })
    ));
    // Incomplete and absurdly deep: still an error, not a stack overflow.
    let deeper = b"*1\r\n".repeat(100_000);
    assert!(matches!(
        parse_frame(&mut buf(&deeper), &limits),
        Err(FrameError::TooDeep { .. })
    ));
}

#[test]
fn announced_sizes_do_not_allocate_before_bytes_arrive() {
    // A million-element array announced in 10 bytes is just incomplete.
    let limits = Limits::default();
    assert_eq!(parse_frame(&mut buf(b"*1048576\r\n"), &limits), Ok(None));
    assert_eq!(parse_frame(&mut buf(b"$536870912\r\n"), &limits), Ok(None));
}
