"""Fixtures: a fresh `brook server` per test, on random ports, in a temp dir.

`brook.port` is the RESP port, `brook.kafka_port` the Kafka one (None against Redis).

BROOK_BIN names the binary (default: target/debug/brook in the repository).
With BROOK_IT_REDIS_SERVER=/usr/bin/redis-server the same tests run against a real
Redis instead, to check that what they expect is what Redis answers (the Kafka tests
skip themselves then).

Fixtures:
- `brook`: a running server (RESP at `host:port`, Kafka at `bootstrap`).
- `brook_factory`: `start(*args, env=None)` for a server with extra flags/env, and
  `restart(server, kill=False)` to stop one (SIGTERM, or SIGKILL with `kill=True`) and
  start it again on the same data directory (new ports).
- `kafka_brook`: like `brook`, skipped in Redis cross-check mode.

Every server a test started is stopped when the test ends (SIGTERM, then SIGKILL after
a timeout), whether the test passed or not; a server that was SIGTERM'd must exit 0.

Markers (`-m groups`, `-m "not groups"`, ...): `groups` (Kafka consumer groups:
FindCoordinator, Join/Sync/Heartbeat/LeaveGroup, OffsetCommit/OffsetFetch),
`idempotence` (InitProducerId and sequence numbers), `admin` (CreateTopics and other
admin APIs).
"""

import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 15
LISTENING = re.compile(r"listening protocol=(\w+) addr=(\S+):(\d+)")
READY = "server ready"
# How long a new consumer group waits for more members before its first rebalance
# (Kafka's group.initial.rebalance.delay.ms, 3 s by default). Tests pass this to the
# server when its `--help` offers such a flag, to keep group tests fast.
GROUP_INITIAL_REBALANCE_DELAY_MS = 100
_DELAY_FLAG = re.compile(r"(--(?:kafka-)?group-initial-rebalance-delay[\w-]*)\s+<([^>]+)>")


def pytest_configure(config):
    for name, what in [
        ("groups", "Kafka consumer groups (Join/Sync/Heartbeat, OffsetCommit/Fetch)"),
        ("idempotence", "Kafka idempotent producer (InitProducerId)"),
        ("admin", "Kafka admin APIs (CreateTopics, ...)"),
    ]:
        config.addinivalue_line("markers", f"{name}: needs {what}")


def brook_binary():
    binary = Path(os.environ.get("BROOK_BIN", "target/debug/brook"))
    if not binary.is_absolute():
        binary = REPO / binary
    assert binary.exists(), f"{binary} not found: build it with `cargo build -p brook`"
    return binary


@lru_cache(maxsize=None)
def default_server_args(binary):
    """Flags every test server gets beyond the listeners: the group rebalance delay,
    if this build has the flag (its value in ms, or as a duration `100ms`)."""
    help_text = subprocess.run(
        [binary, "server", "--help"], capture_output=True, text=True, timeout=30,
    ).stdout
    m = _DELAY_FLAG.search(help_text)
    if not m:
        return ()
    flag, placeholder = m.groups()
    value = str(GROUP_INITIAL_REBALANCE_DELAY_MS)
    if placeholder.upper() not in ("MS", "MILLIS", "MILLISECONDS", "N"):
        value += "ms"
    return (flag, value)


class Brook:
    """One running server: RESP at (host, port), Kafka at bootstrap."""

    def __init__(self, proc, addrs, log_lines, data_dir, args, env):
        self.proc = proc
        self.host, self.port = addrs["resp"]
        kafka = addrs.get("kafka")
        self.kafka_host, self.kafka_port = kafka if kafka else (None, None)
        self.bootstrap = f"{kafka[0]}:{kafka[1]}" if kafka else None
        self.log_lines = log_lines
        self.data_dir = data_dir
        self.args = args
        self.env = env
        self.expect_clean_exit = True

    def log(self):
        return "\n".join(self.log_lines)

    def wait_for_log(self, pattern, timeout=STARTUP_TIMEOUT_S):
        """The first log line matching the regex `pattern`, waiting for it."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            for line in list(self.log_lines):
                if rx.search(line):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no log line matching {pattern!r}; log:\n{self.log()}")
            time.sleep(0.01)


def _drain(stream, lines, events):
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace").rstrip("\n")
        lines.append(line)
        m = LISTENING.search(line)
        if m:
            events.put((m.group(1), (m.group(2), int(m.group(3)))))
        elif READY in line:
            events.put(("ready", None))
    events.put(None)


def _stop(proc, kill=False):
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(timeout=STARTUP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STARTUP_TIMEOUT_S)


def _start_redis(binary, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.01)
    return Brook(proc, {"resp": ("127.0.0.1", port)}, [], tmp_path, (), None)


class BrookFactory:
    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.servers = []

    def start(self, *args, env=None, data_dir=None):
        binary = brook_binary()
        data_dir = data_dir or self.tmp_path / "data"
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("BROOK_")}
        child_env["RUST_LOG"] = "info"
        child_env.update(env or {})
        argv = [str(binary), "server", "--data-dir", str(data_dir),
                "--resp-listen", "127.0.0.1:0", "--kafka-listen", "127.0.0.1:0",
                "--http-listen", "off", *default_server_args(binary), *args]
        proc = subprocess.Popen(
            argv, cwd=self.tmp_path, env=child_env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        lines, events = [], queue.Queue()
        threading.Thread(target=_drain, args=(proc.stderr, lines, events),
                         daemon=True).start()
        addrs, ready = {}, False
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not ready:
            try:
                event = events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                event = None
            if event is None:
                _stop(proc)
                pytest.fail("brook did not get ready; log:\n" + "\n".join(lines))
            kind, addr = event
            if kind == "ready":
                ready = True
            else:
                addrs[kind] = addr
        if "resp" not in addrs:
            _stop(proc)
            pytest.fail("brook did not log its RESP address; log:\n" + "\n".join(lines))
        server = Brook(proc, addrs, lines, data_dir, args, env)
        self.servers.append(server)
        return server

    def stop(self, server, kill=False):
        """Stops `server` (SIGTERM, which must exit 0, or SIGKILL)."""
        _stop(server.proc, kill=kill)
        if kill:
            server.expect_clean_exit = False
        else:
            assert server.proc.returncode == 0, (
                f"brook exited with {server.proc.returncode}; log:\n{server.log()}")

    def restart(self, server, kill=False):
        """Stops `server` and starts a new one on its data directory and flags."""
        self.stop(server, kill=kill)
        return self.start(*server.args, env=server.env, data_dir=server.data_dir)

    def close(self):
        failures = []
        for server in self.servers:
            _stop(server.proc)
            if server.expect_clean_exit and server.proc.returncode != 0:
                failures.append(f"brook exited with {server.proc.returncode}; log:\n"
                                f"{server.log()}")
        assert not failures, "\n\n".join(failures)


@pytest.fixture
def brook_factory(tmp_path):
    if os.environ.get("BROOK_IT_REDIS_SERVER"):
        pytest.skip("needs brook (Kafka front end), not redis-server")
    factory = BrookFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def brook(tmp_path):
    redis_server = os.environ.get("BROOK_IT_REDIS_SERVER")
    if redis_server:
        server = _start_redis(redis_server, tmp_path)
        yield server
        _stop(server.proc)
        return
    factory = BrookFactory(tmp_path)
    try:
        yield factory.start()
    finally:
        factory.close()


@pytest.fixture
def kafka_brook(brook_factory):
    server = brook_factory.start()
    assert server.bootstrap, "brook did not log its Kafka address; log:\n" + server.log()
    return server
