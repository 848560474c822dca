//! Encoding a response without copying the record batches it carries.
//!
//! A Fetch response is mostly stored record batches. Encoding it with the
//! `kafka-protocol` encoder into one buffer would copy every batch once more (and
//! concatenating a partition's batches into one `records` field, once again). Instead,
//! [`Splices::records`] gives the encoder, for each partition, a *placeholder* of the
//! right length, and the encoder writes into a [`Sink`] that recognises each
//! placeholder by its address and length when the encoder copies it (`put_slice`): the
//! sink closes the encoded piece so far and lists the partition's batches after it,
//! uncopied. The frame is then written with vectored writes.
//!
//! A placeholder is the partition's one batch itself, or (several batches) a slice of
//! [`PLACEHOLDER_AREA`], a static zero area that is never read when all goes well: the
//! slice starts at a different address for each partition, so (address, length)
//! identifies it. If a placeholder was not recognised (which would send zeros), the
//! encoding fails instead ([`GatherError`]); so does any use of the buffer the sink
//! cannot serve (seeking back into a closed piece, which the generated encoders never
//! do).
//!
//! Small records fields are copied as before: below [`SPLICE_MIN_BYTES`] a splice
//! costs more (an extra iovec and allocation) than the copy.

// The one place Brook implements an unsafe trait: `bytes::BufMut`, by delegating every
// method that deals with uninitialised memory to `BytesMut` (see the SAFETY note).
#![allow(unsafe_code)]

use std::ops::Range;

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::protocol::buf::ByteBufMut;

/// Records fields smaller than this are copied into the encoded bytes.
pub const SPLICE_MIN_BYTES: usize = 16 * 1024;

/// Size of the static area placeholders are cut from. A partition whose batches do
/// not fit (start + length past the end) is copied instead.
const PLACEHOLDER_AREA_BYTES: usize = 80 * 1024 * 1024;

/// Zeros in the binary's BSS: address space only, never touched unless a placeholder
/// were encoded as data, which [`Sink`] reports as an error.
static PLACEHOLDER_AREA: [u8; PLACEHOLDER_AREA_BYTES] = [0; PLACEHOLDER_AREA_BYTES];

#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    #[error("{0} record placeholder(s) were not spliced")]
    Unspliced(usize),
    #[error("the encoder used the buffer in a way the splicing sink does not serve")]
    Unsupported,
}

/// One records field to splice: the placeholder's (address, length) and the batches
/// that replace it.
#[derive(Debug)]
struct Splice {
    address: usize,
    len: usize,
    batches: Vec<Bytes>,
}

/// The records fields of one response that are to be spliced rather than copied.
#[derive(Debug, Default)]
pub struct Splices {
    splices: Vec<Splice>,
}

impl Splices {
    /// The value to put in a `records` field for `batches` (in order). Small fields
    /// are concatenated (copied); larger ones get a placeholder that [`Sink`] replaces
    /// by the batches themselves.
    pub fn records(&mut self, mut batches: Vec<Bytes>) -> Bytes {
        let len: usize = batches.iter().map(Bytes::len).sum();
        if len < SPLICE_MIN_BYTES {
            return concat(batches);
        }
        let placeholder = if batches.len() == 1 {
            batches[0].clone()
        } else {
            let start = self.splices.len();
            match PLACEHOLDER_AREA.get(start..start + len) {
                Some(area) => Bytes::from_static(area),
                None => return concat(batches),
            }
        };
        batches.retain(|b| !b.is_empty());
        self.splices.push(Splice {
            address: placeholder.as_ptr() as usize,
            len,
            batches,
        });
        placeholder
    }

    /// Bytes of records that will be spliced in rather than encoded.
    pub fn spliced_bytes(&self) -> usize {
        self.splices.iter().map(|s| s.len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.splices.is_empty()
    }
}

fn concat(batches: Vec<Bytes>) -> Bytes {
    match <[Bytes; 1]>::try_from(batches) {
        Ok([one]) => one,
        Err(batches) => {
            let len = batches.iter().map(Bytes::len).sum();
            let mut out = BytesMut::with_capacity(len);
            for b in &batches {
                out.extend_from_slice(b);
            }
            out.freeze()
        }
    }
}

/// The encoder's output buffer: encoded bytes in `buf`, closed pieces and spliced
/// batches in `parts` (in order after `head`).
#[derive(Debug)]
pub struct Sink {
    /// The first piece (kept mutable: the frame's prefix is written into its headroom).
    head: Option<BytesMut>,
    parts: Vec<Bytes>,
    buf: BytesMut,
    /// Logical offset of `buf`'s first byte in the whole body.
    base: usize,
    splices: std::vec::IntoIter<Splice>,
    next: Option<Splice>,
    /// Set when the encoder used the buffer in a way this sink cannot serve.
    broken: bool,
    scratch: Vec<u8>,
}

impl Sink {
    /// A sink starting with `buf` (which may hold headroom already) that will splice
    /// `splices` in when the encoder writes their placeholders.
    pub fn new(buf: BytesMut, splices: Splices) -> Sink {
        let mut splices = splices.splices.into_iter();
        let next = splices.next();
        Sink {
            head: None,
            parts: Vec::new(),
            base: 0,
            buf,
            splices,
            next,
            broken: false,
            scratch: Vec::new(),
        }
    }

    /// The first piece (mutable) and the rest, once every placeholder was spliced.
    pub fn finish(mut self) -> Result<(BytesMut, Vec<Bytes>), GatherError> {
        let unspliced = self.splices.len() + usize::from(self.next.is_some());
        if unspliced > 0 {
            return Err(GatherError::Unspliced(unspliced));
        }
        if self.broken {
            return Err(GatherError::Unsupported);
        }
        match self.head.take() {
            None => Ok((self.buf, self.parts)),
            Some(head) => {
                if !self.buf.is_empty() {
                    self.parts.push(self.buf.freeze());
                }
                Ok((head, self.parts))
            }
        }
    }

    fn splice(&mut self, splice: Splice) {
        let piece = self.buf.split();
        self.base += piece.len();
        match self.head {
            None => self.head = Some(piece),
            Some(_) => {
                if !piece.is_empty() {
                    self.parts.push(piece.freeze());
                }
            }
        }
        self.base += splice.len;
        self.parts.extend(splice.batches);
        self.next = self.splices.next();
    }
}

// SAFETY: every method that hands out or commits uninitialised memory
// (`remaining_mut`, `advance_mut`, `chunk_mut`) is `BytesMut`'s own, called on the one
// `BytesMut` this sink writes into, so `BytesMut`'s guarantees carry over unchanged.
// `put_slice` is overridden with safe code only.
unsafe impl BufMut for Sink {
    fn remaining_mut(&self) -> usize {
        self.buf.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: forwarded as is; the caller upholds `BufMut::advance_mut`'s contract
        // for the chunk it got from `chunk_mut`, which is `self.buf`'s.
        unsafe { self.buf.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.buf.chunk_mut()
    }

    fn put_slice(&mut self, src: &[u8]) {
        let is_next = self
            .next
            .as_ref()
            .is_some_and(|s| s.address == src.as_ptr() as usize && s.len == src.len());
        match self.next.take() {
            Some(splice) if is_next => self.splice(splice),
            next => {
                self.next = next;
                self.buf.extend_from_slice(src);
            }
        }
    }
}

impl ByteBufMut for Sink {
    fn offset(&self) -> usize {
        self.base + self.buf.len()
    }

    fn seek(&mut self, offset: usize) {
        match offset.checked_sub(self.base) {
            Some(rel) => self.buf.resize(rel, 0),
            None => self.broken = true,
        }
    }

    fn range(&mut self, r: Range<usize>) -> &mut [u8] {
        let rel = r.start.checked_sub(self.base).and_then(|start| {
            let end = r.end.checked_sub(self.base)?;
            (start <= end && end <= self.buf.len()).then_some(start..end)
        });
        match rel {
            Some(rel) => &mut self.buf[rel],
            None => {
                self.broken = true;
                self.scratch.clear();
                self.scratch.resize(r.len(), 0);
                &mut self.scratch
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use kafka_protocol::messages::{FetchResponse, TopicName};
    use kafka_protocol::protocol::{Decodable as _, Encodable as _, StrBytes};

    fn batch(byte: u8, len: usize) -> Bytes {
        Bytes::from(vec![byte; len])
    }

    fn response(records: Vec<Bytes>) -> FetchResponse {
        let partitions = records
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                PartitionData::default()
                    .with_partition_index(i as i32)
                    .with_records(Some(r))
            })
            .collect();
        FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
            .with_topic(TopicName(StrBytes::from_static_str("t")))
            .with_partitions(partitions)])
    }

    fn joined(head: BytesMut, rest: Vec<Bytes>) -> Vec<u8> {
        let mut out = head.to_vec();
        for p in rest {
            out.extend_from_slice(&p);
        }
        out
    }

    #[test]
    fn spliced_encoding_equals_the_plain_encoding_in_every_version() {
        let fields = [
            vec![batch(1, 40_000)],
            vec![batch(2, 100)],
            vec![batch(3, 20_000), batch(4, 30_000), Bytes::new()],
            vec![],
            vec![batch(5, 8_000), batch(6, 9_000)],
        ];
        for version in 4..=12 {
            let plain_records: Vec<Bytes> = fields.iter().cloned().map(concat).collect();
            let mut plain = BytesMut::new();
            response(plain_records).encode(&mut plain, version).unwrap();

            let mut splices = Splices::default();
            let records: Vec<Bytes> = fields.iter().cloned().map(|b| splices.records(b)).collect();
            assert_eq!(splices.splices.len(), 3, "three fields are large enough");
            assert_eq!(splices.spliced_bytes(), 40_000 + 50_000 + 17_000);
            let mut sink = Sink::new(BytesMut::from(&b"head"[..]), splices);
            response(records).encode(&mut sink, version).unwrap();
            let (head, rest) = sink.finish().unwrap();
            assert!(head.starts_with(b"head"));
            let spliced = joined(head, rest);
            assert_eq!(&spliced[4..], &plain[..], "v{version}");
            let decoded = FetchResponse::decode(&mut Bytes::from(spliced).slice(4..), version);
            assert_eq!(decoded.unwrap().responses[0].partitions.len(), 5);
        }
    }

    #[test]
    fn a_placeholder_the_encoder_never_wrote_is_an_error() {
        let mut splices = Splices::default();
        let _unused = splices.records(vec![batch(1, 20_000), batch(2, 20_000)]);
        let mut sink = Sink::new(BytesMut::new(), splices);
        response(vec![batch(1, 40_000)])
            .encode(&mut sink, 12)
            .unwrap();
        assert!(matches!(sink.finish(), Err(GatherError::Unspliced(1))));
    }

    #[test]
    fn seeking_into_a_closed_piece_is_reported() {
        let mut splices = Splices::default();
        let records = splices.records(vec![batch(1, 20_000)]);
        let mut sink = Sink::new(BytesMut::new(), splices);
        sink.put_slice(b"abc");
        sink.put_slice(&records);
        assert_eq!(sink.offset(), 3 + 20_000);
        assert_eq!(sink.range(0..2).len(), 2);
        assert!(matches!(sink.finish(), Err(GatherError::Unsupported)));
    }
}
