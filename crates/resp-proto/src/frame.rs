//! Reply frames and their encoding for RESP2 and RESP3.

use std::fmt::Write as _;

use bytes::{BufMut, Bytes, BytesMut};

/// The protocol version a connection speaks (`HELLO 2` / `HELLO 3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// RESP2, the default for new connections.
    #[default]
    Resp2,
    /// RESP3.
    Resp3,
}

/// A reply (server → client).
///
/// RESP3 types are downgraded when encoding for RESP2 the way Redis 7 does; see
/// each variant. [`crate::parse_frame`] returns these too, for any RESP2/RESP3 input.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+OK`. Must not contain `\r` or `\n`; the encoder replaces them with spaces.
    Simple(Bytes),
    /// `-ERR unknown command`: the full text, including the code prefix. The
    /// encoder replaces `\r` and `\n` with spaces, as Redis's `addReplyErrorFormat`.
    Error(Bytes),
    /// `:1`
    Integer(i64),
    /// `$3\r\nfoo`
    Bulk(Bytes),
    /// The null bulk string. RESP2: `$-1`; RESP3: `_`.
    Null,
    /// The null array. RESP2: `*-1`; RESP3: `_`.
    NullArray,
    /// `*<n>`
    Array(Vec<Frame>),
    /// RESP3 `%<n>`; RESP2: a flat array `k, v, k, v, …` of `2n` elements.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~<n>`; RESP2: an array.
    Set(Vec<Frame>),
    /// RESP3 `,<d>`; RESP2: a bulk string. Both formatted by [`format_double`].
    Double(f64),
    /// RESP3 `#t` / `#f`; RESP2: the integer 1 / 0.
    Boolean(bool),
    /// RESP3 `=<len>\r\ntxt:<text>`; RESP2: a bulk string of `text`.
    Verbatim {
        /// The three-byte format, e.g. `*b"txt"` or `*b"mkd"`.
        format: [u8; 3],
        /// The text, without the `fmt:` prefix.
        text: Bytes,
    },
    /// RESP3 `(<digits>`; RESP2: a bulk string. Must not contain `\r` or `\n`; the
    /// encoder replaces them with spaces.
    BigNumber(Bytes),
    /// RESP3 `><n>` (out-of-band data such as pub/sub messages); RESP2: an array.
    Push(Vec<Frame>),
}

impl Frame {
    /// `+OK`
    pub fn ok() -> Frame {
        Frame::Simple(Bytes::from_static(b"OK"))
    }

    /// `+PONG`
    pub fn pong() -> Frame {
        Frame::Simple(Bytes::from_static(b"PONG"))
    }

    /// A simple string (`+…`).
    pub fn simple(s: impl Into<Bytes>) -> Frame {
        Frame::Simple(s.into())
    }

    /// An error with its full text, code prefix included:
    /// `Frame::error("ERR unknown command 'FOO'")`,
    /// `Frame::error("WRONGTYPE Operation against a key holding the wrong kind of value")`.
    pub fn error(text: impl Into<Bytes>) -> Frame {
        Frame::Error(text.into())
    }

    /// An integer.
    pub fn integer(n: i64) -> Frame {
        Frame::Integer(n)
    }

    /// A bulk string.
    pub fn bulk(b: impl Into<Bytes>) -> Frame {
        Frame::Bulk(b.into())
    }

    /// A bulk string, or the null bulk string for `None`.
    pub fn bulk_or_null(b: Option<impl Into<Bytes>>) -> Frame {
        b.map_or(Frame::Null, |b| Frame::Bulk(b.into()))
    }

    /// An array.
    pub fn array(items: Vec<Frame>) -> Frame {
        Frame::Array(items)
    }

    /// An array of bulk strings.
    pub fn bulk_array<I, B>(items: I) -> Frame
    where
        I: IntoIterator<Item = B>,
        B: Into<Bytes>,
    {
        Frame::Array(items.into_iter().map(|b| Frame::Bulk(b.into())).collect())
    }

    /// A verbatim string of format `txt`.
    pub fn verbatim_text(text: impl Into<Bytes>) -> Frame {
        Frame::Verbatim {
            format: *b"txt",
            text: text.into(),
        }
    }

    /// Appends this frame's wire form for `proto` to `out`.
    pub fn encode(&self, proto: Protocol, out: &mut BytesMut) {
        match self {
            Frame::Simple(s) => put_line(out, b'+', s),
            Frame::Error(e) => put_line(out, b'-', e),
            Frame::Integer(n) => put_header(out, b':', *n),
            Frame::Bulk(b) => put_bulk(out, b),
            Frame::Null => match proto {
                Protocol::Resp2 => out.put_slice(b"$-1\r\n"),
                Protocol::Resp3 => out.put_slice(b"_\r\n"),
            },
            Frame::NullArray => match proto {
                Protocol::Resp2 => out.put_slice(b"*-1\r\n"),
                Protocol::Resp3 => out.put_slice(b"_\r\n"),
            },
            Frame::Array(items) => put_aggregate(out, b'*', items, proto),
            Frame::Set(items) => {
                let prefix = match proto {
                    Protocol::Resp2 => b'*',
                    Protocol::Resp3 => b'~',
                };
                put_aggregate(out, prefix, items, proto);
            }
            Frame::Push(items) => {
                let prefix = match proto {
                    Protocol::Resp2 => b'*',
                    Protocol::Resp3 => b'>',
                };
                put_aggregate(out, prefix, items, proto);
            }
            Frame::Map(pairs) => {
                match proto {
                    Protocol::Resp2 => put_len(out, b'*', pairs.len().saturating_mul(2)),
                    Protocol::Resp3 => put_len(out, b'%', pairs.len()),
                }
                for (k, v) in pairs {
                    k.encode(proto, out);
                    v.encode(proto, out);
                }
            }
            Frame::Double(d) => {
                let text = format_double(*d);
                match proto {
                    Protocol::Resp2 => put_bulk(out, text.as_bytes()),
                    Protocol::Resp3 => put_line(out, b',', text.as_bytes()),
                }
            }
            Frame::Boolean(b) => match proto {
                Protocol::Resp2 => out.put_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
                Protocol::Resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            },
            Frame::Verbatim { format, text } => match proto {
                Protocol::Resp2 => put_bulk(out, text),
                Protocol::Resp3 => {
                    put_len(out, b'=', text.len().saturating_add(4));
                    out.put_slice(format);
                    out.put_u8(b':');
                    out.put_slice(text);
                    out.put_slice(b"\r\n");
                }
            },
            Frame::BigNumber(n) => match proto {
                Protocol::Resp2 => put_bulk(out, n),
                Protocol::Resp3 => put_line(out, b'(', n),
            },
        }
    }

    /// This frame's wire form for `proto`, in a new buffer.
    pub fn to_bytes(&self, proto: Protocol) -> BytesMut {
        let mut out = BytesMut::new();
        self.encode(proto, &mut out);
        out
    }
}

impl From<&crate::ProtocolError> for Frame {
    /// The error reply Redis sends before closing the connection.
    fn from(e: &crate::ProtocolError) -> Frame {
        Frame::Error(Bytes::from(e.to_string()))
    }
}

/// `<prefix><text>\r\n`, with any `\r` / `\n` in `text` replaced by spaces so the
/// line cannot break the protocol.
fn put_line(out: &mut BytesMut, prefix: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(prefix);
    if text.iter().any(|&b| b == b'\r' || b == b'\n') {
        out.extend(
            text.iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
    } else {
        out.put_slice(text);
    }
    out.put_slice(b"\r\n");
}

fn put_header(out: &mut BytesMut, prefix: u8, n: i64) {
    out.put_u8(prefix);
    // Writing into a BytesMut grows it and cannot fail.
    let _ = write!(out, "{n}");
    out.put_slice(b"\r\n");
}

fn put_len(out: &mut BytesMut, prefix: u8, n: usize) {
    out.put_u8(prefix);
    let _ = write!(out, "{n}");
    out.put_slice(b"\r\n");
}

fn put_bulk(out: &mut BytesMut, b: &[u8]) {
    out.reserve(b.len() + 16);
    put_len(out, b'$', b.len());
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

fn put_aggregate(out: &mut BytesMut, prefix: u8, items: &[Frame], proto: Protocol) {
    put_len(out, prefix, items.len());
    for item in items {
        item.encode(proto, out);
    }
}

/// Formats a double exactly like Redis 7.2's `d2string` (redis `src/util.c`):
/// `nan`, `inf`, `-inf`, `0` / `-0`; integral values within ±2^62 as integers
/// (`3.0` → `"3"`); anything else in the shortest form that reads back to the same
/// value, laid out like Redis's `fpconv_dtoa` (`1.5`, `0.001`, `1e-7`, `1.5e+300`).
pub fn format_double(d: f64) -> String {
    if d.is_nan() {
        return "nan".to_owned();
    }
    if d.is_infinite() {
        return if d < 0.0 { "-inf" } else { "inf" }.to_owned();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // double2ll: integral and within (LLONG_MAX / 2) in magnitude.
    let ll_lim = (i64::MAX / 2) as f64;
    if (-ll_lim..=ll_lim).contains(&d) && d.fract() == 0.0 {
        // Integral and within range, so the conversion is exact.
        return (d as i64).to_string();
    }
    fpconv_layout(d)
}

/// Redis's `fpconv_dtoa` layout, fed with Rust's shortest round-trip digits.
fn fpconv_layout(d: f64) -> String {
    // `{:e}` prints the shortest digits that round-trip: "1.2345e-7".
    let sci = format!("{:e}", d.abs());
    let (mantissa, exp10) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp10: i64 = exp10.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let ndigits = digits.len() as i64;
    // value = digits * 10^k
    let k = exp10 - (ndigits - 1);
    let exp = (k + ndigits - 1).abs();

    let mut s = String::with_capacity(24);
    if d < 0.0 {
        s.push('-');
    }
    if k >= 0 && exp < ndigits + 7 {
        // Plain integer: digits then k zeros.
        s.push_str(&digits);
        s.extend(std::iter::repeat_n('0', k.unsigned_abs() as usize));
    } else if k < 0 && (k > -7 || exp < 4) {
        // Decimal without exponent.
        let offset = ndigits - k.abs();
        if offset <= 0 {
            s.push_str("0.");
            s.extend(std::iter::repeat_n('0', offset.unsigned_abs() as usize));
            s.push_str(&digits);
        } else {
            let (int_part, frac_part) = digits.split_at(offset.unsigned_abs() as usize);
            s.push_str(int_part);
            s.push('.');
            s.push_str(frac_part);
        }
    } else {
        // Scientific: d[.ddd]e(+|-)x[x[x]]
        let mut chars = digits.chars();
        if let Some(first) = chars.next() {
            s.push(first);
        }
        let rest: String = chars.collect();
        if !rest.is_empty() {
            s.push('.');
            s.push_str(&rest);
        }
        s.push('e');
        s.push(if k + ndigits - 1 < 0 { '-' } else { '+' });
        let _ = write!(s, "{exp}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::format_double;

    #[test]
    fn doubles_format_like_redis() {
        let cases: &[(f64, &str)] = &[
            (1.5, "1.5"),
            (3.0, "3"),
            (-3.0, "-3"),
            (0.0, "0"),
            (-0.0, "-0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (0.1, "0.1"),
            (-0.25, "-0.25"),
            (0.001, "0.001"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-10, "1.5e-10"),
            (123456.789, "123456.789"),
            (2.71, "2.71"),
            (1e20, "1e+20"),
            (1.5e300, "1.5e+300"),
            (-2.5e-300, "-2.5e-300"),
            (4611686018427387904.0, "4611686018427387904"),
            (9.223372036854776e18, "9223372036854776000"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (1.0e15 + 0.5, "1000000000000000.5"),
        ];
        for &(d, want) in cases {
            assert_eq!(format_double(d), want, "{d:?}");
        }
    }

    #[test]
    fn formatted_doubles_read_back_exactly() {
        for d in [0.1, 1.0 / 3.0, 2.0f64.powi(70), 1e-5, 123.456e-9, -7.77e123] {
            let s = format_double(d);
            assert_eq!(s.parse::<f64>().ok(), Some(d), "{s}");
        }
    }
}
