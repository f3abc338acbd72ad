//! Criterion benchmark of one training step of the `mnist-mlp` preset (snnTorch tutorial 5:
//! 784-1000-10 LIF, T = 25, B = 128): forward over all steps, BPTT backward, Adam update,
//! on each CPU backend. Run with `cargo bench --bench train_step`.

use burn::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};
use spikeburn::data::Batch;
use spikeburn::train::trainer::{optimizer, train_step};
use spikeburn::train::{BackendKind, ExperimentConfig};
use std::time::Duration;

mod common;

fn bench_train_step(c: &mut Criterion) {
    spikeburn::train::runtime::tune_allocator();
    let config = ExperimentConfig::preset("mnist-mlp").expect("preset");
    let (b, inputs) = (config.training.batch_size, config.model.input_size());
    let mut group = c.benchmark_group("train_step");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for backend in BackendKind::ALL {
        let Some(device) = common::bench_device(backend) else {
            continue;
        };
        let mut model = Some(config.model.init(config.training.seed, &device));
        let mut optim = optimizer(&config);
        let images = Tensor::<2>::random(
            [b, inputs],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let labels: Vec<i64> = (0..b as i64).map(|i| i % 10).collect();
        let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [b]), &device);
        group.bench_function(backend.name(), |bench| {
            bench.iter(|| {
                let m = model.take().expect("model");
                let (m, _, _) = train_step(
                    m,
                    &mut optim,
                    &config.training,
                    Batch::new(images.clone(), targets.clone()),
                );
                let _ = m.sync();
                model = Some(m);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_train_step);
criterion_main!(benches);
