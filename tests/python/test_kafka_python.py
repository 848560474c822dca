"""Brook through kafka-python (pure Python Kafka client), the way its users use it.

Every test gets a fresh server (RESP + Kafka on free ports). Expected values are what
a single-broker Apache Kafka answers; differences are in tests/FINDINGS.md.
Tests marked `groups`, `idempotence` or `admin` need those Kafka APIs.

kafka-python 3 producers are idempotent by default; the tests that are not about
idempotence pass `enable_idempotence=False`, and
`test_default_producer_config_is_idempotent_and_works` checks the default.
"""

import json
import threading
import time

import pytest
from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka import OffsetAndMetadata, TopicPartition
from kafka.errors import (
    CommitFailedError, OffsetOutOfRangeError, RebalanceInProgressError, TopicAlreadyExistsError,
)

from kafkahelp import (
    HEARTBEAT_INTERVAL_MS, SESSION_TIMEOUT_MS, TIMEOUT_S, kafka_fields, resp,
    stream_id_ms, xrange_raw,
)

CODECS = ["gzip", "snappy", "lz4", "zstd"]
TIMEOUT_MS = TIMEOUT_S * 1000


def producer(brook, **conf):
    base = {"bootstrap_servers": brook.bootstrap, "enable_idempotence": False,
            "linger_ms": 5, "request_timeout_ms": TIMEOUT_MS,
            "max_block_ms": TIMEOUT_MS}
    base.update(conf)
    return KafkaProducer(**base)


def send_all(p, topic, records, partition=None):
    """Sends `records` (dicts of send() arguments) and waits for every ack; returns
    (partition, offset) per record."""
    futures = [p.send(topic, partition=partition, **rec) for rec in records]
    p.flush(TIMEOUT_S)
    return [(md.partition, md.offset) for md in (f.get(TIMEOUT_S) for f in futures)]


def consumer(brook, **conf):
    base = {"bootstrap_servers": brook.bootstrap, "group_id": None,
            "enable_auto_commit": False, "fetch_max_wait_ms": 100,
            "request_timeout_ms": 30_000}
    base.update(conf)
    return KafkaConsumer(**base)


def poll_records(c, n, timeout=TIMEOUT_S):
    """The next `n` records (in the order returned)."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, f"got {len(got)} of {n}: {got}"
        for recs in c.poll(timeout_ms=100, max_records=n - len(got)).values():
            got.extend(recs)
    return got


def read_all(brook, topic, partition=0, start=None):
    """Every record of one partition from `start` (default: the log start) up to
    its end offset."""
    c = consumer(brook)
    try:
        tp = TopicPartition(topic, partition)
        c.assign([tp])
        if start is None:
            c.seek_to_beginning(tp)
        else:
            c.seek(tp, start)
        end = c.end_offsets([tp])[tp]
        got = []
        deadline = time.monotonic() + TIMEOUT_S
        while c.position(tp) < end:
            assert time.monotonic() < deadline, f"position {c.position(tp)} of {end}"
            for recs in c.poll(timeout_ms=100).values():
                got.extend(recs)
        return got
    finally:
        c.close()


def summary(recs):
    return [(r.offset, r.key, r.value, r.headers) for r in recs]


# ---------------------------------------------------------------------------------
# Produce and consume


def test_round_trip_keys_values_headers_and_timestamps(kafka_brook):
    p = producer(kafka_brook)
    base_ts = 1_700_000_000_000
    records = [{
        "key": None if i % 10 == 3 else f"key-{i}".encode(),
        "value": None if i % 10 == 7 else f"value {i} ☃".encode() + bytes([0, 255, i]),
        "headers": [("trace", f"t{i}".encode()), ("bin", b"\x00\xff"),
                    ("trace", b"again"), ("empty", b"")],
        "timestamp_ms": base_ts + i,
    } for i in range(200)]
    assert send_all(p, "roundtrip", records) == [(0, i) for i in range(200)]
    p.close()
    recs = read_all(kafka_brook, "roundtrip")
    assert summary(recs) == [(i, r["key"], r["value"], r["headers"])
                             for i, r in enumerate(records)]
    assert [(r.timestamp_type, r.timestamp) for r in recs] == [
        (0, base_ts + i) for i in range(200)]  # CreateTime, as produced


@pytest.mark.parametrize("codec", CODECS)
def test_compressed_produce_round_trips(kafka_brook, codec):
    p = producer(kafka_brook, compression_type=codec, linger_ms=50, batch_size=64 * 1024)
    records = [{"key": f"k{i}".encode(), "value": (f"{codec} payload {i} " * 20).encode(),
                "headers": [("n", str(i).encode())]} for i in range(1000)]
    assert send_all(p, f"z-{codec}", records) == [(0, i) for i in range(1000)]
    p.close()
    recs = read_all(kafka_brook, f"z-{codec}")
    assert summary(recs) == [(i, r["key"], r["value"], r["headers"])
                             for i, r in enumerate(records)]
    r = resp(kafka_brook)
    assert r.xlen(f"z-{codec}") == 1000
    assert xrange_raw(r, f"z-{codec}")[0][1] == kafka_fields(
        b"k0", records[0]["value"], [("n", b"0")])


def test_seek_position_and_seek_to_end(kafka_brook):
    p = producer(kafka_brook)
    send_all(p, "seek", [{"value": f"v{i}".encode()} for i in range(20)])
    assert [r.offset for r in read_all(kafka_brook, "seek", start=15)] == [15, 16, 17, 18, 19]
    c = consumer(kafka_brook)
    try:
        tp = TopicPartition("seek", 0)
        c.assign([tp])
        c.seek(tp, 5)
        assert [r.value for r in poll_records(c, 3)] == [b"v5", b"v6", b"v7"]
        assert c.position(tp) == 8
        c.seek_to_end(tp)
        assert c.position(tp) == 20
        assert c.poll(timeout_ms=200) == {}
        send_all(p, "seek", [{"value": b"v20"}])
        assert [(r.offset, r.value) for r in poll_records(c, 1)] == [(20, b"v20")]
    finally:
        c.close()
        p.close()


@pytest.mark.parametrize("reset", ["earliest", "latest"])
def test_auto_offset_reset_on_an_out_of_range_offset(kafka_brook, reset):
    p = producer(kafka_brook)
    send_all(p, "reset", [{"value": f"v{i}".encode()} for i in range(10)])
    assert resp(kafka_brook).xtrim("reset", maxlen=6, approximate=False) == 4
    c = consumer(kafka_brook, auto_offset_reset=reset)
    try:
        tp = TopicPartition("reset", 0)
        c.assign([tp])
        assert c.beginning_offsets([tp]) == {tp: 4}
        for out_of_range in (2, 50):
            c.seek(tp, out_of_range)
            if reset == "earliest":
                assert [r.offset for r in poll_records(c, 6)] == list(range(4, 10))
            else:
                deadline = time.monotonic() + TIMEOUT_S
                while c.position(tp) != 10:
                    assert c.poll(timeout_ms=50) == {}
                    assert time.monotonic() < deadline, f"position {c.position(tp)}"
        if reset == "latest":
            send_all(p, "reset", [{"value": b"v10"}])
            assert [(r.offset, r.value) for r in poll_records(c, 1)] == [(10, b"v10")]
    finally:
        c.close()
        p.close()


def test_auto_offset_reset_none_raises_out_of_range(kafka_brook):
    p = producer(kafka_brook)
    send_all(p, "strict", [{"value": b"v"}] * 3)
    p.close()
    c = consumer(kafka_brook, auto_offset_reset="none")
    try:
        tp = TopicPartition("strict", 0)
        c.assign([tp])
        c.seek(tp, 7)
        deadline = time.monotonic() + TIMEOUT_S
        with pytest.raises(OffsetOutOfRangeError):
            while time.monotonic() < deadline:
                c.poll(timeout_ms=100)
    finally:
        c.close()


def test_beginning_end_offsets_and_offsets_for_times(kafka_brook):
    base = 1_600_000_000_000
    p = producer(kafka_brook)
    send_all(p, "times", [{"value": f"v{i}".encode(), "timestamp_ms": base + 1000 * i}
                          for i in range(10)])
    p.close()
    c = consumer(kafka_brook)
    try:
        tp = TopicPartition("times", 0)
        assert c.beginning_offsets([tp]) == {tp: 0}
        assert c.end_offsets([tp]) == {tp: 10}

        def lookup(ts):
            found = c.offsets_for_times({tp: ts})[tp]
            return None if found is None else (found.offset, found.timestamp)

        assert lookup(base) == (0, base)
        assert lookup(base + 2500) == (3, base + 3000)
        assert lookup(base + 9000) == (9, base + 9000)
        assert lookup(0) == (0, base)
        assert lookup(base + 9001) is None
        resp(kafka_brook).xtrim("times", maxlen=4, approximate=False)
        assert c.beginning_offsets([tp]) == {tp: 6}
        assert lookup(base) == (6, base + 6000)
    finally:
        c.close()


# ---------------------------------------------------------------------------------
# Redis <-> Kafka


def test_xadd_entries_are_consumed_as_kafka_records(kafka_brook):
    r = resp(kafka_brook)
    ids = [r.xadd("events:orders", {"key": "o-17", "value": '{"total":12}'}),
           r.xadd("events:orders", {"user": "ann", "qty": "2"}),
           r.xadd("events:orders", {"img": b"\x00\xff"})]
    c = consumer(kafka_brook)
    try:
        # docs/mapping.md: `events:orders` is `_events_3Aorders` to Kafka.
        assert c.partitions_for_topic("_events_3Aorders") == {0}
        assert "_events_3Aorders" in c.topics()
    finally:
        c.close()
    recs = read_all(kafka_brook, "_events_3Aorders")
    assert [(r.offset, r.key, r.headers) for r in recs] == [
        (0, b"o-17", []), (1, None, []), (2, None, [])]
    assert recs[0].value == b'{"total":12}'
    assert json.loads(recs[1].value) == {"user": "ann", "qty": "2"}
    assert recs[2].value == b"\x00\x00\x00\x01\x00\x00\x00\x03img\x00\x00\x00\x02\x00\xff"
    for rec, entry_id in zip(recs, ids):
        assert rec.timestamp_type == 0
        assert abs(rec.timestamp - stream_id_ms(entry_id)) < 1000


def test_kafka_records_are_read_by_xrange_and_xread(kafka_brook):
    p = producer(kafka_brook)
    send_all(p, "fromkafka", [
        {"key": b"k1", "value": b"v1", "headers": [("h1", b"x"), ("h2", b"y")]},
        {"value": b"only value"},
        {"key": b"only key", "value": None},
    ])
    p.close()
    r = resp(kafka_brook)
    entries = xrange_raw(r, "fromkafka")
    assert [fields for _, fields in entries] == [
        [b"key", b"k1", b"value", b"v1", b"h1", b"x", b"h2", b"y"],
        [b"value", b"only value"],
        [b"key", b"only key"],
    ]
    reply = r.xread({"fromkafka": entries[0][0]})
    assert [(i, f) for i, f in reply[0][1]] == [
        (entries[1][0], {b"value": b"only value"}), (entries[2][0], {b"key": b"only key"})]


def test_offsets_and_ids_agree_across_protocols(kafka_brook):
    r = resp(kafka_brook)
    p = producer(kafka_brook)
    expected = []
    for i in range(5):
        r.xadd("mixed", {"key": f"rk{i}", "value": f"rv{i}"})
        expected.append((f"rk{i}".encode(), f"rv{i}".encode()))
        send_all(p, "mixed", [{"key": f"kk{i}".encode(), "value": f"kv{i}".encode()}])
        expected.append((f"kk{i}".encode(), f"kv{i}".encode()))
    p.close()
    entries = xrange_raw(r, "mixed")
    assert [(f[1], f[3]) for _, f in entries] == expected
    recs = read_all(kafka_brook, "mixed")
    assert [(rec.offset, rec.key, rec.value) for rec in recs] == [
        (i, k, v) for i, (k, v) in enumerate(expected)]
    assert r.xdel("mixed", entries[3][0], entries[4][0]) == 2
    assert [rec.offset for rec in read_all(kafka_brook, "mixed")] == [0, 1, 2, 5, 6, 7, 8, 9]
    [rec] = read_all(kafka_brook, "mixed", start=9)
    assert (rec.key, rec.value) == expected[9]


# ---------------------------------------------------------------------------------
# Metadata


def test_metadata_topics_partitions_and_auto_creation(kafka_brook):
    r = resp(kafka_brook)
    r.xadd("fromredis", {"a": "1"})
    resp(kafka_brook, db=3).xadd("elsewhere", {"a": "1"})
    p = producer(kafka_brook)
    assert send_all(p, "autocreated", [{"value": b"v"}]) == [(0, 0)]
    p.close()
    assert r.type("autocreated") == b"stream"
    admin = KafkaAdminClient(bootstrap_servers=kafka_brook.bootstrap)
    try:
        assert sorted(admin.list_topics()) == ["autocreated", "fromredis"]
        [topic] = admin.describe_topics(["fromredis"])
        assert topic["name"] == "fromredis" and topic["error_code"] == 0
        [part] = topic["partitions"]
        assert (part["partition_index"], part["leader_id"], part["replica_nodes"],
                part["isr_nodes"]) == (0, 0, [0], [0])
        # A Metadata request for one topic that does not allow auto-creation.
        [missing] = admin.describe_topics(["nosuchtopic"])
        assert (missing["name"], missing["error_code"], missing["partitions"]) == (
            "nosuchtopic", 3, [])  # UNKNOWN_TOPIC_OR_PARTITION
    finally:
        admin.close()
    assert r.exists("nosuchtopic") == 0
    c = consumer(kafka_brook)
    try:
        assert c.partitions_for_topic("autocreated") == {0}
        assert c.partitions_for_topic("nosuchtopic") == set()
    finally:
        c.close()


# ---------------------------------------------------------------------------------
# Idempotent producer (kafka-python's default)


@pytest.mark.idempotence
def test_default_producer_config_is_idempotent_and_works(kafka_brook):
    p = KafkaProducer(bootstrap_servers=kafka_brook.bootstrap, max_block_ms=TIMEOUT_MS,
                      request_timeout_ms=TIMEOUT_MS, linger_ms=1)
    assert p.config["enable_idempotence"] is True
    records = [{"key": f"k{i % 5}".encode(), "value": f"v{i}".encode()} for i in range(1000)]
    assert send_all(p, "idem", records) == [(0, i) for i in range(1000)]
    p.close()
    recs = read_all(kafka_brook, "idem")
    assert [(rec.offset, rec.value) for rec in recs] == [(i, f"v{i}".encode())
                                                         for i in range(1000)]


# ---------------------------------------------------------------------------------
# Admin


@pytest.mark.admin
def test_create_and_delete_topics(kafka_brook):
    admin = KafkaAdminClient(bootstrap_servers=kafka_brook.bootstrap)
    try:
        admin.create_topics({"three": {"num_partitions": 3, "replication_factor": 1}},
                            timeout_ms=TIMEOUT_MS)
        [topic] = admin.describe_topics(["three"])
        assert sorted(p["partition_index"] for p in topic["partitions"]) == [0, 1, 2]
        with pytest.raises(TopicAlreadyExistsError):
            admin.create_topics({"three": {"num_partitions": 3, "replication_factor": 1}},
                                timeout_ms=TIMEOUT_MS)
        p = producer(kafka_brook)
        for part in range(3):
            assert send_all(p, "three", [{"value": f"p{part}".encode()}],
                            partition=part) == [(part, 0)]
        p.close()
        for part in range(3):
            assert [r.value for r in read_all(kafka_brook, "three", partition=part)] == [
                f"p{part}".encode()]
        admin.delete_topics(["three"], timeout_ms=TIMEOUT_MS)
        assert "three" not in admin.list_topics()
    finally:
        admin.close()


# ---------------------------------------------------------------------------------
# Consumer groups


def group_consumer(brook, group, **conf):
    base = {"group_id": group, "auto_offset_reset": "earliest",
            "session_timeout_ms": SESSION_TIMEOUT_MS,
            "heartbeat_interval_ms": HEARTBEAT_INTERVAL_MS}
    base.update(conf)
    return consumer(brook, **base)


@pytest.mark.groups
def test_group_commit_and_committed_offsets(kafka_brook):
    p = producer(kafka_brook)
    send_all(p, "gc", [{"value": f"v{i}".encode()} for i in range(10)])
    p.close()
    tp = TopicPartition("gc", 0)
    c = group_consumer(kafka_brook, "g1")
    try:
        c.subscribe(["gc"])
        assert [r.value for r in poll_records(c, 4)] == [b"v0", b"v1", b"v2", b"v3"]
        c.commit({tp: OffsetAndMetadata(4, "after v3", -1)})
        committed = c.committed(tp, metadata=True)
        assert (committed.offset, committed.metadata) == (4, "after v3")
    finally:
        c.close(autocommit=False)
    c = group_consumer(kafka_brook, "g1")
    try:
        c.subscribe(["gc"])
        assert [r.offset for r in poll_records(c, 6)] == [4, 5, 6, 7, 8, 9]
        c.commit()
        assert c.committed(tp) == 10
    finally:
        c.close(autocommit=False)
    other = group_consumer(kafka_brook, "g2")
    try:
        assert other.committed(tp) is None
    finally:
        other.close(autocommit=False)
    admin = KafkaAdminClient(bootstrap_servers=kafka_brook.bootstrap)
    try:
        # g2 only fetched offsets: no group. g1's members all left: Empty.
        assert [(g["group_id"], g["group_state"]) for g in admin.list_groups()] == [
            ("g1", "Empty")]
    finally:
        admin.close()


@pytest.mark.groups
def test_admin_describes_a_stable_group_and_lists_its_offsets(kafka_brook):
    p = producer(kafka_brook)
    send_all(p, "described", [{"value": b"v"}] * 3)
    p.close()
    c = group_consumer(kafka_brook, "dg", client_id="only-member")
    admin = KafkaAdminClient(bootstrap_servers=kafka_brook.bootstrap)
    try:
        c.subscribe(["described"])
        assert len(poll_records(c, 3)) == 3
        c.commit()
        desc = admin.describe_groups(["dg"])["dg"]
        assert (desc["error"], desc["group_state"], desc["protocol_type"],
                desc["protocol_data"]) == (None, "Stable", "consumer", "range")
        [member] = desc["members"]
        assert member["client_id"] == "only-member"
        assert member["member_metadata"]["topics"] == ["described"]
        assert member["member_assignment"]["assigned_partitions"] == [
            {"topic": "described", "partitions": [0]}]
        assert [(g["group_id"], g["protocol_type"], g["group_state"])
                for g in admin.list_groups()] == [("dg", "consumer", "Stable")]
        offsets = admin.list_group_offsets({"dg": None})["dg"]
        assert {tp: om.offset for tp, om in offsets.items()} == {
            TopicPartition("described", 0): 3}
    finally:
        c.close(autocommit=False)
        admin.close()


@pytest.mark.groups
@pytest.mark.parametrize("reset", ["earliest", "latest"])
def test_a_new_group_starts_where_auto_offset_reset_says(kafka_brook, reset):
    p = producer(kafka_brook)
    send_all(p, "fresh", [{"value": f"old{i}".encode()} for i in range(3)])
    tp = TopicPartition("fresh", 0)
    c = group_consumer(kafka_brook, f"fresh-{reset}", auto_offset_reset=reset)
    try:
        c.subscribe(["fresh"])
        if reset == "earliest":
            assert [r.value for r in poll_records(c, 3)] == [b"old0", b"old1", b"old2"]
        else:
            deadline = time.monotonic() + TIMEOUT_S
            while tp not in c.assignment():
                assert c.poll(timeout_ms=100) == {}
                assert time.monotonic() < deadline, "no assignment"
            assert c.position(tp) == 3
        send_all(p, "fresh", [{"value": b"new"}])
        assert [(r.offset, r.value) for r in poll_records(c, 1)] == [(3, b"new")]
    finally:
        c.close(autocommit=False)
        p.close()


@pytest.mark.groups
@pytest.mark.parametrize("kill", [False, True], ids=["sigterm", "sigkill"])
def test_committed_offsets_survive_a_restart(brook_factory, kill):
    server = brook_factory.start()
    p = producer(server)
    send_all(p, "durable", [{"value": f"v{i}".encode()} for i in range(10)])
    p.close()
    tp = TopicPartition("durable", 0)
    c = group_consumer(server, "survivors")
    try:
        c.subscribe(["durable"])
        assert [r.offset for r in poll_records(c, 4)] == [0, 1, 2, 3]
        c.commit({tp: OffsetAndMetadata(4, "m4", -1)})
    finally:
        c.close(autocommit=False)
    server = brook_factory.restart(server, kill=kill)
    c = group_consumer(server, "survivors")
    try:
        committed = c.committed(tp, metadata=True)
        assert (committed.offset, committed.metadata) == (4, "m4")
        c.subscribe(["durable"])
        assert [r.offset for r in poll_records(c, 6)] == [4, 5, 6, 7, 8, 9]
        c.commit()
    finally:
        c.close(autocommit=False)
    server = brook_factory.restart(server, kill=kill)
    c = group_consumer(server, "survivors")
    try:
        assert c.committed(tp) == 10
    finally:
        c.close(autocommit=False)


class Member(threading.Thread):
    """One group member on its own thread, as a separate process would run it: poll,
    process, commit synchronously (retrying on the next round when the group is
    rebalancing), and commit what is still uncommitted when partitions are revoked.
    kafka-python must be polled continuously while it joins: with several consumers
    polled in turn from one thread, a JoinGroup answer that arrives while another
    consumer is being polled is dropped (kafka-python 3.0.12 sends a new JoinGroup,
    which starts another rebalance)."""

    def __init__(self, run, name):
        super().__init__(name=f"member-{name}", daemon=True)
        self.run_, self.member = run, name
        self.stop = threading.Event()
        self.assignment = []
        self.error = None
        self.positions = {}
        self.dirty = set()
        self.consumer = None
        self.ready = threading.Event()

    def commit(self, only=None):
        tps = {tp for tp in self.dirty if only is None or tp in only}
        if not tps:
            return
        try:
            self.consumer.commit({tp: OffsetAndMetadata(self.positions[tp], "", -1)
                                  for tp in tps})
        except (RebalanceInProgressError, CommitFailedError):
            if only is not None:
                raise
            return  # the group is rebalancing: retried after the next poll
        self.dirty -= tps

    def run(self):
        try:
            self._run()
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            self.error = e
        finally:
            self.ready.set()

    def _run(self):
        run, member = self.run_, self

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                try:
                    member.commit(only=set(revoked))
                except Exception as e:  # noqa: BLE001 - checked by the test
                    if not member.stop.is_set():
                        run.revoke_commit_errors.append((member.member, e))
                for tp in revoked:
                    member.positions.pop(tp, None)
                    member.dirty.discard(tp)

            def on_partitions_assigned(self, assigned):
                pass

        self.consumer = c = group_consumer(
            run.brook, run.group, client_id=self.member,
            partition_assignment_strategy=[run.assignor])
        try:
            c.subscribe(run.topics, listener=Listener())
            self.ready.set()
            while not self.stop.is_set():
                for tp, recs in c.poll(timeout_ms=100, max_records=50).items():
                    with run.lock:
                        run.processed.extend((r.topic, r.partition, r.offset, r.value,
                                              self.member) for r in recs)
                    self.positions[tp] = recs[-1].offset + 1
                    self.dirty.add(tp)
                self.commit()
                self.assignment = sorted((tp.topic, tp.partition) for tp in c.assignment())
        finally:
            c.close(autocommit=False)


class GroupRun:
    """Members of one group, each on its own thread (see Member)."""

    def __init__(self, brook, group, topics, assignor):
        self.brook, self.group, self.topics, self.assignor = brook, group, topics, assignor
        self.members = {}
        self.processed = []  # (topic, partition, offset, value, member)
        self.lock = threading.Lock()
        self.revoke_commit_errors = []

    def join(self, name):
        m = Member(self, name)
        m.start()
        assert m.ready.wait(TIMEOUT_S) and m.error is None, m.error
        self.members[name] = m

    def leave(self, name):
        m = self.members.pop(name)
        m.stop.set()
        m.join(TIMEOUT_S)
        assert not m.is_alive(), f"{name} did not stop"
        if m.error:
            raise m.error

    def check(self):
        for m in self.members.values():
            if m.error:
                raise m.error

    def assignments(self):
        return {name: m.assignment for name, m in self.members.items()}

    def uncommitted(self):
        return {name: m.dirty for name, m in self.members.items() if m.dirty}

    def run_until(self, total, partitions, sizes, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            self.check()
            a = self.assignments()
            assigned = sorted(tp for tps in a.values() for tp in tps)
            with self.lock:
                done = len(self.processed)
            if (done >= total and assigned == sorted(partitions)
                    and sorted(len(tps) for tps in a.values()) == sorted(sizes)):
                return a
            assert time.monotonic() < deadline, f"processed {done}/{total}, assignments {a}"
            time.sleep(0.01)

    def close(self):
        errors = []
        for name in sorted(self.members):
            try:
                self.leave(name)
            except Exception as e:  # noqa: BLE001 - stop the others all the same
                errors.append(e)
        if errors:
            raise errors[0]


ASSIGNORS = ["range", "roundrobin", "sticky", "cooperative-sticky"]


def assignor_class(name):
    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
    return {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor,
            "sticky": StickyPartitionAssignor,
            "cooperative-sticky": CooperativeStickyAssignor}[name]


def leave_and_join_scenario(brook, assignor, partitions, sizes):
    """Three members share `partitions` ((topic, partition) pairs, 50 records each);
    one leaves, one joins, 50 more records each; every record is processed exactly
    once and the committed offsets are at the end. `sizes`: the assignment sizes
    with three members and with two."""
    p = producer(brook)

    def produce_wave(wave):
        for topic, part in partitions:
            send_all(p, topic, [{"value": f"{wave}-{topic}-{part}-{i}".encode()}
                                for i in range(50)], partition=part)

    produce_wave(1)
    topics = sorted({t for t, _ in partitions})
    run = GroupRun(brook, f"workers-{assignor}", topics, assignor_class(assignor))
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
        deadline = time.monotonic() + TIMEOUT_S
        while run.uncommitted():
            assert time.monotonic() < deadline, f"uncommitted: {run.uncommitted()}"
            time.sleep(0.01)
        assert run.revoke_commit_errors == []
    finally:
        run.close()
        p.close()
    c = group_consumer(brook, f"workers-{assignor}")
    try:
        assert [c.committed(TopicPartition(t, pt)) for t, pt in partitions] == [
            100] * len(partitions)
    finally:
        c.close(autocommit=False)


@pytest.mark.groups
@pytest.mark.admin
@pytest.mark.parametrize("assignor", ASSIGNORS)
def test_group_members_leave_and_join_on_a_multi_partition_topic(kafka_brook, assignor):
    admin = KafkaAdminClient(bootstrap_servers=kafka_brook.bootstrap)
    try:
        admin.create_topics({"work": {"num_partitions": 6, "replication_factor": 1}},
                            timeout_ms=TIMEOUT_MS)
    finally:
        admin.close()
    leave_and_join_scenario(kafka_brook, assignor, [("work", p) for p in range(6)],
                            ([2, 2, 2], [3, 3]))


@pytest.mark.groups
@pytest.mark.parametrize("assignor", ASSIGNORS)
def test_group_members_leave_and_join_on_six_topics(kafka_brook, assignor):
    """The same over six single-partition topics (auto-created): no CreateTopics
    needed. `range` assigns per topic, so one member gets all six."""
    sizes = ([0, 0, 6], [0, 6]) if assignor == "range" else ([2, 2, 2], [3, 3])
    leave_and_join_scenario(kafka_brook, assignor, [(f"work{i}", 0) for i in range(6)],
                            sizes)
