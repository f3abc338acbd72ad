//! Times the phases of one training step of the `mnist-mlp` preset (forward, loss, backward,
//! Adam) on the default CPU backend: `cargo run --release --example profile_step`.

use burn::optim::GradientsParams;
use burn::prelude::*;
use spikeburn::train::trainer::{compute_loss, optimizer};
use spikeburn::train::{BackendKind, ExperimentConfig};
use std::time::Instant;

fn main() {
    spikeburn::train::runtime::tune_allocator();
    let backend: BackendKind = std::env::args()
        .nth(1)
        .map_or(Ok(BackendKind::Flex), |s| s.parse())
        .unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(2)
        });
    let config = ExperimentConfig::preset("mnist-mlp").expect("built-in preset");
    let device = backend
        .device()
        .unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(2)
        })
        .autodiff();
    let b = config.training.batch_size;
    let mut model = config.model.init(config.training.seed, &device);
    let mut optim = optimizer(&config);
    let images = Tensor::<2>::random(
        [b, 784],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        &device,
    );
    let labels: Vec<i64> = (0..b as i64).map(|i| i % 10).collect();
    let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [b]), &device);
    let mut totals = [0.0f64; 4];
    let steps = 10;
    for i in 0..steps + 2 {
        let t0 = Instant::now();
        let out = model.forward(images.clone());
        let _ = out.spikes.clone().sum().into_scalar::<f32>();
        let t1 = Instant::now();
        let loss = compute_loss(&config.training, &out, targets.clone());
        let _ = loss.clone().into_scalar::<f32>();
        let t2 = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let t3 = Instant::now();
        model = optim.step(config.training.lr, model, grads);
        let _ = model.sync();
        let t4 = Instant::now();
        if i >= 2 {
            for (acc, d) in totals.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2, t4 - t3]) {
                *acc += d.as_secs_f64() * 1e3 / steps as f64;
            }
        }
    }
    println!(
        "{backend}: forward {:.1} ms, loss {:.1} ms, backward {:.1} ms, adam {:.1} ms, total {:.1} ms",
        totals[0],
        totals[1],
        totals[2],
        totals[3],
        totals.iter().sum::<f64>()
    );
}
