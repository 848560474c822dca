//! Client requests: multibulk (`*<n>\r\n$<len>\r\n…`) and inline (`PING\r\n`).
//!
//! Follows Redis's `processMultibulkBuffer` / `processInlineBuffer` (redis
//! `src/networking.c`); see the crate docs for the error texts and the two
//! deliberate differences.

use bytes::{Buf, Bytes, BytesMut};

use crate::int::string2ll;
use crate::Limits;

/// A malformed request. The connection cannot continue: reply with
/// `err.to_string()` as an error frame (see `impl From<&ProtocolError> for Frame`)
/// and close it, as Redis does.
///
/// `Display` is exactly Redis's reply text, `ERR ` prefix included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// `*<n>` where `n` is not a Redis integer or exceeds [`Limits::array_len_max`].
    #[error("ERR Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// `$<n>` where `n` is not a Redis integer, is negative, or exceeds
    /// [`Limits::bulk_bytes_max`].
    #[error("ERR Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An argument header that does not start with `$`. Like Redis's
    /// `addReplyErrorFormat`, the text shows `\r` / `\n` as a space.
    #[error("ERR Protocol error: expected '$', got '{}'", shown(*got))]
    ExpectedDollar {
        /// The byte found where `$` was expected.
        got: u8,
    },
    /// No `\r` within [`Limits::inline_bytes_max`] bytes after `*`.
    #[error("ERR Protocol error: too big mbulk count string")]
    TooBigMultibulkCount,
    /// No `\r` within [`Limits::inline_bytes_max`] bytes of an argument header.
    #[error("ERR Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// An inline command line longer than [`Limits::inline_bytes_max`].
    #[error("ERR Protocol error: too big inline request")]
    TooBigInlineRequest,
    /// An inline command with an unterminated quote, or a closing quote followed by
    /// something other than a space.
    #[error("ERR Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// The connection buffers more than [`Limits::buffer_bytes_max`] unparsed bytes
    /// without completing a request. (Redis closes such a client without a reply and
    /// logs "Closing client that reached max query buffer length"; we offer a text
    /// for symmetry.)
    #[error("ERR Protocol error: client reached max query buffer length ({buffered_bytes} bytes, limit {limit_bytes})")]
    QueryBufferLimit {
        /// Unparsed bytes held, or needed by the request being received.
        buffered_bytes: usize,
        /// [`Limits::buffer_bytes_max`].
        limit_bytes: usize,
    },
}

fn shown(b: u8) -> char {
    match b {
        b'\r' | b'\n' => ' ',
        _ => char::from(b),
    }
}

/// Parses ONE client request from the front of `buf`.
///
/// - `Ok(Some(args))`: the request's bytes are consumed from `buf`; `args` are
///   zero-copy slices of them (inline arguments are copied, they may be unescaped).
/// - `Ok(None)`: more bytes are needed. `buf` is untouched, except that requests
///   Redis ignores (`*0`, `*-1`, empty or blank inline lines) in front of the
///   incomplete one have been consumed.
/// - `Err(e)`: protocol error; reply with `e.to_string()` and close the connection.
///
/// Stateless: a request with many arguments that arrives in many small reads is
/// re-checked from its start on each call. Connections should prefer
/// [`RequestDecoder`], which is O(n) overall; this function is the same decoder
/// used once.
pub fn parse_request(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    RequestDecoder::new().decode(buf, limits)
}

/// A resumable [`parse_request`]: keeps how far the check of the request at the
/// front of the buffer got, so bytes are not re-examined when more arrive.
///
/// One decoder per connection. Between calls the caller may only *append* to the
/// buffer (as a socket read does); the decoder itself consumes what it returns.
/// After an error the decoder (like the connection) must not be used again.
#[derive(Debug, Default)]
pub struct RequestDecoder {
    state: State,
    /// The argument-span list of the last request, kept for the next one (one
    /// allocation per connection instead of one per request).
    spare_spans: Vec<(usize, usize)>,
}

/// Largest argument-span list kept between requests (16 KiB).
const SPARE_SPANS_MAX: usize = 1024;

#[derive(Debug, Default)]
enum State {
    /// Nothing of the request at the front of the buffer has been checked.
    #[default]
    Start,
    /// An inline request; `buf[..scanned]` holds no `\n`.
    Inline { scanned: usize },
    /// A multibulk request whose `*<n>\r\n` header has been read; `buf[..scanned]`
    /// holds no `\r`.
    MultibulkHeader { scanned: usize },
    /// A multibulk request with its count read.
    Multibulk(Multibulk),
}

#[derive(Debug)]
struct Multibulk {
    /// Arguments not yet found.
    remaining: usize,
    /// Offset of the next unread argument header or payload.
    pos: usize,
    /// The current argument's length, once its `$<len>` header has been read.
    bulk_len: Option<usize>,
    /// `buf[pos..scanned]` holds no `\r` (while searching a header's end).
    scanned: usize,
    /// (offset, length) of each argument found so far.
    args: Vec<(usize, usize)>,
}

/// What the check found at the front of the buffer.
enum Checked {
    /// A request Redis ignores; consume this many bytes.
    Skip(usize),
    /// An inline request: the line is `buf[..line_len]`, `consumed` includes the
    /// line ending.
    Inline { line_len: usize, consumed: usize },
    /// A multibulk request.
    Multibulk {
        args: Vec<(usize, usize)>,
        consumed: usize,
    },
}

impl RequestDecoder {
    /// A decoder for a new connection.
    pub fn new() -> RequestDecoder {
        RequestDecoder::default()
    }

    /// Like [`parse_request`], resuming the previous call's progress.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            let checked = match check(buf, limits, &mut self.state, &mut self.spare_spans) {
                Ok(Some(c)) => c,
                Ok(None) => {
                    if buf.len() > limits.buffer_bytes_max {
                        return Err(ProtocolError::QueryBufferLimit {
                            buffered_bytes: buf.len(),
                            limit_bytes: limits.buffer_bytes_max,
                        });
                    }
                    return Ok(None);
                }
                Err(e) => {
                    self.state = State::Start;
                    return Err(e);
                }
            };
            self.state = State::Start;
            match checked {
                Checked::Skip(n) => buf.advance(n.min(buf.len())),
                Checked::Inline { line_len, consumed } => {
                    let request = buf.split_to(consumed.min(buf.len()));
                    let line = request.get(..line_len).unwrap_or_default();
                    let args = split_args(line)?;
                    if !args.is_empty() {
                        return Ok(Some(args));
                    }
                }
                Checked::Multibulk {
                    args: mut spans,
                    consumed,
                } => {
                    let request = buf.split_to(consumed.min(buf.len())).freeze();
                    let args = spans
                        .iter()
                        .map(|&(start, len)| slice(&request, start, len))
                        .collect();
                    if spans.capacity() <= SPARE_SPANS_MAX {
                        spans.clear();
                        self.spare_spans = spans;
                    }
                    return Ok(Some(args));
                }
            }
        }
    }
}

/// `b[start..start + len]`, or empty if out of range (cannot happen: the check
/// proved the range is inside the request).
fn slice(b: &Bytes, start: usize, len: usize) -> Bytes {
    match start.checked_add(len) {
        Some(end) if end <= b.len() => b.slice(start..end),
        _ => {
            debug_assert!(
                false,
                "argument {start}+{len} outside request of {}",
                b.len()
            );
            Bytes::new()
        }
    }
}

/// The check pass: is a whole request at the front of `buf`? Never allocates more
/// than the argument list of a request whose headers are all present.
fn check(
    buf: &[u8],
    limits: &Limits,
    state: &mut State,
    spare_spans: &mut Vec<(usize, usize)>,
) -> Result<Option<Checked>, ProtocolError> {
    loop {
        match state {
            State::Start => match buf.first() {
                None => return Ok(None),
                Some(b'*') => *state = State::MultibulkHeader { scanned: 1 },
                Some(_) => *state = State::Inline { scanned: 0 },
            },
            State::Inline { scanned } => return check_inline(buf, limits, scanned),
            State::MultibulkHeader { scanned } => {
                let Some(cr) =
                    find_cr(buf, 0, scanned, limits, ProtocolError::TooBigMultibulkCount)?
                else {
                    return Ok(None);
                };
                let count = buf
                    .get(1..cr)
                    .and_then(string2ll)
                    .ok_or(ProtocolError::InvalidMultibulkLength)?;
                // Redis skips the byte after '\r' without checking it is '\n'.
                let next = cr + 2;
                if count <= 0 {
                    return Ok(Some(Checked::Skip(next)));
                }
                let count = usize::try_from(count)
                    .ok()
                    .filter(|&n| n <= limits.array_len_max)
                    .ok_or(ProtocolError::InvalidMultibulkLength)?;
                *state = State::Multibulk(Multibulk {
                    remaining: count,
                    pos: next,
                    bulk_len: None,
                    scanned: next,
                    args: {
                        let mut spans = std::mem::take(spare_spans);
                        spans.reserve(count.min(SPARE_SPANS_MAX));
                        spans
                    },
                });
            }
            State::Multibulk(mb) => return check_multibulk(buf, limits, mb),
        }
    }
}

fn check_inline(
    buf: &[u8],
    limits: &Limits,
    scanned: &mut usize,
) -> Result<Option<Checked>, ProtocolError> {
    let from = (*scanned).min(buf.len());
    let tail = buf.get(from..).unwrap_or_default();
    match tail.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let nl = from + i;
            let line_len = if nl > 0 && buf.get(nl - 1) == Some(&b'\r') {
                nl - 1
            } else {
                nl
            };
            if line_len > limits.inline_bytes_max {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            Ok(Some(Checked::Inline {
                line_len,
                consumed: nl + 1,
            }))
        }
        None => {
            *scanned = buf.len();
            // A trailing '\r' may still become part of the line ending.
            let line_len = if buf.last() == Some(&b'\r') {
                buf.len() - 1
            } else {
                buf.len()
            };
            if line_len > limits.inline_bytes_max {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            Ok(None)
        }
    }
}

/// Finds the `\r` ending the header line that starts at `start`, searching from
/// `*scanned` and remembering how far it got. `Ok(None)`: incomplete (no `\r` yet,
/// or nothing after it). The line may be at most `inline_bytes_max` bytes long.
fn find_cr(
    buf: &[u8],
    start: usize,
    scanned: &mut usize,
    limits: &Limits,
    too_big: ProtocolError,
) -> Result<Option<usize>, ProtocolError> {
    let window_end = start
        .saturating_add(limits.inline_bytes_max)
        .saturating_add(1)
        .min(buf.len());
    let from = (*scanned).max(start).min(window_end);
    let window = buf.get(from..window_end).unwrap_or_default();
    match window.iter().position(|&b| b == b'\r') {
        Some(i) => {
            let cr = from + i;
            *scanned = cr;
            // Redis wants one more byte (the '\n') buffered before it reads the line.
            if cr + 1 < buf.len() {
                Ok(Some(cr))
            } else {
                Ok(None)
            }
        }
        None => {
            *scanned = window_end;
            if buf.len().saturating_sub(start) > limits.inline_bytes_max {
                Err(too_big)
            } else {
                Ok(None)
            }
        }
    }
}

fn check_multibulk(
    buf: &[u8],
    limits: &Limits,
    mb: &mut Multibulk,
) -> Result<Option<Checked>, ProtocolError> {
    while mb.remaining > 0 {
        let len = match mb.bulk_len {
            Some(len) => len,
            None => {
                let Some(cr) = find_cr(
                    buf,
                    mb.pos,
                    &mut mb.scanned,
                    limits,
                    ProtocolError::TooBigBulkCount,
                )?
                else {
                    return Ok(None);
                };
                match buf.get(mb.pos) {
                    Some(b'$') => {}
                    Some(&got) => return Err(ProtocolError::ExpectedDollar { got }),
                    None => return Ok(None),
                }
                let len = buf
                    .get(mb.pos + 1..cr)
                    .and_then(string2ll)
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n <= limits.bulk_bytes_max)
                    .ok_or(ProtocolError::InvalidBulkLength)?;
                mb.pos = cr + 2;
                mb.bulk_len = Some(len);
                len
            }
        };
        // Payload plus the two bytes after it (Redis skips them unchecked).
        let end = mb.pos.saturating_add(len).saturating_add(2);
        if end > limits.buffer_bytes_max {
            return Err(ProtocolError::QueryBufferLimit {
                buffered_bytes: end,
                limit_bytes: limits.buffer_bytes_max,
            });
        }
        if buf.len() < end {
            return Ok(None);
        }
        mb.args.push((mb.pos, len));
        mb.pos = end;
        mb.scanned = end;
        mb.bulk_len = None;
        mb.remaining -= 1;
    }
    Ok(Some(Checked::Multibulk {
        args: std::mem::take(&mut mb.args),
        consumed: mb.pos,
    }))
}

/// Splits an inline command line into arguments exactly like Redis's
/// `sdssplitargs`: blanks separate arguments; `"…"` supports `\xHH`, `\n`, `\r`,
/// `\t`, `\b`, `\a` and `\<any>` escapes; `'…'` supports only `\'`; a closing quote
/// must be followed by a blank or the end of the line; a quote may start in the
/// middle of an argument (`a"b c"` is `ab c`). As in C, a NUL byte ends the line.
pub fn split_args(line: &[u8]) -> Result<Vec<Bytes>, ProtocolError> {
    let line = match line.iter().position(|&b| b == 0) {
        Some(n) => line.get(..n).unwrap_or_default(),
        None => line,
    };
    // The byte at `i`, with NUL standing for the end of the line, like C.
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while at(i) != 0 && is_c_space(at(i)) {
            i += 1;
        }
        if at(i) == 0 {
            return Ok(args);
        }
        let mut current = Vec::new();
        let (mut in_dq, mut in_sq, mut done) = (false, false, false);
        while !done {
            let c = at(i);
            if in_dq {
                if c == b'\\'
                    && at(i + 1) == b'x'
                    && at(i + 2).is_ascii_hexdigit()
                    && at(i + 3).is_ascii_hexdigit()
                {
                    current.push(hex_val(at(i + 2)) * 16 + hex_val(at(i + 3)));
                    i += 3;
                } else if c == b'\\' && at(i + 1) != 0 {
                    i += 1;
                    current.push(match at(i) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(i + 1) != 0 && !is_c_space(at(i + 1)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    done = true;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    current.push(c);
                }
            } else if in_sq {
                if c == b'\\' && at(i + 1) == b'\'' {
                    i += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    if at(i + 1) != 0 && !is_c_space(at(i + 1)) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    done = true;
                } else if c == 0 {
                    return Err(ProtocolError::UnbalancedQuotes);
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => current.push(c),
                }
            }
            if at(i) != 0 {
                i += 1;
            }
        }
        args.push(Bytes::from(current));
    }
}

/// C's `isspace` in the "C" locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Result<Vec<String>, ProtocolError> {
        split_args(s.as_bytes()).map(|v| {
            v.iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect()
        })
    }

    #[test]
    fn split_like_sdssplitargs() {
        let ok: &[(&str, &[&str])] = &[
            ("", &[]),
            ("   \t ", &[]),
            ("PING", &["PING"]),
            ("  set  a   b ", &["set", "a", "b"]),
            ("set \"a b\" c", &["set", "a b", "c"]),
            ("\"\\x41\\x4a\\x4A\"", &["AJJ"]),
            ("\"\\x4\"", &["x4"]),
            (
                "\"a\\nb\\r\\t\\b\\a\\\"\\\\\\q\"",
                &["a\nb\r\t\x08\x07\"\\q"],
            ),
            ("'it\\'s' 'a \"b\"'", &["it's", "a \"b\""]),
            ("'\\n'", &["\\n"]),
            ("a\"b c\" d", &["ab c", "d"]),
            ("\"\"", &[""]),
            ("''", &[""]),
            ("a\x0bb", &["a\x0bb"]),
            ("a\tb\rc", &["a", "b", "c"]),
            ("\"a\"\x0bb", &["a", "b"]),
            ("a\0b c", &["a"]),
        ];
        for (line, want) in ok {
            let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
            assert_eq!(split(line), Ok(want), "{line:?}");
        }
    }

    #[test]
    fn unbalanced_quotes() {
        for line in [
            "\"abc",
            "'abc",
            "\"abc\"def",
            "a\"b c\"d",
            "'abc'def",
            "\"abc\\",
            "\"a\0\"",
            "set \"k",
        ] {
            assert_eq!(
                split(line),
                Err(ProtocolError::UnbalancedQuotes),
                "{line:?}"
            );
        }
    }

    #[test]
    fn expected_dollar_shows_line_breaks_as_spaces() {
        assert_eq!(
            ProtocolError::ExpectedDollar { got: b'\r' }.to_string(),
            "ERR Protocol error: expected '$', got ' '"
        );
    }
}
