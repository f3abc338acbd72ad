//! The training loop: [`fit`] trains any [`SpikingModel`] on any [`Dataset`] by
//! backpropagation through time ([`crate::step`]), evaluates it after every epoch, and keeps a
//! run folder — progress, a metrics log, the weights, checkpoints — that [`fit_resume`]
//! continues bit-identically after an interruption. `spikeburn train` runs the same loop on the
//! network its configuration describes ([`crate::trainer::train`]).
//!
//! We use our own loop rather than burn-train's `Learner`: a run must checkpoint the data
//! order and every random stream with the model and optimiser (so a resumed run is
//! bit-identical), log the per-layer spike rates as JSON lines, and show one progress bar per
//! phase; the loop is short, and leaving out burn-train keeps its dependencies out of the
//! build.
//!
//! A run folder written by `fit`:
//!
//! ```text
//! training.toml      the training settings (TrainingConfig)
//! metrics.jsonl      one EpochRecord per epoch
//! model.bpk          the latest weights (burnpack), replaced at the end of every epoch
//! checkpoint.json, checkpoint-N/   see crate::checkpoint
//! ```

use crate::checkpoint::{self, CheckpointInfo, PartialEpoch};
use crate::config::TrainingConfig;
use crate::error::TrainError;
use crate::error::io_error;
use crate::progress::Progress;
use crate::step::{
    adam, compute_loss, predict, predict_by_membrane, train_step_at, train_step_parallel,
};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use spikeburn_core::SpikingModel;
use spikeburn_core::metrics::{correct, predict_by_first_spike};
use spikeburn_data::{Dataset, epoch_order, num_batches};
use spikeburn_io::{write_atomically, write_bytes_atomically};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Mixed into the seed for the augmentation stream (kept apart from the data order).
const AUGMENT_SEED: u64 = 0x5348_4946_5453; // "SHIFTS"

/// File names inside a run directory.
pub mod files {
    /// The resolved experiment configuration (TOML), in runs of `spikeburn train`.
    pub const CONFIG: &str = "config.toml";
    /// The training settings (TOML), in runs of [`super::fit`].
    pub const TRAINING: &str = "training.toml";
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
    /// Training accuracy by spike count (by the membrane read-out for a non-spiking output
    /// layer), over the epoch's batches.
    pub train_accuracy: f64,
    /// Test loss.
    pub test_loss: f64,
    /// Test accuracy by spike count (argmax of Σ_t S; by the membrane read-out for a
    /// non-spiking output layer).
    pub test_accuracy: f64,
    /// Test accuracy by membrane: argmax of Σ_t U, or of max_t U when the loss is
    /// `ce_max_membrane`.
    pub test_accuracy_membrane: f64,
    /// Test accuracy by first spike (the class that fires first); `None` (JSON `null`) for a
    /// non-spiking read-out, where it does not apply.
    #[serde(default)]
    pub test_accuracy_first_spike: Option<f64>,
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
    /// Wall time training waited for its batches, seconds: part of `train_seconds`. A loader
    /// thread builds each batch (decoding, augmenting, framing, copying to the device) while
    /// the previous one trains, so this is the part of building that the step did not hide.
    /// Absent in runs from before it was measured (read as 0).
    #[serde(default)]
    pub data_seconds: f64,
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
    /// Accuracy by first spike; `None` for a non-spiking read-out (see
    /// [`spikeburn_core::SnnOutput::spiking`]).
    pub accuracy_first_spike: Option<f64>,
    /// Mean firing rate per neuron layer.
    pub spike_rates: Vec<f64>,
}

/// What [`fit`] returns.
#[derive(Debug)]
pub struct FitOutcome<M> {
    /// The trained model (without autodiff).
    pub model: M,
    /// One record per epoch run in this call.
    pub epochs: Vec<EpochRecord>,
    /// The run directory.
    pub run_dir: PathBuf,
}

fn scalar(t: Tensor<1>) -> f64 {
    f64::from(t.into_scalar::<f32>())
}

/// Adds `rates` (one `[1]` tensor per neuron layer) weighted by `weight` to `sums`, which an
/// empty `sums` takes the length of. A count that differs from a non-empty `sums` is `None`.
fn add_rates(sums: &mut Vec<f64>, rates: Vec<Tensor<1>>, weight: f64) -> Option<()> {
    if sums.is_empty() {
        sums.resize(rates.len(), 0.0);
    }
    if sums.len() != rates.len() {
        return None;
    }
    for (s, rate) in sums.iter_mut().zip(rates) {
        *s += scalar(rate.detach()) * weight;
    }
    Some(())
}

/// Evaluates `model` (on a device without autodiff) on `data`, in order, in batches of
/// `batch_size`: the configured loss and the three read-outs' accuracies.
pub fn evaluate<M: SpikingModel, D: Dataset + ?Sized>(
    model: &M,
    data: &D,
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
    let mut spiking = true;
    let mut rates = Vec::new();
    for (i, indices) in order.chunks(batch_size.max(1)).enumerate() {
        let batch = data.batch(indices, device);
        let b = batch.targets.dims()[0];
        let out = model.forward(batch.input).with_lengths(batch.lengths);
        loss_sum += scalar(compute_loss(training, &out, batch.targets.clone()));
        spiking &= out.spiking;
        if out.spiking {
            hits_first += correct(
                predict_by_first_spike(out.spikes.clone(), out.lengths.as_ref()),
                batch.targets.clone(),
            );
        }
        hits += correct(predict(training, &out), batch.targets.clone());
        hits_mem += correct(predict_by_membrane(training, &out), batch.targets);
        // A model returns the same layers for every batch.
        let _ = add_rates(&mut rates, out.spike_rates, b as f64);
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
        accuracy_first_spike: spiking.then(|| hits_first as f64 / n),
        spike_rates: rates.into_iter().map(|r| r / n).collect(),
    }
}

/// Trains `model` on `train` for `training.epochs` epochs, evaluating on `test` after each,
/// into the new run folder `run_dir` (which must not exist or be empty).
///
/// The model may live on any device: it is moved to `training.backend`'s device (with
/// autodiff). Every epoch visits the training set in a seeded order
/// ([`spikeburn_data::epoch_order`]) in batches of `training.batch_size` (an incomplete last
/// batch is dropped, as in snnTorch's tutorials), and takes one Adam step per batch with the
/// objective of `training` (loss and spike-rate regularisers). The run folder gets
/// `training.toml`, the metrics of every epoch, the weights, and checkpoints (at the end of
/// every epoch and as `training.checkpoint_every` / `checkpoint_minutes` say), from which
/// [`fit_resume`] continues.
///
/// # Errors
/// Invalid settings, an empty training set, a device that cannot be opened or an occupied
/// `run_dir` (all before anything is written); I/O errors; a loss that is not finite.
pub fn fit<M, D, E>(
    model: M,
    train: &D,
    test: &E,
    training: &TrainingConfig,
    run_dir: &Path,
    progress: &mut dyn Progress,
) -> Result<FitOutcome<M>, TrainError>
where
    M: SpikingModel,
    D: Dataset + ?Sized,
    E: Dataset + ?Sized,
{
    let label = check(&model, train, test, training)?;
    create_run_dir(run_dir)?;
    let text = toml::to_string_pretty(training).map_err(|e| {
        TrainError::Invalid(spikeburn_core::InvalidParameter::new(
            "training",
            e.to_string(),
        ))
    })?;
    write_bytes_atomically(&run_dir.join(files::TRAINING), text.as_bytes())?;
    run_epochs(
        model, training, run_dir, None, train, test, &label, progress,
    )
}

/// Continues the run of [`fit`] in `run_dir` from its last checkpoint, up to
/// `training.epochs` epochs. `model` must be built as for the first call (its weights are
/// replaced by the checkpoint's), and `training` must be the run's `training.toml` except for
/// `epochs`; a run without a checkpoint starts from the beginning.
///
/// # Errors
/// Settings that differ from the run's in anything but `epochs`, a missing or unreadable
/// checkpoint, and the errors of [`fit`].
pub fn fit_resume<M, D, E>(
    model: M,
    train: &D,
    test: &E,
    training: &TrainingConfig,
    run_dir: &Path,
    progress: &mut dyn Progress,
) -> Result<FitOutcome<M>, TrainError>
where
    M: SpikingModel,
    D: Dataset + ?Sized,
    E: Dataset + ?Sized,
{
    let path = run_dir.join(files::TRAINING);
    if !path.is_file() {
        return Err(TrainError::MissingRunFile { path });
    }
    let text = std::fs::read_to_string(&path).map_err(io_error(&path))?;
    let mut stored: TrainingConfig =
        toml::from_str(&text).map_err(|e| TrainError::BadCheckpoint {
            path: path.clone(),
            message: e.to_string(),
        })?;
    stored.epochs = training.epochs;
    if &stored != training {
        return Err(TrainError::Invalid(spikeburn_core::InvalidParameter::new(
            "training",
            format!(
                "differs from the run's {} in more than `epochs`: resume with the settings \
                 the run was started with",
                path.display()
            ),
        )));
    }
    let label = check(&model, train, test, training)?;
    let info = checkpoint::read_info(run_dir)?;
    drop_metrics_after(run_dir, info.as_ref().map_or(0, |i| i.epochs_done))?;
    run_epochs(
        model, training, run_dir, info, train, test, &label, progress,
    )
}

/// What [`fit`] and [`fit_resume`] check before anything is written: the settings, the
/// devices, a non-empty training set. Returns the opening note's description of the run.
fn check<M, D, E>(
    model: &M,
    train: &D,
    test: &E,
    training: &TrainingConfig,
) -> Result<String, TrainError>
where
    M: SpikingModel,
    D: Dataset + ?Sized,
    E: Dataset + ?Sized,
{
    training.validate()?;
    training.backend.device()?;
    training.parallel_devices()?;
    if train.is_empty() {
        return Err(TrainError::EmptyData);
    }
    Ok(format!(
        "{} ({} train / {} test)",
        model.summary(),
        train.describe(),
        test.describe()
    ))
}

/// Creates `run_dir`, refusing one that holds anything.
pub(crate) fn create_run_dir(run_dir: &Path) -> Result<(), TrainError> {
    let occupied = run_dir.exists()
        && std::fs::read_dir(run_dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true);
    if occupied {
        return Err(TrainError::OutputExists {
            dir: run_dir.to_path_buf(),
        });
    }
    std::fs::create_dir_all(run_dir).map_err(io_error(run_dir))
}

/// Removes the metrics lines of epochs after `epochs_done` (an epoch that logged its metrics
/// but was interrupted before its checkpoint), so that the resumed run logs each epoch once.
pub(crate) fn drop_metrics_after(run_dir: &Path, epochs_done: usize) -> Result<(), TrainError> {
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

/// The loop of [`fit`], [`fit_resume`] and the configuration path: epochs `from`'s epoch + 1
/// to `training.epochs`. `label` describes the model and data in the opening note.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_epochs<M, D, E>(
    model: M,
    t: &TrainingConfig,
    run_dir: &Path,
    from: Option<CheckpointInfo>,
    train_set: &D,
    test_set: &E,
    label: &str,
    progress: &mut dyn Progress,
) -> Result<FitOutcome<M>, TrainError>
where
    M: SpikingModel,
    D: Dataset + ?Sized,
    E: Dataset + ?Sized,
{
    let parallel = t.parallel_devices()?;
    let device = match parallel.first() {
        Some(first) => first.clone(),
        None => t.backend.device()?,
    };
    let parallel: Vec<Device> = parallel.into_iter().map(|d| d.autodiff()).collect();
    let autodiff = device.clone().autodiff();
    // `train` enables autodiff on a model built on a plain device (fork keeps its state).
    let mut model = model.fork(&autodiff).train();
    let mut optim = adam(t);
    let mut start = 0;
    let mut partial = None;
    let bad_checkpoint = |message: String| TrainError::BadCheckpoint {
        path: run_dir.join(checkpoint::POINTER),
        message,
    };
    if let Some(info) = from {
        (model, optim) = checkpoint::load(run_dir, &info, model, optim)?;
        if !info.streams.is_empty() {
            model
                .set_stream_positions(&info.streams)
                .map_err(bad_checkpoint)?;
        }
        start = info.epochs_done;
        partial = info.partial;
    }
    progress.note(&format!(
        "training {label}, backend {}, epochs {}..{}, batch {} -> {}",
        t.backend.describe(),
        start + 1,
        t.epochs,
        t.batch_size,
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
        let resumed = partial.take().filter(|p: &PartialEpoch| p.steps < total);
        let skip = resumed.as_ref().map_or(0, |p| p.steps);
        let earlier_seconds = resumed.as_ref().map_or(0.0, |p| p.train_seconds);
        let mut data_seconds = 0.0;
        let (mut loss_sum, mut hits, mut seen, mut rates) = match resumed {
            Some(p) => (p.loss_sum, p.hits, p.seen, p.rates),
            None => (0.0, 0usize, 0usize, Vec::new()),
        };
        // Augmentation draws from the seed on this epoch's stream, so a resumed run sees the
        // same samples.
        let mut augment = ChaCha8Rng::seed_from_u64(t.seed ^ AUGMENT_SEED);
        augment.set_stream(epoch as u64);
        let batch_list: Vec<&[usize]> = order
            .chunks(t.batch_size.max(1))
            .filter(|c| !drop_last || c.len() == t.batch_size)
            .collect();
        // A loader thread builds (decodes, augments, frames) the next batch while this one
        // trains, in the order and from the stream an inline loop would use, so the batches
        // are the same; `data_seconds` is the time training waited for a batch.
        let epoch_result = std::thread::scope(|scope| -> Result<M, TrainError> {
            let (sender, batches) = std::sync::mpsc::sync_channel(1);
            let loader_device = autodiff.clone();
            scope.spawn(move || {
                for (i, indices) in batch_list.into_iter().enumerate() {
                    if i < skip {
                        // Done before the checkpoint: only the augmentation stream moves on.
                        train_set.skip_batch(indices, &mut augment);
                        continue;
                    }
                    let batch = train_set.train_batch(indices, &mut augment, &loader_device);
                    if sender.send((i, batch)).is_err() {
                        return; // training stopped early
                    }
                }
            });
            loop {
                let waited = Instant::now();
                let Ok((i, batch)) = batches.recv() else {
                    break;
                };
                data_seconds += waited.elapsed().as_secs_f64();
                let b = batch.targets.dims()[0];
                let lr = t.lr_at(epoch * total + i, t.epochs * total);
                let targets = batch.targets.clone();
                let (next, value, out) = if parallel.len() > 1 {
                    train_step_parallel(model, &mut optim, t, lr, batch, &parallel)
                } else {
                    train_step_at(model, &mut optim, t, lr, batch)
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
                hits += correct(predict(t, &out), targets);
                let layers = out.spike_rates.len();
                if add_rates(&mut rates, out.spike_rates, b as f64).is_none() {
                    progress.end();
                    return Err(bad_checkpoint(format!(
                        "partial epoch has spike rates of {} neuron layers, the model has {layers}",
                        rates.len()
                    )));
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
                    let partial = PartialEpoch {
                        steps: i + 1,
                        loss_sum,
                        hits,
                        seen,
                        rates: rates.clone(),
                        train_seconds: earlier_seconds + train_started.elapsed().as_secs_f64(),
                    };
                    let info = CheckpointInfo::new(epoch, t.seed, &model, Some(partial));
                    checkpoint::save(run_dir, &model, &optim, info)?;
                    last_checkpoint = Instant::now();
                }
            }
            Ok(model)
        });
        model = epoch_result?;
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
            data_seconds,
            backend: t.backend.name().to_string(),
        };
        save_epoch(run_dir, &model, &optim, &record, t.seed)?;
        last_checkpoint = Instant::now();
        progress.note(&format!(
            "epoch {}/{}: train loss {:.4}, train acc {:.2}%, test acc {:.2}% (membrane {:.2}%), {:.1} ms/step, {:.1}s (waiting for batches {:.1}% of training)",
            record.epoch,
            t.epochs,
            record.train_loss,
            100.0 * record.train_accuracy,
            100.0 * record.test_accuracy,
            100.0 * record.test_accuracy_membrane,
            record.step_ms,
            record.train_seconds + record.eval_seconds,
            100.0 * record.data_seconds / record.train_seconds.max(1e-9),
        ));
        records.push(record);
    }
    Ok(FitOutcome {
        model: model.valid(),
        epochs: records,
        run_dir: run_dir.to_path_buf(),
    })
}

/// Writes the end-of-epoch outputs: the weights, the metrics line, the checkpoint.
fn save_epoch<M: SpikingModel>(
    run_dir: &Path,
    model: &M,
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
    let info = CheckpointInfo::new(record.epoch, seed, model, None);
    checkpoint::save(run_dir, model, optim, info)
}
