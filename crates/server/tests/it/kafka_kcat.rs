//! Kafka clients against the real server: Debian's `kcat` (librdkafka) produces,
//! consumes and lists metadata; records cross between Kafka and Redis (`XADD` →
//! Kafka fetch, Kafka produce → `XRANGE`). Needs `kcat` on the PATH
//! (`scripts/install-test-deps.sh kcat`).

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redis::Connection;

use crate::util::{free_ports, Server, TIMEOUT};

/// A server with its Kafka and RESP addresses; the data dir is removed on drop.
struct Brook {
    kafka: SocketAddr,
    resp: SocketAddr,
    _server: Server,
    _dir: tempfile::TempDir,
}

fn start() -> Brook {
    start_with(&[])
}

fn start_with(extra: &[&str]) -> Brook {
    let dir = tempfile::tempdir().unwrap();
    let mut args = free_ports(&dir.path().join("data"));
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(crate::util::command(dir.path(), &args, &[]));
    let kafka = server.addr("kafka").expect("kafka listening line");
    let resp = server.resp_addr();
    Brook {
        kafka,
        resp,
        _server: server,
        _dir: dir,
    }
}

struct Output {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `kcat -b <addr> args...` with `stdin`; killed (and the test failed) if it
/// takes longer than [`TIMEOUT`].
fn kcat(addr: SocketAddr, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new("kcat")
        .arg("-b")
        .arg(addr.to_string())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run kcat ({e}); install it with scripts/install-test-deps.sh kcat")
        });
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).unwrap();
        s
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("kcat {args:?} timed out; stderr:\n{}", err.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn produce_keyed(addr: SocketAddr, topic: &str, lines: &str, extra: &[&str]) {
    let mut args = vec!["-P", "-t", topic, "-K:"];
    args.extend_from_slice(extra);
    let out = kcat(addr, &args, lines.as_bytes());
    assert!(
        out.status.success(),
        "kcat -P {extra:?} failed: {}",
        out.stderr
    );
}

/// Every record of `topic` from the beginning, formatted with `format`.
fn consume(addr: SocketAddr, topic: &str, format: &str) -> String {
    let out = kcat(
        addr,
        &["-C", "-t", topic, "-o", "beginning", "-e", "-f", format],
        b"",
    );
    assert!(out.status.success(), "kcat -C failed: {}", out.stderr);
    out.stdout
}

fn keyed_lines(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{prefix}-k{i}:{prefix} value {i} ☃\n"))
        .collect()
}

fn redis(addr: SocketAddr) -> Connection {
    let client = redis::Client::open(format!("redis://{addr}/0")).unwrap();
    let con = client.get_connection_with_timeout(TIMEOUT).unwrap();
    con.set_read_timeout(Some(TIMEOUT)).unwrap();
    con
}

#[test]
fn kcat_consumes_exactly_what_kcat_produced() {
    let brook = start();
    let lines = keyed_lines("plain", 500);
    produce_keyed(brook.kafka, "plain", &lines, &[]);
    assert_eq!(consume(brook.kafka, "plain", "%k:%s\n"), lines);
}

#[test]
fn kcat_compressed_batches_are_stored_and_fetched_for_every_codec() {
    let brook = start();
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("z-{codec}");
        let lines = keyed_lines(codec, 300);
        produce_keyed(brook.kafka, &topic, &lines, &["-z", codec]);
        assert_eq!(consume(brook.kafka, &topic, "%k:%s\n"), lines, "{codec}");
        // Offsets stay dense: 300 records, offsets 0..300.
        let offsets = consume(brook.kafka, &topic, "%o\n");
        let expected: String = (0..300).map(|o| format!("{o}\n")).collect();
        assert_eq!(offsets, expected, "{codec}");
    }
}

#[test]
fn kcat_metadata_lists_the_topic_and_the_broker() {
    let brook = start();
    produce_keyed(brook.kafka, "listed", "a:b\n", &[]);
    let out = kcat(brook.kafka, &["-L"], b"");
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!("broker 0 at {}", brook.kafka)),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("topic \"listed\" with 1 partitions"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("partition 0, leader 0, replicas: 0, isrs: 0"),
        "{}",
        out.stdout
    );
}

#[test]
fn xadd_entries_are_fetched_by_kcat() {
    let brook = start();
    let mut con = redis(brook.resp);
    let ids: Vec<String> = [
        vec!["key", "o-17", "value", "{\"total\":12}"],
        vec!["user", "ann", "page", "/home"],
    ]
    .iter()
    .map(|fields| {
        redis::cmd("XADD")
            .arg("orders")
            .arg("*")
            .arg(fields)
            .query(&mut con)
            .unwrap()
    })
    .collect();
    assert_eq!(ids.len(), 2);
    let got = consume(brook.kafka, "orders", "%k|%s|%o\n");
    assert_eq!(
        got,
        "o-17|{\"total\":12}|0\n|{\"user\":\"ann\",\"page\":\"/home\"}|1\n"
    );
    // The record timestamp is the server's clock at the append, which is also where
    // the entry ID's milliseconds come from.
    let ts = consume(brook.kafka, "orders", "%T\n");
    let ts: Vec<i64> = ts.lines().map(|t| t.parse().unwrap()).collect();
    assert_eq!(ts.len(), 2);
    for (ts, id) in ts.iter().zip(&ids) {
        let id_ms: i64 = id.split('-').next().unwrap().parse().unwrap();
        assert!((ts - id_ms).abs() < 1000, "timestamp {ts}, ID {id}");
    }
}

#[test]
fn kcat_records_are_read_by_xrange() {
    let brook = start();
    produce_keyed(brook.kafka, "fromkafka", "k1:v1\n", &["-H", "h1=x"]);
    produce_keyed(brook.kafka, "fromkafka", "k2:v2\n", &["-z", "gzip"]);
    let mut con = redis(brook.resp);
    type Entry = (String, Vec<String>);
    let entries: Vec<Entry> = redis::cmd("XRANGE")
        .arg("fromkafka")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    let fields: Vec<Vec<String>> = entries.into_iter().map(|(_, f)| f).collect();
    assert_eq!(
        fields,
        vec![
            vec!["key", "k1", "value", "v1", "h1", "x"],
            vec!["key", "k2", "value", "v2"],
        ]
    );
}

#[test]
fn a_waiting_consumer_gets_records_produced_later() {
    let brook = start();
    produce_keyed(brook.kafka, "live", "k0:v0\n", &[]);
    let addr = brook.kafka;
    let consumer = std::thread::spawn(move || {
        kcat(
            addr,
            &[
                "-C",
                "-t",
                "live",
                "-o",
                "beginning",
                "-c",
                "3",
                "-f",
                "%k:%s\n",
            ],
            b"",
        )
    });
    std::thread::sleep(Duration::from_millis(700));
    produce_keyed(brook.kafka, "live", "k1:v1\nk2:v2\n", &[]);
    let out = consumer.join().unwrap();
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(out.stdout, "k0:v0\nk1:v1\nk2:v2\n");
}

#[test]
fn topic_names_kafka_forbids_are_refused() {
    let brook = start();
    let out = kcat(brook.kafka, &["-P", "-t", "events:orders", "-K:"], b"a:b\n");
    assert!(!out.status.success(), "{}", out.stdout);
    assert!(out.stderr.contains("Invalid topic"), "{}", out.stderr);
}

#[test]
fn redis_keys_kafka_cannot_spell_are_reachable_under_their_escaped_names() {
    let brook = start();
    let mut con = redis(brook.resp);
    let _: String = redis::cmd("XADD")
        .arg("events:orders")
        .arg("*")
        .arg(&["key", "k1", "value", "v1"])
        .query(&mut con)
        .unwrap();
    // docs/mapping.md: `events:orders` is `_events_3Aorders` to Kafka.
    assert_eq!(
        consume(brook.kafka, "_events_3Aorders", "%k|%s\n"),
        "k1|v1\n"
    );
    // And a Kafka producer writing to the escaped name writes to the Redis key.
    produce_keyed(brook.kafka, "_events_3Aorders", "k2:v2\n", &[]);
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("events:orders")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    let last = entries.last().unwrap();
    assert_eq!(
        last.1,
        vec![
            ("key".to_string(), "k2".to_string()),
            ("value".to_string(), "v2".to_string())
        ]
    );
    // The listing shows the escaped name.
    let out = kcat(brook.kafka, &["-L"], b"");
    assert!(
        out.stdout.contains("\"_events_3Aorders\""),
        "{}",
        out.stdout
    );
}

#[test]
fn xdeleted_entries_are_left_out_of_kafka_fetches() {
    let brook = start();
    let mut con = redis(brook.resp);
    for v in ["v0", "v1", "v2", "v3"] {
        let _: String = redis::cmd("XADD")
            .arg("gaps")
            .arg("*")
            .arg(&["key", "k", "value", v])
            .query(&mut con)
            .unwrap();
    }
    let ids: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("gaps")
        .arg("-")
        .arg("+")
        .query(&mut con)
        .unwrap();
    let deleted: i64 = redis::cmd("XDEL")
        .arg("gaps")
        .arg(&ids[1].0)
        .query(&mut con)
        .unwrap();
    assert_eq!(deleted, 1);
    // Offset 1 is a gap; the others keep their offsets.
    assert_eq!(
        consume(brook.kafka, "gaps", "%o:%s\n"),
        "0:v0\n2:v2\n3:v3\n"
    );
}

#[test]
fn records_acknowledged_with_acks_all_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, _) = crate::util::start_brook(dir.path(), &data);
    let kafka = server.addr("kafka").unwrap();
    let lines = keyed_lines("k", 1000);
    // kcat exits successfully only once every message was acknowledged (acks=all:
    // on stable storage).
    produce_keyed(kafka, "durable", &lines, &["-X", "acks=all"]);
    server.kill9();
    let (mut server, _) = crate::util::start_brook(dir.path(), &data);
    let kafka = server.addr("kafka").unwrap();
    assert_eq!(consume(kafka, "durable", "%k:%s\n"), lines);
}

/// `brook server` on `data` with Kafka groups rebalancing at once.
fn start_for_groups(dir: &std::path::Path, data: &std::path::Path) -> (Server, SocketAddr) {
    let mut args = free_ports(data);
    args.extend(["--group-initial-rebalance-delay-ms".into(), "0".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(crate::util::command(dir, &args, &[]));
    let kafka = server.addr("kafka").expect("kafka listening line");
    (server, kafka)
}

/// `kcat -G group topic` (a balanced consumer that commits on close), reading `count`
/// records or to the end of the topic.
fn consume_in_group(kafka: SocketAddr, group: &str, topic: &str, count: Option<usize>) -> String {
    let count = count.map(|c| c.to_string());
    // Not `-o`: with -G, kcat assigns that offset instead of the committed one.
    let mut args = vec![
        "-G",
        group,
        "-f",
        "%k:%s\n",
        "-X",
        "auto.offset.reset=earliest",
    ];
    match &count {
        Some(c) => args.extend(["-c", c.as_str()]),
        None => args.push("-e"),
    }
    args.push(topic);
    let out = kcat(kafka, &args, b"");
    assert!(out.status.success(), "kcat -G failed: {}", out.stderr);
    assert!(
        out.stderr.contains(&format!("Group {group} rebalanced")),
        "no rebalance in: {}",
        out.stderr
    );
    out.stdout
}

#[test]
fn a_kcat_group_resumes_from_its_committed_offset_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, kafka) = start_for_groups(dir.path(), &data);
    let lines = keyed_lines("g", 300);
    produce_keyed(kafka, "jobs", &lines, &["-X", "acks=all"]);
    let all: Vec<&str> = lines.lines().collect();

    // First run: 100 records, committed when the consumer closes.
    let first = consume_in_group(kafka, "workers", "jobs", Some(100));
    assert!(
        first.lines().eq(all[..100].iter().copied()),
        "first run: {first}"
    );
    // The committed offset is durable: it survives SIGKILL.
    server.kill9();
    let (server, kafka) = start_for_groups(dir.path(), &data);
    let rest = consume_in_group(kafka, "workers", "jobs", None);
    assert!(
        rest.lines().eq(all[100..].iter().copied()),
        "after the restart the group read {} records, from {:?}",
        rest.lines().count(),
        rest.lines().next()
    );
    // Another group starts from the beginning; the first has nothing left.
    let other = consume_in_group(kafka, "auditors", "jobs", None);
    assert_eq!(other.lines().count(), 300);
    assert_eq!(consume_in_group(kafka, "workers", "jobs", None), "");
    server.terminate();
}

#[test]
fn auto_creation_can_be_turned_off() {
    let brook = start_with(&["--kafka-auto-create-topics", "false"]);
    let out = kcat(brook.kafka, &["-L", "-t", "unmade"], b"");
    assert!(
        out.stdout.contains("Unknown topic or partition") || out.stdout.contains("0 partitions"),
        "{}",
        out.stdout
    );
    let mut redis = redis(brook.resp);
    let exists: i64 = redis::cmd("EXISTS")
        .arg("unmade")
        .query(&mut redis)
        .unwrap();
    assert_eq!(exists, 0);
    // Producing to an unknown topic fails; an existing one takes records.
    let _: String = redis::cmd("XADD")
        .arg("made")
        .arg("*")
        .arg("key")
        .arg("k")
        .arg("value")
        .arg("v")
        .query(&mut redis)
        .unwrap();
    produce_keyed(brook.kafka, "made", "a:1\n", &[]);
    assert_eq!(consume(brook.kafka, "made", "%k:%s\n"), "k:v\na:1\n");
}
