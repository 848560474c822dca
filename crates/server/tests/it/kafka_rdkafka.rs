//! The `rdkafka` crate (librdkafka, built from its vendored source) against the real
//! server: every codec, headers, consumer groups with members leaving and joining,
//! offset resets, committed offsets across SIGKILL, the idempotent producer, admin
//! operations, and records crossing between Kafka and Redis.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use redis::Commands as _;

use crate::util::{free_ports, Server, TIMEOUT};

/// `brook server` on `data` with every listener on a free port and Kafka groups
/// rebalancing at once.
fn start(dir: &Path, data: &Path) -> (Server, SocketAddr) {
    let mut args = free_ports(data);
    args.extend(["--group-initial-rebalance-delay-ms".into(), "0".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(crate::util::command(dir, &args, &[]));
    let kafka = server.addr("kafka").expect("kafka listening line");
    (server, kafka)
}

fn config(kafka: SocketAddr) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", kafka.to_string())
        .set("broker.address.family", "v4");
    c
}

fn producer(kafka: SocketAddr, extra: &[(&str, &str)]) -> BaseProducer {
    let mut c = config(kafka);
    c.set("linger.ms", "5");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().unwrap()
}

fn consumer(kafka: SocketAddr, group: &str, extra: &[(&str, &str)]) -> BaseConsumer {
    let mut c = config(kafka);
    c.set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("heartbeat.interval.ms", "300")
        .set("session.timeout.ms", "6000");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().unwrap()
}

fn admin(kafka: SocketAddr) -> AdminClient<DefaultClientContext> {
    config(kafka).create().unwrap()
}

fn create_topic(kafka: SocketAddr, name: &str, partitions: i32) {
    let results = futures_executor::block_on(admin(kafka).create_topics(
        &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
        &AdminOptions::new(),
    ))
    .unwrap();
    assert!(
        matches!(results.as_slice(), [Ok(n)] if n == name),
        "{results:?}"
    );
}

/// Produces `records` (key, value, headers) to `partition` and waits for every
/// acknowledgement.
fn produce(p: &BaseProducer, topic: &str, partition: Option<i32>, records: &[Sent]) {
    for (key, value, headers) in records {
        let mut h = OwnedHeaders::new();
        for (name, v) in headers {
            h = h.insert(Header {
                key: name,
                value: Some(v.as_bytes()),
            });
        }
        let mut record = BaseRecord::to(topic).key(key).payload(value).headers(h);
        if let Some(partition) = partition {
            record = record.partition(partition);
        }
        let mut record = Some(record);
        while let Some(r) = record.take() {
            if let Err((e, r)) = p.send(r) {
                assert!(
                    matches!(
                        e,
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull
                        )
                    ),
                    "{e}"
                );
                p.poll(Duration::from_millis(10));
                record = Some(r);
            }
        }
    }
    p.flush(TIMEOUT).unwrap();
}

/// (partition, offset, key, value, headers)
type Received = (i32, i64, String, String, Vec<(String, String)>);
/// (key, value, headers)
type Sent = (String, String, Vec<(String, String)>);

fn received(m: &rdkafka::message::BorrowedMessage<'_>) -> Received {
    let text = |b: Option<&[u8]>| String::from_utf8(b.unwrap_or_default().to_vec()).unwrap();
    let headers = m
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| (h.key.to_string(), text(h.value)))
                .collect()
        })
        .unwrap_or_default();
    (
        m.partition(),
        m.offset(),
        text(m.key()),
        text(m.payload()),
        headers,
    )
}

/// Reads `n` records from partition 0 of `topic` from `offset`.
fn read(kafka: SocketAddr, topic: &str, offset: Offset, n: usize) -> Vec<Received> {
    let c = consumer(kafka, "reader", &[]);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, offset).unwrap();
    c.assign(&tpl).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let mut out = Vec::new();
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "read {} of {n} records",
            out.len()
        );
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            out.push(received(&m.unwrap()));
        }
    }
    out
}

fn records(prefix: &str, n: usize) -> Vec<Sent> {
    (0..n)
        .map(|i| {
            (
                format!("{prefix}-k{i}"),
                format!("{prefix} value {i} ☃"),
                vec![("trace".to_string(), format!("t{i}"))],
            )
        })
        .collect()
}

#[test]
fn rdkafka_round_trips_records_with_every_codec() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, kafka) = start(dir.path(), &dir.path().join("data"));
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("codec-{codec}");
        let sent = records(codec, 300);
        produce(
            &producer(kafka, &[("compression.type", codec)]),
            &topic,
            None,
            &sent,
        );
        let got = read(kafka, &topic, Offset::Beginning, sent.len());
        for (i, ((partition, offset, key, value, headers), (k, v, h))) in
            got.iter().zip(&sent).enumerate()
        {
            assert_eq!(
                (*partition, *offset, key, value, headers),
                (0, i as i64, k, v, h),
                "{codec}"
            );
        }
    }
}

#[test]
fn rdkafka_offset_reset_earliest_latest_and_by_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, kafka) = start(dir.path(), &dir.path().join("data"));
    let p = producer(kafka, &[]);
    let base_ms = 1_700_000_000_000i64;
    for i in 0..10i64 {
        p.send(
            BaseRecord::to("ts")
                .key(&format!("k{i}"))
                .payload(&format!("v{i}"))
                .timestamp(base_ms + i * 1000),
        )
        .unwrap();
    }
    p.flush(TIMEOUT).unwrap();

    // A new group with auto.offset.reset=earliest starts at the first record.
    let early = consumer(kafka, "early", &[]);
    early.subscribe(&["ts"]).unwrap();
    let first = poll_one(&early);
    assert_eq!((first.1, first.3.as_str()), (0, "v0"));

    // With latest, old records are skipped: produce markers until one arrives (the
    // reset to the end may happen before or after any given marker).
    let late = consumer(kafka, "late", &[("auto.offset.reset", "latest")]);
    late.subscribe(&["ts"]).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let mut markers = 0;
    let next = loop {
        assert!(Instant::now() < deadline, "the late consumer got nothing");
        p.send(
            BaseRecord::to("ts")
                .key("m")
                .payload(&format!("marker{markers}")),
        )
        .unwrap();
        p.flush(TIMEOUT).unwrap();
        markers += 1;
        if let Some(m) = late.poll(Duration::from_millis(200)) {
            break received(&m.unwrap());
        }
    };
    assert!(next.1 >= 10 && next.3.starts_with("marker"), "{next:?}");

    // offsets_for_times: the first record at or after the timestamp.
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("ts", 0, Offset::Offset(base_ms + 4500))
        .unwrap();
    let found = early.offsets_for_times(tpl, TIMEOUT).unwrap();
    assert_eq!(found.elements()[0].offset(), Offset::Offset(5));
    let mut tpl = TopicPartitionList::new();
    let tomorrow_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 86_400_000;
    tpl.add_partition_offset("ts", 0, Offset::Offset(tomorrow_ms))
        .unwrap();
    let found = early.offsets_for_times(tpl, TIMEOUT).unwrap();
    assert_eq!(found.elements()[0].offset(), Offset::End);
    let (low, high) = early.fetch_watermarks("ts", 0, TIMEOUT).unwrap();
    assert_eq!((low, high), (0, 10 + markers));
}

fn poll_one(c: &BaseConsumer) -> Received {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        assert!(Instant::now() < deadline, "no record");
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            return received(&m.unwrap());
        }
    }
}

#[test]
fn rdkafka_committed_offsets_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, kafka) = start(dir.path(), &data);
    produce(&producer(kafka, &[]), "work", None, &records("w", 50));
    let c = consumer(kafka, "keeper", &[]);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("work", 0, Offset::Offset(42))
        .unwrap();
    c.commit(&tpl, CommitMode::Sync).unwrap();
    drop(c);
    server.kill9();

    let (_server, kafka) = start(dir.path(), &data);
    let c = consumer(kafka, "keeper", &[]);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition("work", 0);
    let committed = c.committed_offsets(tpl, TIMEOUT).unwrap();
    assert_eq!(committed.elements()[0].offset(), Offset::Offset(42));
    // The group resumes there.
    c.subscribe(&["work"]).unwrap();
    let first = poll_one(&c);
    assert_eq!((first.1, first.2.as_str()), (42, "w-k42"));
}

#[test]
fn rdkafka_records_cross_to_redis_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = free_ports(&dir.path().join("data"));
    args.extend(["--group-initial-rebalance-delay-ms".into(), "0".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(crate::util::command(dir.path(), &args, &[]));
    let kafka = server.addr("kafka").unwrap();
    let resp = server.resp_addr();
    let mut redis = redis::Client::open(format!("redis://{resp}/0"))
        .unwrap()
        .get_connection_with_timeout(TIMEOUT)
        .unwrap();

    // Kafka → Redis: key, value and headers become fields, offsets become IDs' order.
    produce(&producer(kafka, &[]), "k2r", None, &records("x", 3));
    let entries: Vec<(String, Vec<(String, String)>)> = redis
        .xrange_all::<_, redis::streams::StreamRangeReply>("k2r")
        .unwrap()
        .ids
        .into_iter()
        .map(|e| {
            let mut fields: Vec<(String, String)> = e
                .map
                .into_iter()
                .map(|(k, v)| (k, redis::from_redis_value(v).unwrap()))
                .collect();
            fields.sort();
            (e.id, fields)
        })
        .collect();
    assert_eq!(entries.len(), 3);
    assert_eq!(
        entries[1].1,
        vec![
            ("key".to_string(), "x-k1".to_string()),
            ("trace".to_string(), "t1".to_string()),
            ("value".to_string(), "x value 1 ☃".to_string()),
        ]
    );

    // Redis → Kafka: an entry with exactly key/value fields is a Kafka key/value.
    let id: String = redis
        .xadd(
            "events:r2k",
            "*",
            &[("key", "user-7"), ("value", "signed up")],
        )
        .unwrap();
    assert!(id.contains('-'));
    let got = read(kafka, "_events_3Ar2k", Offset::Beginning, 1);
    assert_eq!(
        (got[0].1, got[0].2.as_str(), got[0].3.as_str()),
        (0, "user-7", "signed up")
    );
}

/// Three members share a six-partition topic while records keep arriving; one
/// leaves and another joins. Every record is processed, and none twice: each is
/// committed (synchronously) right after it is processed, so a record is handed out
/// again only if its commit failed.
#[test]
fn rdkafka_group_members_leave_and_join_without_losing_or_repeating_records() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, kafka) = start(dir.path(), &dir.path().join("data"));
    create_topic(kafka, "orders", 6);
    const TOTAL: usize = 1200;

    // (partition, offset) -> times processed; records whose commit failed.
    let processed: Arc<Mutex<HashMap<(i32, i64), u32>>> = Arc::default();
    let failed_commits: Arc<Mutex<Vec<(i32, i64)>>> = Arc::default();
    // Member name -> partitions it holds now.
    let assigned: Arc<Mutex<HashMap<&'static str, usize>>> = Arc::default();
    let member = |name: &'static str, stop: Arc<AtomicBool>| {
        let processed = processed.clone();
        let failed_commits = failed_commits.clone();
        let assigned = assigned.clone();
        std::thread::spawn(move || {
            let c = consumer(kafka, "billing", &[("client.id", name)]);
            c.subscribe(&["orders"]).unwrap();
            let mut mine = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let polled = c.poll(Duration::from_millis(50));
                let held = c.assignment().map_or(0, |a| a.count());
                assigned.lock().unwrap().insert(name, held);
                let Some(m) = polled else {
                    continue;
                };
                let m = m.unwrap();
                *processed
                    .lock()
                    .unwrap()
                    .entry((m.partition(), m.offset()))
                    .or_default() += 1;
                mine += 1;
                if c.commit_message(&m, CommitMode::Sync).is_err() {
                    failed_commits
                        .lock()
                        .unwrap()
                        .push((m.partition(), m.offset()));
                }
            }
            assigned.lock().unwrap().insert(name, 0);
            mine
        })
    };
    // Waits until exactly `members` share the six partitions.
    let settled = |members: &[&str]| {
        crate::util::poll("the group to settle", || {
            let a = assigned.lock().unwrap();
            let held: Vec<usize> = members
                .iter()
                .map(|m| a.get(m).copied().unwrap_or(0))
                .collect();
            let total: usize = a.values().sum();
            (total == 6 && held.iter().all(|&n| n > 0)).then_some(())
        })
    };
    let done = |n: usize| {
        crate::util::poll("records processed", || {
            (processed.lock().unwrap().len() >= n).then_some(())
        })
    };
    let p = producer(kafka, &[]);
    let batch = |from: usize| {
        let rs: Vec<_> = records("o", TOTAL)[from..from + TOTAL / 3].to_vec();
        produce(&p, "orders", None, &rs);
    };

    let stops: Vec<Arc<AtomicBool>> = (0..4).map(|_| Arc::new(AtomicBool::new(false))).collect();
    let a = member("a", stops[0].clone());
    let b = member("b", stops[1].clone());
    let c = member("c", stops[2].clone());
    settled(&["a", "b", "c"]);
    batch(0);
    done(TOTAL / 3);
    // c leaves (a clean LeaveGroup when the consumer closes); records keep coming.
    stops[2].store(true, Ordering::Relaxed);
    let c_count = c.join().unwrap();
    batch(TOTAL / 3);
    done(2 * TOTAL / 3);
    let d = member("d", stops[3].clone());
    settled(&["a", "b", "d"]);
    batch(2 * TOTAL / 3);
    done(TOTAL);
    for s in &stops {
        s.store(true, Ordering::Relaxed);
    }
    let counts = [
        a.join().unwrap(),
        b.join().unwrap(),
        c_count,
        d.join().unwrap(),
    ];

    let processed = processed.lock().unwrap();
    let failed = failed_commits.lock().unwrap();
    assert_eq!(processed.len(), TOTAL, "every record was processed");
    let repeated: Vec<_> = processed.iter().filter(|(_, &n)| n > 1).collect();
    assert!(
        repeated.iter().all(|(k, _)| failed.contains(k)),
        "records processed twice although committed: {repeated:?}"
    );
    assert!(
        counts.iter().all(|&n| n > 0),
        "every member processed its share: {counts:?}"
    );
}

#[test]
fn rdkafka_idempotent_producer_stores_each_record_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut server, kafka) = start(dir.path(), &data);
    let p = producer(
        kafka,
        &[
            ("enable.idempotence", "true"),
            ("max.in.flight.requests.per.connection", "5"),
            ("compression.type", "lz4"),
        ],
    );
    let sent = records("i", 2000);
    produce(&p, "idem", None, &sent[..1000]);
    // The producer keeps its ID across a server restart; its next sequences are
    // accepted after the restart (the state comes back from the log).
    server.terminate();
    assert!(server.wait_exit().success());
    let (_server, kafka2) = start_on(dir.path(), &data, kafka);
    assert_eq!(kafka2, kafka);
    produce(&p, "idem", None, &sent[1000..]);
    let got = read(kafka, "idem", Offset::Beginning, 2000);
    for (i, (r, s)) in got.iter().zip(&sent).enumerate() {
        assert_eq!((r.1, &r.2, &r.3), (i as i64, &s.0, &s.1));
    }
    // Nothing more than the 2000 records.
    let c = consumer(kafka, "count", &[]);
    let (low, high) = c.fetch_watermarks("idem", 0, TIMEOUT).unwrap();
    assert_eq!((low, high), (0, 2000));
}

/// [`start`] with the Kafka listener on `kafka` (to restart under a producer that
/// keeps its connection settings).
fn start_on(dir: &Path, data: &Path, kafka: SocketAddr) -> (Server, SocketAddr) {
    let args = [
        "--data-dir".to_string(),
        data.to_str().unwrap().to_string(),
        "--resp-listen".into(),
        "127.0.0.1:0".into(),
        "--http-listen".into(),
        "off".into(),
        "--kafka-listen".into(),
        kafka.to_string(),
        "--group-initial-rebalance-delay-ms".into(),
        "0".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(crate::util::command(dir, &args, &[]));
    let kafka = server.addr("kafka").expect("kafka listening line");
    (server, kafka)
}

/// A Kafka topic with several partitions is one stream per partition for Redis
/// (`name#N`); `XADD` to the topic's name puts a key in the partition a Kafka
/// producer with the default (murmur2) partitioner would.
#[test]
fn partitions_are_redis_streams_and_keys_land_where_kafka_puts_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = free_ports(&dir.path().join("data"));
    args.extend(["--group-initial-rebalance-delay-ms".into(), "0".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(crate::util::command(dir.path(), &args, &[]));
    let kafka = server.addr("kafka").unwrap();
    let resp = server.resp_addr();
    let mut redis = redis::Client::open(format!("redis://{resp}/0"))
        .unwrap()
        .get_connection_with_timeout(TIMEOUT)
        .unwrap();
    create_topic(kafka, "users", 4);

    // Kafka's Java partitioner (librdkafka's murmur2_random) places each key...
    let p = producer(kafka, &[("partitioner", "murmur2_random")]);
    let keys: Vec<String> = (0..20).map(|i| format!("user-{i}")).collect();
    for k in &keys {
        p.send(BaseRecord::to("users").key(k).payload("from kafka"))
            .unwrap();
    }
    p.flush(TIMEOUT).unwrap();
    let mut kafka_partition = HashMap::new();
    for i in 0..4 {
        let entries: redis::streams::StreamRangeReply =
            redis.xrange_all(format!("users#{i}")).unwrap();
        for e in entries.ids {
            let k: String = e.get("key").unwrap();
            kafka_partition.insert(k, i);
        }
    }
    assert_eq!(kafka_partition.len(), 20);
    assert!(
        kafka_partition
            .values()
            .collect::<std::collections::HashSet<_>>()
            .len()
            > 1,
        "keys spread over partitions"
    );
    // ...and XADD to the topic's name puts it in the same one.
    for k in &keys {
        let _: String = redis
            .xadd(
                "users",
                "*",
                &[("key", k.as_str()), ("value", "from redis")],
            )
            .unwrap();
    }
    for i in 0..4 {
        let entries: redis::streams::StreamRangeReply =
            redis.xrange_all(format!("users#{i}")).unwrap();
        for e in entries.ids {
            let k: String = e.get("key").unwrap();
            assert_eq!(kafka_partition[&k], i, "{k}");
        }
    }
    // Each partition has its own groups; the topic's name is not one stream.
    let _: () = redis.xgroup_create("users#1", "g", "0").unwrap();
    let err = redis
        .xgroup_create::<_, _, _, ()>("users#2", "g", "$")
        .and_then(|()| redis.xgroup_create::<_, _, _, ()>("users#2", "g", "$"))
        .unwrap_err();
    assert!(err.to_string().contains("BUSYGROUP"), "{err}");
    let info: redis::streams::StreamInfoGroupsReply = redis.xinfo_groups("users#3").unwrap();
    assert!(info.groups.is_empty());
    let err = redis.xlen::<_, u64>("users").unwrap_err();
    assert!(
        err.to_string()
            .contains("users is a topic with 4 partitions"),
        "{err}"
    );
    let err = redis
        .xadd::<_, _, _, _, String>("users", "*", &[("a", "1")])
        .unwrap_err();
    assert!(
        err.to_string().contains("give the entry a key field"),
        "{err}"
    );
    let err = redis.del::<_, i64>("users#1").unwrap_err();
    assert!(
        err.to_string().contains("one partition of topic users"),
        "{err}"
    );
    let t: String = redis::cmd("TYPE").arg("users#1").query(&mut redis).unwrap();
    assert_eq!(t, "stream");
    // users#9 is not a partition: an ordinary key.
    let _: String = redis.xadd("users#9", "*", &[("a", "1")]).unwrap();
    let keys: Vec<String> = redis.keys("*").unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    // DEL of the name deletes the whole topic.
    let n: i64 = redis.del("users").unwrap();
    assert_eq!(n, 1);
    let n: i64 = redis::cmd("EXISTS")
        .arg("users#1")
        .query(&mut redis)
        .unwrap();
    assert_eq!(n, 0);
}

/// `WATCH` sees Kafka's writes: a record produced to a watched stream, or a
/// DeleteRecords trim of it, aborts the watcher's `EXEC`, as another RESP client's
/// `XADD` or `XTRIM` would; a write to another partition of a multi-partition topic
/// does not touch a watched `key#N`.
#[test]
fn kafka_writes_and_trims_abort_a_redis_watch() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, kafka) = start(dir.path(), &dir.path().join("data"));
    let resp = server.resp_addr();
    let mut redis = redis::Client::open(format!("redis://{resp}/0"))
        .unwrap()
        .get_connection_with_timeout(TIMEOUT)
        .unwrap();
    let _: String = redis.xadd("orders", "*", &[("f", "v")]).unwrap();
    // EXEC after WATCH key and MULTI / XLEN key, with `between` run in between.
    let mut watched_exec = |key: &str, between: &mut dyn FnMut()| -> redis::Value {
        let _: () = redis::cmd("WATCH").arg(key).query(&mut redis).unwrap();
        between();
        let _: () = redis::cmd("MULTI").query(&mut redis).unwrap();
        let _: String = redis::cmd("XLEN").arg(key).query(&mut redis).unwrap();
        redis::cmd("EXEC").query(&mut redis).unwrap()
    };
    // Nothing in between: EXEC runs (so the aborts below are the writes' doing).
    let ran = watched_exec("orders", &mut || {});
    assert!(
        matches!(ran, redis::Value::Array(ref v) if v.len() == 1),
        "{ran:?}"
    );

    let p = producer(kafka, &[]);
    let aborted = watched_exec("orders", &mut || {
        produce(&p, "orders", None, &records("k", 1));
    });
    assert_eq!(
        aborted,
        redis::Value::Nil,
        "a Kafka produce must abort EXEC"
    );

    let aborted = watched_exec("orders", &mut || {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("orders", 0, Offset::Offset(1))
            .unwrap();
        let trimmed =
            futures_executor::block_on(admin(kafka).delete_records(&tpl, &AdminOptions::new()))
                .unwrap();
        assert_eq!(trimmed.elements()[0].error(), Ok(()));
    });
    assert_eq!(aborted, redis::Value::Nil, "DeleteRecords must abort EXEC");
    // A DeleteRecords that trims nothing changes nothing: EXEC runs (and its XLEN
    // shows the trim above left one of the two records).
    let ran = watched_exec("orders", &mut || {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("orders", 0, Offset::Offset(1))
            .unwrap();
        futures_executor::block_on(admin(kafka).delete_records(&tpl, &AdminOptions::new()))
            .unwrap();
    });
    assert_eq!(ran, redis::Value::Array(vec![redis::Value::Int(1)]));
    // CreatePartitions: the plain key stops naming one stream.
    let aborted = watched_exec("orders", &mut || {
        let grown = futures_executor::block_on(admin(kafka).create_partitions(
            &[rdkafka::admin::NewPartitions::new("orders", 2)],
            &AdminOptions::new(),
        ))
        .unwrap();
        assert!(matches!(grown.as_slice(), [Ok(_)]), "{grown:?}");
    });
    assert_eq!(
        aborted,
        redis::Value::Nil,
        "CreatePartitions must abort EXEC"
    );

    create_topic(kafka, "users", 2);
    let aborted = watched_exec("users#1", &mut || {
        produce(&p, "users", Some(1), &records("u", 1));
    });
    assert_eq!(
        aborted,
        redis::Value::Nil,
        "a produce to partition 1 touches users#1"
    );
    let ran = watched_exec("users#0", &mut || {
        produce(&p, "users", Some(1), &records("u", 1));
    });
    assert!(
        matches!(ran, redis::Value::Array(ref v) if v.len() == 1),
        "partition 1's write must not touch users#0: {ran:?}"
    );
    // A RESP change made through a partition's key touches the topic's key, as a
    // Kafka write to that partition does.
    let _: () = redis::cmd("WATCH").arg("users").query(&mut redis).unwrap();
    let trimmed: i64 = redis::cmd("XTRIM")
        .arg("users#1")
        .arg("MAXLEN")
        .arg(0)
        .query(&mut redis)
        .unwrap();
    assert!(trimmed > 0);
    let _: () = redis::cmd("MULTI").query(&mut redis).unwrap();
    let _: String = redis::cmd("XLEN").arg("users#0").query(&mut redis).unwrap();
    let aborted: redis::Value = redis::cmd("EXEC").query(&mut redis).unwrap();
    assert_eq!(
        aborted,
        redis::Value::Nil,
        "XTRIM users#1 must abort a watch of users"
    );
    // `users#5` names no partition of the two: a string there does not touch `users`.
    let _: () = redis::cmd("WATCH").arg("users").query(&mut redis).unwrap();
    let _: () = redis::cmd("SET")
        .arg("users#5")
        .arg("x")
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("MULTI").query(&mut redis).unwrap();
    let _: String = redis::cmd("XLEN").arg("users#0").query(&mut redis).unwrap();
    let ran: redis::Value = redis::cmd("EXEC").query(&mut redis).unwrap();
    assert_eq!(ran, redis::Value::Array(vec![redis::Value::Int(0)]));
}
