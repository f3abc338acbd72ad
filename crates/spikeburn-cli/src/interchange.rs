//! `spikeburn export` and `spikeburn import`: run folders to and from NIR and safetensors.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub(crate) struct ExportArgs {
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
pub(crate) struct ImportArgs {
    /// NIR file.
    file: PathBuf,
    /// Run directory to create.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub(crate) fn export(a: ExportArgs) -> Result<()> {
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

pub(crate) fn import(a: ImportArgs) -> Result<()> {
    let r = spikeburn_train::interchange::import_nir(&a.file, &a.out)?;
    println!(
        "wrote {}/{{config.toml, model.bpk}} ({}, dt = {})",
        r.run_dir.display(),
        r.summary,
        r.dt
    );
    Ok(())
}
