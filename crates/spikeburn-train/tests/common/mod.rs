//! Configurations shared by the training tests: the `mnist-mlp` preset shrunk to a test's
//! size, and the MNIST copy shipped in the repository.

#![allow(dead_code)] // each test binary uses its own subset

use spikeburn_train::{EpochRecord, ExperimentConfig};
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

/// Checks that a two-epoch run learned: its training loss fell and its held-out accuracy is far
/// above chance (0.1 for ten classes). Returns the second epoch's record.
pub fn assert_two_epochs_learned(epochs: &[EpochRecord]) -> &EpochRecord {
    let [first, second] = epochs else {
        panic!("expected two epoch records, got {}", epochs.len());
    };
    assert!(
        second.train_loss < first.train_loss,
        "loss did not fall: {} then {}",
        first.train_loss,
        second.train_loss
    );
    assert!(
        second.test_accuracy > 0.6,
        "held-out accuracy {} is not far above chance (0.1)",
        second.test_accuracy
    );
    second
}
