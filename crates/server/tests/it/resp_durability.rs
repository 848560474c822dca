//! Acknowledged XADDs survive a restart, both a clean one (SIGTERM) and a crash
//! (SIGKILL in the middle of a write load), under the default fsync policy `always`:
//! every entry whose reply reached the client is there after the restart, in order,
//! byte for byte.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Instant;

use redis::{Commands as _, Connection};

use crate::util::{start_brook, TIMEOUT};

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
