#!/usr/bin/env bash
# One-command GPU benchmark (spikeburn's fused CubeCL kernels on burn-wgpu, and on burn's CUDA
# backend with CUDA=1):
#   - the device's square GEMM throughput;
#   - the tutorial-5 training step (784-1000-10 LIF MLP, T=25, B=128, forward + backward + Adam);
#   - Linear(N,N) + LIF, B=16, forward + backward of sum(spikes), N = 512 ... 16384, T = 100 and
#     500 (Open Neuromorphic's LIF layer benchmark at N = 4096 and 16384, T = 500: pass
#     SIZES=4096,16384).
# Every timed repetition waits for the device (a scalar read, then Device::sync) before the clock
# is read; "dev MiB" is the memory burn's allocator holds on the device after the case.
#
# CUDA=1 builds with `--features wgpu,cuda` and times both backends side by side. cubecl-cuda
# downloads an LLVM bundle when it is first built, so that build needs network access (or a
# target directory where it was built before).
#
# The tables go to the terminal and to $REPORT (default docs/benchmarks-gpu.md) with the date,
# commit and GPU. About 2-3 minutes per backend on a recent GPU once built; extra
# `spikeburn bench` flags pass through "$@".
set -euo pipefail
cd "$(dirname "$0")/.."
features=wgpu
backends=wgpu
if [ "${CUDA:-0}" = 1 ]; then
    features=wgpu,cuda
    backends=wgpu,cuda
fi
sizes=${SIZES:-512,2048,8192,16384}
report=${REPORT:-docs/benchmarks-gpu.md}
cargo build --release --workspace --features "$features"
bin="${CARGO_TARGET_DIR:-target}/release/spikeburn"
tables=$(mktemp)
trap 'rm -f "$tables" "$report.partial"' EXIT
bench() {
    echo "\$ spikeburn bench --backend $backends $*"
    "$bin" bench --backend "$backends" "$@"
    echo
}
{
    bench --workload gemm --steps 5 "$@"
    bench --workload train-step --steps 20 --warmup 3 "$@"
    bench --workload lif-layer --sizes "$sizes" --num-steps 100 --steps 10 --warmup 2 "$@"
    bench --workload lif-layer --sizes "$sizes" --num-steps 500 --steps 5 --warmup 1 "$@"
} | tee "$tables"
gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1 || true)
{
    echo "# GPU benchmarks"
    echo
    echo "Written by \`bash benches/gpu.sh\` on $(date -u +%F), commit" \
        "$(git rev-parse --short HEAD 2>/dev/null || echo unknown), backends $backends${gpu:+, $gpu}."
    echo
    echo '```text'
    cat "$tables"
    echo '```'
} > "$report.partial"
mv "$report.partial" "$report"
echo "wrote $report"
