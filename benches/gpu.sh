#!/usr/bin/env bash
# One-command GPU benchmark (burn-wgpu with spikeburn's fused CubeCL kernels):
#   - the tutorial-5 training step (784-1000-10 LIF MLP, T=25, B=128, forward + backward + Adam);
#   - Linear(N,N) + LIF, B=16, forward + backward of sum(spikes), N = 512 ... 16384, T = 100 and 500;
#   - the device's square GEMM throughput.
# Every timed repetition waits for the device (a scalar read, then Device::sync) before the clock
# is read; "dev MiB" is the memory burn's allocator holds on the device after the case.
# About 2-3 minutes on a recent GPU once built; pass extra `spikeburn bench` flags through "$@".
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --features wgpu -p spikeburn-cli
bin="${CARGO_TARGET_DIR:-target}/release/spikeburn"
"$bin" bench --backend wgpu --workload gemm --steps 5 "$@"
"$bin" bench --backend wgpu --workload train-step --steps 20 --warmup 3 "$@"
"$bin" bench --backend wgpu --workload lif-layer --sizes 512,2048,8192,16384 --num-steps 100 --steps 10 --warmup 2 "$@"
"$bin" bench --backend wgpu --workload lif-layer --sizes 512,2048,8192,16384 --num-steps 500 --steps 5 --warmup 1 "$@"
