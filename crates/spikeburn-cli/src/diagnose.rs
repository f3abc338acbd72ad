//! `spikeburn diagnose`: gradient diagnostics of a trained run.

use crate::sweep::parse_format;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(after_help = "\
Writes OUT/diagnostics.json and OUT/{grad_norms,rates,agreement}.{svg,png}. The reference
gradient is the exact (autodiff) gradient of the same network with the spike replaced by
sigmoid(k·x) in the forward pass too; central finite differences along the normalised
reference gradient and --directions random directions validate it. Surrogates registered by
another program (spikeburn_core::surrogate::register) are not known to this binary; run
spikeburn_research::diagnose::diagnose from that program instead.")]
pub(crate) struct DiagnoseArgs {
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
    format: Vec<spikeburn_figures::ImageFormat>,
}

pub(crate) fn diagnose(a: DiagnoseArgs) -> Result<()> {
    use spikeburn_research::diagnose::{DiagnoseOptions, diagnose};
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
