#!/usr/bin/env bash
# Times scripts/test phase by phase: runs it in DIR (a clone of this repository, default the
# current one) and writes every output line to LOG prefixed with the seconds since the start,
# so the phases ("== cargo test", "== fuzzing ...") can be read off. Figures and how they were
# taken: docs/benchmarks.md, "Test suite".
#
# Usage: bench/test-suite.sh [DIR] [LOG]   (default LOG: bench/out/test-suite.log)
set -uo pipefail
dir=${1:-.}
log=${2:-bench/out/test-suite.log}
mkdir -p "$(dirname "$log")"
log=$(cd "$(dirname "$log")" && pwd)/$(basename "$log")
cd "$dir" || exit 1
start=$EPOCHREALTIME
scripts/test 2>&1 | while IFS= read -r line; do
  printf '%8.1f %s\n' "$(awk -v a="$EPOCHREALTIME" -v b="$start" 'BEGIN{print a-b}')" "$line"
done >"$log"
code=${PIPESTATUS[0]}
echo "exit=$code" >>"$log"
tail -2 "$log"
exit "$code"
