//! The JSON admin API (`/v1`, docs/admin-api.md) of a running server: topics with
//! presets, produce/consume over HTTP, Kafka and Redis groups in one listing with
//! lag, resets, deletion, and the error responses.

use std::net::SocketAddr;

use redis::Commands as _;
use serde_json::{json, Value};

use crate::util::{command, free_ports, http_request, Server, TIMEOUT};

struct Api {
    http: SocketAddr,
    resp: SocketAddr,
    kafka: SocketAddr,
    _server: Server,
    _dir: tempfile::TempDir,
}

fn start() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let mut args = free_ports(&dir.path().join("data"));
    args.extend(["--group-initial-rebalance-delay-ms".into(), "0".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = Server::start(command(dir.path(), &args, &[]));
    Api {
        http: server.http_addr(),
        resp: server.resp_addr(),
        kafka: server.addr("kafka").unwrap(),
        _server: server,
        _dir: dir,
    }
}

impl Api {
    /// `(status, JSON body)`; an empty body is `null`.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string());
        let r = http_request(self.http, method, path, body.as_deref());
        let v = if r.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {:?}", r.body))
        };
        (r.status, v)
    }

    fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.call(method, path, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {v}"
        );
        v
    }

    fn redis(&self) -> redis::Connection {
        redis::Client::open(format!("redis://{}/0", self.resp))
            .unwrap()
            .get_connection_with_timeout(TIMEOUT)
            .unwrap()
    }
}

#[test]
fn status_reports_listeners_topics_and_connections() {
    let api = start();
    let _held = api.redis();
    let status = api.ok("GET", "/v1/status", None);
    assert_eq!(status["listeners"]["resp"], api.resp.to_string());
    assert_eq!(status["listeners"]["kafka"], api.kafka.to_string());
    assert_eq!(status["listeners"]["http"], api.http.to_string());
    assert_eq!(status["topics"], 0);
    assert_eq!(status["connections"]["resp"], 1);
    assert!(status["disk_free_bytes"].as_u64().unwrap() > 0);
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn topics_are_created_with_presets_described_altered_and_deleted() {
    let api = start();
    let (status, t) = api.call(
        "POST",
        "/v1/topics",
        Some(json!({"name": "events:jobs", "partitions": 2, "preset": "process-and-forget"})),
    );
    assert_eq!(status, 201, "{t}");
    assert_eq!(t["kafka_name"], "_events_3Ajobs");
    assert_eq!(t["preset"], "process-and-forget");
    assert_eq!(t["effective"]["retention_ms"], 86_400_000);
    assert_eq!(t["effective"]["trim_acked"], true);
    assert_eq!(t["partition_details"][1]["stream"], "events:jobs#1");

    // A preset with an override: no longer exactly the preset.
    let t = api.ok(
        "POST",
        "/v1/topics",
        Some(json!({"name": "audit", "preset": "store-and-replay", "config": {"retention_bytes": 1000000}})),
    );
    assert_eq!(t["preset"], "store-and-replay");
    assert_eq!(t["effective"]["fsync"], "always");
    assert_eq!(t["config"]["retention_bytes"], 1_000_000);

    let (status, e) = api.call("POST", "/v1/topics", Some(json!({"name": "audit"})));
    assert_eq!(status, 409, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("already exists"),
        "{e}"
    );
    let (status, e) = api.call(
        "POST",
        "/v1/topics",
        Some(json!({"name": "x", "config": {"fsync": "sometimes"}})),
    );
    assert_eq!(status, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("fsync"), "{e}");
    let (status, e) = api.call("POST", "/v1/topics", Some(json!({"nam": "x"})));
    assert_eq!(status, 400, "{e}");
    let (status, e) = api.call(
        "POST",
        "/v1/topics",
        Some(json!({"name": "x", "config": {"cleanup_policy": "compact"}})),
    );
    assert_eq!(status, 400, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("does not compact"),
        "{e}"
    );
    api.ok(
        "POST",
        "/v1/topics",
        Some(json!({"name": "x", "config": {"cleanup_policy": "delete"}})),
    );
    assert_eq!(api.call("DELETE", "/v1/topics/x", None).0, 204);

    // Percent-encoded names; alter grows partitions and resets a setting.
    let t = api.ok(
        "PATCH",
        "/v1/topics/events%3Ajobs",
        Some(json!({"partitions": 3, "config": {"retention_ms": null, "retention_records": 10}})),
    );
    assert_eq!(t["partitions"], 3);
    assert_eq!(t["config"]["retention_ms"], Value::Null);
    assert_eq!(t["effective"]["retention_records"], 10);
    assert_eq!(t["preset"], Value::Null);
    let (status, e) = api.call(
        "PATCH",
        "/v1/topics/events%3Ajobs",
        Some(json!({"partitions": 1})),
    );
    assert_eq!(status, 400, "{e}");

    let list = api.ok("GET", "/v1/topics", None);
    let names: Vec<&str> = list["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["audit", "events:jobs"]);

    assert_eq!(api.call("DELETE", "/v1/topics/audit", None).0, 204);
    let (status, e) = api.call("GET", "/v1/topics/audit", None);
    assert_eq!(status, 404, "{e}");
    let (status, _) = api.call("PUT", "/v1/topics", None);
    assert_eq!(status, 405);
    let (status, _) = api.call("GET", "/v1/nothing", None);
    assert_eq!(status, 404);
}

#[test]
fn records_are_produced_and_consumed_over_http_from_any_position() {
    let api = start();
    let produced = api.ok(
        "POST",
        "/v1/topics/orders/records",
        Some(json!({"records": [
            {"key": "o-1", "value": "first", "headers": [["trace", "t1"]]},
            {"value_base64": "AP8="},
        ]})),
    );
    assert_eq!(produced["records"][1]["offset"], 1);
    // A Redis client adds an entry of its own.
    let mut redis = api.redis();
    let id: String = redis
        .xadd("orders", "*", &[("a", "1"), ("b", "2")])
        .unwrap();

    let r = api.ok("GET", "/v1/topics/orders/records", None);
    let records = r["records"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0]["key"], "o-1");
    assert_eq!(records[0]["headers"], json!([["trace", "t1"]]));
    assert_eq!(records[1]["value_base64"], "AP8=");
    assert_eq!(records[2]["id"], id);
    assert_eq!(records[2]["fields"], json!([["a", "1"], ["b", "2"]]));
    assert_eq!(r["next"], json!([[0, 3]]));

    let r = api.ok(
        "GET",
        "/v1/topics/orders/records?from=offset:1&count=1",
        None,
    );
    assert_eq!(r["records"][0]["offset"], 1);
    assert_eq!(r["next"], json!([[0, 2]]));
    let r = api.ok(
        "GET",
        &format!("/v1/topics/orders/records?from=id:{id}"),
        None,
    );
    assert_eq!(r["records"][0]["offset"], 2);
    let r = api.ok(
        "GET",
        "/v1/topics/orders/records?from=time:2000-01-01T00:00:00Z",
        None,
    );
    assert_eq!(r["records"].as_array().unwrap().len(), 3);
    let r = api.ok("GET", "/v1/topics/orders/records?from=end", None);
    assert_eq!(r["records"], json!([]));

    // A long poll returns when a record arrives.
    let http = api.http;
    let waiter = std::thread::spawn(move || {
        http_request(
            http,
            "GET",
            "/v1/topics/orders/records?from=end&wait_ms=10000",
            None,
        )
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    let _: String = redis.xadd("orders", "*", &[("late", "yes")]).unwrap();
    let r: Value = serde_json::from_str(&waiter.join().unwrap().body).unwrap();
    assert_eq!(r["records"][0]["fields"], json!([["late", "yes"]]));

    let (status, e) = api.call("GET", "/v1/topics/orders/records?from=someday", None);
    assert_eq!(status, 400);
    assert!(e["error"].as_str().unwrap().contains("from="), "{e}");
    let (status, _) = api.call("GET", "/v1/topics/nope/records", None);
    assert_eq!(status, 404);
}

#[test]
fn kafka_and_redis_groups_are_listed_described_reset_and_deleted() {
    let api = start();
    let records: Vec<Value> = (0..10).map(|i| json!({"value": format!("v{i}")})).collect();
    api.ok(
        "POST",
        "/v1/topics/work/records",
        Some(json!({ "records": records })),
    );
    // A Redis group that read 4 entries and acknowledged 1.
    let mut redis = api.redis();
    let _: () = redis.xgroup_create("work", "workers", "0").unwrap();
    let read: redis::streams::StreamReadReply = redis
        .xread_options(
            &["work"],
            &[">"],
            &redis::streams::StreamReadOptions::default()
                .group("workers", "w1")
                .count(4),
        )
        .unwrap();
    let first = read.keys[0].ids[0].id.clone();
    let _: i64 = redis.xack("work", "workers", &[first]).unwrap();
    // A Kafka group that committed offset 7 (as a Kafka consumer would).
    api.ok(
        "POST",
        "/v1/groups/kafka/billing/reset",
        Some(json!({"to": "offset:7", "topic": "work", "execute": true})),
    );

    let list = api.ok("GET", "/v1/groups", None);
    let groups = list["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{list}");
    let kafka = groups.iter().find(|g| g["kind"] == "kafka").unwrap();
    assert_eq!(
        (kafka["name"].as_str(), kafka["lag"].as_u64()),
        (Some("billing"), Some(3))
    );
    assert_eq!(kafka["state"], "Empty");
    let redis_group = groups.iter().find(|g| g["kind"] == "redis").unwrap();
    assert_eq!(redis_group["stream"], "work");
    assert_eq!(redis_group["pending"], 3);
    assert_eq!(redis_group["lag"], 6);
    assert_eq!(redis_group["state"], "active");

    let d = api.ok("GET", "/v1/groups/redis/work/workers", None);
    assert_eq!(d["pending"], 3);
    assert_eq!(d["members"][0]["name"], "w1");
    assert_eq!(d["members"][0]["pending"], 3);
    assert!(d["oldest_pending_idle_ms"].as_u64().is_some());
    assert_eq!(d["partitions"][0]["committed"], 4);
    let d = api.ok("GET", "/v1/groups/kafka/billing", None);
    assert_eq!(
        d["partitions"],
        json!([{"topic": "work", "partition": 0, "committed": 7, "end": 10, "lag": 3}])
    );

    // Resets are dry runs unless executed; an active Redis group refuses them.
    let plan = api.ok(
        "POST",
        "/v1/groups/kafka/billing/reset",
        Some(json!({"to": "earliest"})),
    );
    assert_eq!(plan["executed"], false);
    assert_eq!(plan["partitions"][0]["from"], 7);
    assert_eq!(plan["partitions"][0]["to"], 0);
    let d = api.ok("GET", "/v1/groups/kafka/billing", None);
    assert_eq!(d["partitions"][0]["committed"], 7);
    let (status, e) = api.call(
        "POST",
        "/v1/groups/redis/work/workers/reset",
        Some(json!({"to": "latest", "execute": true})),
    );
    assert_eq!(status, 409, "{e}");
    let plan = api.ok(
        "POST",
        "/v1/groups/redis/work/workers/reset",
        Some(json!({"to": "latest"})),
    );
    assert_eq!(plan["partitions"][0]["to"], 10);

    assert_eq!(api.call("DELETE", "/v1/groups/kafka/billing", None).0, 204);
    assert_eq!(api.call("GET", "/v1/groups/kafka/billing", None).0, 404);
    assert_eq!(
        api.call("DELETE", "/v1/groups/redis/work/workers", None).0,
        204
    );
    let n: redis::streams::StreamInfoGroupsReply = redis.xinfo_groups("work").unwrap();
    assert!(n.groups.is_empty());
    assert_eq!(
        api.call("DELETE", "/v1/groups/redis/work/workers", None).0,
        404
    );
}

#[test]
fn trim_acked_topics_drop_what_every_group_acknowledged() {
    let api = start();
    api.ok(
        "POST",
        "/v1/topics",
        Some(json!({"name": "jobs", "preset": "process-and-forget"})),
    );
    let mut redis = api.redis();
    for i in 0..10 {
        let _: String = redis.xadd("jobs", "*", &[("n", i)]).unwrap();
    }
    // No group yet: nothing is trimmed.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let len: u64 = redis.xlen("jobs").unwrap();
    assert_eq!(len, 10);
    let _: () = redis.xgroup_create("jobs", "g", "0").unwrap();
    let read: redis::streams::StreamReadReply = redis
        .xread_options(
            &["jobs"],
            &[">"],
            &redis::streams::StreamReadOptions::default()
                .group("g", "c")
                .count(6),
        )
        .unwrap();
    let ids: Vec<String> = read.keys[0].ids.iter().map(|e| e.id.clone()).collect();
    // Acknowledge the first 4 of the 6 read: entries 5 and 6 stay pending.
    let _: i64 = redis.xack("jobs", "g", &ids[..4]).unwrap();
    crate::util::poll("the acknowledged entries to be trimmed", || {
        let len: u64 = redis.xlen("jobs").unwrap();
        (len == 6).then_some(())
    });
    let first: redis::streams::StreamRangeReply = redis.xrange_count("jobs", "-", "+", 1).unwrap();
    assert_eq!(first.ids[0].id, ids[4]);
}

/// The value of the sample `series` (name and labels exactly) in a scrape.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
    })
}

#[test]
fn metrics_cover_partitions_groups_requests_and_fsync() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
    let api = start();
    let mut redis = api.redis();
    for i in 0..5 {
        let _: String = redis.xadd("m", "*", &[("n", i)]).unwrap();
    }
    let _: () = redis.xgroup_create("m", "g", "0").unwrap();
    let _: redis::streams::StreamReadReply = redis
        .xread_options(
            &["m"],
            &[">"],
            &redis::streams::StreamReadOptions::default()
                .group("g", "c")
                .count(2),
        )
        .unwrap();
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", api.kafka.to_string())
        .create()
        .unwrap();
    for i in 0..3 {
        producer
            .send(BaseRecord::to("k").key(&format!("k{i}")).payload("v"))
            .unwrap();
    }
    producer.flush(TIMEOUT).unwrap();
    api.ok("GET", "/v1/topics/k/records", None);
    api.ok(
        "POST",
        "/v1/groups/kafka/kg/reset",
        Some(json!({"to": "offset:1", "topic": "k", "execute": true})),
    );

    let r = http_request(api.http, "GET", "/metrics", None);
    assert_eq!(r.status, 200);
    let m = &r.body;
    let expect = [
        (
            "brook_partition_records_in_total{db=\"0\",topic=\"m\",partition=\"0\"}",
            5.0,
        ),
        (
            "brook_partition_records_in_total{db=\"0\",topic=\"k\",partition=\"0\"}",
            3.0,
        ),
        (
            "brook_partition_high_watermark{db=\"0\",topic=\"k\",partition=\"0\"}",
            3.0,
        ),
        (
            "brook_partition_log_start_offset{db=\"0\",topic=\"k\",partition=\"0\"}",
            0.0,
        ),
        (
            "brook_redis_group_pending{db=\"0\",stream=\"m\",group=\"g\"}",
            2.0,
        ),
        (
            "brook_redis_group_lag{db=\"0\",stream=\"m\",group=\"g\"}",
            3.0,
        ),
        (
            "brook_kafka_group_lag{group=\"kg\",topic=\"k\",partition=\"0\"}",
            2.0,
        ),
        ("brook_kafka_group_members{group=\"kg\"}", 0.0),
        (
            "brook_resp_command_duration_seconds_count{command=\"xadd\"}",
            5.0,
        ),
        ("brook_connections{protocol=\"resp\"}", 1.0),
        ("brook_removals_pending", 0.0),
    ];
    for (series, want) in expect {
        assert_eq!(sample(m, series), Some(want), "{series} in\n{m}");
    }
    let at_least = [
        (
            "brook_partition_records_out_total{db=\"0\",topic=\"k\",partition=\"0\"}",
            3.0,
        ),
        (
            "brook_partition_size_bytes{db=\"0\",topic=\"m\",partition=\"0\"}",
            1.0,
        ),
        (
            "brook_kafka_request_duration_seconds_count{api=\"Produce\"}",
            1.0,
        ),
        (
            "brook_kafka_request_duration_seconds_count{api=\"Metadata\"}",
            1.0,
        ),
        ("brook_fsync_duration_seconds_count", 1.0),
        ("brook_group_commit_appends_count", 1.0),
        ("process_resident_memory_bytes", 1_000_000.0),
    ];
    for (series, min) in at_least {
        let v = sample(m, series).unwrap_or_else(|| panic!("no {series} in\n{m}"));
        assert!(v >= min, "{series} = {v}");
    }
    assert!(m.contains("# TYPE brook_fsync_duration_seconds histogram\n"));
    assert!(m.contains("brook_fsync_duration_seconds_bucket{le=\"+Inf\"}"));
    assert!(m.contains("# TYPE brook_segment_roll_duration_seconds histogram\n"));
}
