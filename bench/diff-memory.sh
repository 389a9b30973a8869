#!/usr/bin/env bash
# Peak memory of the daemon comparing answers (`--diff`) when every answer is 1 MB.
#
# Production and staging are nginx on 127.0.0.1 serving the same 1 MiB file; wrk (keep-alive,
# CONNECTIONS connections, as fast as it can for DURATION s) is production's client; the daemon
# captures on lo, replays every request to staging and compares the answers. Reports the rate
# wrk reached, what the daemon replayed and compared, and its peak RSS (VmHWM) against the same
# run without --diff (the baseline, same machine, same load). Live capture needs root.
#
# Usage: bench/diff-memory.sh   (env: DURATION=10 CONNECTIONS=16)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
out=$PWD/bench/out/diff-memory
rm -rf "$out"
mkdir -p "$out/www"
cargo build -q --release -p replayer
R=$PWD/target/release/replayer
head -c $((1 << 20)) /dev/urandom >"$out/www/big.bin"

start_nginx() { # NAME PORT
  local dir=$out/$1
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1; pid $dir/nginx.pid; error_log $dir/logs/error.log;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir;
  uwsgi_temp_path $dir; scgi_temp_path $dir; keepalive_requests 1000000; sendfile on;
  server { listen 127.0.0.1:$2; root $out/www; } }
EOF
  nginx -c "$dir/nginx.conf" -p "$dir" >/dev/null 2>&1 &
  echo $!
}

P=$((20000 + RANDOM % 10000))
S=$((P + 10000))
prod=$(start_nginx production "$P")
stag=$(start_nginx staging "$S")
trap 'kill $prod $stag 2>/dev/null || true' EXIT
sleep 0.5

run() { # LABEL EXTRA-FLAGS...
  local label=$1
  shift
  "$R" -input-raw "127.0.0.1:$P" -output-http "http://127.0.0.1:$S" \
    --status-socket "$out/status.sock" --sync-flag "$out/no-flag" "$@" 2>"$out/$label.log" &
  local pid=$!
  sleep 1
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$P/big.bin" >"$out/$label.wrk"
  sleep 2
  local hwm status
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  status=$("$R" status --json -S "$out/status.sock")
  kill -TERM $pid
  wait $pid || true
  python3 - "$label" "$hwm" "$out/$label.wrk" "$DURATION" <<EOF
import json, sys, re
label, hwm, wrk, duration = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read(), float(sys.argv[4])
doc = json.loads('''$status''')
sent = int(re.search(r"(\d+) requests in", wrk).group(1))
r = doc["requests"]
d = doc.get("diff") or {}
c = doc["capture"]
print(f"| {label} | {sent / duration:,.0f} | {r['replayed']:,} | {d.get('compared', 0):,} | {d.get('same', 0):,} | {d.get('prod_missing', 0):,} | {d.get('untracked', 0):,} | {c.get('kernel_dropped', 0):,} | {hwm / 1024:.1f} |")
EOF
}

echo "| run | wrk requests/s (1 MiB answers) | replayed | compared | same | prod_missing | untracked | kernel drops | peak RSS MB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
run baseline
run diff --diff
[ -n "${EXTRA:-}" ] && run diff-extra --diff $EXTRA
