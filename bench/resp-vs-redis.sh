#!/usr/bin/env bash
# Brook's RESP front end next to Debian's redis-server, on loopback, in one invocation.
#
# Starts four servers side by side on 127.0.0.1 (free ports), each with a fresh data
# directory on the disk under test:
#   redis no-persist   redis-server --save '' --appendonly no
#   redis aof-always   redis-server --save '' --appendonly yes --appendfsync always
#   brook always       brook server --fsync always
#   brook interval     brook server --fsync everysec   (see --interval)
# and runs each scenario on all four in turn (so drift over time hits them alike),
# in several rounds (--rounds; each round starts with the next server in turn and
# writes fresh streams); every cell is the round with the median ops/s:
#   XADD 100 B and 1 KiB values, redis-benchmark -c 50, at -P 1 and at -P 16;
#   drain: a stream preloaded with XADD, then 50 connections loop
#          XREADGROUP GROUP g c<i> COUNT 100 ... > and XACK of the IDs read
#          (bench/resp-drain, since redis-benchmark cannot ack what it read).
# Prints one table (ops/s, p50/p99 latency in ms, ratios Brook/Redis), then the RSS
# of a fresh redis no-persist and a fresh brook always after loading 1,000,000
# XADDs of 100 B (redis-benchmark -P 64), then a PASS/FAIL line per value size for
# the target: Brook under `always` at -P 16 is at least as fast as redis-server
# with persistence off.
#
# Before the servers start, the page cache is filled, as on a server that has been up
# a while (a sparse file of MemTotal bytes read once, about a minute on this VM; see
# fill_page_cache in bench/lib.sh: free memory on this VM is slow to touch for the
# first time, which an idle VM would otherwise make the first servers of a run pay).
#
# Usage: bench/resp-vs-redis.sh [--quick] [--cold] [--rounds N] [--dir DIR] [--interval POLICY]
#   --quick     smoke run (~1 min plus the build): small request counts, 100k-entry
#               RSS load, one round, page cache not filled. The numbers are not
#               meaningful; it keeps the bench working.
#   --cold      do not fill the page cache first.
#   --rounds    rounds per scenario (default 3; odd, so the median is one round's
#               figures). One run on this kind of machine can be off by 30% or
#               more either way; the table also lists every round's A/none ratio.
#   --dir       directory on the disk to measure (default: a fresh directory under
#               ./target/ of the repository; /tmp is avoided because it may be tmpfs).
#   --interval  Brook's fsync policy for the "interval" column (default everysec,
#               like Redis's default appendfsync; e.g. 100ms).
# Needs redis-server, redis-cli and redis-benchmark (Debian's redis-server and
# redis-tools; installed with apt-get when missing and running as root). Honours
# CARGO_TARGET_DIR. Every server is stopped by PID on exit. Exit status is 0 whatever
# the verdicts (non-zero only if something failed to run). Brook cells read
# "n/a (not implemented)" where Brook answers "unknown command".
set -euo pipefail
export LC_ALL=C

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# shellcheck source=bench/lib.sh
. bench/lib.sh

quick=0
cold=0
dir=""
interval="everysec"
rounds=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --cold) cold=1 ;;
        --rounds) rounds="$2"; shift ;;
        --dir) dir="$2"; shift ;;
        --interval) interval="$2"; shift ;;
        -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

# Request counts: each full-run measurement takes a few seconds on a 2-core machine
# (Redis ~70k XADD/s at -P 1, ~500k/s at -P 16); a round takes about 3 min.
if [ "$quick" = 1 ]; then
    n_p1=10000; n_p16=50000; n_drain=50000; n_rss=100000; n_warm=5000
    rounds="${rounds:-1}"
else
    n_p1=200000; n_p16=1000000; n_drain=1000000; n_rss=1000000; n_warm=50000
    rounds="${rounds:-3}"
fi
case "$rounds" in
    *[!0-9]*|"") echo "--rounds wants a positive odd number, not '$rounds'" >&2; exit 2 ;;
esac
if [ "$rounds" -lt 1 ] || [ $((rounds % 2)) = 0 ]; then
    echo "--rounds wants a positive odd number, not '$rounds'" >&2; exit 2
fi
clients=50
server_timeout_s=30      # to start, and to stop before SIGKILL
run_timeout_s=300        # any one redis-benchmark or drain run

# --- tools -----------------------------------------------------------------------

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null \
    || ! command -v redis-cli >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing redis-server and redis-tools ..." >&2
        apt-get install -y redis-server redis-tools >&2 \
            || { apt-get update >&2 && apt-get install -y redis-server redis-tools >&2; }
    else
        echo "need redis-server, redis-cli and redis-benchmark: apt-get install redis-server redis-tools" >&2
        exit 1
    fi
fi

echo "building brook and brook-bench-drain (release) ..." >&2
cargo build --release --quiet -p brook -p brook-bench-drain
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
brook_bin="$target_dir/release/brook"
drain_bin="$target_dir/release/brook-bench-drain"

# --- directories and cleanup ------------------------------------------------------

made_dir=0
if [ -z "$dir" ]; then
    mkdir -p target
    dir="$(mktemp -d "$repo/target/bench-resp-vs-redis.XXXXXX")"
    made_dir=1
else
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
fi
fstype="$(findmnt -n -o FSTYPE -T "$dir" 2>/dev/null || stat -f -c %T "$dir")"
case "$fstype" in
    tmpfs|ramfs) echo "warning: $dir is on $fstype: fsync costs nothing there" >&2 ;;
esac

declare -A pid_of=() port_of=() dir_of=()
pids=()

cleanup() {
    local pid
    for pid in ${pids[@]+"${pids[@]}"}; do stop_server "$pid"; done
    rm -f "$dir/page-cache-fill.bin"
    if [ "$made_dir" = 1 ]; then rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- servers ----------------------------------------------------------------------

used_ports=" "
# Sets $port to one nobody listens on (and that this script has not handed out yet).
# Not in a command substitution, so that $used_ports keeps what it hands out.
free_port() {
    local tries
    for ((tries = 0; tries < 200; tries++)); do
        # Below Linux's ephemeral range (32768+), where redis-benchmark's own client
        # sockets live: a port free now must not be taken by a client a moment later.
        port=$((10000 + RANDOM % 20000))
        case "$used_ports" in *" $port "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            used_ports="$used_ports$port "
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}

# start_server NAME KIND: KIND is redis-none, redis-aof, brook-always or brook-interval.
# Sets pid_of/port_of/dir_of[NAME]; returns once the server answers PING. Retries on
# another port if the chosen one was taken between the check and the bind.
start_server() {
    local attempt
    for attempt in 1 2 3 4 5; do
        if start_server_once "$1" "$2"; then
            return 0
        fi
        echo "retrying $1 on another port (attempt $attempt failed)" >&2
    done
    return 1
}

start_server_once() {
    local name="$1" kind="$2" port sdir pid i
    free_port
    sdir="$dir/$name"
    rm -rf "$sdir"
    mkdir -p "$sdir"
    case "$kind" in
        redis-none)
            redis-server --bind 127.0.0.1 --port "$port" --dir "$sdir" --save '' \
                --appendonly no --daemonize no --loglevel warning \
                --logfile "$sdir/server.log" &
            ;;
        redis-aof)
            redis-server --bind 127.0.0.1 --port "$port" --dir "$sdir" --save '' \
                --appendonly yes --appendfsync always --daemonize no --loglevel warning \
                --logfile "$sdir/server.log" &
            ;;
        brook-always|brook-interval)
            local policy=always
            [ "$kind" = brook-interval ] && policy="$interval"
            "$brook_bin" server --data-dir "$sdir/data" --resp-listen "127.0.0.1:$port" \
                --kafka-listen off --http-listen off --fsync "$policy" \
                >"$sdir/server.log" 2>&1 &
            ;;
        *) echo "unknown server kind $kind" >&2; return 1 ;;
    esac
    pid=$!
    pids+=("$pid")
    pid_of[$name]="$pid"; port_of[$name]="$port"; dir_of[$name]="$sdir"
    for ((i = 0; i < server_timeout_s * 10; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$name ($kind) exited before accepting connections; its log:" >&2
            tail -n 20 "$sdir/server.log" >&2 || true
            return 1
        fi
        if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
            echo "started $name ($kind): pid $pid, 127.0.0.1:$port, $sdir" >&2
            return 0
        fi
        sleep 0.1
    done
    echo "$name ($kind) did not answer PING within ${server_timeout_s}s; its log:" >&2
    tail -n 20 "$sdir/server.log" >&2 || true
    return 1
}

# --- measurements -----------------------------------------------------------------

value_100="$(head -c 100 /dev/zero | tr '\0' v)"
value_1k="$(head -c 1024 /dev/zero | tr '\0' v)"

# Results, keyed "scenario|server": ops/s, p50 and p99 in ms, or a note instead.
declare -A ops=() p50=() p99=() note=()

# xadd_run SERVER KEY N PIPELINE VALUE: redis-benchmark XADD; echoes "OPS P50 P99".
# redis-benchmark 7 --csv prints a header and one line:
#   "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
# The test name holds the value, so the figures are taken from the end of the line.
# redis-benchmark counts error replies as requests, so XLEN must show all N entries
# (up to one pipeline per client more: redis-benchmark rounds up with -P).
xadd_run() {
    local server="$1" key="$2" n="$3" pipeline="$4" value="$5" port out len
    port="${port_of[$server]}"
    out="$(timeout "$run_timeout_s" redis-benchmark -h 127.0.0.1 -p "$port" -c "$clients" \
        -n "$n" -P "$pipeline" -q --csv XADD "$key" '*' f "$value")" || {
        echo "redis-benchmark against $server failed" >&2; return 1; }
    len="$(redis-cli -h 127.0.0.1 -p "$port" XLEN "$key")"
    if ! [ "$len" -ge "$n" ] 2>/dev/null || [ "$len" -gt $((n + clients * pipeline)) ]; then
        echo "after $n XADDs on $server, XLEN $key is '$len'" >&2
        return 1
    fi
    echo "$out" | tail -n 1 | tr -d '"' | awk -F, '{ print $(NF-6), $(NF-3), $(NF-1) }'
}

# record KEY CMD...: runs a measurement; stores its figures (or a note) under KEY,
# "scenario|server|round".
record() {
    local key="$1" line o a b
    shift
    echo "  ${key//|/, } ..." >&2
    if line="$("$@")"; then
        case "$line" in
            unsupported:*) note["$key"]="n/a (not implemented)"
                           echo "    $line" >&2 ;;
            *) read -r o a b <<<"$line"
               ops["$key"]="$o"
               p50["$key"]="$a"
               p99["$key"]="$b" ;;
        esac
    else
        note["$key"]="failed"
    fi
}

# drain_run SERVER KEY: preloads KEY with $n_drain 100 B entries, then drains it with
# brook-bench-drain; echoes "ENTRIES/S P50 P99" or "unsupported: ...".
drain_run() {
    local server="$1" key="$2" port out len
    port="${port_of[$server]}"
    timeout "$run_timeout_s" redis-benchmark -h 127.0.0.1 -p "$port" -c "$clients" \
        -n "$n_drain" -P 64 -q --csv XADD "$key" '*' f "$value_100" >/dev/null
    len="$(redis-cli -h 127.0.0.1 -p "$port" XLEN "$key")"
    [ "$len" -ge "$n_drain" ] 2>/dev/null || {
        echo "preloading $key on $server gave '$len' entries, not $n_drain" >&2; return 1; }
    out="$("$drain_bin" --addr "127.0.0.1:$port" --stream "$key" --group g \
        --connections "$clients" --count 100 --timeout-s "$run_timeout_s")" || return 1
    case "$out" in
        unsupported:*) echo "$out" ;;
        *) echo "$out" | tr ' ' '\n' | awk -F= '
               $1 == "entries_per_s" { r = $2 } $1 == "p50_ms" { a = $2 } $1 == "p99_ms" { b = $2 }
               END { print r, a, b }' ;;
    esac
}

# vm_status PID FIELD: a /proc/PID/status field in kB.
vm_status() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

servers=(redis-none redis-aof brook-always brook-interval)
declare -A label=(
    [redis-none]="redis no-persist"
    [redis-aof]="redis aof-always"
    [brook-always]="brook always"
    [brook-interval]="brook interval=$interval"
)
scenarios=("XADD 100B -P1" "XADD 100B -P16" "XADD 1KiB -P1" "XADD 1KiB -P16" "drain")

echo "bench directory: $dir ($fstype)" >&2
fill_line="page cache not filled first (--quick or --cold): free memory on this VM may be slow to touch"
if [ "$quick" = 0 ] && [ "$cold" = 0 ]; then
    fill_line="$(fill_page_cache "$dir")"
fi
loadavg_before="$(cut -d" " -f1-3 /proc/loadavg)"
for s in "${servers[@]}"; do start_server "$s" "$s"; done

# A short warm-up per server (connections, allocator, page cache), not measured.
for s in "${servers[@]}"; do
    xadd_run "$s" bench:warm "$n_warm" 16 "$value_100" >/dev/null
done

for ((round = 1; round <= rounds; round++)); do
    # This round's server order: rotated by one per round.
    order=("${servers[@]:$(((round - 1) % 4))}" "${servers[@]:0:$(((round - 1) % 4))}")
    for scenario in "${scenarios[@]}"; do
        echo "$scenario, round $round of $rounds ..." >&2
        for s in "${order[@]}"; do
            r="$scenario|$s|$round"
            case "$scenario" in
                "XADD 100B -P1")  record "$r" xadd_run "$s" "bench:x100p1:$round" "$n_p1" 1 "$value_100" ;;
                "XADD 100B -P16") record "$r" xadd_run "$s" "bench:x100p16:$round" "$n_p16" 16 "$value_100" ;;
                "XADD 1KiB -P1")  record "$r" xadd_run "$s" "bench:x1kp1:$round" "$n_p1" 1 "$value_1k" ;;
                "XADD 1KiB -P16") record "$r" xadd_run "$s" "bench:x1kp16:$round" "$n_p16" 16 "$value_1k" ;;
                drain)            record "$r" drain_run "$s" "bench:d:$round" ;;
            esac
        done
    done
done

# Each cell: the round with the median ops/s (a failed or unsupported round makes
# the cell that note). round_ratios SCENARIO A B: every round's ops/s of A over B.
for scenario in "${scenarios[@]}"; do
    for s in "${servers[@]}"; do
        k="$scenario|$s"
        lines=""
        for ((round = 1; round <= rounds; round++)); do
            if [ -n "${note[$k|$round]:-}" ]; then
                note[$k]="${note[$k|$round]}"
                continue 2
            fi
            lines="$lines${ops[$k|$round]} $round"$'\n'
        done
        median_round="$(printf '%s' "$lines" | sort -g | awk -v m=$(((rounds + 1) / 2)) 'NR == m { print $2 }')"
        ops[$k]="${ops[$k|$median_round]}"
        p50[$k]="${p50[$k|$median_round]}"
        p99[$k]="${p99[$k|$median_round]}"
    done
done
round_ratios() {
    local round out=""
    for ((round = 1; round <= rounds; round++)); do
        if [ -n "${note[$1|$2|$round]:-}" ] || [ -n "${note[$1|$3|$round]:-}" ]; then
            out="$out n/a"
        else
            out="$out $(awk -v x="${ops[$1|$2|$round]}" -v y="${ops[$1|$3|$round]}" \
                'BEGIN { if (y > 0) printf "%.2f", x / y; else print "n/a" }')"
        fi
    done
    echo "${out# }"
}

for s in "${servers[@]}"; do stop_server "${pid_of[$s]}"; rm -rf "${dir_of[$s]}"; done

# RSS after loading $n_rss 100 B entries into a fresh server of each kind.
declare -A rss_kb=() anon_kb=() file_kb=() load_ops=()
for kind in redis-none brook-always; do
    name="rss-$kind"
    start_server "$name" "$kind"
    echo "loading $n_rss x 100 B into $name (XADD -P 64) ..." >&2
    line="$(xadd_run "$name" bench:rss "$n_rss" 64 "$value_100")"
    load_ops[$kind]="${line%% *}"
    sleep 1
    rss_kb[$kind]="$(vm_status "${pid_of[$name]}" VmRSS)"
    anon_kb[$kind]="$(vm_status "${pid_of[$name]}" RssAnon)"
    file_kb[$kind]="$(vm_status "${pid_of[$name]}" RssFile)"
    stop_server "${pid_of[$name]}"
    rm -rf "${dir_of[$name]}"
done

# --- report -----------------------------------------------------------------------

# server_cell SCENARIO SERVER: "ops/s p50/p99" (ms, 2 decimals) or the note.
server_cell() {
    local k="$1|$2"
    if [ -n "${note[$k]:-}" ]; then
        printf "%23s" "${note[$k]}"
    else
        awk -v o="${ops[$k]}" -v a="${p50[$k]}" -v b="${p99[$k]}" \
            'BEGIN { printf "%9.0f %13s", o, sprintf("%.2f/%.2f", a, b) }'
    fi
}
# ratio_cell SCENARIO A B: ops/s of A over ops/s of B.
ratio_cell() {
    local a="$1|$2" b="$1|$3"
    if [ -n "${note[$a]:-}" ] || [ -n "${note[$b]:-}" ]; then echo "n/a"; return; fi
    awk -v x="${ops[$a]}" -v y="${ops[$b]}" 'BEGIN { if (y > 0) printf "%.2f", x / y; else print "n/a" }'
}

echo
echo "Brook RESP vs redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on loopback; $(nproc) cores; $fstype at $dir"
echo "brook $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'); redis-benchmark -c $clients; -P 1: $n_p1 requests, -P 16: $n_p16; drain: $n_drain entries, $clients consumers, COUNT 100"
echo "each server cell: ops/s, then p50/p99 latency in ms (drain: entries read+acked per s; latency of one XREADGROUP+XACK round), of the round with the median ops/s of $rounds"
echo "$fill_line"
echo "load average before the run: $loadavg_before, after: $(cut -d" " -f1-3 /proc/loadavg) (other load on this machine skews the figures)"
echo "ratios (ops/s): A = brook always, I = brook interval ($interval); none = redis no-persist, aof = redis aof-always"
echo
fmt="%-14s | %23s | %23s | %23s | %23s | %6s %6s %6s %6s\n"
# shellcheck disable=SC2059
{
    printf "%-14s | %23s | %23s | %23s | %23s | %27s\n" "" "${label[redis-none]}" \
        "${label[redis-aof]}" "${label[brook-always]}" "${label[brook-interval]}" \
        "ratio of ops/s, Brook/Redis"
    printf "$fmt" "scenario" "ops/s      p50/p99" "ops/s      p50/p99" "ops/s      p50/p99" \
        "ops/s      p50/p99" "A/none" "A/aof" "I/none" "I/aof"
    printf -- '-%.0s' $(seq 1 $((14 + 4 * 26 + 2 + 27))); echo
    for scenario in "${scenarios[@]}"; do
        printf "$fmt" "$scenario" \
            "$(server_cell "$scenario" redis-none)" "$(server_cell "$scenario" redis-aof)" \
            "$(server_cell "$scenario" brook-always)" "$(server_cell "$scenario" brook-interval)" \
            "$(ratio_cell "$scenario" brook-always redis-none)" \
            "$(ratio_cell "$scenario" brook-always redis-aof)" \
            "$(ratio_cell "$scenario" brook-interval redis-none)" \
            "$(ratio_cell "$scenario" brook-interval redis-aof)"
    done
}
echo
echo "A/none in each round (rounds in the order run):"
for scenario in "${scenarios[@]}"; do
    printf "  %-14s %s\n" "$scenario" "$(round_ratios "$scenario" brook-always redis-none)"
done
echo
for kind in redis-none brook-always; do
    awk -v l="RSS after $n_rss x 100 B XADD, ${label[$kind]}:" -v r="${rss_kb[$kind]}" \
        -v a="${anon_kb[$kind]}" -v f="${file_kb[$kind]}" -v o="${load_ops[$kind]}" \
        'BEGIN { printf "%-50s %8.1f MiB (anon %.1f, file %.1f; loaded at %.0f ops/s)\n", l, r / 1024, a / 1024, f / 1024, o }'
done
awk -v b="${rss_kb[brook-always]}" -v r="${rss_kb[redis-none]}" \
    'BEGIN { printf "%-50s %8.2f\n", "RSS ratio brook always / redis no-persist:", b / r }'
echo
for size in 100B 1KiB; do
    scenario="XADD $size -P16"
    if [ -n "${note[$scenario|brook-always]:-}" ] || [ -n "${note[$scenario|redis-none]:-}" ]; then
        verdict="FAIL (not measured)"
    else
        verdict="$(awk -v b="${ops[$scenario|brook-always]}" -v r="${ops[$scenario|redis-none]}" \
            'BEGIN { printf "%s (%.0f vs %.0f ops/s, %.2fx)", (b >= r ? "PASS" : "FAIL"), b, r, b / r }')"
    fi
    echo "target: brook always >= redis no-persist, XADD $size at -P 16: $verdict"
done
