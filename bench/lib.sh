# Shell helpers shared by the bench scripts (sourced, not run).

# Runs `dd "$@"` and echoes "BYTES SECONDS" from its summary line.
dd_figures() {
    local out
    out="$(dd "$@" 2>&1 >/dev/null)" || { echo "$out" >&2; return 1; }
    echo "$out" | tail -n 1 | awk '{ for (i = 1; i <= NF; i++) if ($i == "s,") s = $(i-1); print $1, s }'
}

# Measures the sequential write bandwidth of the file system holding DIR with
# `dd bs=1M count=MIB conv=fdatasync`, RUNS times (runs can differ several-fold on
# this VM; see below). Echoes the MB/s figures, comma-separated; callers use the
# median.
dd_bandwidth_list() {
    local dir="$1" mib="$2" runs="$3" list="" i bytes secs
    for i in $(seq "$runs"); do
        echo "measuring disk sequential write bandwidth (dd, $mib MiB, conv=fdatasync), run $i/$runs ..." >&2
        read -r bytes secs < <(dd_figures if=/dev/zero of="$dir/dd.bin" bs=1M count="$mib" conv=fdatasync)
        rm -f "$dir/dd.bin"
        sync -f "$dir" 2>/dev/null || true
        list="$list${list:+,}$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / s / 1e6 }')"
    done
    # On this VM a run can be several times slower than the others (measured: 260-290
    # MB/s against 1.3-1.7 GB/s). The disk is not the cause (dd oflag=direct writes
    # new blocks at 1.7 GB/s every time): guest memory is. Memory the guest has not
    # touched lately costs the host a fault per page on first touch (about 0.3 GB/s),
    # and freed memory is handed back to the host within seconds (virtio-balloon free
    # page reporting). A dd run that reuses the page cache pages its predecessor just
    # freed is fast; one that needs new pages is not. See dd_kept_list.
    echo "$list" | tr ',' '\n' | sort -n | awk '{ v[NR] = $1 } END {
        if (NR > 1 && v[1] * 2 < v[NR])
            printf "warning: dd runs differ more than 2x (%s to %s MB/s), probably page cache pages the VM had to back with new memory; ratios use the median\n", v[1], v[NR] > "/dev/stderr" }'
    echo "$list"
}

# Measures dd conv=fdatasync into RUNS new files of MIB MiB in DIR, keeping each until
# the last is written, as a log keeps its segments: the page cache grows by RUNS x MIB
# and later runs cannot reuse pages freed by earlier ones. On a VM whose untouched
# memory is slow to fault in (see dd_bandwidth_list) this is the bandwidth a writer
# that keeps its data cached gets. Echoes the MB/s figures, comma-separated.
dd_kept_list() {
    local dir="$1" mib="$2" runs="$3" list="" i bytes secs
    for i in $(seq "$runs"); do
        echo "measuring dd into files it keeps ($mib MiB, conv=fdatasync), file $i/$runs ..." >&2
        read -r bytes secs < <(dd_figures if=/dev/zero of="$dir/dd-kept-$i.bin" bs=1M count="$mib" conv=fdatasync)
        list="$list${list:+,}$(awk -v b="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", b / s / 1e6 }')"
    done
    rm -f "$dir"/dd-kept-*.bin
    sync -f "$dir" 2>/dev/null || true
    echo "$list"
}

# Fills the page cache, as on a server that has been up for a while, so that what a
# bench writes next recycles cached pages instead of taking free memory. On this VM
# free memory is cold: the guest hands it back to the host (virtio-balloon free page
# reporting), and the first touch of each page costs a host fault (about 12 us per
# 4 KiB page, 0.3 GB/s; see dd_bandwidth_list). A bench started on an idle VM would
# otherwise measure that, for dd, Brook and Redis alike, and how much of it depends
# on what ran before. Reads a sparse file of MemTotal bytes in DIR once (no disk
# blocks, no disk I/O: the kernel fills the pages with zeros) named
# page-cache-fill.bin; the file stays until the caller removes it, and its pages are
# the oldest in the cache, so they are the first to go when the bench needs memory.
# Echoes a line for the report: how long the fill took and the memory after it.
fill_page_cache() {
    local dir="$1" total_kib file="$1/page-cache-fill.bin" start secs
    total_kib="$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
    echo "filling the page cache: reading a sparse file of $((total_kib / 1024 / 1024)) GiB (MemTotal) once ..." >&2
    truncate -s "${total_kib}K" "$file" || return 1
    start="$(date +%s.%N)"
    dd if="$file" of=/dev/null bs=1M status=none || return 1
    secs="$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", e - s }')"
    awk -v s="$secs" '/^MemFree:/ { f = $2 } /^Cached:/ { c = $2 } END {
        printf "page cache filled first (as on a server that has been up a while; --cold skips this): %.1f GiB cached, %.1f GiB free after, in %s s\n", c / 1048576, f / 1048576, s }' /proc/meminfo
}

# Median of comma-separated numbers.
median_of() {
    echo "$1" | tr ',' '\n' | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Stops one server: SIGTERM, then SIGKILL after $server_timeout_s seconds.
stop_server() {
    local pid="$1" i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < server_timeout_s * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "warning: server $pid ignored SIGTERM for ${server_timeout_s}s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
