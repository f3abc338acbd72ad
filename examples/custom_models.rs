//! A surrogate and a neuron model written outside the library, used exactly like built-in
//! ones: trained on a small MNIST subset, swept over the surrogate's slope, and diagnosed.
//!
//! `cargo run --release --example custom_models [-- OUT_DIR]` (default
//! `runs/example-custom`; about half a minute on two cores).
//!
//! - The surrogate is the Laplace (two-sided exponential) derivative
//!   `σ'(x) = (k/2)·exp(−k·|x|)` (the exponential kernel of SLAYER, Shrestha & Orchard 2018),
//!   registered with [`spikeburn::core::surrogate::register`] and selected in the
//!   configuration by `{ kind = "custom", name = "laplace", slope = k }`.
//! - The neuron is a discrete-time leaky quadratic integrate-and-fire model,
//!   `U[t] = β·U[t−1] + c·clamp(U[t−1], 0, θ)² + I[t] − θ·R[t]` with `R[t] = H(U[t−1] − θ)`
//!   (detached, unless `detach_reset = false`) and `S[t] = H(U[t] − θ)`: below threshold the quadratic term accelerates the
//!   approach to the threshold, as in the QIF model (Ermentrout & Kopell 1986); the clamp at `θ`
//!   keeps a membrane far above threshold from running away. It is
//!   registered with [`spikeburn::core::custom::register_neuron`] and selected by
//!   `kind = "custom"`, `name = "qif"`; its `β` and `θ` come from the configuration.
//!
//! The `spikeburn` binary cannot see these registrations (they live in this program), so
//! custom models are trained, swept and diagnosed through the library API, as below.

use burn::prelude::*;
use spikeburn::core::NeuronConfig;
use spikeburn::core::custom::{NeuronFunction, NeuronParams, register_neuron};
use spikeburn::core::surrogate::{self, Surrogate};
use spikeburn::research::diagnose::{DiagnoseOptions, diagnose};
use spikeburn::research::sweep::{AxisSpec, Grid, SweepOptions, run_sweep};
use spikeburn::train::{Console, ExperimentConfig, Silent, trainer};
use std::path::PathBuf;

/// The leaky quadratic integrate-and-fire step (equations in the file's docs).
struct QuadraticIf {
    /// Strength `c` of the quadratic term.
    c: f32,
}

impl NeuronFunction for QuadraticIf {
    fn state_size(&self) -> usize {
        1
    }

    fn step(
        &self,
        input: Tensor<2>,
        state: &[Tensor<2>],
        p: &NeuronParams,
    ) -> (Tensor<2>, Vec<Tensor<2>>) {
        let u = state[0].clone();
        // H(U − θ), detached unless the configuration says otherwise (the diagnostics' smooth
        // reference keeps it, for an exact gradient).
        let reset = p.reset(u.clone());
        // clamp(U, 0, θ) = relu(U) − relu(U − θ): the quadratic drive is bounded by c·θ²,
        // so that a membrane far above threshold cannot run away between resets.
        let below = u.clone().clamp_min(0.0) - (u.clone() - p.threshold.clone()).clamp_min(0.0);
        let u = u * p.beta.clone() + below.square() * self.c + input - reset * p.threshold.clone();
        (p.spike(u.clone()), vec![u])
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    spikeburn::train::runtime::tune_allocator();
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("runs/example-custom"), PathBuf::from);

    // 1. Register the two models (before any configuration names them).
    let laplace = surrogate::register("laplace", |x: f32, k: f32| 0.5 * k * (-k * x.abs()).exp());
    register_neuron("qif", QuadraticIf { c: 0.2 });

    // 2. A configuration that names them, as a TOML file would.
    let mut config = ExperimentConfig::preset("mnist-mlp")?;
    config.data.limit_train = 2000;
    config.data.limit_test = 500;
    config.model.hidden = vec![64];
    config.model.num_steps = 10;
    config.training.lr = 2e-3;
    config.model.neuron = NeuronConfig {
        beta: 0.9,
        surrogate: laplace.with_slope(5.0),
        ..NeuronConfig::custom("qif")
    };
    println!(
        "neuron configuration: {}",
        serde_json::to_string(&config.model.neuron)?
    );

    // 3. Train it.
    let run = out.join("train");
    let trained = trainer::train(&config, &run, &mut Console::default())?;
    let last = trained.epochs.last().ok_or("no epoch")?;
    println!(
        "custom neuron + custom surrogate: test accuracy {:.2}% after 1 epoch",
        100.0 * last.test_accuracy
    );

    // 4. A sweep over the custom surrogate's slope, through the library.
    let axes: Vec<AxisSpec> = vec!["surrogate.slope=1,5,25".parse()?];
    let grid = Grid::new(&config, &[], &axes, 1)?;
    let swept = run_sweep(&grid, &SweepOptions::new(out.join("sweep")), &mut Silent)?;
    for r in &swept.results {
        let acc = r
            .last
            .as_ref()
            .map_or(f64::NAN, |l| 100.0 * l.test_accuracy);
        println!("sweep {}: test accuracy {acc:.2}%", r.run);
    }

    // 5. Diagnostics: the custom surrogate is compared with the built-ins, and the custom
    //    neuron runs the smooth reference like any other.
    let report = diagnose(
        &run,
        &out.join("diagnostics"),
        &DiagnoseOptions {
            samples: 256,
            ..DiagnoseOptions::default()
        },
    )?;
    let d = &report.diagnostics;
    println!(
        "reference sigmoid({}·x): finite differences vs autodiff cos {:.5}",
        d.reference.steepness, d.reference.cosine_fd_autodiff
    );
    for a in &d.agreement {
        println!(
            "  cos({:<22}, reference) = {:+.4}{}",
            a.label,
            a.cosine,
            if a.configured { "  (configured)" } else { "" }
        );
    }
    let named: Surrogate = serde_json::from_str(r#"{"kind":"custom","name":"laplace"}"#)?;
    println!(
        "`laplace` parses from a config file: {}",
        named.name() == "laplace"
    );
    for f in swept.files.iter().chain(&report.files) {
        println!("wrote {}", f.display());
    }
    Ok(())
}
