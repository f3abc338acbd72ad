//! Checkpoints: model, optimiser state and the position in the data and random streams, at
//! the end of every epoch and, within an epoch, every `training.checkpoint_every` steps and
//! every `training.checkpoint_minutes` minutes (default 5).
//!
//! Layout inside a run directory:
//!
//! ```text
//! checkpoint.json          {"epochs_done": N, "dir": "checkpoint-N", "seed": S, "streams": […],
//!                           "partial": {…} when within an epoch}          (written last)
//! checkpoint-N/model.bpk   model weights (burnpack) after N epochs
//! checkpoint-N/optim.bpk   Adam moments and step counts (burnpack)
//! checkpoint-N-S/…         the same after S steps of epoch N + 1 (with `partial`)
//! ```
//!
//! A checkpoint is written to `.checkpoint-N.tmp/`, its files and the folder are flushed to
//! the disk (`fsync`), it is renamed to `checkpoint-N/` and the run folder flushed, and only
//! then is it made current by atomically replacing `checkpoint.json` (flushed the same way,
//! [`spikeburn_io::write_atomically`]); every other checkpoint folder is removed last. A
//! crash or power loss at any point leaves the previous checkpoint valid, and a failed write
//! (disk full, I/O error) leaves it current and ends with the error.
//!
//! The random state of training is all in the checkpoint: the data order and the shift and
//! flip augmentation of epoch `e` are pure functions of `(seed, e)`
//! ([`spikeburn_data::epoch_order`]), and `streams` holds the position of every other random
//! stream — the rate encoder, dropout masks and stochastic neurons
//! ([`spikeburn_core::SpikingModel::stream_positions`]) — so a resumed run draws exactly
//! what the uninterrupted run draws. Checkpoints written before `streams` existed load with
//! the streams restarted.

use crate::error::TrainError;
use crate::error::io_error;
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use spikeburn_io::{sync_dir, sync_file, write_bytes_atomically};
use std::path::{Path, PathBuf};

/// Name of the file that points at the current checkpoint.
pub const POINTER: &str = "checkpoint.json";

/// The contents of `checkpoint.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointInfo {
    /// Epochs completed; training resumes with epoch `epochs_done + 1`.
    pub epochs_done: usize,
    /// Directory of the checkpoint, relative to the run directory.
    pub dir: String,
    /// Seed of the run (weights and data order).
    pub seed: u64,
    /// Positions of the model's random streams
    /// ([`spikeburn_core::SpikingModel::stream_positions`]); empty in checkpoints written
    /// before they were stored.
    #[serde(default)]
    pub streams: Vec<u64>,
    /// Where within epoch `epochs_done + 1` the checkpoint was taken; `None` at an epoch's
    /// end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<PartialEpoch>,
}

/// The state of an epoch interrupted after `steps` optimiser steps: what its metrics record
/// has summed so far. JSON keeps each `f64` exactly (shortest round-trip form), so the resumed
/// epoch logs the numbers of the uninterrupted one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartialEpoch {
    /// Optimiser steps (batches) of the epoch done.
    pub steps: usize,
    /// Sum of the batch losses so far.
    pub loss_sum: f64,
    /// Correctly classified training samples so far.
    pub hits: usize,
    /// Training samples so far.
    pub seen: usize,
    /// Per neuron layer, the sum of batch spike rates weighted by batch size.
    pub rates: Vec<f64>,
    /// Seconds of training in the epoch so far.
    pub train_seconds: f64,
}

impl CheckpointInfo {
    /// The checkpoint of `model` after `epochs_done` epochs (and, with `partial`, some steps
    /// of the next), with the positions of its random streams; [`save`] names its folder.
    pub fn new<M: spikeburn_core::SpikingModel>(
        epochs_done: usize,
        seed: u64,
        model: &M,
        partial: Option<PartialEpoch>,
    ) -> Self {
        Self {
            epochs_done,
            dir: String::new(),
            seed,
            streams: model.stream_positions(),
            partial,
        }
    }

    /// The folder name of this checkpoint: `checkpoint-N`, or `checkpoint-N-S` within an
    /// epoch.
    fn folder(&self) -> String {
        match &self.partial {
            None => format!("checkpoint-{}", self.epochs_done),
            Some(p) => format!("checkpoint-{}-{}", self.epochs_done, p.steps),
        }
    }
}

/// Writes the checkpoint `info` (its `dir` is set here; see the [module docs](self)).
pub fn save<M: Module>(
    run_dir: &Path,
    model: &M,
    optim: &ModuleOptimizer,
    mut info: CheckpointInfo,
) -> Result<(), TrainError> {
    let name = info.folder();
    let tmp = run_dir.join(format!(".{name}.tmp"));
    let dir = run_dir.join(&name);
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io_error(&tmp))?;
    let model_path = tmp.join("model.bpk");
    model
        .clone()
        .save_file(&model_path)
        .map_err(|e| TrainError::record(&model_path, e))?;
    let optim_path = tmp.join("optim.bpk");
    optim
        .save(&optim_path)
        .map_err(|e| TrainError::record(&optim_path, e))?;
    sync_file(&model_path)?;
    sync_file(&optim_path)?;
    sync_dir(&tmp)?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).map_err(io_error(&dir))?;
    sync_dir(run_dir)?;

    info.dir = name;
    let pointer = run_dir.join(POINTER);
    let json = serde_json::to_string_pretty(&info).unwrap_or_default();
    write_bytes_atomically(&pointer, json.as_bytes())?;
    prune(run_dir, &info.dir);
    Ok(())
}

/// Removes every checkpoint folder of `run_dir` but `current` (the previous checkpoint, and
/// any left behind by a crash between a rename and the pointer's update). Best effort: a
/// folder that cannot be removed stays, and the next checkpoint tries again.
fn prune(run_dir: &Path, current: &str) {
    let Ok(entries) = std::fs::read_dir(run_dir) else {
        return;
    };
    // `N` or `N-S`, decimal.
    let numbered = |n: &str| {
        n.split('-').count() <= 2
            && n.split('-')
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = name
            .strip_prefix("checkpoint-")
            .is_some_and(|n| numbered(n) && name != current)
            || name
                .strip_prefix(".checkpoint-")
                .and_then(|n| n.strip_suffix(".tmp"))
                .is_some_and(numbered);
        if stale && entry.path().is_dir() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let _ = sync_dir(run_dir);
}

/// Reads `checkpoint.json`, `None` when the run has none yet.
pub fn read_info(run_dir: &Path) -> Result<Option<CheckpointInfo>, TrainError> {
    let pointer = run_dir.join(POINTER);
    if !pointer.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&pointer).map_err(io_error(&pointer))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TrainError::BadCheckpoint {
            path: pointer,
            message: e.to_string(),
        })
}

/// Paths of the model and optimiser files of a checkpoint.
pub fn files(run_dir: &Path, info: &CheckpointInfo) -> (PathBuf, PathBuf) {
    let dir = run_dir.join(&info.dir);
    (dir.join("model.bpk"), dir.join("optim.bpk"))
}

/// Loads the checkpoint `info` into `model` and `optim`.
pub fn load<M: Module>(
    run_dir: &Path,
    info: &CheckpointInfo,
    model: M,
    optim: ModuleOptimizer,
) -> Result<(M, ModuleOptimizer), TrainError> {
    let (model_path, optim_path) = files(run_dir, info);
    for path in [&model_path, &optim_path] {
        if !path.is_file() {
            return Err(TrainError::BadCheckpoint {
                path: path.clone(),
                message: "file missing".into(),
            });
        }
    }
    let model = model
        .try_load_file(&model_path)
        .map_err(|e| TrainError::record(&model_path, e))?;
    let optim = optim
        .load(&optim_path)
        .map_err(|e| TrainError::record(&optim_path, e))?;
    Ok((model, optim))
}
