//! `spikeburn eval`: a trained run on its test set.

use crate::train::parse_backend;
use anyhow::{Result, bail};
use clap::Args;
use spikeburn_train::{BackendKind, Console, trainer};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub(crate) struct EvalArgs {
    /// Run directory written by `spikeburn train`.
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Directory with the IDX files [default: the run's data directory].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Backend: flex, ndarray, wgpu or cuda [default: the run's].
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

pub(crate) fn eval(args: EvalArgs) -> Result<()> {
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
