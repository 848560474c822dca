//! A full RESP2/RESP3 frame parser (replies), for tests and tools.
//!
//! One grammar, run twice: first in check mode (no allocation; "incomplete" is a
//! normal outcome), then, once the whole frame is known to be buffered, in build
//! mode over a frozen copy-free `Bytes` of exactly that frame.

use bytes::{Bytes, BytesMut};

use crate::int::string2ll;
use crate::{Frame, Limits};

/// How deeply aggregates (arrays, maps, sets, pushes, attributes) may nest in a
/// frame given to [`parse_frame`]. Keeps parsing (and dropping) off the end of the
/// stack.
pub const FRAME_DEPTH_MAX: usize = 128;

/// A malformed RESP2/RESP3 frame. `offset` is the byte offset of the offending
/// line or type byte from the start of the frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The type byte is not a RESP2/RESP3 type.
    #[error("unknown RESP type byte 0x{byte:02x} at offset {offset}")]
    UnknownType {
        /// The type byte.
        byte: u8,
        /// Where it is.
        offset: usize,
    },
    /// A length or count that is not an integer, or negative where that is not
    /// allowed (only `$-1` and `*-1` are).
    #[error("invalid length at offset {offset}")]
    InvalidLength {
        /// Where the line starts.
        offset: usize,
    },
    /// A length above the [`Limits`].
    #[error("length {len} at offset {offset} exceeds the limit of {limit}")]
    TooLong {
        /// The announced length or count.
        len: usize,
        /// The limit it exceeds.
        limit: usize,
        /// Where the line starts.
        offset: usize,
    },
    /// A line without `\r\n` within [`Limits::inline_bytes_max`] bytes, or with a
    /// `\r` not followed by `\n`.
    #[error("line at offset {offset} is not terminated by CRLF within {limit} bytes")]
    BadLine {
        /// Where the line starts.
        offset: usize,
        /// [`Limits::inline_bytes_max`].
        limit: usize,
    },
    /// A bulk payload not followed by `\r\n`.
    #[error("payload at offset {offset} is not followed by CRLF")]
    MissingCrlf {
        /// Where the payload ends.
        offset: usize,
    },
    /// An integer (`:`) that does not fit in `i64` or is not a number.
    #[error("invalid integer at offset {offset}")]
    InvalidInteger {
        /// Where the line starts.
        offset: usize,
    },
    /// A double (`,`) that is not a number, `inf`, `-inf` or `nan`.
    #[error("invalid double at offset {offset}")]
    InvalidDouble {
        /// Where the line starts.
        offset: usize,
    },
    /// A boolean (`#`) other than `t` or `f`.
    #[error("invalid boolean at offset {offset}")]
    InvalidBoolean {
        /// Where the line starts.
        offset: usize,
    },
    /// A null (`_`) with content, or a big number (`(`) that is not digits.
    #[error("invalid {what} at offset {offset}")]
    InvalidScalar {
        /// "null" or "big number".
        what: &'static str,
        /// Where the line starts.
        offset: usize,
    },
    /// A verbatim string shorter than 4 bytes or without `:` after the format.
    #[error("invalid verbatim string at offset {offset}")]
    InvalidVerbatim {
        /// Where the payload starts.
        offset: usize,
    },
    /// RESP3 streamed strings and aggregates (`$?`, `*?`, …) are not supported.
    #[error("streamed RESP3 types are not supported (offset {offset})")]
    Streamed {
        /// Where the line starts.
        offset: usize,
    },
    /// Aggregates nested deeper than [`FRAME_DEPTH_MAX`].
    #[error("frame nested deeper than {FRAME_DEPTH_MAX} levels at offset {offset}")]
    TooDeep {
        /// Where the too-deep aggregate starts.
        offset: usize,
    },
    /// More than [`Limits::buffer_bytes_max`] bytes buffered without a whole frame.
    #[error("incomplete frame of more than {limit_bytes} bytes")]
    BufferLimit {
        /// [`Limits::buffer_bytes_max`].
        limit_bytes: usize,
    },
    /// The build pass failed where the check pass succeeded (a bug in this crate).
    #[error("internal error: check and parse disagree")]
    CheckParseMismatch,
}

/// Parses one RESP2 or RESP3 frame from the front of `buf`.
///
/// `Ok(Some(frame))` consumes it; `Ok(None)` means more bytes are needed (`buf` is
/// untouched). RESP2 `$-1` parses as [`Frame::Null`], `*-1` as
/// [`Frame::NullArray`], RESP3 `_` as [`Frame::Null`]; blob errors (`!`) as
/// [`Frame::Error`]. RESP3 attributes (`|`) are read and discarded, returning the
/// frame they annotate. Streamed types are rejected.
pub fn parse_frame(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Frame>, FrameError> {
    let end = {
        let mut cur = Cursor { buf, pos: 0 };
        match frame(&mut cur, None, limits, 0) {
            Ok(_) => cur.pos,
            Err(Step::Incomplete) => {
                if buf.len() > limits.buffer_bytes_max {
                    return Err(FrameError::BufferLimit {
                        limit_bytes: limits.buffer_bytes_max,
                    });
                }
                return Ok(None);
            }
            Err(Step::Invalid(e)) => return Err(e),
        }
    };
    if end > buf.len() {
        return Err(FrameError::CheckParseMismatch);
    }
    let bytes = buf.split_to(end).freeze();
    let mut cur = Cursor {
        buf: &bytes,
        pos: 0,
    };
    match frame(&mut cur, Some(&bytes), limits, 0) {
        Ok(f) => Ok(Some(f)),
        Err(Step::Incomplete) => Err(FrameError::CheckParseMismatch),
        Err(Step::Invalid(e)) => Err(e),
    }
}

enum Step {
    Incomplete,
    Invalid(FrameError),
}

impl From<FrameError> for Step {
    fn from(e: FrameError) -> Step {
        Step::Invalid(e)
    }
}

type R<T> = Result<T, Step>;

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> R<u8> {
        let b = *self.buf.get(self.pos).ok_or(Step::Incomplete)?;
        self.pos += 1;
        Ok(b)
    }

    /// The next line's (start, end), excluding its `\r\n`, which is consumed.
    fn line(&mut self, limits: &Limits) -> R<(usize, usize)> {
        let start = self.pos;
        let window_end = start
            .saturating_add(limits.inline_bytes_max)
            .saturating_add(1)
            .min(self.buf.len());
        let window = self.buf.get(start..window_end).unwrap_or_default();
        let bad = || {
            Step::Invalid(FrameError::BadLine {
                offset: start,
                limit: limits.inline_bytes_max,
            })
        };
        match window.iter().position(|&b| b == b'\r') {
            Some(i) => {
                let cr = start + i;
                match self.buf.get(cr + 1) {
                    None => Err(Step::Incomplete),
                    Some(b'\n') => {
                        self.pos = cr + 2;
                        Ok((start, cr))
                    }
                    Some(_) => Err(bad()),
                }
            }
            None if self.buf.len().saturating_sub(start) > limits.inline_bytes_max => Err(bad()),
            None => Err(Step::Incomplete),
        }
    }

    fn line_bytes(&mut self, limits: &Limits) -> R<(usize, &[u8])> {
        let (start, end) = self.line(limits)?;
        Ok((start, self.buf.get(start..end).unwrap_or_default()))
    }

    /// `len` payload bytes followed by `\r\n`; returns the payload's start.
    fn payload(&mut self, len: usize) -> R<usize> {
        let start = self.pos;
        let end = start.checked_add(len).ok_or(Step::Incomplete)?;
        match self.buf.get(end..end.saturating_add(2)) {
            Some(b"\r\n") => {
                self.pos = end + 2;
                Ok(start)
            }
            Some(_) => Err(Step::Invalid(FrameError::MissingCrlf { offset: end })),
            None if self.buf.get(end).is_some_and(|&b| b != b'\r') => {
                Err(Step::Invalid(FrameError::MissingCrlf { offset: end }))
            }
            None => Err(Step::Incomplete),
        }
    }
}

/// `src[start..start + len]` in build mode; empty `Bytes` in check mode.
fn bytes_at(src: Option<&Bytes>, start: usize, len: usize) -> R<Bytes> {
    let Some(src) = src else {
        return Ok(Bytes::new());
    };
    match start.checked_add(len) {
        Some(end) if end <= src.len() => Ok(src.slice(start..end)),
        _ => Err(Step::Invalid(FrameError::CheckParseMismatch)),
    }
}

/// A length line: `Ok(None)` for `-1` when `nullable`.
fn length(cur: &mut Cursor<'_>, limits: &Limits, limit: usize, nullable: bool) -> R<Option<usize>> {
    let (offset, line) = cur.line_bytes(limits)?;
    if line == b"?" {
        return Err(Step::Invalid(FrameError::Streamed { offset }));
    }
    let n = string2ll(line).ok_or(Step::Invalid(FrameError::InvalidLength { offset }))?;
    if n == -1 && nullable {
        return Ok(None);
    }
    let n = usize::try_from(n).map_err(|_| Step::Invalid(FrameError::InvalidLength { offset }))?;
    if n > limit {
        return Err(Step::Invalid(FrameError::TooLong {
            len: n,
            limit,
            offset,
        }));
    }
    Ok(Some(n))
}

/// Reads `count` frames; collects them in build mode.
fn elements(
    cur: &mut Cursor<'_>,
    src: Option<&Bytes>,
    limits: &Limits,
    depth: usize,
    count: usize,
) -> R<Vec<Frame>> {
    let mut items = Vec::new();
    if src.is_some() {
        // The check pass proved `count` frames (>= 3 bytes each) are buffered.
        items.reserve(count.min(cur.buf.len() / 3));
    }
    for _ in 0..count {
        let f = frame(cur, src, limits, depth + 1)?;
        if src.is_some() {
            items.push(f);
        }
    }
    Ok(items)
}

fn pairs(
    cur: &mut Cursor<'_>,
    src: Option<&Bytes>,
    limits: &Limits,
    depth: usize,
    count: usize,
) -> R<Vec<(Frame, Frame)>> {
    let mut items = Vec::new();
    if src.is_some() {
        items.reserve(count.min(cur.buf.len() / 6));
    }
    for _ in 0..count {
        let k = frame(cur, src, limits, depth + 1)?;
        let v = frame(cur, src, limits, depth + 1)?;
        if src.is_some() {
            items.push((k, v));
        }
    }
    Ok(items)
}

/// The grammar. `src` is `None` in check mode (frames returned are placeholders)
/// and the frozen frame bytes in build mode.
fn frame(cur: &mut Cursor<'_>, src: Option<&Bytes>, limits: &Limits, depth: usize) -> R<Frame> {
    let offset = cur.pos;
    if depth > FRAME_DEPTH_MAX {
        return Err(Step::Invalid(FrameError::TooDeep { offset }));
    }
    let kind = cur.byte()?;
    let f = match kind {
        b'+' | b'-' | b'(' => {
            let (start, end) = cur.line(limits)?;
            let b = bytes_at(src, start, end - start)?;
            match kind {
                b'+' => Frame::Simple(b),
                b'-' => Frame::Error(b),
                _ => {
                    let digits = cur.buf.get(start..end).unwrap_or_default();
                    let digits = digits.strip_prefix(b"-").unwrap_or(digits);
                    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                        return Err(Step::Invalid(FrameError::InvalidScalar {
                            what: "big number",
                            offset: start,
                        }));
                    }
                    Frame::BigNumber(b)
                }
            }
        }
        b':' => {
            let (start, line) = cur.line_bytes(limits)?;
            let n = string2ll(line)
                .ok_or(Step::Invalid(FrameError::InvalidInteger { offset: start }))?;
            Frame::Integer(n)
        }
        b',' => {
            let (start, line) = cur.line_bytes(limits)?;
            let d = std::str::from_utf8(line)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .ok_or(Step::Invalid(FrameError::InvalidDouble { offset: start }))?;
            Frame::Double(d)
        }
        b'#' => {
            let (start, line) = cur.line_bytes(limits)?;
            match line {
                b"t" => Frame::Boolean(true),
                b"f" => Frame::Boolean(false),
                _ => return Err(Step::Invalid(FrameError::InvalidBoolean { offset: start })),
            }
        }
        b'_' => {
            let (start, line) = cur.line_bytes(limits)?;
            if !line.is_empty() {
                return Err(Step::Invalid(FrameError::InvalidScalar {
                    what: "null",
                    offset: start,
                }));
            }
            Frame::Null
        }
        b'$' | b'!' | b'=' => {
            let nullable = kind == b'$';
            let Some(len) = length(cur, limits, limits.bulk_bytes_max, nullable)? else {
                return Ok(Frame::Null);
            };
            let start = cur.payload(len)?;
            match kind {
                b'$' => Frame::Bulk(bytes_at(src, start, len)?),
                b'!' => Frame::Error(bytes_at(src, start, len)?),
                _ => {
                    let bad = || Step::Invalid(FrameError::InvalidVerbatim { offset: start });
                    if len < 4 {
                        return Err(bad());
                    }
                    let format: [u8; 3] = cur
                        .buf
                        .get(start..start + 3)
                        .and_then(|f| f.try_into().ok())
                        .ok_or_else(bad)?;
                    if cur.buf.get(start + 3) != Some(&b':') {
                        return Err(bad());
                    }
                    Frame::Verbatim {
                        format,
                        text: bytes_at(src, start + 4, len - 4)?,
                    }
                }
            }
        }
        b'*' | b'~' | b'>' => {
            let nullable = kind == b'*';
            let Some(count) = length(cur, limits, limits.array_len_max, nullable)? else {
                return Ok(Frame::NullArray);
            };
            let items = elements(cur, src, limits, depth, count)?;
            match kind {
                b'*' => Frame::Array(items),
                b'~' => Frame::Set(items),
                _ => Frame::Push(items),
            }
        }
        b'%' => {
            let count = length(cur, limits, limits.array_len_max, false)?.unwrap_or(0);
            Frame::Map(pairs(cur, src, limits, depth, count)?)
        }
        b'|' => {
            // Attributes: read and drop, then the frame they annotate.
            let count = length(cur, limits, limits.array_len_max, false)?.unwrap_or(0);
            pairs(cur, None, limits, depth, count)?;
            frame(cur, src, limits, depth + 1)?
        }
        byte => return Err(Step::Invalid(FrameError::UnknownType { byte, offset })),
    };
    Ok(f)
}
