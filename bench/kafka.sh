#!/usr/bin/env bash
# Brook's Kafka front end driven by librdkafka, next to the disk and loopback TCP
# bandwidth measured in the same run.
#
# Builds brook and brook-bench-kafka (bench/kafka-load: librdkafka as built from the
# vendored source by the `rdkafka` crate) in release mode, then, in a fresh directory
# on the disk under test:
#   0. fills the page cache, as on a server that has been up a while (a sparse file
#      of MemTotal bytes read once, about a minute on this VM; see fill_page_cache
#      in bench/lib.sh: on this VM free memory is slow to touch for the first time,
#      which an idle VM would otherwise make dd, Brook and the client pay);
#   1. disk sequential write bandwidth: dd if=/dev/zero bs=1M count=1024
#      conv=fdatasync (three runs, median used), as bench/log-append.sh measures it;
#      then the same dd into three files kept until the last is written (printed
#      after the table: what a writer whose page cache grows gets on this VM);
#   2. starts `brook server` twice on 127.0.0.1 (ports chosen by the kernel): one
#      with the default fsync policy (always), one with --fsync everysec;
#   3. runs brook-bench-kafka against them: the loopback TCP bandwidth (one
#      connection, 1 MiB writes, five runs of 2 s, median used); produce 100 B and
#      1 KiB records at acks=1 and acks=-1, each row in two phases: 4 s as fast as
#      4 producers go (records/s, MB/s; each producer sends one value, without a
#      copy, as rdkafka_performance does by default), then 4 s paced at a quarter
#      of that rate with a concurrent consumer measuring end-to-end latency
#      (records carry their send time); consume the last 1 KiB topic from offset
#      0 right after it was written (page cache); the two target rows (1 KiB acks=1
#      produce, consume) run 3 times, each showing its median run (the throughput
#      phase only: the latency phase runs once); 1 KiB acks=1 against the
#      everysec server for comparison. Each row's topics are deleted (RESP DEL)
#      once done with, and the next row waits until the server has freed their
#      files (INFO memory lazyfree_pending_objects:0).
# Prints one table (records/s, MB/s, end-to-end p50/p99/max, ratio of MB/s to the
# disk bandwidth for produce rows and to the loopback bandwidth for the consume
# row), the client settings used, and a PASS/FAIL line per target:
#   - 1 KiB produce at acks=1 (fsync always) reaches >= 60% of the disk bandwidth;
#   - consume from the page cache reaches >= 50% of the loopback bandwidth.
# Then any warning or error the servers logged while under load.
#
# Usage: bench/kafka.sh [--quick] [--cold] [--dir DIR] [--no-everysec] [brook-bench-kafka flags]
#   --quick        smoke run (~20 s plus the build): 64 MiB dd, 0.5 s per phase. The
#                  numbers are not meaningful; CI uses it to keep the bench working.
#   --cold         do not fill the page cache first (step 0 above; --quick never does).
#   --dir          directory on the disk to measure (default: a fresh directory under
#                  ./target/ of the repository; /tmp is avoided because it may be tmpfs).
#   --no-everysec  skip the fsync everysec comparison row.
#   other flags go to brook-bench-kafka (see its --help), e.g. --seconds 10,
#   --producers 2, --set linger.ms=10, --verbose.
# A full run takes about 6 minutes plus the build; it writes about 23 GB but holds at
# most about 4 GB at a time. Honours CARGO_TARGET_DIR.
# Servers are stopped by PID on exit. Exit status is 0 whatever the verdicts
# (non-zero only if something failed to run).
set -euo pipefail
export LC_ALL=C

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=bench/lib.sh
. bench/lib.sh

quick=0
cold=0
dir=""
everysec=1
forward=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1; forward+=("$1") ;;
        --cold) cold=1 ;;
        --dir) dir="$2"; shift ;;
        --no-everysec) everysec=0 ;;
        -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        *) forward+=("$1") ;;
    esac
    shift
done

if [ "$quick" = 1 ]; then
    dd_mib=64; runs=1
else
    dd_mib=1024; runs=3
fi
server_timeout_s=30      # to start, and to stop before SIGKILL

echo "building brook and brook-bench-kafka (release) ..." >&2
cargo build --release --quiet -p brook -p brook-bench-kafka
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
brook_bin="$target_dir/release/brook"
load_bin="$target_dir/release/brook-bench-kafka"

# --- directories and cleanup ------------------------------------------------------

made_dir=0
if [ -z "$dir" ]; then
    mkdir -p target
    dir="$(mktemp -d "$repo/target/bench-kafka.XXXXXX")"
    made_dir=1
else
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
fi

pids=()

cleanup() {
    local pid
    for pid in ${pids[@]+"${pids[@]}"}; do stop_server "$pid"; done
    rm -f "$dir/dd.bin" "$dir"/dd-kept-*.bin "$dir/report.txt" "$dir/page-cache-fill.bin"
    if [ "$made_dir" = 1 ]; then
        rm -rf "$dir"
    else
        rm -rf "$dir/always" "$dir/everysec"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fstype="$(findmnt -n -o FSTYPE -T "$dir" 2>/dev/null || stat -f -c %T "$dir")"
echo "bench directory: $dir ($fstype)" >&2
case "$fstype" in
    tmpfs|ramfs) echo "warning: $dir is on $fstype: the figures say nothing about a disk" >&2 ;;
esac
avail_kib="$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')"
if [ "$quick" = 0 ] && [ "${avail_kib:-0}" -lt $((8 * 1024 * 1024)) ]; then
    echo "warning: $((avail_kib / 1024)) MiB free on $dir; a full run holds up to about 4 GB at a time" >&2
fi

# --- page cache and disk bandwidth (as bench/log-append.sh) -------------------------

fill_line="page cache not filled first (--quick or --cold): free memory on this VM may be slow to touch"
if [ "$quick" = 0 ] && [ "$cold" = 0 ]; then
    fill_line="$(fill_page_cache "$dir")"
fi

# dd prints e.g. "1073741824 bytes (1.1 GB, 1.0 GiB) copied, 2.03 s, 529 MB/s" last.
dd_list="$(dd_bandwidth_list "$dir" "$dd_mib" "$runs")"
# The same dd into files it keeps (printed after the table; not the targets' baseline).
dd_kept="$(dd_kept_list "$dir" "$dd_mib" "$runs")"

# --- servers ----------------------------------------------------------------------

declare -A addr_of=() resp_of=() pid_of=()

# start_server NAME POLICY: brook on 127.0.0.1 with kernel-chosen Kafka and RESP
# ports (read back from its "listening protocol=... addr=..." log lines, so no port
# can be taken between a check and the bind); HTTP off. RESP is only used to delete
# the topics of finished rows.
start_server() {
    local name="$1" policy="$2" sdir="$dir/$1" pid i addr resp
    rm -rf "$sdir"
    mkdir -p "$sdir"
    "$brook_bin" server --data-dir "$sdir/data" --kafka-listen 127.0.0.1:0 \
        --resp-listen 127.0.0.1:0 --http-listen off --fsync "$policy" >"$sdir/server.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    pid_of[$name]="$pid"
    for ((i = 0; i < server_timeout_s * 10; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "brook ($name) exited before listening; its log:" >&2
            tail -n 20 "$sdir/server.log" >&2 || true
            return 1
        fi
        addr="$(sed -n 's/.*listening protocol=kafka addr=\([^ ]*\).*/\1/p' "$sdir/server.log")"
        resp="$(sed -n 's/.*listening protocol=resp addr=\([^ ]*\).*/\1/p' "$sdir/server.log")"
        if [ -n "$addr" ] && [ -n "$resp" ] && grep -q "server ready" "$sdir/server.log"; then
            addr_of[$name]="$addr"
            resp_of[$name]="$resp"
            echo "started brook ($name, --fsync $policy): pid $pid, Kafka on $addr, RESP on $resp" >&2
            return 0
        fi
        sleep 0.1
    done
    echo "brook ($name) was not ready within ${server_timeout_s}s; its log:" >&2
    tail -n 20 "$sdir/server.log" >&2 || true
    return 1
}

start_server always always
if [ "$everysec" = 1 ]; then
    start_server everysec everysec
fi

# --- the run ------------------------------------------------------------------------

args=(--bootstrap "${addr_of[always]}" --resp "${resp_of[always]}"
      --policy "always (server default)"
      --dd-mbps "$dd_list"
      --disk "dd bs=1M count=$dd_mib conv=fdatasync, $fstype at $dir"
      --label "brook $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet HEAD 2>/dev/null || echo ' (modified)')")
if [ "$everysec" = 1 ]; then
    args+=(--bootstrap-everysec "${addr_of[everysec]}" --resp-everysec "${resp_of[everysec]}")
fi
status=0
"$load_bin" "${args[@]}" ${forward[@]+"${forward[@]}"} >"$dir/report.txt" || status=$?
echo "$fill_line"
cat "$dir/report.txt"

# A log keeps what it writes in the page cache. Unless the page cache was filled first,
# that takes free memory, which on this VM is slow to touch (see bench/lib.sh): dd into
# files it keeps shows what any writer gets then. The targets use dd's median.
kept_median="$(median_of "$dd_kept")"
produce_mbps="$(sed -n 's/^produce 1 KiB acks=1  *| *[0-9]* *| *\([0-9.]*\) .*/\1/p' "$dir/report.txt")"
echo
echo "dd into files it keeps ($runs x $dd_mib MiB kept cached, as a log keeps its segments): ${dd_kept//,/ / } MB/s, median $kept_median"
if [ -n "$produce_mbps" ]; then
    echo "  1 KiB produce at acks=1: $produce_mbps MB/s = $(awk -v p="$produce_mbps" -v d="$kept_median" 'BEGIN { printf "%.2f", p / d }') of it (information only)"
fi

# What the servers logged under load (after "server ready"), and whether they survived.
echo
for name in always everysec; do
    [ -n "${pid_of[$name]:-}" ] || continue
    echo "brook ($name) data directory after the run: $(du -sh "$dir/$name/data" | cut -f1)"
done
for name in always everysec; do
    [ -n "${pid_of[$name]:-}" ] || continue
    log="$dir/$name/server.log"
    if ! kill -0 "${pid_of[$name]}" 2>/dev/null; then
        echo "brook ($name) is no longer running; the end of its log:"
        tail -n 20 "$log"
        status=1
        continue
    fi
    problems="$(sed -n '/server ready/,$p' "$log" | grep -E ' (WARN|ERROR) ' || true)"
    if [ -z "$problems" ]; then
        echo "brook ($name): no warnings or errors logged during the run"
    else
        echo "brook ($name): $(echo "$problems" | wc -l) warnings/errors logged during the run, first 10:"
        echo "$problems" | head -n 10 | sed 's/^/  /'
    fi
done
exit "$status"
