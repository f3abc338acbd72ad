//! Temporal data through the configuration path: a recurrent network learns a generated
//! Randman task (`--preset randman-rsnn`, made smaller).

use spikeburn_train::{ExperimentConfig, Silent, TrainError, train};

fn small_randman() -> ExperimentConfig {
    let mut c = ExperimentConfig::preset("randman-rsnn").expect("preset");
    let mut task = c.data.randman();
    task.classes = 5;
    task.samples_per_class = 200;
    task.steps = 50;
    c.data.randman = Some(task);
    c.model.num_steps = 50;
    c.model.layers[2] = spikeburn_core::LayerConfig::Linear {
        size: 5,
        bias: true,
    };
    c.training.epochs = 8;
    c.training.batch_size = 50;
    c
}

/// Trains `config` and checks that its last test accuracy by membrane exceeds `at_least` and
/// that the training loss fell.
fn learns(config: &ExperimentConfig, at_least: f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let outcome = train(config, &dir.path().join("run"), &mut Silent).expect("train");
    let last = outcome.epochs.last().expect("epochs");
    assert!(
        last.test_accuracy_membrane > at_least,
        "test accuracy by membrane {:.3} after {} epochs",
        last.test_accuracy_membrane,
        last.epoch
    );
    assert!(last.train_loss < outcome.epochs[0].train_loss);
}

#[test]
fn a_recurrent_network_learns_randman_far_above_chance() {
    // 5 classes: chance is 20 %; measured 52.5 % (Zen 4 EPYC), twice chance at least.
    learns(&small_randman(), 0.4);
}

/// The SHD literature's adaptive (ALIF) neurons with learnable adaptation decay and strength,
/// per neuron, in place of the recurrent layer: they train, on the fused CPU scan whose
/// gradients of ρ and γ `fused_scans.rs` checks.
#[test]
fn adaptive_neurons_with_learnable_adaptation_learn_randman_far_above_chance() {
    use spikeburn_core::adaptive::AdaptiveParams;
    use spikeburn_core::{LayerConfig, NeuronConfig};
    let mut c = small_randman();
    c.model.layers[1] = LayerConfig::Neuron {
        neuron: Some(NeuronConfig {
            beta: 0.9,
            per_neuron: true,
            ..NeuronConfig::from(AdaptiveParams {
                adapt_decay: 0.9,
                adapt_strength: 0.2,
                learn_adapt: true,
            })
        }),
    };
    c.training.epochs = 16;
    // 5 classes: chance is 20 %; measured 73.0 % after 16 epochs (44.5 % after 8; AMD EPYC).
    learns(&c, 0.5);
}

#[test]
fn a_task_that_does_not_fit_the_model_is_refused_before_the_run_folder() {
    let mut c = small_randman();
    c.model.num_steps = 40;
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let err = train(&c, &run, &mut Silent).expect_err("steps differ");
    assert!(
        matches!(&err, TrainError::Invalid(e) if e.to_string().contains("model.num_steps")),
        "{err}"
    );
    let mut c = small_randman();
    c.model.input = vec![21];
    let err = train(&c, &run, &mut Silent).expect_err("units differ");
    assert!(err.to_string().contains("model.input"), "{err}");
    assert!(!run.exists());
}
