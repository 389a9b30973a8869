#!/usr/bin/env bash
# Records demo/production.pcap, the capture scripts/demo replays: real traffic from curl to a
# real nginx on 127.0.0.1:7999 (the port GOV.UK's Varnish listened on, behind TLS), captured
# on lo with tcpdump. A browsing mix with keep-alive: GETs and HEADs of GOV.UK-like pages, an
# OPTIONS, form POSTs, PUTs and DELETEs that must never reach staging, and two pages that the
# demo's staging stand-in answers with 500. Needs root (tcpdump on lo).
set -euo pipefail
cd "$(dirname "$0")"
PORT=7999
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/t"
cat > "$tmp/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1; pid $tmp/nginx.pid; error_log $tmp/error.log warn;
events { worker_connections 64; }
http { access_log off; client_body_temp_path $tmp/t; proxy_temp_path $tmp/t; fastcgi_temp_path $tmp/t;
  uwsgi_temp_path $tmp/t; scgi_temp_path $tmp/t;
  server { listen 127.0.0.1:$PORT; location / { return 200 "production\n"; } } }
CONF
nginx -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/error.log" &
sleep 0.5
tcpdump -i lo -n -s 65535 -w production.pcap "tcp port $PORT" 2> "$tmp/tcpdump.log" &
sleep 1
ua=(-A "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0")
u="http://127.0.0.1:$PORT"
for round in 1 2 3 4; do
  curl -s -o /dev/null "${ua[@]}" "$u/" --next -s -o /dev/null "${ua[@]}" "$u/browse/benefits" \
    --next -s -o /dev/null "${ua[@]}" "$u/government/publications/budget-2026?page=$round" \
    --next -s -o /dev/null "${ua[@]}" -I "$u/search/all?keywords=tax&order=relevance" \
    --next -s -o /dev/null "${ua[@]}" "$u/vehicle-tax" \
    --next -s -o /dev/null "${ua[@]}" -X POST --data-binary "email=someone%40example.org" "$u/email-signup" \
    --next -s -o /dev/null "${ua[@]}" "$u/bank-holidays.json" \
    --next -s -o /dev/null "${ua[@]}" "$u/guidance/tax-rates-$round"
done
curl -s -o /dev/null "${ua[@]}" -X OPTIONS "$u/api/content/" \
  --next -s -o /dev/null "${ua[@]}" -X PUT --data-binary "{}" "$u/api/content/x" \
  --next -s -o /dev/null "${ua[@]}" -X DELETE "$u/api/content/x" \
  --next -s -o /dev/null "${ua[@]}" "$u/fail/apply-for-a-passport" \
  --next -s -o /dev/null "${ua[@]}" "$u/fail/renew-a-driving-licence"
for i in $(seq 1 20); do
  curl -s -o /dev/null "${ua[@]}" "$u/government/news/item-$i" --next -s -o /dev/null "${ua[@]}" "$u/assets/app-$i.css"
done
sleep 1
kill -INT %2 2>/dev/null || kill -INT "$(jobs -p | tail -1)"
wait %2 2>/dev/null || true
cat "$tmp/tcpdump.log" | grep -E "captured" || true
