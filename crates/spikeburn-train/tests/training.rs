//! Short training runs on the shipped MNIST copy: learning, determinism, resume.

use burn::prelude::*;
use spikeburn_train::trainer::{files, load_run_model};
use spikeburn_train::{ExperimentConfig, Silent, TrainError, resume, train};
use std::path::Path;

/// A small but real run: 1,024 training and 500 test images, 300 hidden neurons.
fn small_config(epochs: usize) -> ExperimentConfig {
    let mut c = ExperimentConfig::preset("mnist-mlp").expect("preset");
    c.data.limit_train = 1024;
    c.data.limit_test = 500;
    c.model.hidden = vec![300];
    c.model.num_steps = 10;
    c.training.batch_size = 64;
    c.training.lr = 2e-3;
    c.training.epochs = epochs;
    c
}

fn weights(run: &Path) -> Vec<f32> {
    let config = spikeburn_train::load_run_config(run).expect("config");
    let model = load_run_model(run, &config, &Device::flex()).expect("model");
    model
        .linears()
        .into_iter()
        .flat_map(|l| {
            l.weight
                .val()
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32")
        })
        .collect()
}

#[test]
fn short_run_learns_and_writes_its_outputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let outcome = train(&small_config(2), &run, &mut Silent).expect("training");
    let [first, second] = outcome.epochs.as_slice() else {
        panic!("expected two epoch records");
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
    assert_eq!(second.spike_rates.len(), 2);
    assert!(second.spike_rates.iter().all(|r| (0.0..=1.0).contains(r)));
    for name in [
        files::CONFIG,
        files::MODEL,
        files::METRICS,
        "checkpoint.json",
    ] {
        assert!(run.join(name).is_file(), "{name} missing");
    }
    let metrics = std::fs::read_to_string(run.join(files::METRICS)).expect("metrics");
    let lines: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 2);
    for key in [
        "train_loss",
        "train_accuracy",
        "test_accuracy",
        "train_seconds",
        "spike_rates",
    ] {
        assert!(lines[1].get(key).is_some(), "metrics line lacks {key}");
    }
    // The saved config reproduces the run's settings.
    let saved = spikeburn_train::load_run_config(&run).expect("config");
    assert_eq!(saved, small_config(2));
    // A second run into the same directory is refused, and changes nothing.
    let err = train(&small_config(1), &run, &mut Silent).expect_err("occupied");
    assert!(matches!(err, TrainError::OutputExists { .. }), "{err:?}");
}

#[test]
fn same_seed_same_weights_and_resume_is_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = small_config(2);
    config.data.limit_train = 384;
    config.data.limit_test = 64;
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    train(&config, &a, &mut Silent).expect("run a");
    train(&config, &b, &mut Silent).expect("run b");
    assert_eq!(weights(&a), weights(&b), "two runs with one seed differ");

    // One epoch, then resume to two: the same weights as two epochs straight.
    let c = dir.path().join("c");
    let mut one = config.clone();
    one.training.epochs = 1;
    train(&one, &c, &mut Silent).expect("run c");
    assert_ne!(weights(&a), weights(&c));
    // As if epoch 2 had logged its metrics and then been killed before its checkpoint.
    let metrics_path = c.join(files::METRICS);
    let mut metrics = std::fs::read_to_string(&metrics_path).expect("metrics");
    let stale = metrics.replace("\"epoch\":1", "\"epoch\":2");
    metrics.push_str(&stale);
    std::fs::write(&metrics_path, metrics).expect("write");
    let resumed = resume(&c, Some(2), &mut Silent).expect("resume");
    let lines: Vec<String> = std::fs::read_to_string(&metrics_path)
        .expect("metrics")
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "the interrupted epoch is logged once: {lines:?}"
    );
    assert_ne!(lines[1], stale.trim_end(), "the stale line was kept");
    assert_eq!(resumed.epochs.len(), 1);
    assert_eq!(resumed.epochs[0].epoch, 2);
    assert_eq!(
        weights(&a),
        weights(&c),
        "resumed run differs from the straight run"
    );

    let mut other = config.clone();
    other.training.seed += 1;
    let d = dir.path().join("d");
    train(&other, &d, &mut Silent).expect("run d");
    assert_ne!(weights(&a), weights(&d));
}

#[test]
fn bad_input_leaves_no_output_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let mut bad = small_config(1);
    bad.model.neuron.beta = 1.5;
    let err = train(&bad, &run, &mut Silent).expect_err("beta 1.5");
    assert!(err.to_string().contains("model.neuron.beta"), "{err}");
    let mut missing = small_config(1);
    missing.data.dir = Some(dir.path().join("no-such-dir"));
    let err = train(&missing, &run, &mut Silent).expect_err("missing data");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
    assert!(!run.exists());
}

#[test]
fn config_files_parse_partially_and_reject_unknown_keys() {
    let path = Path::new("experiment.toml");
    let c = ExperimentConfig::from_toml(
        "[model]\nhidden = [64, 32]\n[model.neuron]\nbeta = 0.9\nsurrogate = { kind = \"fast_sigmoid\" }\n[training]\nepochs = 3\n",
        path,
    )
    .expect("partial config");
    assert_eq!(c.model.hidden, vec![64, 32]);
    assert_eq!(c.model.neuron.beta, 0.9);
    assert_eq!(
        c.model.neuron.surrogate,
        spikeburn_core::Surrogate::FastSigmoid { slope: 25.0 }
    );
    assert_eq!(c.training.epochs, 3);
    assert_eq!(c.training.batch_size, 128);
    let round_trip = ExperimentConfig::from_toml(&c.to_toml(), path).expect("round trip");
    assert_eq!(round_trip, c);
    let err = ExperimentConfig::from_toml("[training]\nepoch = 3\n", path).expect_err("typo");
    let message = err.to_string();
    assert!(
        message.contains("experiment.toml") && message.contains("epoch"),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message}");
}
