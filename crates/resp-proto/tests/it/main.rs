//! Integration tests for `brook-resp-proto` (one test binary, several modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod frames;
mod oracle;
mod requests;

use bytes::{Bytes, BytesMut};

/// Encodes `args` as a multibulk request, the way every client does.
pub fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub fn bytes_vec(args: &[&[u8]]) -> Vec<Bytes> {
    args.iter().map(|a| Bytes::copy_from_slice(a)).collect()
}

pub fn buf(b: &[u8]) -> BytesMut {
    BytesMut::from(b)
}
