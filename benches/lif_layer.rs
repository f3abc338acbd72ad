//! Criterion benchmark of the Open Neuromorphic layer shape: Linear(N, N) + LIF over a random
//! input `[T = 100, B = 16, N]`, forward and backward of `sum(spikes)`, for N = 512 and 2048
//! on each CPU backend. Run with `cargo bench --bench lif_layer` (`spikeburn bench --workload
//! lif-layer` also times N = 8192 and reports the GEMM share).

use burn::nn::LinearConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use spikeburn::core::LifConfig;
use spikeburn::core::layers::linear_over_time;
use spikeburn::train::BackendKind;
use std::time::Duration;

mod common;

fn lif_layer(c: &mut Criterion) {
    spikeburn::train::runtime::tune_allocator();
    let (t, b) = (100, 16);
    let mut group = c.benchmark_group("lif_layer");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for backend in BackendKind::ALL {
        for n in [512usize, 2048] {
            let Some(device) = common::bench_device(backend) else {
                continue;
            };
            let linear = LinearConfig::new(n, n).init(&device);
            let lif = LifConfig::new().init(n, &device);
            let input = Tensor::<3>::random([t, b, n], Distribution::Uniform(0.0, 0.5), &device);
            group.bench_function(BenchmarkId::new(backend.name(), n), |bench| {
                bench.iter(|| {
                    let spikes = lif.forward(linear_over_time(&linear, input.clone()));
                    let grads = spikes.sum().backward();
                    linear
                        .weight
                        .val()
                        .grad(&grads)
                        .map(|g| g.sum().into_scalar::<f32>())
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, lif_layer);
criterion_main!(benches);
