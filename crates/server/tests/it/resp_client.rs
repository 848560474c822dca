//! Brook through a real client library: `redis` (redis-rs, sync API), the way a Rust
//! application would use it. Expected values are what Redis 7 answers (checked with
//! `BROOK_IT_REDIS_SERVER=/usr/bin/redis-server`, see [`RespTarget`]).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use redis::streams::{
    StreamMaxlen, StreamRangeReply, StreamReadOptions, StreamReadReply, StreamTrimOptions,
    StreamTrimmingMode,
};
use redis::{Commands as _, Connection, Value};

use crate::util::{poll, RespTarget, TIMEOUT};

fn connect_db(addr: SocketAddr, db: u8) -> Connection {
    let client = redis::Client::open(format!("redis://{addr}/{db}")).unwrap();
    let con = client.get_connection_with_timeout(TIMEOUT).unwrap();
    con.set_read_timeout(Some(TIMEOUT)).unwrap();
    con.set_write_timeout(Some(TIMEOUT)).unwrap();
    con
}

fn connect(addr: SocketAddr) -> Connection {
    connect_db(addr, 0)
}

/// An entry as (id, [(field, value)]) with binary fields, in the server's order.
type Entry = (String, Vec<(Vec<u8>, Vec<u8>)>);

fn xrange_raw(con: &mut Connection, key: &str, start: &str, end: &str) -> Vec<Entry> {
    redis::cmd("XRANGE")
        .arg(key)
        .arg(start)
        .arg(end)
        .query(con)
        .unwrap()
}

fn ids(reply: &StreamRangeReply) -> Vec<&str> {
    reply.ids.iter().map(|e| e.id.as_str()).collect()
}

/// The value of `field` in `INFO`'s text.
fn info_field(con: &mut Connection, section: &str, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    let prefix = format!("{field}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{info}"))
        .to_string()
}

#[test]
fn stream_commands_through_redis_rs() {
    let target = RespTarget::start();
    let mut con = connect(target.addr);

    let binary: &[u8] = b"\x00\xff\r\n\x01 bin";
    let id: String = con.xadd("s", "1-1", &[("f", b"v1".as_slice())]).unwrap();
    assert_eq!(id, "1-1");
    let _: String = con.xadd("s", "2-1", &[("f", binary)]).unwrap();
    let _: String = con
        .xadd("s", "3-1", &[("a", "1"), ("b", "2"), ("a", "3")])
        .unwrap();
    let _: String = con.xadd("s", "4-1", &[("f", "v4")]).unwrap();
    let _: String = con.xadd("s", "5-1", &[("f", "v5")]).unwrap();
    let len: usize = con.xlen("s").unwrap();
    assert_eq!(len, 5);

    // Order of entries and of fields, duplicates and binary values kept.
    let all = xrange_raw(&mut con, "s", "-", "+");
    assert_eq!(all.len(), 5);
    assert_eq!(
        all[1],
        ("2-1".to_string(), vec![(b"f".to_vec(), binary.to_vec())])
    );
    assert_eq!(
        all[2].1,
        vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"2".to_vec()),
            (b"a".to_vec(), b"3".to_vec())
        ]
    );

    let r: StreamRangeReply = con.xrange_all("s").unwrap();
    assert_eq!(ids(&r), ["1-1", "2-1", "3-1", "4-1", "5-1"]);
    let r: StreamRangeReply = con.xrange_count("s", "-", "+", 2).unwrap();
    assert_eq!(ids(&r), ["1-1", "2-1"]);
    // Exclusive ranges, and paging the way the Redis docs recommend.
    let r: StreamRangeReply = con.xrange_count("s", "(2-1", "+", 2).unwrap();
    assert_eq!(ids(&r), ["3-1", "4-1"]);
    let r: StreamRangeReply = con.xrange("s", "(1-1", "(5-1").unwrap();
    assert_eq!(ids(&r), ["2-1", "3-1", "4-1"]);
    let r: StreamRangeReply = con.xrange("s", "2", "4").unwrap(); // ms-only IDs
    assert_eq!(ids(&r), ["2-1", "3-1", "4-1"]);
    let r: StreamRangeReply = con.xrevrange_count("s", "+", "-", 2).unwrap();
    assert_eq!(ids(&r), ["5-1", "4-1"]);
    let r: StreamRangeReply = con.xrevrange("s", "(5-1", "(2-1").unwrap();
    assert_eq!(ids(&r), ["4-1", "3-1"]);
    let r: StreamRangeReply = con.xrange_all("nokey").unwrap();
    assert!(r.ids.is_empty());

    let deleted: usize = con.xdel("s", &["2-1", "99-1"]).unwrap();
    assert_eq!(deleted, 1);
    let r: StreamRangeReply = con.xrange_all("s").unwrap();
    assert_eq!(ids(&r), ["1-1", "3-1", "4-1", "5-1"]);

    let trimmed: usize = con.xtrim("s", StreamMaxlen::Equals(3)).unwrap();
    assert_eq!(trimmed, 1);
    let r: StreamRangeReply = con.xrange_all("s").unwrap();
    assert_eq!(ids(&r), ["3-1", "4-1", "5-1"]);
    let trimmed: usize = con
        .xtrim_options(
            "s",
            &StreamTrimOptions::minid(StreamTrimmingMode::Exact, "5-0"),
        )
        .unwrap();
    assert_eq!(trimmed, 2);
    let r: StreamRangeReply = con.xrange_all("s").unwrap();
    assert_eq!(ids(&r), ["5-1"]);
    // Approximate trimming may keep more than asked for, never fewer.
    let _: usize = con.xtrim("s", StreamMaxlen::Approx(1)).unwrap();
    let len: usize = con.xlen("s").unwrap();
    assert_eq!(len, 1);
    let trimmed: usize = con.xtrim("nokey", StreamMaxlen::Equals(0)).unwrap();
    assert_eq!(trimmed, 0);

    let info: redis::streams::StreamInfoStreamReply = con.xinfo_stream("s").unwrap();
    assert_eq!(info.length, 1);
    assert_eq!(info.last_generated_id, "5-1");
    assert_eq!(info.groups, 0);
    assert_eq!(info.first_entry.id, "5-1");
    assert_eq!(info.last_entry.id, "5-1");

    // XREAD without BLOCK: entries after the given IDs, per key.
    let reply: Option<StreamReadReply> = con
        .xread_options(&["s", "nokey"], &["0", "0"], &StreamReadOptions::default())
        .unwrap();
    let reply = reply.unwrap();
    assert_eq!(reply.keys.len(), 1);
    assert_eq!(reply.keys[0].key, "s");
    assert_eq!(reply.keys[0].ids[0].id, "5-1");
    let reply: Option<StreamReadReply> = con
        .xread_options(&["s"], &["5-1"], &StreamReadOptions::default())
        .unwrap();
    assert!(reply.is_none(), "{reply:?}");
}

/// Runs `XREAD BLOCK block_ms ... STREAMS key id` on its own connection in a thread;
/// returns the channel its result (and when it arrived) comes on.
fn blocked_reader(
    addr: SocketAddr,
    key: &'static str,
    id: &'static str,
    block_ms: usize,
) -> mpsc::Receiver<(Option<StreamReadReply>, Instant)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut con = connect(addr);
        let reply: Option<StreamReadReply> = con
            .xread_options(&[key], &[id], &StreamReadOptions::default().block(block_ms))
            .unwrap();
        let _ = tx.send((reply, Instant::now()));
    });
    rx
}

/// Waits until INFO reports `n` blocked clients.
fn wait_blocked(con: &mut Connection, n: u64) {
    poll(&format!("{n} blocked client(s)"), || {
        let blocked: u64 = info_field(con, "clients", "blocked_clients")
            .parse()
            .unwrap();
        (blocked == n).then_some(())
    });
}

#[test]
fn xread_block_is_woken_by_an_xadd_from_another_connection() {
    let target = RespTarget::start();
    let mut con = connect(target.addr);
    let _: String = con.xadd("s", "1-1", &[("old", "x")]).unwrap();

    let block_ms = 10_000;
    let rx = blocked_reader(target.addr, "s", "$", block_ms);
    wait_blocked(&mut con, 1);
    let _: String = con.xadd("s", "2-1", &[("new", "y")]).unwrap();
    let added = Instant::now();
    let (reply, woke) = rx
        .recv_timeout(TIMEOUT)
        .expect("XREAD BLOCK did not return");
    let latency = woke.saturating_duration_since(added);
    let reply = reply.expect("XREAD BLOCK returned nil instead of the new entry");
    assert_eq!(reply.keys.len(), 1);
    assert_eq!(reply.keys[0].key, "s");
    assert_eq!(reply.keys[0].ids.len(), 1);
    assert_eq!(reply.keys[0].ids[0].id, "2-1");
    assert_eq!(
        reply.keys[0].ids[0].map.get("new"),
        Some(&Value::BulkString(b"y".to_vec()))
    );
    // Woken by the append, not by the 10 s timeout.
    assert!(
        latency < Duration::from_millis(1000),
        "XREAD BLOCK woke {latency:?} after the XADD"
    );
    wait_blocked(&mut con, 0);
}

#[test]
fn xread_block_on_a_key_that_does_not_exist_yet() {
    let target = RespTarget::start();
    let mut con = connect(target.addr);
    let rx_dollar = blocked_reader(target.addr, "later", "$", 10_000);
    let rx_zero = blocked_reader(target.addr, "later", "0-0", 10_000);
    wait_blocked(&mut con, 2);
    let _: String = con.xadd("later", "7-1", &[("k", "v")]).unwrap();
    for rx in [rx_dollar, rx_zero] {
        let (reply, _) = rx.recv_timeout(TIMEOUT).expect("XREAD BLOCK hung");
        let reply = reply.expect("nil instead of the first entry");
        assert_eq!(reply.keys[0].key, "later");
        assert_eq!(reply.keys[0].ids[0].id, "7-1");
    }
}

#[test]
fn xread_block_times_out_with_nil() {
    let target = RespTarget::start();
    let mut con = connect(target.addr);
    let started = Instant::now();
    let reply: Option<StreamReadReply> = con
        .xread_options(&["quiet"], &["$"], &StreamReadOptions::default().block(200))
        .unwrap();
    let took = started.elapsed();
    assert!(reply.is_none(), "{reply:?}");
    assert!(
        took >= Duration::from_millis(190),
        "returned after {took:?}"
    );
    assert!(took < Duration::from_secs(5), "returned after {took:?}");
}

#[test]
fn multi_exec_and_pipelines() {
    let target = RespTarget::start();
    let mut con = connect(target.addr);
    let (a, b, len): (String, String, usize) = redis::pipe()
        .atomic()
        .xadd("t", "1-1", &[("f", "1")])
        .xadd("t", "2-1", &[("f", "2")])
        .xlen("t")
        .query(&mut con)
        .unwrap();
    assert_eq!((a.as_str(), b.as_str(), len), ("1-1", "2-1", 2));

    // A non-atomic pipeline: replies in order, an error does not stop the rest.
    let results: Vec<Value> = redis::pipe()
        .xadd("t", "3-1", &[("f", "3")])
        .xadd("t", "3-1", &[("f", "dup")])
        .xlen("t")
        .ignore_errors()
        .query(&mut con)
        .unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0], Value::BulkString(b"3-1".to_vec()));
    assert!(
        matches!(&results[1], Value::ServerError(e) if e.details() == Some("The ID specified in XADD is equal or smaller than the target stream top item")),
        "{:?}",
        results[1]
    );
    assert_eq!(results[2], Value::Int(3));

    // Inside MULTI/EXEC the failing command's error is one element of the array.
    let err = redis::pipe()
        .atomic()
        .xadd("t", "4-1", &[("f", "4")])
        .xadd("t", "1-1", &[("f", "old")])
        .query::<Vec<Value>>(&mut con)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("The ID specified in XADD is equal or smaller"),
        "{err}"
    );
    let len: usize = con.xlen("t").unwrap();
    assert_eq!(len, 4, "the good command of the transaction ran");
}

#[test]
fn watch_aborts_exec_when_another_client_writes_the_key() {
    let target = RespTarget::start();
    let mut con = connect(target.addr);
    let mut other = connect(target.addr);
    let _: String = con.xadd("w", "1-1", &[("f", "1")]).unwrap();

    let _: () = redis::cmd("WATCH").arg("w").query(&mut con).unwrap();
    let _: String = other.xadd("w", "2-1", &[("f", "2")]).unwrap();
    let result: Option<(String,)> = redis::pipe()
        .atomic()
        .xadd("w", "3-1", &[("f", "3")])
        .query(&mut con)
        .unwrap();
    assert_eq!(result, None, "EXEC ran although a watched key changed");
    let r: StreamRangeReply = con.xrange_all("w").unwrap();
    assert_eq!(ids(&r), ["1-1", "2-1"]);

    // Unchanged watched key: EXEC runs.
    let _: () = redis::cmd("WATCH").arg("w").query(&mut con).unwrap();
    let result: Option<(String,)> = redis::pipe()
        .atomic()
        .xadd("w", "3-1", &[("f", "3")])
        .query(&mut con)
        .unwrap();
    assert_eq!(result, Some(("3-1".to_string(),)));

    // UNWATCH forgets the key.
    let _: () = redis::cmd("WATCH").arg("w").query(&mut con).unwrap();
    let _: () = redis::cmd("UNWATCH").query(&mut con).unwrap();
    let _: String = other.xadd("w", "4-1", &[("f", "4")]).unwrap();
    let result: Option<(String,)> = redis::pipe()
        .atomic()
        .xadd("w", "5-1", &[("f", "5")])
        .query(&mut con)
        .unwrap();
    assert_eq!(result, Some(("5-1".to_string(),)));

    // Creating the key with XGROUP CREATE ... MKSTREAM is a change too; watching a
    // key twice is one watch.
    let _: () = redis::cmd("WATCH")
        .arg("made")
        .arg("made")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("made")
        .arg("g")
        .arg("$")
        .arg("MKSTREAM")
        .query(&mut other)
        .unwrap();
    let result: Option<(String,)> = redis::pipe()
        .atomic()
        .xadd("made", "1-1", &[("f", "1")])
        .query(&mut con)
        .unwrap();
    assert_eq!(result, None, "EXEC ran although a watched key was created");

    // A watched key that expires before EXEC aborts it.
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("v")
        .arg("PX")
        .arg(150)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("WATCH").arg("short").query(&mut con).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let result: Option<(String,)> = redis::pipe()
        .atomic()
        .xadd("w", "5-2", &[("f", "5")])
        .query(&mut con)
        .unwrap();
    assert_eq!(result, None, "EXEC ran although a watched key expired");

    // Inside a transaction WAITAOF does not block: it reports the state as it is
    // (under the default `always`, the XADD before it is fsynced before it runs).
    if target.skip_on_redis("WAITAOF is Redis 7.2+") {
        return;
    }
    let replies: (String, Vec<i64>) = redis::pipe()
        .atomic()
        .xadd("w", "6-1", &[("f", "6")])
        .cmd("WAITAOF")
        .arg(1)
        .arg(0)
        .arg(0)
        .query(&mut con)
        .unwrap();
    assert_eq!(replies.0, "6-1");
    assert_eq!(replies.1, [1, 0]);
}

#[test]
fn exec_runs_alone_while_other_clients_write() {
    let target = RespTarget::start();
    let addr = target.addr;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut con = connect(addr);
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let mut pipe = redis::pipe();
                    for _ in 0..16 {
                        pipe.xadd("atom", "*", &[("from", format!("writer{w}"))]);
                    }
                    let _: Vec<String> = pipe.query(&mut con).unwrap();
                }
            })
        })
        .collect();
    let mut con = connect(addr);
    let mut transactions = Vec::new();
    for _ in 0..30 {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for _ in 0..20 {
            pipe.xadd("atom", "*", &[("from", "exec")]);
        }
        let ids: Vec<String> = pipe.query(&mut con).unwrap();
        transactions.push(ids);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    // Each transaction's entries are adjacent in the stream: no other client's
    // XADD ran between them.
    let all: Vec<String> = con
        .xrange_all::<_, StreamRangeReply>("atom")
        .unwrap()
        .ids
        .into_iter()
        .map(|e| e.id)
        .collect();
    for ids in &transactions {
        let at = all.iter().position(|id| *id == ids[0]).unwrap();
        assert_eq!(&all[at..at + ids.len()], ids.as_slice(), "interleaved");
    }
}

#[test]
fn a_blocked_read_does_not_hold_up_exec_and_watches_end_with_their_connection() {
    let target = RespTarget::start();
    let mut con = connect(target.addr);
    let mut reader = connect(target.addr);
    let blocked = std::thread::spawn(move || {
        let reply: StreamReadReply = reader
            .xread_options(
                &["blk"],
                &["$"],
                &StreamReadOptions::default().block(10_000),
            )
            .unwrap();
        reply.keys.len()
    });
    poll("the XREAD to block", || {
        (info_field(&mut con, "clients", "blocked_clients") == "1").then_some(())
    });
    let started = Instant::now();
    let ids: Vec<String> = redis::pipe()
        .atomic()
        .xadd("blk", "*", &[("f", "v")])
        .query(&mut con)
        .unwrap();
    assert_eq!(ids.len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "EXEC waited for the blocked read"
    );
    assert_eq!(blocked.join().unwrap(), 1);

    // Only watched keys are tracked, and only while watched.
    if target.skip_on_redis("watching_clients and total_watched_keys are Redis 7.2+ INFO fields") {
        return;
    }
    for i in 0..100 {
        let _: () = con.set(format!("k{i}"), i).unwrap();
    }
    assert_eq!(info_field(&mut con, "clients", "total_watched_keys"), "0");
    let _: () = redis::cmd("WATCH")
        .arg("a")
        .arg("b")
        .query(&mut con)
        .unwrap();
    let mut other = connect(target.addr);
    let _: () = redis::cmd("WATCH").arg("a").query(&mut other).unwrap();
    assert_eq!(info_field(&mut con, "clients", "watching_clients"), "2");
    assert_eq!(info_field(&mut con, "clients", "total_watched_keys"), "2");
    let _: Vec<Value> = redis::pipe().atomic().query(&mut con).unwrap();
    assert_eq!(info_field(&mut con, "clients", "watching_clients"), "1");
    assert_eq!(info_field(&mut con, "clients", "total_watched_keys"), "1");
    drop(other);
    poll("the closed connection's watch to end", || {
        (info_field(&mut con, "clients", "total_watched_keys") == "0").then_some(())
    });
    assert_eq!(info_field(&mut con, "clients", "watching_clients"), "0");
}

#[test]
fn select_isolates_databases() {
    let target = RespTarget::start();
    let mut db0 = connect_db(target.addr, 0);
    let mut db5 = connect_db(target.addr, 5);
    let _: String = db0.xadd("same", "1-1", &[("db", "0")]).unwrap();
    let _: String = db5.xadd("same", "1-1", &[("db", "5")]).unwrap();
    let _: String = db5.xadd("only5", "1-1", &[("db", "5")]).unwrap();

    assert_eq!(xrange_raw(&mut db0, "same", "-", "+")[0].1[0].1, b"0");
    assert_eq!(xrange_raw(&mut db5, "same", "-", "+")[0].1[0].1, b"5");
    let n: usize = redis::cmd("DBSIZE").query(&mut db0).unwrap();
    assert_eq!(n, 1);
    let n: usize = redis::cmd("DBSIZE").query(&mut db5).unwrap();
    assert_eq!(n, 2);
    let exists: bool = db0.exists("only5").unwrap();
    assert!(!exists);

    // SELECT on an existing connection switches it.
    let _: () = redis::cmd("SELECT").arg(5).query(&mut db0).unwrap();
    let exists: bool = db0.exists("only5").unwrap();
    assert!(exists);
    let _: () = redis::cmd("SELECT").arg(0).query(&mut db0).unwrap();

    // FLUSHDB empties only the selected database.
    let _: () = redis::cmd("FLUSHDB").query(&mut db5).unwrap();
    let n: usize = redis::cmd("DBSIZE").query(&mut db5).unwrap();
    assert_eq!(n, 0);
    let n: usize = redis::cmd("DBSIZE").query(&mut db0).unwrap();
    assert_eq!(n, 1);
    let keyspace: String = redis::cmd("INFO").arg("keyspace").query(&mut db0).unwrap();
    assert!(keyspace.contains("db0:keys=1,"), "{keyspace}");
    assert!(!keyspace.contains("db5:"), "{keyspace}");
}

#[test]
fn rename_type_exists_del() {
    let target = RespTarget::start();
    let mut con = connect(target.addr);
    let _: String = con.xadd("a", "1-1", &[("f", "v")]).unwrap();
    let _: String = con.xadd("b", "1-1", &[("f", "b")]).unwrap();
    let t: String = redis::cmd("TYPE").arg("a").query(&mut con).unwrap();
    assert_eq!(t, "stream");
    let t: String = redis::cmd("TYPE").arg("missing").query(&mut con).unwrap();
    assert_eq!(t, "none");

    let _: () = con.rename("a", "c").unwrap();
    let n: usize = redis::cmd("EXISTS")
        .arg("a")
        .arg("c")
        .arg("c")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 2, "EXISTS counts c twice and a not at all");
    assert_eq!(xrange_raw(&mut con, "c", "-", "+")[0].1[0].1, b"v");
    // The renamed stream keeps its last ID: XADD below it is refused.
    let err = con
        .xadd::<_, _, _, _, String>("c", "1-1", &[("f", "again")])
        .unwrap_err();
    assert!(err.to_string().contains("equal or smaller"), "{err}");

    let moved: bool = con.rename_nx("c", "b").unwrap();
    assert!(!moved, "RENAMENX onto an existing key");
    // RENAME replaces an existing destination.
    let _: () = con.rename("c", "b").unwrap();
    assert_eq!(xrange_raw(&mut con, "b", "-", "+")[0].1[0].1, b"v");
    let err = con.rename::<_, _, ()>("nope", "x").unwrap_err();
    assert!(err.to_string().contains("no such key"), "{err}");

    let n: usize = con.del(&["b", "missing"]).unwrap();
    assert_eq!(n, 1);
    let n: usize = redis::cmd("UNLINK").arg("b").query(&mut con).unwrap();
    assert_eq!(n, 0);
    let n: usize = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(n, 0);
}

#[test]
fn scan_with_match_count_and_type_visits_every_key() {
    let target = RespTarget::start();
    let mut con = connect(target.addr);
    let mut pipe = redis::pipe();
    for i in 0..60 {
        pipe.xadd(format!("user:{i}"), "1-1", &[("f", "v")])
            .ignore();
    }
    for i in 0..15 {
        pipe.xadd(format!("other:{i}"), "1-1", &[("f", "v")])
            .ignore();
    }
    let _: () = pipe.query(&mut con).unwrap();

    let scan = |con: &mut Connection, extra: &[&str]| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut cursor = "0".to_string();
        for round in 0.. {
            assert!(round < 1000, "SCAN did not finish");
            let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
                .arg(&cursor)
                .arg(extra)
                .query(con)
                .unwrap();
            seen.extend(keys);
            if next == "0" {
                break;
            }
            cursor = next;
        }
        seen
    };
    let users: BTreeSet<String> = (0..60).map(|i| format!("user:{i}")).collect();
    assert_eq!(scan(&mut con, &["MATCH", "user:*", "COUNT", "7"]), users);
    assert_eq!(
        scan(
            &mut con,
            &["MATCH", "user:*", "COUNT", "7", "TYPE", "stream"]
        ),
        users
    );
    assert!(scan(&mut con, &["TYPE", "string"]).is_empty());
    assert_eq!(scan(&mut con, &["COUNT", "1000"]).len(), 75);
    assert_eq!(
        scan(&mut con, &["MATCH", "other:1?"]),
        (10..15).map(|i| format!("other:{i}")).collect()
    );
    // redis-rs's own iterator agrees.
    let via_iter: BTreeSet<String> = con
        .scan_match("other:*")
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(via_iter.len(), 15);
    let mut keys: Vec<String> = con.keys("user:1*").unwrap();
    keys.sort();
    assert_eq!(keys.len(), 11); // user:1, user:10..user:19
}

/// The `field=value` pairs of the CLIENT LIST line for which `pred` holds.
fn client_line(list: &str, pred: impl Fn(&str) -> bool) -> Option<String> {
    list.lines().find(|l| pred(l)).map(str::to_string)
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let prefix = format!("{name}=");
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
}

#[test]
fn client_setname_getname_list_and_kill() {
    let target = RespTarget::start();
    let mut alpha = connect(target.addr);
    let mut admin = connect(target.addr);

    let name: Option<String> = redis::cmd("CLIENT")
        .arg("GETNAME")
        .query(&mut alpha)
        .unwrap();
    assert_eq!(name, None);
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("alpha")
        .query(&mut alpha)
        .unwrap();
    let name: Option<String> = redis::cmd("CLIENT")
        .arg("GETNAME")
        .query(&mut alpha)
        .unwrap();
    assert_eq!(name.as_deref(), Some("alpha"));
    let alpha_id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut alpha).unwrap();

    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut admin).unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");
    let line = client_line(&list, |l| l.contains(" name=alpha "))
        .unwrap_or_else(|| panic!("alpha not in CLIENT LIST:\n{list}"));
    assert_eq!(field(&line, "id"), alpha_id.to_string());
    assert_eq!(field(&line, "db"), "0");
    assert!(field(&line, "addr").starts_with("127.0.0.1:"), "{line}");
    let me: String = redis::cmd("CLIENT").arg("INFO").query(&mut admin).unwrap();
    assert!(me.starts_with("id="), "{me}");
    let admin_id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut admin).unwrap();
    assert_eq!(field(me.trim_end(), "id"), admin_id.to_string());
    assert_ne!(admin_id, alpha_id);

    // CLIENT KILL ID: the count, and the victim's connection is closed.
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(alpha_id)
        .query(&mut admin)
        .unwrap();
    assert_eq!(killed, 1);
    let err = redis::cmd("PING").query::<String>(&mut alpha).unwrap_err();
    assert!(
        err.is_connection_dropped() || err.is_io_error(),
        "killed client still served: {err:?}"
    );
    poll("the killed client to leave CLIENT LIST", || {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut admin).unwrap();
        (!list.contains("name=alpha")).then_some(())
    });

    // Old form: CLIENT KILL ip:port.
    let mut beta = connect(target.addr);
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("beta")
        .query(&mut beta)
        .unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut admin).unwrap();
    let line = client_line(&list, |l| l.contains(" name=beta ")).unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("KILL")
        .arg(field(&line, "addr"))
        .query(&mut admin)
        .unwrap();
    assert!(redis::cmd("PING").query::<String>(&mut beta).is_err());
}

#[test]

fn client_list_names_the_last_subcommand() {
    let target = RespTarget::start();
    let mut con = connect(target.addr);
    let _: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    assert_eq!(field(list.lines().next().unwrap(), "cmd"), "client|list");
    let me: String = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
    assert_eq!(field(me.trim_end(), "cmd"), "client|info");
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut con)
        .unwrap();
    let me: String = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
    assert_eq!(field(me.trim_end(), "cmd"), "client|info");
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    assert!(list.contains(" cmd=client|list "), "{list}");
}

#[test]
fn config_get_save_and_appendonly() {
    let target = RespTarget::start();
    let mut con = connect(target.addr);
    let save: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("save")
        .query(&mut con)
        .unwrap();
    // No RDB snapshots: Redis started with --save '' answers exactly this.
    assert_eq!(save, ["save", ""]);
    let appendonly: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .query(&mut con)
        .unwrap();
    // Brook logs every write durably: it reports the setting under which Redis
    // guarantees the same (and under which WAITAOF 1 0 0 succeeds).
    assert_eq!(appendonly, ["appendonly", "yes"]);
    let none: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("no-such-parameter")
        .query(&mut con)
        .unwrap();
    assert!(none.is_empty());
}

#[test]
fn info_reports_clients_commands_and_keyspace() {
    let target = RespTarget::start();
    let mut con = connect(target.addr);
    let _second = connect(target.addr);
    let _third = connect(target.addr);
    let version = info_field(&mut con, "server", "redis_version");
    assert!(
        version.split('.').count() == 3 && version.starts_with('7'),
        "redis_version {version}"
    );
    let clients: u64 = info_field(&mut con, "clients", "connected_clients")
        .parse()
        .unwrap();
    assert_eq!(clients, 3);

    let before: u64 = info_field(&mut con, "stats", "total_commands_processed")
        .parse()
        .unwrap();
    for i in 1..=3 {
        let _: String = con.xadd(format!("k{i}"), "1-1", &[("f", "v")]).unwrap();
    }
    let after: u64 = info_field(&mut con, "stats", "total_commands_processed")
        .parse()
        .unwrap();
    // The three XADDs and the INFO that read `before`.
    assert_eq!(after - before, 4);

    let db0 = info_field(&mut con, "keyspace", "db0");
    assert!(db0.starts_with("keys=3,expires=0,avg_ttl=0"), "db0:{db0}");
    // A deleted stream's files are freed in the background, counted as Redis counts
    // what UNLINK left to free.
    let deleted: usize = con.del("k1").unwrap();
    assert_eq!(deleted, 1);
    crate::util::poll("lazyfree_pending_objects:0", || {
        let pending: u64 = info_field(&mut con, "memory", "lazyfree_pending_objects")
            .parse()
            .unwrap();
        (pending == 0).then_some(())
    });
    let all: String = redis::cmd("INFO").query(&mut con).unwrap();
    for section in ["# Server", "# Clients", "# Stats", "# Keyspace"] {
        assert!(all.contains(section), "INFO lacks {section}:\n{all}");
    }
}

/// (WAITAOF exists since Redis 7.2; the Redis this was checked against was 7.0, so
/// the expected value is the documented one for `appendonly yes`.)
#[test]
fn waitaof_1_0_0_after_an_xadd_returns_1_0() {
    let target = RespTarget::start();
    let mut con = connect(target.addr);
    let _: String = con.xadd("durable", "1-1", &[("f", "v")]).unwrap();
    let reply: Vec<i64> = redis::cmd("WAITAOF")
        .arg(1)
        .arg(0)
        .arg(0)
        .query(&mut con)
        .unwrap();
    assert_eq!(reply, [1, 0]);
}
