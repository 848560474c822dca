//! The command table and dispatch. One file per command family; each command parses
//! its arguments, applies itself through the broker, and returns its reply.

pub mod connection;
pub mod groups;
pub mod keys;
pub mod server;
pub mod streams;
pub mod strings;
pub mod transactions;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

use bytes::Bytes;

use brook_resp_proto::Frame;

use crate::conn::{Closed, Conn};

/// A command's reply, or `Closed` when the connection must close without replying.
pub type CmdResult = Result<Frame, Closed>;
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = CmdResult> + Send + 'a>>;
pub type Handler = for<'a> fn(&'a mut Conn, Vec<Bytes>) -> HandlerFuture<'a>;

/// Turns `async fn f(&mut Conn, Vec<Bytes>) -> CmdResult` into a [`Handler`].
macro_rules! handler {
    ($f:path) => {{
        fn h<'a>(
            c: &'a mut $crate::conn::Conn,
            a: Vec<bytes::Bytes>,
        ) -> $crate::cmd::HandlerFuture<'a> {
            Box::pin($f(c, a))
        }
        h as $crate::cmd::Handler
    }};
}
pub(crate) use handler;

/// A command's description: what `COMMAND INFO/DOCS` report and how to run it.
pub struct Spec {
    /// Lower case, as Redis reports it.
    pub name: &'static str,
    /// Argument count including the name; negative: at least `-arity`.
    pub arity: i32,
    pub flags: &'static [&'static str],
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    /// Subcommand names (for container commands such as `CLIENT`).
    pub subcommands: &'static [&'static str],
    /// May run before earlier appends of this connection are durable (it does not
    /// read what they wrote). Everything else waits first.
    pub deferrable: bool,
    /// A container whose subcommands read or write keys (`XGROUP`, `XINFO`): see
    /// [`Spec::uses_keys`].
    pub keyed_subcommands: bool,
    pub handler: Handler,
}

/// Every command Brook serves.
pub fn commands() -> &'static [Spec] {
    static TABLE: OnceLock<Vec<Spec>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut v = Vec::new();
        v.extend(connection::specs());
        v.extend(server::specs());
        v.extend(keys::specs());
        v.extend(streams::specs());
        v.extend(groups::specs());
        v.extend(strings::specs());
        v.extend(transactions::specs());
        v.sort_by_key(|s| s.name);
        v
    })
}

fn lookup(name: &[u8]) -> Option<&'static Spec> {
    static INDEX: OnceLock<HashMap<String, usize>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        commands()
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.to_string(), i))
            .collect()
    });
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    index.get(&lower).and_then(|&i| commands().get(i))
}

// ---- replies shared by commands -----------------------------------------------------

pub fn ok() -> Frame {
    Frame::Simple(Bytes::from_static(b"OK"))
}

/// An error reply; `msg` carries its code (`ERR ...`, `WRONGTYPE ...`).
pub fn error(msg: impl Into<String>) -> Frame {
    Frame::Error(Bytes::from(msg.into()))
}

pub fn err(msg: impl std::fmt::Display) -> Frame {
    error(format!("ERR {msg}"))
}

pub fn wrongtype() -> Frame {
    error("WRONGTYPE Operation against a key holding the wrong kind of value")
}

pub fn syntax_error() -> Frame {
    err("syntax error")
}

pub fn not_integer() -> Frame {
    err("value is not an integer or out of range")
}

/// Redis's `addReplySubcommandSyntaxError`: a container command's subcommand
/// (`sub`, as the client typed it) with arguments it does not take.
pub fn subcommand_syntax_error(container: &str, sub: &[u8]) -> Frame {
    err(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try {container} HELP.",
        String::from_utf8_lossy(sub)
    ))
}

pub fn wrong_args(name: &str) -> Frame {
    err(format!("wrong number of arguments for '{name}' command"))
}

pub fn bulk(b: impl Into<Bytes>) -> Frame {
    Frame::Bulk(b.into())
}

pub fn bulk_str(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

/// An integer argument, parsed as strictly as Redis does (`string2ll`: no `+`, no
/// leading zeros, no `-0`, no spaces).
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    brook_resp_proto::string2ll(b)
}

pub fn parse_u64(b: &[u8]) -> Option<u64> {
    parse_i64(b).and_then(|n| u64::try_from(n).ok())
}

pub fn eq(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// Commands of Redis types Brook does not store, and the type's name.
fn unsupported_type(name: &str) -> Option<&'static str> {
    const LISTS: &[&str] = &[
        "lpush",
        "rpush",
        "lpushx",
        "rpushx",
        "lpop",
        "rpop",
        "lrange",
        "llen",
        "lindex",
        "lset",
        "lrem",
        "linsert",
        "ltrim",
        "blpop",
        "brpop",
        "lmove",
        "blmove",
        "rpoplpush",
        "brpoplpush",
        "lpos",
        "lmpop",
        "blmpop",
    ];
    const HASHES: &[&str] = &[
        "hset",
        "hget",
        "hmset",
        "hmget",
        "hgetall",
        "hdel",
        "hexists",
        "hincrby",
        "hincrbyfloat",
        "hkeys",
        "hvals",
        "hlen",
        "hsetnx",
        "hstrlen",
        "hscan",
        "hrandfield",
        "hexpire",
        "hgetdel",
        "hgetex",
        "hsetex",
    ];
    const SETS: &[&str] = &[
        "sadd",
        "srem",
        "smembers",
        "sismember",
        "smismember",
        "scard",
        "spop",
        "srandmember",
        "sinter",
        "sunion",
        "sdiff",
        "sinterstore",
        "sunionstore",
        "sdiffstore",
        "smove",
        "sscan",
        "sintercard",
    ];
    const ZSETS: &[&str] = &[
        "zadd",
        "zrem",
        "zrange",
        "zrangebyscore",
        "zrevrangebyscore",
        "zrevrange",
        "zscore",
        "zincrby",
        "zcard",
        "zcount",
        "zrank",
        "zrevrank",
        "zpopmin",
        "zpopmax",
        "bzpopmin",
        "bzpopmax",
        "zrangestore",
        "zunionstore",
        "zinterstore",
        "zscan",
        "zmscore",
        "zremrangebyscore",
        "zremrangebyrank",
        "zlexcount",
        "zrangebylex",
        "zmpop",
        "bzmpop",
    ];
    const OTHER: &[(&str, &str)] = &[
        ("pfadd", "HyperLogLogs"),
        ("pfcount", "HyperLogLogs"),
        ("pfmerge", "HyperLogLogs"),
        ("geoadd", "geospatial indexes"),
        ("geosearch", "geospatial indexes"),
        ("geodist", "geospatial indexes"),
        ("setbit", "bitmaps"),
        ("getbit", "bitmaps"),
        ("bitcount", "bitmaps"),
    ];
    if LISTS.contains(&name) {
        Some("lists")
    } else if HASHES.contains(&name) {
        Some("hashes")
    } else if SETS.contains(&name) {
        Some("sets")
    } else if ZSETS.contains(&name) {
        Some("sorted sets")
    } else {
        OTHER.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }
}

fn unknown_command(args: &[Bytes]) -> Frame {
    let lower = args
        .first()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .unwrap_or_default();
    if let Some(kind) = unsupported_type(&lower) {
        return err(format!(
            "'{lower}' works on {kind}, which Brook does not store: Brook serves streams and strings only"
        ));
    }
    // Built from the raw bytes, as Redis does (`%.128s` of the name, then each
    // argument quoted while the list stays within 128 bytes).
    let mut msg: Vec<u8> = b"ERR unknown command '".to_vec();
    let name = args.first().map(|a| a.as_ref()).unwrap_or_default();
    msg.extend_from_slice(name.get(..128).unwrap_or(name));
    msg.extend_from_slice(b"', with args beginning with: ");
    let mut used = 0usize;
    for a in args.iter().skip(1) {
        if used >= 128 {
            break;
        }
        let room = 128 - used;
        let part = a.get(..room).unwrap_or(a);
        msg.push(b'\'');
        msg.extend_from_slice(part);
        msg.extend_from_slice(b"' ");
        used += part.len() + 3;
    }
    Frame::Error(Bytes::from(msg))
}

/// Checks a command against the table (existence, arity). `Err` is the reply.
pub fn check(args: &[Bytes]) -> Result<&'static Spec, Frame> {
    let name = args.first().ok_or_else(|| unknown_command(args))?;
    let spec = lookup(name).ok_or_else(|| unknown_command(args))?;
    let n = args.len() as i32;
    if (spec.arity > 0 && n != spec.arity) || (spec.arity < 0 && n < -spec.arity) {
        return Err(wrong_args(spec.name));
    }
    Ok(spec)
}

/// Runs one request: table lookup, `MULTI` queueing, durability ordering.
pub async fn dispatch(conn: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    conn.server.stats.commands.fetch_add(1, Ordering::Relaxed);
    conn.client.last_active_ms.store(
        conn.client.created.elapsed().as_millis() as u64,
        Ordering::Relaxed,
    );
    let spec = match check(&args) {
        Ok(spec) => spec,
        Err(reply) => {
            if conn.multi.is_some() {
                conn.multi_failed = true;
            }
            return Ok(reply);
        }
    };
    *conn.client.last_command.lock() = match (spec.subcommands.is_empty(), args.get(1)) {
        (false, Some(sub)) => format!(
            "{}|{}",
            spec.name,
            String::from_utf8_lossy(sub).to_ascii_lowercase()
        ),
        _ => spec.name.to_string(),
    };
    if conn.multi.is_some()
        && !matches!(
            spec.name,
            "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
        )
    {
        if let Some(queue) = conn.multi.as_mut() {
            // Kept until EXEC: not as views of the read buffer.
            queue.push(detach(args));
        }
        return Ok(Frame::Simple(Bytes::from_static(b"QUEUED")));
    }
    // A command that may block (flag `blocking`: XREAD, XREADGROUP, WAIT, WAITAOF)
    // must not keep its request's read buffer (16 KiB or more) while it waits; other
    // commands use their arguments as views (no copy).
    let args = if spec.flags.contains(&"blocking") {
        detach(args)
    } else {
        args
    };
    run(conn, spec, args).await
}

/// Copies of `args` that share nothing with the buffer they were read from. Takes
/// `args` by value so that the views are gone when it returns (a binding kept in
/// the caller's async state would keep them for as long as the command runs).
fn detach(args: Vec<Bytes>) -> Vec<Bytes> {
    args.iter().map(|a| Bytes::copy_from_slice(a)).collect()
}

/// Runs a checked command (also used by `EXEC`).
pub async fn run(conn: &mut Conn, spec: &'static Spec, args: Vec<Bytes>) -> CmdResult {
    if !spec.deferrable {
        conn.settle_durability().await?;
    }
    let gated = spec.uses_keys() && conn.take_gate().await;
    let started = std::time::Instant::now();
    conn.counting_reads = spec.flags.contains(&"readonly");
    let reply = (spec.handler)(conn, args).await;
    conn.counting_reads = false;
    conn.server.observe_command(spec.name, started.elapsed());
    if gated {
        conn.release_gate();
    }
    reply
}

/// Builds a [`Spec`]; `keys` is (first, last, step) as in `COMMAND INFO`.
#[allow(clippy::too_many_arguments)]
pub fn spec(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    handler: Handler,
) -> Spec {
    Spec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        group,
        since,
        summary,
        subcommands: &[],
        deferrable: false,
        keyed_subcommands: false,
        handler,
    }
}

impl Spec {
    pub fn deferrable(mut self) -> Spec {
        self.deferrable = true;
        self
    }

    /// Whether the command reads or writes keys (and so may not run in the middle
    /// of an `EXEC`).
    pub fn uses_keys(&self) -> bool {
        self.keyed_subcommands
            || self
                .flags
                .iter()
                .any(|f| matches!(*f, "write" | "readonly"))
    }

    /// A container whose subcommands read or write keys (their flags, as Redis
    /// reports them, are on the subcommands, not on the container).
    pub fn with_keyed_subcommands(mut self, subcommands: &'static [&'static str]) -> Spec {
        self.keyed_subcommands = true;
        self.with_subcommands(subcommands)
    }

    pub fn with_subcommands(mut self, subcommands: &'static [&'static str]) -> Spec {
        self.subcommands = subcommands;
        self
    }
}
