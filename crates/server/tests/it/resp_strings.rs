//! Strings and the keyspace over the raw protocol: SET and its options, GET, GETDEL,
//! MGET, INCR/DECR and friends, SETNX/SETEX/PSETEX, WRONGTYPE in both directions,
//! TYPE/EXISTS/DEL/KEYS/SCAN/DBSIZE/RENAME over strings and streams, the EXPIRE family
//! with NX/XX/GT/LT on both, keys expiring, strings surviving a crash, and the error
//! for data types Brook does not store.
//!
//! Expected replies are what Redis 7.0.15 answered (re-check with
//! `BROOK_IT_REDIS_SERVER=/usr/bin/redis-server cargo test -p brook --test it
//! resp_strings -- --include-ignored`); Brook-only tests skip themselves there.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::resp_raw::{parse_at, Raw, V};
use crate::util::{poll, start_brook, RespTarget};

const WRONGTYPE: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn int_reply(raw: &mut Raw, args: &[&str]) -> i64 {
    match parse_at(&raw.cmd(args), 0).unwrap().0 {
        V::Int(i) => i,
        other => panic!("{args:?} replied {other:?}"),
    }
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn set_options_and_their_errors() {
    let target = RespTarget::start(); // Brook, or Redis in cross-check mode
    let mut raw = Raw::connect(target.addr);
    raw.expect(&["SET", "k", "v"], b"+OK\r\n");
    raw.expect(&["GET", "k"], b"$1\r\nv\r\n");
    raw.expect(&["SET", "k", "v2", "GET"], b"$1\r\nv\r\n");
    raw.expect(&["SET", "k", "v3", "NX"], b"$-1\r\n");
    raw.expect(&["SET", "k", "v3", "XX", "GET"], b"$2\r\nv2\r\n");
    raw.expect(&["GET", "k"], b"$2\r\nv3\r\n");
    raw.expect(&["SET", "n", "v", "NX", "GET"], b"$-1\r\n");
    raw.expect(&["GET", "n"], b"$1\r\nv\r\n");
    raw.expect(&["SET", "n2", "v", "XX"], b"$-1\r\n");
    raw.expect(&["GET", "n2"], b"$-1\r\n");
    raw.expect(&["SET", "bin", "\x00\r\n\u{7f}"], b"+OK\r\n");
    raw.expect(&["GET", "bin"], b"$4\r\n\x00\r\n\x7f\r\n");

    // Expiry options.
    raw.expect(&["SET", "k", "v", "EX", "100"], b"+OK\r\n");
    assert!((99..=100).contains(&int_reply(&mut raw, &["TTL", "k"])));
    raw.expect(&["SET", "k", "v2", "KEEPTTL"], b"+OK\r\n");
    assert!((99..=100).contains(&int_reply(&mut raw, &["TTL", "k"])));
    raw.expect(&["SET", "k", "v3"], b"+OK\r\n");
    raw.expect(&["TTL", "k"], b":-1\r\n");
    raw.expect(&["SET", "k", "v", "PX", "100000"], b"+OK\r\n");
    assert!((99_000..=100_000).contains(&int_reply(&mut raw, &["PTTL", "k"])));
    let at = (now_s() + 1000).to_string();
    raw.expect(&["SET", "k", "v", "EXAT", &at], b"+OK\r\n");
    raw.expect(&["EXPIRETIME", "k"], format!(":{at}\r\n").as_bytes());
    let pat = ((now_s() + 1000) * 1000 + 123).to_string();
    raw.expect(&["SET", "k", "v", "PXAT", &pat], b"+OK\r\n");
    raw.expect(&["PEXPIRETIME", "k"], format!(":{pat}\r\n").as_bytes());
    // A time in the past deletes the key.
    raw.expect(&["SET", "k", "v", "PXAT", "1"], b"+OK\r\n");
    raw.expect(&["EXISTS", "k"], b":0\r\n");
    raw.expect(&["SET", "k", "v", "EXAT", "1"], b"+OK\r\n");
    raw.expect(&["GET", "k"], b"$-1\r\n");

    // Errors, and a failed SET changes nothing.
    raw.expect(&["SET", "k", "keep"], b"+OK\r\n");
    for (args, reply) in [
        (
            &["SET", "k", "v", "EX", "0"][..],
            &b"-ERR invalid expire time in 'set' command\r\n"[..],
        ),
        (
            &["SET", "k", "v", "EX", "-1"],
            b"-ERR invalid expire time in 'set' command\r\n",
        ),
        (
            &["SET", "k", "v", "PX", "0"],
            b"-ERR invalid expire time in 'set' command\r\n",
        ),
        (
            &["SET", "k", "v", "EX", "9223372036854775807"],
            b"-ERR invalid expire time in 'set' command\r\n",
        ),
        (
            &["SET", "k", "v", "PX", "9223372036854775807"],
            b"-ERR invalid expire time in 'set' command\r\n",
        ),
        (
            &["SET", "k", "v", "EXAT", "0"],
            b"-ERR invalid expire time in 'set' command\r\n",
        ),
        (
            &["SET", "k", "v", "EX", "abc"],
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (&["SET", "k", "v", "EX"], b"-ERR syntax error\r\n"),
        (
            &["SET", "k", "v", "EX", "10", "PX", "10"],
            b"-ERR syntax error\r\n",
        ),
        (&["SET", "k", "v", "NX", "XX"], b"-ERR syntax error\r\n"),
        (
            &["SET", "k", "v", "KEEPTTL", "EX", "10"],
            b"-ERR syntax error\r\n",
        ),
        (&["SET", "k", "v", "FOO"], b"-ERR syntax error\r\n"),
        (
            &["SET", "k"],
            b"-ERR wrong number of arguments for 'set' command\r\n",
        ),
    ] {
        raw.expect(args, reply);
    }
    raw.expect(&["GET", "k"], b"$4\r\nkeep\r\n");
    raw.expect(&["TTL", "k"], b":-1\r\n");
}

#[test]
fn get_getdel_and_mget() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    raw.expect(&["GET", "nokey"], b"$-1\r\n");
    raw.expect(&["SET", "a", "1"], b"+OK\r\n");
    raw.expect(&["SET", "e", ""], b"+OK\r\n");
    raw.expect(&["GET", "e"], b"$0\r\n\r\n");
    raw.expect(&["XADD", "s", "1-1", "f", "v"], b"$3\r\n1-1\r\n");
    // MGET: nil for missing keys and for keys of another type.
    raw.expect(
        &["MGET", "a", "nokey", "s", "e", "a"],
        b"*5\r\n$1\r\n1\r\n$-1\r\n$-1\r\n$0\r\n\r\n$1\r\n1\r\n",
    );
    raw.expect(&["GETDEL", "a"], b"$1\r\n1\r\n");
    raw.expect(&["GETDEL", "a"], b"$-1\r\n");
    raw.expect(&["EXISTS", "a"], b":0\r\n");
    raw.expect(&["GETDEL", "s"], WRONGTYPE);
    raw.expect(&["EXISTS", "s"], b":1\r\n");
    raw.expect(
        &["MGET"],
        b"-ERR wrong number of arguments for 'mget' command\r\n",
    );
}

#[test]
fn getset_getex_and_repeated_set_options() {
    let target = RespTarget::start(); // Brook, or Redis in cross-check mode
    let mut raw = Raw::connect(target.addr);
    // GETSET: the old value (nil if none), the new one without the old TTL.
    raw.expect(&["GETSET", "k", "1"], b"$-1\r\n");
    raw.expect(&["EXPIRE", "k", "100"], b":1\r\n");
    raw.expect(&["GETSET", "k", "2"], b"$1\r\n1\r\n");
    raw.expect(&["TTL", "k"], b":-1\r\n");
    raw.expect(&["XADD", "s", "1-1", "f", "v"], b"$3\r\n1-1\r\n");
    raw.expect(&["GETSET", "s", "x"], WRONGTYPE);
    // GETEX: the value, and the expiry set, removed or left.
    raw.expect(&["GETEX", "k"], b"$1\r\n2\r\n");
    raw.expect(&["TTL", "k"], b":-1\r\n");
    raw.expect(&["GETEX", "k", "EX", "100"], b"$1\r\n2\r\n");
    let ttl = int_reply(&mut raw, &["TTL", "k"]);
    assert!((90..=100).contains(&ttl), "TTL {ttl}");
    raw.expect(&["GETEX", "k", "PXAT", "99999999999999"], b"$1\r\n2\r\n");
    raw.expect(&["PEXPIRETIME", "k"], b":99999999999999\r\n");
    raw.expect(&["GETEX", "k", "PERSIST"], b"$1\r\n2\r\n");
    raw.expect(&["TTL", "k"], b":-1\r\n");
    raw.expect(&["GETEX", "nokey", "EX", "10"], b"$-1\r\n");
    raw.expect(&["GETEX", "s"], WRONGTYPE);
    raw.expect(
        &["GETEX", "k", "EX", "0"],
        b"-ERR invalid expire time in 'getex' command\r\n",
    );
    raw.expect(
        &["GETEX", "k", "EX", "x"],
        b"-ERR value is not an integer or out of range\r\n",
    );
    raw.expect(
        &["GETEX", "k", "EX", "1", "PX", "1"],
        b"-ERR syntax error\r\n",
    );
    raw.expect(&["GETEX", "k", "PERSIST", "PERSIST"], b"$1\r\n2\r\n");
    raw.expect(
        &["GETEX", "k", "PERSIST", "EX", "1"],
        b"-ERR syntax error\r\n",
    );
    raw.expect(&["GETEX", "k", "FOO"], b"-ERR syntax error\r\n");
    raw.expect(&["TTL", "k"], b":-1\r\n");
    // SET takes an option twice (the last expiry counts), not two that conflict.
    raw.expect(&["SET", "k", "3", "NX", "NX"], b"$-1\r\n");
    raw.expect(&["SET", "n", "3", "NX", "NX"], b"+OK\r\n");
    raw.expect(&["SET", "n", "4", "EX", "10", "EX", "200"], b"+OK\r\n");
    let ttl = int_reply(&mut raw, &["TTL", "n"]);
    assert!((190..=200).contains(&ttl), "TTL {ttl}");
    raw.expect(
        &["SET", "n", "5", "XX", "XX", "KEEPTTL", "KEEPTTL"],
        b"+OK\r\n",
    );
    let ttl = int_reply(&mut raw, &["TTL", "n"]);
    assert!((190..=200).contains(&ttl), "TTL {ttl}");
}

#[test]
fn mset_and_msetnx() {
    let target = RespTarget::start(); // Brook, or Redis in cross-check mode
    let mut raw = Raw::connect(target.addr);
    raw.expect(&["SET", "a", "0", "EX", "100"], b"+OK\r\n");
    // The last value of a repeated key counts; MSET drops the old TTL.
    raw.expect(&["MSET", "a", "1", "b", "2", "a", "3"], b"+OK\r\n");
    raw.expect(&["MGET", "a", "b"], b"*2\r\n$1\r\n3\r\n$1\r\n2\r\n");
    raw.expect(&["TTL", "a"], b":-1\r\n");
    // Like SET, MSET replaces a stream.
    raw.expect(&["XADD", "s", "1-1", "f", "v"], b"$3\r\n1-1\r\n");
    raw.expect(&["MSET", "s", "x"], b"+OK\r\n");
    raw.expect(&["TYPE", "s"], b"+string\r\n");
    // MSETNX: all or nothing, and any existing key (of any type) stops it.
    raw.expect(&["MSETNX", "c", "1", "a", "9"], b":0\r\n");
    raw.expect(&["EXISTS", "c"], b":0\r\n");
    raw.expect(&["GET", "a"], b"$1\r\n3\r\n");
    raw.expect(&["XADD", "t", "1-1", "f", "v"], b"$3\r\n1-1\r\n");
    raw.expect(&["MSETNX", "e", "1", "t", "2"], b":0\r\n");
    raw.expect(&["MSETNX", "c", "1", "d", "2"], b":1\r\n");
    raw.expect(
        &["MGET", "c", "d", "e"],
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n",
    );
    raw.expect(
        &["MSET", "a", "1", "b"],
        b"-ERR wrong number of arguments for 'mset' command\r\n",
    );
    raw.expect(
        &["MSETNX", "a"],
        b"-ERR wrong number of arguments for 'msetnx' command\r\n",
    );
}

#[test]
fn incr_decr_family_with_their_errors() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    raw.expect(&["INCR", "n"], b":1\r\n");
    raw.expect(&["INCRBY", "n", "10"], b":11\r\n");
    raw.expect(&["DECR", "n"], b":10\r\n");
    raw.expect(&["DECRBY", "n", "15"], b":-5\r\n");
    raw.expect(&["INCRBY", "n", "-5"], b":-10\r\n");
    raw.expect(&["GET", "n"], b"$3\r\n-10\r\n");
    raw.expect(&["DECR", "new"], b":-1\r\n");
    raw.expect(&["DECRBY", "new2", "3"], b":-3\r\n");
    raw.expect(&["SET", "k", "v", "EX", "100"], b"+OK\r\n");
    raw.expect(&["SET", "c", "5", "EX", "100"], b"+OK\r\n");
    raw.expect(&["INCR", "c"], b":6\r\n");
    assert!(int_reply(&mut raw, &["TTL", "c"]) > 0, "INCR keeps the TTL");

    const NOT_INT: &[u8] = b"-ERR value is not an integer or out of range\r\n";
    raw.expect(&["INCR", "k"], NOT_INT);
    raw.expect(&["INCRBY", "n", "x"], NOT_INT);
    raw.expect(&["INCRBY", "n", "1.5"], NOT_INT);
    raw.expect(&["SET", "f", "1.5"], b"+OK\r\n");
    raw.expect(&["INCR", "f"], NOT_INT);
    raw.expect(&["SET", "sp", " 1"], b"+OK\r\n");
    raw.expect(&["INCR", "sp"], NOT_INT);
    raw.expect(&["SET", "huge", "9223372036854775808"], b"+OK\r\n");
    raw.expect(&["INCR", "huge"], NOT_INT);

    const OVERFLOW: &[u8] = b"-ERR increment or decrement would overflow\r\n";
    raw.expect(&["SET", "big", "9223372036854775807"], b"+OK\r\n");
    raw.expect(&["INCR", "big"], OVERFLOW);
    raw.expect(&["INCRBY", "big", "1"], OVERFLOW);
    raw.expect(&["GET", "big"], b"$19\r\n9223372036854775807\r\n");
    raw.expect(&["SET", "small", "-9223372036854775808"], b"+OK\r\n");
    raw.expect(&["DECR", "small"], OVERFLOW);
    raw.expect(&["DECRBY", "small", "1"], OVERFLOW);
    raw.expect(&["INCRBY", "small", "-1"], OVERFLOW);
    raw.expect(
        &["DECRBY", "n", "-9223372036854775808"],
        b"-ERR decrement would overflow\r\n",
    );
    raw.expect(&["INCRBY", "n", "-9223372036854775808"], OVERFLOW);
    raw.expect(&["GET", "n"], b"$3\r\n-10\r\n");
}

#[test]
fn setnx_setex_psetex() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    raw.expect(&["SETNX", "a", "1"], b":1\r\n");
    raw.expect(&["SETNX", "a", "2"], b":0\r\n");
    raw.expect(&["GET", "a"], b"$1\r\n1\r\n");
    raw.expect(&["SETEX", "ex", "100", "v"], b"+OK\r\n");
    assert!((99..=100).contains(&int_reply(&mut raw, &["TTL", "ex"])));
    raw.expect(&["GET", "ex"], b"$1\r\nv\r\n");
    raw.expect(&["PSETEX", "px", "100000", "v"], b"+OK\r\n");
    assert!((99_000..=100_000).contains(&int_reply(&mut raw, &["PTTL", "px"])));
    raw.expect(
        &["SETEX", "ex", "0", "v"],
        b"-ERR invalid expire time in 'setex' command\r\n",
    );
    raw.expect(
        &["SETEX", "ex", "-5", "v"],
        b"-ERR invalid expire time in 'setex' command\r\n",
    );
    raw.expect(
        &["SETEX", "ex", "x", "v"],
        b"-ERR value is not an integer or out of range\r\n",
    );
    raw.expect(
        &["PSETEX", "px", "0", "v"],
        b"-ERR invalid expire time in 'psetex' command\r\n",
    );
    raw.expect(
        &["SETEX", "ex", "10"],
        b"-ERR wrong number of arguments for 'setex' command\r\n",
    );
    // A stream key counts as existing for SETNX; SETEX replaces it.
    raw.expect(&["XADD", "s", "1-1", "f", "v"], b"$3\r\n1-1\r\n");
    raw.expect(&["SETNX", "s", "1"], b":0\r\n");
    raw.expect(&["TYPE", "s"], b"+stream\r\n");
    raw.expect(&["SETEX", "s", "100", "v"], b"+OK\r\n");
    raw.expect(&["TYPE", "s"], b"+string\r\n");
}

#[test]
fn wrongtype_in_both_directions() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    raw.expect(&["XADD", "s", "1-1", "f", "v"], b"$3\r\n1-1\r\n");
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.expect(&["SET", "str", "v"], b"+OK\r\n");
    // String commands on a stream key.
    for args in [
        &["GET", "s"][..],
        &["GETDEL", "s"],
        &["INCR", "s"],
        &["INCRBY", "s", "1"],
        &["DECR", "s"],
        &["DECRBY", "s", "1"],
        &["SET", "s", "x", "GET"],
    ] {
        raw.expect(args, WRONGTYPE);
    }
    // Stream commands on a string key.
    for args in [
        &["XADD", "str", "*", "f", "v"][..],
        &["XLEN", "str"],
        &["XRANGE", "str", "-", "+"],
        &["XREVRANGE", "str", "+", "-"],
        &["XREAD", "STREAMS", "str", "0"],
        &["XDEL", "str", "1-1"],
        &["XTRIM", "str", "MAXLEN", "0"],
        &["XGROUP", "CREATE", "str", "g", "0"],
        &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">"],
        &["XACK", "str", "g", "1-1"],
        &["XPENDING", "str", "g"],
        &["XCLAIM", "str", "g", "c", "0", "1-1"],
        &["XAUTOCLAIM", "str", "g", "c", "0", "0"],
        &["XINFO", "STREAM", "str"],
        &["XSETID", "str", "5-5"],
    ] {
        raw.expect(args, WRONGTYPE);
    }
    // Nothing changed.
    raw.expect(&["GET", "str"], b"$1\r\nv\r\n");
    raw.expect(&["XLEN", "s"], b":1\r\n");
}

#[test]
fn set_over_a_stream_replaces_it_with_its_groups() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    raw.expect(&["XADD", "s", "1-1", "f", "v"], b"$3\r\n1-1\r\n");
    raw.expect(&["XGROUP", "CREATE", "s", "g", "0"], b"+OK\r\n");
    raw.expect(&["EXPIRE", "s", "100"], b":1\r\n");
    raw.expect(&["SET", "s", "now a string"], b"+OK\r\n");
    raw.expect(&["TYPE", "s"], b"+string\r\n");
    raw.expect(&["GET", "s"], b"$12\r\nnow a string\r\n");
    raw.expect(&["TTL", "s"], b":-1\r\n");
    raw.expect(&["XLEN", "s"], WRONGTYPE);
    raw.expect(&["DBSIZE"], b":1\r\n");
    // A new stream under the name starts from nothing: no entries, no groups.
    raw.expect(&["DEL", "s"], b":1\r\n");
    raw.expect(&["XADD", "s", "1-1", "f", "v"], b"$3\r\n1-1\r\n");
    raw.expect(&["XLEN", "s"], b":1\r\n");
    raw.expect(&["XINFO", "GROUPS", "s"], b"*0\r\n");
}

#[test]

fn set_keepttl_over_a_stream_keeps_its_ttl() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    raw.expect(&["XADD", "s", "1-1", "f", "v"], b"$3\r\n1-1\r\n");
    raw.expect(&["EXPIRE", "s", "100"], b":1\r\n");
    raw.expect(&["SET", "s", "string", "KEEPTTL"], b"+OK\r\n");
    raw.expect(&["TYPE", "s"], b"+string\r\n");
    let ttl = int_reply(&mut raw, &["TTL", "s"]);
    assert!((90..=100).contains(&ttl), "TTL {ttl}");
}

#[test]
fn keyspace_commands_over_strings_and_streams() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    raw.expect(&["SET", "str", "v"], b"+OK\r\n");
    raw.expect(&["XADD", "st", "1-1", "f", "v"], b"$3\r\n1-1\r\n");
    raw.expect(
        &["XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM"],
        b"+OK\r\n",
    );
    raw.expect(&["TYPE", "str"], b"+string\r\n");
    raw.expect(&["TYPE", "st"], b"+stream\r\n");
    raw.expect(&["TYPE", "empty"], b"+stream\r\n");
    raw.expect(&["TYPE", "none"], b"+none\r\n");
    raw.expect(&["EXISTS", "str", "st", "none", "str", "empty"], b":4\r\n");
    raw.expect(&["DBSIZE"], b":3\r\n");

    let sorted = |v: V| -> Vec<Vec<u8>> {
        let V::Array(Some(items)) = v else {
            panic!("{v:?}")
        };
        let mut keys: Vec<Vec<u8>> = items
            .into_iter()
            .map(|k| match k {
                V::Bulk(Some(k)) => k,
                other => panic!("{other:?}"),
            })
            .collect();
        keys.sort();
        keys
    };
    let keys = sorted(parse_at(&raw.cmd(&["KEYS", "*"]), 0).unwrap().0);
    assert_eq!(keys, [b"empty".to_vec(), b"st".to_vec(), b"str".to_vec()]);
    let keys = sorted(parse_at(&raw.cmd(&["KEYS", "st*"]), 0).unwrap().0);
    assert_eq!(keys, [b"st".to_vec(), b"str".to_vec()]);
    let scan_type = |raw: &mut Raw, t: &str| -> Vec<Vec<u8>> {
        let V::Array(Some(reply)) =
            parse_at(&raw.cmd(&["SCAN", "0", "COUNT", "100", "TYPE", t]), 0)
                .unwrap()
                .0
        else {
            panic!("SCAN reply")
        };
        assert_eq!(reply[0], V::bulk("0"), "one SCAN call covers 3 keys");
        sorted(reply[1].clone())
    };
    assert_eq!(
        scan_type(&mut raw, "stream"),
        [b"empty".to_vec(), b"st".to_vec()]
    );
    assert_eq!(scan_type(&mut raw, "string"), [b"str".to_vec()]);
    assert_eq!(scan_type(&mut raw, "list"), Vec::<Vec<u8>>::new());

    // RENAME across types: the target is replaced whatever it held.
    raw.expect(&["RENAME", "str", "str2"], b"+OK\r\n");
    raw.expect(&["RENAME", "st", "str2"], b"+OK\r\n");
    raw.expect(&["TYPE", "str2"], b"+stream\r\n");
    raw.expect(&["GET", "str2"], WRONGTYPE);
    raw.expect(&["XLEN", "str2"], b":1\r\n");
    raw.expect(&["RENAME", "none", "x"], b"-ERR no such key\r\n");
    raw.expect(&["SET", "a", "1"], b"+OK\r\n");
    raw.expect(&["RENAME", "a", "empty"], b"+OK\r\n");
    raw.expect(&["TYPE", "empty"], b"+string\r\n");
    raw.expect(&["DBSIZE"], b":2\r\n");

    raw.expect(&["DEL", "empty", "str2", "none"], b":2\r\n");
    raw.expect(&["DBSIZE"], b":0\r\n");
    raw.expect(&["KEYS", "*"], b"*0\r\n");
}

#[test]
fn expire_family_on_strings_and_streams() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    raw.expect(&["SET", "str", "v"], b"+OK\r\n");
    raw.expect(&["XADD", "st", "1-1", "f", "v"], b"$3\r\n1-1\r\n");
    for key in ["str", "st"] {
        raw.expect(&["TTL", key], b":-1\r\n");
        raw.expect(&["PTTL", key], b":-1\r\n");
        raw.expect(&["EXPIRETIME", key], b":-1\r\n");
        raw.expect(&["PEXPIRETIME", key], b":-1\r\n");
        raw.expect(&["EXPIRE", key, "100", "XX"], b":0\r\n");
        raw.expect(&["EXPIRE", key, "100", "GT"], b":0\r\n"); // no TTL counts as infinite
        raw.expect(&["EXPIRE", key, "100", "NX"], b":1\r\n");
        raw.expect(&["EXPIRE", key, "50", "NX"], b":0\r\n");
        raw.expect(&["EXPIRE", key, "50", "XX"], b":1\r\n");
        assert!((49..=50).contains(&int_reply(&mut raw, &["TTL", key])));
        raw.expect(&["EXPIRE", key, "100", "GT"], b":1\r\n");
        raw.expect(&["EXPIRE", key, "10", "GT"], b":0\r\n");
        raw.expect(&["EXPIRE", key, "5", "LT"], b":1\r\n");
        raw.expect(&["EXPIRE", key, "500", "LT"], b":0\r\n");
        assert!((4..=5).contains(&int_reply(&mut raw, &["TTL", key])));
        raw.expect(&["PERSIST", key], b":1\r\n");
        raw.expect(&["PERSIST", key], b":0\r\n");
        raw.expect(&["TTL", key], b":-1\r\n");
        raw.expect(&["EXPIRE", key, "10", "LT"], b":1\r\n"); // below infinite
        raw.expect(&["PEXPIRE", key, "100000", "GT"], b":1\r\n");
        assert!((99_000..=100_000).contains(&int_reply(&mut raw, &["PTTL", key])));
        raw.expect(&["EXPIREAT", key, "4102444800"], b":1\r\n");
        raw.expect(&["EXPIRETIME", key], b":4102444800\r\n");
        raw.expect(&["PEXPIRETIME", key], b":4102444800000\r\n");
        raw.expect(&["PEXPIREAT", key, "4102444800123", "XX"], b":1\r\n");
        raw.expect(&["PEXPIRETIME", key], b":4102444800123\r\n");
        raw.expect(&["EXPIRETIME", key], b":4102444800\r\n");
        raw.expect(&["PEXPIREAT", key, "4102444800000", "GT"], b":0\r\n");
        raw.expect(&["PERSIST", key], b":1\r\n");
    }
    // Errors.
    raw.expect(
        &["EXPIRE", "str", "5", "NX", "XX"],
        b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
    );
    raw.expect(
        &["EXPIRE", "str", "5", "GT", "LT"],
        b"-ERR GT and LT options at the same time are not compatible\r\n",
    );
    raw.expect(
        &["EXPIRE", "str", "5", "FOO"],
        b"-ERR Unsupported option FOO\r\n",
    );
    raw.expect(
        &["EXPIRE", "str", "abc"],
        b"-ERR value is not an integer or out of range\r\n",
    );
    raw.expect(
        &["EXPIRE", "str", "9223372036854775807"],
        b"-ERR invalid expire time in 'expire' command\r\n",
    );
    raw.expect(
        &["PEXPIRE", "str", "9223372036854775807"],
        b"-ERR invalid expire time in 'pexpire' command\r\n",
    );
    // Missing keys.
    raw.expect(&["EXPIRE", "none", "10"], b":0\r\n");
    raw.expect(&["PERSIST", "none"], b":0\r\n");
    raw.expect(&["TTL", "none"], b":-2\r\n");
    raw.expect(&["PTTL", "none"], b":-2\r\n");
    raw.expect(&["EXPIRETIME", "none"], b":-2\r\n");
    raw.expect(&["PEXPIRETIME", "none"], b":-2\r\n");
    // A TTL of zero or less, or a time in the past, deletes at once.
    raw.expect(&["EXPIRE", "str", "0"], b":1\r\n");
    raw.expect(&["EXISTS", "str"], b":0\r\n");
    raw.expect(&["PEXPIRE", "st", "-1"], b":1\r\n");
    raw.expect(&["EXISTS", "st"], b":0\r\n");
    raw.expect(&["SET", "str", "v"], b"+OK\r\n");
    raw.expect(&["EXPIREAT", "str", "1"], b":1\r\n");
    raw.expect(&["GET", "str"], b"$-1\r\n");
    raw.expect(&["DBSIZE"], b":0\r\n");
}

#[test]
fn keys_disappear_after_their_ttl() {
    let target = RespTarget::start();
    let mut raw = Raw::connect(target.addr);
    raw.expect(&["SET", "str", "v", "PX", "150"], b"+OK\r\n");
    raw.expect(&["XADD", "st", "1-1", "f", "v"], b"$3\r\n1-1\r\n");
    raw.expect(&["XGROUP", "CREATE", "st", "g", "0"], b"+OK\r\n");
    raw.expect(&["PEXPIRE", "st", "150"], b":1\r\n");
    raw.expect(&["SET", "stays", "v"], b"+OK\r\n");
    raw.expect(&["EXISTS", "str", "st"], b":2\r\n");
    poll("both keys to expire", || {
        (int_reply(&mut raw, &["EXISTS", "str", "st"]) == 0).then_some(())
    });
    raw.expect(&["GET", "str"], b"$-1\r\n");
    raw.expect(&["XLEN", "st"], b":0\r\n");
    raw.expect(&["TTL", "st"], b":-2\r\n");
    // Expired keys leave the keyspace (not only reads): KEYS, DBSIZE.
    poll("DBSIZE to drop to 1", || {
        (int_reply(&mut raw, &["DBSIZE"]) == 1).then_some(())
    });
    raw.expect(&["KEYS", "*"], b"*1\r\n$5\r\nstays\r\n");
    // The expired stream's groups went with it.
    raw.expect(&["XADD", "st", "1-1", "f", "v"], b"$3\r\n1-1\r\n");
    raw.expect(&["XINFO", "GROUPS", "st"], b"*0\r\n");
}

#[test]
fn strings_survive_sigkill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, addr) = start_brook(dir.path(), &data);
    let mut raw = Raw::connect(addr);
    raw.expect(&["SET", "plain", "v\x00\r\nbin"], b"+OK\r\n");
    raw.expect(&["SET", "over", "1"], b"+OK\r\n");
    raw.expect(&["SET", "over", "2"], b"+OK\r\n");
    for _ in 0..10 {
        raw.cmd(&["INCR", "counter"]);
    }
    raw.expect(&["SETEX", "ttl", "1000", "v"], b"+OK\r\n");
    raw.expect(&["SET", "gone", "v"], b"+OK\r\n");
    raw.expect(&["DEL", "gone"], b":1\r\n");
    raw.expect(&["SET", "expired", "v", "PX", "1"], b"+OK\r\n");
    raw.expect(&["SET", "persisted", "v", "EX", "1000"], b"+OK\r\n");
    raw.expect(&["PERSIST", "persisted"], b":1\r\n");
    raw.expect(&["SET", "renamed", "v"], b"+OK\r\n");
    raw.expect(&["RENAME", "renamed", "renamed2"], b"+OK\r\n");
    raw.expect(&["SELECT", "2"], b"+OK\r\n");
    raw.expect(&["SET", "in2", "v2"], b"+OK\r\n");
    server.kill9();

    let (_server, addr) = start_brook(dir.path(), &data);
    let mut raw = Raw::connect(addr);
    raw.expect(&["GET", "plain"], b"$7\r\nv\x00\r\nbin\r\n");
    raw.expect(&["GET", "over"], b"$1\r\n2\r\n");
    raw.expect(&["GET", "counter"], b"$2\r\n10\r\n");
    let ttl = int_reply(&mut raw, &["TTL", "ttl"]);
    assert!((990..=1000).contains(&ttl), "TTL after restart {ttl}");
    raw.expect(&["EXISTS", "gone", "expired", "renamed"], b":0\r\n");
    raw.expect(&["TTL", "persisted"], b":-1\r\n");
    raw.expect(&["GET", "renamed2"], b"$1\r\nv\r\n");
    raw.expect(&["DBSIZE"], b":6\r\n");
    raw.expect(&["SELECT", "2"], b"+OK\r\n");
    raw.expect(&["GET", "in2"], b"$2\r\nv2\r\n");
}

#[test]
fn commands_of_types_brook_does_not_store_reply_an_error_naming_the_command() {
    let target = RespTarget::start();
    if target.skip_on_redis("Redis stores lists, hashes, sets and sorted sets") {
        return;
    }
    let mut raw = Raw::connect(target.addr);
    raw.expect(&["SET", "str", "v"], b"+OK\r\n");
    for args in [
        &["LPUSH", "l", "a"][..],
        &["RPUSH", "l", "a"],
        &["HSET", "h", "f", "v"],
        &["SADD", "z", "m"],
        &["ZADD", "zz", "1", "m"],
        &["lpush", "str", "a"],
    ] {
        let reply = raw.cmd(args);
        let text = String::from_utf8_lossy(&reply).to_string();
        assert!(text.starts_with("-ERR "), "{args:?} replied {text:?}");
        assert!(text.ends_with("\r\n") && !text[..text.len() - 2].contains('\n'));
        let name = args[0].to_ascii_lowercase();
        assert!(
            text.to_ascii_lowercase().contains(&format!("'{name}'")),
            "{args:?}: {text:?} does not name the command"
        );
    }
    // Nothing was created, and the connection still works.
    raw.expect(&["DBSIZE"], b":1\r\n");
    raw.expect(&["TYPE", "l"], b"+none\r\n");
    raw.expect(&["GET", "str"], b"$1\r\nv\r\n");
}
