//! `spikeburn`: train, evaluate, benchmark and sweep spiking neural networks from the command
//! line, and plot their results.
//!
//! A thin layer over the library crates: it parses arguments (clap), resolves the experiment
//! configuration and reports errors as one line naming the file or field, with a non-zero exit
//! code.

mod bench;
mod compare;
mod sweep;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use spikeburn_data::DatasetKind;
use spikeburn_train::config::PRESETS;
use spikeburn_train::{BackendKind, Console, ExperimentConfig, trainer};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Spiking neural networks with surrogate gradients, on burn.
#[derive(Parser, Debug)]
#[command(name = "spikeburn", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a spiking classifier (BPTT) and write weights, config and metrics to --out.
    Train(TrainArgs),
    /// Evaluate a trained run on its test set.
    Eval(EvalArgs),
    /// Time training steps of a preset on synthetic data.
    Bench(bench::BenchArgs),
    /// Train every cell of a grid of configurations, several seeds each, and tabulate and
    /// plot the results (resumable).
    Sweep(sweep::SweepArgs),
    /// Draw figures (SVG/PNG): `plot curves --run DIR`, `plot raster --model DIR`.
    Plot(sweep::PlotArgs),
    /// Export a trained run as an NIR graph or safetensors weights.
    Export(ExportArgs),
    /// Build a run directory (for eval/export) from an NIR graph.
    Import(ImportArgs),
    /// Whether two runs hold the same weights (value by value; burn's files differ in bytes).
    Compare(compare::CompareArgs),
    /// Gradient diagnostics of a trained run: gradient norms through time, firing-rate
    /// histograms, and the agreement of surrogate gradients with the exact gradient of a
    /// smooth network (diagnostics.json and figures).
    Diagnose(DiagnoseArgs),
}

#[derive(Args, Debug)]
#[command(after_help = "\
Writes OUT/diagnostics.json and OUT/{grad_norms,rates,agreement}.{svg,png}. The reference
gradient is the exact (autodiff) gradient of the same network with the spike replaced by
sigmoid(k·x) in the forward pass too; central finite differences along the normalised
reference gradient and --directions random directions validate it. Surrogates registered by
another program (spikeburn_core::surrogate::register) are not known to this binary; run
spikeburn_train::diagnose::diagnose from that program instead.")]
struct DiagnoseArgs {
    /// Run directory written by `spikeburn train` (config.toml + model.bpk).
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Test samples for the firing-rate statistics.
    #[arg(long, value_name = "N", default_value_t = 512)]
    samples: usize,
    /// Samples of the batch whose gradients are compared.
    #[arg(long, value_name = "N", default_value_t = 32)]
    grad_batch: usize,
    /// Steepness k of the smooth reference sigmoid(k·x).
    #[arg(long, value_name = "K", default_value_t = 10.0)]
    steepness: f32,
    /// Random directions of the finite-difference check.
    #[arg(long, value_name = "N", default_value_t = 4)]
    directions: usize,
    /// Step of the central finite differences.
    #[arg(long, value_name = "EPS", default_value_t = 1e-3)]
    epsilon: f32,
    /// Output directory [default: MODEL/diagnostics].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Figure formats, comma-separated.
    #[arg(long, value_name = "LIST", default_value = "svg,png", value_delimiter = ',', value_parser = parse_format)]
    format: Vec<spikeburn_train::figures::ImageFormat>,
}

fn parse_format(s: &str) -> Result<spikeburn_train::figures::ImageFormat, String> {
    s.parse()
}

fn diagnose(a: DiagnoseArgs) -> Result<()> {
    use spikeburn_train::diagnose::{DiagnoseOptions, diagnose};
    let out = a.out.clone().unwrap_or_else(|| a.model.join("diagnostics"));
    let options = DiagnoseOptions {
        samples: a.samples,
        grad_batch: a.grad_batch,
        steepness: a.steepness,
        directions: a.directions,
        epsilon: a.epsilon,
        formats: a.format.clone(),
        ..DiagnoseOptions::default()
    };
    let outcome = diagnose(&a.model, &out, &options)
        .with_context(|| format!("cannot diagnose {}", a.model.display()))?;
    let d = &outcome.diagnostics;
    println!(
        "{} ({}, T = {}), loss {:.4} on {} samples",
        d.model,
        d.surrogate.name(),
        d.num_steps,
        d.loss,
        d.grad_batch
    );
    for (l, (norms, act)) in d.grad_norm_per_step.iter().zip(&d.activity).enumerate() {
        println!(
            "layer {}: |dL/dI| first step {:.3e}, last step {:.3e}; mean rate {:.3}, {} of {} silent, {} saturated",
            l + 1,
            norms.first().copied().unwrap_or(0.0),
            norms.last().copied().unwrap_or(0.0),
            act.mean_rate,
            act.silent,
            act.neurons,
            act.saturated
        );
    }
    let r = &d.reference;
    println!(
        "reference sigmoid({}·x): |g| {:.4e}, finite differences vs autodiff: cos {:.5}, max rel. error {:.2e}",
        r.steepness, r.norm, r.cosine_fd_autodiff, r.max_relative_error
    );
    for s in &d.agreement {
        println!(
            "  cos({:<22}, reference) = {:+.4}   |g| = {:.4e}{}",
            s.label,
            s.cosine,
            s.norm,
            if s.configured { "   (configured)" } else { "" }
        );
    }
    for f in &outcome.files {
        println!("wrote {}", f.display());
    }
    Ok(())
}

#[derive(Args, Debug)]
struct ExportArgs {
    /// Run directory (config.toml + model.bpk).
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// nir or safetensors.
    #[arg(long, value_parser = ["nir", "safetensors"])]
    format: String,
    /// File to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Time step in seconds recorded in the NIR graph (metadata/dt).
    #[arg(long, default_value_t = spikeburn_nir::convert::DEFAULT_DT)]
    dt: f64,
    /// Export subtract-reset neurons as NIR's reset to 0 (approximate; warns).
    #[arg(long)]
    allow_approximate: bool,
}

#[derive(Args, Debug)]
struct ImportArgs {
    /// NIR file.
    file: PathBuf,
    /// Run directory to create.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn export(a: ExportArgs) -> Result<()> {
    use spikeburn_nir::convert::{ExportFormat, ExportOptions};
    use spikeburn_train::interchange::export_run;
    let format = if a.format == "nir" {
        ExportFormat::Nir
    } else {
        ExportFormat::Safetensors
    };
    let options = ExportOptions {
        dt: a.dt,
        allow_approximate: a.allow_approximate,
    };
    let report = export_run(&a.model, format, &a.out, &options)?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "wrote {} ({} as {})",
        report.path.display(),
        report.summary,
        a.format
    );
    Ok(())
}

fn import(a: ImportArgs) -> Result<()> {
    let r = spikeburn_train::interchange::import_nir(&a.file, &a.out)?;
    println!(
        "wrote {}/{{config.toml, model.bpk}} ({}, dt = {})",
        r.run_dir.display(),
        r.summary,
        r.dt
    );
    Ok(())
}

#[derive(Args, Debug)]
struct TrainArgs {
    /// Built-in experiment to start from.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["config", "resume"], value_parser = clap::builder::PossibleValuesParser::new(PRESETS))]
    preset: Option<String>,
    /// TOML file with the experiment (format: README, "Configuration file").
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    config: Option<PathBuf>,
    /// Continue the run in DIR from its last end-of-epoch checkpoint (with `--epochs` to
    /// extend it; other options are refused).
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    /// Output directory [default: runs/<preset or config name>, numbered if taken].
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    out: Option<PathBuf>,
    #[command(flatten)]
    overrides: Overrides,
    /// Set any configuration field, after the options above: KEY is a dotted path
    /// (`model.neuron.beta`) or a unique suffix of one (`beta`), VALUE a TOML literal; the
    /// rules are `sweep`'s (`spikeburn sweep --help`). Repeatable:
    /// `--set beta=0.9 --set surrogate=fast_sigmoid`.
    #[arg(long = "set", value_name = "KEY=VALUE", conflicts_with = "resume")]
    set: Vec<String>,
}

/// Settings that override the preset or config file. With `--resume` only `--epochs` applies
/// (a longer or shorter run); every other option would change a run half-way, so clap refuses
/// it with a line naming the option.
#[derive(Args, Debug, Default)]
struct Overrides {
    /// Passes over the training set (training.epochs).
    #[arg(long)]
    epochs: Option<usize>,
    /// Samples per step (training.batch_size).
    #[arg(long, conflicts_with = "resume")]
    batch_size: Option<usize>,
    /// Simulated time steps per sample (model.num_steps).
    #[arg(long, conflicts_with = "resume")]
    num_steps: Option<usize>,
    /// Adam learning rate (training.lr).
    #[arg(long, conflicts_with = "resume")]
    lr: Option<f64>,
    /// Seed of weights and data order (training.seed).
    #[arg(long, conflicts_with = "resume")]
    seed: Option<u64>,
    /// Backend (training.backend): flex or ndarray (CPU), or wgpu (GPU; needs the cargo
    /// feature `wgpu`).
    #[arg(long, conflicts_with = "resume", value_parser = parse_backend)]
    backend: Option<BackendKind>,
    /// Data-parallel training over several devices, comma-separated (training.devices):
    /// flex, ndarray, wgpu, or wgpu:N for the N-th discrete GPU, e.g. `wgpu:0,wgpu:1`. Each
    /// batch is split across them; the first holds the model.
    #[arg(
        long,
        conflicts_with = "resume",
        value_delimiter = ',',
        value_name = "LIST"
    )]
    devices: Option<Vec<String>>,
    /// Data set (data.dataset): mnist, fashion-mnist, randman (generated; its task in
    /// [data.randman] of a config file, or `--set`), or the event data sets shd, ssc, nmnist,
    /// dvs-gesture (files in --data-dir; framing in [data.events]; see their presets).
    #[arg(long, conflicts_with = "resume", value_parser = parse_dataset)]
    dataset: Option<DatasetKind>,
    /// Directory with the data set's files (data.dir): the IDX files, or the downloaded event
    /// data (README: "Event data").
    #[arg(long, conflicts_with = "resume", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Train on the first N images only (data.limit_train; 0 = all).
    #[arg(long, conflicts_with = "resume", value_name = "N")]
    limit_train: Option<usize>,
    /// Test on the first N images only (data.limit_test; 0 = all).
    #[arg(long, conflicts_with = "resume", value_name = "N")]
    limit_test: Option<usize>,
}

fn parse_backend(s: &str) -> Result<BackendKind, String> {
    s.parse()
}

fn parse_dataset(s: &str) -> Result<DatasetKind, String> {
    match s {
        "mnist" => Ok(DatasetKind::Mnist),
        "fashion-mnist" => Ok(DatasetKind::FashionMnist),
        "randman" => Ok(DatasetKind::Randman),
        "shd" => Ok(DatasetKind::Shd),
        "ssc" => Ok(DatasetKind::Ssc),
        "nmnist" => Ok(DatasetKind::Nmnist),
        "dvs-gesture" => Ok(DatasetKind::DvsGesture),
        _ => Err(format!(
            "unknown data set {s:?}, expected mnist, fashion-mnist, randman, shd, ssc, nmnist or dvs-gesture"
        )),
    }
}

impl Overrides {
    fn apply(&self, c: &mut ExperimentConfig) {
        if let Some(v) = self.epochs {
            c.training.epochs = v;
        }
        if let Some(v) = self.batch_size {
            c.training.batch_size = v;
        }
        if let Some(v) = self.num_steps {
            c.model.num_steps = v;
        }
        if let Some(v) = self.lr {
            c.training.lr = v;
        }
        if let Some(v) = self.seed {
            c.training.seed = v;
        }
        if let Some(v) = self.backend {
            c.training.backend = v;
        }
        if let Some(v) = &self.devices {
            c.training.devices = v.clone();
        }
        if let Some(v) = self.dataset {
            c.data.dataset = v;
        }
        if let Some(v) = &self.data_dir {
            c.data.dir = Some(v.clone());
        }
        if let Some(v) = self.limit_train {
            c.data.limit_train = v;
        }
        if let Some(v) = self.limit_test {
            c.data.limit_test = v;
        }
    }
}

#[derive(Args, Debug)]
struct EvalArgs {
    /// Run directory written by `spikeburn train`.
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Directory with the IDX files [default: the run's data directory].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Backend: flex, ndarray or wgpu [default: the run's].
    #[arg(long, value_parser = parse_backend)]
    backend: Option<BackendKind>,
    /// Evaluate the first N test images only (0 = all).
    #[arg(long, value_name = "N", default_value_t = 0)]
    limit_test: usize,
    /// Samples per batch [default: the run's batch size].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Print the result as one JSON object.
    #[arg(long)]
    json: bool,
}

/// `runs/NAME`, or `runs/NAME-2`, `-3`, … when taken.
fn default_out(name: &str) -> PathBuf {
    let base = Path::new("runs");
    let free = |p: &Path| !p.exists();
    let first = base.join(name);
    if free(&first) {
        return first;
    }
    (2..)
        .map(|i| base.join(format!("{name}-{i}")))
        .find(|p| free(p))
        .unwrap_or(first)
}

fn train(args: TrainArgs) -> Result<()> {
    let mut progress = Console::default();
    if let Some(dir) = &args.resume {
        let outcome = trainer::resume(dir, args.overrides.epochs, &mut progress)
            .with_context(|| format!("cannot resume {}", dir.display()))?;
        report_trained(&outcome);
        return Ok(());
    }
    let (mut config, name) = match (&args.config, &args.preset) {
        (Some(path), _) => {
            let stem = path
                .file_stem()
                .map_or_else(|| "run".to_string(), |s| s.to_string_lossy().into_owned());
            (ExperimentConfig::load(path)?, stem)
        }
        (None, preset) => {
            let name = preset.clone().unwrap_or_else(|| "mnist-mlp".to_string());
            (ExperimentConfig::preset(&name)?, name)
        }
    };
    args.overrides.apply(&mut config);
    if !args.set.is_empty() {
        let settings = args
            .set
            .iter()
            .map(|s| s.parse::<spikeburn_train::sweep::AxisSpec>())
            .collect::<Result<Vec<_>, _>>()
            .context("--set")?;
        config = spikeburn_train::sweep::Grid::new(&config, &settings, &[], 1)?.base;
    }
    let out = args.out.clone().unwrap_or_else(|| default_out(&name));
    let outcome = trainer::train(&config, &out, &mut progress)?;
    report_trained(&outcome);
    Ok(())
}

fn report_trained(outcome: &trainer::TrainOutcome) {
    let dir = outcome.run_dir.display();
    match outcome.epochs.last() {
        Some(last) => println!(
            "test accuracy {:.2}% after epoch {}; wrote {dir}/{{model.bpk, config.toml, run.json, metrics.jsonl, checkpoint.json}}",
            100.0 * last.test_accuracy,
            last.epoch
        ),
        None => println!("nothing to do: {dir} already finished its epochs (raise --epochs)"),
    }
}

fn eval(args: EvalArgs) -> Result<()> {
    let mut config = trainer::load_run_config(&args.model)?;
    if let Some(dir) = &args.data_dir {
        config.data.dir = Some(dir.clone());
    }
    if let Some(b) = args.backend {
        config.training.backend = b;
    }
    config.data.limit_test = args.limit_test;
    let batch_size = args.batch_size.unwrap_or(config.training.batch_size);
    if batch_size == 0 {
        bail!("--batch-size: expected a number > 0, got 0");
    }
    let device = config.training.backend.device()?;
    let model = trainer::load_run_model(&args.model, &config, &device)?;
    let (_, test) = trainer::load_data(&config)?;
    let result = trainer::evaluate(
        &model,
        &*test,
        batch_size,
        &config.training,
        &device,
        &mut Console::default(),
    );
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        println!(
            "{}: test accuracy {:.2}% by spike count, {:.2}% by membrane, {} by first spike, loss {:.4} ({} {} samples)",
            args.model.display(),
            100.0 * result.accuracy,
            100.0 * result.accuracy_membrane,
            result.accuracy_first_spike.map_or_else(
                || "n/a (non-spiking read-out)".to_string(),
                |a| format!("{:.2}%", 100.0 * a)
            ),
            result.loss,
            result.samples,
            config.data.dataset,
        );
    }
    Ok(())
}

/// The error and its causes on one line, skipping a cause whose text the line already holds
/// (library errors include their source's message).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line.replace('\n', " ")
}

fn main() -> ExitCode {
    // burn creates some tensors on `Device::default()`, which is wgpu whenever the `wgpu`
    // feature is compiled in, GPU or not: notably the optimiser state when a checkpoint is
    // resumed (moved to each parameter's device on the next step). Pin that default to the
    // CPU so that a CPU run never opens a GPU adapter; `BURN_DEVICE` set by the user wins.
    if std::env::var_os("BURN_DEVICE").is_none() {
        // SAFETY: the first statement of `main`, before any other thread exists.
        unsafe { std::env::set_var("BURN_DEVICE", "flex") };
    }
    spikeburn_train::runtime::tune_allocator();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => train(args),
        Command::Eval(args) => eval(args),
        Command::Bench(args) => bench::run(args),
        Command::Sweep(args) => sweep::sweep(args),
        Command::Plot(args) => sweep::plot(args),
        Command::Export(args) => export(args),
        Command::Import(args) => import(args),
        Command::Diagnose(args) => diagnose(args),
        Command::Compare(args) => compare::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}
