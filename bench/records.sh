#!/usr/bin/env bash
# Record-and-replay benchmark (`--input-file`), on record files made here (bench/out/records/,
# which git ignores), in one run:
#   - speed: FAST requests read and sent to `-output-null` as fast as possible (`|max`), on one
#     core (taskset) and free, against `cat FILE > /dev/null` (the I/O floor) in the same run;
#   - pacing: PACED requests recorded RATE a second apart, replayed at 100% to a real nginx on
#     127.0.0.1; tcpdump captures them on the loopback (kernel timestamps, read by tshark) and each
#     gap between consecutive requests is compared with the recorded one: p50, p99 and max of
#     |sent gap - recorded gap|, and the drift of the last request from its due time;
#   - memory: a BIG_GB record file (requests with a 1 KB header, GoReplay's kind) replayed as
#     fast as possible to `-output-null`, peak RSS from `/usr/bin/time -v`.
# Live capture needs root (or CAP_NET_RAW). Prints a Markdown table (left in
# bench/out/records/result.md); with --write, puts it in docs/benchmarks.md's "Record and
# replay" section.
#
# Usage: bench/records.sh [--write]   (env: FAST=1000000 PACED=50000 RATE=10000 BIG_GB=2 RUNS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
FAST=${FAST:-1000000}
PACED=${PACED:-50000}
RATE=${RATE:-10000}
BIG_GB=${BIG_GB:-2}
RUNS=${RUNS:-3}
out=$PWD/bench/out/records
mkdir -p "$out"
cargo build -q --release -p replayer
R=$PWD/target/release/replayer

# GoReplay records: N GET requests, `gap_ns` apart, each with a header padded to `pad` bytes.
make_records() { # FILE N GAP_NS PAD
  python3 - "$@" <<'EOF'
import sys
path, n, gap, pad = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
base = 1_700_000_000_000_000_000
sep = "\n🐵🙈🙉\n".encode()
filler = b"x" * pad
with open(path, "wb", buffering=1 << 22) as f:
    for i in range(n):
        request = (b"GET /r/%d?q=%d HTTP/1.1\r\nHost: www.example.org\r\nUser-Agent: bench/1\r\n"
                   b"Accept: */*\r\nX-Pad: %s\r\n\r\n") % (i, i * 7, filler)
        f.write(b"1 %024x %d 0\n" % (i, base + i * gap) + request + sep)
EOF
}

best_of() { # COMMAND...: the shortest wall time of RUNS runs, in seconds
  local best=
  for _ in $(seq "$RUNS"); do
    local start end t
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
  done
  echo "$best"
}

echo "== speed: $FAST requests to -output-null"
fast=$out/fast.gor
[ -s "$fast" ] || make_records "$fast" "$FAST" 1000 0
size=$(stat -c %s "$fast")
t_cat=$(best_of cat "$fast")
t_one=$(best_of taskset -c 0 "$R" -input-file "$fast|max" -output-null)
t_free=$(best_of "$R" -input-file "$fast|max" -output-null)

echo "== pacing: $PACED requests at $RATE/s, replayed at 100% to nginx, captured on lo"
paced=$out/paced.gor
gap_ns=$((1000000000 / RATE))
make_records "$paced" "$PACED" "$gap_ns" 0
port=$((20000 + RANDOM % 20000))
ngx=$out/nginx
rm -rf "$ngx"
mkdir -p "$ngx/logs"
cat >"$ngx/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1; pid $ngx/nginx.pid;
error_log $ngx/logs/error.log;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path $ngx; proxy_temp_path $ngx; fastcgi_temp_path $ngx;
  uwsgi_temp_path $ngx; scgi_temp_path $ngx; keepalive_requests 1000000;
  server { listen 127.0.0.1:$port; location / { return 200 "ok\n"; } } }
EOF
nginx -c "$ngx/nginx.conf" -p "$ngx" &
nginx_pid=$!
# tcpdump, not a replayer: a replayer would not record replayed requests (the loop marker).
tcpdump -i lo -s 512 -B 65536 -w "$out/captured.pcap" "tcp dst port $port" 2>"$out/capture.log" &
capture_pid=$!
trap 'kill $nginx_pid $capture_pid 2>/dev/null || true' EXIT
sleep 1
"$R" -input-file "$paced" -output-http "http://127.0.0.1:$port" \
  --status-socket "$out/status.sock" --sync-flag "$out/no-flag" 2>"$out/replay.log"
sleep 1
kill -INT $capture_pid
wait $capture_pid || true
kill $nginx_pid
wait $nginx_pid 2>/dev/null || true
trap - EXIT
tshark -r "$out/captured.pcap" -Y http.request -T fields -e frame.time_epoch -e http.request.uri \
  >"$out/captured.tsv" 2>/dev/null
read -r captured p50 p99 worst drift < <(python3 - "$out/captured.tsv" "$gap_ns" <<'EOF'
import sys, re
from decimal import Decimal
gap = int(sys.argv[2])
at = {}
for line in open(sys.argv[1]):
    epoch, _, uris = line.rstrip("\n").partition("\t")
    # Requests written together (pipelined) share a frame: tshark lists them comma-separated.
    for uri in uris.split(","):
        m = re.match(r"/r/(\d+)\?", uri)
        if m:
            at[int(m.group(1))] = int(Decimal(epoch) * 1_000_000_000)
errors = sorted(abs((at[i] - at[i - 1]) - gap) for i in at if i - 1 in at)
first = min(at)
drift = (at[max(at)] - at[first]) - (max(at) - first) * gap
pick = lambda q: errors[min(len(errors) - 1, int(q * len(errors)))]
print(len(at), pick(0.5) / 1e6, pick(0.99) / 1e6, errors[-1] / 1e6, drift / 1e6)
EOF
)

echo "== memory: a ${BIG_GB} GB record file to -output-null"
big=$out/big.gor
big_n=$((BIG_GB * 1024 * 1024))  # ~1.2 KB a record (a 1 KB header): a little over BIG_GB
[ -s "$big" ] || make_records "$big" "$big_n" 1000 1000
big_size=$(stat -c %s "$big")
/usr/bin/time -v "$R" -input-file "$big|max" -output-null 2>"$out/big.time" >/dev/null
rss_kb=$(awk -F': ' '/Maximum resident/ {print $2}' "$out/big.time")
big_wall=$(awk -F': ' '/Elapsed \(wall/ {print $2}' "$out/big.time")

mb() { echo "scale=1; $1 / 1048576" | bc -l; }
rate() { echo "scale=0; $1 / $2" | bc -l; }
cat >"$out/result.md" <<EOF
| measure | figure |
|---|---|
| speed: $FAST requests ($(mb "$size") MB), \`cat\` (I/O floor) | $(printf %.3f "$t_cat") s |
| speed: \`-input-file FILE\\|max -output-null\`, one core | $(printf %.3f "$t_one") s: **$(rate "$FAST" "$t_one") requests/s** ($(echo "scale=1; $t_one / $t_cat" | bc -l)× cat) |
| speed: the same, free (two cores) | $(printf %.3f "$t_free") s: $(rate "$FAST" "$t_free") requests/s |
| pacing: $PACED requests at $RATE/s, 100%, to nginx; captured | $captured |
| pacing: \|sent gap − recorded gap\| p50 / p99 / max | $p50 / **$p99** / $worst ms |
| pacing: last request's drift from its due time | $drift ms |
| memory: $(mb "$big_size") MB record file to \`-output-null\`, peak RSS | **$(echo "scale=1; $rss_kb / 1024" | bc -l) MB** (wall $big_wall) |
EOF
cat "$out/result.md"
if [ "${1:-}" = --write ]; then
  python3 - "$out/result.md" <<'EOF'
import sys, re
table = open(sys.argv[1]).read()
path = "docs/benchmarks.md"
doc = open(path).read()
start = doc.index("<!-- records:begin -->")
end = doc.index("<!-- records:end -->")
doc = doc[:start] + "<!-- records:begin -->\n" + table + doc[end:]
open(path, "w").write(doc)
EOF
fi
