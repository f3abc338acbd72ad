//! Backpropagation-through-time training and evaluation of a [`SpikingMlp`].
//!
//! We use our own loop rather than burn-train's `Learner`: a run must checkpoint the data
//! order with the model and optimiser (so `--resume` continues bit-identically), log the
//! per-layer spike rates as JSON lines, and show one progress bar per phase; the loop is
//! short, and leaving out burn-train also keeps its dependencies out of the build.
//!
//! One training step on a batch `(x, y)`:
//!
//! ```text
//! out  = model.forward(x)            unrolled over T steps (the whole graph is recorded)
//! loss = L(out, y)                   e.g. Σ_t CE(U_out[t], y)
//! g    = ∂loss/∂θ                    one backward pass through all T steps (BPTT)
//! θ   ← Adam(θ, g, lr)
//! ```

use crate::checkpoint;
use crate::config::{ExperimentConfig, LossKind, TrainingConfig};
use crate::error::TrainError;
use crate::fsutil::{io_error, write_atomically, write_bytes_atomically};
use crate::progress::Progress;
use crate::provenance::RunInfo;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, MultiGradientsParams};
use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use spikeburn_core::metrics::{
    correct, predict_by_first_spike, predict_by_membrane, predict_by_spike_count,
};
use spikeburn_core::{InvalidParameter, SnnOutput, SpikingMlp, loss};
use spikeburn_data::{
    ImageDataset, Split, batches, epoch_order, make_augmented_batch, make_batch, num_batches,
    skip_augmentation,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Mixed into the seed for the shift-augmentation stream (kept apart from the data order).
const AUGMENT_SEED: u64 = 0x5348_4946_5453; // "SHIFTS"

/// File names inside a run directory.
pub mod files {
    /// The resolved experiment configuration (TOML).
    pub const CONFIG: &str = "config.toml";
    /// The latest weights (burnpack), replaced at the end of every epoch.
    pub const MODEL: &str = "model.bpk";
    /// One JSON object per epoch ([`super::EpochRecord`]).
    pub const METRICS: &str = "metrics.jsonl";
    /// The reproducibility record ([`crate::provenance::RunInfo`]).
    pub const RUN_INFO: &str = crate::provenance::RUN_INFO;
}

/// Metrics of one epoch; one line of `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The epoch, 1-based.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Training accuracy by spike count, over the epoch's batches.
    pub train_accuracy: f64,
    /// Test loss.
    pub test_loss: f64,
    /// Test accuracy by spike count (argmax of Σ_t S).
    pub test_accuracy: f64,
    /// Test accuracy by membrane (argmax of Σ_t U).
    pub test_accuracy_membrane: f64,
    /// Test accuracy by first spike (the class that fires first).
    #[serde(default)]
    pub test_accuracy_first_spike: f64,
    /// Mean firing rate per LIF layer during training (spikes per neuron per step).
    pub spike_rates: Vec<f64>,
    /// Mean firing rate per LIF layer on the test set.
    pub test_spike_rates: Vec<f64>,
    /// Optimiser steps in the epoch.
    pub steps: usize,
    /// Mean wall time of one training step (forward, backward, Adam), milliseconds.
    pub step_ms: f64,
    /// Wall time of the training part of the epoch, seconds.
    pub train_seconds: f64,
    /// Wall time of the test evaluation, seconds.
    pub eval_seconds: f64,
    /// The backend.
    pub backend: String,
}

/// Result of evaluating a model on a data set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Samples evaluated.
    pub samples: usize,
    /// Mean loss per batch (the configured loss).
    pub loss: f64,
    /// Accuracy by spike count.
    pub accuracy: f64,
    /// Accuracy by membrane.
    pub accuracy_membrane: f64,
    /// Accuracy by first spike.
    pub accuracy_first_spike: f64,
    /// Mean firing rate per neuron layer.
    pub spike_rates: Vec<f64>,
}

/// The configured loss on a forward pass (without regularisers).
pub fn compute_loss(
    training: &TrainingConfig,
    out: &SnnOutput,
    targets: Tensor<1, Int>,
) -> Tensor<1> {
    let (spikes, membrane) = (out.spikes.clone(), out.membrane.clone());
    match training.loss {
        LossKind::CeMembrane => loss::ce_membrane(membrane, targets),
        LossKind::CeRate => loss::ce_rate(spikes, targets),
        LossKind::CeCount => loss::ce_count(spikes, targets),
        LossKind::MseCount => loss::mse_count(
            spikes,
            targets,
            training.correct_rate,
            training.incorrect_rate,
        ),
        LossKind::CeMaxMembrane => loss::ce_max_membrane(membrane, targets),
        LossKind::MseMembrane => loss::mse_membrane(membrane, targets, 1.0, 0.0),
        LossKind::CeTemporal => loss::ce_temporal(spikes, targets),
    }
}

/// The training objective: the loss plus the spike-rate regularisers of `training` (L1 and L2
/// over every neuron layer, the target rate over the hidden ones).
pub fn objective(training: &TrainingConfig, out: &SnnOutput, targets: Tensor<1, Int>) -> Tensor<1> {
    let mut total = compute_loss(training, out, targets);
    let hidden = out.layer_spikes.len().saturating_sub(1);
    for (i, spikes) in out.layer_spikes.iter().enumerate() {
        if training.rate_l1 > 0.0 {
            total = total + loss::l1_rate(spikes.clone()) * training.rate_l1;
        }
        if training.rate_l2 > 0.0 {
            total = total + loss::l2_rate(spikes.clone()) * training.rate_l2;
        }
        if training.rate_target_weight > 0.0 && i < hidden {
            total = total
                + loss::target_rate(spikes.clone(), training.rate_target)
                    * training.rate_target_weight;
        }
    }
    total
}

fn scalar(t: Tensor<1>) -> f64 {
    f64::from(t.into_scalar::<f32>())
}

/// Loads the split of the configured data set, cut to `limit` images (0 = all).
pub fn load_split(config: &ExperimentConfig, split: Split) -> Result<ImageDataset, TrainError> {
    let dir = config.data.resolved_dir();
    let mut data = ImageDataset::load(config.data.dataset, &dir, split)?;
    let limit = match split {
        Split::Train => config.data.limit_train,
        Split::Test => config.data.limit_test,
    };
    if limit > 0 {
        data.truncate(limit);
    }
    if data.image_size() != config.model.input_size() {
        return Err(TrainError::Invalid(InvalidParameter::new(
            "model.input",
            format!(
                "{} images have {} pixels, but the model input {:?} has {}",
                config.data.dataset,
                data.image_size(),
                config.model.input,
                config.model.input_size()
            ),
        )));
    }
    Ok(data)
}

/// Evaluates `model` (on a device without autodiff) on `data`.
pub fn evaluate(
    model: &SpikingMlp,
    data: &ImageDataset,
    batch_size: usize,
    training: &TrainingConfig,
    device: &Device,
    progress: &mut dyn Progress,
) -> Evaluation {
    let order: Vec<usize> = (0..data.len()).collect();
    let total = num_batches(data.len(), batch_size, false);
    progress.begin("eval", total);
    let (mut loss_sum, mut hits, mut hits_mem, mut count) = (0.0, 0usize, 0usize, 0usize);
    let mut hits_first = 0usize;
    let mut rates = vec![0.0; model.neuron_layers()];
    for (i, batch) in batches(data, &order, batch_size, false, device).enumerate() {
        let b = batch.targets.dims()[0];
        let out = model.forward(batch.images);
        loss_sum += scalar(compute_loss(training, &out, batch.targets.clone()));
        hits_first += correct(
            predict_by_first_spike(out.spikes.clone()),
            batch.targets.clone(),
        );
        hits += correct(predict_by_spike_count(out.spikes), batch.targets.clone());
        hits_mem += correct(predict_by_membrane(out.membrane), batch.targets);
        for (r, t) in rates.iter_mut().zip(out.spike_rates) {
            *r += scalar(t) * b as f64;
        }
        count += b;
        progress.update(
            i + 1,
            &format!("acc {:.2}%", 100.0 * hits as f64 / count as f64),
        );
    }
    progress.end();
    let n = count.max(1) as f64;
    Evaluation {
        samples: count,
        loss: loss_sum / total.max(1) as f64,
        accuracy: hits as f64 / n,
        accuracy_membrane: hits_mem as f64 / n,
        accuracy_first_spike: hits_first as f64 / n,
        spike_rates: rates.into_iter().map(|r| r / n).collect(),
    }
}

/// What [`train`] returns.
#[derive(Debug)]
pub struct TrainOutcome {
    /// The trained model (without autodiff).
    pub model: SpikingMlp,
    /// One record per epoch run in this call.
    pub epochs: Vec<EpochRecord>,
    /// The run directory.
    pub run_dir: PathBuf,
}

/// One training step on a batch: forward over all time steps, the configured loss, backward
/// through time, an optimiser update at `training.lr`. Returns the updated model, the loss
/// before the update, and the forward pass (for metrics).
pub fn train_step(
    model: SpikingMlp,
    optim: &mut ModuleOptimizer,
    training: &TrainingConfig,
    images: Tensor<2>,
    targets: Tensor<1, Int>,
) -> (SpikingMlp, f32, SnnOutput) {
    train_step_at(model, optim, training, training.lr, images, targets)
}

/// [`train_step`] with the learning rate `lr` (the schedule's rate for this step).
pub fn train_step_at(
    model: SpikingMlp,
    optim: &mut ModuleOptimizer,
    training: &TrainingConfig,
    lr: f64,
    images: Tensor<2>,
    targets: Tensor<1, Int>,
) -> (SpikingMlp, f32, SnnOutput) {
    let out = model.forward(images);
    let loss = objective(training, &out, targets);
    let value = loss.clone().into_scalar::<f32>();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    (optim.step(lr, model, grads), value, out)
}

/// One data-parallel training step over `devices` (autodiff devices; `model` lives on the
/// first). The batch is split into contiguous shards, one per device; each device runs a
/// replica of the model (`fork`) on its shard, with the shard's loss scaled by its share of the
/// batch, so that the gradients summed over the devices (burn's `MultiGradientsParams`, each
/// parameter accumulated on one device) are those of the whole batch: exactly for the losses
/// and the L1 regulariser, which are means over samples; batch norm and the L2 and target-rate
/// regularisers see each shard's own statistics, as in data-parallel PyTorch without
/// synchronised batch norm. Returns the model (back on the first device), the batch loss and
/// the forward pass gathered on the first device (detached, for metrics).
pub fn train_step_parallel(
    model: SpikingMlp,
    optim: &mut ModuleOptimizer,
    training: &TrainingConfig,
    lr: f64,
    images: Tensor<2>,
    targets: Tensor<1, Int>,
    devices: &[Device],
) -> (SpikingMlp, f32, SnnOutput) {
    let batch = images.dims()[0];
    let shards = devices.len().min(batch).max(1);
    let main = images.device();
    let mut grads = MultiGradientsParams::default();
    let mut loss_total = 0.0f32;
    let mut outs = Vec::with_capacity(shards);
    for (i, device) in devices.iter().take(shards).enumerate() {
        let (start, end) = (batch * i / shards, batch * (i + 1) / shards);
        let share = (end - start) as f32 / batch as f32;
        let replica = model.clone().fork(device);
        let x = images.clone().slice(start..end).to_device(device);
        let y = targets.clone().slice(start..end).to_device(device);
        let out = replica.forward(x);
        let loss = objective(training, &out, y) * share;
        loss_total += loss.clone().into_scalar::<f32>();
        let shard_grads = GradientsParams::from_grads(loss.backward(), &replica);
        grads.grads.push((shard_grads, device.clone().inner()));
        outs.push((out, share));
    }
    let model = optim.step_multi(lr, model, grads).fork(&main);
    let gather = |parts: Vec<Tensor<3>>| {
        Tensor::cat(
            parts
                .into_iter()
                .map(|t| t.detach().to_device(&main))
                .collect(),
            1,
        )
    };
    let layers = outs.first().map_or(0, |(o, _)| o.layer_spikes.len());
    let out = SnnOutput {
        spikes: gather(outs.iter().map(|(o, _)| o.spikes.clone()).collect()),
        membrane: gather(outs.iter().map(|(o, _)| o.membrane.clone()).collect()),
        spike_rates: (0..layers)
            .map(|l| {
                outs.iter()
                    .map(|(o, share)| o.spike_rates[l].clone().detach().to_device(&main) * *share)
                    .reduce(|a, b| a + b)
                    .unwrap_or_else(|| Tensor::zeros([1], &main))
            })
            .collect(),
        layer_spikes: (0..layers)
            .map(|l| {
                gather(
                    outs.iter()
                        .map(|(o, _)| o.layer_spikes[l].clone())
                        .collect(),
                )
            })
            .collect(),
    };
    (model, loss_total, out)
}

/// The Adam optimiser of `config`.
pub fn optimizer(config: &ExperimentConfig) -> ModuleOptimizer {
    let t = &config.training;
    AdamConfig::new()
        .with_beta_1(t.adam_beta1)
        .with_beta_2(t.adam_beta2)
        .with_epsilon(t.adam_epsilon)
        .init()
}

/// Trains a new run of `config` into `run_dir`, which must not exist or be empty.
///
/// Everything that can be checked up front (config ranges, data files) is checked before
/// `run_dir` is created, so a bad input leaves no directory behind.
pub fn train(
    config: &ExperimentConfig,
    run_dir: &Path,
    progress: &mut dyn Progress,
) -> Result<TrainOutcome, TrainError> {
    config.validate()?;
    config.check_memory(crate::config::available_memory())?;
    // Opens the device(s) (a GPU adapter for wgpu) before anything is written.
    config.training.backend.device()?;
    config.training.parallel_devices()?;
    let train_set = load_split(config, Split::Train)?;
    let test_set = load_split(config, Split::Test)?;
    if train_set.is_empty() {
        return Err(TrainError::EmptyData);
    }
    let occupied = run_dir.exists()
        && std::fs::read_dir(run_dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true);
    if occupied {
        return Err(TrainError::OutputExists {
            dir: run_dir.to_path_buf(),
        });
    }
    std::fs::create_dir_all(run_dir).map_err(|source| TrainError::Io {
        path: run_dir.to_path_buf(),
        source,
    })?;
    let config_path = run_dir.join(files::CONFIG);
    write_bytes_atomically(&config_path, config.to_toml().as_bytes())?;
    RunInfo::collect(config).write(run_dir)?;
    run_epochs(config, run_dir, None, &train_set, &test_set, progress)
}

/// Continues the run in `run_dir` from its last checkpoint up to `epochs` epochs (the
/// configured number when `None`). A run without a checkpoint starts from the beginning.
///
/// burn loads the optimiser state onto `Device::default()` and moves it to each parameter's
/// device at the next step. With the `wgpu` feature compiled in, that default is wgpu even
/// without a GPU, so CPU programs should set `BURN_DEVICE=flex` (the `spikeburn` CLI does).
/// A cosine schedule spans `training.epochs`, so resuming with a different `epochs` changes
/// the remaining rates.
pub fn resume(
    run_dir: &Path,
    epochs: Option<usize>,
    progress: &mut dyn Progress,
) -> Result<TrainOutcome, TrainError> {
    let mut config = load_run_config(run_dir)?;
    if let Some(epochs) = epochs {
        config.training.epochs = epochs;
    }
    config.validate()?;
    config.check_memory(crate::config::available_memory())?;
    config.training.backend.device()?;
    config.training.parallel_devices()?;
    let train_set = load_split(&config, Split::Train)?;
    let test_set = load_split(&config, Split::Test)?;
    if train_set.is_empty() {
        return Err(TrainError::EmptyData);
    }
    let info = checkpoint::read_info(run_dir)?;
    drop_metrics_after(run_dir, info.as_ref().map_or(0, |i| i.epochs_done))?;
    run_epochs(&config, run_dir, info, &train_set, &test_set, progress)
}

/// Removes the metrics lines of epochs after `epochs_done` (an epoch that logged its metrics
/// but was interrupted before its checkpoint), so that the resumed run logs each epoch once.
fn drop_metrics_after(run_dir: &Path, epochs_done: usize) -> Result<(), TrainError> {
    let path = run_dir.join(files::METRICS);
    if !path.is_file() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
    let kept: String = text
        .lines()
        .filter(|line| {
            serde_json::from_str::<EpochRecord>(line).is_ok_and(|r| r.epoch <= epochs_done)
        })
        .map(|line| format!("{line}\n"))
        .collect();
    if kept != text {
        write_bytes_atomically(&path, kept.as_bytes())?;
    }
    Ok(())
}

/// Reads the epoch records of a run directory (`metrics.jsonl`), in order; lines that do not
/// parse (a line cut by a crash) are skipped.
pub fn read_metrics(run_dir: &Path) -> Result<Vec<EpochRecord>, TrainError> {
    let path = run_dir.join(files::METRICS);
    if !path.is_file() {
        return Err(TrainError::MissingRunFile { path });
    }
    let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
    Ok(text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect())
}

/// Reads `config.toml` of a run directory.
pub fn load_run_config(run_dir: &Path) -> Result<ExperimentConfig, TrainError> {
    let path = run_dir.join(files::CONFIG);
    if !path.is_file() {
        return Err(TrainError::MissingRunFile { path });
    }
    Ok(ExperimentConfig::load(&path)?)
}

/// Loads the trained model of a run directory onto `device` (without autodiff).
pub fn load_run_model(
    run_dir: &Path,
    config: &ExperimentConfig,
    device: &Device,
) -> Result<SpikingMlp, TrainError> {
    let path = run_dir.join(files::MODEL);
    if !path.is_file() {
        return Err(TrainError::MissingRunFile { path });
    }
    config.validate()?;
    config
        .model
        .init(config.training.seed, device)
        .try_load_file(&path)
        .map_err(|e| TrainError::record(&path, e))
}

fn run_epochs(
    config: &ExperimentConfig,
    run_dir: &Path,
    from: Option<checkpoint::CheckpointInfo>,
    train_set: &ImageDataset,
    test_set: &ImageDataset,
    progress: &mut dyn Progress,
) -> Result<TrainOutcome, TrainError> {
    let t = &config.training;
    let parallel = t.parallel_devices()?;
    let device = match parallel.first() {
        Some(first) => first.clone(),
        None => t.backend.device()?,
    };
    let parallel: Vec<Device> = parallel.into_iter().map(|d| d.autodiff()).collect();
    let autodiff = device.clone().autodiff();
    let mut model = config.model.init(t.seed, &autodiff);
    let mut optim = optimizer(config);
    let mut start = 0;
    let mut partial = None;
    if let Some(info) = from {
        (model, optim) = checkpoint::load(run_dir, &info, model, optim)?;
        if !info.streams.is_empty() {
            model
                .set_stream_positions(&info.streams)
                .map_err(|message| TrainError::BadCheckpoint {
                    path: run_dir.join(checkpoint::POINTER),
                    message,
                })?;
        }
        if let Some(p) = info
            .partial
            .as_ref()
            .filter(|p| p.rates.len() != model.neuron_layers())
        {
            return Err(TrainError::BadCheckpoint {
                path: run_dir.join(checkpoint::POINTER),
                message: format!(
                    "partial epoch has spike rates of {} neuron layers, the model has {}",
                    p.rates.len(),
                    model.neuron_layers()
                ),
            });
        }
        start = info.epochs_done;
        partial = info.partial;
    }
    progress.note(&format!(
        "training {} on {} ({} train / {} test images), backend {}, epochs {}..{}, batch {}, {} time steps -> {}",
        config.model.summary(),
        config.data.dataset,
        train_set.len(),
        test_set.len(),
        t.backend.describe(),
        start + 1,
        t.epochs,
        t.batch_size,
        config.model.num_steps,
        run_dir.display(),
    ));
    if let Some(note) = t.backend.note() {
        progress.note(&note);
    }
    let mut records = Vec::new();
    let mut last_checkpoint = Instant::now();
    for epoch in start..t.epochs {
        let train_started = Instant::now();
        let order = epoch_order(train_set.len(), t.seed, epoch as u64);
        // Drop an incomplete last batch (as snnTorch's tutorial does), unless that leaves none.
        let drop_last = train_set.len() >= t.batch_size;
        let total = num_batches(train_set.len(), t.batch_size, drop_last);
        progress.begin(&format!("epoch {}/{}", epoch + 1, t.epochs), total);
        // A checkpoint taken within this epoch: its sums so far, and the steps to skip.
        let resumed = partial.take().filter(|p| p.steps < total);
        let skip = resumed.as_ref().map_or(0, |p| p.steps);
        let earlier_seconds = resumed.as_ref().map_or(0.0, |p| p.train_seconds);
        let (mut loss_sum, mut hits, mut seen, mut rates) = match resumed {
            Some(p) => (p.loss_sum, p.hits, p.seen, p.rates),
            None => (0.0, 0usize, 0usize, vec![0.0; model.neuron_layers()]),
        };
        // Shift augmentation draws from the seed on this epoch's stream, so a resumed run
        // sees the same images.
        let mut shifts = ChaCha8Rng::seed_from_u64(t.seed ^ AUGMENT_SEED);
        shifts.set_stream(epoch as u64);
        let augment = t.augment_shift > 0 || t.augment_flip;
        let batch_list = order
            .chunks(t.batch_size.max(1))
            .filter(|c| !drop_last || c.len() == t.batch_size);
        for (i, indices) in batch_list.enumerate() {
            if i < skip {
                // Done before the checkpoint: only the augmentation stream moves on.
                if augment {
                    skip_augmentation(indices.len(), t.augment_shift, t.augment_flip, &mut shifts);
                }
                continue;
            }
            let batch = if augment {
                make_augmented_batch(
                    train_set,
                    indices,
                    t.augment_shift,
                    t.augment_flip,
                    &mut shifts,
                    &autodiff,
                )
            } else {
                make_batch(train_set, indices, &autodiff)
            };
            let b = batch.targets.dims()[0];
            let lr = t.lr_at(epoch * total + i, t.epochs * total);
            let (next, value, out) = if parallel.len() > 1 {
                train_step_parallel(
                    model,
                    &mut optim,
                    t,
                    lr,
                    batch.images,
                    batch.targets.clone(),
                    &parallel,
                )
            } else {
                train_step_at(
                    model,
                    &mut optim,
                    t,
                    lr,
                    batch.images,
                    batch.targets.clone(),
                )
            };
            model = next;
            if !value.is_finite() {
                progress.end();
                return Err(TrainError::NonFiniteLoss {
                    epoch: epoch + 1,
                    batch: i + 1,
                    value,
                });
            }
            loss_sum += f64::from(value);
            hits += correct(predict_by_spike_count(out.spikes.detach()), batch.targets);
            for (r, rate) in rates.iter_mut().zip(out.spike_rates) {
                let rate = rate.detach();
                *r += scalar(rate) * b as f64;
            }
            seen += b;
            progress.update(
                i + 1,
                &format!(
                    "loss {:.4} acc {:.2}%",
                    loss_sum / (i + 1) as f64,
                    100.0 * hits as f64 / seen as f64
                ),
            );
            if i + 1 < total && t.checkpoint_due(i + 1, last_checkpoint.elapsed()) {
                let partial = checkpoint::PartialEpoch {
                    steps: i + 1,
                    loss_sum,
                    hits,
                    seen,
                    rates: rates.clone(),
                    train_seconds: earlier_seconds + train_started.elapsed().as_secs_f64(),
                };
                let info = checkpoint::CheckpointInfo::new(epoch, t.seed, &model, Some(partial));
                checkpoint::save(run_dir, &model, &optim, info)?;
                last_checkpoint = Instant::now();
            }
        }
        progress.end();
        let train_seconds = earlier_seconds + train_started.elapsed().as_secs_f64();

        let eval_started = Instant::now();
        let eval_model = model.valid();
        let eval = evaluate(&eval_model, test_set, t.batch_size, t, &device, progress);
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss: loss_sum / total.max(1) as f64,
            train_accuracy: hits as f64 / seen.max(1) as f64,
            test_loss: eval.loss,
            test_accuracy: eval.accuracy,
            test_accuracy_membrane: eval.accuracy_membrane,
            test_accuracy_first_spike: eval.accuracy_first_spike,
            spike_rates: rates.iter().map(|r| r / seen.max(1) as f64).collect(),
            test_spike_rates: eval.spike_rates,
            steps: total,
            step_ms: 1e3 * train_seconds / total.max(1) as f64,
            train_seconds,
            eval_seconds: eval_started.elapsed().as_secs_f64(),
            backend: t.backend.name().to_string(),
        };
        save_epoch(run_dir, &model, &optim, &record, t.seed)?;
        last_checkpoint = Instant::now();
        progress.note(&format!(
            "epoch {}/{}: train loss {:.4}, train acc {:.2}%, test acc {:.2}% (membrane {:.2}%), {:.1} ms/step, {:.1}s",
            record.epoch,
            t.epochs,
            record.train_loss,
            100.0 * record.train_accuracy,
            100.0 * record.test_accuracy,
            100.0 * record.test_accuracy_membrane,
            record.step_ms,
            record.train_seconds + record.eval_seconds,
        ));
        records.push(record);
    }
    Ok(TrainOutcome {
        model: model.valid(),
        epochs: records,
        run_dir: run_dir.to_path_buf(),
    })
}

/// Writes the end-of-epoch outputs: the weights, the metrics line, the checkpoint.
fn save_epoch(
    run_dir: &Path,
    model: &SpikingMlp,
    optim: &ModuleOptimizer,
    record: &EpochRecord,
    seed: u64,
) -> Result<(), TrainError> {
    let model_path = run_dir.join(files::MODEL);
    write_atomically(&model_path, |p| {
        model
            .clone()
            .save_file(p)
            .map_err(|e| TrainError::record(&model_path, e))
    })?;
    let metrics_path = run_dir.join(files::METRICS);
    let line = serde_json::to_string(record).unwrap_or_default() + "\n";
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&metrics_path)
        .and_then(|mut f| {
            f.write_all(line.as_bytes())?;
            f.sync_data()
        })
        .map_err(|source| TrainError::Io {
            path: metrics_path.clone(),
            source,
        })?;
    let info = checkpoint::CheckpointInfo::new(record.epoch, seed, model, None);
    checkpoint::save(run_dir, model, optim, info)
}
