#!/usr/bin/env bash
# Wall time of the check plugins, with hyperfine, release build:
#   - check_replayer_procs against the real check_procs, same options, same run (the goal:
#     at most one fifth of check_procs' median);
#   - check_replay_rate and check_replay_5xx against a document served on a Unix socket by
#     the serve_status example (the goal: under 2 ms median).
# Prints the figures as the "Check plugins" section of docs/benchmarks.md; with --write,
# replaces that section in the file (between its markers) so the figures and the command
# that made them stay together.
#
#   bench/checks.sh [--write] [RUNS]     (default 300 runs per command, in 6 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."

write=false
if [ "${1:-}" = --write ]; then
  write=true
  shift
fi
runs="${1:-300}"

check_procs=/usr/lib/nagios/plugins/check_procs
for tool in hyperfine "$check_procs"; do
  command -v "$tool" >/dev/null || { echo "bench/checks.sh: $tool is missing (scripts/install-deps test)" >&2; exit 1; }
done

cargo build -q --release -p replayer-checks --bins --example serve_status
bin=target/release

tmp="$(mktemp -d /tmp/replayer-bench.XXXXXX)"
server=""
cleanup() {
  [ -n "$server" ] && { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
  rm -rf "$tmp"
}
trap cleanup EXIT

"$bin/examples/serve_status" "$tmp/status.sock" checks/demo/status.json &
server=$!
for _ in $(seq 100); do [ -S "$tmp/status.sock" ] && break; sleep 0.05; done

# The process both count is the status server (named serve_status): one match, exit 0.
procs_opts="-c 1: -C serve_status"
no_flag="--sync-flag $tmp/no-flag"
# The machine is shared: load that comes and goes would favour whichever command ran while
# it was quiet. So the runs are split into rounds, each round runs all four commands, and the
# figure for a command is the median of its per-round medians.
rounds=6
per_round=$(((runs + rounds - 1) / rounds))
for r in $(seq "$rounds"); do
  hyperfine -N --warmup 10 --runs "$per_round" --export-csv "$tmp/round$r.csv" \
    -n check_procs "$check_procs $procs_opts" \
    -n check_replayer_procs "$bin/check_replayer_procs $procs_opts $no_flag" \
    -n check_replay_rate "$bin/check_replay_rate -S $tmp/status.sock $no_flag" \
    -n check_replay_5xx "$bin/check_replay_5xx -S $tmp/status.sock $no_flag" >&2
done

# CSV: command,mean,stddev,median,user,system,min,max (seconds).
median_ms() {
  awk -F, -v n="$1" '$1 == n { print $4 * 1000 }' "$tmp"/round*.csv | sort -g |
    awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m }'
}
cp_ms="$(median_ms check_procs)"
ours_ms="$(median_ms check_replayer_procs)"
rate_ms="$(median_ms check_replay_rate)"
five_ms="$(median_ms check_replay_5xx)"
ratio="$(awk -v a="$ours_ms" -v b="$cp_ms" 'BEGIN { printf "%.3f", a / b }')"
speedup="$(awk -v a="$ours_ms" -v b="$cp_ms" 'BEGIN { printf "%.1f", b / a }')"
procs_count="$(ps -e --no-headers | wc -l)"

section="$(cat <<EOF
<!-- checks:begin -->
## Check plugins

\`bench/checks.sh --write $runs\` ($(date -u +%Y-%m-%d), $(nproc) cores shared with other work,
load $(cut -d' ' -f1 /proc/loadavg), about $procs_count processes; release build; hyperfine
\`-N --warmup 10 --runs $per_round\` in $rounds rounds, each round running all four commands;
a figure is the median of the command's $rounds per-round medians):

| command | median wall time |
|---|---|
| \`check_procs $procs_opts\` (monitoring-plugins 2.3, forks \`ps\`) | $cp_ms ms |
| \`check_replayer_procs $procs_opts\` (reads \`/proc\`) | $ours_ms ms |
| \`check_replay_rate -S SOCKET\` (demo document) | $rate_ms ms |
| \`check_replay_5xx -S SOCKET\` (demo document) | $five_ms ms |

\`check_replayer_procs\` takes **$ratio** of \`check_procs\`' median time ($speedup× faster; goal
≤ 0.2). The socket checks' goal is under 2 ms median.
<!-- checks:end -->
EOF
)"

echo "$section"

if $write; then
  doc=docs/benchmarks.md
  if [ ! -f "$doc" ]; then
    printf '# Benchmarks\n\nEach section is written by the script it names, with the exact command, and compares\nagainst a baseline measured in the same run.\n' > "$doc"
  fi
  printf '%s\n' "$section" > "$tmp/section.md"
  if grep -q '<!-- checks:begin -->' "$doc"; then
    # Replace the old section in place; other sections are left alone.
    awk -v new="$tmp/section.md" '
      /<!-- checks:begin -->/ { while ((getline line < new) > 0) print line; skip = 1; next }
      /<!-- checks:end -->/ { skip = 0; next }
      !skip { print }
    ' "$doc" > "$tmp/doc.md"
    cat "$tmp/doc.md" > "$doc"
  else
    printf '\n%s\n' "$section" >> "$doc"
  fi
  echo "bench/checks.sh: wrote the Check plugins section of $doc" >&2
fi
