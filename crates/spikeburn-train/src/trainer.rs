//! Training from a configuration: what `spikeburn train` and `spikeburn train --resume` run.
//! [`train`] builds the network an [`ExperimentConfig`] describes, loads its data set and runs
//! the project's training loop ([`crate::fit()`]) into a run folder that also holds the
//! configuration (`config.toml`) and the reproducibility record; [`resume`] continues it.
//!
//! The loop itself, its metrics and its steps live in [`crate::fit`](mod@crate::fit) and [`crate::step`]
//! (re-exported here under their former paths).

use crate::checkpoint;
use crate::config::ExperimentConfig;
use crate::error::TrainError;
use crate::error::io_error;
use crate::progress::Progress;
use crate::provenance::RunInfo;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use spikeburn_core::{InvalidParameter, SpikingNetwork};
use spikeburn_data::{AugmentedImages, Dataset, DatasetKind, ImageDataset, SpikeTrains, Split};
use spikeburn_io::write_bytes_atomically;
use std::path::Path;

pub use crate::fit::{EpochRecord, Evaluation, FitOutcome, evaluate, files};
pub use crate::step::{compute_loss, objective, train_step, train_step_at, train_step_parallel};

/// What [`train`] and [`resume`] return: the trained network, the epochs run, the folder.
pub type TrainOutcome = FitOutcome<SpikingNetwork>;

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

/// A data set of any kind (what [`load_data`] returns).
pub type BoxedDataset = Box<dyn Dataset>;

/// The training and test sets of the configured data set, ready for [`crate::fit()`]: images
/// (cut to `limit_train` / `limit_test`, the training images with the configured shift and
/// flip augmentation) or a generated Randman task (cut the same way).
///
/// # Errors
/// Missing or malformed files, a model input that does not match the data, an invalid task.
pub fn load_data(config: &ExperimentConfig) -> Result<(BoxedDataset, BoxedDataset), TrainError> {
    Ok((
        load_set(config, Split::Train)?,
        load_set(config, Split::Test)?,
    ))
}

/// The test set of the configured data set, as [`load_data`] gives it (for evaluation,
/// diagnostics and figures of a run: images, a Randman task or event data alike).
///
/// # Errors
/// As [`load_data`].
pub fn load_test_set(config: &ExperimentConfig) -> Result<BoxedDataset, TrainError> {
    load_set(config, Split::Test)
}

/// One split of the configured data set, cut to its limit (see [`load_data`]).
fn load_set(config: &ExperimentConfig, split: Split) -> Result<BoxedDataset, TrainError> {
    let d = &config.data;
    let limit = match split {
        Split::Train => d.limit_train,
        Split::Test => d.limit_test,
    };
    if d.dataset == DatasetKind::Randman {
        let (train, test) = d.randman().generate().map_err(|e| {
            TrainError::Invalid(InvalidParameter::new(
                format!("data.randman.{}", e.field),
                e.message,
            ))
        })?;
        let set: SpikeTrains = if split == Split::Train { train } else { test };
        let n = if limit > 0 {
            limit.min(set.len())
        } else {
            set.len()
        };
        return Ok(Box::new(set.subset(&(0..n).collect::<Vec<_>>())));
    }
    if d.dataset.is_events() {
        let dir = d.resolved_dir();
        let events = d.events();
        let cache = spikeburn_data::events::FrameCache::new(
            spikeburn_data::events::FrameCache::default_dir(),
        );
        let (set, _report) =
            spikeburn_data::events::load(d.dataset, &dir, split, &events, Some(&cache))?;
        // Readers list recordings class by class, so a limit takes samples spread evenly over
        // the list (every class represented), not the first ones.
        return Ok(if limit > 0 && limit < set.len() {
            let n = set.len();
            Box::new(set.subset(&(0..limit).map(|i| i * n / limit).collect::<Vec<_>>()))
        } else {
            Box::new(set)
        });
    }
    if split == Split::Test {
        return Ok(Box::new(load_split(config, Split::Test)?));
    }
    let t = &config.training;
    Ok(Box::new(AugmentedImages {
        images: load_split(config, Split::Train)?,
        max_shift: t.augment_shift,
        flip: t.augment_flip,
    }))
}

/// The Adam optimiser of `config`.
pub fn optimizer(config: &ExperimentConfig) -> ModuleOptimizer {
    crate::step::adam(&config.training)
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
    let (train_set, test_set) = load_data(config)?;
    if train_set.is_empty() {
        return Err(TrainError::EmptyData);
    }
    crate::fit::create_run_dir(run_dir)?;
    let config_path = run_dir.join(files::CONFIG);
    write_bytes_atomically(&config_path, config.to_toml().as_bytes())?;
    RunInfo::collect(config).write(run_dir)?;
    run_config(config, run_dir, None, train_set, test_set, progress)
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
    let (train_set, test_set) = load_data(&config)?;
    if train_set.is_empty() {
        return Err(TrainError::EmptyData);
    }
    let info = checkpoint::read_info(run_dir)?;
    crate::fit::drop_metrics_after(run_dir, info.as_ref().map_or(0, |i| i.epochs_done))?;
    run_config(&config, run_dir, info, train_set, test_set, progress)
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
) -> Result<SpikingNetwork, TrainError> {
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

/// The network of `config` on the training device, trained on its data set by the loop of
/// [`crate::fit`].
fn run_config(
    config: &ExperimentConfig,
    run_dir: &Path,
    from: Option<checkpoint::CheckpointInfo>,
    train_set: Box<dyn Dataset>,
    test_set: Box<dyn Dataset>,
    progress: &mut dyn Progress,
) -> Result<TrainOutcome, TrainError> {
    let t = &config.training;
    let device = match t.parallel_devices()?.first() {
        Some(first) => first.clone(),
        None => t.backend.device()?,
    };
    let model = config.model.init(t.seed, &device.clone().autodiff());
    // Which dense + LIF pairs run with gradient checkpointing, where any do (CPU backends).
    let checkpointed = model.checkpointed(&device);
    let checkpointing = match config.model.checkpoint_segment {
        Some(segment) if !checkpointed.is_empty() => format!(
            ", gradient checkpointing of {} dense + LIF pair(s) in segments of {segment} steps",
            checkpointed.len()
        ),
        Some(_) => ", no dense + LIF pair to checkpoint on this backend".to_string(),
        None => String::new(),
    };
    let label = format!(
        "{} on {} ({} train / {} test), {} time steps{checkpointing}",
        config.model.summary(),
        config.data.dataset,
        train_set.describe(),
        test_set.describe(),
        config.model.num_steps,
    );
    crate::fit::run_epochs(
        model,
        t,
        run_dir,
        from,
        &*train_set,
        &*test_set,
        &label,
        progress,
    )
}
