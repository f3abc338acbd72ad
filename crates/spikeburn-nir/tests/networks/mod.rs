//! Helpers on spikeburn networks shared by the recurrent NIR tests.

use spikeburn_core::network::{Layer, SpikingNetwork};
use spikeburn_core::neuron::NeuronModel;

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
