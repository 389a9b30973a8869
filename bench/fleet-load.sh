#!/usr/bin/env bash
# The fleet under load (tests/fleet_load.rs, release build): HOSTS production hosts as network
# namespaces, each with nginx and a replayer daemon capturing its own interface, replaying to one
# staging nginx; a client sends each host RATE requests a second for DURATION seconds, for each
# RATE of RATES. Prints, per rate, one line per host (sent, staging got, share, the daemon's
# counters, CPU per request, peak RSS) and one for the fleet. Needs root. Figures and the command
# that made them: docs/benchmarks.md, "Fleet".
#
#   HOSTS=4 RATES="1000 2500 5000" DURATION=5 bench/fleet-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
hosts=${HOSTS:-4}
rates=${RATES:-1000 2500 5000}
duration=${DURATION:-5}
cargo build --release -q --workspace --bins
cargo test --release -q -p replayer-tests --no-run
for rate in $rates; do
  echo "== $hosts hosts, $rate requests/s each, $duration s"
  REPLAYER_FLEET_HOSTS=$hosts REPLAYER_FLEET_RATE=$rate REPLAYER_FLEET_SECONDS=$duration \
    cargo test --release -q -p replayer-tests -- --ignored --exact fleet_load::fleet_load \
    --nocapture 2>&1 | grep -E '^fleet-load|panicked|FAILED'
done
