//! # spikeburn-train
//!
//! Training of spiking classifiers by backpropagation through time: the experiment
//! configuration ([`config`]), the backend choice ([`backend`]), the training and evaluation
//! loop ([`trainer`]), the optimiser ([`optim`]), end-of-epoch checkpoints for `--resume` ([`checkpoint`]) and progress
//! reporting ([`progress`]), and allocator tuning for training programs ([`runtime`]);
//! the reproducibility record of every run ([`provenance`]), and setting configuration fields
//! by name ([`settings`]). Sweeps, diagnostics and plots are in spikeburn-research; figures
//! in spikeburn-figures.

#![warn(missing_docs)]

pub mod backend;
pub mod checkpoint;
pub mod config;
pub mod error;
pub mod fit;
pub mod interchange;
pub mod optim;
pub mod progress;
pub mod provenance;
pub mod runtime;
pub mod settings;
pub mod step;
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
