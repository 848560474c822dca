//! Any bytes: `parse_frame` never panics, and a frame it returns encodes (RESP3 and
//! RESP2) to bytes that parse again.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

use brook_resp_proto::{parse_frame, Limits, Protocol};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        inline_bytes_max: 256,
        bulk_bytes_max: 1024,
        array_len_max: 64,
        buffer_bytes_max: 4096,
    };
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = parse_frame(&mut buf, &limits) {
        for proto in [Protocol::Resp3, Protocol::Resp2] {
            let mut out = BytesMut::new();
            frame.encode(proto, &mut out);
            let again = parse_frame(&mut out, &Limits::default());
            assert!(matches!(again, Ok(Some(_))), "{proto:?} {frame:?} -> {again:?}");
            assert!(out.is_empty());
        }
    }
});
