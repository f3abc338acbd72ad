//! The network description (a serialisable config) and the model it builds.
//!
//! A [`SpikingMlp`] is a stack of fully connected layers, each followed by a LIF layer:
//!
//! ```text
//! x [B, inputs] ─ Linear ─ LIF ─ Linear ─ LIF ─ … ─ Linear ─ LIF → spikes, membrane [T, B, outputs]
//! ```
//!
//! The input is a static sample fed as input current at every one of the `T = num_steps`
//! steps (direct encoding). Because that input does not change over time, neither does the
//! first layer's output: it is computed once per batch on `[B, inputs]` and fed to the first
//! LIF layer at every step (`T` times fewer FLOPs than per-step application, same result).
//! Every later Linear layer runs once on the whole spike sequence with `T` folded into the
//! batch ([`crate::layers::linear_over_time`]).
//!
//! With the defaults this is the network of snnTorch's tutorial 5 (784-1000-10, `β = 0.95`,
//! 25 steps).

use crate::error::InvalidParameter;
use crate::layers::linear_over_time;
use crate::lif::{Lif, LifConfig};
use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Description of a [`SpikingMlp`]; every field has a default (snnTorch tutorial 5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Input features per sample (784 for 28×28 images).
    pub inputs: usize,
    /// Sizes of the hidden LIF layers, in order (default `[1000]`).
    pub hidden: Vec<usize>,
    /// Output neurons, one per class (default 10).
    pub outputs: usize,
    /// Simulated time steps `T` per sample (default 25).
    pub num_steps: usize,
    /// The LIF neurons of every layer.
    pub neuron: LifConfig,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            inputs: 784,
            hidden: vec![1000],
            outputs: 10,
            num_steps: 25,
            neuron: LifConfig::default(),
        }
    }
}

impl NetworkConfig {
    /// Checks sizes (all `> 0`), `num_steps > 0` and the neuron parameters.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        let positive = |field: String, value: usize| {
            if value == 0 {
                Err(InvalidParameter::new(field, "expected a number > 0, got 0"))
            } else {
                Ok(())
            }
        };
        positive("inputs".into(), self.inputs)?;
        for (i, &size) in self.hidden.iter().enumerate() {
            positive(format!("hidden[{i}]"), size)?;
        }
        positive("outputs".into(), self.outputs)?;
        positive("num_steps".into(), self.num_steps)?;
        self.neuron.validate().map_err(|e| e.within("neuron"))
    }

    /// Layer widths from input to output: `[inputs, hidden…, outputs]`.
    pub fn widths(&self) -> Vec<usize> {
        std::iter::once(self.inputs)
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(self.outputs))
            .collect()
    }

    /// Builds the model on `device`, weights and biases drawn uniformly from `±1/√fan_in`
    /// (PyTorch's `nn.Linear` default, also burn's) by ChaCha8 seeded with `seed`. The same
    /// seed gives the same weights on every backend and thread, independent of burn's global
    /// RNG. Call [`Self::validate`] first.
    pub fn init(&self, seed: u64, device: &Device) -> SpikingMlp {
        let widths = self.widths();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let linears = widths
            .windows(2)
            .map(|w| seeded_linear(w[0], w[1], &mut rng, device))
            .collect();
        let neurons = widths[1..]
            .iter()
            .map(|&n| self.neuron.init(n, device))
            .collect();
        SpikingMlp {
            linears,
            neurons,
            num_steps: self.num_steps,
        }
    }
}

/// A `Linear(fan_in, fan_out)` with weights and bias uniform in `±1/√fan_in`, drawn from `rng`.
fn seeded_linear(fan_in: usize, fan_out: usize, rng: &mut ChaCha8Rng, device: &Device) -> Linear {
    let bound = 1.0 / (fan_in as f32).sqrt();
    let mut draw =
        |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..=bound)).collect() };
    let weight = TensorData::new(draw(fan_in * fan_out), [fan_in, fan_out]);
    let bias = TensorData::new(draw(fan_out), [fan_out]);
    Linear {
        weight: Param::from_tensor(Tensor::from_data(weight, device)),
        bias: Some(Param::from_tensor(Tensor::from_data(bias, device))),
    }
}

/// A feed-forward spiking classifier: Linear + LIF layers (see the [module docs](self)).
#[derive(Module, Debug)]
pub struct SpikingMlp {
    /// Fully connected layers, `linears[i]` feeds `neurons[i]`.
    pub linears: Vec<Linear>,
    /// LIF layers, the last one is the output layer.
    pub neurons: Vec<Lif>,
    /// Simulated time steps `T`.
    pub num_steps: usize,
}

/// What a forward pass of a [`SpikingMlp`] returns.
#[derive(Clone, Debug)]
pub struct SnnOutput {
    /// Output spikes, `[T, B, outputs]`.
    pub spikes: Tensor<3>,
    /// Output membrane potentials, `[T, B, outputs]`.
    pub membrane: Tensor<3>,
    /// Mean firing rate (spikes per neuron per step) of each LIF layer, detached, `[1]` each.
    pub spike_rates: Vec<Tensor<1>>,
}

impl SpikingMlp {
    /// Runs `T` steps on a batch of static samples `[B, inputs]` (direct encoding).
    pub fn forward(&self, input: Tensor<2>) -> SnnOutput {
        let steps = self.num_steps;
        let last = self.neurons.len() - 1;
        let rate = |spikes: &Tensor<3>| spikes.clone().detach().mean();
        // The input is the same at every step, so the first layer runs once on [B, inputs].
        let current = self.linears[0].forward(input);
        let mut out = self.neurons[0].forward_constant(current, steps, last == 0);
        let mut spike_rates = vec![rate(&out.spikes)];
        for (i, (linear, lif)) in self.linears.iter().zip(&self.neurons).enumerate().skip(1) {
            let current = linear_over_time(linear, out.spikes);
            out = if i == last {
                lif.forward_with_membrane(current)
            } else {
                crate::lif::LifOutput {
                    spikes: lif.forward(current),
                    membrane: None,
                }
            };
            spike_rates.push(rate(&out.spikes));
        }
        SnnOutput {
            membrane: out.membrane.expect("the output layer keeps its membrane"),
            spikes: out.spikes,
            spike_rates,
        }
    }
}
