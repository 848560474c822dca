"""Brook through redis-py and redis-cli, the way Python users and operators use it.

Expected values are what Redis 7 answers (run with BROOK_IT_REDIS_SERVER=... to check).
"""

import shutil
import subprocess
import threading
import time

import pytest
import redis

TIMEOUT_S = 15


def client(brook, **kwargs):
    return redis.Redis(
        host=brook.host, port=brook.port, socket_timeout=TIMEOUT_S,
        socket_connect_timeout=TIMEOUT_S, **kwargs,
    )


def test_xadd_xrange_xrevrange_xlen(brook):
    r = client(brook)
    assert r.xadd("s", {"f": "v1"}, id="1-1") == b"1-1"
    binary = b"\x00\xff\r\n bin"
    assert r.xadd("s", {"f": binary}, id="2-1") == b"2-1"
    assert r.xadd("s", {"a": "1", "b": "2"}, id="3-1") == b"3-1"
    assert r.xadd("s", {"f": "v4"}, id="4-*") == b"4-0"
    assert r.xlen("s") == 4
    assert r.xrange("s") == [
        (b"1-1", {b"f": b"v1"}),
        (b"2-1", {b"f": binary}),
        (b"3-1", {b"a": b"1", b"b": b"2"}),
        (b"4-0", {b"f": b"v4"}),
    ]
    assert [e[0] for e in r.xrange("s", min="(1-1", max="+", count=2)] == [b"2-1", b"3-1"]
    assert [e[0] for e in r.xrange("s", min="2", max="(4-0")] == [b"2-1", b"3-1"]
    assert [e[0] for e in r.xrevrange("s", count=2)] == [b"4-0", b"3-1"]
    assert [e[0] for e in r.xrevrange("s", max="(4-0", min="(1-1")] == [b"3-1", b"2-1"]
    assert r.xrange("missing") == []
    assert r.xlen("missing") == 0
    # Auto IDs are after the explicit ones and increase.
    a = r.xadd("s", {"x": "1"})
    b = r.xadd("s", {"x": "2"})
    assert tuple(map(int, a.split(b"-"))) < tuple(map(int, b.split(b"-")))
    assert r.xadd("missing", {"x": "1"}, nomkstream=True) is None
    assert r.exists("missing") == 0


def test_xadd_errors(brook):
    r = client(brook)
    r.xadd("s", {"f": "v"}, id="5-5")
    with pytest.raises(redis.ResponseError) as e:
        r.xadd("s", {"f": "v"}, id="5-5")
    assert str(e.value) == (
        "The ID specified in XADD is equal or smaller than the target stream top item")
    with pytest.raises(redis.ResponseError) as e:
        r.xadd("t", {"f": "v"}, id="0-0")
    assert str(e.value) == "The ID specified in XADD must be greater than 0-0"
    with pytest.raises(redis.ResponseError) as e:
        r.xadd("t", {"f": "v"}, id="nope")
    assert str(e.value) == "Invalid stream ID specified as stream command argument"


def test_xdel_xtrim_and_xinfo_stream(brook):
    r = client(brook)
    for i in range(1, 11):
        r.xadd("s", {"i": str(i)}, id=f"{i}-0")
    assert r.xdel("s", "2-0", "3-0", "99-0") == 2
    assert r.xlen("s") == 8
    assert r.xtrim("s", maxlen=6, approximate=False) == 2
    assert [e[0] for e in r.xrange("s")] == [b"5-0", b"6-0", b"7-0", b"8-0", b"9-0", b"10-0"]
    assert r.xtrim("s", minid="8-0", approximate=False) == 3
    assert [e[0] for e in r.xrange("s")] == [b"8-0", b"9-0", b"10-0"]
    # `~` may keep more than asked for, never fewer.
    r.xtrim("s", maxlen=1, approximate=True)
    assert 1 <= r.xlen("s") <= 3
    r.xadd("s", {"i": "11"}, id="11-0", maxlen=2, approximate=False)
    assert [e[0] for e in r.xrange("s")] == [b"10-0", b"11-0"]

    info = r.xinfo_stream("s")
    assert info["length"] == 2
    assert info["last-generated-id"] == b"11-0"
    assert info["entries-added"] == 11
    assert info["recorded-first-entry-id"] == b"10-0"
    assert info["groups"] == 0
    assert info["first-entry"] == (b"10-0", {b"i": b"10"})
    assert info["last-entry"] == (b"11-0", {b"i": b"11"})
    with pytest.raises(redis.ResponseError, match="^no such key$"):
        r.xinfo_stream("missing")


def test_xinfo_stream_full(brook):
    r = client(brook)
    r.xadd("s", {"a": "1"}, id="1-1")
    r.xadd("s", {"b": "2"}, id="2-1")
    info = r.xinfo_stream("s", full=True)
    assert info["entries"] == {b"1-1": {b"a": b"1"}, b"2-1": {b"b": b"2"}}
    assert info["groups"] == []


def test_xread_and_xread_block_woken_by_another_client(brook):
    r = client(brook)
    r.xadd("s", {"old": "1"}, id="1-1")
    assert r.xread({"s": "0"}) == [[b"s", [(b"1-1", {b"old": b"1"})]]]
    assert r.xread({"s": "1-1"}) == []
    assert r.xread({"s": "$"}, block=50) == []

    result, woke = {}, threading.Event()

    def reader():
        result["reply"] = client(brook).xread({"s": "$", "new": "$"}, block=10_000)
        result["at"] = time.monotonic()
        woke.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    deadline = time.monotonic() + TIMEOUT_S
    while r.info("clients")["blocked_clients"] != 1:
        assert time.monotonic() < deadline, "reader never blocked"
        time.sleep(0.01)
    r.xadd("new", {"k": "v"}, id="9-9")
    added = time.monotonic()
    assert woke.wait(TIMEOUT_S), "XREAD BLOCK was not woken"
    assert result["reply"] == [[b"new", [(b"9-9", {b"k": b"v"})]]]
    assert result["at"] - added < 1.0, "woken by the timeout, not by XADD"


def test_pipelines_with_and_without_transaction(brook):
    r = client(brook)
    with r.pipeline(transaction=True) as p:
        p.xadd("s", {"n": "1"}, id="1-1").xadd("s", {"n": "2"}, id="2-1").xlen("s")
        assert p.execute() == [b"1-1", b"2-1", 2]
    with r.pipeline(transaction=False) as p:
        for i in range(3, 103):
            p.xadd("s", {"n": str(i)}, id=f"{i}-1")
        p.xlen("s")
        replies = p.execute()
    assert replies[:2] == [b"3-1", b"4-1"]
    assert replies[-1] == 102
    # A failing command inside MULTI/EXEC: the others still run.
    with r.pipeline(transaction=True) as p:
        p.xadd("s", {"n": "x"}, id="1-1").xadd("s", {"n": "y"}, id="200-1")
        replies = p.execute(raise_on_error=False)
    assert isinstance(replies[0], redis.ResponseError)
    assert replies[1] == b"200-1"
    # WATCH: a change by another client aborts the transaction.
    other = client(brook)
    with r.pipeline(transaction=True) as p:
        p.watch("s")
        other.xadd("s", {"n": "other"}, id="300-1")
        p.multi()
        p.xadd("s", {"n": "mine"}, id="400-1")
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.xrevrange("s", count=1)[0][0] == b"300-1"


def test_resp3(brook):
    r = client(brook, protocol=3)
    assert r.ping() is True
    assert r.xadd("s", {"a": "1"}, id="1-1") == b"1-1"
    assert r.xadd("s", {"b": "2"}, id="2-1") == b"2-1"
    assert r.xread({"s": "0"}) == {b"s": [[(b"1-1", {b"a": b"1"}), (b"2-1", {b"b": b"2"})]]}
    assert r.xread({"s": "$"}, block=20) == {}
    assert r.xread({"missing": "0"}) == {}
    assert r.xrange("s", min="(1-1") == [(b"2-1", {b"b": b"2"})]
    info = r.xinfo_stream("s")
    assert info["length"] == 2
    assert info["first-entry"] == (b"1-1", {b"a": b"1"})
    assert r.client_getname() is None
    assert r.config_get("save") == {"save": ""}
    hello = r.execute_command("HELLO", "3")
    assert hello[b"proto"] == 3
    assert hello[b"server"] == b"redis"
    with r.pipeline(transaction=True) as p:
        p.xadd("s", {"c": "3"}, id="3-1").xlen("s")
        assert p.execute() == [b"3-1", 3]


def test_select_keys_type_and_rename(brook):
    r0 = client(brook)
    r1 = client(brook, db=1)
    r0.xadd("k", {"db": "0"}, id="1-1")
    r1.xadd("k", {"db": "1"}, id="1-1")
    assert r0.xrange("k")[0][1] == {b"db": b"0"}
    assert r1.xrange("k")[0][1] == {b"db": b"1"}
    assert r0.type("k") == b"stream"
    assert r0.type("nope") == b"none"
    assert r0.rename("k", "k2") is True
    assert r0.keys("*") == [b"k2"]
    assert r1.keys("*") == [b"k"]
    assert sorted(r0.scan_iter(match="k*", _type="stream")) == [b"k2"]
    assert r0.delete("k2", "nope") == 1
    assert r0.dbsize() == 0
    assert r1.dbsize() == 1


def redis_cli(brook, *args, stdin=None):
    cli = shutil.which("redis-cli")
    assert cli, "redis-cli not installed (scripts/install-test-deps.sh redis-tools)"
    return subprocess.run(
        [cli, "-h", brook.host, "-p", str(brook.port), *args], input=stdin,
        capture_output=True, timeout=TIMEOUT_S * 4, check=True,
    )


def test_redis_cli_xadd_xrange(brook):
    assert redis_cli(brook, "XADD", "cli", "1-1", "field", "hello world").stdout == b"1-1\n"
    assert redis_cli(brook, "XADD", "cli", "2-1", "f2", "v2").stdout == b"2-1\n"
    out = redis_cli(brook, "XRANGE", "cli", "-", "+").stdout
    assert out == b"1-1\nfield\nhello world\n2-1\nf2\nv2\n"
    out = redis_cli(brook, "--no-raw", "XRANGE", "cli", "-", "(2-1").stdout
    assert out == b'1) 1) "1-1"\n   2) 1) "field"\n      2) "hello world"\n'
    out = redis_cli(brook, "XADD", "cli", "1-1", "f", "v")
    assert out.stdout == (b"ERR The ID specified in XADD is equal or smaller than the "
                          b"target stream top item\n\n")


def test_redis_cli_pipe_mass_insertion_and_info_keyspace(brook):
    n = 10_000
    proto = bytearray()
    for i in range(1, n + 1):
        args = [b"XADD", b"mass", f"{i}-0".encode(), b"n", str(i).encode()]
        proto += b"*%d\r\n" % len(args)
        for a in args:
            proto += b"$%d\r\n%s\r\n" % (len(a), a)
    started = time.monotonic()
    out = redis_cli(brook, "--pipe", stdin=bytes(proto))
    took = time.monotonic() - started
    assert b"errors: 0, replies: 10000" in out.stdout, out.stdout
    r = client(brook)
    assert r.xlen("mass") == n
    assert r.xrange("mass", count=1) == [(b"1-0", {b"n": b"1"})]
    assert r.xrevrange("mass", count=1) == [(b"10000-0", {b"n": b"10000"})]
    assert took < 60, f"--pipe of {n} XADDs took {took:.1f}s"
    r.xadd("other", {"f": "v"}, id="1-1")
    client(brook, db=2).xadd("x", {"f": "v"}, id="1-1")
    out = redis_cli(brook, "INFO", "keyspace").stdout.decode()
    lines = out.replace("\r\n", "\n").strip().split("\n")
    assert lines[0] == "# Keyspace"
    assert lines[1].startswith("db0:keys=2,expires=0,avg_ttl=0"), out
    assert lines[2].startswith("db2:keys=1,expires=0,avg_ttl=0"), out
    assert len(lines) == 3, out


def test_consumer_group_worker_loop(brook):
    """The usual reliable-consumer loop: workers read with XREADGROUP and XACK what they
    processed; a crashed worker's entries are found with XPENDING and taken over with
    XAUTOCLAIM; XINFO shows the group's progress."""
    r = client(brook)
    assert r.xgroup_create("jobs", "workers", id="0", mkstream=True) is True
    with pytest.raises(redis.ResponseError) as e:
        r.xgroup_create("jobs", "workers", id="0")
    assert str(e.value) == "BUSYGROUP Consumer Group name already exists"
    for i in range(10):
        r.xadd("jobs", {"n": str(i)}, id=f"{i + 1}-0")

    # A worker reads three jobs and dies without acknowledging them.
    crashed = r.xreadgroup("workers", "crashy", {"jobs": ">"}, count=3)
    assert [m[0] for m in crashed[0][1]] == [b"1-0", b"2-0", b"3-0"]

    # A healthy worker processes the rest in batches, acknowledging each job.
    done, errors = [], []

    def worker():
        try:
            w = client(brook)
            while len(done) < 7:
                reply = w.xreadgroup("workers", "healthy", {"jobs": ">"}, count=4,
                                     block=TIMEOUT_S * 1000)
                assert reply, "XREADGROUP BLOCK timed out"
                for msg_id, fields in reply[0][1]:
                    done.append(int(fields[b"n"]))
                    assert w.xack("jobs", "workers", msg_id) == 1
        except Exception as exc:  # reported by the main thread
            errors.append(exc)

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    t.join(TIMEOUT_S)
    assert not t.is_alive(), "worker hung"
    assert errors == []
    assert done == list(range(3, 10))

    # What is left is the crashed worker's.
    assert r.xpending("jobs", "workers") == {
        "pending": 3, "min": b"1-0", "max": b"3-0",
        "consumers": [{"name": b"crashy", "pending": 3}],
    }
    # Age them deterministically (XCLAIM IDLE), then find them by idle time.
    assert r.xclaim("jobs", "workers", "crashy", 0, ["1-0", "2-0", "3-0"], idle=60_000,
                    justid=True) == [b"1-0", b"2-0", b"3-0"]
    rows = r.xpending_range("jobs", "workers", min="-", max="+", count=10, idle=30_000)
    assert [(x["message_id"], x["consumer"], x["times_delivered"]) for x in rows] == [
        (b"1-0", b"crashy", 1), (b"2-0", b"crashy", 1), (b"3-0", b"crashy", 1)]
    assert all(60_000 <= x["time_since_delivered"] < 70_000 for x in rows)

    # A rescuer takes them over, two at a time, following the cursor.
    cursor, claimed, deleted = r.xautoclaim("jobs", "workers", "rescuer", 30_000, "0-0",
                                            count=2)
    assert cursor == b"3-0"
    assert claimed == [(b"1-0", {b"n": b"0"}), (b"2-0", {b"n": b"1"})]
    assert deleted == []
    r.xdel("jobs", "3-0")  # one job was cancelled meanwhile
    cursor, claimed, deleted = r.xautoclaim("jobs", "workers", "rescuer", 30_000, cursor)
    assert (cursor, claimed, deleted) == (b"0-0", [], [b"3-0"])
    assert r.xautoclaim("jobs", "workers", "rescuer", 30_000, "0-0") == [b"0-0", [], []]
    rows = r.xpending_range("jobs", "workers", min="-", max="+", count=10)
    assert [(x["message_id"], x["consumer"], x["times_delivered"]) for x in rows] == [
        (b"1-0", b"rescuer", 2), (b"2-0", b"rescuer", 2)]
    assert r.xack("jobs", "workers", "1-0", "2-0", "3-0") == 2

    assert r.xinfo_groups("jobs") == [{
        "name": b"workers", "consumers": 3, "pending": 0, "last-delivered-id": b"10-0",
        "entries-read": 10, "lag": 0,
    }]
    consumers = r.xinfo_consumers("jobs", "workers")
    assert [(c["name"], c["pending"]) for c in consumers] == [
        (b"crashy", 0), (b"healthy", 0), (b"rescuer", 0)]
    assert all(0 <= c["idle"] < TIMEOUT_S * 1000 for c in consumers)
    assert r.xgroup_delconsumer("jobs", "workers", "crashy") == 0
    assert r.xgroup_destroy("jobs", "workers") == 1
    assert r.xinfo_groups("jobs") == []


def test_resp3_xreadgroup(brook):
    r = client(brook, protocol=3)
    assert r.xgroup_create("s", "g", id="$", mkstream=True) is True
    r.xadd("s", {"a": "1"}, id="1-1")
    r.xadd("s", {"b": "2"}, id="2-1")
    r.xadd("t", {"c": "3"}, id="3-1")
    r.xgroup_create("t", "g", id="0")
    # A map from key to entries.
    assert r.xreadgroup("g", "c", {"s": ">"}, count=1) == {b"s": [[(b"1-1", {b"a": b"1"})]]}
    assert r.xreadgroup("g", "c", {"s": ">", "t": ">"}) == {
        b"s": [[(b"2-1", {b"b": b"2"})]], b"t": [[(b"3-1", {b"c": b"3"})]]}
    # Nothing new: null, also after a BLOCK timeout.
    assert r.xreadgroup("g", "c", {"s": ">"}) == {}
    assert r.xreadgroup("g", "c", {"s": ">"}, block=20) == {}
    # History, and a deleted pending entry with a null body.
    r.xdel("s", "2-1")
    assert r.xreadgroup("g", "c", {"s": "0"}) == {
        b"s": [[(b"1-1", {b"a": b"1"}), (b"2-1", {})]]}  # redis-py: null body as {}
    assert r.xreadgroup("g", "other", {"s": "0"}) == {b"s": [[]]}
    assert r.xpending("s", "g") == {
        "pending": 2, "min": b"1-1", "max": b"2-1", "consumers": [{"name": b"c", "pending": 2}]}
    assert r.xack("s", "g", "1-1", "2-1") == 2
    with pytest.raises(redis.ResponseError) as e:
        r.xreadgroup("nog", "c", {"s": ">"})
    assert str(e.value) == (
        "NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option")
