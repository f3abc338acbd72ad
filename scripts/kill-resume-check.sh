#!/usr/bin/env bash
# Crash-safety check of the real binary: trains CONFIG once straight, then again while
# killing the process with SIGKILL at random moments and resuming it until it finishes, and
# compares the two runs' weights with `spikeburn compare` (bit for bit).
#
#   scripts/kill-resume-check.sh CONFIG.toml [KILLS=8] [DATA_DIR=datasets/mnist]
#
# Prints each kill (seconds after start, the checkpoint it left) and the verdict; exits 1 if
# the weights differ. Uses target/release/spikeburn (SPIKEBURN_BIN overrides).
set -euo pipefail
config=${1:?usage: kill-resume-check.sh CONFIG.toml [KILLS] [DATA_DIR]}
kills=${2:-8}
data=${3:-datasets/mnist}
bin=${SPIKEBURN_BIN:-${CARGO_TARGET_DIR:-target}/release/spikeburn}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

start=$(date +%s.%N)
"$bin" train --config "$config" --data-dir "$data" --out "$work/straight" >/dev/null
straight_s=$(echo "$(date +%s.%N) - $start" | bc)
echo "straight run: ${straight_s} s"

run="$work/killed"
"$bin" train --config "$config" --data-dir "$data" --out "$run" >/dev/null 2>&1 &
pid=$!
for i in $(seq 1 "$kills"); do
    # A random moment within the straight run's duration.
    delay=$(python3 -c "import random; print(round(random.uniform(0.2, $straight_s * 0.6), 2))")
    sleep "$delay"
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        where=$(python3 -c "import json,sys; print(json.load(open('$run/checkpoint.json'))['dir'])" 2>/dev/null || echo "no checkpoint yet")
        echo "kill $i after ${delay} s: $where"
    fi
    if [ -f "$run/config.toml" ]; then
        "$bin" train --resume "$run" >/dev/null 2>&1 &
    else
        rm -rf "$run"
        "$bin" train --config "$config" --data-dir "$data" --out "$run" >/dev/null 2>&1 &
    fi
    pid=$!
done
wait "$pid"
"$bin" compare "$work/straight" "$run"
