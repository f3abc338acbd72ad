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

/// The ```` ```toml ```` blocks of a source file's `//!` docs.
fn doc_toml_blocks(source: &str) -> Vec<String> {
    let docs: Vec<&str> = source
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let mut blocks = Vec::new();
    let mut open: Option<String> = None;
    for line in docs {
        match (open.take(), line.trim() == "```toml", line.trim() == "```") {
            (None, true, _) => open = Some(String::new()),
            (Some(block), _, true) => blocks.push(block),
            (Some(mut block), ..) => {
                block.push_str(line);
                block.push('\n');
                open = Some(block);
            }
            (None, ..) => {}
        }
    }
    blocks
}

/// The configuration examples in rustdoc parse, and mean what their text says: the
/// module's example states the `mnist-mlp` defaults, the network module's is a valid
/// convolutional network, the custom neuron's selects the registered name.
#[test]
fn every_toml_block_of_the_rustdoc_parses_and_means_what_it_says() {
    let origin = Path::new("rustdoc");
    let blocks = doc_toml_blocks(include_str!("mod.rs"));
    assert_eq!(blocks.len(), 1);
    let config = ExperimentConfig::from_toml(&blocks[0], origin).expect("config docs parse");
    assert_eq!(config, ExperimentConfig::default(), "{}", blocks[0]);

    let blocks = doc_toml_blocks(include_str!("../../../spikeburn-core/src/network/mod.rs"));
    assert_eq!(blocks.len(), 1);
    let config = ExperimentConfig::from_toml(&blocks[0], origin).expect("network docs parse");
    config.validate().expect("the documented network validates");
    assert_eq!(config.model.layers.len(), 6);
    assert_eq!(config.model.output_size(), 10);

    let blocks = doc_toml_blocks(include_str!(
        "../../../spikeburn-core/src/neurons/custom.rs"
    ));
    assert_eq!(blocks.len(), 1);
    let config = ExperimentConfig::from_toml(&blocks[0], origin).expect("custom docs parse");
    let neuron = &config.model.neuron;
    assert_eq!(neuron.kind(), spikeburn_core::NeuronKind::Custom);
    assert_eq!(
        neuron.model,
        spikeburn_core::ModelParams::Custom(spikeburn_core::neurons::custom::CustomParams {
            name: "qif".into()
        })
    );
    assert_eq!((neuron.beta, neuron.threshold), (0.9, 1.0));
}
