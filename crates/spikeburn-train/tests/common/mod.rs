//! Configurations shared by the training tests: the `mnist-mlp` preset shrunk to a test's
//! size, and the MNIST copy shipped in the repository.

#![allow(dead_code)] // each test binary uses its own subset

use spikeburn_train::ExperimentConfig;
use std::path::{Path, PathBuf};

/// The MNIST copy shipped in the repository's `datasets/mnist`.
pub fn shipped_mnist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/mnist")
}

/// The `mnist-mlp` preset on `limit_train` training and `limit_test` test images, one hidden
/// layer of `hidden` neurons, `num_steps` time steps, batches of 64, learning rate 2e-3.
pub fn small_mlp(
    limit_train: usize,
    limit_test: usize,
    hidden: usize,
    num_steps: usize,
) -> ExperimentConfig {
    let mut c = ExperimentConfig::preset("mnist-mlp").expect("preset");
    c.data.limit_train = limit_train;
    c.data.limit_test = limit_test;
    c.model.hidden = vec![hidden];
    c.model.num_steps = num_steps;
    c.training.batch_size = 64;
    c.training.lr = 2e-3;
    c
}
