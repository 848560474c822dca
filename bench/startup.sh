#!/usr/bin/env bash
# Start-up time of `brook server` on a large data directory.
#
# Fills a data directory (on the real disk, under ./target/) with GIB GiB of log
# (default 10), then measures the time from starting `brook server` to its
# "server ready" log line:
#   1. after a clean shutdown (every segment has a valid index: no scan);
#   2. after a crash-like exit with an extra 100 MiB in the active segment (which has
#      no index and is checked entry by entry);
# each with a cold page cache if we may drop it (root), else warm. Prints a table next
# to the target: "a 10 GB log must be ready in about a second".
#
# Usage: bench/startup.sh [--quick] [--gib N]   (--quick: 0.25 GiB, for CI smoke runs)
set -euo pipefail
export LC_ALL=C
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

gib=10
tail_mib=100
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) gib=0.25; tail_mib=32 ;;
        --gib) gib="$2"; shift ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

echo "building (release) ..." >&2
cargo build --release --quiet -p brook -p brook-bench-startup
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
brook="$target_dir/release/brook"
fill="$target_dir/release/brook-bench-fill"

mkdir -p target
dir="$(mktemp -d "$repo/target/bench-startup.XXXXXX")"
trap 'rm -rf "$dir"' EXIT

drop_caches() {
    sync
    if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; echo cold; else echo warm; fi
}

# Starts the server, returns milliseconds until "server ready".
time_start() {
    local log="$dir/server.log"
    local t0 t1
    t0=$(date +%s%N)
    "$brook" server --data-dir "$dir/data" --resp-listen 127.0.0.1:0 --kafka-listen off --http-listen off >"$log" 2>&1 &
    local pid=$!
    local deadline=$((SECONDS + 120))
    until grep -q "server ready" "$log"; do
        if ! kill -0 "$pid" 2>/dev/null || [ $SECONDS -gt $deadline ]; then
            echo "server did not become ready:" >&2; cat "$log" >&2; kill -9 "$pid" 2>/dev/null || true; exit 1
        fi
        sleep 0.005
    done
    t1=$(date +%s%N)
    kill -TERM "$pid"; wait "$pid" || true
    echo $(( (t1 - t0) / 1000000 ))
}

echo "filling $gib GiB ..." >&2
"$fill" "$dir/data" "$gib"
size=$(du -sh "$dir/data" | cut -f1)
cache=$(drop_caches)
clean_ms=$(time_start)
"$fill" "$dir/data" 0 --crash-tail "$tail_mib" 2>/dev/null || true
cache2=$(drop_caches)
crash_ms=$(time_start)

printf '\nBrook start-up time (data dir %s, %s)\n' "$size" "$(findmnt -n -o FSTYPE -T "$dir" 2>/dev/null || echo '?')"
printf '%-44s | %8s | %6s\n' "case" "ready in" "cache"
printf -- '---------------------------------------------+----------+-------\n'
printf '%-44s | %6s ms | %6s\n' "clean shutdown, $gib GiB log" "$clean_ms" "$cache"
printf '%-44s | %6s ms | %6s\n' "crash, +$tail_mib MiB unindexed active segment" "$crash_ms" "$cache2"
verdict=PASS; [ "$clean_ms" -le 1500 ] && [ "$crash_ms" -le 1500 ] || verdict=FAIL
echo "$verdict  ready in about a second (<= 1500 ms) for a $gib GiB log"
