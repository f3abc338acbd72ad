//! `spikeburn bench`: wall time of training steps and LIF layers on synthetic data.

use anyhow::{Result, bail};
use burn::nn::LinearConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use clap::{Args, ValueEnum};
use spikeburn_core::layers::linear_over_time;
use spikeburn_core::{Kernel, LifConfig, NeuronLayer, NeuronModel};
use spikeburn_data::Batch;
use spikeburn_train::config::PRESETS;
use spikeburn_train::trainer::{self, optimizer};
use spikeburn_train::{BackendKind, ExperimentConfig};
use std::time::Instant;

/// What `spikeburn bench` times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// One training step of a preset (forward over T, backward, Adam).
    TrainStep,
    /// Linear(N, N) + LIF over [T, B, N], forward and backward of sum(spikes), with the share
    /// of the time spent in the GEMMs and their GFLOP/s.
    LifLayer,
    /// Single-precision GEMM throughput (2048³ and 4096³): burn's matmul, and the OpenBLAS
    /// product of dense layers where the build has it.
    Gemm,
    /// Training steps of the SHD network (`shd-rsnn`: 700 → 128 recurrent LIF → 20 leaky
    /// integrators, B = 64) at T = 100, 500 and 1000 (or --num-steps), with peak memory and
    /// the memory each further time step adds.
    Rsnn,
    /// A dense layer's forward product and weight gradient on a sparse input (as spikes,
    /// Bernoulli at 1, 5 and 20 % non-zeros), through the dense and the sparse products, for
    /// the SHD input layer (6400 × 700 → 128) and a hidden layer (3200 × 1024 → 1024).
    Sparse,
}

/// Options of `spikeburn bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// What to time.
    #[arg(long, value_enum, default_value_t = Workload::TrainStep)]
    workload: Workload,
    /// Experiment whose network and optimiser are timed (train-step).
    #[arg(long, default_value = "mnist-mlp", value_parser = clap::builder::PossibleValuesParser::new(PRESETS))]
    preset: String,
    /// Backends to time, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = BackendKind::CPU, value_parser = |s: &str| s.parse::<BackendKind>())]
    backend: Vec<BackendKind>,
    /// Timed repetitions per case.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Untimed warm-up repetitions before.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Samples per batch [default: the preset's for train-step, 16 for lif-layer].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Time steps [default: the preset's for train-step, 100 for lif-layer].
    #[arg(long)]
    num_steps: Option<usize>,
    /// Layer widths N for lif-layer, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [512usize, 2048, 8192])]
    sizes: Vec<usize>,
    /// Set KEY=VALUE in the preset (train-step; repeatable, keys as on `train --set`), e.g.
    /// --set kernel=reference to time the reference loops instead of the fused kernels.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Gradient checkpointing over time in segments of this many steps: lif-layer runs the
    /// dense + LIF pair as one operation that recomputes its activations in the backward
    /// pass; train-step and rsnn set `model.checkpoint_segment`.
    #[arg(long, value_name = "STEPS")]
    checkpoint_segment: Option<usize>,
    /// Print one JSON object per case instead of a table.
    #[arg(long)]
    json: bool,
}

/// Median, mean and minimum of `times` (ms).
fn summary(times: &mut [f64]) -> (f64, f64, f64) {
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    (times[times.len() / 2], mean, times[0])
}

/// Runs `f` `warmup + steps` times and returns the timed durations in ms.
fn time(warmup: usize, steps: usize, mut f: impl FnMut()) -> Vec<f64> {
    (0..warmup + steps)
        .filter_map(|i| {
            let start = Instant::now();
            f();
            (i >= warmup).then(|| start.elapsed().as_secs_f64() * 1e3)
        })
        .collect()
}

/// Device memory the allocator holds after a case, in MiB: reserved (and in use), where the
/// backend reports it (wgpu does; the CPU backends do not).
fn device_memory(device: &Device) -> Option<(f64, f64)> {
    device.memory_pool_usage().map(|u| {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        (mib(u.bytes_reserved), mib(u.bytes_in_use))
    })
}

fn memory_column(memory: Option<(f64, f64)>) -> String {
    memory.map_or_else(|| "-".to_string(), |(reserved, _)| format!("{reserved:.0}"))
}

/// Dispatches to the chosen workload.
pub fn run(args: BenchArgs) -> Result<()> {
    if args.steps == 0 {
        bail!("--steps: expected a number > 0, got 0");
    }
    for backend in &args.backend {
        // Opens the device first, so that a missing GPU is one clear error before any output.
        backend.device()?;
        if !args.json && backend.is_gpu() {
            println!("device: {}", backend.describe());
            if let Some(note) = backend.note() {
                println!("{note}");
            }
        }
    }
    let cpu = args.backend.iter().any(|b| !b.is_gpu());
    if !args.json && cpu {
        println!(
            "dense layers on the CPU: {}",
            spikeburn_core::dense::dense_product()
        );
    }
    match args.workload {
        Workload::TrainStep => train_step(&args),
        Workload::LifLayer => lif_layer(&args),
        Workload::Gemm => gemm(&args),
        Workload::Rsnn => rsnn(&args),
        Workload::Sparse => sparse(&args),
    }
}

/// Peak resident memory of this process during `f`, in MiB (see
/// [`spikeburn_train::runtime::peak_memory`]); `None` where the system does not report it.
fn peak_mib_of(f: impl FnOnce()) -> Option<f64> {
    let reset = spikeburn_train::runtime::reset_peak_memory();
    f();
    let peak = spikeburn_train::runtime::peak_memory();
    reset.then_some(peak?).map(|b| b as f64 / (1024.0 * 1024.0))
}

fn mib_column(mib: Option<f64>) -> String {
    mib.map_or_else(|| "-".to_string(), |m| format!("{m:.0}"))
}

/// Times full training steps of the preset's network on random images and labels.
fn train_step(args: &BenchArgs) -> Result<()> {
    let config = step_config(args, &args.preset, args.num_steps)?;
    let (b, t) = (config.training.batch_size, config.model.num_steps);
    if !args.json {
        println!(
            "train step of {} ({}, T={t}, B={b}): forward + backward + Adam, {} timed steps after {} warm-up",
            args.preset,
            config.model.summary(),
            args.steps,
            args.warmup
        );
        println!(
            "{:<10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "backend", "median ms", "mean ms", "min ms", "peak MiB", "dev MiB"
        );
    }
    for backend in &args.backend {
        let case = time_train_step(args, &config, *backend)?;
        if args.json {
            println!(
                "{}",
                serde_json::json!({"framework": "spikeburn", "workload": "train_step",
                    "backend": backend.name(), "device": backend.describe(), "b": b, "t": t,
                    "steps": args.steps, "median_ms": case.median, "mean_ms": case.mean,
                    "min_ms": case.min, "peak_mib": case.peak_mib,
                    "device_mib_reserved": case.device_mib.map(|m| m.0)})
            );
        } else {
            println!(
                "{:<10} {:>10.2} {:>10.2} {:>10.2} {:>10} {:>10}",
                backend.name(),
                case.median,
                case.mean,
                case.min,
                mib_column(case.peak_mib),
                memory_column(case.device_mib)
            );
        }
    }
    Ok(())
}

/// Times training steps of the SHD network over several sequence lengths, with the peak
/// memory of each and the memory per further step between successive lengths.
fn rsnn(args: &BenchArgs) -> Result<()> {
    let lengths = match args.num_steps {
        Some(t) => vec![t],
        None => vec![100, 500, 1000],
    };
    let preset = "shd-rsnn";
    let first = step_config(args, preset, Some(lengths[0]))?;
    if !args.json {
        println!(
            "train step of {preset} ({}, B={}) over T: forward + backward + Adam, {} timed steps after {} warm-up",
            first.model.summary(),
            first.training.batch_size,
            args.steps,
            args.warmup
        );
        println!(
            "{:<10} {:>6} {:>10} {:>10} {:>10} {:>12} {:>10}",
            "backend", "T", "median ms", "ms/step", "peak MiB", "MiB/T-step", "dev MiB"
        );
    }
    for backend in &args.backend {
        let mut previous: Option<(usize, f64)> = None;
        for &t in &lengths {
            let config = step_config(args, preset, Some(t))?;
            let case = time_train_step(args, &config, *backend)?;
            let per_step = match (previous, case.peak_mib) {
                (Some((t0, m0)), Some(m)) if t > t0 => Some((m - m0) / (t - t0) as f64),
                _ => None,
            };
            if let Some(m) = case.peak_mib {
                previous = Some((t, m));
            }
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"framework": "spikeburn", "workload": "rsnn",
                        "backend": backend.name(), "device": backend.describe(),
                        "b": config.training.batch_size, "t": t, "steps": args.steps,
                        "median_ms": case.median, "mean_ms": case.mean, "min_ms": case.min,
                        "peak_mib": case.peak_mib, "mib_per_step": per_step,
                        "device_mib_reserved": case.device_mib.map(|m| m.0)})
                );
            } else {
                println!(
                    "{:<10} {t:>6} {:>10.2} {:>10.3} {:>10} {:>12} {:>10}",
                    backend.name(),
                    case.median,
                    case.median / t as f64,
                    mib_column(case.peak_mib),
                    per_step.map_or_else(|| "-".to_string(), |m| format!("{m:.3}")),
                    memory_column(case.device_mib)
                );
            }
        }
    }
    Ok(())
}

/// The timings and memory of one training-step case.
struct StepCase {
    median: f64,
    mean: f64,
    min: f64,
    /// Peak resident memory of the process during the case (CPU backends hold the tensors
    /// there), MiB.
    peak_mib: Option<f64>,
    /// What the device allocator holds (wgpu), MiB reserved and in use.
    device_mib: Option<(f64, f64)>,
}

/// The preset with `--set`, `--batch-size` and the sequence length `num_steps` applied.
fn step_config(
    args: &BenchArgs,
    preset: &str,
    num_steps: Option<usize>,
) -> Result<ExperimentConfig> {
    let mut config = crate::train::with_settings(ExperimentConfig::preset(preset)?, &args.set)?;
    if let Some(b) = args.batch_size {
        config.training.batch_size = b;
    }
    // A temporal task's samples are sequences of `num_steps` steps.
    let kind = config.data.dataset;
    if let Some(t) = num_steps {
        config.model.num_steps = t;
        if kind == spikeburn_data::DatasetKind::Randman {
            let mut task = config.data.randman();
            task.steps = t;
            config.data.randman = Some(task);
        }
        if kind.is_events() {
            let mut events = config.data.events();
            events.steps = Some(t);
            config.data.events = Some(events);
        }
    }
    if args.checkpoint_segment.is_some() {
        config.model.checkpoint_segment = args.checkpoint_segment;
    }
    config.validate()?;
    Ok(config)
}

/// Times `args.steps` training steps (after `args.warmup`) of `config`'s network on random
/// input and labels on `backend`.
fn time_train_step(
    args: &BenchArgs,
    config: &ExperimentConfig,
    backend: BackendKind,
) -> Result<StepCase> {
    let kind = config.data.dataset;
    let temporal = kind == spikeburn_data::DatasetKind::Randman || kind.is_events();
    let (b, t) = (config.training.batch_size, config.model.num_steps);
    let device = backend.device()?.autodiff();
    let mut times = Vec::new();
    let peak_mib = peak_mib_of(|| {
        let mut model = Some(config.model.init(config.training.seed, &device));
        let mut optim = optimizer(config);
        let f = config.model.input_size();
        let input: spikeburn_core::ModelInput = if temporal {
            // About one spike per input unit and sample, as in Randman (event data sets are
            // sparser or denser, but a dense step costs the same).
            Tensor::<3>::random([t, b, f], Distribution::Bernoulli(1.0 / t as f64), &device).into()
        } else {
            Tensor::<2>::random([b, f], Distribution::Uniform(0.0, 1.0), &device).into()
        };
        let labels: Vec<i64> = (0..b as i64)
            .map(|i| i % config.model.output_size() as i64)
            .collect();
        let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [b]), &device);
        times = time(args.warmup, args.steps, || {
            let Some(m) = model.take() else { return };
            let (m, _, _) = trainer::train_step(
                m,
                &mut optim,
                &config.training,
                Batch::new(input.clone(), targets.clone()),
            );
            // Reading a weight, then syncing, waits for the step to finish on asynchronous
            // backends (wgpu) before the clock is read.
            let _ = m.sync();
            let _ = device.sync();
            model = Some(m);
        });
    });
    let (median, mean, min) = summary(&mut times);
    Ok(StepCase {
        median,
        mean,
        min,
        peak_mib: peak_mib.filter(|_| !backend.is_gpu()),
        device_mib: device_memory(&device),
    })
}

/// Times `Y = X·W` and `∂L/∂W` of a dense layer on sparse inputs, dense against sparse
/// products.
fn sparse(args: &BenchArgs) -> Result<()> {
    use spikeburn_core::dense::{self, SparseInput};
    if !args.json {
        println!(
            "dense layer, forward + weight gradient, X Bernoulli (spikes); {} timed runs after {} warm-up; auto takes the sparse products at ≤ {:.0} % non-zeros",
            args.steps,
            args.warmup,
            100.0 * dense::SPARSE_BELOW
        );
        println!(
            "{:<10} {:>18} {:>8} {:>10} {:>10} {:>8}",
            "backend", "M x K -> N", "density", "dense ms", "sparse ms", "speed-up"
        );
    }
    for backend in &args.backend {
        let device = backend.device()?.autodiff();
        if !dense::supported(&device) {
            println!(
                "{:<10} (no CPU dense operation on this backend)",
                backend.name()
            );
            continue;
        }
        for (m, k, n) in [(6400usize, 700usize, 128usize), (3200, 1024, 1024)] {
            for density in [0.01, 0.05, 0.2] {
                let x = Tensor::<2>::random([m, k], Distribution::Bernoulli(density), &device);
                let w = Tensor::<2>::random([k, n], Distribution::Uniform(-0.1, 0.1), &device)
                    .require_grad();
                let run = |mode| {
                    dense::set_sparse_input(mode);
                    let mut t = time(args.warmup, args.steps, || {
                        let y = dense::linear(x.clone(), w.clone(), None, Kernel::Auto);
                        let grads = y.sum().backward();
                        let _ = w.grad(&grads).map(|g| g.sum().into_scalar::<f32>());
                    });
                    summary(&mut t).0
                };
                let (dense_ms, sparse_ms) = (run(SparseInput::Never), run(SparseInput::Always));
                dense::set_sparse_input(SparseInput::Auto);
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"framework": "spikeburn", "workload": "sparse",
                            "backend": backend.name(), "m": m, "k": k, "n": n,
                            "density": density, "dense_ms": dense_ms, "sparse_ms": sparse_ms})
                    );
                } else {
                    println!(
                        "{:<10} {:>18} {:>7.0}% {dense_ms:>10.2} {sparse_ms:>10.2} {:>7.2}x",
                        backend.name(),
                        format!("{m} x {k} -> {n}"),
                        100.0 * density,
                        dense_ms / sparse_ms
                    );
                }
            }
        }
    }
    Ok(())
}

/// Times Linear(N, N) + LIF on `[T, B, N]`: forward, then backward of `sum(spikes)`; and the
/// same Linear alone (its forward and weight-gradient GEMMs, `4·T·B·N²` FLOPs).
fn lif_layer(args: &BenchArgs) -> Result<()> {
    let (b, t) = (args.batch_size.unwrap_or(16), args.num_steps.unwrap_or(100));
    if b == 0 || t == 0 || args.sizes.contains(&0) || args.checkpoint_segment == Some(0) {
        bail!("--batch-size, --num-steps, --sizes and --checkpoint-segment: expected numbers > 0");
    }
    if args.checkpoint_segment.is_some() && args.backend.iter().any(|b| b.is_gpu()) {
        bail!(
            "--checkpoint-segment: the segmented dense + LIF operation runs on the CPU backends only"
        );
    }
    if !args.json {
        println!(
            "Linear(N,N) + LIF, B={b}, T={t}: forward + backward of sum(spikes), {} timed runs after {} warm-up",
            args.steps, args.warmup
        );
        println!(
            "{:<10} {:>6} {:>11} {:>11} {:>10} {:>12} {:>10} {:>10}",
            "backend", "N", "median ms", "GEMM ms", "GEMM %", "GEMM GFLOP/s", "peak MiB", "dev MiB"
        );
    }
    for backend in &args.backend {
        for &n in &args.sizes {
            let device = backend.device()?.autodiff();
            let linear = LinearConfig::new(n, n).init(&device);
            let lif = NeuronLayer {
                model: NeuronModel::Lif(LifConfig::new().init(n, &device)),
                amplitude: None,
            };
            // The pair as one operation with activations recomputed in segments, or the
            // dense layer and the fused LIF scan.
            let layer = |x: Tensor<3>| match args.checkpoint_segment {
                Some(segment) => {
                    lif.forward_dense(&linear, x, segment)
                        .expect("a LIF layer on a CPU backend")
                        .spikes
                }
                None => lif.forward(linear_over_time(&linear, x), false).spikes,
            };
            let input = Tensor::<3>::random([t, b, n], Distribution::Uniform(0.0, 0.5), &device);
            let weight_grad_sync = |grads: &burn::tensor::Gradients| {
                let _ = linear
                    .weight
                    .val()
                    .grad(grads)
                    .map(|g| g.sum().into_scalar::<f32>());
                let _ = device.sync();
            };
            let mut full = Vec::new();
            let peak = peak_mib_of(|| {
                full = time(args.warmup, args.steps, || {
                    let spikes = layer(input.clone());
                    weight_grad_sync(&spikes.sum().backward());
                });
            })
            .filter(|_| !backend.is_gpu());
            let mut gemm_only = time(args.warmup, args.steps, || {
                let current = linear_over_time(&linear, input.clone());
                weight_grad_sync(&current.sum().backward());
            });
            let (median, mean, min) = summary(&mut full);
            let (gemm_ms, _, _) = summary(&mut gemm_only);
            let memory = device_memory(&device);
            let flops = 4.0 * (t * b) as f64 * (n * n) as f64;
            let gflops = flops / (gemm_ms * 1e-3) / 1e9;
            let share = (gemm_ms / median).min(1.0);
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"framework": "spikeburn", "workload": "lif_layer",
                        "backend": backend.name(), "n": n, "b": b, "t": t, "steps": args.steps,
                        "median_ms": median, "mean_ms": mean, "min_ms": min,
                        "gemm_ms": gemm_ms, "gemm_share": share, "gemm_gflops": gflops,
                        "blas": spikeburn_core::dense::blas_library(), "peak_mib": peak,
                        "checkpoint_segment": args.checkpoint_segment,
                        "device": backend.describe(), "device_mib_reserved": memory.map(|m| m.0)})
                );
            } else {
                println!(
                    "{:<10} {n:>6} {median:>11.2} {gemm_ms:>11.2} {:>9.0}% {gflops:>12.1} {:>10} {:>10}",
                    backend.name(),
                    100.0 * share,
                    mib_column(peak),
                    memory_column(memory)
                );
            }
        }
    }
    Ok(())
}

/// Times square single-precision matrix products (no autodiff): burn's `matmul` and, where
/// the build has OpenBLAS, the dense-layer product ([`spikeburn_core::dense::linear`]).
fn gemm(args: &BenchArgs) -> Result<()> {
    for backend in &args.backend {
        let device = backend.device()?;
        let ops = [("matmul", Kernel::Reference), ("dense", Kernel::Auto)];
        for (op, kernel) in ops {
            if kernel == Kernel::Auto && !spikeburn_core::dense::supported(&device) {
                continue;
            }
            for n in [2048usize, 4096] {
                let a = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), &device);
                let c = Tensor::<2>::random([n, n], Distribution::Uniform(-1.0, 1.0), &device);
                let mut times = time(1, args.steps.min(5), || {
                    let _ = spikeburn_core::dense::linear(a.clone(), c.clone(), None, kernel)
                        .slice([0..1, 0..1])
                        .into_scalar::<f32>();
                });
                let (_, _, min) = summary(&mut times);
                let gflops = 2.0 * (n as f64).powi(3) / (min * 1e-3) / 1e9;
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"framework": "spikeburn", "workload": "gemm_peak",
                            "backend": backend.name(), "op": op, "n": n, "min_ms": min,
                            "gflops": gflops})
                    );
                } else {
                    println!(
                        "{:<10} {op:<7} GEMM {n}³: {min:.1} ms, {gflops:.1} GFLOP/s",
                        backend.name()
                    );
                }
            }
        }
    }
    Ok(())
}
