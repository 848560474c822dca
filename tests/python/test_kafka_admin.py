"""Kafka admin APIs through confluent-kafka's AdminClient (librdkafka).

Each test gets a fresh server (the `brook` fixture). The same topics are checked
from redis-py where Redis clients see them (partition N of a topic is the stream `name#N`).
"""

import warnings

import pytest
import redis
from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

TIMEOUT_S = 15


@pytest.fixture
def kafka(brook):
    if brook.kafka_port is None:
        pytest.skip("Kafka tests run against brook only")
    return f"127.0.0.1:{brook.kafka_port}"


@pytest.fixture
def admin(kafka):
    return AdminClient({"bootstrap.servers": kafka})


def result(futures):
    """Waits for every future; returns their results by key."""
    return {k: f.result(timeout=TIMEOUT_S) for k, f in futures.items()}


def error_of(future):
    with pytest.raises(KafkaException) as e:
        future.result(timeout=TIMEOUT_S)
    return e.value.args[0]


def produce(kafka, topic, partition, values):
    p = Producer({"bootstrap.servers": kafka, "acks": "all"})
    for v in values:
        p.produce(topic, value=v, partition=partition, timestamp=v_timestamp(v))
    assert p.flush(TIMEOUT_S) == 0


def v_timestamp(value):
    """Records carry their number as the timestamp offset: b"7" -> base + 7."""
    return 1_700_000_000_000 + int(value)


def legacy_alter_configs(admin, resources):
    """AlterConfigs (the non-incremental API), which Brook serves and the client deprecates."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return admin.alter_configs(resources)


def topic_configs(admin, name):
    res = ConfigResource(ResourceType.TOPIC, name)
    return result(admin.describe_configs([res]))[res]


def test_create_topics_with_configs_and_errors(admin):
    futures = admin.create_topics(
        [
            NewTopic("orders", num_partitions=3, replication_factor=1,
                     config={"retention.ms": "86400000", "brook.fsync": "never"}),
            NewTopic("events_raw", num_partitions=-1, replication_factor=-1),
        ],
        operation_timeout=10,
    )
    result(futures)
    md = admin.list_topics(timeout=TIMEOUT_S)
    assert len(md.topics["orders"].partitions) == 3
    assert len(md.topics["events_raw"].partitions) == 1

    failures = admin.create_topics([
        NewTopic("orders", 1, 1),
        NewTopic("replicated", 1, 3),
        NewTopic("compacted", 1, 1, config={"cleanup.policy": "compact"}),
        NewTopic("bad name", 1, 1),
        NewTopic("zero", 0, 1),
        NewTopic("unknown-config", 1, 1, config={"flush.messages": "1"}),
    ])
    codes = {t: error_of(f).code() for t, f in failures.items()}
    assert codes == {
        "orders": KafkaError.TOPIC_ALREADY_EXISTS,
        "replicated": KafkaError.INVALID_REPLICATION_FACTOR,
        "compacted": KafkaError.INVALID_CONFIG,
        "bad name": KafkaError.TOPIC_EXCEPTION,
        "zero": KafkaError.INVALID_PARTITIONS,
        "unknown-config": KafkaError.INVALID_CONFIG,
    }
    assert "does not compact" in error_of(admin.create_topics(
        [NewTopic("compacted", 1, 1, config={"cleanup.policy": "compact"})])["compacted"]).str()
    assert "larger than available brokers: 1" in error_of(
        admin.create_topics([NewTopic("replicated", 1, 3)])["replicated"]).str()

    # validate_only creates nothing.
    result(admin.create_topics([NewTopic("dry", 2, 1)], validate_only=True))
    assert "dry" not in admin.list_topics(timeout=TIMEOUT_S).topics


def test_describe_and_alter_topic_configs(admin):
    result(admin.create_topics([NewTopic("t", 1, 1, config={"retention.ms": "60000"})]))
    configs = topic_configs(admin, "t")
    assert set(configs) == {
        "brook.fsync", "brook.retention.records", "cleanup.policy", "max.message.bytes",
        "retention.bytes", "retention.ms", "segment.bytes",
    }
    retention = configs["retention.ms"]
    assert retention.value == "60000"
    assert retention.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert not retention.is_default
    assert configs["segment.bytes"].is_default
    assert configs["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value
    assert configs["cleanup.policy"].value == "delete"
    assert configs["brook.fsync"].value == "always"

    # Incremental: SET and DELETE touch only the named configs.
    res = ConfigResource(ResourceType.TOPIC, "t", incremental_configs=[
        ConfigEntry("brook.fsync", "everysec", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("retention.bytes", "1048576", incremental_operation=AlterConfigOpType.SET),
    ])
    result(admin.incremental_alter_configs([res]))
    configs = topic_configs(admin, "t")
    assert configs["brook.fsync"].value == "1000ms"
    assert configs["retention.bytes"].value == "1048576"
    assert configs["retention.ms"].value == "60000"
    res = ConfigResource(ResourceType.TOPIC, "t", incremental_configs=[
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
    ])
    result(admin.incremental_alter_configs([res]))
    configs = topic_configs(admin, "t")
    assert configs["retention.ms"].value == "-1" and configs["retention.ms"].is_default
    assert configs["retention.bytes"].value == "1048576"

    # APPEND "compact" to the list config: refused with a reason.
    res = ConfigResource(ResourceType.TOPIC, "t", incremental_configs=[
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
    ])
    err = error_of(admin.incremental_alter_configs([res])[res])
    assert err.code() == KafkaError.INVALID_CONFIG and "does not compact" in err.str()

    # The legacy alter_configs replaces the whole set.
    res = ConfigResource(ResourceType.TOPIC, "t", set_config={"segment.bytes": "1048576"})
    result(legacy_alter_configs(admin, [res]))
    configs = topic_configs(admin, "t")
    assert configs["segment.bytes"].value == "1048576"
    assert configs["retention.bytes"].is_default
    assert configs["brook.fsync"].is_default

    res = ConfigResource(ResourceType.TOPIC, "t", set_config={"segment.bytes": "12"})
    err = error_of(legacy_alter_configs(admin, [res])[res])
    assert err.code() == KafkaError.INVALID_CONFIG and "segment.bytes" in err.str()

    res = ConfigResource(ResourceType.TOPIC, "missing")
    assert error_of(admin.describe_configs([res])[res]).code() == \
        KafkaError.UNKNOWN_TOPIC_OR_PART


def test_broker_configs_are_read_only(admin):
    res = ConfigResource(ResourceType.BROKER, "0")
    configs = result(admin.describe_configs([res]))[res]
    assert configs["broker.id"].value == "0"
    assert configs["log.cleanup.policy"].value == "delete"
    assert all(c.is_read_only for c in configs.values())
    res = ConfigResource(ResourceType.BROKER, "0", set_config={"log.retention.ms": "1"})
    err = error_of(legacy_alter_configs(admin, [res])[res])
    assert err.code() == KafkaError.INVALID_REQUEST and "read-only" in err.str()


def test_create_partitions_grows_and_never_shrinks(admin, kafka, brook):
    result(admin.create_topics([NewTopic("grow", 1, 1)]))
    result(admin.create_partitions([NewPartitions("grow", 4)], validate_only=True))
    assert len(admin.list_topics("grow", timeout=TIMEOUT_S).topics["grow"].partitions) == 1
    result(admin.create_partitions([NewPartitions("grow", 4)]))
    assert len(admin.list_topics("grow", timeout=TIMEOUT_S).topics["grow"].partitions) == 4
    produce(kafka, "grow", 3, [b"1", b"2"])
    err = error_of(admin.create_partitions([NewPartitions("grow", 2)])["grow"])
    assert err.code() == KafkaError.INVALID_PARTITIONS
    assert "higher than the requested 2" in err.str()
    err = error_of(admin.create_partitions([NewPartitions("nope", 2)])["nope"])
    assert err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    # Redis clients see each partition as a stream of its own, `grow#N`.
    r = redis.Redis(host=brook.host, port=brook.port)
    assert [r.xlen(f"grow#{i}") for i in range(4)] == [0, 0, 0, 2]
    with pytest.raises(redis.exceptions.ResponseError, match="grow is a topic with 4 partitions"):
        r.xlen("grow")


def test_delete_records_moves_the_start_redis_sees_too(admin, kafka, brook):
    result(admin.create_topics([NewTopic("log", 2, 1)]))
    produce(kafka, "log", 0, [str(i).encode() for i in range(10)])
    done = result(admin.delete_records([TopicPartition("log", 0, 4)]))
    assert done[TopicPartition("log", 0, 4)].low_watermark == 4
    r = redis.Redis(host=brook.host, port=brook.port)
    assert r.xlen("log#0") == 6
    assert r.xrange("log#0", count=1)[0][1][b"value"] == b"4"
    offsets = result(admin.list_offsets({TopicPartition("log", 0): OffsetSpec.earliest()}))
    assert offsets[TopicPartition("log", 0)].offset == 4
    err = error_of(admin.delete_records([TopicPartition("log", 0, 11)])[TopicPartition("log", 0, 11)])
    assert err.code() == KafkaError.OFFSET_OUT_OF_RANGE
    # -1 (OFFSET_END): everything up to the high watermark.
    done = result(admin.delete_records([TopicPartition("log", 0, -1)]))
    assert list(done.values())[0].low_watermark == 10
    assert r.xlen("log#0") == 0


def test_list_offsets_specs(admin, kafka):
    result(admin.create_topics([NewTopic("ts", 1, 1)]))
    # Timestamps base+3, base+9, base+1: the largest is at offset 1.
    produce(kafka, "ts", 0, [b"3", b"9", b"1"])
    tp = TopicPartition("ts", 0)
    got = {
        name: result(admin.list_offsets({tp: spec}))[tp]
        for name, spec in [
            ("earliest", OffsetSpec.earliest()),
            ("latest", OffsetSpec.latest()),
            ("max", OffsetSpec.max_timestamp()),
            ("at", OffsetSpec.for_timestamp(v_timestamp(b"5"))),
        ]
    }
    assert got["earliest"].offset == 0
    assert got["latest"].offset == 3
    assert (got["max"].offset, got["max"].timestamp) == (1, v_timestamp(b"9"))
    assert got["at"].offset == 1


def test_describe_cluster_and_delete_topics(admin, brook):
    cluster = admin.describe_cluster().result(timeout=TIMEOUT_S)
    assert cluster.cluster_id == "brook"
    assert cluster.controller.id == 0
    assert [(n.id, n.port) for n in cluster.nodes] == [(0, brook.kafka_port)]

    result(admin.create_topics([NewTopic("gone", 2, 1), NewTopic("kept", 1, 1)]))
    result(admin.delete_topics(["gone"], operation_timeout=10))
    topics = admin.list_topics(timeout=TIMEOUT_S).topics
    assert "gone" not in topics and "kept" in topics
    err = error_of(admin.delete_topics(["gone"])["gone"])
    assert err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    r = redis.Redis(host=brook.host, port=brook.port)
    assert r.exists("gone") == 0 and r.exists("kept") == 1
