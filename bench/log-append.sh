#!/usr/bin/env bash
# Append throughput of Brook's log under each durability policy, next to the raw disk.
#
# Measures, in one directory on the disk under test:
#   1. sequential write bandwidth: dd if=/dev/zero bs=1M count=1024 conv=fdatasync
#   2. single-writer fsync rate:   dd bs=4k count=1000 oflag=dsync (writes/s)
# (three runs each, median used)
# then runs brook-bench-log there with those figures and prints one table with the
# ratios and a PASS/FAIL line per target (the group-commit scenarios run in 3 rounds,
# 1 with --quick: 1 thread, 16 threads and 16 tokio tasks one after the other in
# each; medians):
#   - batched appends under `interval` reach >= 70% of the dd bandwidth (also with
#     Kafka batches);
#   - under `always`, 16 concurrent appender threads reach >= 10x one appender
#     thread (and, as an extra check, 16 tokio tasks).
#
# First (not with --quick or --cold) the page cache is filled, as on a server that
# has been up a while (a sparse file of MemTotal bytes read once, about a minute on
# this VM; see fill_page_cache in bench/lib.sh: free memory on this VM is slow to
# touch for the first time, which an idle VM would otherwise make dd and the log pay).
#
# Usage: bench/log-append.sh [--quick] [--cold] [--dir DIR] [other brook-bench-log flags]
#   --quick   smoke run (~10 s plus the build): small dd runs, 0.5 s per scenario.
#             The numbers are not meaningful; CI uses it to keep the bench working.
#   --cold    do not fill the page cache first.
#   --dir     directory on the disk to measure (default: a fresh directory under
#             ./target/ of the repository; /tmp is avoided because it may be tmpfs).
# Honours CARGO_TARGET_DIR. Exit status is 0 whatever the verdicts (non-zero only if
# something failed to run).
set -euo pipefail
export LC_ALL=C

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=bench/lib.sh
. bench/lib.sh

quick=0
cold=0
dir=""
forward=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1; forward+=("$1") ;;
        --cold) cold=1 ;;
        --dir) dir="$2"; shift ;;
        -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        *) forward+=("$1") ;;
    esac
    shift
done

if [ "$quick" = 1 ]; then
    dd_mib=64; dsync_count=100; runs=1
else
    dd_mib=1024; dsync_count=1000; runs=3
fi

echo "building brook-bench-log (release) ..." >&2
cargo build --release --quiet -p brook-bench-log

made_dir=0
if [ -z "$dir" ]; then
    mkdir -p target
    dir="$(mktemp -d "$repo/target/bench-log-append.XXXXXX")"
    made_dir=1
else
    mkdir -p "$dir"
fi
cleanup() {
    rm -f "$dir/dd.bin" "$dir/page-cache-fill.bin"
    if [ "$made_dir" = 1 ]; then rm -rf "$dir"; fi
}
trap cleanup EXIT

fstype="$(findmnt -n -o FSTYPE -T "$dir" 2>/dev/null || stat -f -c %T "$dir")"
echo "bench directory: $dir ($fstype)" >&2
case "$fstype" in
    tmpfs|ramfs) echo "warning: $dir is on $fstype: the figures say nothing about a disk" >&2 ;;
esac

fill_line="page cache not filled first (--quick or --cold): free memory on this VM may be slow to touch"
if [ "$quick" = 0 ] && [ "$cold" = 0 ]; then
    fill_line="$(fill_page_cache "$dir")"
fi

# dd prints e.g. "1073741824 bytes (1.1 GB, 1.0 GiB) copied, 2.03 s, 529 MB/s" last.
dd_list="$(dd_bandwidth_list "$dir" "$dd_mib" "$runs")"

dsync_list=""
for i in $(seq "$runs"); do
    echo "measuring single-writer fsync rate (dd, $dsync_count x 4 KiB, oflag=dsync), run $i/$runs ..." >&2
    read -r _ ds_secs < <(dd_figures if=/dev/zero of="$dir/dd.bin" bs=4k count="$dsync_count" oflag=dsync)
    rm -f "$dir/dd.bin"
    dsync_list="$dsync_list${dsync_list:+,}$(awk -v n="$dsync_count" -v s="$ds_secs" 'BEGIN { printf "%.1f", n / s }')"
done

echo "running brook-bench-log ..." >&2
echo "$fill_line"
cargo run --release --quiet -p brook-bench-log -- \
    --dir "$dir" \
    --dd-mbps "$dd_list" --dd-bytes "$((dd_mib * 1024 * 1024))" --dd-dsync-per-s "$dsync_list" \
    ${forward[@]+"${forward[@]}"}
