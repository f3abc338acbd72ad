//! An MLP configured on image-shaped input (`input = [1, H, W]`, as the default
//! configuration) exports with the flatten it performs, and imports back to the same network.

use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spikeburn_core::lif::Reset;
use spikeburn_core::network::NetworkConfig;
use spikeburn_core::neuron::NeuronConfig;
use spikeburn_nir::convert::{
    ExportOptions, FLATTEN_SUFFIX, build_network, network_to_nir, nir_to_network, simulate_sequence,
};
use spikeburn_nir::{Edge, Node};

#[test]
fn an_mlp_on_image_input_exports_its_flatten_and_imports_back() {
    let device = Device::flex();
    let config = NetworkConfig {
        input: vec![1, 6, 6],
        hidden: vec![12],
        outputs: 3,
        num_steps: 10,
        neuron: NeuronConfig {
            reset: Reset::Zero,
            beta: 0.8,
            ..NeuronConfig::default()
        },
        ..NetworkConfig::default()
    };
    config.validate().expect("valid");
    let net = config.init(9, &device);
    let (graph, warnings) =
        network_to_nir(&config, &net, &ExportOptions::default()).expect("export");
    assert!(warnings.is_empty(), "{warnings:?}");
    let flatten = format!("layers.0{FLATTEN_SUFFIX}");
    match graph.node(&flatten) {
        Some(Node::Flatten(f)) => assert_eq!(f.input_shape.as_deref(), Some(&[1, 6, 6][..])),
        other => panic!("{flatten}: {other:?}"),
    }
    assert!(graph.edges.contains(&Edge::new("input", &flatten)));
    assert!(graph.edges.contains(&Edge::new(&flatten, "layers.0")));
    // The other linear layer takes flat input: no second flatten.
    assert!(graph.node(&format!("layers.2{FLATTEN_SUFFIX}")).is_none());

    let imported = nir_to_network(&graph).expect("import");
    let back = build_network(&imported, &device).expect("build");
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x: Vec<f32> = (0..10 * 4 * 36)
        .map(|_| rng.random::<f32>() * 20.0)
        .collect();
    let x = Tensor::<3>::from_data(TensorData::new(x, [10, 4, 36]), &device);
    let ours = simulate_sequence(&net, x.clone()).expect("simulate");
    let theirs = simulate_sequence(&back, x).expect("simulate");
    let (ours, theirs) = (
        ours.into_data().try_to_vec::<f32>().expect("f32"),
        theirs.into_data().try_to_vec::<f32>().expect("f32"),
    );
    assert!(
        ours.iter().any(|&s| s > 0.0),
        "no output spikes: the test is vacuous"
    );
    assert_eq!(ours, theirs);
}

/// A delay layer: safetensors holds the delays the model has; NIR export refuses it by name.
#[test]
fn delays_export_to_safetensors_and_are_refused_by_nir() {
    use spikeburn_core::LayerConfig;
    use spikeburn_core::layers::DelayConfig;
    use spikeburn_nir::convert::network_to_safetensors;
    let device = Device::flex();
    let zero_reset = NeuronConfig {
        reset: Reset::Zero,
        ..NeuronConfig::default()
    };
    let config = NetworkConfig {
        input: vec![4],
        num_steps: 5,
        layers: vec![
            LayerConfig::Linear {
                size: 3,
                bias: true,
            },
            LayerConfig::Neuron {
                neuron: Some(zero_reset.clone()),
            },
            LayerConfig::Delay(DelayConfig {
                max_delay: 3,
                learnable: true,
                delays: Some(vec![0.5, 2.0, 2.75]),
            }),
            LayerConfig::Linear {
                size: 2,
                bias: true,
            },
            LayerConfig::Neuron {
                neuron: Some(zero_reset),
            },
        ],
        ..NetworkConfig::default()
    };
    config.validate().expect("valid");
    let net = config.init(1, &device);
    let (tensors, _) = network_to_safetensors(&config, &net).expect("safetensors");
    let delays = tensors
        .get("layers.2.delay")
        .expect("the delays are exported");
    assert_eq!(delays.shape(), [3]);
    assert_eq!(delays.data(), [0.5, 2.0, 2.75]);
    let err = network_to_nir(&config, &net, &ExportOptions::default()).expect_err("no NIR delay");
    let text = err.to_string();
    assert!(
        text.contains("layers.2") && text.contains("delay"),
        "{text}"
    );
}

/// A per-synapse delayed layer exports its weights and delays as `[out, in]` (the layout of a
/// linear layer's weight) to safetensors, and NIR, which has no per-synapse delay, refuses it.
#[test]
fn per_synapse_delays_export_to_safetensors_transposed_and_not_to_nir() {
    use spikeburn_nir::convert::network_to_safetensors;
    let device = Device::flex();
    let config = NetworkConfig {
        input: vec![3],
        num_steps: 4,
        layers: vec![
            spikeburn_core::LayerConfig::DelayedLinear {
                size: 2,
                max_delay: 3,
                learnable: true,
                bias: true,
            },
            spikeburn_core::LayerConfig::Neuron {
                neuron: Some(NeuronConfig {
                    reset: Reset::Zero,
                    ..NeuronConfig::default()
                }),
            },
        ],
        ..NetworkConfig::default()
    };
    config.validate().expect("valid");
    let net = config.init(5, &device);
    let spikeburn_core::network::Layer::DelayedLinear(layer) = &net.layers[0] else {
        panic!("the first layer is {:?}", net.layers[0]);
    };
    let read = |t: Tensor<2>| t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    // The module holds [in = 3, out = 2]; the file holds [out, in].
    let (weight, delay) = (read(layer.weight.val()), read(layer.delay.val()));
    let (tensors, _) = network_to_safetensors(&config, &net).expect("safetensors");
    for (name, module) in [("layers.0.weight", &weight), ("layers.0.delay", &delay)] {
        let exported = tensors
            .get(name)
            .unwrap_or_else(|| panic!("{name} is exported"));
        assert_eq!(exported.shape(), [2, 3], "{name}");
        for out in 0..2 {
            for input in 0..3 {
                assert_eq!(
                    exported.data()[out * 3 + input],
                    module[input * 2 + out],
                    "{name}"
                );
            }
        }
    }
    assert!(tensors.contains_key("layers.0.bias"));
    let err = network_to_nir(&config, &net, &ExportOptions::default()).expect_err("no NIR");
    let text = err.to_string();
    assert!(
        text.contains("layers.0") && text.contains("per-synapse"),
        "{text}"
    );
}

/// A neuron NIR cannot express is refused at export with the reason its model file gives and
/// the kinds that do export; the ones that have a counterpart export.
#[test]
fn a_neuron_without_a_nir_counterpart_is_refused_with_its_reason() {
    use spikeburn_core::lif::LifParams;
    use spikeburn_core::neuron::{ModelParams, NeuronKind};
    let export = |model: ModelParams| {
        let neuron = NeuronConfig {
            reset: Reset::Zero,
            model,
            ..NeuronConfig::default()
        };
        let (config, net) = mlp_5_4_2(neuron);
        network_to_nir(&config, &net, &ExportOptions::default()).map(drop)
    };
    let exportable = "exportable: lif, if, synaptic, recurrent, integrator";
    let cases = [
        (NeuronKind::Alpha, "NIR has no alpha synapse"),
        (NeuronKind::Adaptive, "NIR has no adaptive threshold"),
        (
            NeuronKind::Conductance,
            "NIR has no conductance-based neuron",
        ),
        (NeuronKind::Stochastic, "NIR neurons are deterministic"),
        (
            NeuronKind::Eif,
            "NIR has no exponential integrate-and-fire neuron",
        ),
    ];
    for (kind, reason) in cases {
        let e = export(kind.default_params())
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains(&format!(
                "the {kind} neuron has no NIR counterpart: {reason}"
            )) && e.contains(exportable),
            "{e}"
        );
    }
    let e = export(LifParams { refractory: 2 }.into())
        .expect_err("refused")
        .to_string();
    assert!(
        e.contains("the lif neuron has no NIR counterpart: NIR has no refractory period"),
        "{e}"
    );
    for kind in [NeuronKind::Lif, NeuronKind::If, NeuronKind::Synaptic] {
        export(kind.default_params()).expect("exports");
    }
}

/// The safetensors export holds every learnable parameter of a neuron layer: `β` and `θ` of
/// any model with a LIF part (here EIF, which the exporter does not name) and the adaptation
/// of the adaptive neuron, with the values configured.
#[test]
fn safetensors_hold_each_neuron_models_parameters() {
    use spikeburn_core::adaptive::AdaptiveParams;
    use spikeburn_core::neuron::{ModelParams, NeuronKind};
    use spikeburn_nir::convert::network_to_safetensors;
    let export = |model: ModelParams| {
        let neuron = NeuronConfig {
            beta: 0.7,
            threshold: 0.9,
            per_neuron: true,
            model,
            ..NeuronConfig::default()
        };
        let (config, net) = mlp_5_4_2(neuron);
        network_to_safetensors(&config, &net).expect("export").0
    };
    let eif = export(NeuronKind::Eif.default_params());
    assert_eq!(eif["layers.1.beta"].data(), [0.7; 4]);
    assert_eq!(eif["layers.1.threshold"].data(), [0.9; 4]);
    assert_eq!(eif["layers.3.threshold"].data(), [0.9; 2]);
    let adaptive = export(
        AdaptiveParams {
            adapt_decay: 0.95,
            adapt_strength: 0.25,
            learn_adapt: true,
        }
        .into(),
    );
    assert_eq!(adaptive["layers.1.adapt_decay"].data(), [0.95; 4]);
    assert_eq!(adaptive["layers.1.adapt_strength"].data(), [0.25; 4]);
    assert_eq!(adaptive["layers.1.beta"].data(), [0.7; 4]);
}

/// A 5-4-2 MLP over three steps with `neuron` in both neuron layers (layers 1 and 3).
fn mlp_5_4_2(neuron: NeuronConfig) -> (NetworkConfig, spikeburn_core::SpikingNetwork) {
    let config = NetworkConfig {
        input: vec![5],
        hidden: vec![4],
        outputs: 2,
        num_steps: 3,
        neuron,
        ..NetworkConfig::default()
    };
    config.validate().expect("valid");
    let net = config.init(1, &Device::flex());
    (config, net)
}
