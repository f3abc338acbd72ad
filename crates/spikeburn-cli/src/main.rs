//! `spikeburn`: train, evaluate, benchmark and sweep spiking neural networks from the command
//! line, and plot their results.
//!
//! A thin layer over the library crates: it parses arguments (clap), resolves the experiment
//! configuration and reports errors as one line naming the file or field, with a non-zero exit
//! code.

mod bench;
mod compare;
mod diagnose;
mod eval;
mod interchange;
mod plot;
mod sweep;
mod train;

use clap::{Parser, Subcommand};
use diagnose::{DiagnoseArgs, diagnose};
use eval::{EvalArgs, eval};
use interchange::{ExportArgs, ImportArgs, export, import};
use std::process::ExitCode;
use train::{TrainArgs, train};

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
    /// Time training steps, neuron layers, sparse and dense products on synthetic data, with peak memory.
    Bench(bench::BenchArgs),
    /// Train every cell of a grid of configurations, several seeds each, and tabulate and
    /// plot the results (resumable).
    Sweep(sweep::SweepArgs),
    /// Draw figures (SVG/PNG): `plot curves --run DIR`, `plot raster --model DIR`.
    Plot(plot::PlotArgs),
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
        Command::Plot(args) => plot::plot(args),
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
