#!/usr/bin/env bash
# Runs every check and test. Installs what the tests need first, so it works on a
# fresh machine that has only Rust, gcc, Python 3.11 and Node 20.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "install test dependencies"
# redis-tools: redis-cli, used by the Python tests; kcat (librdkafka): the Kafka tests.
./scripts/install-test-deps.sh redis-tools kcat
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv || {
    ./scripts/install-test-deps.sh python3-venv
    python3 -m venv --clear .venv
  }
fi
.venv/bin/pip install -q --disable-pip-version-check -r tests/python/requirements.txt
# kafkajs, ioredis and node-redis for the Node tests, exactly as pinned by
# tests/node/package-lock.json.
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "Python client tests (redis-py, redis-cli, confluent-kafka, kafka-python) against the debug brook binary"
cargo build -p brook --locked
BROOK_BIN="$(realpath "${CARGO_TARGET_DIR:-target}")/debug/brook"
export BROOK_BIN
.venv/bin/pytest -q tests/python

step "Node client tests (kafkajs, ioredis, node-redis) against the debug brook binary"
node --test tests/node/

step "benchmark smoke run (builds and runs each bench briefly; numbers are not judged here)"
bench/log-append.sh --quick
bench/startup.sh --quick
bench/resp-vs-redis.sh --quick
bench/kafka.sh --quick

echo
echo "all checks passed"
