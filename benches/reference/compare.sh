#!/usr/bin/env bash
# Runs spikeburn's and the Python reference frameworks' benchmarks one after the other on this
# machine and prints one table per workload with each time and the ratio spikeburn / that:
#   train_step  tutorial-5 MLP (784-1000-10 LIF, T=25, B=128), forward + backward + Adam
#   lif_layer   Linear(N,N) + LIF, B=16, T=100, forward + backward of sum(spikes)
#   memory      Linear(1024) + LIF, B=32, at T = 100, 500, 1000: peak memory and memory per step
#               (spikeburn also with gradient checkpointing, --checkpoint-segment 25)
# then spikeburn alone (no reference workload yet): the SHD recurrent network's training step at
# T = 100, 500, 1000 with peak memory (rsnn), a dense layer on sparse input (sparse), and its
# GEMM throughput against the machine's peak (gemm);
# plus the GEMM share of spikeburn's lif_layer time, its GFLOP/s, and the machine's
# single-precision GEMM peak: the best of torch and numpy (OpenBLAS) at 2 threads.
#
#   bash benches/reference/setup_venv.sh                  # once (about 5 GB, PyPI only)
#   bash benches/reference/compare.sh [--quick]           # --quick: N = 512, 2048 only
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py="${SPIKEBURN_VENV:-$HOME/.cache/spikeburn/venv}/bin/python"
[ -x "$py" ] || { echo "error: $py not found: run bash benches/reference/setup_venv.sh first" >&2; exit 1; }
sizes="512,2048,8192"
[ "${1:-}" = "--quick" ] && sizes="512,2048"
cd "$root"
# SPIKEBURN_BIN: an already built `spikeburn` (e.g. one built with --features wgpu) instead of
# building the CPU-only CLI here.
if [ -n "${SPIKEBURN_BIN:-}" ]; then
    bin="$SPIKEBURN_BIN"
else
    cargo build --release -q -p spikeburn-cli
    bin="${CARGO_TARGET_DIR:-$root/target}/release/spikeburn"
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "[1/5] spikeburn train_step" >&2
"$bin" bench --json --steps 20 --warmup 3 --backend flex,ndarray > "$out/ours.jsonl"
echo "[2/5] spikeburn lif_layer (N = $sizes)" >&2
# N <= 2048 take milliseconds per step: 3 warm-up and 10 timed steps, so that the first steps of
# the process (fresh pages, cold caches; 18-21 ms against 10-12 ms at N = 512 with 1 warm-up
# step) do not decide the median. N = 8192 takes seconds per step: 1 and 3.
"$bin" bench --json --workload lif-layer --sizes 512,2048 --steps 10 --warmup 3 --backend flex,ndarray >> "$out/ours.jsonl"
if [ "$sizes" != "512,2048" ]; then
    "$bin" bench --json --workload lif-layer --sizes 8192 --steps 3 --warmup 1 --backend flex,ndarray >> "$out/ours.jsonl"
fi
echo "[3/5] reference train_step" >&2
"$py" "$here/frameworks_bench.py" --json --workload train_step --steps 10 > "$out/theirs.jsonl"
echo "[4/5] reference lif_layer (snnTorch up to N = 2048: it takes minutes per step at 8192)" >&2
"$py" "$here/frameworks_bench.py" --json --workload lif_layer --sizes 512,2048 --steps 3 --warmup 1 >> "$out/theirs.jsonl"
if [ "$sizes" != "512,2048" ]; then
    "$py" "$here/frameworks_bench.py" --json --workload lif_layer --frameworks spikingjelly,norse,spyx \
        --sizes 8192 --steps 1 --warmup 1 >> "$out/theirs.jsonl"
fi
echo "[5/5] GEMM peak (torch, numpy)" >&2
OPENBLAS_NUM_THREADS=2 "$py" "$here/frameworks_bench.py" --json --gemm-peak > "$out/gemm.jsonl"
echo "[+] memory: Linear(1024) + LIF, B = 32, T = 100, 500, 1000 (one process per case)" >&2
for t in 100 500 1000; do
    for segment in "" "--checkpoint-segment 25"; do
        # shellcheck disable=SC2086
        "$bin" bench --json --workload lif-layer --sizes 1024 --batch-size 32 --num-steps "$t" \
            --steps 2 --warmup 1 --backend flex $segment >> "$out/memory.jsonl"
    done
    "$py" "$here/frameworks_bench.py" --json --workload lif_layer --sizes 1024 --lif-batch 32 \
        --timesteps "$t" --steps 1 --warmup 1 >> "$out/memory.jsonl"
done
echo "[+] spikeburn rsnn, sparse, gemm" >&2
"$bin" bench --json --workload rsnn --steps 3 --warmup 1 --backend flex > "$out/ours_extra.jsonl"
"$bin" bench --json --workload sparse --steps 5 --warmup 2 --backend flex >> "$out/ours_extra.jsonl"
"$bin" bench --json --workload gemm --steps 3 --backend flex >> "$out/ours_extra.jsonl"

python3 - "$out" > "$out/table.txt" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
load = lambda f: [json.loads(l) for l in (out / f).read_text().splitlines() if l.strip().startswith("{")]
ours, theirs = load("ours.jsonl"), [r for r in load("theirs.jsonl") if r.get("ok")]
gemm = load("gemm.jsonl")[0]
peak = gemm["gflops"]
for workload in ("train_step", "lif_layer"):
    sizes = sorted({r.get("n", 0) for r in ours if r["workload"] == workload})
    for n in sizes:
        mine = [r for r in ours if r["workload"] == workload and r.get("n", 0) == n]
        refs = [r for r in theirs if r["workload"] == workload and (workload == "train_step" or r["n"] == n)]
        title = workload + ("" if workload == "train_step" else f" N={n}")
        print(f"\n{title}")
        print(f"  {'framework':<22} {'median ms':>10}")
        for r in sorted(refs, key=lambda r: r["median_ms"]):
            print(f"  {r['framework']:<22} {r['median_ms']:>10.1f}")
        fastest = min(refs, key=lambda r: r["median_ms"]) if refs else None
        for r in mine:
            line = f"  {'spikeburn ' + r['backend']:<22} {r['median_ms']:>10.1f}"
            for ref in sorted(refs, key=lambda r: r["median_ms"]):
                line += f"  {ref['framework']} x{r['median_ms'] / ref['median_ms']:.2f}"
            if "gemm_gflops" in r:
                line += f"  | GEMM {100 * r['gemm_share']:.0f}% of time, {r['gemm_gflops']:.0f} GFLOP/s = {100 * r['gemm_gflops'] / peak:.0f}% of peak"
            print(line)
print(f"\nsingle-precision GEMM peak, 2 threads: {peak:.1f} GFLOP/s ({gemm['library']}; all: "
      + ", ".join(f"{k} {max(v.values()):.1f}" for k, v in gemm["by_library"].items()) + ")")
memory = [r for r in load("memory.jsonl") if r.get("ok", True) and r.get("peak_mib")]
def label(r):
    if r["framework"] != "spikeburn":
        return r["framework"]
    seg = r.get("checkpoint_segment")
    return f"spikeburn {r['backend']}" + (f", checkpoint {seg}" if seg else "")
rows = {}
for r in memory:
    rows.setdefault(label(r), {})[r["t"]] = r["peak_mib"]
per_step = {k: (v[1000] - v[100]) / 900 for k, v in rows.items() if 100 in v and 1000 in v}
print("\nmemory: Linear(1024) + LIF, B=32, forward + backward of sum(spikes); peak MiB of the process")
print(f"  {'framework':<30} {'T=100':>7} {'T=500':>7} {'T=1000':>7} {'MiB/step':>9}")
leanest = min((v for k, v in per_step.items() if not k.startswith("spikeburn")), default=None)
for k in sorted(rows, key=lambda k: per_step.get(k, 1e9)):
    v = rows[k]
    cells = " ".join(f"{v[t]:>7.0f}" if t in v else f"{'-':>7}" for t in (100, 500, 1000))
    per = per_step.get(k)
    line = f"  {k:<30} {cells} " + (f"{per:>9.3f}" if per is not None else f"{'-':>9}")
    if k.startswith("spikeburn") and per is not None and leanest:
        line += f"  x{per / leanest:.2f} of the leanest Python framework"
    print(line)
extra = load("ours_extra.jsonl")
print("\nspikeburn rsnn (shd-rsnn training step, flex)")
print(f"  {'T':>6} {'median ms':>10} {'peak MiB':>9} {'MiB/step':>9}")
for r in (r for r in extra if r["workload"] == "rsnn"):
    per = r.get("mib_per_step")
    print(f"  {r['t']:>6} {r['median_ms']:>10.1f} {r.get('peak_mib') or 0:>9.0f} "
          + (f"{per:>9.3f}" if per is not None else f"{'-':>9}"))
print("\nspikeburn sparse input (forward + weight gradient, flex)")
for r in (r for r in extra if r["workload"] == "sparse"):
    print(f"  {r['m']} x {r['k']} -> {r['n']} at {100 * r['density']:.0f}%: dense {r['dense_ms']:.1f} ms, "
          f"sparse {r['sparse_ms']:.1f} ms (x{r['dense_ms'] / r['sparse_ms']:.2f})")
print("\nspikeburn GEMM (flex)")
for r in (r for r in extra if r["workload"] == "gemm_peak"):
    print(f"  {r['op']:<7} {r['n']}^3: {r['gflops']:.1f} GFLOP/s = {100 * r['gflops'] / peak:.0f}% of the peak")
PY
cat "$out/table.txt"

# docs/benchmarks.md: this run's tables with the date, machine and versions they belong to.
{
    echo "# Benchmarks"
    echo
    echo "Written by \`bash benches/reference/compare.sh$([ "$sizes" = "512,2048" ] && echo " --quick")\` on $(date -u +%Y-%m-%d)."
    echo "Every figure below comes from that one run on one machine; rerun the script to replace them."
    echo
    echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores visible"
    echo "- spikeburn: $("$bin" --version 2>/dev/null | head -1), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- dense layers: $("$bin" bench --workload gemm --steps 1 --backend flex 2>/dev/null | sed -n 's/^dense layers on the CPU: //p' | head -1)"
    echo "- Python: $("$py" -c 'import importlib.metadata as m; print(", ".join(f"{p} {m.version(p)}" for p in ["torch", "snntorch", "spikingjelly", "norse", "spyx", "jax", "numpy"]))' 2>/dev/null)"
    echo
    echo "Ratios are spikeburn's time over the other framework's: below 1, spikeburn is faster."
    echo
    echo '```text'
    cat "$out/table.txt"
    echo '```'
} > "$root/docs/benchmarks.md"
echo "wrote $root/docs/benchmarks.md" >&2
