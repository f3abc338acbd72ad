//! Trains the snnTorch tutorial-5 network on the shipped MNIST through the library API:
//! `cargo run --release --example train_mnist [-- OUT_DIR]`.

use spikeburn::train::{Console, ExperimentConfig, trainer};
use std::path::PathBuf;

fn main() {
    spikeburn::train::runtime::tune_allocator();
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("runs/example-mnist"), PathBuf::from);
    let mut config = ExperimentConfig::preset("mnist-mlp").expect("built-in preset");
    config.training.epochs = 1;
    match trainer::train(&config, &out, &mut Console::default()) {
        Ok(outcome) => {
            let last = outcome.epochs.last().expect("one epoch was trained");
            println!(
                "test accuracy {:.2}%; weights in {}",
                100.0 * last.test_accuracy,
                out.join("model.bpk").display()
            );
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
