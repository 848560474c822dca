//! Plain strings: SET, SETNX, SETEX, PSETEX, GET, GETSET, GETEX, GETDEL, MGET, MSET,
//! MSETNX, INCR, INCRBY, DECR, DECRBY. Durable like everything else (stored in the
//! metadata log).

use bytes::Bytes;

use brook_broker::{now_ms, StringValue, STRING_BYTES_MAX};
use brook_resp_proto::Frame;

use super::keys::delete_key;
use super::{
    bulk, eq, err, handler, not_integer, ok, parse_i64, spec, syntax_error, wrongtype, CmdResult,
    Spec,
};
use crate::conn::Conn;
use crate::keyspace::Key;

pub fn specs() -> Vec<Spec> {
    vec![
        spec("set", -3, &["write", "denyoom"], (1, 1, 1), "string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", handler!(set)).deferrable(),
        spec("setnx", 3, &["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0", "Set the string value of a key only when the key doesn't exist.", handler!(setnx)).deferrable(),
        spec("setex", 4, &["write", "denyoom"], (1, 1, 1), "string", "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", handler!(setex)).deferrable(),
        spec("psetex", 4, &["write", "denyoom"], (1, 1, 1), "string", "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", handler!(psetex)).deferrable(),
        spec("get", 2, &["readonly", "fast"], (1, 1, 1), "string", "1.0.0", "Returns the string value of a key.", handler!(get)),
        spec("getset", 3, &["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value.", handler!(getset)).deferrable(),
        spec("getex", -2, &["write", "fast"], (1, 1, 1), "string", "6.2.0", "Returns the string value of a key after setting its expiration time.", handler!(getex)).deferrable(),
        spec("mset", -3, &["write", "denyoom"], (1, -1, 2), "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys.", handler!(mset)).deferrable(),
        spec("msetnx", -3, &["write", "denyoom"], (1, -1, 2), "string", "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist.", handler!(msetnx)).deferrable(),
        spec("getdel", 2, &["write", "fast"], (1, 1, 1), "string", "6.2.0", "Returns the string value of a key after deleting the key.", handler!(getdel)),
        spec("mget", -2, &["readonly", "fast"], (1, -1, 1), "string", "1.0.0", "Atomically returns the string values of one or more keys.", handler!(mget)),
        spec("incr", 2, &["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", handler!(incr)),
        spec("incrby", 3, &["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", handler!(incrby)),
        spec("decr", 2, &["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", handler!(decr)),
        spec("decrby", 3, &["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", handler!(decrby)),
    ]
}

fn too_big() -> Frame {
    err(format!(
        "string values are limited to {STRING_BYTES_MAX} bytes in Brook"
    ))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cond {
    Always,
    Nx,
    Xx,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ttl {
    None,
    At(u64),
    Keep,
}

/// The shared body of SET and friends. Returns the reply.
async fn set_generic(
    c: &mut Conn,
    key: Bytes,
    value: Bytes,
    cond: Cond,
    ttl: Ttl,
    get: bool,
) -> Frame {
    if value.len() > STRING_BYTES_MAX {
        return too_big();
    }
    let current = c.lookup(&key);
    if get {
        if let Key::Stream(_) | Key::Partition(..) = current {
            return wrongtype();
        }
    }
    let exists = !matches!(current, Key::Missing);
    if (cond == Cond::Nx && exists) || (cond == Cond::Xx && !exists) {
        return match (get, current) {
            (true, Key::String(v)) => bulk(v.data),
            _ => Frame::Null,
        };
    }
    // SET replaces a key of any type (KEEPTTL keeps a replaced stream's TTL too).
    let mut replaced_ttl = None;
    if let Key::Stream(t) = &current {
        replaced_ttl = t.expire_at();
        if let Err(e) = delete_key(c, &key).await {
            return e;
        }
    }
    let result = c.update_string(&key, |old| {
        let expire_at_ms = match ttl {
            Ttl::None => None,
            Ttl::At(t) => Some(t),
            Ttl::Keep => old.as_ref().and_then(|o| o.expire_at_ms).or(replaced_ttl),
        };
        (
            Some(StringValue {
                data: value,
                expire_at_ms,
            }),
            old.map(|o| o.data),
        )
    });
    match result {
        Ok(old) => {
            c.server.touch(c.db, &key);
            if get {
                old.map_or(Frame::Null, bulk)
            } else {
                ok()
            }
        }
        Err(e) => e,
    }
}

async fn set(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let mut cond = Cond::Always;
    let mut ttl = Ttl::None;
    // Which expiry option gave `ttl`: it may repeat (the last counts), others may not.
    let mut ttl_option: Option<&Bytes> = None;
    let mut get = false;
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        let next = args.get(i + 1);
        let other_ttl_option = ttl_option.is_some_and(|o| !o.eq_ignore_ascii_case(a));
        if eq(a, "NX") && cond != Cond::Xx {
            cond = Cond::Nx;
        } else if eq(a, "XX") && cond != Cond::Nx {
            cond = Cond::Xx;
        } else if eq(a, "GET") {
            get = true;
        } else if eq(a, "KEEPTTL") && !other_ttl_option {
            ttl = Ttl::Keep;
            ttl_option = Some(a);
        } else if let (Some(unit), Some(n), false) = (expiry_option(a), next, other_ttl_option) {
            ttl = match expire_at(n, unit, "set") {
                Ok(at) => Ttl::At(at),
                Err(e) => return Ok(e),
            };
            ttl_option = Some(a);
            i += 1;
        } else {
            return Ok(syntax_error());
        }
        i += 1;
    }
    Ok(set_generic(c, args[1].clone(), args[2].clone(), cond, ttl, get).await)
}

/// How an expiry option's number is read: a relative time or an absolute Unix time,
/// in seconds or milliseconds.
#[derive(Debug, Clone, Copy)]
enum ExpiryUnit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

fn expiry_option(a: &[u8]) -> Option<ExpiryUnit> {
    if eq(a, "EX") {
        Some(ExpiryUnit::Ex)
    } else if eq(a, "PX") {
        Some(ExpiryUnit::Px)
    } else if eq(a, "EXAT") {
        Some(ExpiryUnit::ExAt)
    } else if eq(a, "PXAT") {
        Some(ExpiryUnit::PxAt)
    } else {
        None
    }
}

/// The Unix time in ms an expiry option's argument `n` names, or Redis's error for
/// `command`.
fn expire_at(n: &[u8], unit: ExpiryUnit, command: &str) -> Result<u64, Frame> {
    let n = parse_i64(n).ok_or_else(not_integer)?;
    let invalid = || err(format!("invalid expire time in '{command}' command"));
    if n <= 0 {
        return Err(invalid());
    }
    let now = now_ms() as i64;
    let at = match unit {
        ExpiryUnit::Ex => n.checked_mul(1000).and_then(|ms| ms.checked_add(now)),
        ExpiryUnit::Px => n.checked_add(now),
        ExpiryUnit::ExAt => n.checked_mul(1000),
        ExpiryUnit::PxAt => Some(n),
    };
    at.map(|at| at.unsigned_abs()).ok_or_else(invalid)
}

async fn mset(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    mset_generic(c, args, false).await
}

async fn msetnx(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    mset_generic(c, args, true).await
}

/// MSET and MSETNX: all the strings in one metadata-log batch. MSET replaces keys of
/// any type, as SET does (streams under the keys are deleted first, each on its
/// own); MSETNX writes nothing if any key exists.
async fn mset_generic(c: &mut Conn, args: Vec<Bytes>, nx: bool) -> CmdResult {
    if args.len().is_multiple_of(2) {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        return Ok(err(format!(
            "wrong number of arguments for '{name}' command"
        )));
    }
    let pairs: Vec<(Bytes, Bytes)> = args[1..]
        .chunks_exact(2)
        .map(|kv| (kv[0].clone(), kv[1].clone()))
        .collect();
    if pairs.iter().any(|(_, v)| v.len() > STRING_BYTES_MAX) {
        return Ok(too_big());
    }
    if nx {
        if pairs
            .iter()
            .any(|(k, _)| !matches!(c.lookup(k), Key::Missing))
        {
            return Ok(Frame::Integer(0));
        }
    } else {
        for (k, _) in &pairs {
            if let Key::Stream(_) = c.lookup(k) {
                if let Err(e) = delete_key(c, k).await {
                    return Ok(e);
                }
            }
        }
    }
    let values: Vec<(Bytes, StringValue)> = pairs
        .into_iter()
        .map(|(k, data)| {
            (
                k,
                StringValue {
                    data,
                    expire_at_ms: None,
                },
            )
        })
        .collect();
    let wrote = match c.set_strings(&values, nx) {
        Ok(wrote) => wrote,
        Err(e) => return Ok(e),
    };
    if wrote {
        for (k, _) in &values {
            c.server.touch(c.db, k);
        }
    }
    Ok(match (nx, wrote) {
        (false, _) => ok(),
        (true, wrote) => Frame::Integer(i64::from(wrote)),
    })
}

async fn getset(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    Ok(set_generic(
        c,
        args[1].clone(),
        args[2].clone(),
        Cond::Always,
        Ttl::None,
        true,
    )
    .await)
}

/// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]
async fn getex(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    // None: leave the expiry; Some(None): remove it; Some(Some(t)): set it. As in
    // SET, an option may repeat (the last counts) but not meet another.
    let mut change: Option<Option<u64>> = None;
    let mut option: Option<&Bytes> = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if option.is_some_and(|o| !o.eq_ignore_ascii_case(a)) {
            return Ok(syntax_error());
        }
        if let (Some(unit), Some(n)) = (expiry_option(a), args.get(i + 1)) {
            match expire_at(n, unit, "getex") {
                Ok(at) => change = Some(Some(at)),
                Err(e) => return Ok(e),
            }
            i += 2;
        } else if eq(a, "PERSIST") {
            change = Some(None);
            i += 1;
        } else {
            return Ok(syntax_error());
        }
        option = Some(a);
    }
    let key = args[1].clone();
    Ok(match c.lookup(&key) {
        Key::Stream(_) | Key::Partition(..) => wrongtype(),
        Key::Missing => Frame::Null,
        Key::String(v) => {
            let Some(expire_at_ms) = change else {
                return Ok(bulk(v.data));
            };
            let updated = c.update_string(&key, |old| match old {
                Some(old) => {
                    let data = old.data.clone();
                    (
                        Some(StringValue {
                            data: data.clone(),
                            expire_at_ms,
                        }),
                        Some(data),
                    )
                }
                None => (None, None),
            });
            match updated {
                Ok(value) => {
                    c.server.touch(c.db, &key);
                    value.map_or(Frame::Null, bulk)
                }
                Err(e) => e,
            }
        }
    })
}

async fn setnx(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let reply = set_generic(
        c,
        args[1].clone(),
        args[2].clone(),
        Cond::Nx,
        Ttl::None,
        false,
    )
    .await;
    Ok(match reply {
        Frame::Simple(_) => Frame::Integer(1),
        Frame::Null => Frame::Integer(0),
        other => other,
    })
}

async fn setex_generic(c: &mut Conn, args: Vec<Bytes>, unit: ExpiryUnit, name: &str) -> CmdResult {
    let at = match expire_at(&args[2], unit, name) {
        Ok(at) => at,
        Err(e) => return Ok(e),
    };
    Ok(set_generic(
        c,
        args[1].clone(),
        args[3].clone(),
        Cond::Always,
        Ttl::At(at),
        false,
    )
    .await)
}

async fn setex(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    setex_generic(c, args, ExpiryUnit::Ex, "setex").await
}

async fn psetex(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    setex_generic(c, args, ExpiryUnit::Px, "psetex").await
}

async fn get(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    Ok(match c.lookup(&args[1]) {
        Key::String(v) => bulk(v.data),
        Key::Stream(_) | Key::Partition(..) => wrongtype(),
        Key::Missing => Frame::Null,
    })
}

async fn getdel(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    let key = args[1].clone();
    Ok(match c.lookup(&key) {
        Key::Stream(_) | Key::Partition(..) => wrongtype(),
        Key::Missing => Frame::Null,
        Key::String(_) => match c.update_string(&key, |old| (None, old.map(|o| o.data))) {
            Ok(old) => {
                c.server.touch(c.db, &key);
                old.map_or(Frame::Null, bulk)
            }
            Err(e) => e,
        },
    })
}

async fn mget(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    Ok(Frame::Array(
        args[1..]
            .iter()
            .map(|k| match c.lookup(k) {
                Key::String(v) => bulk(v.data),
                _ => Frame::Null,
            })
            .collect(),
    ))
}

/// Redis's strict integer parsing of a stored string (no spaces, no `+`, no leading
/// zeros).
fn parse_strict(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty()
        || s.starts_with('+')
        || (s.len() > 1 && (s.starts_with('0') || s.starts_with("-0")))
    {
        return None;
    }
    s.parse().ok()
}

async fn incr_by(c: &mut Conn, key: Bytes, delta: i64) -> Frame {
    if let Key::Stream(_) | Key::Partition(..) = c.lookup(&key) {
        return wrongtype();
    }
    enum Outcome {
        Value(i64),
        NotInteger,
        Overflow,
    }
    let result = c.update_string(&key, |old| {
        let current = match &old {
            None => 0,
            Some(v) => match parse_strict(&v.data) {
                Some(n) => n,
                None => return (old, Outcome::NotInteger),
            },
        };
        match current.checked_add(delta) {
            Some(n) => (
                Some(StringValue {
                    data: Bytes::from(n.to_string()),
                    expire_at_ms: old.and_then(|o| o.expire_at_ms),
                }),
                Outcome::Value(n),
            ),
            None => (old, Outcome::Overflow),
        }
    });
    match result {
        Ok(Outcome::Value(n)) => {
            c.server.touch(c.db, &key);
            Frame::Integer(n)
        }
        Ok(Outcome::NotInteger) => not_integer(),
        Ok(Outcome::Overflow) => err("increment or decrement would overflow"),
        Err(e) => e,
    }
}

async fn incr(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    Ok(incr_by(c, args[1].clone(), 1).await)
}

async fn decr(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    Ok(incr_by(c, args[1].clone(), -1).await)
}

async fn incrby(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    match parse_i64(&args[2]) {
        Some(d) => Ok(incr_by(c, args[1].clone(), d).await),
        None => Ok(not_integer()),
    }
}

async fn decrby(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    match parse_i64(&args[2]).and_then(|d| d.checked_neg()) {
        Some(d) => Ok(incr_by(c, args[1].clone(), d).await),
        None => Ok(err("decrement would overflow")),
    }
}
