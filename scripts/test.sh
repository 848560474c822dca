#!/usr/bin/env bash
# Runs every check and test. Installs what the tests need first, so it works on a
# fresh machine that has only Rust, gcc, Python 3.11 and Node 20.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "install test dependencies"
./scripts/install-test-deps.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "benchmark smoke run (builds and runs each bench briefly; numbers are not judged here)"
if [ -x bench/log-append.sh ]; then
  bench/log-append.sh --quick
fi
if [ -x bench/resp-vs-redis.sh ]; then
  bench/resp-vs-redis.sh --quick
fi

echo
echo "all checks passed"
