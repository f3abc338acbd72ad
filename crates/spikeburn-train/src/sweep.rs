//! Hyper-parameter sweeps: every cell of a grid over configuration fields, several seeds each,
//! resumable, optionally several runs at a time, with result tables and figures.
//!
//! # Grid axes
//!
//! An axis is `KEY=V1,V2,…`, keys and values as [`crate::settings`] describes. Axes are applied
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
//! interrupted continues from its last end-of-epoch checkpoint ([`crate::resume`], exact). A
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

use crate::config::ExperimentConfig;
use crate::error::TrainError;
use crate::figures::{Chart, Figure, FigureError, ImageFormat, Point, Series, XScale};
use crate::fsutil::{io_error, write_bytes_atomically};
use crate::progress::{Progress, Silent, format_duration};
use crate::provenance;
pub use crate::settings::{AxisSpec, parse_value, resolve_key};
use crate::settings::{config_from_tree, set_path};
use crate::trainer::{self, EpochRecord, files};
use serde::{Deserialize, Serialize};
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
    /// An axis or setting is not `KEY=VALUES`.
    #[error("{spec:?}: {message}")]
    BadSpec {
        /// The text as given.
        spec: String,
        /// What is wrong.
        message: String,
    },
    /// A key matches no configuration field.
    #[error("unknown key {key:?} (no configuration field ends with it; {hint})")]
    UnknownKey {
        /// The key as given.
        key: String,
        /// Similar keys, or all of them.
        hint: String,
    },
    /// A key matches several configuration fields.
    #[error("ambiguous key {key:?}: it could be {candidates}; write more of the path")]
    AmbiguousKey {
        /// The key as given.
        key: String,
        /// The full paths it matches.
        candidates: String,
    },
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
        let mut set_paths: Vec<Vec<String>> = Vec::new();
        for s in settings {
            let [value] = s.values.as_slice() else {
                return Err(SweepError::BadSpec {
                    spec: format!("{}={}", s.key, s.values.join(",")),
                    message: "--set takes one value (use --grid for several)".into(),
                });
            };
            let path = resolve_key(&tree, &s.key)?;
            if set_paths.contains(&path) {
                return Err(SweepError::BadAxis {
                    key: path.join("."),
                    message: "set twice".into(),
                });
            }
            let cell = format!("--set {}={value}", s.key);
            set_path(&mut tree, &path, &parse_value(value))
                .and_then(|()| config_from_tree(&tree).map(drop))
                .map_err(|message| SweepError::BadCell { cell, message })?;
            set_paths.push(path);
        }
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
            return Err(SweepError::BadSpec {
                spec: "--seeds 0".into(),
                message: "expected a number > 0".into(),
            });
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

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Trained all epochs.
    Ok,
    /// The loss became NaN or infinite.
    Diverged,
}

/// The outcome of one run: its row of `results.csv`, stored as `result.json` in the run
/// directory when the run finishes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The run directory, relative to the sweep directory.
    pub run: String,
    /// The axis values (full path → value as given).
    pub values: BTreeMap<String, String>,
    /// The seed.
    pub seed: u64,
    /// How it ended.
    pub status: RunStatus,
    /// The error message of a diverged run.
    pub error: Option<String>,
    /// Metrics of the last finished epoch, if any.
    pub last: Option<EpochRecord>,
    /// Training and test-evaluation time summed over all epochs, seconds (without data
    /// loading; over every session of a resumed run).
    pub wall_seconds: f64,
}

/// Which number the figures show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Metric {
    /// Test accuracy by spike count.
    #[default]
    TestAccuracy,
    /// Test accuracy by membrane.
    TestAccuracyMembrane,
    /// Test loss.
    TestLoss,
    /// Training accuracy.
    TrainAccuracy,
    /// Training loss.
    TrainLoss,
}

impl Metric {
    /// Every metric, in table order.
    pub const ALL: [Metric; 5] = [
        Metric::TestAccuracy,
        Metric::TestAccuracyMembrane,
        Metric::TestLoss,
        Metric::TrainAccuracy,
        Metric::TrainLoss,
    ];

    /// The column name.
    pub fn name(&self) -> &'static str {
        match self {
            Metric::TestAccuracy => "test_accuracy",
            Metric::TestAccuracyMembrane => "test_accuracy_membrane",
            Metric::TestLoss => "test_loss",
            Metric::TrainAccuracy => "train_accuracy",
            Metric::TrainLoss => "train_loss",
        }
    }

    /// The value in an epoch record.
    pub fn of(&self, r: &EpochRecord) -> f64 {
        match self {
            Metric::TestAccuracy => r.test_accuracy,
            Metric::TestAccuracyMembrane => r.test_accuracy_membrane,
            Metric::TestLoss => r.test_loss,
            Metric::TrainAccuracy => r.train_accuracy,
            Metric::TrainLoss => r.train_loss,
        }
    }

    /// Whether figures show it in percent.
    pub fn is_accuracy(&self) -> bool {
        matches!(
            self,
            Metric::TestAccuracy | Metric::TestAccuracyMembrane | Metric::TrainAccuracy
        )
    }
}

impl std::str::FromStr for Metric {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(Metric::name).collect();
                format!("unknown metric {s:?}, expected one of {}", names.join(", "))
            })
    }
}

/// How to run a sweep.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// The sweep directory.
    pub out: PathBuf,
    /// Runs trained at the same time (threads), at least 1.
    pub jobs: usize,
    /// The metric of the figures.
    pub metric: Metric,
    /// Figure formats.
    pub formats: Vec<ImageFormat>,
}

/// What [`run_sweep`] did.
#[derive(Clone, Debug)]
pub struct SweepOutcome {
    /// One result per run, in grid order.
    pub results: Vec<RunResult>,
    /// Runs trained (or continued) in this call.
    pub ran: usize,
    /// Runs found finished and skipped.
    pub skipped: usize,
    /// The tables and figures written.
    pub files: Vec<PathBuf>,
}

/// The contents of `sweep.json`.
#[derive(Serialize)]
struct SweepRecord<'a> {
    spikeburn_version: &'a str,
    git_commit: Option<&'a str>,
    base: &'a ExperimentConfig,
    axes: Vec<AxisRecord>,
    seeds: &'a [u64],
    runs: usize,
}

#[derive(Serialize)]
struct AxisRecord {
    key: String,
    path: String,
    values: Vec<String>,
}

fn read_result(dir: &Path) -> Option<RunResult> {
    let text = std::fs::read_to_string(dir.join(sweep_files::RESULT)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Runs one run to the end in `dir` (fresh, or continued from its checkpoint).
fn execute(grid: &Grid, spec: &RunSpec, dir: &Path) -> Result<RunResult, SweepError> {
    let run_err = |source| SweepError::Run {
        dir: dir.to_path_buf(),
        source,
    };
    let outcome = if dir.join(files::CONFIG).is_file() {
        trainer::resume(dir, None, &mut Silent)
    } else {
        if dir.exists() {
            // Interrupted before its config was written: holds at most temporary files.
            std::fs::remove_dir_all(dir).map_err(|e| run_err(io_error(dir)(e)))?;
        }
        trainer::train(&spec.config, dir, &mut Silent)
    };
    let (status, error) = match outcome {
        Ok(_) => (RunStatus::Ok, None),
        Err(e @ TrainError::NonFiniteLoss { .. }) => (RunStatus::Diverged, Some(e.to_string())),
        Err(e) => return Err(run_err(e)),
    };
    let records = trainer::read_metrics(dir).unwrap_or_default();
    let cell = &grid.cells[spec.cell];
    let result = RunResult {
        run: spec.dir.to_string_lossy().replace('\\', "/"),
        values: grid
            .axes
            .iter()
            .zip(&cell.choice)
            .map(|(a, &c)| (a.name(), a.labels[c].clone()))
            .collect(),
        seed: spec.seed,
        status,
        error,
        wall_seconds: records
            .iter()
            .map(|r| r.train_seconds + r.eval_seconds)
            .sum(),
        last: records.last().cloned(),
    };
    let text = serde_json::to_string_pretty(&result).unwrap_or_default() + "\n";
    write_bytes_atomically(&dir.join(sweep_files::RESULT), text.as_bytes())?;
    // Return what a restart will read back: serde_json's float parsing is not always the exact
    // inverse of its printing, and the tables of a fresh and a resumed sweep must be identical.
    Ok(serde_json::from_str(&text).unwrap_or(result))
}

/// Runs every run of `grid` that is not finished yet into `options.out`, then writes
/// `results.csv`, `summary.csv` and the figures. See the [module documentation](self).
pub fn run_sweep(
    grid: &Grid,
    options: &SweepOptions,
    progress: &mut dyn Progress,
) -> Result<SweepOutcome, SweepError> {
    let out = &options.out;
    let runs = grid.runs();
    // Check existing run directories before anything runs.
    let mut done: Vec<Option<RunResult>> = Vec::with_capacity(runs.len());
    for spec in &runs {
        let dir = out.join(&spec.dir);
        let config_path = dir.join(files::CONFIG);
        if config_path.is_file() {
            let existing = ExperimentConfig::load(&config_path).map_err(TrainError::from)?;
            if existing != spec.config {
                return Err(SweepError::ConfigMismatch { dir });
            }
        }
        done.push(read_result(&dir));
    }
    std::fs::create_dir_all(out).map_err(io_error(out))?;
    let record = SweepRecord {
        spikeburn_version: env!("CARGO_PKG_VERSION"),
        git_commit: provenance::git_commit(),
        base: &grid.base,
        axes: grid
            .axes
            .iter()
            .map(|a| AxisRecord {
                key: a.key.clone(),
                path: a.name(),
                values: a.labels.clone(),
            })
            .collect(),
        seeds: &grid.seeds,
        runs: runs.len(),
    };
    let text = serde_json::to_string_pretty(&record).unwrap_or_default() + "\n";
    write_bytes_atomically(&out.join(sweep_files::SWEEP), text.as_bytes())?;

    let todo: Vec<usize> = (0..runs.len()).filter(|&i| done[i].is_none()).collect();
    let skipped = runs.len() - todo.len();
    if skipped > 0 {
        progress.note(&format!(
            "{skipped} of {} runs already finished in {} (skipped)",
            runs.len(),
            out.display()
        ));
    }
    let jobs = options.jobs.max(1).min(todo.len().max(1));
    let mut first_error = None;
    if !todo.is_empty() {
        progress.note(&format!(
            "sweep: {} cells × {} seeds = {} runs, {} to train, {jobs} at a time -> {}",
            grid.cells.len(),
            grid.seeds.len(),
            runs.len(),
            todo.len(),
            out.display()
        ));
        progress.begin("sweep", todo.len());
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let started = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Result<RunResult, SweepError>)>();
        std::thread::scope(|scope| {
            for _ in 0..jobs {
                let tx = tx.clone();
                let (next, stop, todo, runs) = (&next, &stop, &todo, &runs);
                scope.spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let k = next.fetch_add(1, Ordering::SeqCst);
                        let Some(&i) = todo.get(k) else { break };
                        let result = execute(grid, &runs[i], &out.join(&runs[i].dir));
                        if tx.send((i, result)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            let mut finished = 0;
            for (i, result) in rx {
                finished += 1;
                let spec = &runs[i];
                let label = &grid.cells[spec.cell].label;
                match result {
                    Ok(r) => {
                        let elapsed = started.elapsed().as_secs_f64();
                        let eta = elapsed / finished as f64 * (todo.len() - finished) as f64;
                        let what = match (&r.status, &r.last) {
                            (RunStatus::Ok, Some(last)) => format!(
                                "test acc {:.2}%, loss {:.4}",
                                100.0 * last.test_accuracy,
                                last.test_loss
                            ),
                            _ => "diverged (loss not finite)".to_string(),
                        };
                        progress.note(&format!(
                            "[{finished}/{}] {label}, seed {}: {what} in {:.1}s (ETA {})",
                            todo.len(),
                            spec.seed,
                            r.wall_seconds,
                            format_duration(Duration::from_secs_f64(eta)),
                        ));
                        done[i] = Some(r);
                        progress.update(finished, label);
                        if let Err(e) = write_results(grid, &runs, &done, out) {
                            first_error.get_or_insert(e);
                            stop.store(true, Ordering::SeqCst);
                        }
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                        stop.store(true, Ordering::SeqCst);
                    }
                }
            }
        });
        progress.end();
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let results: Vec<RunResult> = done.into_iter().flatten().collect();
    let mut written = vec![write_results_of(grid, &results, out)?];
    written.push(write_summary(grid, &results, out)?);
    written.extend(write_figures(
        grid,
        &results,
        options.metric,
        &options.formats,
        out,
    )?);
    Ok(SweepOutcome {
        results,
        ran: todo.len(),
        skipped,
        files: written,
    })
}

/// A CSV field, quoted when needed (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_line(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
        + "\n"
}

fn write_results(
    grid: &Grid,
    runs: &[RunSpec],
    done: &[Option<RunResult>],
    out: &Path,
) -> Result<PathBuf, SweepError> {
    let results: Vec<RunResult> = runs
        .iter()
        .zip(done)
        .filter_map(|(_, r)| r.clone())
        .collect();
    write_results_of(grid, &results, out)
}

/// The columns of `results.csv` after the axis columns.
pub const RESULT_COLUMNS: [&str; 12] = [
    "seed",
    "status",
    "epochs",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    "test_accuracy_membrane",
    "test_spike_rates",
    "step_ms",
    "wall_seconds",
    "error",
];

/// Writes `results.csv`: `run`, one column per axis (its full path), then
/// [`RESULT_COLUMNS`]. Numbers are written in full precision; `test_spike_rates` lists one
/// rate per LIF layer separated by `;`.
fn write_results_of(grid: &Grid, results: &[RunResult], out: &Path) -> Result<PathBuf, SweepError> {
    let mut header = vec!["run".to_string()];
    header.extend(grid.axes.iter().map(Axis::name));
    header.extend(RESULT_COLUMNS.iter().map(|s| s.to_string()));
    let mut text = csv_line(&header);
    for r in results {
        let mut row = vec![r.run.clone()];
        row.extend(
            grid.axes
                .iter()
                .map(|a| r.values.get(&a.name()).cloned().unwrap_or_default()),
        );
        let status = match r.status {
            RunStatus::Ok => "ok",
            RunStatus::Diverged => "diverged",
        };
        row.push(r.seed.to_string());
        row.push(status.to_string());
        match &r.last {
            Some(l) => {
                row.push(l.epoch.to_string());
                for v in [
                    l.train_loss,
                    l.train_accuracy,
                    l.test_loss,
                    l.test_accuracy,
                    l.test_accuracy_membrane,
                ] {
                    row.push(v.to_string());
                }
                row.push(
                    l.test_spike_rates
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(";"),
                );
                row.push(l.step_ms.to_string());
            }
            None => row.extend(std::iter::repeat_n(String::new(), 8)),
        }
        row.push(r.wall_seconds.to_string());
        row.push(r.error.clone().unwrap_or_default());
        text.push_str(&csv_line(&row));
    }
    let path = out.join(sweep_files::RESULTS);
    write_bytes_atomically(&path, text.as_bytes())?;
    Ok(path)
}

/// Mean and sample standard deviation (`None` below two values).
pub fn mean_std(values: &[f64]) -> (Option<f64>, Option<f64>) {
    if values.is_empty() {
        return (None, None);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.len() > 1)
        .then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    (Some(mean), std)
}

/// The finished runs of a cell with status `ok`.
fn cell_runs<'a>(grid: &Grid, cell: &Cell, results: &'a [RunResult]) -> Vec<&'a RunResult> {
    results
        .iter()
        .filter(|r| {
            grid.axes
                .iter()
                .zip(&cell.choice)
                .all(|(a, &c)| r.values.get(&a.name()) == Some(&a.labels[c]))
        })
        .collect()
}

/// Writes `summary.csv`: one row per cell with its axis values, `runs` (finished with
/// status ok), `diverged`, and `NAME_mean`, `NAME_std` (sample standard deviation over
/// seeds, empty below two runs) for every [`Metric`] and for `wall_seconds`.
fn write_summary(grid: &Grid, results: &[RunResult], out: &Path) -> Result<PathBuf, SweepError> {
    let mut header: Vec<String> = grid.axes.iter().map(Axis::name).collect();
    header.push("runs".into());
    header.push("diverged".into());
    for m in Metric::ALL.iter().map(Metric::name).chain(["wall_seconds"]) {
        header.push(format!("{m}_mean"));
        header.push(format!("{m}_std"));
    }
    let mut text = csv_line(&header);
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for cell in &grid.cells {
        let rs = cell_runs(grid, cell, results);
        let ok: Vec<&RunResult> = rs
            .iter()
            .copied()
            .filter(|r| r.status == RunStatus::Ok)
            .collect();
        let mut row: Vec<String> = grid
            .axes
            .iter()
            .zip(&cell.choice)
            .map(|(a, &c)| a.labels[c].clone())
            .collect();
        row.push(ok.len().to_string());
        row.push((rs.len() - ok.len()).to_string());
        for m in Metric::ALL {
            let vals: Vec<f64> = ok
                .iter()
                .filter_map(|r| r.last.as_ref())
                .map(|l| m.of(l))
                .collect();
            let (mean, std) = mean_std(&vals);
            row.push(num(mean));
            row.push(num(std));
        }
        let walls: Vec<f64> = ok.iter().map(|r| r.wall_seconds).collect();
        let (mean, std) = mean_std(&walls);
        row.push(num(mean));
        row.push(num(std));
        text.push_str(&csv_line(&row));
    }
    let path = out.join(sweep_files::SUMMARY);
    write_bytes_atomically(&path, text.as_bytes())?;
    Ok(path)
}

/// One figure per axis with at least two values: the metric's mean over seeds against that
/// axis (error bars: one standard deviation), one line per combination of the other axes'
/// values. A numeric axis is drawn to scale (logarithmic when all values are positive and span
/// a factor of 10 or more), any other axis as evenly spaced categories.
fn write_figures(
    grid: &Grid,
    results: &[RunResult],
    metric: Metric,
    formats: &[ImageFormat],
    out: &Path,
) -> Result<Vec<PathBuf>, SweepError> {
    let scale = if metric.is_accuracy() { 100.0 } else { 1.0 };
    let y_label = if metric.is_accuracy() {
        format!("{} (%)", metric.name().replace('_', " "))
    } else {
        metric.name().replace('_', " ")
    };
    let mut written = Vec::new();
    for (k, axis) in grid.axes.iter().enumerate() {
        if axis.values.len() < 2 {
            continue;
        }
        let numbers = axis.numbers();
        let (x_scale, xs): (XScale, Vec<f64>) = match &numbers {
            Some(v) => {
                let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let log = lo > 0.0 && hi / lo >= 10.0;
                (if log { XScale::Log } else { XScale::Linear }, v.clone())
            }
            None => (
                XScale::Categories(axis.labels.clone()),
                (0..axis.values.len()).map(|i| i as f64).collect(),
            ),
        };
        // Group the cells by their values on the other axes.
        let others: Vec<usize> = (0..grid.axes.len()).filter(|&j| j != k).collect();
        let mut groups: BTreeMap<Vec<usize>, Vec<&Cell>> = BTreeMap::new();
        for cell in &grid.cells {
            let key: Vec<usize> = others.iter().map(|&j| cell.choice[j]).collect();
            groups.entry(key).or_default().push(cell);
        }
        let series: Vec<Series> = groups
            .iter()
            .enumerate()
            .map(|(g, (key, cells))| {
                let label = others
                    .iter()
                    .zip(key)
                    .map(|(&j, &c)| grid.axes[j].labels[c].clone())
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut points: Vec<Point> = cells
                    .iter()
                    .filter_map(|cell| {
                        let vals: Vec<f64> = cell_runs(grid, cell, results)
                            .into_iter()
                            .filter(|r| r.status == RunStatus::Ok)
                            .filter_map(|r| r.last.as_ref())
                            .map(|l| scale * metric.of(l))
                            .collect();
                        let (mean, std) = mean_std(&vals);
                        Some(Point {
                            x: xs[cell.choice[k]],
                            y: mean?,
                            err: std,
                        })
                    })
                    .collect();
                points.sort_by(|a, b| a.x.total_cmp(&b.x));
                Series {
                    scatter: false,
                    label,
                    points,
                    color: g,
                    dashed: false,
                }
            })
            .collect();
        let legend_title = (!others.is_empty()).then(|| {
            others
                .iter()
                .map(|&j| grid.axes[j].key.clone())
                .collect::<Vec<_>>()
                .join(", ")
        });
        let seeds = grid.seeds.len();
        let chart = Chart {
            title: format!(
                "{} vs {} ({} seed{}{})",
                metric.name().replace('_', " "),
                axis.key,
                seeds,
                if seeds == 1 { "" } else { "s" },
                if seeds > 1 { ", mean ± std" } else { "" },
            ),
            x_label: axis.name(),
            y_label: y_label.clone(),
            x_ticks: numbers.clone(),
            x_scale,
            legend_title,
            series,
        };
        let figure = Figure {
            charts: vec![chart],
            panel_size: (760, 480),
        };
        let stem = out.join(format!("{}_vs_{}", metric.name(), file_name_for(&axis.key)));
        written.extend(figure.write(&stem, formats)?);
    }
    Ok(written)
}

/// Rewrites the tables and figures of a finished (or partly finished) sweep directory from
/// the runs' `result.json` files, without training.
pub fn write_reports(
    grid: &Grid,
    options: &SweepOptions,
) -> Result<(Vec<RunResult>, Vec<PathBuf>), SweepError> {
    let results: Vec<RunResult> = grid
        .runs()
        .iter()
        .filter_map(|r| read_result(&options.out.join(&r.dir)))
        .collect();
    let mut written = vec![write_results_of(grid, &results, &options.out)?];
    written.push(write_summary(grid, &results, &options.out)?);
    written.extend(write_figures(
        grid,
        &results,
        options.metric,
        &options.formats,
        &options.out,
    )?);
    Ok((results, written))
}

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
