//! Any bytes, split anywhere: `parse_request` and `RequestDecoder` never panic,
//! agree with each other, and what they return re-encodes to something that parses
//! back to the same arguments.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

use brook_resp_proto::{parse_request, Limits, RequestDecoder};

fn multibulk(args: &[bytes::Bytes]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        inline_bytes_max: 256,
        bulk_bytes_max: 1024,
        array_len_max: 64,
        buffer_bytes_max: 4096,
    };
    let cut = usize::from(split).min(data.len());

    // Stateless, whole input at once.
    let mut whole = BytesMut::from(data);
    let mut want = Vec::new();
    let want_err = loop {
        match parse_request(&mut whole, &limits) {
            Ok(Some(args)) => want.push(args),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };

    // Resumable, in two pieces.
    let mut d = RequestDecoder::new();
    let mut b = BytesMut::from(&data[..cut]);
    let mut got = Vec::new();
    let mut got_err = None;
    for piece in [&data[cut..], &[][..]] {
        loop {
            match d.decode(&mut b, &limits) {
                Ok(Some(args)) => got.push(args),
                Ok(None) => break,
                Err(e) => {
                    got_err = Some(e);
                    break;
                }
            }
        }
        if got_err.is_some() {
            break;
        }
        b.extend_from_slice(piece);
    }
    if want_err.is_none() && got_err.is_none() {
        assert_eq!(got, want);
    }

    for args in &want {
        let mut again = BytesMut::from(&multibulk(args)[..]);
        let back = parse_request(&mut again, &Limits::default()).unwrap().unwrap();
        assert_eq!(&back, args);
    }
});
