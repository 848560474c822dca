//! Compressed produce batches, decompressed with a cap.
//!
//! A producer's compressed RecordBatch v2 is turned into the equivalent uncompressed
//! batch — the same header (producer fields, timestamps, attributes other than the
//! codec) followed by the decompressed records, with `batchLength` and the CRC
//! recomputed — which the log then checks and stores like any uncompressed batch.
//! The records themselves are not re-encoded, so keys, values, headers (repeated
//! names included) and timestamps are kept byte for byte.
//!
//! Decompression never produces more than the cap (`brook_model::BATCH_BYTES_MAX`):
//! each codec reads through a limit, so a compression bomb costs at most the cap in
//! memory and gets [`DecompressError::TooLarge`]. (The `kafka-protocol` crate's own
//! decompressors have no limit, which is why they are not used.)

use std::io::Read as _;

/// Bytes of a RecordBatch v2 header (up to and including `recordCount`).
pub const BATCH_HEADER_LEN: usize = 61;
const CRC_START: usize = 21;
const COMPRESSION_MASK: i16 = 0x7;

/// Kafka's compression codecs (RecordBatch attributes bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Codec {
    pub fn from_attributes(attributes: i16) -> Result<Codec, DecompressError> {
        match attributes & COMPRESSION_MASK {
            0 => Ok(Codec::None),
            1 => Ok(Codec::Gzip),
            2 => Ok(Codec::Snappy),
            3 => Ok(Codec::Lz4),
            4 => Ok(Codec::Zstd),
            other => Err(DecompressError::UnknownCodec(other)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecompressError {
    #[error("record batch is shorter than its {BATCH_HEADER_LEN}-byte header ({0} bytes)")]
    Short(usize),
    #[error("record batch magic is {0}, only 2 is supported")]
    Magic(i8),
    #[error("record batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Crc { stored: u32, computed: u32 },
    #[error("unknown compression codec {0}")]
    UnknownCodec(i16),
    #[error("{codec:?} data is corrupt: {message}")]
    Corrupt { codec: Codec, message: String },
    #[error("{codec:?} records decompress to more than {max} bytes")]
    TooLarge { codec: Codec, max: usize },
}

/// The codec of the RecordBatch v2 `batch` (which must hold at least a header).
pub fn batch_codec(batch: &[u8]) -> Result<Codec, DecompressError> {
    let header = header(batch)?;
    Codec::from_attributes(i16::from_be_bytes([header[21], header[22]]))
}

fn header(batch: &[u8]) -> Result<&[u8; BATCH_HEADER_LEN], DecompressError> {
    let header: &[u8; BATCH_HEADER_LEN] = batch
        .get(..BATCH_HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(DecompressError::Short(batch.len()))?;
    let magic = i8::from_be_bytes([header[16]]);
    if magic != 2 {
        return Err(DecompressError::Magic(magic));
    }
    Ok(header)
}

/// The uncompressed equivalent of the compressed RecordBatch v2 `batch`, at most
/// `max_bytes` long in total. The batch CRC is checked first.
pub fn decompress_batch(batch: &[u8], max_bytes: usize) -> Result<Vec<u8>, DecompressError> {
    let header = header(batch)?;
    let stored = u32::from_be_bytes([header[17], header[18], header[19], header[20]]);
    let computed = crc32c::crc32c(batch.get(CRC_START..).unwrap_or_default());
    if stored != computed {
        return Err(DecompressError::Crc { stored, computed });
    }
    let codec = batch_codec(batch)?;
    let compressed = batch.get(BATCH_HEADER_LEN..).unwrap_or_default();
    let cap = max_bytes.saturating_sub(BATCH_HEADER_LEN);
    let mut out =
        Vec::with_capacity(BATCH_HEADER_LEN + compressed.len().saturating_mul(4).min(cap));
    out.extend_from_slice(header);
    decompress_into(codec, compressed, cap, &mut out)?;
    let attributes = i16::from_be_bytes([header[21], header[22]]) & !COMPRESSION_MASK;
    let batch_length =
        i32::try_from(out.len() - 12).map_err(|_| DecompressError::TooLarge { codec, max: cap })?;
    out[8..12].copy_from_slice(&batch_length.to_be_bytes());
    out[21..23].copy_from_slice(&attributes.to_be_bytes());
    let crc = crc32c::crc32c(&out[CRC_START..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(out)
}

/// Appends the decompression of `data` to `out`, failing once more than `cap`
/// bytes would be produced.
pub fn decompress_into(
    codec: Codec,
    data: &[u8],
    cap: usize,
    out: &mut Vec<u8>,
) -> Result<(), DecompressError> {
    let corrupt = |e: &dyn std::fmt::Display| DecompressError::Corrupt {
        codec,
        message: e.to_string(),
    };
    let too_large = DecompressError::TooLarge { codec, max: cap };
    let start = out.len();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    match codec {
        Codec::None => {
            if data.len() > cap {
                return Err(too_large);
            }
            out.extend_from_slice(data);
        }
        Codec::Gzip => {
            flate2::read::MultiGzDecoder::new(data)
                .take(limit)
                .read_to_end(out)
                .map_err(|e| corrupt(&e))?;
        }
        Codec::Lz4 => {
            let decoder = lz4::Decoder::new(data).map_err(|e| corrupt(&e))?;
            decoder
                .take(limit)
                .read_to_end(out)
                .map_err(|e| corrupt(&e))?;
        }
        Codec::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::new(data).map_err(|e| corrupt(&e))?;
            // Refuse frames that ask for a window larger than the cap needs.
            decoder
                .window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| corrupt(&e))?;
            decoder
                .take(limit)
                .read_to_end(out)
                .map_err(|e| corrupt(&e))?;
        }
        Codec::Snappy => snappy(data, cap, out).map_err(|e| match e {
            SnappyError::TooLarge => DecompressError::TooLarge { codec, max: cap },
            SnappyError::Corrupt(message) => DecompressError::Corrupt { codec, message },
        })?,
    }
    if out.len() - start > cap {
        return Err(DecompressError::TooLarge { codec, max: cap });
    }
    Ok(())
}

/// zstd window limit: 2^23 = 8 MiB, the largest batch Brook accepts.
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// The xerial snappy-java stream header Kafka's Java producer writes.
const XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_LEN: usize = 16;

enum SnappyError {
    TooLarge,
    Corrupt(String),
}

/// Snappy as Kafka producers send it: xerial framing (a 16-byte header, then blocks
/// of `u32 BE length` + raw snappy), or a single raw snappy block (librdkafka).
fn snappy(data: &[u8], cap: usize, out: &mut Vec<u8>) -> Result<(), SnappyError> {
    let start = out.len();
    let raw_block = |block: &[u8], out: &mut Vec<u8>| -> Result<(), SnappyError> {
        let len =
            snap::raw::decompress_len(block).map_err(|e| SnappyError::Corrupt(e.to_string()))?;
        if out.len() - start + len > cap {
            return Err(SnappyError::TooLarge);
        }
        let at = out.len();
        out.resize(at + len, 0);
        let written = snap::raw::Decoder::new()
            .decompress(block, &mut out[at..])
            .map_err(|e| SnappyError::Corrupt(e.to_string()))?;
        out.truncate(at + written);
        Ok(())
    };
    if data.len() >= XERIAL_HEADER_LEN && data.starts_with(XERIAL_MAGIC) {
        let mut rest = &data[XERIAL_HEADER_LEN..];
        while !rest.is_empty() {
            let (len, tail) = rest
                .split_first_chunk::<4>()
                .ok_or_else(|| SnappyError::Corrupt("truncated xerial block length".into()))?;
            let len = u32::from_be_bytes(*len) as usize;
            if len > tail.len() {
                return Err(SnappyError::Corrupt("truncated xerial block".into()));
            }
            let (block, tail) = tail.split_at(len);
            raw_block(block, out)?;
            rest = tail;
        }
        Ok(())
    } else {
        raw_block(data, out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn all_codecs(data: &[u8]) -> Vec<(Codec, Vec<u8>)> {
        let mut lz = lz4::EncoderBuilder::new().build(Vec::new()).unwrap();
        lz.write_all(data).unwrap();
        let (lz, result) = lz.finish();
        result.unwrap();
        let raw = snap::raw::Encoder::new().compress_vec(data).unwrap();
        let mut xerial = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01".to_vec();
        for chunk in data.chunks(1000) {
            let block = snap::raw::Encoder::new().compress_vec(chunk).unwrap();
            xerial.extend_from_slice(&(block.len() as u32).to_be_bytes());
            xerial.extend_from_slice(&block);
        }
        vec![
            (Codec::Gzip, gzip(data)),
            (Codec::Snappy, raw),
            (Codec::Snappy, xerial),
            (Codec::Lz4, lz),
            (Codec::Zstd, zstd::encode_all(data, 3).unwrap()),
        ]
    }

    #[test]
    fn every_codec_round_trips_under_the_cap() {
        let data: Vec<u8> = (0..5000u32).flat_map(|i| (i % 251).to_be_bytes()).collect();
        for (codec, compressed) in all_codecs(&data) {
            let mut out = Vec::new();
            decompress_into(codec, &compressed, data.len(), &mut out).unwrap();
            assert_eq!(out, data, "{codec:?}");
        }
    }

    #[test]
    fn a_compression_bomb_stops_at_the_cap() {
        let data = vec![0u8; 4 * 1024 * 1024];
        for (codec, compressed) in all_codecs(&data) {
            let mut out = Vec::new();
            let result = decompress_into(codec, &compressed, 1024 * 1024, &mut out);
            assert!(
                matches!(result, Err(DecompressError::TooLarge { .. })),
                "{codec:?}: {result:?}"
            );
            assert!(
                out.len() <= 1024 * 1024 + 1 + 64 * 1024,
                "{codec:?}: {}",
                out.len()
            );
        }
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        for codec in [Codec::Gzip, Codec::Snappy, Codec::Lz4, Codec::Zstd] {
            for garbage in [
                &b""[..],
                b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01\xff\xff",
                b"0123456789abcdef",
            ] {
                let mut out = Vec::new();
                let result = decompress_into(codec, garbage, 1024, &mut out);
                if garbage.is_empty() {
                    // Some decoders take no input as an empty stream; the log then
                    // refuses the batch's record count. Either way, no panic.
                    assert!(out.is_empty(), "{codec:?}");
                    continue;
                }
                assert!(
                    matches!(result, Err(DecompressError::Corrupt { .. })),
                    "{codec:?} {garbage:?}: {result:?}"
                );
            }
        }
    }

    #[test]
    fn a_batch_keeps_its_header_and_gets_a_fresh_crc() {
        let records = b"records-section".to_vec();
        let compressed = gzip(&records);
        let mut batch = vec![0u8; BATCH_HEADER_LEN];
        batch[16] = 2;
        batch[21..23].copy_from_slice(&(1i16 | 8).to_be_bytes()); // gzip + log-append time
        batch[57..61].copy_from_slice(&1i32.to_be_bytes());
        batch.extend_from_slice(&compressed);
        let len = (batch.len() - 12) as i32;
        batch[8..12].copy_from_slice(&len.to_be_bytes());
        let crc = crc32c::crc32c(&batch[21..]);
        batch[17..21].copy_from_slice(&crc.to_be_bytes());

        let out = decompress_batch(&batch, 1024).unwrap();
        assert_eq!(&out[BATCH_HEADER_LEN..], &records[..]);
        assert_eq!(i16::from_be_bytes([out[21], out[22]]), 8);
        assert_eq!(
            i32::from_be_bytes(out[8..12].try_into().unwrap()) as usize,
            out.len() - 12
        );
        assert_eq!(
            u32::from_be_bytes(out[17..21].try_into().unwrap()),
            crc32c::crc32c(&out[21..])
        );
        assert_eq!(&out[57..61], &batch[57..61]);

        batch[30] ^= 1;
        assert!(matches!(
            decompress_batch(&batch, 1024),
            Err(DecompressError::Crc { .. })
        ));
        assert!(matches!(
            decompress_batch(&batch[..10], 1024),
            Err(DecompressError::Short(10))
        ));
    }
}
