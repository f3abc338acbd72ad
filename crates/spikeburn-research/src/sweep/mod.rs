//! Hyper-parameter sweeps: every cell of a grid over configuration fields, several seeds each,
//! resumable, optionally several runs at a time, with result tables and figures.
//!
//! # Grid axes
//!
//! An axis is `KEY=V1,V2,…`, keys and values as [`spikeburn_train::settings`] describes. Axes are applied
//! from the shortest path to the longest, so a table is replaced before its fields are set,
//! whatever the order on the command line.
//!
//! Every cell's configuration is parsed and validated before the first run starts; an error
//! names the cell's axis values and the field.
//!
//! # Seeds
//!
//! `seeds = N` runs every cell with `training.seed = s, s+1, …, s+N−1`, where `s` is the base
//! configuration's seed. `training.seed` itself cannot be a grid axis.
//!
//! # Output
//!
//! ```text
//! OUT/sweep.json                         the sweep: base config, axes, seeds, provenance
//! OUT/runs/CELL/seed-S/                   one run: config.toml, run.json, metrics.jsonl,
//!                                         model.bpk, checkpoint…, result.json (when finished)
//! OUT/results.csv                         one row per run (rewritten after every run)
//! OUT/summary.csv                         one row per cell: mean and std over seeds
//! OUT/METRIC_vs_AXIS.{svg,png}            METRIC against each axis with ≥ 2 values
//! ```
//!
//! `CELL` is `key=value` for each axis, joined by `+` (`base` without axes), with characters
//! other than letters, digits and `._=+-` replaced and a hash appended when that happens.
//!
//! # Resuming
//!
//! A run is finished when its `result.json` exists; a restarted sweep skips it. A run that was
//! interrupted continues from its last end-of-epoch checkpoint ([`spikeburn_train::resume`], exact). A
//! run whose loss became NaN or infinite is recorded as `diverged` and is finished too. A run
//! directory whose `config.toml` differs from the cell's configuration stops the sweep before
//! anything runs (choose another output directory, or remove that run).
//!
//! # Parallel runs
//!
//! `jobs > 1` trains that many runs at once on threads of this process. They share burn's
//! rayon thread pool, which already spreads one run's large operations over all cores: for
//! large models, one job is as fast; for small models, whose operations are too small to keep
//! every core busy, several jobs finish the grid sooner. Memory grows with the number of jobs.
//! The numbers do not depend on `jobs` (tested).
//!
//! # Several machines (shards)
//!
//! [`SweepOptions::shard`] `= I/N` trains only shard `I` of `N` ([`Shard`]: every `N`-th run
//! in grid order), so `N` processes on as many machines, sharing the sweep directory on a
//! common file system, train disjoint shares of the grid (`spikeburn sweep --shard I/N`;
//! `scripts/slurm-sweep.sh` runs them as a Slurm job array). Each shard writes its run folders
//! and `sweep.json` only (every file through a temporary name unique to the process); the
//! tables and figures come from [`write_reports`] (`--report-only`) once every shard has
//! finished, and are those of one process training the whole grid (tested with four shards).

use serde::{Deserialize, Serialize};
use spikeburn_figures::{Chart, Figure, FigureError, ImageFormat, Point, Series, XScale};
use spikeburn_io::write_bytes_atomically;
use spikeburn_train::config::ExperimentConfig;
use spikeburn_train::error::{TrainError, io_error};
use spikeburn_train::progress::{Progress, Silent, format_duration};
use spikeburn_train::provenance;
pub use spikeburn_train::settings::{AxisSpec, SettingError, parse_value, resolve_key};
use spikeburn_train::settings::{apply_to_tree, config_from_tree, set_path};
use spikeburn_train::trainer::{self, EpochRecord, files};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// File names of a sweep directory.
pub mod sweep_files {
    /// The sweep's description and provenance.
    pub const SWEEP: &str = "sweep.json";
    /// One row per run.
    pub const RESULTS: &str = "results.csv";
    /// One row per cell.
    pub const SUMMARY: &str = "summary.csv";
    /// The folder holding the run directories.
    pub const RUNS: &str = "runs";
    /// Inside a run directory: its row of `results.csv`, written when it finished.
    pub const RESULT: &str = "result.json";
}

/// Why a sweep could not be set up or run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A setting or axis is malformed, or its key matches no field or several.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// Two axes or settings address the same field, or an axis addresses the seed.
    #[error("{key}: {message}")]
    BadAxis {
        /// The full path.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A cell's configuration does not parse or is out of range.
    #[error("{cell}: {message}")]
    BadCell {
        /// The cell's axis values (or `--set KEY=VALUE`).
        cell: String,
        /// The field and the problem.
        message: String,
    },
    /// A run directory holds another configuration.
    #[error(
        "{dir}: holds a run of a different configuration than this sweep's cell (use another --out, or remove that directory)"
    )]
    ConfigMismatch {
        /// The run directory.
        dir: PathBuf,
    },
    /// A run failed for a reason other than divergence.
    #[error("{dir}: {source}")]
    Run {
        /// The run directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: TrainError,
    },
    /// Output could not be written or read.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// A figure could not be drawn or written.
    #[error(transparent)]
    Figure(#[from] FigureError),
}

impl From<spikeburn_io::IoError> for SweepError {
    fn from(e: spikeburn_io::IoError) -> Self {
        SweepError::Train(e.into())
    }
}

/// A resolved grid axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The key as given.
    pub key: String,
    /// The full dotted path it resolves to.
    pub path: Vec<String>,
    /// The values, parsed.
    pub values: Vec<toml::Value>,
    /// The values as given (for names, tables and legends).
    pub labels: Vec<String>,
}

impl Axis {
    /// The full path, dotted.
    pub fn name(&self) -> String {
        self.path.join(".")
    }

    /// The values as numbers, when all of them are integers or floats.
    pub fn numbers(&self) -> Option<Vec<f64>> {
        self.values
            .iter()
            .map(|v| match v {
                toml::Value::Integer(i) => Some(*i as f64),
                toml::Value::Float(f) => Some(*f),
                _ => None,
            })
            .collect()
    }
}

/// One cell of the grid: a value for every axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Index of the value on each axis.
    pub choice: Vec<usize>,
    /// `key=value` joined by `, ` (for messages and legends).
    pub label: String,
    /// The directory name under `runs/`.
    pub dir_name: String,
    /// The configuration (with the base seed).
    pub config: ExperimentConfig,
}

/// One run: a cell and a seed.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSpec {
    /// Index into [`Grid::cells`].
    pub cell: usize,
    /// The seed.
    pub seed: u64,
    /// The run directory, relative to the sweep directory.
    pub dir: PathBuf,
    /// The configuration of the run (the cell's, with this seed).
    pub config: ExperimentConfig,
}

/// A resolved grid: the base configuration, the axes, the seeds, and every cell's
/// configuration (checked).
#[derive(Clone, Debug)]
pub struct Grid {
    /// The base configuration after the settings.
    pub base: ExperimentConfig,
    /// The axes, in the order given.
    pub axes: Vec<Axis>,
    /// The seeds of every cell.
    pub seeds: Vec<u64>,
    /// Every cell, the first axis varying slowest.
    pub cells: Vec<Cell>,
}

/// Keeps letters, digits and `._=+-`; replaces the rest by `_`, and adds a hash of the
/// original when anything was replaced or cut, so names stay distinct.
fn file_name_for(label: &str) -> String {
    let clean: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._=+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean == label && clean.len() <= 120 {
        return clean;
    }
    // FNV-1a: stable across platforms and versions.
    let hash = label.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let cut: String = clean.chars().take(100).collect();
    format!("{cut}-{:08x}", hash as u32)
}

impl Grid {
    /// Resolves `settings` (single values applied to `base` first), the grid `axes`, and
    /// `seeds` seeds per cell; parses and validates every cell's configuration.
    pub fn new(
        base: &ExperimentConfig,
        settings: &[AxisSpec],
        axes: &[AxisSpec],
        seeds: usize,
    ) -> Result<Self, SweepError> {
        let mut tree = toml::Value::try_from(base).map_err(|e| SweepError::BadCell {
            cell: "base configuration".into(),
            message: e.to_string(),
        })?;
        let seed_path = ["training".to_string(), "seed".to_string()];
        let set_paths = apply_to_tree(&mut tree, settings)?;
        let base = config_from_tree(&tree).map_err(|message| SweepError::BadCell {
            cell: "base configuration".into(),
            message,
        })?;
        let mut resolved: Vec<Axis> = Vec::new();
        for a in axes {
            let path = resolve_key(&tree, &a.key)?;
            if path == seed_path {
                return Err(SweepError::BadAxis {
                    key: path.join("."),
                    message: "use --seeds N for the seed axis (seeds S, S+1, …; S = training.seed)"
                        .into(),
                });
            }
            if resolved.iter().any(|r| r.path == path) || set_paths.contains(&path) {
                return Err(SweepError::BadAxis {
                    key: path.join("."),
                    message: "given twice (in --grid or --set)".into(),
                });
            }
            resolved.push(Axis {
                key: a.key.clone(),
                path,
                values: a.values.iter().map(|v| parse_value(v)).collect(),
                labels: a.values.clone(),
            });
        }
        if seeds == 0 {
            return Err(SettingError::BadSpec {
                spec: "--seeds 0".into(),
                message: "expected a number > 0".into(),
            }
            .into());
        }
        let seeds: Vec<u64> = (0..seeds as u64)
            .map(|i| base.training.seed.wrapping_add(i))
            .collect();
        // Shorter paths first: a tagged table is replaced before its fields are set.
        let mut order: Vec<usize> = (0..resolved.len()).collect();
        order.sort_by_key(|&i| resolved[i].path.len());
        let mut cells = Vec::new();
        let sizes: Vec<usize> = resolved.iter().map(|a| a.values.len()).collect();
        let total: usize = sizes.iter().product();
        for index in 0..total {
            let mut choice = vec![0; sizes.len()];
            let mut rest = index;
            for (k, n) in sizes.iter().enumerate().rev() {
                choice[k] = rest % n;
                rest /= n;
            }
            let parts: Vec<String> = resolved
                .iter()
                .zip(&choice)
                .map(|(a, &c)| format!("{}={}", a.key, a.labels[c]))
                .collect();
            let label = if parts.is_empty() {
                "base".to_string()
            } else {
                parts.join(", ")
            };
            let mut cell_tree = tree.clone();
            let config = order
                .iter()
                .try_for_each(|&k| {
                    let a = &resolved[k];
                    set_path(&mut cell_tree, &a.path, &a.values[choice[k]])
                        .map_err(|e| format!("{}: {e}", a.name()))
                })
                .and_then(|()| config_from_tree(&cell_tree))
                .map_err(|message| SweepError::BadCell {
                    cell: format!("grid cell {label}"),
                    message,
                })?;
            cells.push(Cell {
                dir_name: file_name_for(&if parts.is_empty() {
                    label.clone()
                } else {
                    parts.join("+")
                }),
                choice,
                label,
                config,
            });
        }
        Ok(Grid {
            base,
            axes: resolved,
            seeds,
            cells,
        })
    }

    /// Every run: each cell with each seed, cell-major.
    pub fn runs(&self) -> Vec<RunSpec> {
        let mut runs = Vec::new();
        for (i, cell) in self.cells.iter().enumerate() {
            for &seed in &self.seeds {
                let mut config = cell.config.clone();
                config.training.seed = seed;
                runs.push(RunSpec {
                    cell: i,
                    seed,
                    dir: Path::new(sweep_files::RUNS)
                        .join(&cell.dir_name)
                        .join(format!("seed-{seed}")),
                    config,
                });
            }
        }
        runs
    }
}

mod report;
mod run;
pub use report::*;
pub use run::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_distinct() {
        assert_eq!(
            file_name_for("lr=0.001+surrogate=atan"),
            "lr=0.001+surrogate=atan"
        );
        let a = file_name_for("dir=a/b");
        let b = file_name_for("dir=a_b");
        assert_ne!(a, b);
        assert!(a.starts_with("dir=a_b-"));
    }

    #[test]
    fn mean_and_sample_std() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert_eq!(m, Some(2.0));
        assert_eq!(s, Some(1.0));
        assert_eq!(mean_std(&[4.0]), (Some(4.0), None));
    }
}
