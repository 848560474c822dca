//! Keyspace commands over streams: DEL, UNLINK, EXISTS, TYPE, OBJECT, KEYS, SCAN,
//! RENAME, RENAMENX, DBSIZE, FLUSHDB, FLUSHALL.

use bytes::Bytes;

use brook_broker::{TopicError, TopicKey};
use brook_resp_proto::Frame;

use super::{
    bulk, eq, err, handler, not_integer, ok, parse_u64, spec, syntax_error, CmdResult, Spec,
};
use crate::conn::Conn;
use crate::glob;
use crate::keyspace::Key;

pub fn specs() -> Vec<Spec> {
    vec![
        spec(
            "del",
            -2,
            &["write"],
            (1, -1, 1),
            "generic",
            "1.0.0",
            "Deletes one or more keys.",
            handler!(del),
        ),
        spec(
            "unlink",
            -2,
            &["write", "fast"],
            (1, -1, 1),
            "generic",
            "4.0.0",
            "Asynchronously deletes one or more keys.",
            handler!(del),
        ),
        spec(
            "exists",
            -2,
            &["readonly", "fast"],
            (1, -1, 1),
            "generic",
            "1.0.0",
            "Determines whether one or more keys exist.",
            handler!(exists),
        ),
        spec(
            "object",
            -2,
            &[],
            (0, 0, 0),
            "generic",
            "2.2.3",
            "A container for object introspection commands.",
            handler!(object),
        )
        .with_subcommands(&["encoding", "freq", "idletime", "refcount", "help"]),
        spec(
            "type",
            2,
            &["readonly", "fast"],
            (1, 1, 1),
            "generic",
            "1.0.0",
            "Determines the type of value stored at a key.",
            handler!(type_),
        ),
        spec(
            "keys",
            2,
            &["readonly"],
            (0, 0, 0),
            "generic",
            "1.0.0",
            "Returns all key names that match a pattern.",
            handler!(keys),
        ),
        spec(
            "scan",
            -2,
            &["readonly"],
            (0, 0, 0),
            "generic",
            "2.8.0",
            "Iterates over the key names in the database.",
            handler!(scan),
        ),
        spec(
            "rename",
            3,
            &["write"],
            (1, 2, 1),
            "generic",
            "1.0.0",
            "Renames a key and overwrites the destination.",
            handler!(rename),
        ),
        spec(
            "renamenx",
            3,
            &["write", "fast"],
            (1, 2, 1),
            "generic",
            "1.0.0",
            "Renames a key only when the target key name doesn't exist.",
            handler!(renamenx),
        ),
        spec(
            "dbsize",
            1,
            &["readonly", "fast"],
            (0, 0, 0),
            "server",
            "1.0.0",
            "Returns the number of keys in the database.",
            handler!(dbsize),
        ),
        spec(
            "flushdb",
            -1,
            &["write"],
            (0, 0, 0),
            "server",
            "1.0.0",
            "Removes all keys from the current database.",
            handler!(flushdb),
        ),
        spec(
            "flushall",
            -1,
            &["write"],
            (0, 0, 0),
            "server",
            "1.0.0",
            "Removes all keys from all databases.",
            handler!(flushall),
        ),
        spec(
            "expire",
            -3,
            &["write", "fast"],
            (1, 1, 1),
            "generic",
            "1.0.0",
            "Sets the expiration time of a key in seconds.",
            handler!(expire),
        ),
        spec(
            "pexpire",
            -3,
            &["write", "fast"],
            (1, 1, 1),
            "generic",
            "2.6.0",
            "Sets the expiration time of a key in milliseconds.",
            handler!(pexpire),
        ),
        spec(
            "expireat",
            -3,
            &["write", "fast"],
            (1, 1, 1),
            "generic",
            "1.2.0",
            "Sets the expiration time of a key to a Unix timestamp.",
            handler!(expireat),
        ),
        spec(
            "pexpireat",
            -3,
            &["write", "fast"],
            (1, 1, 1),
            "generic",
            "2.6.0",
            "Sets the expiration time of a key to a Unix milliseconds timestamp.",
            handler!(pexpireat),
        ),
        spec(
            "ttl",
            2,
            &["readonly", "fast"],
            (1, 1, 1),
            "generic",
            "1.0.0",
            "Returns the expiration time in seconds of a key.",
            handler!(ttl),
        ),
        spec(
            "pttl",
            2,
            &["readonly", "fast"],
            (1, 1, 1),
            "generic",
            "2.6.0",
            "Returns the expiration time in milliseconds of a key.",
            handler!(pttl),
        ),
        spec(
            "expiretime",
            2,
            &["readonly", "fast"],
            (1, 1, 1),
            "generic",
            "7.0.0",
            "Returns the expiration time of a key as a Unix timestamp.",
            handler!(expiretime),
        ),
        spec(
            "pexpiretime",
            2,
            &["readonly", "fast"],
            (1, 1, 1),
            "generic",
            "7.0.0",
            "Returns the expiration time of a key as a Unix milliseconds timestamp.",
            handler!(pexpiretime),
        ),
        spec(
            "persist",
            2,
            &["write", "fast"],
            (1, 1, 1),
            "generic",
            "2.2.0",
            "Removes the expiration time of a key.",
            handler!(persist),
        ),
    ]
}

fn topic_error(e: TopicError) -> Frame {
    err(e)
}

pub async fn delete_key(c: &mut Conn, key: &Bytes) -> Result<bool, Frame> {
    match c.lookup(key) {
        Key::Missing => Ok(false),
        Key::Partition(t, _) => Err(one_partition(key, &t, "deleted")),
        Key::Stream(t) => {
            c.server
                .broker
                .delete_topic(&t.key)
                .await
                .map_err(topic_error)?;
            c.server.touch(c.db, key);
            Ok(true)
        }
        Key::String(_) => {
            let existed = c.update_string(key, |old| (None, old.is_some()))?;
            c.server.touch(c.db, key);
            Ok(existed)
        }
    }
}

async fn del(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let mut n = 0;
    for key in &args[1..] {
        match delete_key(c, key).await {
            Ok(true) => n += 1,
            Ok(false) => {}
            Err(e) => return Ok(e),
        }
    }
    Ok(Frame::Integer(n))
}

async fn exists(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let n = args[1..]
        .iter()
        .filter(|k| !matches!(c.lookup(k), Key::Missing))
        .count();
    Ok(Frame::Integer(n as i64))
}

/// The error for a whole-key operation on `name#N`, one partition of a topic.
fn one_partition(key: &[u8], topic: &brook_broker::Topic, what: &str) -> Frame {
    err(format!(
        "{} is one partition of topic {}; a single partition cannot be {what}",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(&topic.key.name)
    ))
}

fn type_name(k: &Key) -> &'static str {
    match k {
        Key::Stream(_) | Key::Partition(..) => "stream",
        Key::String(_) => "string",
        Key::Missing => "none",
    }
}

async fn type_(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let name = type_name(&c.lookup(&args[1]));
    Ok(Frame::Simple(Bytes::from_static(name.as_bytes())))
}

/// OBJECT ENCODING / REFCOUNT / FREQ / IDLETIME. Brook keeps no per-key access
/// clock or frequency: FREQ answers Redis's error for a server without an LFU policy,
/// IDLETIME says it is not tracked rather than invent a number.
async fn object(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    if sub == "help" && args.len() == 2 {
        return Ok(Frame::Array(
            [
                "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "ENCODING <key>",
                "FREQ <key>",
                "IDLETIME <key>",
                "REFCOUNT <key>",
            ]
            .iter()
            .map(|t| Frame::Simple(Bytes::copy_from_slice(t.as_bytes())))
            .collect(),
        ));
    }
    if !matches!(
        sub.as_str(),
        "encoding" | "freq" | "idletime" | "refcount" | "help"
    ) {
        return Ok(err(format!(
            "unknown subcommand '{}'. Try OBJECT HELP.",
            String::from_utf8_lossy(&args[1])
        )));
    }
    if args.len() != 3 || sub == "help" {
        return Ok(err(format!(
            "wrong number of arguments for 'object|{sub}' command"
        )));
    }
    c.counting_reads = true;
    let key = c.lookup(&args[2]);
    if matches!(key, Key::Missing) {
        return Ok(Frame::Null);
    }
    Ok(match sub.as_str() {
        "encoding" => {
            let encoding = match &key {
                Key::String(v) => string_encoding(&v.data),
                _ => "stream",
            };
            bulk(Bytes::from_static(encoding.as_bytes()))
        }
        "refcount" => Frame::Integer(1),
        "freq" => err("An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."),
        _ => err("Brook does not track when keys were last accessed"),
    })
}

/// The encoding Redis would report for a string value: `int` for a canonical 64-bit
/// integer, `embstr` up to 44 bytes, `raw` beyond.
fn string_encoding(data: &[u8]) -> &'static str {
    let canonical_int = data.len() <= 20
        && std::str::from_utf8(data)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .is_some_and(|n| n.to_string().as_bytes() == data);
    if canonical_int {
        "int"
    } else if data.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

async fn keys(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let pattern = args[1].clone();
    let keys = c
        .keys()
        .into_iter()
        .filter(|k| glob::matches(&pattern, k, false))
        .map(bulk)
        .collect();
    Ok(Frame::Array(keys))
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`. The cursor is the
/// position in the sorted key list, so keys present for the whole scan are returned
/// at least once (keys are few and their order is stable).
async fn scan(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let Some(cursor) = parse_u64(&args[1]) else {
        return Ok(err("invalid cursor"));
    };
    let mut pattern: Option<Bytes> = None;
    let mut count: usize = 10;
    let mut type_filter: Option<String> = None;
    let mut i = 2;
    while i < args.len() {
        let Some(value) = args.get(i + 1) else {
            return Ok(syntax_error());
        };
        if eq(&args[i], "MATCH") {
            pattern = Some(value.clone());
        } else if eq(&args[i], "COUNT") {
            match super::parse_i64(value) {
                Some(n) if n >= 1 => count = n.min(1_000_000) as usize,
                Some(_) => return Ok(syntax_error()),
                None => return Ok(not_integer()),
            }
        } else if eq(&args[i], "TYPE") {
            type_filter = Some(String::from_utf8_lossy(value).to_ascii_lowercase());
        } else {
            return Ok(syntax_error());
        }
        i += 2;
    }
    // Keys are visited in the order of a fixed 63-bit hash, and the cursor is the hash
    // to continue from: keys deleted or added between calls do not shift the others,
    // so every key present for the whole scan is returned (Redis's guarantee). Keys
    // sharing a hash are always returned in the same call.
    let mut keys: Vec<(u64, Bytes)> = c.keys().into_iter().map(|k| (scan_hash(&k), k)).collect();
    keys.sort();
    let start = keys.partition_point(|(h, _)| *h < cursor);
    let mut end = start.saturating_add(count).min(keys.len());
    while end < keys.len() && end > start && keys[end].0 == keys[end - 1].0 {
        end += 1;
    }
    let mut out = Vec::new();
    for (_, k) in keys.get(start..end).unwrap_or_default() {
        if pattern
            .as_ref()
            .is_some_and(|p| !glob::matches(p, k, false))
        {
            continue;
        }
        if let Some(t) = &type_filter {
            if type_name(&c.lookup(k)) != t.as_str() {
                continue;
            }
        }
        out.push(bulk(k.clone()));
    }
    let next = keys.get(end).map_or(0, |(h, _)| *h);
    Ok(Frame::Array(vec![
        bulk(Bytes::from(next.to_string())),
        Frame::Array(out),
    ]))
}

/// FNV-1a, forced non-zero (0 is the cursor that starts and ends a scan).
fn scan_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h >> 1).max(1)
}

async fn rename_generic(c: &mut Conn, args: Vec<Bytes>, nx: bool) -> CmdResult {
    let (from, to) = (args[1].clone(), args[2].clone());
    let source = c.lookup(&from);
    if matches!(source, Key::Missing) {
        return Ok(err("no such key"));
    }
    if nx && !matches!(c.lookup(&to), Key::Missing) {
        return Ok(Frame::Integer(0));
    }
    if from == to {
        return Ok(if nx { Frame::Integer(0) } else { ok() });
    }
    if let Key::Partition(t, _) = &c.lookup(&to) {
        return Ok(one_partition(&to, t, "replaced"));
    }
    let topic = match source {
        Key::Stream(t) => t,
        Key::Partition(t, _) => return Ok(one_partition(&from, &t, "renamed")),
        Key::String(v) => {
            // A string moves by copy and delete; the destination loses its old value.
            if let Key::Stream(_) = c.lookup(&to) {
                if let Err(e) = delete_key(c, &to).await {
                    return Ok(e);
                }
            }
            if let Err(e) = c.update_string(&to, |_| (Some(v), ())) {
                return Ok(e);
            }
            if let Err(e) = c.update_string(&from, |_| (None, ())) {
                return Ok(e);
            }
            c.server.touch(c.db, &from);
            c.server.touch(c.db, &to);
            return Ok(if nx { Frame::Integer(1) } else { ok() });
        }
        Key::Missing => return Ok(err("no such key")),
    };
    if let Key::String(_) = c.lookup(&to) {
        if let Err(e) = delete_key(c, &to).await {
            return Ok(e);
        }
    }
    if let Err(e) = c
        .server
        .broker
        .rename_topic(&topic.key, TopicKey::new(c.db, to.clone()))
        .await
    {
        return Ok(topic_error(e));
    }
    c.server.touch(c.db, &from);
    c.server.touch(c.db, &to);
    Ok(if nx { Frame::Integer(1) } else { ok() })
}

async fn rename(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    rename_generic(c, args, false).await
}

async fn renamenx(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    rename_generic(c, args, true).await
}

async fn dbsize(c: &mut Conn, _args: Vec<Bytes>) -> CmdResult {
    Ok(Frame::Integer(c.keys().len() as i64))
}

fn flush_mode_ok(args: &[Bytes]) -> bool {
    match args.get(1) {
        None => true,
        Some(m) => args.len() == 2 && (eq(m, "ASYNC") || eq(m, "SYNC")),
    }
}

async fn flushdb(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    if !flush_mode_ok(&args) {
        return Ok(syntax_error());
    }
    for key in c.keys() {
        if let Err(e) = delete_key(c, &key).await {
            return Ok(e);
        }
    }
    Ok(ok())
}

/// The current expiry of a key (`Ok(None)`: none; `Err`: key missing).
fn expiry_of(c: &Conn, key: &Bytes) -> Result<Option<u64>, ()> {
    match c.lookup(key) {
        Key::Missing => Err(()),
        Key::Stream(t) | Key::Partition(t, _) => Ok(t.expire_at()),
        Key::String(v) => Ok(v.expire_at_ms),
    }
}

/// Sets (or clears) a key's expiry; the key exists.
async fn set_expiry(c: &mut Conn, key: &Bytes, at: Option<u64>) -> Result<(), Frame> {
    match c.lookup(key) {
        Key::Missing => Ok(()),
        Key::Partition(t, _) => Err(one_partition(key, &t, "given its own expiry")),
        Key::Stream(t) => c
            .server
            .broker
            .set_topic_expiry(&t.key, at)
            .await
            .map_err(topic_error),
        Key::String(_) => c.update_string(key, |old| {
            (
                old.map(|mut v| {
                    v.expire_at_ms = at;
                    v
                }),
                (),
            )
        }),
    }
}

/// `EXPIRE`-family: `at_ms` computes the absolute expiry from the argument.
async fn expire_generic(
    c: &mut Conn,
    args: Vec<Bytes>,
    at_ms: impl Fn(i64) -> Option<i64>,
) -> CmdResult {
    let Some(n) = super::parse_i64(&args[2]) else {
        return Ok(not_integer());
    };
    let Some(at) = at_ms(n) else {
        return Ok(err(format!(
            "invalid expire time in '{}' command",
            String::from_utf8_lossy(&args[0]).to_ascii_lowercase()
        )));
    };
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &args[3..] {
        if eq(a, "NX") {
            nx = true;
        } else if eq(a, "XX") {
            xx = true;
        } else if eq(a, "GT") {
            gt = true;
        } else if eq(a, "LT") {
            lt = true;
        } else {
            return Ok(err(format!(
                "Unsupported option {}",
                String::from_utf8_lossy(a)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Ok(err(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Ok(err("GT and LT options at the same time are not compatible"));
    }
    let key = args[1].clone();
    let Ok(current) = expiry_of(c, &key) else {
        return Ok(Frame::Integer(0));
    };
    let at = at.max(0) as u64;
    let allowed = match current {
        None => !xx && !gt,
        Some(cur) => !nx && (!gt || at > cur) && (!lt || at < cur),
    };
    if !allowed {
        return Ok(Frame::Integer(0));
    }
    if at <= brook_broker::now_ms() {
        // An expiry in the past deletes the key now.
        return Ok(match delete_key(c, &key).await {
            Ok(_) => Frame::Integer(1),
            Err(e) => e,
        });
    }
    if let Err(e) = set_expiry(c, &key, Some(at)).await {
        return Ok(e);
    }
    c.server.touch(c.db, &key);
    Ok(Frame::Integer(1))
}

fn now_i64() -> i64 {
    brook_broker::now_ms() as i64
}

async fn expire(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    expire_generic(c, args, |s| {
        s.checked_mul(1000).and_then(|ms| ms.checked_add(now_i64()))
    })
    .await
}

async fn pexpire(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    expire_generic(c, args, |ms| ms.checked_add(now_i64())).await
}

async fn expireat(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    expire_generic(c, args, |s| s.checked_mul(1000)).await
}

async fn pexpireat(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    expire_generic(c, args, Some).await
}

/// TTL-family replies: -2 missing, -1 no expiry, else `f(expire_at_ms)`.
fn ttl_generic(c: &Conn, key: &Bytes, f: impl Fn(u64) -> i64) -> Frame {
    Frame::Integer(match expiry_of(c, key) {
        Err(()) => -2,
        Ok(None) => -1,
        Ok(Some(at)) => f(at),
    })
}

async fn ttl(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    Ok(ttl_generic(c, &args[1], |at| {
        (at.saturating_sub(brook_broker::now_ms()) as i64 + 500) / 1000
    }))
}

async fn pttl(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    Ok(ttl_generic(c, &args[1], |at| {
        at.saturating_sub(brook_broker::now_ms()) as i64
    }))
}

async fn expiretime(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    Ok(ttl_generic(c, &args[1], |at| (at / 1000) as i64))
}

async fn pexpiretime(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    Ok(ttl_generic(c, &args[1], |at| at as i64))
}

async fn persist(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let key = args[1].clone();
    match expiry_of(c, &key) {
        Ok(Some(_)) => {
            if let Err(e) = set_expiry(c, &key, None).await {
                return Ok(e);
            }
            c.server.touch(c.db, &key);
            Ok(Frame::Integer(1))
        }
        _ => Ok(Frame::Integer(0)),
    }
}

async fn flushall(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    if !flush_mode_ok(&args) {
        return Ok(syntax_error());
    }
    let db = c.db;
    for d in 0..brook_broker::DATABASES {
        c.db = d;
        for key in c.keys() {
            if let Err(e) = delete_key(c, &key).await {
                c.db = db;
                return Ok(e);
            }
        }
    }
    c.db = db;
    Ok(ok())
}
