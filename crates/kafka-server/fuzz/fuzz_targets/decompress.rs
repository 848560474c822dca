//! Any bytes through each codec's capped decompression (the first byte picks the
//! codec): it must refuse what it cannot read and never produce more than its cap.
#![no_main]

use libfuzzer_sys::fuzz_target;

use brook_kafka_server::compression::{decompress_into, Codec};

const CAP: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(codec) = Codec::from_attributes(i16::from(pick % 5)) else {
        return;
    };
    let mut out = Vec::new();
    if decompress_into(codec, rest, CAP, &mut out).is_ok() {
        assert!(out.len() <= CAP);
    }
});
