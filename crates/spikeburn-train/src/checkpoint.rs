//! End-of-epoch checkpoints: model, optimiser state and the position in the data order.
//!
//! Layout inside a run directory:
//!
//! ```text
//! checkpoint.json        {"epochs_done": N, "dir": "checkpoint-N", "seed": S}  (written last)
//! checkpoint-N/model.bpk model weights (burnpack)
//! checkpoint-N/optim.bpk Adam moments and step counts (burnpack)
//! ```
//!
//! A checkpoint is written to `.checkpoint-N.tmp/`, renamed to `checkpoint-N/`, and only then
//! made current by atomically replacing `checkpoint.json`; the previous one is removed last.
//! A crash at any point leaves the previous checkpoint valid. The data order of epoch `e` is
//! a pure function of `(seed, e)` ([`spikeburn_data::epoch_order`]), so `epochs_done` and the
//! seed are the whole position of the random stream.

use crate::error::TrainError;
use crate::fsutil::{io_error, write_bytes_atomically};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
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
}

/// Writes the checkpoint after `epochs_done` epochs (see the [module docs](self)).
pub fn save<M: Module>(
    run_dir: &Path,
    model: &M,
    optim: &ModuleOptimizer,
    epochs_done: usize,
    seed: u64,
) -> Result<(), TrainError> {
    let name = format!("checkpoint-{epochs_done}");
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
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).map_err(io_error(&dir))?;

    let previous = read_info(run_dir)?;
    let info = CheckpointInfo {
        epochs_done,
        dir: name,
        seed,
    };
    let pointer = run_dir.join(POINTER);
    let json = serde_json::to_string_pretty(&info).unwrap_or_default();
    write_bytes_atomically(&pointer, json.as_bytes())?;
    if let Some(old) = previous.filter(|old| old.dir != info.dir) {
        let _ = std::fs::remove_dir_all(run_dir.join(old.dir));
    }
    Ok(())
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
