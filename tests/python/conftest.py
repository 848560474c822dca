"""Fixtures: a fresh `brook server` per test, on random ports, in a temp dir.

`brook.port` is the RESP port, `brook.kafka_port` the Kafka one (None against Redis).

BROOK_BIN names the binary (default: target/debug/brook in the repository).
With BROOK_IT_REDIS_SERVER=/usr/bin/redis-server the same tests run against a real
Redis instead, to check that what they expect is what Redis answers.
"""

import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 15
LISTENING = re.compile(r"listening protocol=resp addr=(\S+):(\d+)")
KAFKA_LISTENING = re.compile(r"listening protocol=kafka addr=(\S+):(\d+)")


class Brook:
    def __init__(self, proc, host, port, log_lines, kafka_port=None):
        self.proc = proc
        self.host = host
        self.port = port
        self.log_lines = log_lines
        # The Kafka listener's port (None against a real Redis).
        self.kafka_port = kafka_port

    def log(self):
        return "\n".join(self.log_lines)


def _drain(stream, lines, found, kafka_found):
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace").rstrip("\n")
        lines.append(line)
        m = LISTENING.search(line)
        if m:
            found.put((m.group(1), int(m.group(2))))
        m = KAFKA_LISTENING.search(line)
        if m:
            kafka_found.put(int(m.group(2)))
    found.put(None)
    kafka_found.put(None)


def _stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
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
    return Brook(proc, "127.0.0.1", port, [])


@pytest.fixture
def brook(tmp_path):
    redis_server = os.environ.get("BROOK_IT_REDIS_SERVER")
    if redis_server:
        server = _start_redis(redis_server, tmp_path)
        yield server
        _stop(server.proc)
        return
    binary = Path(os.environ.get("BROOK_BIN", "target/debug/brook"))
    if not binary.is_absolute():
        binary = REPO / binary
    assert binary.exists(), f"{binary} not found: build it with `cargo build -p brook`"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BROOK_")}
    env["RUST_LOG"] = "info"
    proc = subprocess.Popen(
        [str(binary), "server", "--data-dir", str(tmp_path / "data"),
         "--resp-listen", "127.0.0.1:0", "--kafka-listen", "127.0.0.1:0", "--http-listen", "off"],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    lines, found, kafka_found = [], queue.Queue(), queue.Queue()
    threading.Thread(
        target=_drain, args=(proc.stderr, lines, found, kafka_found), daemon=True
    ).start()
    try:
        addr = found.get(timeout=STARTUP_TIMEOUT_S)
        kafka_port = kafka_found.get(timeout=STARTUP_TIMEOUT_S)
    except queue.Empty:
        addr = kafka_port = None
    if addr is None or kafka_port is None:
        _stop(proc)
        pytest.fail("brook did not log its RESP and Kafka addresses; log:\n" + "\n".join(lines))
    server = Brook(proc, addr[0], addr[1], lines, kafka_port)
    yield server
    _stop(proc)
    assert proc.returncode == 0, f"brook exited with {proc.returncode}; log:\n{server.log()}"
