#!/usr/bin/env bash
# Times one training step of the tutorial-5 network (784-1000-10 LIF, T=25, B=128, Adam) in
# spikeburn (flex and ndarray) and in snnTorch (plain, and with its first layer computed once
# per batch), one after the other on the same machine, and prints each time and the ratio
# spikeburn / snnTorch.
#
#   bash benches/reference/setup_venv.sh      # once
#   bash benches/reference/compare.sh [STEPS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
steps="${1:-40}"
py="$here/.venv/bin/python"
[ -x "$py" ] || { echo "error: $py not found: run bash benches/reference/setup_venv.sh first" >&2; exit 1; }
cd "$root"
cargo build --release -q -p spikeburn-cli
bin="${CARGO_TARGET_DIR:-$root/target}/release/spikeburn"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "spikeburn: $steps timed steps per backend" >&2
"$bin" bench --json --steps "$steps" --warmup 3 --backend flex,ndarray > "$out/ours.jsonl"
for mode in plain once; do
    flag=""; [ "$mode" = once ] && flag="--first-layer-once"
    echo "snnTorch ($mode): $steps steps" >&2
    "$py" "$here/snntorch_mnist.py" --max-steps $((steps + 3)) --json --threads 2 $flag --limit-train $(((steps + 3) * 128)) --log-every 1000 \
        | tail -n 1 > "$out/snntorch-$mode.json"
done

python3 - "$out" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
ours = [json.loads(l) for l in (out / "ours.jsonl").read_text().splitlines() if l.strip()]
ref = {m: json.loads((out / f"snntorch-{m}.json").read_text()) for m in ("plain", "once")}
print(f"{'implementation':<40} {'ms/step':>9} {'vs snnTorch':>12} {'vs snnTorch (fc1 once)':>23}")
for m, label in (("plain", "snnTorch 1.0 (torch, 2 threads)"), ("once", "snnTorch, fc1 once per batch")):
    print(f"{label:<40} {ref[m]['step_ms']:>9.1f}")
for o in ours:
    ms = o["median_ms"]
    print(f"{'spikeburn ' + o['backend']:<40} {ms:>9.1f} {ms / ref['plain']['step_ms']:>12.2f} {ms / ref['once']['step_ms']:>23.2f}")
PY
