//! Helpers on spikeburn networks shared by the recurrent NIR tests.

use burn::prelude::*;
use spikeburn_core::network::{Layer, LayerConfig, NetworkConfig, SpikingNetwork};
use spikeburn_core::neuron::{NeuronConfig, NeuronModel};
use spikeburn_nir::convert::simulate_sequence;

/// The validated config of a feed-forward network of `features` inputs run for `steps` steps:
/// for each `(size, bias, neuron)` of `layers`, a linear layer of `size` outputs (with a bias
/// where `bias` is set) followed by a layer of `neuron`.
pub fn dense_config(
    features: usize,
    steps: usize,
    layers: &[(usize, bool, NeuronConfig)],
) -> NetworkConfig {
    let config = NetworkConfig {
        input: vec![features],
        num_steps: steps,
        layers: layers
            .iter()
            .flat_map(|(size, bias, neuron)| {
                [
                    LayerConfig::Linear {
                        size: *size,
                        bias: *bias,
                    },
                    LayerConfig::Neuron {
                        neuron: Some(neuron.clone()),
                    },
                ]
            })
            .collect(),
        ..NetworkConfig::default()
    };
    config.validate().expect("valid");
    config
}

/// Scales the weights of every linear layer by `linear` and every recurrent weight by
/// `recurrent` (so that the small test networks spike, and recurrence matters).
pub fn scale_weights(net: &mut SpikingNetwork, linear: f32, recurrent: f32) {
    for layer in &mut net.layers {
        match layer {
            Layer::Linear(l) => l.weight = l.weight.clone().map(|w| w * linear),
            Layer::Neuron(n) => {
                if let NeuronModel::Recurrent(r) = &mut n.model {
                    if let Some(d) = &mut r.dense {
                        d.weight = d.weight.clone().map(|w| w * recurrent);
                    }
                    if let Some(v) = &mut r.diagonal {
                        *v = v.clone().map(|w| w * recurrent);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The network with its recurrent weights (and bias) set to zero.
pub fn without_recurrence(net: &SpikingNetwork) -> SpikingNetwork {
    let mut net = net.clone();
    for layer in &mut net.layers {
        if let Layer::Neuron(n) = layer
            && let NeuronModel::Recurrent(r) = &mut n.model
        {
            if let Some(d) = &mut r.dense {
                d.weight = d.weight.clone().map(|w| w.zeros_like());
                d.bias = d.bias.clone().map(|b| b.map(|b| b.zeros_like()));
            }
            if let Some(v) = &mut r.diagonal {
                *v = v.clone().map(|w| w.zeros_like());
            }
        }
    }
    net
}

/// The output spikes of `net` run on the input spikes `x`, of shape `[steps, batch, features]`.
pub fn output_spikes(net: &SpikingNetwork, x: &[f32], shape: [usize; 3]) -> Vec<f32> {
    let x = Tensor::<3>::from_data(TensorData::new(x.to_vec(), shape), &Device::flex());
    simulate_sequence(net, x)
        .expect("simulate")
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32")
}

/// Asserts that two runs give the same output spikes, and that there are some.
pub fn assert_same_spikes(ours: &[f32], theirs: &[f32], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: output sizes");
    let differ = ours.iter().zip(theirs).filter(|(a, b)| a != b).count();
    let total: f32 = ours.iter().sum();
    eprintln!(
        "{what}: {total} output spikes in {} slots, {differ} differ",
        ours.len()
    );
    assert!(total > 0.0, "{what}: no output spikes, the test is vacuous");
    assert_eq!(
        differ,
        0,
        "{what}: {differ} of {} outputs differ",
        ours.len()
    );
}
