//! Acknowledged XADDs survive a restart, both a clean one (SIGTERM) and a crash
//! (SIGKILL in the middle of a write load), under the default fsync policy `always`:
//! every entry whose reply reached the client is there after the restart, in order,
//! byte for byte. Consumer-group state (PELs, last-delivered IDs, consumers) too.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use redis::streams::{StreamReadOptions, StreamReadReply};
use redis::{Commands as _, Connection};

use crate::util::{command, free_ports, start_brook, Server, TIMEOUT};

fn connect_db(addr: SocketAddr, db: u8) -> Connection {
    let client = redis::Client::open(format!("redis://{addr}/{db}")).unwrap();
    let con = client.get_connection_with_timeout(TIMEOUT).unwrap();
    con.set_read_timeout(Some(TIMEOUT)).unwrap();
    con.set_write_timeout(Some(TIMEOUT)).unwrap();
    con
}

type Entry = (String, Vec<(Vec<u8>, Vec<u8>)>);

fn xrange_all(con: &mut Connection, key: &str) -> Vec<Entry> {
    redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query(con)
        .unwrap()
}

/// A value that differs per `i` and contains every kind of byte RESP cares about.
fn value_for(i: u64) -> Vec<u8> {
    let mut v = format!("{i}:").into_bytes();
    v.extend_from_slice(b"\x00\r\n\xff$*-+:_\r");
    v.extend((0..(i % 61)).map(|j| ((i * 31 + j * 7) % 256) as u8));
    v
}

#[test]
fn entries_survive_sigterm_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, addr) = start_brook(dir.path(), &data);
    let mut con = connect_db(addr, 0);
    let mut expected: Vec<Entry> = Vec::new();
    let mut pipe = redis::pipe();
    for i in 1..=300u64 {
        let id = format!("{i}-{}", i % 3);
        let value = value_for(i);
        pipe.xadd("s", &id, &[(b"v".as_slice(), value.as_slice())]);
        expected.push((id, vec![(b"v".to_vec(), value)]));
    }
    let ids: Vec<String> = pipe.query(&mut con).unwrap();
    assert_eq!(ids.len(), 300);
    let deleted: usize = con.xdel("s", &["7-1"]).unwrap();
    assert_eq!(deleted, 1);
    expected.retain(|(id, _)| id != "7-1");
    let mut db3 = connect_db(addr, 3);
    let _: String = db3.xadd("in3", "5-5", &[("k", "v")]).unwrap();
    // A last ID above the last entry (XSETID) must survive too.
    let _: () = redis::cmd("XSETID")
        .arg("s")
        .arg("1000-0")
        .query(&mut con)
        .unwrap();
    drop((con, db3));

    server.terminate();
    let (status, log) = server.wait_exit_and_log();
    assert_eq!(status.code(), Some(0), "log:\n{log}");

    let (_server, addr) = start_brook(dir.path(), &data);
    let mut con = connect_db(addr, 0);
    assert_eq!(xrange_all(&mut con, "s"), expected);
    let len: usize = con.xlen("s").unwrap();
    assert_eq!(len, 299);
    let mut db3 = connect_db(addr, 3);
    assert_eq!(
        xrange_all(&mut db3, "in3"),
        [("5-5".to_string(), vec![(b"k".to_vec(), b"v".to_vec())])]
    );
    let err = con
        .xadd::<_, _, _, _, String>("s", "999-0", &[("f", "v")])
        .unwrap_err();
    assert!(err.to_string().contains("equal or smaller"), "{err}");
    let id: String = con.xadd("s", "1000-*", &[("f", "v")]).unwrap();
    assert_eq!(id, "1000-1");
}

/// What one writer saw: the entries acknowledged, and those sent without a reply.
struct Written {
    acked: Vec<Entry>,
    in_flight: Vec<Vec<u8>>,
}

/// Appends to `key` until the connection fails, `batch` XADDs per round trip (a
/// pipeline when > 1); reports each acknowledged batch's size on `progress`.
fn writer(
    addr: SocketAddr,
    key: &'static str,
    batch: u64,
    progress: mpsc::Sender<usize>,
) -> std::thread::JoinHandle<Written> {
    std::thread::spawn(move || {
        let mut con = connect_db(addr, 0);
        let mut acked = Vec::new();
        for round in 0u64.. {
            let values: Vec<Vec<u8>> = (0..batch).map(|j| value_for(round * batch + j)).collect();
            let mut pipe = redis::pipe();
            for v in &values {
                pipe.xadd(key, "*", &[(b"v".as_slice(), v.as_slice())]);
            }
            match pipe.query::<Vec<String>>(&mut con) {
                Ok(ids) => {
                    assert_eq!(ids.len(), values.len());
                    for (id, v) in ids.into_iter().zip(values) {
                        acked.push((id, vec![(b"v".to_vec(), v)]));
                    }
                    let _ = progress.send(acked.len());
                }
                Err(e) => {
                    assert!(
                        e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error(),
                        "XADD failed with a server error, not a lost connection: {e:?}"
                    );
                    return Written {
                        acked,
                        in_flight: values,
                    };
                }
            }
        }
        unreachable!()
    })
}

/// Every acknowledged entry is recovered in order and byte-exact; anything after them
/// is a prefix of what was in flight when the server died.
fn check_recovered(key: &str, written: &Written, recovered: &[Entry]) {
    let acked = &written.acked;
    assert!(
        recovered.len() >= acked.len(),
        "{key}: {} entries acknowledged, {} recovered",
        acked.len(),
        recovered.len()
    );
    for (i, (want, got)) in acked.iter().zip(recovered).enumerate() {
        assert_eq!(
            want, got,
            "{key}: acknowledged entry #{i} differs after the crash"
        );
    }
    let extra = &recovered[acked.len()..];
    assert!(
        extra.len() <= written.in_flight.len(),
        "{key}: {} unacknowledged entries recovered, only {} were in flight",
        extra.len(),
        written.in_flight.len()
    );
    for ((_, fields), sent) in extra.iter().zip(&written.in_flight) {
        assert_eq!(fields, &vec![(b"v".to_vec(), sent.clone())]);
    }
}

#[test]
fn acknowledged_entries_survive_sigkill_mid_load() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, addr) = start_brook(dir.path(), &data);

    let (tx, progress) = mpsc::channel();
    let single = writer(addr, "single", 1, tx.clone());
    let piped = writer(addr, "piped", 16, tx);
    // Kill once both writers have had replies for a while (a deterministic signal:
    // acknowledgements, not time).
    let deadline = Instant::now() + TIMEOUT;
    let mut replies = 0;
    while replies < 1000 {
        let left = deadline.saturating_duration_since(Instant::now());
        progress
            .recv_timeout(left)
            .expect("writers stopped getting replies");
        replies += 1;
    }
    server.kill9();
    let single = single.join().unwrap();
    let piped = piped.join().unwrap();
    assert!(!single.acked.is_empty() && !piped.acked.is_empty());

    let (_server, addr) = start_brook(dir.path(), &data);
    let mut con = connect_db(addr, 0);
    eprintln!(
        "acknowledged before SIGKILL: single {}, piped {} (+{} in flight)",
        single.acked.len(),
        piped.acked.len(),
        piped.in_flight.len()
    );
    check_recovered("single", &single, &xrange_all(&mut con, "single"));
    check_recovered("piped", &piped, &xrange_all(&mut con, "piped"));

    // The stream goes on after its last recovered ID.
    let last = xrange_all(&mut con, "single").last().unwrap().0.clone();
    let next: String = con.xadd("single", "*", &[("after", "crash")]).unwrap();
    let parse = |id: &str| -> (u64, u64) {
        let (ms, seq) = id.split_once('-').unwrap();
        (ms.parse().unwrap(), seq.parse().unwrap())
    };
    assert!(parse(&next) > parse(&last), "{next} after {last}");
}

// ---- consumer-group state --------------------------------------------------------------

/// What a group looks like from outside, timing aside: XINFO GROUPS (without lag
/// details that depend on nothing but these), every PEL row with its owner and
/// delivery count, and every consumer with its pending count.
/// One XINFO GROUPS row: name, consumers, pending, last-delivered-id, entries-read, lag.
type GroupRow = (String, i64, i64, String, Option<i64>, Option<i64>);
/// A group's PEL rows: (id, consumer, delivery count).
type PelRows = Vec<(String, String, i64)>;

#[derive(Debug, PartialEq)]
struct GroupState {
    groups: Vec<GroupRow>,
    pel: Vec<(String, PelRows)>,
    consumers: Vec<(String, Vec<(String, i64)>)>,
}

fn group_state(con: &mut Connection, key: &str) -> GroupState {
    use redis::Value as Rv;
    fn s(v: &Rv) -> String {
        match v {
            Rv::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
            Rv::SimpleString(s) => s.clone(),
            other => panic!("not a string: {other:?}"),
        }
    }
    fn i(v: &Rv) -> Option<i64> {
        match v {
            Rv::Int(i) => Some(*i),
            Rv::Nil => None,
            other => panic!("not an integer: {other:?}"),
        }
    }
    fn fields(v: &Rv) -> Vec<(String, Rv)> {
        let Rv::Array(flat) = v else {
            panic!("not an array: {v:?}")
        };
        flat.chunks(2)
            .map(|kv| (s(&kv[0]), kv[1].clone()))
            .collect()
    }
    fn get<'a>(f: &'a [(String, Rv)], k: &str) -> &'a Rv {
        &f.iter()
            .find(|(n, _)| n == k)
            .unwrap_or_else(|| panic!("no {k}"))
            .1
    }
    let Rv::Array(groups) = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(key)
        .query(con)
        .unwrap()
    else {
        panic!("XINFO GROUPS is not an array")
    };
    let mut state = GroupState {
        groups: vec![],
        pel: vec![],
        consumers: vec![],
    };
    for g in &groups {
        let f = fields(g);
        let name = s(get(&f, "name"));
        state.groups.push((
            name.clone(),
            i(get(&f, "consumers")).unwrap(),
            i(get(&f, "pending")).unwrap(),
            s(get(&f, "last-delivered-id")),
            i(get(&f, "entries-read")),
            i(get(&f, "lag")),
        ));
        let rows: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
            .arg(key)
            .arg(&name)
            .arg("-")
            .arg("+")
            .arg(1000)
            .query(con)
            .unwrap();
        state.pel.push((
            name.clone(),
            rows.into_iter()
                .map(|(id, c, _, n)| (id, c, n as i64))
                .collect(),
        ));
        let Rv::Array(consumers) = redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(key)
            .arg(&name)
            .query(con)
            .unwrap()
        else {
            panic!("XINFO CONSUMERS is not an array")
        };
        let consumers = consumers
            .iter()
            .map(|c| {
                let f = fields(c);
                (s(get(&f, "name")), i(get(&f, "pending")).unwrap())
            })
            .collect();
        state.consumers.push((name, consumers));
    }
    state
}

/// Builds group state with every kind of change (create, read, NOACK read, ack, claim,
/// history read, SETID, consumer create/delete, group destroy), stops the server with
/// `stop`, restarts it and checks that the state is the same and goes on from there.
fn group_state_survives(stop: impl FnOnce(&mut crate::util::Server)) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, addr) = start_brook(dir.path(), &data);
    let mut con = connect_db(addr, 0);
    let q = |con: &mut Connection, args: &[&str]| -> redis::Value {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(con)
            .unwrap_or_else(|e| panic!("{args:?} failed: {e}"))
    };
    for i in 1..=6 {
        let _: String = con.xadd("s", format!("{i}-1"), &[("f", i)]).unwrap();
    }
    q(&mut con, &["XGROUP", "CREATE", "s", "g", "0"]);
    q(&mut con, &["XGROUP", "CREATE", "s", "h", "$"]);
    q(&mut con, &["XGROUP", "CREATE", "s", "gone", "0"]);
    q(&mut con, &["XGROUP", "CREATECONSUMER", "s", "g", "idle"]);
    q(&mut con, &["XGROUP", "CREATECONSUMER", "s", "g", "temp"]);
    q(
        &mut con,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "3",
            "STREAMS",
            "s",
            ">",
        ],
    );
    q(
        &mut con,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "COUNT",
            "2",
            "STREAMS",
            "s",
            ">",
        ],
    );
    let acked: i64 = con.xack("s", "g", &["2-1"]).unwrap();
    assert_eq!(acked, 1);
    q(
        &mut con,
        &[
            "XCLAIM",
            "s",
            "g",
            "bob",
            "0",
            "1-1",
            "RETRYCOUNT",
            "5",
            "JUSTID",
        ],
    );
    q(
        &mut con,
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0"],
    );
    q(&mut con, &["XGROUP", "DELCONSUMER", "s", "g", "temp"]);
    q(&mut con, &["XGROUP", "DESTROY", "s", "gone"]);
    q(&mut con, &["XGROUP", "SETID", "s", "h", "4-1"]);
    q(
        &mut con,
        &[
            "XREADGROUP",
            "GROUP",
            "h",
            "carol",
            "NOACK",
            "COUNT",
            "1",
            "STREAMS",
            "s",
            ">",
        ],
    );
    let before = group_state(&mut con, "s");
    assert_eq!(
        before.pel,
        [
            (
                "g".to_string(),
                vec![
                    ("1-1".to_string(), "bob".to_string(), 5),
                    ("3-1".to_string(), "alice".to_string(), 2),
                    ("4-1".to_string(), "bob".to_string(), 1),
                    ("5-1".to_string(), "bob".to_string(), 1),
                ]
            ),
            ("h".to_string(), vec![])
        ]
    );
    assert_eq!(before.groups[0].3, "5-1");
    assert_eq!(before.groups[1].3, "5-1");
    drop(con);

    stop(&mut server);

    let (_server, addr) = start_brook(dir.path(), &data);
    let mut con = connect_db(addr, 0);
    let after = group_state(&mut con, "s");
    assert_eq!(after, before);
    // The groups go on from their last-delivered IDs: nothing is delivered twice.
    let reply: StreamReadReply = con
        .xread_options(
            &["s"],
            &[">"],
            &StreamReadOptions::default().group("g", "dave"),
        )
        .unwrap();
    let ids: Vec<&str> = reply.keys[0].ids.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["6-1"]);
    let reply: StreamReadReply = con
        .xread_options(
            &["s"],
            &[">"],
            &StreamReadOptions::default().group("h", "dave"),
        )
        .unwrap();
    let ids: Vec<&str> = reply.keys[0].ids.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["6-1"]);
    // And acknowledging after the restart works on the recovered PEL.
    let acked: i64 = con.xack("s", "g", &["1-1", "2-1", "3-1"]).unwrap();
    assert_eq!(acked, 2);
}

#[test]
fn group_state_survives_sigkill_and_restart() {
    group_state_survives(|server| server.kill9());
}

#[test]
fn group_state_survives_sigterm_and_restart() {
    group_state_survives(|server| {
        server.terminate();
        let (status, log) = server.wait_exit_and_log();
        assert_eq!(status.code(), Some(0), "log:\n{log}");
    });
}

/// What a consumer saw before the crash.
#[derive(Default)]
struct Worked {
    /// IDs whose XREADGROUP reply arrived.
    delivered: Vec<String>,
    /// IDs whose XACK reply (1) arrived.
    acked: Vec<String>,
    /// An XACK sent without a reply, if any.
    ack_in_flight: Option<String>,
}

#[test]
fn acknowledged_reads_and_acks_survive_sigkill_mid_load() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, addr) = start_brook(dir.path(), &data);
    let mut con = connect_db(addr, 0);
    let mut pipe = redis::pipe();
    for i in 1..=5000u64 {
        pipe.xadd("jobs", format!("{i}-0"), &[("n", i)]).ignore();
    }
    let _: () = pipe.query(&mut con).unwrap();
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("jobs")
        .arg("g")
        .arg("0")
        .query(&mut con)
        .unwrap();

    let (tx, progress) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let mut con = connect_db(addr, 0);
        let mut worked = Worked::default();
        let opts = StreamReadOptions::default().group("g", "w").count(1);
        loop {
            let reply: redis::RedisResult<StreamReadReply> =
                con.xread_options(&["jobs"], &[">"], &opts);
            let Ok(reply) = reply else { return worked };
            let id = reply.keys[0].ids[0].id.clone();
            worked.delivered.push(id.clone());
            worked.ack_in_flight = Some(id.clone());
            let acked: redis::RedisResult<i64> = con.xack("jobs", "g", &[&id]);
            match acked {
                Ok(n) => {
                    assert_eq!(n, 1);
                    worked.ack_in_flight = None;
                    worked.acked.push(id);
                    let _ = tx.send(());
                }
                Err(_) => return worked,
            }
        }
    });
    // Kill after enough acknowledgements (a signal, not a sleep).
    let deadline = Instant::now() + TIMEOUT;
    for _ in 0..300 {
        let left = deadline.saturating_duration_since(Instant::now());
        progress
            .recv_timeout(left)
            .expect("the worker stopped getting replies");
    }
    server.kill9();
    let worked = worker.join().unwrap();
    eprintln!(
        "before SIGKILL: {} delivered, {} acknowledged",
        worked.delivered.len(),
        worked.acked.len()
    );

    let (_server, addr) = start_brook(dir.path(), &data);
    let mut con = connect_db(addr, 0);
    let pending: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
        .arg("jobs")
        .arg("g")
        .arg("-")
        .arg("+")
        .arg(10_000)
        .query(&mut con)
        .unwrap();
    let pending: Vec<String> = pending.into_iter().map(|(id, ..)| id).collect();
    for id in &worked.acked {
        assert!(
            !pending.contains(id),
            "{id} was acknowledged, but is pending after the crash"
        );
    }
    // Delivered but not acknowledged: pending, unless its XACK was in flight.
    for id in worked
        .delivered
        .iter()
        .filter(|id| !worked.acked.contains(id))
    {
        assert!(
            pending.contains(id) || worked.ack_in_flight.as_ref() == Some(id),
            "{id} was delivered and not acknowledged, but is not pending after the crash"
        );
    }
    // Nothing delivered before the crash is delivered again as new.
    let last = worked.delivered.last().unwrap();
    let reply: StreamReadReply = con
        .xread_options(
            &["jobs"],
            &[">"],
            &StreamReadOptions::default().group("g", "w2").count(1),
        )
        .unwrap();
    let next = &reply.keys[0].ids[0].id;
    let seq = |id: &str| -> u64 { id.split_once('-').unwrap().0.parse().unwrap() };
    assert!(seq(next) > seq(last), "{next} delivered again after {last}");
}

/// Drops every data file of `dir` (recursively) from the page cache. The pages must
/// be clean (fsynced), which they are under `always` once the writes were answered.
fn drop_page_cache(dir: &std::path::Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            drop_page_cache(&path);
        } else if let Ok(file) = std::fs::File::open(&path) {
            rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        }
    }
}

#[test]
fn reads_of_history_not_in_the_page_cache_give_the_same_replies() {
    // XRANGE, XREVRANGE and XREAD of data the page cache no longer holds run on a
    // blocking thread (not on the connection's runtime worker), and XREADGROUP (`>`
    // and history) has the pages read there first: same replies.
    const COLD: &str = "stream read of entries not in the page cache";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = free_ports(&data);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let log_cold = [("RUST_LOG", "info,brook_resp_server::stream_read=debug")];
    let mut server = Server::start(command(dir.path(), &args, &log_cold));
    let addr = server.resp_addr();
    let mut con = connect_db(addr, 0);
    let mut pipe = redis::pipe();
    for i in 1..=3000u64 {
        let mut value = value_for(i);
        value.resize(2048, b'.');
        pipe.xadd("history", "*", &[(b"v".as_slice(), value.as_slice())]);
    }
    let ids: Vec<String> = pipe.query(&mut con).unwrap();
    assert_eq!(ids.len(), 3000);
    // Each read after `before` (which drops the pages in the cold pass).
    // XREADGROUP `>` of a group at 1000 entries in (each pass its own group).
    // (posix_fadvise may keep some pages it is asked to drop, e.g. while something
    // else holds them: the cold pass is tried up to three times.)
    const COLD_TRIES: usize = 3;
    let cold_groups: Vec<String> = (0..COLD_TRIES).map(|i| format!("cold{i}")).collect();
    for group in std::iter::once("hot").chain(cold_groups.iter().map(String::as_str)) {
        let _: () = con.xgroup_create("history", group, &ids[999]).unwrap();
    }
    let reads = |con: &mut Connection, group: &str, before: &dyn Fn()| {
        before();
        let all = xrange_all(con, "history");
        before();
        let middle: Vec<Entry> = redis::cmd("XRANGE")
            .arg("history")
            .arg(&ids[1000])
            .arg("+")
            .arg("COUNT")
            .arg(500)
            .query(con)
            .unwrap();
        before();
        let newest: Vec<Entry> = redis::cmd("XREVRANGE")
            .arg("history")
            .arg(&ids[2500])
            .arg("-")
            .arg("COUNT")
            .arg(700)
            .query(con)
            .unwrap();
        before();
        let read: StreamReadReply = con
            .xread_options(
                &["history"],
                &[ids[10].as_str()],
                &StreamReadOptions::default().count(100_000),
            )
            .unwrap();
        let read: Vec<String> = read.keys[0].ids.iter().map(|e| e.id.clone()).collect();
        // XREADGROUP GROUP group c COUNT 800 STREAMS history <id>: the IDs read.
        let mut group_read = |id: &str| -> Vec<String> {
            before();
            let reply: StreamReadReply = con
                .xread_options(
                    &["history"],
                    &[id],
                    &StreamReadOptions::default().group(group, "c").count(800),
                )
                .unwrap();
            reply.keys[0].ids.iter().map(|e| e.id.clone()).collect()
        };
        let delivered = group_read(">");
        // The consumer's history: what `>` just delivered to it.
        let pending = group_read("0");
        (all, middle, newest, read, delivered, pending)
    };
    let hot = reads(&mut con, "hot", &|| {});
    assert_eq!(hot.0.len(), 3000);
    assert_eq!(hot.1.len(), 500);
    assert_eq!(hot.1[0].0, ids[1000]);
    assert_eq!(hot.2.len(), 700);
    assert_eq!(hot.2[0].0, ids[2500]);
    assert_eq!(hot.3, ids[11..].to_vec());
    assert_eq!(hot.4, ids[1000..1800].to_vec());
    assert_eq!(hot.5, hot.4);
    let topics = data.join("topics");
    // Where the pages cannot be dropped (tmpfs keeps them: no device to read
    // from), every read stays inline; the replies are checked all the same.
    let tmpfs = rustix::fs::statfs(&topics).is_ok_and(|fs| fs.f_type == 0x0102_1994);
    let mut went_cold = false;
    for group in &cold_groups {
        // (Not 0 for sure: memory pressure may have evicted pages during the hot
        // pass. The log reaches the test through a reader thread: the count is
        // taken once it has not changed for 300 ms, so no earlier pass's lines are
        // counted in this one.)
        let mut before = server.log().matches(COLD).count();
        loop {
            std::thread::sleep(Duration::from_millis(300));
            let now = server.log().matches(COLD).count();
            if now == before {
                break;
            }
            before = now;
        }
        let cold = reads(&mut con, group, &|| drop_page_cache(&topics));
        assert!(hot == cold, "replies changed once the pages were dropped");
        if tmpfs {
            went_cold = true;
            break;
        }
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline && !went_cold {
            went_cold = server.log().matches(COLD).count() >= before + 6;
            std::thread::sleep(Duration::from_millis(20));
        }
        if went_cold {
            break;
        }
    }
    assert!(
        went_cold,
        "in none of {COLD_TRIES} passes did each of the 6 reads go off the worker"
    );
    server.terminate();
    assert!(server.wait_exit().success());
}
