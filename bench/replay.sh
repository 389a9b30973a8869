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
# Usage: bench/replay.sh [--write]   (env: DURATION=5 WORKERS=16 PACE_MS=10 RATES="2000 5000 10000 15000 0";
#        0 = as fast as wrk can). --write puts the table into docs/benchmarks.md, between
#        the <!-- daemon:begin --> and <!-- daemon:end --> markers (appended the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/replay
DURATION=${DURATION:-5}
RATES=${RATES:-"2000 5000 10000 15000 0"}
# Connections for the unpaced ("max") step and the outage; paced steps choose their own
# (pace_connections below): wrk's delay is in whole milliseconds, so a rate is a number of
# connections each waiting a fixed delay.
CONNECTIONS=${CONNECTIONS:-100}
WRITE=0
[ "${1:-}" = --write ] && WRITE=1
mkdir -p "$OUT"
for tool in nginx wrk curl python3; do
    command -v "$tool" >/dev/null || { echo "bench/replay.sh: $tool is missing (scripts/install-deps installs it)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench/replay.sh: live capture needs root" >&2; exit 1; }

echo "== building (release)"
cargo build --release -p replayer --bins 2>&1 | tail -1
REPLAYER=$PWD/target/release/replayer

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

rm -f "$OUT/status.sock"
"$REPLAYER" -input-raw "lo:$P" -output-http "http://127.0.0.1:$S" \
    -output-http-workers "${WORKERS:-16}" -output-http-queue-len 4096 \
    --status-socket "$OUT/status.sock" --sync-flag "$OUT/no-flag" 2> "$OUT/replayer.log" &
RPID=$!
PIDS+=("$RPID")
for _ in $(seq 100); do [ -S "$OUT/status.sock" ] && break; sleep 0.05; done
sleep 0.5

ROWS=()
for rate in $RATES; do
    conns=$CONNECTIONS
    if [ "$rate" != 0 ]; then
        conns=$(pace_connections "http://127.0.0.1:$P/calibrate" "$rate")
        sleep 1 # the probe's requests are replayed before the step's counters are read
    fi
    before_lines=$(wc -l < "$OUT/staging/access.log")
    before_prod=$(wc -l < "$OUT/production/access.log")
    before_cpu=$(cpu_ticks "$RPID")
    before_replayed=$(status | field 'd["requests"]["replayed"]')
    wrk_rate "http://127.0.0.1:$P/government/publications/some-report?page=2" "$rate" "$conns" > /dev/null &
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
    doc=$(status)
    replayed=$(( $(field 'd["requests"]["replayed"]' <<<"$doc") - before_replayed ))
    received=$(( $(wc -l < "$OUT/staging/access.log") - before_lines ))
    # What production served (its access log), not what wrk saw finish: requests still on
    # the wire when wrk stops were served, captured and replayed too.
    sent=$(( $(wc -l < "$OUT/production/access.log") - before_prod ))
    kdrop=$(field 'd["capture"]["kernel_dropped"]' <<<"$doc")
    qdrop=$(field 'd["requests"]["dropped_queue_full"]' <<<"$doc")
    cpu_us=$(python3 -c "print(round(($after_cpu-$before_cpu)/$TICK*1e6/max($replayed,1), 1))")
    pct=$(python3 -c "print(round(100*$received/max($sent,1), 2))")
    offered=$(( sent / DURATION ))
    label=$rate; [ "$rate" = 0 ] && label="max"
    [ "$rate" != 0 ] && label="$rate (wrk -c$conns)"
    echo "offered $label: production $sent ($offered/s), staging received $received ($pct %), CPU ${cpu_us} µs/request, kernel drops $kdrop, queue drops $qdrop, RSS peak $(hwm_kb "$RPID") kB"
    ROWS+=("| $label | $offered | $sent | $received | $pct % | $cpu_us | $(( $(hwm_kb "$RPID") / 1024 )) | $kdrop / $qdrop | ${SOCKET_TIMES% *} / ${SOCKET_TIMES#* } |")
done

echo "== staging outage, wrk as fast as it goes"
kill "$STAGING_PID"; wait "$STAGING_PID" 2>/dev/null || true
before_failed=$(status | field 'd["requests"]["failed"]')
sent=$(wrk_rate "http://127.0.0.1:$P/outage" 0)
sleep 1
doc=$(status)
failed=$(( $(field 'd["requests"]["failed"]' <<<"$doc") - before_failed ))
qdrop=$(field 'd["requests"]["dropped_queue_full"]' <<<"$doc")
OUT_RSS=$(( $(rss_kb "$RPID") / 1024 )); OUT_HWM=$(( $(hwm_kb "$RPID") / 1024 ))
echo "outage: production $sent, failed $failed, queue drops (total) $qdrop, RSS $OUT_RSS MB (peak $OUT_HWM MB)"

kill -TERM "$RPID"; wait "$RPID" || true

{
    echo "Run on $(date -u +%Y-%m-%d) with \`bench/replay.sh\` (DURATION=$DURATION s per rate, wrk -t1 keep-alive, paced steps: PACE_MS=$PACE_MS ms between a connection's requests and the connection count calibrated by a 2 s probe, "max": -c$CONNECTIONS and no delay; production and staging nginx log every request; replayer release build, -output-http-workers ${WORKERS:-16})."
    echo
    echo "Baseline (the machine's limit): wrk straight at staging nginx: **$BASE_RPS requests/s**."
    echo
    echo "| offered | production req/s | production requests | staging received | delivered | replayer CPU µs/request | peak RSS MB | kernel / queue drops | status socket ms p50 / p99 |"
    echo "|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "Staging outage (staging nginx killed, wrk as fast as it goes, $sent production requests): $failed counted as failed, $qdrop dropped on full queues in total; RSS $OUT_RSS MB, peak $OUT_HWM MB."
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
