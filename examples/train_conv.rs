//! Trains a convolutional spiking network through the library API:
//! `cargo run --release --example train_conv [-- mnist-conv|fashion-conv [OUT_DIR]]`.
//!
//! The preset's network (conv – batch norm – max-pool – LIF, twice, then a linear layer and a
//! leaky-integrator read-out, T = 4) is described in `spikeburn_train::config`; the same run
//! is `spikeburn train --preset mnist-conv`.

use spikeburn::train::{Console, ExperimentConfig, trainer};
use std::path::PathBuf;

fn main() {
    spikeburn::train::runtime::tune_allocator();
    let mut args = std::env::args().skip(1);
    let preset = args.next().unwrap_or_else(|| "mnist-conv".into());
    let out = args.next().map_or_else(
        || PathBuf::from(format!("runs/example-{preset}")),
        PathBuf::from,
    );
    let config = match ExperimentConfig::preset(&preset) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    match trainer::train(&config, &out, &mut Console::default()) {
        Ok(outcome) => {
            for epoch in &outcome.epochs {
                println!(
                    "epoch {}: test accuracy {:.2}% ({:.0} s)",
                    epoch.epoch,
                    100.0 * epoch.test_accuracy,
                    epoch.train_seconds + epoch.eval_seconds
                );
            }
            println!("weights in {}", out.join("model.bpk").display());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
