#!/usr/bin/env bash
# Daemon benchmark: live shadowing on this machine, everything on loopback, one run.
#
#   production: nginx on 127.0.0.1:P (wrk is its client, keep-alive)
#   replayer:   release build capturing lo:P, replaying to staging, status on a socket
#   staging:    nginx on 127.0.0.1:S, counting what arrives in its access log
#
# Measured in the same run:
#   - the machine's limit: wrk straight at staging (requests/s), the baseline;
#   - for each offered rate (wrk with a per-connection delay, so the rate is what it is):
#     requests production served, requests staging received, the share delivered,
#     the replayer's CPU time per replayed request (utime+stime from /proc), its peak RSS;
#   - a staging outage at the highest rate: staging stopped, RSS and the drop counters.
# Prints a Markdown table (also left in bench/out/replay/result.md) for docs/benchmarks.md.
#
# Usage: bench/replay.sh [--write]   (env: DURATION=5 WORKERS= QUEUE= PACE_MS=10 RATES="2000 5000 10000 15000 0";
#        0 = as fast as wrk can). --write puts the table into docs/benchmarks.md, between
#        the <!-- daemon:begin --> and <!-- daemon:end --> markers (appended the first time).
#
# The binary under test: REPLAYER=/path/to/replayer runs that binary instead of building
# target/release/replayer (a build of another commit, in its own worktree and target dir).
#
# NEW_FLAGS="--diff" with REPLAYER_BASELINE set to the same binary compares one setting
# against none (the flags go to the "new" daemon only), e.g. what the comparison costs.
#
# Two binaries in one run: REPLAYER_BASELINE=/path/to/old/replayer bench/replay.sh runs, at
# each rate, the baseline daemon and the new one one after the other, REPEATS times (default
# 3, the order swapped every time), against the same production, the same staging and the
# same wrk load (one connection count per rate, calibrated with no replayer running, so both
# get exactly the same load). Each daemon is started for its step and stopped after it, so
# only one captures at a time and its peak RSS is that step's. The replayer's CPU time is
# read from its process CPU clock (nanoseconds) rather than /proc's 10 ms ticks: a step costs
# a few hundred ms of CPU, so ticks alone would be a few % off, the size of what is compared.
# Then the staging outage, once per binary. Prints a table with both and the ratio
# new / baseline (also left in bench/out/replay/compare.md); --write does not apply.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/replay
DURATION=${DURATION:-5}
RATES=${RATES:-"2000 5000 10000 15000 0"}
# Connections for the unpaced ("max") step and the outage; paced steps choose their own
# (pace_connections below): wrk's delay is in whole milliseconds, so a rate is a number of
# connections each waiting a fixed delay.
CONNECTIONS=${CONNECTIONS:-100}
# The replay settings under test: the daemon's defaults unless WORKERS (a fixed worker count
# per target) or QUEUE (-output-http-queue-len) is set.
REPLAY_FLAGS=()
[ -n "${WORKERS:-}" ] && REPLAY_FLAGS+=(-output-http-workers "$WORKERS")
[ -n "${QUEUE:-}" ] && REPLAY_FLAGS+=(-output-http-queue-len "$QUEUE")
SETTINGS=${REPLAY_FLAGS[*]:-default replay settings}
WRITE=0
[ "${1:-}" = --write ] && WRITE=1
REPLAYER_BASELINE=${REPLAYER_BASELINE:-}
REPEATS=${REPEATS:-3}
if [ -n "$REPLAYER_BASELINE" ] && ((WRITE)); then
    echo "bench/replay.sh: --write is for the single-binary run; a comparison is left in bench/out/replay/compare.md" >&2
    exit 1
fi
mkdir -p "$OUT"
for tool in nginx wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "bench/replay.sh: $tool is missing (scripts/install-deps installs it)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench/replay.sh: live capture needs root" >&2; exit 1; }

if [ -z "${REPLAYER:-}" ]; then
    echo "== building (release)"
    cargo build --release -p replayer --bins 2>&1 | tail -1
    REPLAYER=$PWD/target/release/replayer
fi
for bin in "$REPLAYER" ${REPLAYER_BASELINE:+"$REPLAYER_BASELINE"}; do
    [ -x "$bin" ] || { echo "bench/replay.sh: $bin is not an executable" >&2; exit 1; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
P=$(free_port); S=$(free_port)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

start_nginx() { # start_nginx NAME PORT LOG(on|off) -> pid in NGINX_PID
    local dir=$PWD/$OUT/$1
    mkdir -p "$dir/tmp"
    local log="access_log off;"
    [ "$3" = on ] && log="access_log $dir/access.log;"
    cat > "$dir/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1; pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  $log keepalive_requests 1000000;
  client_body_temp_path $dir/tmp/body; proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi; uwsgi_temp_path $dir/tmp/uwsgi; scgi_temp_path $dir/tmp/scgi;
  server { listen 127.0.0.1:$2; location / { return 200 "ok\n"; } }
}
CONF
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/"$2") 2>/dev/null && return; sleep 0.05; done
    echo "nginx $1 did not start" >&2; exit 1
}

status() { # status -> the status document on stdout
    python3 - "$OUT/status.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); d = b""
while True:
    b = s.recv(65536)
    if not b: break
    d += b
print(d.decode())
PY
}
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
TICK=$(getconf CLK_TCK)
# The process's CPU time (every thread, those that ended too) in nanoseconds, from its
# process CPU clock: clock_getcpuclockid(pid) is ((~pid) << 3) | 2 (CPUCLOCK_SCHED).
cpu_ns() { python3 -c 'import sys, time; print(time.clock_gettime_ns(((~int(sys.argv[1])) << 3) | 2))' "$1"; }

# A wrk script: each connection waits DELAY ms between requests, so C connections offer
# about C*1000/DELAY requests/s. Browser-like headers (~400 bytes).
cat > "$OUT/paced.lua" <<'LUA'
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
function delay() return delay_ms end
LUA
HEADERS=(-H "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
         -H "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
         -H "Accept-Language: en-GB,en;q=0.5")
wrk_run() { # wrk_run URL CONNECTIONS DELAY_MS SECONDS -> prints requests sent
    DELAY_MS=$3 wrk -t1 -c"$2" -d"$4s" -s "$OUT/paced.lua" "${HEADERS[@]}" "$1" > "$OUT/wrk.txt"
    awk '/requests in/ {print $1}' "$OUT/wrk.txt"
}
# Paced steps: each connection waits PACE_MS between requests. wrk's timers fire late (about
# 1.8 ms here, more on a busy machine), so C connections offer C*1000/(PACE_MS+lag) per
# second, not C*1000/PACE_MS. pace_connections finds C for a rate: a first guess with a
# 1.8 ms lag, then one 2 s probe at that URL and a proportional correction.
PACE_MS=${PACE_MS:-10}
pace_connections() { # pace_connections URL RATE -> connection count
    local c=$(( ($2 * (PACE_MS * 10 + 18) + 5000) / 10000 ))
    local got
    got=$(wrk_run "$1" "$c" "$PACE_MS" 2)
    (( got > 0 )) && c=$(( (c * $2 * 2 + got / 2) / got ))
    echo $(( c > 0 ? c : 1 ))
}
wrk_rate() { # wrk_rate URL RATE [CONNECTIONS] -> prints requests sent; RATE 0 = no delay
    if [ "$2" = 0 ]; then
        wrk_run "$1" "$CONNECTIONS" 0 "$DURATION"
    else
        wrk_run "$1" "${3:-$CONNECTIONS}" "$PACE_MS" "$DURATION"
    fi
}

start_nginx staging "$S" on; STAGING_PID=$NGINX_PID
start_nginx production "$P" on

echo "== baseline: wrk straight at staging (the machine's limit)"
BASE=$(wrk_rate "http://127.0.0.1:$S/government/publications/some-report?page=2" 0)
BASE_RPS=$(( BASE / DURATION ))
echo "staging alone: $BASE_RPS requests/s"
: > "$OUT/staging/access.log"

start_replayer() { # start_replayer BINARY LOG [FLAGS...] -> pid in RPID, once its status socket answers
    rm -f "$OUT/status.sock"
    local bin=$1 log=$2
    shift 2
    "$bin" -input-raw "lo:$P" -output-http "http://127.0.0.1:$S" ${REPLAY_FLAGS[@]+"${REPLAY_FLAGS[@]}"} \
        "$@" --status-socket "$OUT/status.sock" --sync-flag "$OUT/no-flag" 2> "$log" &
    RPID=$!
    PIDS+=("$RPID")
    for _ in $(seq 100); do [ -S "$OUT/status.sock" ] && break; sleep 0.05; done
    sleep 0.5
}

# One rate step against the running replayer RPID: wrk at production for DURATION s at RATE
# (0: as fast as it goes) with CONNS connections; leaves the step's figures in sent, offered,
# received, pct, cpu_us (from /proc's ticks), cpu_ns_us (from the CPU clock), kdrop and qdrop
# (the daemon's totals), SOCKET_TIMES (status socket p50 and p99 ms).
run_step() { # run_step RATE CONNS
    before_lines=$(wc -l < "$OUT/staging/access.log")
    before_prod=$(wc -l < "$OUT/production/access.log")
    before_cpu=$(cpu_ticks "$RPID")
    before_cpu_ns=$(cpu_ns "$RPID")
    before_replayed=$(status | field 'd["requests"]["replayed"]')
    wrk_rate "http://127.0.0.1:$P/government/publications/some-report?page=2" "$1" "$2" > /dev/null &
    WRK=$!
    sleep 1
    # The status socket under this load: 500 reads, one at a time, each timed from connect
    # to the end of the document.
    SOCKET_TIMES=$(python3 - "$OUT/status.sock" <<'PY'
import socket, sys, time
times = []
for _ in range(500):
    t = time.perf_counter()
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
    while s.recv(65536): pass
    s.close()
    times.append((time.perf_counter() - t) * 1000)
times.sort()
print(f"{times[len(times)//2]:.3f} {times[int(len(times)*0.99)]:.3f}")
PY
)
    wait "$WRK"
    sleep 2 # let the queues drain
    after_cpu=$(cpu_ticks "$RPID")
    after_cpu_ns=$(cpu_ns "$RPID")
    doc=$(status)
    replayed=$(( $(field 'd["requests"]["replayed"]' <<<"$doc") - before_replayed ))
    received=$(( $(wc -l < "$OUT/staging/access.log") - before_lines ))
    # What production served (its access log), not what wrk saw finish: requests still on
    # the wire when wrk stops were served, captured and replayed too.
    sent=$(( $(wc -l < "$OUT/production/access.log") - before_prod ))
    kdrop=$(field 'd["capture"]["kernel_dropped"]' <<<"$doc")
    qdrop=$(field 'd["requests"]["dropped_queue_full"]' <<<"$doc")
    cpu_us=$(python3 -c "print(round(($after_cpu-$before_cpu)/$TICK*1e6/max($replayed,1), 1))")
    cpu_ns_us=$(python3 -c "print(round(($after_cpu_ns-$before_cpu_ns)/1e3/max($replayed,1), 2))")
    pct=$(python3 -c "print(round(100*$received/max($sent,1), 2))")
    offered=$(( sent / DURATION ))
}

stop_replayer() { # stop_replayer: SIGTERM to RPID, waited for, and no longer ours to clean up
    kill -TERM "$RPID"; wait "$RPID" || true
    local p kept=()
    for p in "${PIDS[@]}"; do [ "$p" = "$RPID" ] || kept+=("$p"); done
    PIDS=("${kept[@]}")
}

# REPLAYER_BASELINE set: at each rate, the baseline daemon and the new one one after the
# other, REPEATS times with the order swapped each time (so a burst of other work on the
# machine hits both alike), then the staging outage once for each; a table of both.
compare_binaries() {
    local rate conns rep who bin order label
    : > "$OUT/compare.tsv"
    for rate in $RATES; do
        conns=$CONNECTIONS
        label=max
        if [ "$rate" != 0 ]; then
            # One connection count per rate for both binaries, calibrated with no replayer
            # running: both get the same wrk load, whatever either costs.
            conns=$(pace_connections "http://127.0.0.1:$P/calibrate" "$rate")
            label="$rate (wrk -c$conns)"
        fi
        for rep in $(seq "$REPEATS"); do
            order="baseline new"
            if (( rep % 2 == 0 )); then order="new baseline"; fi
            for who in $order; do
                bin=$REPLAYER; [ "$who" = baseline ] && bin=$REPLAYER_BASELINE
                # shellcheck disable=SC2086 # NEW_FLAGS is a list of words
                if [ "$who" = new ]; then
                    start_replayer "$bin" "$OUT/replayer-$who.log" ${NEW_FLAGS:-}
                else
                    start_replayer "$bin" "$OUT/replayer-$who.log"
                fi
                run_step "$rate" "$conns"
                hwm=$(hwm_kb "$RPID")
                stop_replayer
                echo "offered $label, $who ($rep/$REPEATS): production $sent ($offered/s), staging received $received ($pct %), CPU $cpu_ns_us µs/request ($cpu_us from ticks), kernel drops $kdrop, queue drops $qdrop, RSS peak $hwm kB"
                printf '%s\t' "$label" "$who" "$rep" "$offered" "$sent" "$received" "$pct" "$cpu_ns_us" "$hwm" "$kdrop" "$qdrop" "${SOCKET_TIMES% *}" >> "$OUT/compare.tsv"
                printf '%s\n' "${SOCKET_TIMES#* }" >> "$OUT/compare.tsv"
            done
        done
    done

    echo "== staging outage, wrk as fast as it goes, each daemon in turn"
    kill "$STAGING_PID"; wait "$STAGING_PID" 2>/dev/null || true
    : > "$OUT/outage.tsv"
    for who in baseline new; do
        bin=$REPLAYER; [ "$who" = baseline ] && bin=$REPLAYER_BASELINE
        start_replayer "$bin" "$OUT/replayer-$who-outage.log"
        before_cpu_ns=$(cpu_ns "$RPID")
        sent=$(wrk_rate "http://127.0.0.1:$P/outage" 0)
        sleep 1
        outage_cpu_us=$(python3 -c "print(round(($(cpu_ns "$RPID")-$before_cpu_ns)/1e3/max($sent,1), 2))")
        doc=$(status)
        failed=$(field 'd["requests"]["failed"]' <<<"$doc")
        qdrop=$(field 'd["requests"]["dropped_queue_full"]' <<<"$doc")
        rss=$(rss_kb "$RPID"); hwm=$(hwm_kb "$RPID")
        stop_replayer
        echo "outage, $who: production $sent, failed $failed, queue drops $qdrop, RSS $rss kB (peak $hwm kB), CPU $outage_cpu_us µs per production request"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$who" "$sent" "$failed" "$qdrop" "$rss" "$hwm" "$outage_cpu_us" >> "$OUT/outage.tsv"
    done

    python3 - "$OUT" "$REPEATS" "$BASE_RPS" "$DURATION" "$PACE_MS" "$CONNECTIONS" "$SETTINGS" <<'PY'
import collections, statistics, sys
out, repeats, base_rps, duration, pace_ms, conns, settings = sys.argv[1:]
steps = collections.defaultdict(lambda: {"baseline": [], "new": []})
for line in open(f"{out}/compare.tsv"):
    label, who, rep, offered, sent, received, pct, cpu, hwm, kdrop, qdrop, p50, p99 = line.rstrip("\n").split("\t")
    steps[label][who].append(dict(offered=int(offered), pct=float(pct), cpu=float(cpu), hwm=int(hwm),
                                  kdrop=int(kdrop), qdrop=int(qdrop), p50=float(p50)))
md = [f"`bench/replay.sh` with REPLAYER_BASELINE (DURATION={duration} s per step, {repeats} steps per binary and rate, "
      f"baseline and new one after the other, the order swapped each time; paced steps: PACE_MS={pace_ms} ms, one "
      f"connection count per rate calibrated with no replayer running; max: -c{conns}; {settings}; "
      f"each daemon started for its step). Staging alone: {base_rps} requests/s.",
      "",
      "| offered | production req/s (mean) | delivered, worst: baseline / new | CPU µs/request, best: baseline | new | new / baseline | median of the paired new / baseline | peak RSS MB, largest: baseline / new | kernel / queue drops, total: baseline; new | status socket p50 ms, median: baseline / new |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for label, s in steps.items():
    b, n = s["baseline"], s["new"]
    cpu_b, cpu_n = min(x["cpu"] for x in b), min(x["cpu"] for x in n)
    paired = statistics.median(y["cpu"] / x["cpu"] for x, y in zip(b, n))
    offered = statistics.mean(x["offered"] for x in b + n)
    drops = lambda xs: f"{sum(x['kdrop'] for x in xs)} / {sum(x['qdrop'] for x in xs)}"
    md.append(f"| {label} | {offered:,.0f} | {min(x['pct'] for x in b)} % / {min(x['pct'] for x in n)} % "
              f"| {cpu_b:.2f} | {cpu_n:.2f} | {cpu_n / cpu_b:.3f} | {paired:.3f} "
              f"| {max(x['hwm'] for x in b) / 1024:.1f} / {max(x['hwm'] for x in n) / 1024:.1f} "
              f"| {drops(b)}; {drops(n)} "
              f"| {statistics.median(x['p50'] for x in b):.3f} / {statistics.median(x['p50'] for x in n):.3f} |")
md += ["", "Staging outage (staging nginx killed, wrk as fast as it goes, each daemon in turn):", "",
       "| daemon | production requests | counted as failed | dropped on full queues | RSS MB | peak RSS MB | replayer CPU µs per production request |",
       "|---|---:|---:|---:|---:|---:|---:|"]
for line in open(f"{out}/outage.tsv"):
    who, sent, failed, qdrop, rss, hwm, cpu = line.split()
    md.append(f"| {who} | {int(sent):,} | {int(failed):,} | {int(qdrop):,} | {int(rss) / 1024:.1f} | {int(hwm) / 1024:.1f} | {cpu} |")
text = "\n".join(md)
open(f"{out}/compare.md", "w").write(text + "\n")
print(); print(text)
PY
}

if [ -n "$REPLAYER_BASELINE" ]; then
    compare_binaries # above: both daemons at every rate and in the outage, then the script ends
    exit 0
fi

start_replayer "$REPLAYER" "$OUT/replayer.log"

ROWS=()
for rate in $RATES; do
    conns=$CONNECTIONS
    if [ "$rate" != 0 ]; then
        conns=$(pace_connections "http://127.0.0.1:$P/calibrate" "$rate")
        sleep 1 # the probe's requests are replayed before the step's counters are read
    fi
    run_step "$rate" "$conns"
    label=$rate; [ "$rate" = 0 ] && label="max"
    [ "$rate" != 0 ] && label="$rate (wrk -c$conns)"
    echo "offered $label: production $sent ($offered/s), staging received $received ($pct %), CPU ${cpu_us} µs/request, kernel drops $kdrop, queue drops $qdrop, RSS peak $(hwm_kb "$RPID") kB"
    ROWS+=("| $label | $offered | $sent | $received | $pct % | $cpu_us | $(( $(hwm_kb "$RPID") / 1024 )) | $kdrop / $qdrop | ${SOCKET_TIMES% *} / ${SOCKET_TIMES#* } |")
done

echo "== staging outage, wrk as fast as it goes"
kill "$STAGING_PID"; wait "$STAGING_PID" 2>/dev/null || true
before_failed=$(status | field 'd["requests"]["failed"]')
before_cpu_ns=$(cpu_ns "$RPID")
sent=$(wrk_rate "http://127.0.0.1:$P/outage" 0)
sleep 1
OUT_CPU=$(python3 -c "print(round(($(cpu_ns "$RPID")-$before_cpu_ns)/1e3/max($sent,1), 2))")
doc=$(status)
failed=$(( $(field 'd["requests"]["failed"]' <<<"$doc") - before_failed ))
qdrop=$(field 'd["requests"]["dropped_queue_full"]' <<<"$doc")
OUT_RSS=$(( $(rss_kb "$RPID") / 1024 )); OUT_HWM=$(( $(hwm_kb "$RPID") / 1024 ))
echo "outage: production $sent, failed $failed, queue drops (total) $qdrop, RSS $OUT_RSS MB (peak $OUT_HWM MB)"

stop_replayer

{
    echo "Run on $(date -u +%Y-%m-%d) with \`bench/replay.sh\` (DURATION=$DURATION s per rate, wrk -t1 keep-alive, paced steps: PACE_MS=$PACE_MS ms between a connection's requests and the connection count calibrated by a 2 s probe, "max": -c$CONNECTIONS and no delay; production and staging nginx log every request; replayer release build, $SETTINGS)."
    echo
    echo "Baseline (the machine's limit): wrk straight at staging nginx: **$BASE_RPS requests/s**."
    echo
    echo "| offered | production req/s | production requests | staging received | delivered | replayer CPU µs/request | peak RSS MB | kernel / queue drops | status socket ms p50 / p99 |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "Staging outage (staging nginx killed, wrk as fast as it goes, $sent production requests): $failed counted as failed, $qdrop dropped on full queues in total; RSS $OUT_RSS MB, peak $OUT_HWM MB; replayer CPU $OUT_CPU µs per production request."
} > "$OUT/result.md"
echo; cat "$OUT/result.md"

if ((WRITE)); then
    python3 - "$OUT/result.md" docs/benchmarks.md <<'PY'
import re, sys
result, doc_path = open(sys.argv[1]).read().strip(), sys.argv[2]
section = ("<!-- daemon:begin -->\n## Daemon: live replay to staging\n\n" + result + "\n\n"
           + open("bench/replay-notes.md").read().strip() + "\n<!-- daemon:end -->")
doc = open(doc_path).read()
pattern = re.compile(r"<!-- daemon:begin -->.*?<!-- daemon:end -->", re.S)
doc = pattern.sub(lambda _: section, doc) if pattern.search(doc) else doc.rstrip() + "\n\n" + section + "\n"
open(doc_path, "w").write(doc)
PY
    echo "docs/benchmarks.md: Daemon section written"
fi
