//! The RESP2/RESP3 codec: client requests in, replies out. No I/O, no tokio.
//!
//! # What is here
//!
//! - [`parse_request`] / [`RequestDecoder`]: one client request (a multibulk array of
//!   bulk strings, or an inline command line) from the front of a connection's
//!   buffer. This is the server's hot path and follows Redis's own request parser
//!   (`processMultibulkBuffer` / `processInlineBuffer` in `src/networking.c`).
//! - [`Frame`] and [`Frame::encode`]: replies, written for the connection's
//!   [`Protocol`]. RESP3-only types are downgraded for RESP2 clients the way Redis 7
//!   does (map → flat array, set/push → array, double → bulk string, boolean →
//!   integer, verbatim/big number → bulk string, null → `$-1` or `*-1`).
//! - [`parse_frame`]: a full RESP2/RESP3 reply parser, for tests and our own tools.
//!
//! # Two passes: check, then parse
//!
//! Bytes arrive in arbitrary pieces. Every parser here first *checks* that a whole
//! frame is buffered, without allocating, and only then *parses* it, slicing the
//! arguments out of one frozen [`bytes::Bytes`] (no copies of bulk payloads).
//! "Incomplete" is a normal outcome (`Ok(None)`), not an error, and leaves the
//! unparsed bytes where they are. Because nothing is allocated before the check
//! succeeds, a peer cannot make us reserve memory by *announcing* a big array or
//! bulk: it has to send the bytes, and those are bounded by [`Limits`].
//!
//! ## Cost when a big request arrives in small reads
//!
//! The check never scans a bulk payload: it reads the `$<len>\r\n` header and jumps
//! over `len + 2` bytes by arithmetic. So while a 512 MiB bulk trickles in, each
//! [`parse_request`] call costs O(number of argument headers already buffered for
//! that one request), not O(bytes buffered): one large bulk is linear overall.
//!
//! [`parse_request`] itself is stateless, so a request with *many* arguments that
//! arrives in many small reads re-reads its argument headers on every call (a
//! 1M-argument request delivered in tiny pieces would be quadratic in the number of
//! headers). [`RequestDecoder`] removes that too: it remembers how far the check got
//! (the position, the arguments found, the pending bulk length, how far a line was
//! already searched for its terminator), so every buffered byte is examined a
//! bounded number of times — O(n) overall for any input. Servers should use it.
//!
//! [`parse_frame`] (replies) is stateless and re-checks a partially received
//! aggregate from its start; it is meant for tests and tools, not hot paths. Bulk
//! payloads are skipped by length there too.
//!
//! # Limits
//!
//! Every length is bounded by [`Limits`] before it is used, and negative or
//! overflowing lengths are errors:
//!
//! | limit | default | Redis equivalent | error when exceeded |
//! |---|---|---|---|
//! | `bulk_bytes_max` | 512 MiB | `proto-max-bulk-len` | `invalid bulk length` |
//! | `array_len_max` | 1 Mi elements | (Redis 7: `INT_MAX`) | `invalid multibulk length` |
//! | `inline_bytes_max` | 64 KiB | `PROTO_INLINE_MAX_SIZE` | `too big inline request`, `too big mbulk count string`, `too big bulk count string` |
//! | `buffer_bytes_max` | 1 GiB | `client-query-buffer-limit` | [`ProtocolError::QueryBufferLimit`] |
//!
//! Replies parsed by [`parse_frame`] are further limited to [`FRAME_DEPTH_MAX`]
//! levels of nesting, so parsing cannot exhaust the stack.
//!
//! # Redis error texts
//!
//! [`ProtocolError`]'s `Display` is exactly what Redis replies before it closes the
//! connection (`addReplyError` prepends `ERR `):
//!
//! | when | text |
//! |---|---|
//! | `*<n>` is not an integer (Redis's strict `string2ll`), or `n > array_len_max` | `ERR Protocol error: invalid multibulk length` |
//! | `$<n>` is not an integer, `n < 0`, or `n > bulk_bytes_max` | `ERR Protocol error: invalid bulk length` |
//! | an argument header does not start with `$` | `ERR Protocol error: expected '$', got 'x'` |
//! | no `\r` within `inline_bytes_max` bytes after `*` | `ERR Protocol error: too big mbulk count string` |
//! | no `\r` within `inline_bytes_max` bytes of an argument header | `ERR Protocol error: too big bulk count string` |
//! | an inline line longer than `inline_bytes_max` | `ERR Protocol error: too big inline request` |
//! | an inline line with unterminated quotes, or a closing quote not followed by a space | `ERR Protocol error: unbalanced quotes in request` |
//!
//! Like Redis, `*0`, `*-1` (any count `<= 0`) and empty or all-blank inline lines are
//! consumed and ignored, and the byte after a header's `\r` and the two bytes after a
//! bulk payload are skipped without being checked.
//!
//! Two deliberate differences from Redis, both to make the outcome independent of
//! how the bytes were split into reads: Redis reports "too big …" only when *no*
//! terminator is in the buffer yet (so a 100 KiB inline line that arrives in one read
//! is accepted, and one that arrives in two reads is not); we apply the limit to the
//! line itself, and search for a header's `\r` only within the first
//! `inline_bytes_max + 1` bytes.

//!
//! # Testing
//!
//! `tests/it/` holds the error-text tests, split-at-every-byte pipelines, the RESP2
//! downgrade table, and property tests that check our encoder against the
//! independent `redis-protocol` crate as an oracle. `fuzz/` has cargo-fuzz targets
//! for [`parse_request`] and [`parse_frame`] (nightly;
//! `cd crates/resp-proto/fuzz && cargo +nightly fuzz run parse_request`); it is
//! excluded from the workspace.

#![deny(clippy::indexing_slicing)]

mod frame;
mod int;
mod reply;
mod request;

pub use frame::{format_double, Frame, Protocol};
pub use int::string2ll;
pub use reply::{parse_frame, FrameError, FRAME_DEPTH_MAX};
pub use request::{parse_request, split_args, ProtocolError, RequestDecoder};

/// Bounds on what a peer can make us buffer or allocate. See the crate docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest bulk string payload (Redis `proto-max-bulk-len`, default 512 MiB).
    pub bulk_bytes_max: usize,
    /// Largest element count of an array (or pair count of a map).
    pub array_len_max: usize,
    /// Longest inline command line, and longest header line (`*<n>`, `$<n>`) or
    /// reply line (Redis `PROTO_INLINE_MAX_SIZE`, 64 KiB).
    pub inline_bytes_max: usize,
    /// Most unparsed bytes a connection may hold while a request is incomplete
    /// (Redis `client-query-buffer-limit`, default 1 GiB).
    pub buffer_bytes_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            bulk_bytes_max: 512 * 1024 * 1024,
            array_len_max: 1024 * 1024,
            inline_bytes_max: 64 * 1024,
            buffer_bytes_max: 1024 * 1024 * 1024,
        }
    }
}
