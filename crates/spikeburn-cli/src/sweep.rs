//! `spikeburn sweep`: research tooling over the library's [`spikeburn_research::sweep`].

use anyhow::{Context, Result, bail};
use clap::Args;
use spikeburn_figures::ImageFormat;
use spikeburn_research::sweep::{
    AxisSpec, Grid, Metric, Shard, SweepOptions, run_sweep, write_reports,
};
use spikeburn_train::config::PRESETS;
use spikeburn_train::{Console, ExperimentConfig};
use std::path::PathBuf;

/// Arguments of `spikeburn sweep`.
#[derive(Args, Debug)]
#[command(after_help = "\
Keys are dotted paths into the configuration (as in a run's config.toml) or any unique
suffix of one: lr = training.lr, surrogate = model.neuron.surrogate. Values are TOML
literals (1, 2.5, 5e-4, true, [64,64]) or else strings. On a tagged table such as the
surrogate, a string sets its kind and drops the old parameters; surrogate.slope then sets
the new kind's parameter.

Example:
  spikeburn sweep --preset mnist-mlp --set epochs=1 --set limit_train=5000 \\
      --grid surrogate=fast_sigmoid,sigmoid --grid surrogate.slope=1,5,25,100 \\
      --seeds 3 --jobs 2 --out sweeps/surrogates

Writes OUT/results.csv (one row per run), OUT/summary.csv (mean and std over seeds per
cell), OUT/METRIC_vs_AXIS.{svg,png} and one folder per run under OUT/runs/ (config.toml,
run.json, metrics.jsonl, model.bpk, result.json). Run the same command again to continue
an interrupted sweep: finished runs are skipped, interrupted ones resume from their last
epoch checkpoint.

Several machines: run the same command with --shard 1/N, ..., --shard N/N on N machines
sharing OUT (scripts/slurm-sweep.sh does this as a Slurm job array), then once with
--report-only to write the tables and figures of the whole grid.")]
pub struct SweepArgs {
    /// Built-in base experiment [default: mnist-mlp].
    #[arg(long, value_name = "NAME", conflicts_with = "config", value_parser = clap::builder::PossibleValuesParser::new(PRESETS))]
    preset: Option<String>,
    /// TOML file with the base experiment.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A grid axis KEY=V1,V2,… (repeat for more axes; every combination is run).
    #[arg(long = "grid", value_name = "KEY=VALUES")]
    grid: Vec<String>,
    /// Set KEY=VALUE in the base experiment (repeatable), e.g. --set epochs=2.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Seeds per cell: training.seed, +1, …, +N-1.
    #[arg(long, value_name = "N", default_value_t = 1)]
    seeds: usize,
    /// Runs trained at the same time (threads sharing one thread pool; helps small models).
    #[arg(long, value_name = "N", default_value_t = 1)]
    jobs: usize,
    /// Sweep directory (reuse it to continue a sweep).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Metric of the figures: test_accuracy, test_accuracy_membrane, test_loss,
    /// train_accuracy, train_loss.
    #[arg(long, value_name = "NAME", default_value = "test_accuracy", value_parser = parse_metric)]
    metric: Metric,
    /// Figure formats, comma-separated.
    #[arg(long, value_name = "LIST", default_value = "svg,png", value_delimiter = ',', value_parser = parse_format)]
    format: Vec<ImageFormat>,
    /// Train only shard I of N (every N-th run), for a sweep spread over N machines that
    /// share OUT; merge with --report-only when all have finished.
    #[arg(long, value_name = "I/N", conflicts_with = "report_only")]
    shard: Option<Shard>,
    /// List the cells and runs, check every configuration, and stop.
    #[arg(long)]
    dry_run: bool,
    /// Only rewrite results.csv, summary.csv and the figures from the finished runs.
    #[arg(long, conflicts_with = "dry_run")]
    report_only: bool,
}

fn parse_metric(s: &str) -> Result<Metric, String> {
    s.parse()
}

/// An image format named on the command line (`svg`, `png`).
pub(crate) fn parse_format(s: &str) -> Result<ImageFormat, String> {
    s.parse()
}

fn specs(list: &[String], flag: &str) -> Result<Vec<AxisSpec>> {
    list.iter()
        .map(|s| s.parse::<AxisSpec>().with_context(|| flag.to_string()))
        .collect()
}

/// Runs `spikeburn sweep`.
pub fn sweep(args: SweepArgs) -> Result<()> {
    if args.jobs == 0 {
        bail!("--jobs: expected a number > 0, got 0");
    }
    let base = match (&args.config, &args.preset) {
        (Some(path), _) => ExperimentConfig::load(path)?,
        (None, preset) => ExperimentConfig::preset(preset.as_deref().unwrap_or("mnist-mlp"))?,
    };
    let grid = Grid::new(
        &base,
        &specs(&args.set, "--set")?,
        &specs(&args.grid, "--grid")?,
        args.seeds,
    )?;
    let runs = grid.runs();
    let options = SweepOptions {
        out: args.out.clone(),
        jobs: args.jobs,
        metric: args.metric,
        formats: args.format.clone(),
        shard: args.shard.unwrap_or_default(),
    };
    if args.dry_run {
        for a in &grid.axes {
            println!("axis {} = {}", a.name(), a.labels.join(", "));
        }
        println!(
            "{} cells × {} seeds ({}) = {} runs:",
            grid.cells.len(),
            grid.seeds.len(),
            grid.seeds
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            runs.len()
        );
        for cell in &grid.cells {
            println!("  {}", args.out.join("runs").join(&cell.dir_name).display());
        }
        if options.shard.is_partial() {
            println!("shard {} trains:", options.shard);
            for (_, run) in runs
                .iter()
                .enumerate()
                .filter(|(k, _)| options.shard.holds(*k))
            {
                println!("  {}", args.out.join(&run.dir).display());
            }
        }
        return Ok(());
    }
    if args.report_only {
        let (results, files) = write_reports(&grid, &options)?;
        println!("{} of {} runs finished", results.len(), runs.len());
        print_files(&files);
        return Ok(());
    }
    let mut progress = Console::new(usize::MAX);
    let outcome = run_sweep(&grid, &options, &mut progress)?;
    if options.shard.is_partial() {
        println!(
            "shard {} done: {} run{} ({} trained now, {} already finished); runs in {}",
            options.shard,
            outcome.results.len(),
            if outcome.results.len() == 1 { "" } else { "s" },
            outcome.ran,
            outcome.skipped,
            args.out.join("runs").display()
        );
        println!(
            "when every shard has finished, run the same command with --report-only \
             instead of --shard to write the tables and figures"
        );
        return Ok(());
    }
    let diverged = outcome
        .results
        .iter()
        .filter(|r| r.status != spikeburn_research::sweep::RunStatus::Ok)
        .count();
    println!(
        "sweep done: {} runs ({} trained now, {} already finished{}); runs in {}",
        outcome.results.len(),
        outcome.ran,
        outcome.skipped,
        if diverged > 0 {
            format!(", {diverged} diverged")
        } else {
            String::new()
        },
        args.out.join("runs").display()
    );
    print_files(&outcome.files);
    Ok(())
}

/// Prints the files written, one per line.
pub(crate) fn print_files(files: &[PathBuf]) {
    for f in files {
        println!("wrote {}", f.display());
    }
}
