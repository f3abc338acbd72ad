//! `spikeburn plot`: figures of runs over the library's [`spikeburn_research::plot`].

use crate::sweep::{parse_format, print_files};
use anyhow::Result;
use clap::{Args, Subcommand};
use spikeburn_figures::ImageFormat;
use std::path::PathBuf;

/// Arguments of `spikeburn plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    #[command(subcommand)]
    what: PlotCommand,
}

#[derive(Subcommand, Debug)]
enum PlotCommand {
    /// Training curves (loss and accuracy per epoch) of one or more runs, from metrics.jsonl.
    Curves(CurvesArgs),
    /// Spike raster of every neuron layer and the output membrane traces of a trained model on
    /// a few test samples.
    Raster(RasterArgs),
}

#[derive(Args, Debug)]
struct RasterArgs {
    /// Run directory written by `spikeburn train` (or `spikeburn import`).
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Test samples to show (indices into the test set), comma-separated.
    #[arg(
        long,
        value_name = "LIST",
        default_value = "0,1,2",
        value_delimiter = ','
    )]
    samples: Vec<usize>,
    /// Output file stem; `-<sample>` and the extension are appended [default: MODEL/activity].
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Formats, comma-separated.
    #[arg(long, value_name = "LIST", default_value = "svg,png", value_delimiter = ',', value_parser = parse_format)]
    format: Vec<ImageFormat>,
}

#[derive(Args, Debug)]
struct CurvesArgs {
    /// Run directory written by `spikeburn train` or `spikeburn sweep` (repeat to overlay runs).
    #[arg(long, value_name = "DIR", required = true)]
    run: Vec<PathBuf>,
    /// Output file without extension [default: RUN/curves for one run, curves otherwise].
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Formats, comma-separated.
    #[arg(long, value_name = "LIST", default_value = "svg,png", value_delimiter = ',', value_parser = parse_format)]
    format: Vec<ImageFormat>,
}

/// Runs `spikeburn plot`.
pub fn plot(args: PlotArgs) -> Result<()> {
    match args.what {
        PlotCommand::Curves(a) => {
            let stem = a.out.clone().unwrap_or_else(|| match a.run.as_slice() {
                [one] => one.join("curves"),
                _ => PathBuf::from("curves"),
            });
            let files = spikeburn_research::plot::plot_curves(&a.run, &stem, &a.format)?;
            print_files(&files);
            Ok(())
        }
        PlotCommand::Raster(a) => {
            let stem = a.out.clone().unwrap_or_else(|| a.model.join("activity"));
            let files =
                spikeburn_research::plot::plot_activity(&a.model, &a.samples, &stem, &a.format)?;
            print_files(&files);
            Ok(())
        }
    }
}
