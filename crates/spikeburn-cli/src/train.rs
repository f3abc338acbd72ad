//! `spikeburn train`: a new run from a preset or configuration file, or a resumed one.

use anyhow::{Context, Result};
use clap::Args;
use spikeburn_data::DatasetKind;
use spikeburn_train::config::PRESETS;
use spikeburn_train::{BackendKind, Console, ExperimentConfig, trainer};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub(crate) struct TrainArgs {
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
    /// Output directory [default: runs/NAME, NAME the preset's or the config file's, numbered
    /// if taken].
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
pub(crate) struct Overrides {
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
    /// Backend (training.backend): flex or ndarray (CPU), wgpu (GPU; needs the cargo feature
    /// `wgpu`) or cuda (NVIDIA GPU; needs the cargo feature `cuda`).
    #[arg(long, conflicts_with = "resume", value_parser = parse_backend)]
    backend: Option<BackendKind>,
    /// Data-parallel training over several devices, comma-separated (training.devices):
    /// flex, ndarray, wgpu, cuda, or wgpu:N / cuda:N for the N-th GPU, e.g. `cuda:0,cuda:1`. Each
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

pub(crate) fn parse_backend(s: &str) -> Result<BackendKind, String> {
    s.parse()
}

pub(crate) fn parse_dataset(s: &str) -> Result<DatasetKind, String> {
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

/// `runs/NAME`, or `runs/NAME-2`, `-3`, … when taken.
pub(crate) fn default_out(name: &str) -> PathBuf {
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

pub(crate) fn train(args: TrainArgs) -> Result<()> {
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
    let config = with_settings(config, &args.set)?;
    let out = args.out.clone().unwrap_or_else(|| default_out(&name));
    let outcome = trainer::train(&config, &out, &mut progress)?;
    report_trained(&outcome);
    Ok(())
}

/// `config` with the `--set KEY=VALUE` settings applied (keys resolved and values checked as
/// on `sweep`).
pub(crate) fn with_settings(config: ExperimentConfig, set: &[String]) -> Result<ExperimentConfig> {
    if set.is_empty() {
        return Ok(config);
    }
    let settings = set
        .iter()
        .map(|s| s.parse::<spikeburn_train::settings::AxisSpec>())
        .collect::<Result<Vec<_>, _>>()
        .context("--set")?;
    Ok(spikeburn_train::settings::apply_settings(
        &config, &settings,
    )?)
}

pub(crate) fn report_trained(outcome: &trainer::TrainOutcome) {
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
