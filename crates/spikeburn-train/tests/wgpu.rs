//! Training on burn-wgpu: a step on the GPU equals the same step on the CPU, and a short run
//! learns and reloads on the CPU. Skipped, with the reason printed, where no wgpu adapter exists
//! (a failure instead under `SPIKEBURN_REQUIRE_WGPU=1`, as `.ci/run` sets it).

use burn::prelude::*;
use burn::tensor::Distribution;
use spikeburn_core::gpu::wgpu_or_skip;
use spikeburn_train::trainer::{load_run_model, optimizer, train_step};
use spikeburn_train::{BackendKind, ExperimentConfig, Silent, train};

fn small_config() -> ExperimentConfig {
    let mut c = ExperimentConfig::preset("mnist-mlp").expect("preset");
    c.data.limit_train = 1024;
    c.data.limit_test = 300;
    c.model.hidden = vec![200];
    c.model.num_steps = 10;
    c.training.batch_size = 64;
    c.training.lr = 2e-3;
    c.training.epochs = 2;
    c
}

fn weights(model: &spikeburn_core::SpikingNetwork) -> Vec<f32> {
    model
        .linears()
        .into_iter()
        .flat_map(|l| {
            l.weight
                .val()
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("f32")
        })
        .collect()
}

/// Two Adam steps of the MNIST MLP (fused LIF kernels, rate loss) from the same weights and
/// batch give the same losses and weights on wgpu as on burn-flex.
#[test]
fn training_steps_on_wgpu_equal_the_cpu() {
    let Some(gpu) = wgpu_or_skip("training_steps_on_wgpu_equal_the_cpu") else {
        return;
    };
    let config = small_config();
    let b = config.training.batch_size;
    let images_host =
        Tensor::<2>::random([b, 784], Distribution::Uniform(0.0, 1.0), &Device::flex()).into_data();
    let labels: Vec<i64> = (0..b as i64).map(|i| i % 10).collect();
    let run = |device: Device| {
        let device = device.autodiff();
        let mut model = config.model.init(config.training.seed, &device);
        let mut optim = optimizer(&config);
        let images = Tensor::<2>::from_data(images_host.clone(), &device);
        let targets = Tensor::<1, Int>::from_data(TensorData::new(labels.clone(), [b]), &device);
        let mut losses = Vec::new();
        for _ in 0..2 {
            let (next, loss, _) = train_step(
                model,
                &mut optim,
                &config.training,
                images.clone(),
                targets.clone(),
            );
            model = next;
            losses.push(loss);
        }
        (losses, weights(&model))
    };
    let (loss_gpu, w_gpu) = run(gpu);
    let (loss_cpu, w_cpu) = run(Device::flex());
    for (g, c) in loss_gpu.iter().zip(&loss_cpu) {
        assert!(
            (g - c).abs() <= 1e-4 * c.abs().max(1.0),
            "loss: wgpu {g} vs flex {c}"
        );
    }
    let worst = w_gpu
        .iter()
        .zip(&w_cpu)
        .map(|(g, c)| (g - c).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "weights differ by up to {worst}");
}

/// `train` with `backend = "wgpu"`: two epochs on 1,024 MNIST images learn (loss falls, held-out
/// accuracy far above chance), and the saved weights reload on the CPU with the same accuracy.
#[test]
fn short_wgpu_run_learns_and_reloads_on_the_cpu() {
    if wgpu_or_skip("short_wgpu_run_learns_and_reloads_on_the_cpu").is_none() {
        return;
    }
    let mut config = small_config();
    config.training.backend = BackendKind::Wgpu;
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let outcome = train(&config, &run, &mut Silent).expect("training on wgpu");
    let [first, second] = outcome.epochs.as_slice() else {
        panic!("expected two epoch records");
    };
    assert!(
        second.train_loss < first.train_loss,
        "loss did not fall: {} then {}",
        first.train_loss,
        second.train_loss
    );
    assert!(
        second.test_accuracy > 0.6,
        "held-out accuracy {} is not far above chance (0.1)",
        second.test_accuracy
    );
    let saved = spikeburn_train::load_run_config(&run).expect("config");
    assert_eq!(saved.training.backend, BackendKind::Wgpu);
    let on_cpu = load_run_model(&run, &saved, &Device::flex()).expect("reload on the CPU");
    assert_eq!(weights(&on_cpu).len(), 784 * 200 + 200 * 10);
}
