//! The code-first API: a network written as a `#[derive(Module)]` struct trained by `fit`,
//! against the network a configuration describes trained by `spikeburn train`'s path.

mod common;
use common::small_mlp;

use burn::nn::Linear;
use burn::prelude::*;
use spikeburn_core::layers::linear_over_time;
use spikeburn_core::network::Layer;
use spikeburn_core::neuron::NeuronModel;
use spikeburn_core::{Lif, ModelInput, SnnOutput, SpikingModel, SpikingNetwork};
use spikeburn_data::{Dataset, Split};
use spikeburn_train::trainer::load_split;
use spikeburn_train::{EpochRecord, ExperimentConfig, Silent, TrainError, fit, fit_resume, train};

/// 784 → hidden LIF → 10 LIF with direct encoding, written by hand as a user would.
#[derive(Module, Debug)]
struct Net {
    fc1: Linear,
    lif1: Lif,
    fc2: Linear,
    lif2: Lif,
    steps: usize,
}

impl SpikingModel for Net {
    fn forward(&self, input: ModelInput) -> SnnOutput {
        let spk1 = match input {
            ModelInput::Static(x) => {
                let cur =
                    spikeburn_core::dense::forward(&self.fc1, x, spikeburn_core::Kernel::Auto);
                self.lif1.forward_constant(cur, self.steps, false).spikes
            }
            ModelInput::Sequence(x) => self.lif1.forward(linear_over_time(&self.fc1, x)),
        };
        let out = self
            .lif2
            .forward_with_membrane(linear_over_time(&self.fc2, spk1.clone()));
        SnnOutput::from_layers(vec![spk1, out.spikes], out.membrane.expect("kept"))
    }
}

/// The hand-written network with the weights of the configured one (an MLP of LIF layers).
fn net_from(network: &SpikingNetwork) -> Net {
    let linears: Vec<Linear> = network.linears().into_iter().cloned().collect();
    let lifs: Vec<Lif> = network
        .layers
        .iter()
        .filter_map(|l| match l {
            Layer::Neuron(n) => match &n.model {
                NeuronModel::Lif(lif) => Some(lif.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let [fc1, fc2] = <[Linear; 2]>::try_from(linears).expect("two linear layers");
    let [lif1, lif2] = <[Lif; 2]>::try_from(lifs).expect("two LIF layers");
    Net {
        fc1,
        lif1,
        fc2,
        lif2,
        steps: network.num_steps,
    }
}

fn small_config(epochs: usize) -> ExperimentConfig {
    let mut c = small_mlp(640, 300, 128, 8);
    c.training.epochs = epochs;
    c
}

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32")
}

/// The epoch records without their timings.
fn untimed(records: &[EpochRecord]) -> Vec<EpochRecord> {
    records
        .iter()
        .map(|r| EpochRecord {
            step_ms: 0.0,
            train_seconds: 0.0,
            eval_seconds: 0.0,
            data_seconds: 0.0,
            ..r.clone()
        })
        .collect()
}

#[test]
fn a_network_written_in_code_trains_exactly_like_the_configured_one() {
    let config = small_config(2);
    let dir = tempfile::tempdir().expect("tempdir");
    let configured = train(&config, &dir.path().join("config"), &mut Silent).expect("train");

    let device = Device::flex();
    let net = net_from(&config.model.init(config.training.seed, &device));
    let train_set = load_split(&config, Split::Train).expect("train split");
    let test_set = load_split(&config, Split::Test).expect("test split");
    let run = dir.path().join("code");
    let coded = fit(
        net,
        &train_set,
        &test_set,
        &config.training,
        &run,
        &mut Silent,
    )
    .expect("fit");

    assert_eq!(untimed(&coded.epochs), untimed(&configured.epochs));
    let trained = configured.model.linears();
    assert_eq!(
        values(coded.model.fc1.weight.val()),
        values(trained[0].weight.val())
    );
    assert_eq!(
        values(coded.model.fc2.weight.val()),
        values(trained[1].weight.val())
    );
    let first = values(
        config.model.init(config.training.seed, &device).linears()[1]
            .weight
            .val(),
    );
    assert_ne!(
        first,
        values(coded.model.fc2.weight.val()),
        "training moved nothing"
    );
    assert!(run.join("training.toml").is_file() && run.join("model.bpk").is_file());
}

#[test]
fn fit_resume_continues_a_code_first_run_bit_identically() {
    let config = small_config(2);
    let device = Device::flex();
    let init = || net_from(&config.model.init(config.training.seed, &device));
    let train_set = load_split(&config, Split::Train).expect("train split");
    let test_set = load_split(&config, Split::Test).expect("test split");
    let dir = tempfile::tempdir().expect("tempdir");

    let whole = fit(
        init(),
        &train_set,
        &test_set,
        &config.training,
        &dir.path().join("whole"),
        &mut Silent,
    )
    .expect("uninterrupted");

    let run = dir.path().join("split");
    let mut first = config.training.clone();
    first.epochs = 1;
    fit(init(), &train_set, &test_set, &first, &run, &mut Silent).expect("first epoch");
    let resumed = fit_resume(
        init(),
        &train_set,
        &test_set,
        &config.training,
        &run,
        &mut Silent,
    )
    .expect("resume");
    assert_eq!(
        resumed.epochs.len(),
        1,
        "only the second epoch is run again"
    );
    assert_eq!(untimed(&resumed.epochs), untimed(&whole.epochs[1..]));
    assert_eq!(
        values(resumed.model.fc1.weight.val()),
        values(whole.model.fc1.weight.val())
    );

    // Other settings than `epochs` are refused, naming the run's file.
    let mut other = config.training.clone();
    other.lr *= 2.0;
    let err = fit_resume(init(), &train_set, &test_set, &other, &run, &mut Silent)
        .expect_err("changed lr");
    assert!(
        matches!(&err, TrainError::Invalid(e) if e.to_string().contains("training.toml")),
        "{err}"
    );
}

#[test]
fn fit_refuses_an_occupied_folder_before_training() {
    let config = small_config(1);
    let device = Device::flex();
    let train_set = load_split(&config, Split::Train).expect("train split");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("notes.txt"), "mine").expect("write");
    let net = net_from(&config.model.init(1, &device));
    let err = fit(
        net,
        &train_set,
        &train_set,
        &config.training,
        dir.path(),
        &mut Silent,
    )
    .expect_err("occupied");
    assert!(matches!(err, TrainError::OutputExists { .. }), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
    assert_eq!(Dataset::len(&train_set), 640);
}
