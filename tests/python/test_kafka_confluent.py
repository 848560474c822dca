"""Brook through confluent-kafka (librdkafka), the way Python Kafka users use it.

Every test gets a fresh server (RESP + Kafka on free ports). Expected values are what
a single-broker Apache Kafka answers; differences are in tests/FINDINGS.md.
Tests marked `groups`, `idempotence` or `admin` need those Kafka APIs
(`pytest -m "not groups"` etc. to select).
"""

import json
import logging
import threading
import time
import uuid

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, KafkaException, Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic

from kafkahelp import (
    HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS, TIMEOUT_S, kafka_fields, resp,
    stream_id_ms, wait_until, xrange_raw,
)

CODECS = ["gzip", "snappy", "lz4", "zstd"]
# librdkafka's log goes through Python logging (pytest shows it with a failing test),
# not straight to stderr, where clients left behind by a failed test would flood the
# output while they retry a stopped server.
RDKAFKA_LOG = logging.getLogger("rdkafka")
RDKAFKA_LOG.addHandler(logging.NullHandler())


def admin_client(brook):
    return AdminClient({"bootstrap.servers": brook.bootstrap, "logger": RDKAFKA_LOG})


def producer(brook, **conf):
    return Producer({"bootstrap.servers": brook.bootstrap, "linger.ms": 5,
                     "logger": RDKAFKA_LOG, **conf})


def produce_all(p, topic, records, partition=None):
    """Produces `records` (dicts of produce() arguments) and waits for every delivery
    report; returns the (partition, offset) of each record, in order."""
    reports = [None] * len(records)

    def on_delivery(i):
        def cb(err, msg):
            reports[i] = err if err else (msg.partition(), msg.offset())
        return cb

    for i, rec in enumerate(records):
        kwargs = dict(rec)
        if partition is not None:
            kwargs["partition"] = partition
        while True:
            try:
                p.produce(topic, on_delivery=on_delivery(i), **kwargs)
                break
            except BufferError:
                p.poll(0.05)
    assert p.flush(TIMEOUT_S) == 0, "not every record was delivered in time"
    errors = [r for r in reports if not isinstance(r, tuple)]
    assert not errors, errors
    return reports


def consumer(brook, group=None, **conf):
    """A consumer. Without `group` it is only used with assign(): librdkafka needs a
    group.id, so it gets a unique one and never commits."""
    base = {
        "bootstrap.servers": brook.bootstrap,
        "group.id": group or f"unused-{uuid.uuid4().hex}",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "fetch.wait.max.ms": 100,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
        "logger": RDKAFKA_LOG,
    }
    base.update(conf)
    return Consumer(base)


def consume(c, n, timeout=TIMEOUT_S):
    """The next `n` messages (errors other than partition EOF fail the test)."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, f"got {len(got)} of {n} messages: {got}"
        for m in c.consume(num_messages=n - len(got), timeout=0.2):
            if m.error():
                assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                continue
            got.append(m)
    return got


def wait_for_eof(c, tp_count=1, timeout=TIMEOUT_S):
    """Polls until `tp_count` partitions reported end-of-partition; no message may
    arrive meanwhile. Returns the EOF offsets by (topic, partition)."""
    eofs = {}
    deadline = time.monotonic() + timeout
    while len(eofs) < tp_count:
        assert time.monotonic() < deadline, f"no end of partition; saw {eofs}"
        m = c.poll(0.2)
        if m is None:
            continue
        assert m.error(), f"unexpected message at offset {m.offset()}: {m.value()!r}"
        assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
        eofs[(m.topic(), m.partition())] = m.offset()
    return eofs


def read_all(brook, topic, partition=0, start=OFFSET_BEGINNING):
    """Every message of one partition from `start` up to its end (assign, no group)."""
    c = consumer(brook)
    try:
        c.assign([TopicPartition(topic, partition, start)])
        got = []
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            assert time.monotonic() < deadline, f"no end of partition after {len(got)}"
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                assert m.error().code() == KafkaError._PARTITION_EOF, m.error()
                return got
            got.append(m)
    finally:
        c.close()


def summary(msgs):
    return [(m.offset(), m.key(), m.value(), m.headers()) for m in msgs]


# ---------------------------------------------------------------------------------
# Produce and consume


def test_round_trip_keys_values_headers_and_timestamps(kafka_brook):
    p = producer(kafka_brook)
    base_ts = 1_700_000_000_000
    records = []
    for i in range(200):
        records.append({
            "key": None if i % 10 == 3 else f"key-{i}".encode(),
            "value": None if i % 10 == 7 else f"value {i} ☃".encode() + bytes([0, 255, i]),
            "headers": [("trace", f"t{i}".encode()), ("bin", b"\x00\xff"),
                        ("trace", b"again"), ("empty", b""), ("null", None)],
            "timestamp": base_ts + i,
        })
    records.append({"key": b"", "value": b""})  # empty, not null
    reports = produce_all(p, "roundtrip", records)
    assert reports == [(0, i) for i in range(201)]

    msgs = read_all(kafka_brook, "roundtrip")
    assert [m.offset() for m in msgs] == list(range(201))
    for rec, m in zip(records, msgs):
        assert m.topic() == "roundtrip" and m.partition() == 0
        assert m.key() == rec["key"]
        assert m.value() == rec["value"]
        assert m.headers() == rec.get("headers")
    assert [m.timestamp() for m in msgs[:200]] == [
        (1, base_ts + i) for i in range(200)]  # TIMESTAMP_CREATE_TIME, as produced
    ts_type, ts = msgs[200].timestamp()
    assert ts_type == 1 and abs(ts - time.time() * 1000) < 60_000


@pytest.mark.parametrize("codec", CODECS)
def test_compressed_produce_round_trips(kafka_brook, codec):
    p = producer(kafka_brook, **{"compression.type": codec, "linger.ms": 50,
                                 "batch.num.messages": 1000})
    records = [{"key": f"k{i}".encode(), "value": (f"{codec} payload {i} " * 20).encode(),
                "headers": [("n", str(i).encode())]} for i in range(1000)]
    reports = produce_all(p, f"z-{codec}", records)
    assert reports == [(0, i) for i in range(1000)]
    msgs = read_all(kafka_brook, f"z-{codec}")
    assert summary(msgs) == [(i, r["key"], r["value"], r["headers"])
                             for i, r in enumerate(records)]
    # Stored decompressed; Redis readers see the same records.
    r = resp(kafka_brook)
    assert r.xlen(f"z-{codec}") == 1000
    assert xrange_raw(r, f"z-{codec}")[999][1] == kafka_fields(
        b"k999", records[999]["value"], [("n", b"999")])


def test_consume_from_a_specific_offset_and_seek(kafka_brook):
    produce_all(producer(kafka_brook), "seek",
                [{"key": b"k", "value": f"v{i}".encode()} for i in range(20)])
    msgs = read_all(kafka_brook, "seek", start=15)
    assert [(m.offset(), m.value()) for m in msgs] == [(i, f"v{i}".encode())
                                                        for i in range(15, 20)]
    c = consumer(kafka_brook)
    try:
        c.assign([TopicPartition("seek", 0, 5)])
        assert [m.offset() for m in consume(c, 3)] == [5, 6, 7]
        c.seek(TopicPartition("seek", 0, 2))
        assert [m.value() for m in consume(c, 2)] == [b"v2", b"v3"]
        assert c.position([TopicPartition("seek", 0)])[0].offset == 4
    finally:
        c.close()


def test_offset_end_waits_for_new_records(kafka_brook):
    p = producer(kafka_brook)
    produce_all(p, "tail", [{"value": b"old"}] * 5)
    c = consumer(kafka_brook)
    try:
        c.assign([TopicPartition("tail", 0, OFFSET_END)])
        assert wait_for_eof(c) == {("tail", 0): 5}
        produce_all(p, "tail", [{"value": b"new1"}, {"value": b"new2"}])
        assert [(m.offset(), m.value()) for m in consume(c, 2)] == [(5, b"new1"),
                                                                    (6, b"new2")]
    finally:
        c.close()


@pytest.mark.parametrize("reset", ["earliest", "latest"])
def test_auto_offset_reset_on_an_out_of_range_offset(kafka_brook, reset):
    p = producer(kafka_brook)
    produce_all(p, "reset", [{"value": f"v{i}".encode()} for i in range(10)])
    # XTRIM moves the log start (Kafka's DeleteRecords): offsets 0-3 are gone.
    assert resp(kafka_brook).xtrim("reset", maxlen=6, approximate=False) == 4
    c = consumer(kafka_brook, **{"auto.offset.reset": reset})
    try:
        for out_of_range in (2, 50):  # below the log start, beyond the end
            c.assign([TopicPartition("reset", 0, out_of_range)])
            if reset == "earliest":
                assert [m.offset() for m in consume(c, 6)] == list(range(4, 10))
            else:
                assert wait_for_eof(c) == {("reset", 0): 10}
            c.unassign()
    finally:
        c.close()
    if reset == "latest":
        c = consumer(kafka_brook, **{"auto.offset.reset": reset})
        try:
            c.assign([TopicPartition("reset", 0, 50)])
            assert wait_for_eof(c) == {("reset", 0): 10}
            produce_all(p, "reset", [{"value": b"v10"}])
            assert [(m.offset(), m.value()) for m in consume(c, 1)] == [(10, b"v10")]
        finally:
            c.close()


def test_auto_offset_reset_error_reports_out_of_range(kafka_brook):
    produce_all(producer(kafka_brook), "strict", [{"value": b"v"}] * 3)
    c = consumer(kafka_brook, **{"auto.offset.reset": "error"})
    try:
        c.assign([TopicPartition("strict", 0, 7)])
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            assert time.monotonic() < deadline, "no out-of-range error"
            m = c.poll(0.2)
            if m is not None:
                break
        assert m.error() is not None and m.error().code() == KafkaError._AUTO_OFFSET_RESET, (
            m.error())
    finally:
        c.close()


def test_watermarks_and_offsets_for_times(kafka_brook):
    base = 1_600_000_000_000
    produce_all(producer(kafka_brook), "times",
                [{"value": f"v{i}".encode(), "timestamp": base + 1000 * i}
                 for i in range(10)])
    c = consumer(kafka_brook)
    try:
        tp = TopicPartition("times", 0)
        assert c.get_watermark_offsets(tp, timeout=TIMEOUT_S) == (0, 10)

        def lookup(ts):
            [res] = c.offsets_for_times([TopicPartition("times", 0, ts)], timeout=TIMEOUT_S)
            assert res.error is None, res.error
            return res.offset

        assert lookup(base) == 0              # exact
        assert lookup(base + 2500) == 3       # first record at or after the time
        assert lookup(base + 9000) == 9
        assert lookup(base - 10**6) == 0      # before everything: the first record
        assert lookup(base + 9001) == -1      # after everything: none (OFFSET_END)

        # Consuming from the looked-up offset starts at that record.
        c.assign([TopicPartition("times", 0, lookup(base + 7000))])
        assert [(m.offset(), m.timestamp()[1]) for m in consume(c, 3)] == [
            (7, base + 7000), (8, base + 8000), (9, base + 9000)]
        # XTRIM moves the low watermark.
        resp(kafka_brook).xtrim("times", maxlen=4, approximate=False)
        assert c.get_watermark_offsets(tp, timeout=TIMEOUT_S) == (6, 10)
        assert lookup(base) == 6
    finally:
        c.close()


# ---------------------------------------------------------------------------------
# Redis <-> Kafka


def test_xadd_entries_are_consumed_as_kafka_records(kafka_brook):
    r = resp(kafka_brook)
    binary = b"\x00\xff\xfe"
    ids = [
        r.xadd("events:orders", {"key": "o-17", "value": '{"total":12}'}),
        r.xadd("events:orders", {"user": "ann", "qty": "2"}),
        r.xadd("events:orders", {"value": "v", "key": "k"}),  # not `key`, `value` order
        r.xadd("events:orders", {"img": binary}),             # binary: Redis field list
        r.execute_command("XADD", "events:orders", "*", "a", "1", "a", "2"),  # repeated
    ]
    # docs/mapping.md: `events:orders` is `_events_3Aorders` to Kafka.
    msgs = read_all(kafka_brook, "_events_3Aorders")
    assert [m.offset() for m in msgs] == [0, 1, 2, 3, 4]
    assert [(m.key(), m.headers()) for m in msgs] == [(b"o-17", None)] + [(None, None)] * 4
    assert msgs[0].value() == b'{"total":12}'
    assert json.loads(msgs[1].value()) == {"user": "ann", "qty": "2"}
    assert msgs[1].value() == b'{"user":"ann","qty":"2"}'
    assert msgs[2].value() == b'{"value":"v","key":"k"}'
    assert msgs[3].value() == (b"\x00\x00\x00\x01" + b"\x00\x00\x00\x03img"
                               + b"\x00\x00\x00\x03" + binary)
    assert msgs[4].value() == (b"\x00\x00\x00\x02" + b"\x00\x00\x00\x01a\x00\x00\x00\x011"
                               + b"\x00\x00\x00\x01a\x00\x00\x00\x012")
    # The record timestamp is the server's clock at the append, like the ID's ms.
    for m, entry_id in zip(msgs, ids):
        ts_type, ts = m.timestamp()
        assert ts_type == 1
        assert abs(ts - stream_id_ms(entry_id)) < 1000, (ts, entry_id)


def test_kafka_records_are_read_by_xrange_and_xread(kafka_brook):
    p = producer(kafka_brook)
    records = [
        {"key": b"k1", "value": b"v1", "headers": [("h1", b"x"), ("h2", b"y")]},
        {"key": None, "value": b"only value"},
        {"key": b"only key", "value": None},
        {"key": b"k4", "value": b"v4", "headers": [("h", b"a"), ("h", None)]},
    ]
    produce_all(p, "fromkafka", records)
    r = resp(kafka_brook)
    entries = xrange_raw(r, "fromkafka")
    assert [fields for _, fields in entries] == [
        [b"key", b"k1", b"value", b"v1", b"h1", b"x", b"h2", b"y"],
        [b"value", b"only value"],
        [b"key", b"only key"],
        [b"key", b"k4", b"value", b"v4", b"h", b"a", b"h", b""],
    ]
    ids = [entry_id for entry_id, _ in entries]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split(b"-"))))
    # XREAD after the second entry returns the last two, with the same IDs.
    reply = r.xread({"fromkafka": ids[1]})
    assert [e[0] for e in reply[0][1]] == ids[2:]
    assert reply[0][1][0][1] == {b"key": b"only key"}

    # An XREAD BLOCK waiting on the stream is woken by a Kafka produce.
    result, woke = {}, threading.Event()

    def reader():
        result["reply"] = resp(kafka_brook).xread({"fromkafka": "$"}, block=10_000)
        woke.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    wait_until(lambda: r.info("clients")["blocked_clients"] == 1, "XREAD to block")
    produce_all(p, "fromkafka", [{"key": b"late", "value": b"arrival"}])
    assert woke.wait(TIMEOUT_S), "XREAD BLOCK was not woken by the Kafka produce"
    [[stream, [(entry_id, fields)]]] = result["reply"]
    assert stream == b"fromkafka" and fields == {b"key": b"late", b"value": b"arrival"}
    assert xrange_raw(r, "fromkafka")[-1][0] == entry_id


def test_offsets_and_ids_agree_across_protocols(kafka_brook):
    """Interleaved writers: the n-th XRANGE entry is the record at offset n, and
    XDEL leaves a gap in Kafka offsets without renumbering."""
    r = resp(kafka_brook)
    p = producer(kafka_brook)
    expected = []  # Redis field lists in write order
    for i in range(6):
        r.xadd("mixed", {"key": f"rk{i}", "value": f"rv{i}"})
        expected.append([b"key", f"rk{i}".encode(), b"value", f"rv{i}".encode()])
        produce_all(p, "mixed", [{"key": f"kk{i}".encode(), "value": f"kv{i}".encode()}])
        expected.append([b"key", f"kk{i}".encode(), b"value", f"kv{i}".encode()])
    entries = xrange_raw(r, "mixed")
    assert [fields for _, fields in entries] == expected
    msgs = read_all(kafka_brook, "mixed")
    assert [m.offset() for m in msgs] == list(range(12))
    assert [[b"key", m.key(), b"value", m.value()] for m in msgs] == expected
    # XDEL the entry at offset 4: Kafka sees a gap, the others keep their offsets.
    assert r.xdel("mixed", entries[4][0]) == 1
    msgs = read_all(kafka_brook, "mixed")
    assert [m.offset() for m in msgs] == [0, 1, 2, 3] + list(range(5, 12))
    # Starting a fetch at an entry's offset gives that entry.
    [m] = read_all(kafka_brook, "mixed", start=11)
    assert (m.key(), m.value()) == (b"kk5", b"kv5")
    assert xrange_raw(r, "mixed")[-1] == (entries[11][0], expected[11])


def test_kafka_produce_to_an_escaped_name_writes_the_redis_key(kafka_brook):
    produce_all(producer(kafka_brook), "_events_3Aorders",
                [{"key": b"k", "value": b"v"}])
    r = resp(kafka_brook)
    assert r.type("events:orders") == b"stream"
    assert xrange_raw(r, "events:orders")[0][1] == [b"key", b"k", b"value", b"v"]
    assert r.exists("_events_3Aorders") == 0


# ---------------------------------------------------------------------------------
# Metadata


def test_metadata_lists_the_broker_and_topics(kafka_brook):
    r = resp(kafka_brook)
    r.xadd("fromredis", {"a": "1"})
    r.xadd("events:orders", {"a": "1"})
    resp(kafka_brook, db=1).xadd("db1only", {"a": "1"})  # not visible to Kafka
    r.set("astring", "x")                                # not a topic
    produce_all(producer(kafka_brook), "fromkafka", [{"value": b"v"}])
    admin = admin_client(kafka_brook)
    md = admin.list_topics(timeout=TIMEOUT_S)
    assert [(b.id, b.host, b.port) for b in md.brokers.values()] == [
        (0, kafka_brook.kafka_host, kafka_brook.kafka_port)]
    assert md.controller_id == 0
    assert sorted(md.topics) == ["_events_3Aorders", "fromkafka", "fromredis"]
    for topic in md.topics.values():
        assert topic.error is None
        assert list(topic.partitions) == [0]
        part = topic.partitions[0]
        assert (part.leader, part.replicas, part.isrs, part.error) == (0, [0], [0], None)


def test_producing_to_a_new_topic_creates_it(kafka_brook):
    r = resp(kafka_brook)
    assert r.exists("brandnew") == 0
    assert produce_all(producer(kafka_brook), "brandnew", [{"value": b"first"}]) == [(0, 0)]
    assert r.type("brandnew") == b"stream"
    assert r.xlen("brandnew") == 1
    md = admin_client(kafka_brook).list_topics(
        "brandnew", timeout=TIMEOUT_S)
    assert list(md.topics["brandnew"].partitions) == [0]


def test_a_consumer_does_not_create_topics_it_asks_about(kafka_brook):
    c = consumer(kafka_brook, **{"allow.auto.create.topics": False})
    try:
        md = c.list_topics("nosuchtopic", timeout=TIMEOUT_S)
        assert md.topics["nosuchtopic"].error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    finally:
        c.close()
    assert resp(kafka_brook).exists("nosuchtopic") == 0


def test_an_invalid_topic_name_is_refused(kafka_brook):
    md = admin_client(kafka_brook).list_topics(
        "_abc", timeout=TIMEOUT_S)  # `_` but not the escaped form of a key
    assert md.topics["_abc"].error.code() == KafkaError.TOPIC_EXCEPTION


# ---------------------------------------------------------------------------------
# Admin


@pytest.mark.admin
def test_create_topics_with_partitions(kafka_brook):
    admin = admin_client(kafka_brook)
    futures = admin.create_topics([NewTopic("multi", num_partitions=4),
                                   NewTopic("single", num_partitions=1)],
                                  operation_timeout=TIMEOUT_S)
    for f in futures.values():
        assert f.result(TIMEOUT_S) is None
    md = admin.list_topics(timeout=TIMEOUT_S)
    assert sorted(md.topics["multi"].partitions) == [0, 1, 2, 3]
    assert sorted(md.topics["single"].partitions) == [0]
    # Creating it again fails with TOPIC_ALREADY_EXISTS.
    with pytest.raises(KafkaException) as e:
        admin.create_topics([NewTopic("multi", num_partitions=4)])["multi"].result(TIMEOUT_S)
    assert e.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS
    # Records produced to a partition are consumed from that partition.
    p = producer(kafka_brook)
    for part in range(4):
        assert produce_all(p, "multi", [{"value": f"p{part}-{i}".encode()}
                                        for i in range(3)], partition=part) == [
            (part, 0), (part, 1), (part, 2)]
    for part in range(4):
        assert [m.value() for m in read_all(kafka_brook, "multi", partition=part)] == [
            f"p{part}-{i}".encode() for i in range(3)]


@pytest.mark.admin
def test_delete_topics(kafka_brook):
    produce_all(producer(kafka_brook), "doomed", [{"value": b"v"}])
    admin = admin_client(kafka_brook)
    assert admin.delete_topics(["doomed"], operation_timeout=TIMEOUT_S)["doomed"].result(
        TIMEOUT_S) is None
    assert resp(kafka_brook).exists("doomed") == 0


# ---------------------------------------------------------------------------------
# Idempotent producer


@pytest.mark.idempotence
def test_idempotent_producer_writes_each_record_once_in_order(kafka_brook):
    p = producer(kafka_brook, **{"enable.idempotence": True, "acks": "all",
                                 "max.in.flight.requests.per.connection": 5,
                                 "linger.ms": 1, "batch.num.messages": 50})
    records = [{"key": f"k{i % 7}".encode(), "value": f"v{i}".encode()}
               for i in range(2000)]
    assert produce_all(p, "idem", records) == [(0, i) for i in range(2000)]
    msgs = read_all(kafka_brook, "idem")
    assert [(m.offset(), m.value()) for m in msgs] == [(i, f"v{i}".encode())
                                                       for i in range(2000)]
    # A second idempotent producer gets its own producer ID and appends after.
    p2 = producer(kafka_brook, **{"enable.idempotence": True})
    assert produce_all(p2, "idem", [{"value": b"second"}]) == [(0, 2000)]
    assert resp(kafka_brook).xlen("idem") == 2001


# ---------------------------------------------------------------------------------
# Consumer groups


def group_consumer(brook, group, **conf):
    return consumer(brook, group, **{"auto.offset.reset": "earliest",
                                     "enable.partition.eof": False, **conf})


@pytest.mark.groups
def test_group_commit_and_committed_offsets(kafka_brook):
    produce_all(producer(kafka_brook), "gc", [{"value": f"v{i}".encode()} for i in range(10)])
    c = group_consumer(kafka_brook, "g1")
    try:
        c.subscribe(["gc"])
        assert [m.value() for m in consume(c, 4)] == [b"v0", b"v1", b"v2", b"v3"]
        committed = c.commit(offsets=[TopicPartition("gc", 0, 4, metadata="after v3")],
                             asynchronous=False)
        assert [(tp.offset, tp.error) for tp in committed] == [(4, None)]
        [tp] = c.committed([TopicPartition("gc", 0)], timeout=TIMEOUT_S)
        assert (tp.offset, tp.metadata) == (4, "after v3")
    finally:
        c.close()
    # A new member of the group resumes after the committed offset.
    c = group_consumer(kafka_brook, "g1")
    try:
        c.subscribe(["gc"])
        assert [m.offset() for m in consume(c, 6)] == [4, 5, 6, 7, 8, 9]
        # Another group has no committed offset and starts from the beginning.
        [tp] = c.committed([TopicPartition("gc", 0)], timeout=TIMEOUT_S)
        assert tp.offset == 4
    finally:
        c.close()
    other = group_consumer(kafka_brook, "g2")
    try:
        [tp] = other.committed([TopicPartition("gc", 0)], timeout=TIMEOUT_S)
        assert tp.offset == -1001  # OFFSET_INVALID: nothing committed
        other.subscribe(["gc"])
        assert [m.offset() for m in consume(other, 10)] == list(range(10))
    finally:
        other.close()


@pytest.mark.groups
def test_commits_of_an_assigned_consumer_without_membership(kafka_brook):
    """A consumer that assign()s partitions itself may commit for its group (Kafka
    accepts commits with generation -1 while the group has no members)."""
    produce_all(producer(kafka_brook), "manual", [{"value": b"v"}] * 5)
    c = consumer(kafka_brook, "manual-g")
    try:
        c.assign([TopicPartition("manual", 0, 0)])
        consume(c, 5)
        c.commit(asynchronous=False)
        [tp] = c.committed([TopicPartition("manual", 0)], timeout=TIMEOUT_S)
        assert tp.offset == 5
    finally:
        c.close()


@pytest.mark.groups
@pytest.mark.parametrize("reset", ["earliest", "latest"])
def test_a_new_group_starts_where_auto_offset_reset_says(kafka_brook, reset):
    p = producer(kafka_brook)
    produce_all(p, "fresh", [{"value": f"old{i}".encode()} for i in range(3)])
    c = group_consumer(kafka_brook, f"fresh-{reset}", **{"auto.offset.reset": reset,
                                                         "enable.partition.eof": True})
    try:
        c.subscribe(["fresh"])
        if reset == "earliest":
            assert [m.value() for m in consume(c, 3)] == [b"old0", b"old1", b"old2"]
        else:
            # End of partition at 3: the reset to the end was done.
            assert wait_for_eof(c) == {("fresh", 0): 3}
        produce_all(p, "fresh", [{"value": b"new"}])
        assert [(m.offset(), m.value()) for m in consume(c, 1)] == [(3, b"new")]
    finally:
        c.close()


@pytest.mark.groups
@pytest.mark.parametrize("kill", [False, True], ids=["sigterm", "sigkill"])
def test_committed_offsets_survive_a_restart(brook_factory, kill):
    server = brook_factory.start()
    produce_all(producer(server), "durable", [{"value": f"v{i}".encode()} for i in range(10)])
    c = group_consumer(server, "survivors")
    try:
        c.subscribe(["durable"])
        assert [m.offset() for m in consume(c, 4)] == [0, 1, 2, 3]
        c.commit(offsets=[TopicPartition("durable", 0, 4, metadata="m4")], asynchronous=False)
    finally:
        c.close()

    server = brook_factory.restart(server, kill=kill)
    c = group_consumer(server, "survivors")
    try:
        [tp] = c.committed([TopicPartition("durable", 0)], timeout=TIMEOUT_S)
        assert (tp.offset, tp.metadata) == (4, "m4")
        c.subscribe(["durable"])
        assert [m.offset() for m in consume(c, 6)] == [4, 5, 6, 7, 8, 9]
        c.commit(asynchronous=False)
    finally:
        c.close()
    server = brook_factory.restart(server, kill=kill)
    c = group_consumer(server, "survivors")
    try:
        [tp] = c.committed([TopicPartition("durable", 0)], timeout=TIMEOUT_S)
        assert tp.offset == 10
    finally:
        c.close()


class GroupRun:
    """Consumers of one group polled in turn from one thread, as separate processes
    would: each processes its records, then commits them synchronously; a commit
    refused with REBALANCE_IN_PROGRESS (cooperative members keep consuming while the
    group rebalances) is retried on the next round, and the revoke callback commits
    what is still uncommitted before partitions move. Partitions are
    (topic, partition) pairs."""

    def __init__(self, brook, group, topics, strategy):
        self.brook, self.group, self.topics, self.strategy = brook, group, topics, strategy
        self.members = {}
        self.processed = []  # (topic, partition, offset, value, member)
        self.positions = {}  # member -> {(topic, partition): next offset}
        self.dirty = {}  # member -> partitions processed but not committed yet
        self.revoke_commit_errors = []
        self.deferred_commits = 0
        self.closing = False

    def commit(self, name, c, only=None):
        """Commits `name`'s uncommitted positions (of `only`, if given); False if
        the group was rebalancing."""
        tps = {tp for tp in self.dirty[name] if only is None or tp in only}
        if not tps:
            return True
        try:
            c.commit(offsets=[TopicPartition(t, p, self.positions[name][(t, p)])
                              for t, p in sorted(tps)], asynchronous=False)
        except KafkaException as e:
            if e.args[0].code() != KafkaError.REBALANCE_IN_PROGRESS:
                raise
            self.deferred_commits += 1
            return False
        self.dirty[name] -= tps
        return True

    def join(self, name):
        self.positions[name], self.dirty[name] = {}, set()
        c = group_consumer(self.brook, self.group,
                           **{"partition.assignment.strategy": self.strategy,
                              "client.id": name})

        def on_revoke(consumer, partitions):
            revoked = {(tp.topic, tp.partition) for tp in partitions}
            try:
                if not self.commit(name, consumer, only=revoked):
                    raise AssertionError("REBALANCE_IN_PROGRESS")
            except (KafkaException, AssertionError) as e:
                # Closing: librdkafka may refuse (handle terminating, member
                # left); everything processed was committed already.
                if not self.closing:
                    self.revoke_commit_errors.append((name, e))
            for tp in revoked:
                self.positions[name].pop(tp, None)
                self.dirty[name].discard(tp)

        c.subscribe(self.topics, on_revoke=on_revoke)
        self.members[name] = c

    def leave(self, name):
        self.members.pop(name).close()

    def poll_round(self):
        for name, c in list(self.members.items()):
            for m in c.consume(num_messages=50, timeout=0.05):
                assert not m.error(), m.error()
                self.processed.append((m.topic(), m.partition(), m.offset(), m.value(), name))
                self.positions[name][(m.topic(), m.partition())] = m.offset() + 1
                self.dirty[name].add((m.topic(), m.partition()))
            self.commit(name, c)

    def assignments(self):
        return {name: sorted((tp.topic, tp.partition) for tp in c.assignment())
                for name, c in self.members.items()}

    def run_until(self, total, partitions, sizes, timeout=30):
        """Polls until `total` records were processed and the members' assignments
        are disjoint, cover `partitions` and have the given sizes."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll_round()
            a = self.assignments()
            assigned = sorted(tp for tps in a.values() for tp in tps)
            if (len(self.processed) >= total and assigned == sorted(partitions)
                    and sorted(len(tps) for tps in a.values()) == sorted(sizes)):
                return a
            assert time.monotonic() < deadline, (
                f"processed {len(self.processed)}/{total}, assignments {a}")

    def settle(self, partitions, timeout=30):
        """Polls until the members' assignments are disjoint and cover `partitions`
        for five rounds in a row (the rebalance after a member left is done and
        every member has served its assignment)."""
        deadline = time.monotonic() + timeout
        stable = 0
        while stable < 5:
            self.poll_round()
            assigned = sorted(tp for tps in self.assignments().values() for tp in tps)
            stable = stable + 1 if assigned == sorted(partitions) else 0
            assert time.monotonic() < deadline, f"assignments {self.assignments()}"

    def close(self, partitions):
        """Closes the members one by one, each once the group is stable again:
        librdkafka may abort when a consumer is closed in the middle of a
        cooperative rebalance (librdkafka issues #4312, #4527)."""
        errors = []
        self.closing = True
        while self.members:
            try:
                self.leave(sorted(self.members)[0])
                if self.members:
                    self.settle(partitions)
            except Exception as e:  # close the others all the same
                errors.append(e)
        if errors:
            raise errors[0]


def leave_and_join_scenario(brook, strategy, partitions, sizes):
    """Three members share `partitions` ((topic, partition) pairs, 50 records each);
    one leaves, one joins, 50 more records each; every record is processed exactly
    once and the committed offsets are at the end. `sizes` are the expected
    assignment sizes with three members and with two."""
    p = producer(brook)

    def produce_wave(wave):
        for topic, part in partitions:
            produce_all(p, topic, [{"value": f"{wave}-{topic}-{part}-{i}".encode()}
                                   for i in range(50)], partition=part)

    produce_wave(1)
    topics = sorted({t for t, _ in partitions})
    run = GroupRun(brook, f"workers-{strategy}", topics, strategy)
    try:
        for name in ("a", "b", "c"):
            run.join(name)
        run.run_until(len(partitions) * 50, partitions, sizes[0])
        run.leave("b")
        run.run_until(len(partitions) * 50, partitions, sizes[1])
        run.join("d")
        produce_wave(2)
        final = run.run_until(len(partitions) * 100, partitions, sizes[0])
        assert sorted(final) == ["a", "c", "d"]

        seen = sorted((t, pt, off) for t, pt, off, _, _ in run.processed)
        assert seen == sorted((t, pt, off) for t, pt in partitions for off in range(100)), (
            "records lost or processed twice")
        assert sorted(v for _, _, _, v, _ in run.processed) == sorted(
            f"{w}-{t}-{pt}-{i}".encode() for w in (1, 2) for t, pt in partitions
            for i in range(50))
        wait_until(lambda: run.poll_round() or not any(run.dirty.values()),
                   "every processed record committed")
        assert run.revoke_commit_errors == []
        committed = run.members["a"].committed(
            [TopicPartition(t, pt) for t, pt in partitions], timeout=TIMEOUT_S)
        assert sorted((tp.topic, tp.partition, tp.offset) for tp in committed) == sorted(
            (t, pt, 100) for t, pt in partitions)
    finally:
        run.close(partitions)


@pytest.mark.groups
@pytest.mark.admin
@pytest.mark.parametrize("strategy", ["range", "roundrobin", "cooperative-sticky"])
def test_group_members_leave_and_join_on_a_multi_partition_topic(kafka_brook, strategy):
    admin = admin_client(kafka_brook)
    admin.create_topics([NewTopic("work", num_partitions=6)])["work"].result(TIMEOUT_S)
    leave_and_join_scenario(kafka_brook, strategy, [("work", p) for p in range(6)],
                            ([2, 2, 2], [3, 3]))


@pytest.mark.groups
@pytest.mark.parametrize("strategy", ["range", "roundrobin", "cooperative-sticky"])
def test_group_members_leave_and_join_on_six_topics(kafka_brook, strategy):
    """The same over six single-partition topics (auto-created), which needs no
    CreateTopics. `range` assigns per topic, so one member gets all six."""
    sizes = ([0, 0, 6], [0, 6]) if strategy == "range" else ([2, 2, 2], [3, 3])
    leave_and_join_scenario(kafka_brook, strategy, [(f"work{i}", 0) for i in range(6)],
                            sizes)


# ---------------------------------------------------------------------------------
# More group behaviour: auto-commit, admin views, static members, a member that dies


@pytest.mark.groups
def test_auto_commit_commits_the_consumed_position_on_close(kafka_brook):
    produce_all(producer(kafka_brook), "auto", [{"value": f"v{i}".encode()} for i in range(10)])
    c = group_consumer(kafka_brook, "autocommitters", **{"enable.auto.commit": True,
                                                         "auto.commit.interval.ms": 60_000})
    try:
        c.subscribe(["auto"])
        assert [m.offset() for m in consume(c, 6)] == [0, 1, 2, 3, 4, 5]
    finally:
        c.close()  # commits the offsets consumed so far
    c = group_consumer(kafka_brook, "autocommitters")
    try:
        [tp] = c.committed([TopicPartition("auto", 0)], timeout=TIMEOUT_S)
        assert tp.offset == 6
    finally:
        c.close()


@pytest.mark.groups
def test_admin_lists_and_describes_groups_and_their_offsets(kafka_brook):
    from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions
    topics = [f"desc{i}" for i in range(4)]
    p = producer(kafka_brook)
    for t in topics:
        produce_all(p, t, [{"value": b"v"}] * 3)
    members = [group_consumer(kafka_brook, "described", **{
        "client.id": name, "partition.assignment.strategy": "roundrobin"}) for name in "ab"]
    admin = admin_client(kafka_brook)
    try:
        for c in members:
            c.subscribe(topics)

        def stable():
            for c in members:
                for m in c.consume(num_messages=10, timeout=0.05):
                    assert not m.error(), m.error()
                    c.commit(message=m, asynchronous=False)
            return sorted(len(c.assignment()) for c in members) == [2, 2] and all(
                c.position(c.assignment())[0].offset == 3 for c in members)

        wait_until(stable, "two members with two partitions each, all consumed")
        listed = admin.list_consumer_groups().result(TIMEOUT_S)
        assert [(g.group_id, g.state) for g in listed.valid] == [
            ("described", ConsumerGroupState.STABLE)]
        desc = admin.describe_consumer_groups(["described"])["described"].result(TIMEOUT_S)
        assert (desc.group_id, desc.state, desc.partition_assignor,
                desc.is_simple_consumer_group, desc.coordinator.id) == (
            "described", ConsumerGroupState.STABLE, "roundrobin", False, 0)
        assert sorted(m.client_id for m in desc.members) == ["a", "b"]
        assigned = sorted((tp.topic, tp.partition) for m in desc.members
                          for tp in m.assignment.topic_partitions)
        assert assigned == [(t, 0) for t in topics]
        offsets = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions("described")])["described"].result(TIMEOUT_S)
        assert sorted((tp.topic, tp.partition, tp.offset)
                      for tp in offsets.topic_partitions) == [(t, 0, 3) for t in topics]
    finally:
        for c in members:
            c.close()


def used_then_left(brook, group):
    """A group that a subscribed consumer used (and committed in), now empty."""
    produce_all(producer(brook), "left", [{"value": b"v"}] * 3)
    c = group_consumer(brook, group)
    try:
        c.subscribe(["left"])
        consume(c, 3)
        c.commit(asynchronous=False)
    finally:
        c.close()


@pytest.mark.groups
def test_a_group_whose_members_left_is_an_empty_consumer_group(kafka_brook):
    """Kafka keeps an empty group's protocol type (`consumer`), so admin clients still
    see a consumer group, not a "simple" (commit-only) one."""
    from confluent_kafka import ConsumerGroupState
    used_then_left(kafka_brook, "emptied")
    admin = admin_client(kafka_brook)
    desc = admin.describe_consumer_groups(["emptied"])["emptied"].result(TIMEOUT_S)
    assert (desc.state, desc.members) == (ConsumerGroupState.EMPTY, [])
    assert desc.is_simple_consumer_group is False
    [listed] = admin.list_consumer_groups().result(TIMEOUT_S).valid
    assert (listed.group_id, listed.state, listed.is_simple_consumer_group) == (
        "emptied", ConsumerGroupState.EMPTY, False)


@pytest.mark.groups
def test_a_deleted_group_is_gone(kafka_brook):
    from confluent_kafka import ConsumerGroupState
    used_then_left(kafka_brook, "doomed")
    admin = admin_client(kafka_brook)
    assert admin.delete_consumer_groups(["doomed"])["doomed"].result(TIMEOUT_S) is None
    assert [(g.group_id, g.state) for g in admin.list_consumer_groups().result(
        TIMEOUT_S).valid] == []
    # DescribeGroups: Dead (GROUP_ID_NOT_FOUND from DescribeGroups v6, Kafka 4).
    try:
        desc = admin.describe_consumer_groups(["doomed"])["doomed"].result(TIMEOUT_S)
        assert desc.state == ConsumerGroupState.DEAD, desc.state
    except KafkaException as e:
        assert e.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND, e
    # Its committed offsets went with it.
    c = group_consumer(kafka_brook, "doomed")
    try:
        [tp] = c.committed([TopicPartition("left", 0)], timeout=TIMEOUT_S)
        assert tp.offset == -1001
    finally:
        c.close()


@pytest.mark.groups
@pytest.mark.parametrize("restarting", ["follower", "leader"])
def test_a_static_member_that_restarts_within_the_session_timeout_keeps_its_partitions(
        kafka_brook, restarting):
    """KIP-345: a member with group.instance.id does not leave the group when it
    closes; coming back before the session timeout it gets the same partitions and
    the other member sees no rebalance, whether the member is the group's leader or
    not (Kafka's `staticMemberRejoinWithLeaderIdAndUnknownMemberId`)."""
    topics = [f"static{i}" for i in range(4)]
    p = producer(kafka_brook)
    for t in topics:
        produce_all(p, t, [{"value": f"{t}-{i}".encode()} for i in range(5)])
    assignments = {"leader": 0, "follower": 0}

    def member(name):
        c = group_consumer(kafka_brook, "statics", **{
            "client.id": name, "group.instance.id": f"instance-{name}",
            "partition.assignment.strategy": "roundrobin"})

        def on_assign(consumer, partitions):
            assignments[name] += 1

        c.subscribe(topics, on_assign=on_assign)
        return c

    def poll_all(cs):
        for c in cs:
            for m in c.consume(num_messages=20, timeout=0.05):
                assert not m.error(), m.error()
                c.commit(message=m, asynchronous=False)

    members = {"leader": member("leader")}
    try:
        # The first member of a group is its leader.
        wait_until(lambda: poll_all(members.values())
                   or len(members["leader"].assignment()) == 4, "the leader alone")
        members["follower"] = member("follower")
        wait_until(lambda: poll_all(members.values()) or sorted(
            len(c.assignment()) for c in members.values()) == [2, 2],
            "two static members with two partitions each")
        staying = "leader" if restarting == "follower" else "follower"
        before = {n: sorted(c.assignment()) for n, c in members.items()}
        staying_assignments = assignments[staying]
        members.pop(restarting).close()  # a static member: no LeaveGroup
        # The group does not rebalance: the other member keeps its two partitions.
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            poll_all(members.values())
        assert sorted(members[staying].assignment()) == before[staying]
        assert assignments[staying] == staying_assignments
        members[restarting] = member(restarting)
        wait_until(lambda: poll_all(members.values())
                   or len(members[restarting].assignment()) == 2,
                   "the static member to get its partitions back")
        assert sorted(members[restarting].assignment()) == before[restarting]
        # Polled a little longer: still no rebalance for the member that stayed.
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            poll_all(members.values())
        assert sorted(members[staying].assignment()) == before[staying]
        assert assignments[staying] == staying_assignments, (
            f"the {staying} was assigned partitions again: the group rebalanced")
    finally:
        for c in members.values():
            c.close()


VICTIM = r"""
import json, sys
from confluent_kafka import Consumer, TopicPartition
bootstrap, group, topics = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": "victim",
              "enable.auto.commit": False, "auto.offset.reset": "earliest",
              "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
              "partition.assignment.strategy": "roundrobin"})
c.subscribe(topics)
done, ready = {}, False
while True:
    for m in c.consume(num_messages=100, timeout=0.1):
        if m.error():
            continue
        done[(m.topic(), m.partition())] = m.offset() + 1
        if m.offset() == 19:  # commit the first 20 records of each partition only
            c.commit(offsets=[TopicPartition(m.topic(), m.partition(), 20)],
                     asynchronous=False)
    mine = sorted((tp.topic, tp.partition) for tp in c.assignment())
    if len(mine) == 2 and not ready:
        ready = True
        print(json.dumps(["assigned", mine]), flush=True)
    if len(mine) == 2 and all(done.get(tp) == 50 for tp in mine):
        print(json.dumps(["done", mine]), flush=True)
        sys.stdin.read()  # wait to be killed
"""


@pytest.mark.groups
def test_a_member_that_dies_loses_its_partitions_after_the_session_timeout(kafka_brook):
    """A member killed with SIGKILL (no LeaveGroup) is removed after the session
    timeout; the survivor takes its partitions over from the committed offsets, so
    the records the dead member processed after its last commit are delivered again."""
    import subprocess
    import sys
    topics = [f"crash{i}" for i in range(4)]
    p = producer(kafka_brook)
    for t in topics:  # creates the topics; the records come once the group is stable
        produce_all(p, t, [{"value": f"{t}-0".encode()}])
    victim = subprocess.Popen(
        [sys.executable, "-c", VICTIM, kafka_brook.bootstrap, "crashers", ",".join(topics)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    survivor = group_consumer(kafka_brook, "crashers", **{
        "client.id": "survivor", "partition.assignment.strategy": "roundrobin"})
    lines, got = [], []

    def read_lines():
        for raw in iter(victim.stdout.readline, b""):
            lines.append(json.loads(raw))

    def survivor_round():
        for m in survivor.consume(num_messages=100, timeout=0.05):
            assert not m.error(), m.error()
            got.append((m.topic(), m.partition(), m.offset()))
            survivor.commit(message=m, asynchronous=False)

    def victim_says(word):
        return [tuple(tp) for w, tps in lines if w == word for tp in tps]

    threading.Thread(target=read_lines, daemon=True).start()
    try:
        survivor.subscribe(topics)
        wait_until(lambda: survivor_round() or (victim_says("assigned")
                                                and len(survivor.assignment()) == 2),
                   "two members with two partitions each", timeout=30)
        victims = victim_says("assigned")
        mine = sorted((tp.topic, tp.partition) for tp in survivor.assignment())
        assert sorted(victims + mine) == [(t, 0) for t in topics]
        for t in topics:
            produce_all(p, t, [{"value": f"{t}-{i}".encode()} for i in range(1, 50)])
        wait_until(lambda: survivor_round() or (
            victim_says("done") and {(t, pt, 49) for t, pt in mine} <= set(got)),
            "both members to process their partitions", timeout=30)
        assert victim_says("done") == victims
        victim.kill()
        victim.wait(TIMEOUT_S)
        killed_at = time.monotonic()
        got.clear()
        wait_until(lambda: survivor_round() or len(survivor.assignment()) == 4,
                   "the survivor to get the dead member's partitions", timeout=30)
        took = time.monotonic() - killed_at
        # Not before the session timeout (6 s): heartbeats were due every 0.5 s.
        assert 5 < took < 20, f"partitions moved {took:.1f}s after the kill"
        wait_until(lambda: survivor_round() or len(got) >= 60, "60 redelivered records")
        # Offsets 20-49 of each dead member's partition, from its last commit.
        assert sorted(got) == sorted((t, pt, o) for t, pt in victims for o in range(20, 50))
    except AssertionError as e:
        victim.kill()
        raise AssertionError(f"{e}; victim said {lines}, stderr "
                             f"{victim.stderr.read()[-2000:]!r}") from e
    finally:
        if victim.poll() is None:
            victim.kill()
        victim.wait(TIMEOUT_S)
        survivor.close()


@pytest.mark.admin
def test_keyed_records_land_in_the_partition_xadd_picks(kafka_brook):
    """librdkafka's murmur2_random partitioner (the Java client's) and XADD on the
    topic name agree on the partition of a key (docs/mapping.md)."""
    admin = admin_client(kafka_brook)
    admin.create_topics([NewTopic("keyed", num_partitions=6)])["keyed"].result(TIMEOUT_S)
    keys = [f"user-{i}" for i in range(40)]
    reports = produce_all(producer(kafka_brook, partitioner="murmur2_random"), "keyed",
                          [{"key": k.encode(), "value": b"from kafka"} for k in keys])
    kafka_partition = {k: part for k, (part, _) in zip(keys, reports)}
    assert len(set(kafka_partition.values())) > 1
    r = resp(kafka_brook)
    for k in keys:
        r.xadd("keyed", {"key": k, "value": "from redis"})
    for part in range(6):
        entries = xrange_raw(r, f"keyed#{part}")
        mine = sorted(k for k in keys if kafka_partition[k] == part)
        assert sorted(f[1].decode() for _, f in entries if f[3] == b"from kafka") == mine
        assert sorted(f[1].decode() for _, f in entries if f[3] == b"from redis") == mine
        # And Kafka consumers of that partition read both writers' records.
        msgs = read_all(kafka_brook, "keyed", partition=part)
        assert sorted(m.key().decode() for m in msgs) == sorted(mine * 2)


def test_a_record_larger_than_the_fetch_limits_is_still_returned(kafka_brook):
    """KIP-74: the first record batch is returned even when it is larger than
    max.partition.fetch.bytes and fetch.max.bytes, so consumers make progress."""
    produce_all(producer(kafka_brook, **{"linger.ms": 0}), "big",
                [{"value": bytes([i]) * 100_000} for i in range(3)])
    c = consumer(kafka_brook, **{"max.partition.fetch.bytes": 1024, "fetch.max.bytes": 1024,
                                 "message.max.bytes": 1000})
    try:
        c.assign([TopicPartition("big", 0, 0)])
        assert [(m.offset(), m.value()) for m in consume(c, 3)] == [
            (i, bytes([i]) * 100_000) for i in range(3)]
    finally:
        c.close()


def test_sigterm_ends_a_parked_fetch_instead_of_waiting_for_it(brook_factory):
    """A consumer at the end of a partition has a Fetch parked at the server for up to
    fetch.wait.max.ms. A graceful shutdown answers it at once (as XREAD BLOCK is),
    instead of holding the shutdown until the wait or the 5 s grace runs out."""
    server = brook_factory.start()
    p = producer(server)
    produce_all(p, "parked", [{"value": b"v0"}])
    c = consumer(server, **{"fetch.wait.max.ms": 30_000, "socket.timeout.ms": 60_000})
    try:
        c.assign([TopicPartition("parked", 0, 1)])
        # A record produced while the consumer waits at the end wakes its Fetch.
        produce_all(p, "parked", [{"value": b"v1"}])
        assert [m.value() for m in consume(c, 1)] == [b"v1"]
        # librdkafka sends the next Fetch right after that answer, and the server
        # parks it; give it a moment to arrive.
        time.sleep(0.3)
        started = time.monotonic()
        brook_factory.stop(server)  # SIGTERM; asserts exit code 0
        took = time.monotonic() - started
        assert took < 1.0, f"shutdown took {took:.1f}s; log:\n{server.log()}"
        assert "aborting connections" not in server.log()
    finally:
        c.close()
