//! The experiment description: data, model and training settings, read from TOML.
//!
//! Every field has a default, so a file only states what differs from the `mnist-mlp`
//! preset; unknown keys are rejected with their name. An example (README.md, "Configuration
//! file", lists every key):
//!
//! ```toml
//! [data]
//! dataset = "mnist"          # or "fashion-mnist"
//! # dir = "datasets/mnist"   # default: the data set's usual place
//! limit_train = 0            # 0 = all training images, else the first N
//! limit_test = 0             # 0 = all test images
//!
//! [model]
//! input = [1, 28, 28]        # one sample's shape ([784] works for an MLP)
//! hidden = [1000]
//! outputs = 10
//! num_steps = 25
//!
//! [model.neuron]
//! beta = 0.95
//! threshold = 1.0
//! reset = "subtract"         # "zero", "none"
//! detach_reset = true
//! learn_beta = false
//! learn_threshold = false
//! per_neuron = false
//! surrogate = { kind = "atan", alpha = 2.0 }   # or { kind = "fast_sigmoid", slope = 25.0 }
//!
//! [training]
//! epochs = 1
//! batch_size = 128
//! lr = 5e-4
//! seed = 42
//! loss = "ce_membrane"       # "ce_rate", "ce_count"
//! backend = "flex"           # "ndarray"
//! adam_beta1 = 0.9
//! adam_beta2 = 0.999
//! adam_epsilon = 1e-8
//! ```

use crate::backend::{BackendKind, DeviceSpec};
use burn::prelude::Device;
use serde::{Deserialize, Serialize};
use spikeburn_core::{InvalidParameter, NetworkConfig};
use spikeburn_data::{DatasetKind, EventsConfig, RandmanConfig};
use std::path::{Path, PathBuf};

/// Where the training data comes from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Which data set.
    pub dataset: DatasetKind,
    /// The directory holding its IDX files; `None` = [`DatasetKind::default_dir`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Use only N training samples (0 = all): the first N images or Randman samples; for
    /// event data, which readers list class by class, N recordings spread evenly over the
    /// list.
    pub limit_train: usize,
    /// Use only N test samples (0 = all; chosen as for `limit_train`).
    pub limit_test: usize,
    /// The task of `dataset = "randman"` (`[data.randman]`; absent: the defaults of
    /// [`RandmanConfig`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub randman: Option<RandmanConfig>,
    /// How the recordings of an event data set (`shd`, `ssc`, `nmnist`, `dvs-gesture`)
    /// become frames (`[data.events]`; absent: 100 equal time bins per sample).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<EventsConfig>,
}

impl DataConfig {
    /// The directory to read: [`dir`](Self::dir) or the data set's default.
    pub fn resolved_dir(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| self.dataset.default_dir())
    }

    /// The Randman task (the configured one or the defaults).
    pub fn randman(&self) -> RandmanConfig {
        self.randman.clone().unwrap_or_default()
    }

    /// The framing of an event data set (the configured one or the defaults).
    pub fn events(&self) -> EventsConfig {
        self.events.clone().unwrap_or_default()
    }
}

/// The training objective on the output layer (see [`spikeburn_core::loss`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Membrane cross-entropy summed over time ([`spikeburn_core::loss::ce_membrane`]).
    #[default]
    CeMembrane,
    /// Per-step spike cross-entropy averaged over time ([`spikeburn_core::loss::ce_rate`]).
    CeRate,
    /// Cross-entropy of spike counts ([`spikeburn_core::loss::ce_count`]).
    CeCount,
    /// Mean squared error of spike counts against `correct_rate·T` / `incorrect_rate·T`
    /// ([`spikeburn_core::loss::mse_count`]).
    MseCount,
    /// Cross-entropy of the maximum membrane over time
    /// ([`spikeburn_core::loss::ce_max_membrane`]).
    CeMaxMembrane,
    /// Mean squared error of the membrane against 1 (correct class) / 0
    /// ([`spikeburn_core::loss::mse_membrane`]).
    MseMembrane,
    /// Cross-entropy of negative first-spike times ([`spikeburn_core::loss::ce_temporal`]).
    CeTemporal,
}

/// The learning-rate schedule over a run of `S` optimiser steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// `lr` at every step.
    #[default]
    Constant,
    /// Cosine annealing (Loshchilov & Hutter 2017, without restarts): at step `s` of `S`,
    /// `lr_min + (lr − lr_min)·(1 + cos(π·s/S))/2`, from `lr` down to `lr_min`.
    Cosine,
}

impl TrainingConfig {
    /// The devices of a data-parallel run (`devices`), opened; empty for a one-device run.
    pub fn parallel_devices(&self) -> Result<Vec<Device>, crate::backend::BackendError> {
        self.devices
            .iter()
            .filter_map(|d| d.parse::<DeviceSpec>().ok())
            .map(|d| d.device())
            .collect()
    }

    /// The learning rate of optimiser step `step` (from 0) of `total` steps in the run.
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        match self.lr_schedule {
            LrSchedule::Constant => self.lr,
            LrSchedule::Cosine => {
                let progress = step as f64 / total.max(1) as f64;
                self.lr_min
                    + (self.lr - self.lr_min)
                        * 0.5
                        * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

/// Optimisation settings (Adam).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per optimiser step.
    pub batch_size: usize,
    /// Adam learning rate (the peak rate under a schedule).
    pub lr: f64,
    /// How the learning rate changes over the run (default constant).
    pub lr_schedule: LrSchedule,
    /// The final learning rate of the cosine schedule (default 0).
    pub lr_min: f64,
    /// Data-parallel training over several devices (`"flex"`, `"ndarray"`, `"wgpu"`, or
    /// `"wgpu:N"` for the `N`-th discrete GPU): each batch is split across them and their
    /// gradients summed (see [`crate::trainer::train_step_parallel`]). Empty (the default): one
    /// device of `backend`. The first device holds the model and evaluates it.
    pub devices: Vec<String>,
    /// Shift augmentation: each training image is translated by a random offset of up to this
    /// many pixels in each direction, zero-filled (default 0, off). Drawn from the seed per
    /// epoch, so runs stay reproducible and resumable.
    pub augment_shift: usize,
    /// Flip augmentation: each training image is mirrored left–right with probability ½
    /// (default false; for clothing, not digits). Seeded like `augment_shift`.
    pub augment_flip: bool,
    /// Seed of weight initialisation and data order.
    pub seed: u64,
    /// Loss on the output layer.
    pub loss: LossKind,
    /// CPU backend.
    pub backend: BackendKind,
    /// Adam `β1`.
    pub adam_beta1: f32,
    /// Adam `β2`.
    pub adam_beta2: f32,
    /// Adam `ε` (1e-8 as PyTorch; burn's own default is 1e-5).
    pub adam_epsilon: f32,
    /// `mse_count`: target firing rate of the correct class (default 1, snnTorch's).
    pub correct_rate: f32,
    /// `mse_count`: target firing rate of the other classes (default 0).
    pub incorrect_rate: f32,
    /// Weight of the L1 spike-rate regulariser, summed over neuron layers (default 0).
    pub rate_l1: f32,
    /// Weight of the L2 (per-neuron) spike-rate regulariser, summed over layers (default 0).
    pub rate_l2: f32,
    /// Target mean firing rate of every hidden neuron layer for `rate_target_weight`.
    pub rate_target: f32,
    /// Weight of the target-rate regulariser `(rate − rate_target)²` per hidden layer
    /// (default 0).
    pub rate_target_weight: f32,
    /// A checkpoint within an epoch every this many optimiser steps (default 0: none by
    /// count). Checkpoints are also written at the end of every epoch.
    pub checkpoint_every: usize,
    /// A checkpoint within an epoch once this many minutes have passed since the last one
    /// (default 5: a crash loses at most about five minutes of work; 0: none by time).
    pub checkpoint_minutes: f64,
}

impl TrainingConfig {
    /// Checks every value's range; errors name the field as `training.key`.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        let t = self;
        let err = |field: &str, message: String| Err(InvalidParameter::new(field, message));
        if t.epochs == 0 {
            return err("training.epochs", "expected a number > 0, got 0".into());
        }
        if t.batch_size == 0 {
            return err("training.batch_size", "expected a number > 0, got 0".into());
        }
        if !(t.lr.is_finite() && t.lr > 0.0) {
            return err(
                "training.lr",
                format!("expected a finite number > 0, got {}", t.lr),
            );
        }
        for (i, d) in t.devices.iter().enumerate() {
            if let Err(e) = d.parse::<DeviceSpec>() {
                return err(&format!("training.devices[{i}]"), e);
            }
        }
        if !(t.lr_min.is_finite() && t.lr_min >= 0.0 && t.lr_min <= t.lr) {
            return err(
                "training.lr_min",
                format!("expected a number in [0, training.lr], got {}", t.lr_min),
            );
        }
        for (field, value) in [
            ("training.adam_beta1", t.adam_beta1),
            ("training.adam_beta2", t.adam_beta2),
        ] {
            if !(0.0..1.0).contains(&value) {
                return err(field, format!("expected a number in [0, 1), got {value}"));
            }
        }
        if !(t.adam_epsilon.is_finite() && t.adam_epsilon > 0.0) {
            return err(
                "training.adam_epsilon",
                format!("expected a finite number > 0, got {}", t.adam_epsilon),
            );
        }
        if !(t.checkpoint_minutes.is_finite() && t.checkpoint_minutes >= 0.0) {
            return err(
                "training.checkpoint_minutes",
                format!(
                    "expected a finite number of minutes >= 0 (0: none by time), got {}",
                    t.checkpoint_minutes
                ),
            );
        }
        Ok(())
    }

    /// Whether a checkpoint is due after `steps` steps of an epoch, `since` the last one
    /// ([`checkpoint_every`](Self::checkpoint_every), [`checkpoint_minutes`](Self::checkpoint_minutes)).
    pub fn checkpoint_due(&self, steps: usize, since: std::time::Duration) -> bool {
        (self.checkpoint_every > 0 && steps.is_multiple_of(self.checkpoint_every))
            || (self.checkpoint_minutes > 0.0
                && since.as_secs_f64() >= 60.0 * self.checkpoint_minutes)
    }
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 1,
            batch_size: 128,
            lr: 5e-4,
            lr_schedule: LrSchedule::Constant,
            lr_min: 0.0,
            augment_shift: 0,
            augment_flip: false,
            devices: Vec::new(),
            seed: 42,
            loss: LossKind::CeMembrane,
            backend: BackendKind::default(),
            adam_beta1: 0.9,
            adam_beta2: 0.999,
            adam_epsilon: 1e-8,
            correct_rate: 1.0,
            incorrect_rate: 0.0,
            rate_l1: 0.0,
            rate_l2: 0.0,
            rate_target: 0.05,
            rate_target_weight: 0.0,
            checkpoint_every: 0,
            checkpoint_minutes: 5.0,
        }
    }
}

/// A whole experiment: what `spikeburn train` runs and writes to `config.toml`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Data set and subset.
    pub data: DataConfig,
    /// The network.
    pub model: NetworkConfig,
    /// Optimisation.
    pub training: TrainingConfig,
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML for an experiment.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, one line.
        message: String,
    },
    /// A value is out of range.
    #[error("{origin}: {error}")]
    Invalid {
        /// Where the value came from (a file, or "command line").
        origin: String,
        /// The field and the problem.
        error: InvalidParameter,
    },
    /// No preset of that name.
    #[error("unknown preset {0:?} (available: {available})", available = PRESETS.join(", "))]
    UnknownPreset(String),
}

/// Names of the built-in presets.
pub const PRESETS: &[&str] = &[
    "mnist-mlp",
    "fashion-mlp",
    "mnist-conv",
    "fashion-conv",
    "randman-rsnn",
    "shd-rsnn",
    "ssc-rsnn",
    "nmnist-conv",
    "dvsgesture-conv",
];

/// The text of each built-in preset, from `presets/*.toml` in the repository (embedded at
/// build time; copy one to start a configuration of your own).
pub const PRESET_FILES: &[(&str, &str)] = &[
    (
        "mnist-mlp",
        include_str!("../../../../presets/mnist-mlp.toml"),
    ),
    (
        "fashion-mlp",
        include_str!("../../../../presets/fashion-mlp.toml"),
    ),
    (
        "mnist-conv",
        include_str!("../../../../presets/mnist-conv.toml"),
    ),
    (
        "fashion-conv",
        include_str!("../../../../presets/fashion-conv.toml"),
    ),
    (
        "randman-rsnn",
        include_str!("../../../../presets/randman-rsnn.toml"),
    ),
    (
        "shd-rsnn",
        include_str!("../../../../presets/shd-rsnn.toml"),
    ),
    (
        "ssc-rsnn",
        include_str!("../../../../presets/ssc-rsnn.toml"),
    ),
    (
        "nmnist-conv",
        include_str!("../../../../presets/nmnist-conv.toml"),
    ),
    (
        "dvsgesture-conv",
        include_str!("../../../../presets/dvsgesture-conv.toml"),
    ),
];

impl ExperimentConfig {
    /// A built-in preset (the file `presets/NAME.toml`): `mnist-conv` / `fashion-conv` (a convolutional SNN:
    /// conv32–BN–pool–LIF–conv64–pool–BN–LIF–linear256–LIF–linear10–integrator, `T = 4`,
    /// Adam 1e-3 with a cosine schedule over 10 epochs, shift augmentation of ±2 pixels for
    /// MNIST, ±1 pixel and left–right flips for Fashion-MNIST), `mnist-mlp` (snnTorch
    /// tutorial 5: 784-1000-10 LIF, `β = 0.95`, 25 steps, arctan surrogate, membrane
    /// cross-entropy, Adam 5e-4, batch 128) or `fashion-mlp` (the same network on
    /// Fashion-MNIST).
    pub fn preset(name: &str) -> Result<Self, ConfigError> {
        let (_, text) = PRESET_FILES
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| ConfigError::UnknownPreset(name.to_string()))?;
        Self::from_toml(text, Path::new(&format!("presets/{name}.toml")))
    }

    /// The TOML text of a built-in preset (`presets/NAME.toml`).
    pub fn preset_text(name: &str) -> Option<&'static str> {
        PRESET_FILES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| *text)
    }

    /// Parses TOML text; `origin` names the source in errors.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_path_buf(),
            message: one_line(&e),
        })
    }

    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path)
    }

    /// The configuration as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# not serialisable: {e}\n"))
    }

    /// Checks every value's range; errors name the field as `section.key`.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        self.model.validate().map_err(|e| e.within("model"))?;
        self.training.validate()?;
        let t = &self.training;
        let err = |field: &str, message: String| Err(InvalidParameter::new(field, message));
        if self.data.dataset == DatasetKind::Randman {
            let randman = self.data.randman();
            randman.validate().map_err(|e| {
                InvalidParameter::new(format!("data.randman.{}", e.field), e.message)
            })?;
            if self.model.input_size() != randman.units {
                return err(
                    "model.input",
                    format!(
                        "expected [{}] (data.randman.units), got {:?}",
                        randman.units, self.model.input
                    ),
                );
            }
            if self.model.num_steps != randman.steps {
                return err(
                    "model.num_steps",
                    format!(
                        "expected {} (data.randman.steps: a sample's length), got {}",
                        randman.steps, self.model.num_steps
                    ),
                );
            }
            if t.augment_shift > 0 || t.augment_flip {
                return err(
                    "training.augment_shift",
                    "shift and flip augmentation apply to images only".into(),
                );
            }
        } else if self.data.randman.is_some() {
            return err(
                "data.randman",
                format!("set, but data.dataset is {}", self.data.dataset),
            );
        }
        if self.data.dataset.is_events() {
            self.data
                .events()
                .check_network(self.data.dataset, &self.model.input, self.model.num_steps)
                .map_err(|(field, message)| InvalidParameter::new(field, message))?;
            if t.augment_shift > 0 || t.augment_flip {
                return err(
                    "training.augment_shift",
                    "shift and flip augmentation apply to images only (augment events with data.events.augment)".into(),
                );
            }
        } else if self.data.events.is_some() {
            return err(
                "data.events",
                format!("set, but data.dataset is {}", self.data.dataset),
            );
        }
        // MNIST and Fashion-MNIST images are 28×28: a shift of 28 or more moves every pixel
        // out of view and trains on blank images.
        if t.augment_shift >= IMAGE_SIDE {
            return err(
                "training.augment_shift",
                format!(
                    "expected a shift below the {IMAGE_SIDE}-pixel image side (a shift of \
                     {IMAGE_SIDE} or more can leave no pixel in view), got {}",
                    t.augment_shift
                ),
            );
        }
        Ok(())
    }

    /// Refuses a configuration whose estimated training memory
    /// ([`spikeburn_core::NetworkConfig::memory_estimate`] at `training.batch_size`) exceeds
    /// `available` bytes, with the estimate and what to lower. `None` (the free memory is
    /// unknown) accepts every configuration.
    pub fn check_memory(&self, available: Option<f64>) -> Result<(), InvalidParameter> {
        let (Some(available), Some(estimate)) = (
            available,
            self.model.memory_estimate(self.training.batch_size),
        ) else {
            return Ok(());
        };
        if estimate.total() <= available {
            return Ok(());
        }
        let gib = |bytes: f64| bytes / f64::from(1u32 << 30);
        Err(InvalidParameter::new(
            "model",
            format!(
                "training needs an estimated {:.1} GiB ({:.1} GiB of weights, gradients and Adam \
                 state for {:.3e} parameters; {:.1} GiB of activations kept for BPTT over \
                 {} steps × batch {}), more than the {:.1} GiB available: lower \
                 model.num_steps, training.batch_size or the layer sizes{}",
                gib(estimate.total()),
                gib(estimate.weight_bytes),
                estimate.parameters,
                gib(estimate.activation_bytes),
                self.model.num_steps,
                self.training.batch_size,
                gib(available),
                if self.model.checkpoint_segment.is_none() {
                    ", or set model.checkpoint_segment (dense + LIF layers then recompute their \
                     activations in the backward pass)"
                } else {
                    ""
                }
            ),
        ))
    }
}

/// The side of the images of the supported data sets (MNIST, Fashion-MNIST: 28×28).
const IMAGE_SIDE: usize = 28;

/// The memory this machine can give a new process now, in bytes (`MemAvailable` of
/// `/proc/meminfo`); `None` where that is not known.
pub fn available_memory() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// A parser message folded to a single line.
fn one_line(error: &impl std::fmt::Display) -> String {
    error
        .to_string()
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l
                    .chars()
                    .all(|c| c == '|' || c == '^' || c.is_ascii_digit() || c == ' ')
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod preset_tests;
