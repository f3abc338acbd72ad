//! `spikeburn bench`: wall time of training steps on synthetic data.

use anyhow::{Result, bail};
use burn::optim::GradientsParams;
use burn::prelude::*;
use clap::Args;
use spikeburn_train::config::PRESETS;
use spikeburn_train::trainer::{compute_loss, optimizer};
use spikeburn_train::{BackendKind, ExperimentConfig};
use std::time::Instant;

/// Options of `spikeburn bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Experiment whose network and optimiser are timed.
    #[arg(long, default_value = "mnist-mlp", value_parser = clap::builder::PossibleValuesParser::new(PRESETS))]
    preset: String,
    /// Backends to time, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = BackendKind::ALL, value_parser = |s: &str| s.parse::<BackendKind>())]
    backend: Vec<BackendKind>,
    /// Timed training steps per backend.
    #[arg(long, default_value_t = 20)]
    steps: usize,
    /// Untimed warm-up steps before.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Samples per step [default: the preset's].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Time steps per sample [default: the preset's].
    #[arg(long)]
    num_steps: Option<usize>,
    /// Print one JSON object per backend instead of a table.
    #[arg(long)]
    json: bool,
}

/// Times `steps` full training steps (forward over T, backward, Adam) of the preset's network
/// on random images and labels, after `warmup` steps; reports the mean and median per step.
pub fn run(args: BenchArgs) -> Result<()> {
    let mut config = ExperimentConfig::preset(&args.preset)?;
    if let Some(b) = args.batch_size {
        config.training.batch_size = b;
    }
    if let Some(t) = args.num_steps {
        config.model.num_steps = t;
    }
    config.validate()?;
    if args.steps == 0 {
        bail!("--steps: expected a number > 0, got 0");
    }
    let (b, t) = (config.training.batch_size, config.model.num_steps);
    if !args.json {
        println!(
            "train step of {} ({}, T={t}, B={b}): forward + backward + Adam, {} timed steps after {} warm-up",
            args.preset,
            config
                .model
                .widths()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("-"),
            args.steps,
            args.warmup
        );
        println!(
            "{:<10} {:>10} {:>10} {:>10}",
            "backend", "mean ms", "median ms", "min ms"
        );
    }
    for backend in &args.backend {
        let device = backend.device().autodiff();
        let mut model = config.model.init(config.training.seed, &device);
        let mut optim = optimizer(&config);
        let images = Tensor::<2>::random(
            [b, config.model.inputs],
            burn::tensor::Distribution::Uniform(0.0, 1.0),
            &device,
        );
        let labels: Vec<i64> = (0..b as i64)
            .map(|i| i % config.model.outputs as i64)
            .collect();
        let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [b]), &device);
        let mut times = Vec::with_capacity(args.steps);
        for i in 0..args.warmup + args.steps {
            let start = Instant::now();
            let out = model.forward(images.clone());
            let loss = compute_loss(config.training.loss, &out, targets.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(config.training.lr, model, grads);
            // Reading a weight waits for the step to finish on asynchronous backends.
            let _ = model.linears[0]
                .bias
                .as_ref()
                .map(|b| b.val().sum().into_scalar::<f32>());
            if i >= args.warmup {
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        let min = sorted[0];
        if args.json {
            println!(
                "{}",
                serde_json::json!({"bench": "train_step", "preset": args.preset, "backend": backend.name(),
                    "batch_size": b, "num_steps": t, "steps": args.steps,
                    "mean_ms": mean, "median_ms": median, "min_ms": min})
            );
        } else {
            println!(
                "{:<10} {mean:>10.2} {median:>10.2} {min:>10.2}",
                backend.name()
            );
        }
    }
    Ok(())
}
