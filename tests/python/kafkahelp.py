"""Helpers shared by the Kafka client suites (confluent-kafka and kafka-python)."""

import time

import redis

TIMEOUT_S = 15
# Consumer-group tests: Kafka's minimum session timeout, and heartbeats often enough
# that members notice a rebalance quickly.
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 500


def resp(brook, **kwargs):
    """A redis-py client on the server's RESP port (database 0 unless `db=`)."""
    return redis.Redis(
        host=brook.host, port=brook.port, socket_timeout=TIMEOUT_S,
        socket_connect_timeout=TIMEOUT_S, **kwargs,
    )


def wait_until(condition, what, timeout=TIMEOUT_S, interval=0.01):
    """Calls `condition` until it returns a true value (which is returned), failing
    the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def stream_id_ms(entry_id):
    return int(entry_id.split(b"-")[0])


def kafka_fields(key, value, headers):
    """The fields XRANGE shows for a Kafka record (docs/mapping.md): key, value, then
    one field per header, a null header value as an empty string."""
    fields = []
    if key is not None:
        fields += [b"key", key]
    if value is not None:
        fields += [b"value", value]
    for name, hvalue in headers or []:
        fields += [name.encode(), hvalue if hvalue is not None else b""]
    return fields


def xrange_raw(r, key):
    """XRANGE with the field list as a flat list (redis-py's dict would merge
    repeated header names)."""
    raw = redis.Redis(connection_pool=r.connection_pool)
    raw.set_response_callback("XRANGE", lambda reply, **options: reply)
    return [(entry_id, list(fields))
            for entry_id, fields in raw.execute_command("XRANGE", key, "-", "+")]
