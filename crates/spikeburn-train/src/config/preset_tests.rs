use super::*;

/// The convolutional SNN of the `*-conv` presets: two conv–batch-norm–max-pool–LIF blocks,
/// `β = 0.5` (`τ = 2`, as SpikingJelly's conv examples), `T = 4`, and a non-spiking leaky
/// integrator read-out (`β = 0.9`): with only 4 steps, output spike counts (0–4) tie often,
/// while the integrated membrane separates the classes (a LIF read-out measured 95.2 % by
/// spike count but 98.2 % by membrane after 2 epochs).
///
/// Pooling comes before the neurons: the first block's conv, batch norm and pooling then run
/// once per batch on the static image (direct encoding), and the second block normalises a
/// tensor 4× smaller than before pooling. With `hidden`, a fully connected LIF layer of that
/// size sits between the blocks and the read-out.
pub(super) fn conv_network(channels: [usize; 2], hidden: Option<usize>) -> NetworkConfig {
    use spikeburn_core::LayerConfig as L;
    let neuron = || L::Neuron { neuron: None };
    let conv = |channels| L::Conv2d {
        channels,
        kernel: 3,
        stride: 1,
        padding: None,
        bias: false,
    };
    let pool = || L::MaxPool2d {
        kernel: 2,
        stride: None,
    };
    let mut layers = vec![
        conv(channels[0]),
        L::BatchNorm,
        pool(),
        neuron(),
        conv(channels[1]),
        pool(),
        L::BatchNorm,
        neuron(),
        L::Flatten,
    ];
    if let Some(size) = hidden {
        layers.extend([L::Linear { size, bias: true }, neuron()]);
    }
    layers.extend([
        L::Linear {
            size: 10,
            bias: true,
        },
        L::Neuron {
            neuron: Some(spikeburn_core::NeuronConfig {
                beta: 0.9,
                ..spikeburn_core::NeuronConfig::new(spikeburn_core::NeuronKind::Integrator)
            }),
        },
    ]);
    NetworkConfig {
        input: vec![1, 28, 28],
        num_steps: 4,
        neuron: spikeburn_core::NeuronConfig {
            beta: 0.5,
            ..Default::default()
        },
        layers,
        ..NetworkConfig::default()
    }
}

/// The presets as they were defined in code before they became files.
fn in_code(name: &str) -> ExperimentConfig {
    let mut config = ExperimentConfig::default();
    match name {
        "mnist-mlp" => {}
        "fashion-mlp" => config.data.dataset = DatasetKind::FashionMnist,
        "mnist-conv" | "fashion-conv" => {
            config.model = conv_network([32, 64], Some(256));
            config.training.lr = 1e-3;
            config.training.epochs = 10;
            config.training.lr_schedule = LrSchedule::Cosine;
            config.training.augment_shift = 2;
            if name == "fashion-conv" {
                config.data.dataset = DatasetKind::FashionMnist;
                config.training.augment_shift = 1;
                config.training.augment_flip = true;
            }
        }
        _ => unreachable!(),
    }
    config
}

#[test]
fn every_preset_file_is_the_preset_it_replaced() {
    assert_eq!(PRESETS.len(), PRESET_FILES.len());
    for name in &PRESETS[..4] {
        let parsed = ExperimentConfig::preset(name).expect("preset parses");
        assert_eq!(parsed, in_code(name), "presets/{name}.toml");
        parsed.validate().expect("preset validates");
    }
    let randman = ExperimentConfig::preset("randman-rsnn").expect("parses");
    randman.validate().expect("randman-rsnn validates");
    assert_eq!(randman.data.randman().units, 20);
    // The event presets: their networks take the frames their [data.events] makes.
    for (name, dataset, input, steps) in [
        ("shd-rsnn", DatasetKind::Shd, vec![700], 100),
        ("ssc-rsnn", DatasetKind::Ssc, vec![700], 100),
        ("nmnist-conv", DatasetKind::Nmnist, vec![2, 34, 34], 10),
        (
            "dvsgesture-conv",
            DatasetKind::DvsGesture,
            vec![2, 32, 32],
            16,
        ),
    ] {
        let c = ExperimentConfig::preset(name).expect("parses");
        c.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(c.data.dataset, dataset, "{name}");
        assert_eq!(
            (c.model.input.clone(), c.model.num_steps),
            (input, steps),
            "{name}"
        );
        assert_eq!(c.model.output_size(), dataset.num_classes(), "{name}");
    }
    let mut wrong = ExperimentConfig::preset("shd-rsnn").expect("parses");
    wrong.model.input = vec![140];
    assert_eq!(
        wrong.validate().expect_err("700 channels").field,
        "model.input"
    );
    assert!(matches!(
        ExperimentConfig::preset("nope"),
        Err(ConfigError::UnknownPreset(_))
    ));
}
