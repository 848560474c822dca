//! Plain strings: SET, SETNX, SETEX, PSETEX, GET, GETDEL, MGET, INCR, INCRBY, DECR,
//! DECRBY. Durable like everything else (stored in the metadata log).

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
    let mut get = false;
    let mut i = 3;
    let now = now_ms() as i64;
    while i < args.len() {
        let a = &args[i];
        let next = args.get(i + 1);
        if eq(a, "NX") && cond == Cond::Always {
            cond = Cond::Nx;
        } else if eq(a, "XX") && cond == Cond::Always {
            cond = Cond::Xx;
        } else if eq(a, "GET") {
            get = true;
        } else if eq(a, "KEEPTTL") && ttl == Ttl::None {
            ttl = Ttl::Keep;
        } else if (eq(a, "EX") || eq(a, "PX") || eq(a, "EXAT") || eq(a, "PXAT"))
            && ttl == Ttl::None
            && next.is_some()
        {
            let Some(n) = next.and_then(|v| parse_i64(v)) else {
                return Ok(not_integer());
            };
            if n <= 0 {
                return Ok(err("invalid expire time in 'set' command"));
            }
            let at = if eq(a, "EX") {
                n.checked_mul(1000).and_then(|ms| ms.checked_add(now))
            } else if eq(a, "PX") {
                n.checked_add(now)
            } else if eq(a, "EXAT") {
                n.checked_mul(1000)
            } else {
                Some(n)
            };
            let Some(at) = at else {
                return Ok(err("invalid expire time in 'set' command"));
            };
            ttl = Ttl::At(at as u64);
            i += 1;
        } else {
            return Ok(syntax_error());
        }
        i += 1;
    }
    Ok(set_generic(c, args[1].clone(), args[2].clone(), cond, ttl, get).await)
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

async fn setex_generic(c: &mut Conn, args: Vec<Bytes>, unit_ms: i64, name: &str) -> CmdResult {
    let Some(n) = parse_i64(&args[2]) else {
        return Ok(not_integer());
    };
    let at = n
        .checked_mul(unit_ms)
        .and_then(|ms| ms.checked_add(now_ms() as i64));
    match at {
        Some(at) if n > 0 => Ok(set_generic(
            c,
            args[1].clone(),
            args[3].clone(),
            Cond::Always,
            Ttl::At(at as u64),
            false,
        )
        .await),
        _ => Ok(err(format!("invalid expire time in '{name}' command"))),
    }
}

async fn setex(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    setex_generic(c, args, 1000, "setex").await
}

async fn psetex(c: &mut Conn, args: Vec<Bytes>) -> CmdResult {
    setex_generic(c, args, 1, "psetex").await
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
