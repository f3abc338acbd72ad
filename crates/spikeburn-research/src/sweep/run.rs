//! Running a sweep: each run's result, the metrics it can be ranked by, the resumable loop.

use super::*;

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
    /// The share of the runs this process trains ([`Shard::WHOLE`]: all of them).
    pub shard: Shard,
}

impl SweepOptions {
    /// A sweep into `out`: one run at a time, figures of the test accuracy in every format,
    /// every run (no shard). Change the fields to choose otherwise.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        Self {
            out: out.into(),
            jobs: 1,
            metric: Metric::TestAccuracy,
            formats: ImageFormat::ALL.to_vec(),
            shard: Shard::WHOLE,
        }
    }
}

/// A disjoint share of a sweep's runs: shard `I` of `N` (written `I/N`, `1 ≤ I ≤ N`) trains
/// the runs whose position `k` in grid order (cells × seeds, as [`Grid::runs`] lists them)
/// has `k mod N = I − 1`, so the N shards cover every run exactly once and each gets a
/// spread of cells and seeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// `I − 1`.
    index: usize,
    /// `N ≥ 1`.
    count: usize,
}

impl Shard {
    /// One shard holding every run.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `number` (1-based) of `count`; `None` unless `1 ≤ number ≤ count`.
    pub fn new(number: usize, count: usize) -> Option<Shard> {
        (number >= 1 && number <= count).then(|| Shard {
            index: number - 1,
            count,
        })
    }

    /// Whether the run at position `k` of [`Grid::runs`] belongs to this shard.
    pub fn holds(&self, k: usize) -> bool {
        k % self.count == self.index
    }

    /// Whether this is one share of several (`N > 1`).
    pub fn is_partial(&self) -> bool {
        self.count > 1
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// Parses `I/N`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expected = || format!("expected I/N with 1 ≤ I ≤ N (such as 2/4), got {s:?}");
        let (i, n) = s.split_once('/').ok_or_else(expected)?;
        let number = |t: &str| t.trim().parse::<usize>().map_err(|_| expected());
        Shard::new(number(i)?, number(n)?).ok_or_else(expected)
    }
}

/// What [`run_sweep`] did.
#[derive(Clone, Debug)]
pub struct SweepOutcome {
    /// One result per run of the shard, in grid order.
    pub results: Vec<RunResult>,
    /// Runs trained (or continued) in this call.
    pub ran: usize,
    /// Runs found finished and skipped.
    pub skipped: usize,
    /// The tables and figures written (none for a partial shard: its tables would hold only
    /// its own runs; [`super::write_reports`] merges the shards).
    pub files: Vec<PathBuf>,
}

/// The contents of `sweep.json`.
#[derive(Serialize)]
pub(super) struct SweepRecord<'a> {
    spikeburn_version: &'a str,
    git_commit: Option<&'a str>,
    base: &'a ExperimentConfig,
    axes: Vec<AxisRecord>,
    seeds: &'a [u64],
    runs: usize,
}

#[derive(Serialize)]
pub(super) struct AxisRecord {
    key: String,
    path: String,
    values: Vec<String>,
}

pub(super) fn read_result(dir: &Path) -> Option<RunResult> {
    let text = std::fs::read_to_string(dir.join(sweep_files::RESULT)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Runs one run to the end in `dir` (fresh, or continued from its checkpoint).
pub(super) fn execute(grid: &Grid, spec: &RunSpec, dir: &Path) -> Result<RunResult, SweepError> {
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

/// Runs every run of `grid` (of `options.shard`) that is not finished yet into `options.out`,
/// then writes `results.csv`, `summary.csv` and the figures, unless the shard is one of
/// several. See the [module documentation](super).
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

    let shard = options.shard;
    let mine: Vec<usize> = (0..runs.len()).filter(|&i| shard.holds(i)).collect();
    let todo: Vec<usize> = mine
        .iter()
        .copied()
        .filter(|&i| done[i].is_none())
        .collect();
    let skipped = mine.len() - todo.len();
    let of_what = if shard.is_partial() {
        format!("{} runs of shard {shard}", mine.len())
    } else {
        format!("{} runs", runs.len())
    };
    if skipped > 0 {
        progress.note(&format!(
            "{skipped} of {of_what} already finished in {} (skipped)",
            out.display()
        ));
    }
    let jobs = options.jobs.max(1).min(todo.len().max(1));
    let mut first_error = None;
    if !todo.is_empty() {
        progress.note(&format!(
            "sweep: {} cells × {} seeds = {} runs{}, {} to train, {jobs} at a time -> {}",
            grid.cells.len(),
            grid.seeds.len(),
            runs.len(),
            if shard.is_partial() {
                format!(" ({} in shard {shard})", mine.len())
            } else {
                String::new()
            },
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
                        if shard.is_partial() {
                            // Other shards write into the same folder: tables wait for the merge.
                        } else if let Err(e) = write_results(grid, &runs, &done, out) {
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
    let results: Vec<RunResult> = done
        .into_iter()
        .enumerate()
        .filter(|(i, _)| shard.holds(*i))
        .filter_map(|(_, r)| r)
        .collect();
    if shard.is_partial() {
        return Ok(SweepOutcome {
            results,
            ran: todo.len(),
            skipped,
            files: Vec::new(),
        });
    }
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
