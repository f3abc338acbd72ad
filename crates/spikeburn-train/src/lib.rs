//! # spikeburn-train
//!
//! Training of spiking classifiers by backpropagation through time: the experiment
//! configuration ([`config`]), the backend choice ([`backend`]), the training and evaluation
//! loop ([`trainer`]), end-of-epoch checkpoints for `--resume` ([`checkpoint`]) and progress
//! reporting ([`progress`]), and allocator tuning for training programs ([`runtime`]);
//! the reproducibility record of every run ([`provenance`]), hyper-parameter sweeps
//! ([`sweep`]), gradient diagnostics ([`diagnose`]), and figures ([`figures`], [`plot`]).

#![warn(missing_docs)]

pub mod backend;
pub mod checkpoint;
pub mod config;
pub mod diagnose;
pub mod error;
pub mod figures;
pub mod fit;
pub mod fsutil;
pub mod interchange;
pub mod plot;
pub mod progress;
pub mod provenance;
pub mod runtime;
pub mod settings;
pub mod step;
pub mod sweep;
pub mod trainer;

pub use backend::{BackendKind, DeviceSpec};
pub use config::{ConfigError, DataConfig, ExperimentConfig, LossKind, LrSchedule, TrainingConfig};
pub use error::TrainError;
pub use fit::{FitOutcome, fit, fit_resume};
pub use progress::{Console, Progress, Silent};
pub use trainer::{
    EpochRecord, Evaluation, TrainOutcome, evaluate, load_run_config, load_run_model, read_metrics,
    resume, train,
};
