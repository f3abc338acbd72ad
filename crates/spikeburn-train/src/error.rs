//! Errors of training and evaluation.

use crate::config::ConfigError;
use spikeburn_core::InvalidParameter;
use spikeburn_data::DataError;
use std::path::PathBuf;

/// Why a training or evaluation run stopped.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The configuration could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The configured backend has no device here.
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] InvalidParameter),
    /// The data could not be loaded.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Event data could not be read or framed.
    #[error(transparent)]
    Events(#[from] spikeburn_data::EventError),
    /// The output directory already holds files.
    #[error("{dir}: output directory is not empty (choose another --out, or --resume {dir})")]
    OutputExists {
        /// The directory.
        dir: PathBuf,
    },
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A weights or optimiser file could not be saved or loaded.
    #[error("{path}: {message}")]
    Record {
        /// The file.
        path: PathBuf,
        /// burn's message.
        message: String,
    },
    /// A checkpoint or run directory is incomplete or inconsistent.
    #[error("{path}: invalid checkpoint: {message}")]
    BadCheckpoint {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A run directory lacks a file it must have.
    #[error("{path}: not found (is this a spikeburn run directory?)")]
    MissingRunFile {
        /// The missing file.
        path: PathBuf,
    },
    /// The loss became NaN or infinite.
    #[error(
        "loss is {value} at epoch {epoch}, batch {batch}: training diverged (lower training.lr?)"
    )]
    NonFiniteLoss {
        /// The epoch (1-based).
        epoch: usize,
        /// The batch (1-based).
        batch: usize,
        /// The loss value.
        value: f32,
    },
    /// The training set is empty after `limit_train`.
    #[error("the training set is empty (data.limit_train or the data files)")]
    EmptyData,
}

impl TrainError {
    /// A burn record error on `path`.
    pub fn record(path: &std::path::Path, error: impl std::fmt::Display) -> Self {
        TrainError::Record {
            path: path.to_path_buf(),
            message: error.to_string(),
        }
    }
}

impl From<spikeburn_io::IoError> for TrainError {
    fn from(e: spikeburn_io::IoError) -> Self {
        TrainError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

/// A closure that wraps a [`std::io::Error`] on `path` as [`TrainError::Io`], for `map_err`.
pub fn io_error(path: &std::path::Path) -> impl Fn(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}
