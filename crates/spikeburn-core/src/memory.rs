//! The memory a training step of a network needs, estimated from its configuration before
//! anything is allocated, so that a configuration that cannot fit is refused with the
//! estimate instead of aborting on an allocation.

use crate::ModelParams;
use crate::network::{LayerConfig, NetworkConfig};
use crate::recurrent::RecurrentKind;

/// Floats a neuron layer keeps per neuron and time step for backpropagation through time
/// (the input current, the membrane, the spikes and the surrogate's operands).
const NEURON_FLOATS_PER_STEP: f64 = 5.0;

/// Floats a neuron layer run with its dense layer as one checkpointed operation
/// ([`NetworkConfig::checkpoint_segment`]) holds per neuron and time step at the peak: its
/// spikes and, in the backward pass, their gradient (the input current and the membrane are
/// recomputed).
const CHECKPOINTED_FLOATS_PER_STEP: f64 = 2.0;

/// What training a network takes in memory, from [`NetworkConfig::memory_estimate`].
///
/// ```text
/// weights     = 4 bytes × parameters × 4          (values, gradients, Adam's m and v)
/// activations = 4 bytes × T × B × Σ_layers (output size × floats kept per element)
/// ```
///
/// with 5 floats kept per neuron-step (a bound for every neuron model: the fused LIF peaks at
/// about 2.4 with its input current, the step loops and the other fused scans keep more) and
/// one per element of a linear, convolution, pooling or batch-norm output; with
/// [`NetworkConfig::checkpoint_segment`], a dense layer run with the LIF layer after it keeps
/// none and that neuron layer 2. An estimate for refusing
/// configurations that cannot fit before any work starts, not an exact accounting: burn's
/// allocator and the data set add to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryEstimate {
    /// Learnable parameters.
    pub parameters: f64,
    /// Bytes of weights, gradients and optimiser state.
    pub weight_bytes: f64,
    /// Bytes of activations kept for the backward pass.
    pub activation_bytes: f64,
}

impl MemoryEstimate {
    /// The total in bytes.
    pub fn total(&self) -> f64 {
        self.weight_bytes + self.activation_bytes
    }
}

impl NetworkConfig {
    /// An estimate of the memory a training step of this network takes with `batch` samples
    /// (see [`MemoryEstimate`]), computed in `f64` so that no size overflows; `None` where
    /// the configuration does not [`plan`](Self::plan).
    pub fn memory_estimate(&self, batch: usize) -> Option<MemoryEstimate> {
        let plan = self.plan().ok()?;
        let (t, b) = (self.num_steps as f64, batch as f64);
        let product = |s: &[usize]| s.iter().map(|&d| d as f64).product::<f64>();
        let (mut parameters, mut activations) = (0.0f64, product(&self.input) * b * 4.0);
        let checkpointed = self.checkpointed_pairs(&plan);
        for (i, p) in plan.iter().enumerate() {
            let n_out = product(&p.output);
            // Floats kept per output element and time step for the backward pass.
            let kept = match &p.layer {
                LayerConfig::Linear { size, .. } => {
                    parameters += product(&p.input) * *size as f64 + *size as f64;
                    // A checkpointed pair keeps no current.
                    if checkpointed.contains(&i) { 0.0 } else { 1.0 }
                }
                LayerConfig::DelayedLinear {
                    size, max_delay, ..
                } => {
                    // Weights and delays, and per tap the shifted input and the masked
                    // weights the backward pass keeps (counted per output element).
                    let synapses = product(&p.input) * *size as f64;
                    parameters += 2.0 * synapses + *size as f64;
                    let taps = (*max_delay as f64 + 1.0).min(self.num_steps as f64);
                    1.0 + taps * product(&p.input) / (*size as f64).max(1.0)
                }
                LayerConfig::Conv2d {
                    channels, kernel, ..
                } => {
                    let c_in = p.input.first().copied().unwrap_or(1) as f64;
                    let k = *kernel as f64;
                    parameters += c_in * *channels as f64 * k * k + *channels as f64;
                    // The output, and the unfolded (im2col) input of one step at a time.
                    1.0 + c_in * k * k / (*channels as f64).max(1.0)
                }
                LayerConfig::BatchNorm => {
                    parameters += 2.0 * p.output.first().copied().unwrap_or(1) as f64;
                    1.0
                }
                LayerConfig::Neuron { neuron } => {
                    let config = self.neuron_of(neuron);
                    parameters += config.model.extra_parameters(n_out);
                    // Input current, membrane, spikes and the surrogate's operands: at most 5
                    // floats per neuron-step (the fused LIF: 2.4; README, Performance); after a
                    // checkpointed dense layer, the spikes and their gradient.
                    if i > 0 && checkpointed.contains(&(i - 1)) {
                        CHECKPOINTED_FLOATS_PER_STEP
                    } else {
                        NEURON_FLOATS_PER_STEP
                    }
                }
                LayerConfig::MaxPool2d { .. }
                | LayerConfig::AvgPool2d { .. }
                | LayerConfig::Dropout { .. } => 1.0,
                LayerConfig::Flatten => 0.0,
                LayerConfig::Delay(d) => {
                    parameters += n_out;
                    // The output, and one shifted copy of the input per whole delay 0..=D.
                    1.0 + (d.max_delay as f64 + 1.0).min(t)
                }
            };
            activations += t * b * n_out * kept * 4.0;
        }
        Some(MemoryEstimate {
            parameters,
            // Weights, their gradients and Adam's two moments, 4 bytes each.
            weight_bytes: parameters * 4.0 * 4.0,
            activation_bytes: activations,
        })
    }
}

impl NetworkConfig {
    /// The indices (into `plan`) of the dense layers that run with the neuron layer after
    /// them as one checkpointed operation ([`NetworkConfig::checkpoint_segment`]): a LIF
    /// (without refractory period), IF or one-to-one recurrent layer that is not the output
    /// layer. As `SpikingNetwork::checkpointed` decides on the CPU backends.
    fn checkpointed_pairs(&self, plan: &[crate::network::PlannedLayer]) -> Vec<usize> {
        if self.checkpoint_segment.is_none() {
            return Vec::new();
        }
        let last_neuron = plan
            .iter()
            .rposition(|p| matches!(p.layer, LayerConfig::Neuron { .. }));
        plan.windows(2)
            .enumerate()
            .filter_map(|(i, pair)| match (&pair[0].layer, &pair[1].layer) {
                (LayerConfig::Linear { .. }, LayerConfig::Neuron { neuron })
                    if Some(i + 1) != last_neuron =>
                {
                    let fused = match &self.neuron_of(neuron).model {
                        ModelParams::Lif(p) => p.refractory == 0,
                        ModelParams::If(_) => true,
                        ModelParams::Recurrent(p) => p.recurrent == RecurrentKind::OneToOne,
                        _ => false,
                    };
                    fused.then_some(i)
                }
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::recurrent::{RecurrentKind, RecurrentParams};
    use crate::{NetworkConfig, NeuronConfig};

    /// Parameters of a 5 → 4 → 2 MLP, counted by hand: the linear layers' `5·4 + 4` and
    /// `4·2 + 2`, plus `4·4` recurrent weights where the hidden neurons are all-to-all
    /// recurrent (a one-to-one connection's, like `β` and `θ`, are not counted).
    #[test]
    fn parameters_count_the_weights_and_the_all_to_all_recurrence() {
        let parameters = |neuron| parameters_of(4, neuron);
        let recurrent = |recurrent| NeuronConfig::from(RecurrentParams { recurrent });
        assert_eq!(parameters(NeuronConfig::default()), 34.0);
        assert_eq!(parameters(recurrent(RecurrentKind::AllToAll)), 50.0);
        assert_eq!(parameters(recurrent(RecurrentKind::OneToOne)), 34.0);
        // 5·10⁹ recurrent neurons: 2.5·10¹⁹ weights, more than a `usize` holds, counted
        // without overflow (the estimate then refuses the configuration).
        let huge = parameters_of(5_000_000_000, recurrent(RecurrentKind::AllToAll));
        assert!(huge >= 2.5e19, "{huge}");
    }

    /// With `checkpoint_segment`, a hidden dense + LIF (or one-to-one recurrent) pair keeps
    /// no current and 2 floats per neuron-step instead of 1 + 5: 50 steps × batch 4 × 1000
    /// neurons × 4 floats × 4 bytes fewer. Not for a synaptic layer, nor the output layer.
    #[test]
    fn checkpointed_pairs_keep_less_for_the_backward_pass() {
        use crate::synaptic::SynapticParams;
        let activations = |neuron: NeuronConfig, segment| {
            NetworkConfig {
                input: vec![100],
                num_steps: 50,
                layers: vec![
                    crate::LayerConfig::Linear {
                        size: 1000,
                        bias: true,
                    },
                    crate::LayerConfig::Neuron {
                        neuron: Some(neuron),
                    },
                    crate::LayerConfig::Linear {
                        size: 10,
                        bias: true,
                    },
                    crate::LayerConfig::Neuron { neuron: None },
                ],
                checkpoint_segment: segment,
                ..NetworkConfig::default()
            }
            .memory_estimate(4)
            .expect("plans")
            .activation_bytes
        };
        let saved = |neuron: NeuronConfig| {
            activations(neuron.clone(), None) - activations(neuron, Some(10))
        };
        let expected = 50.0 * 4.0 * 1000.0 * 4.0 * 4.0;
        assert_eq!(saved(NeuronConfig::default()), expected);
        let one_to_one = NeuronConfig::from(RecurrentParams {
            recurrent: RecurrentKind::OneToOne,
        });
        assert_eq!(saved(one_to_one), expected);
        let synaptic = NeuronConfig::from(SynapticParams::default());
        assert_eq!(saved(synaptic), 0.0);
    }

    /// Parameters of `5 → hidden → 2` with `neuron` in the hidden layer.
    fn parameters_of(hidden: usize, neuron: NeuronConfig) -> f64 {
        let config = NetworkConfig {
            input: vec![5],
            num_steps: 2,
            layers: vec![
                crate::LayerConfig::Linear {
                    size: hidden,
                    bias: true,
                },
                crate::LayerConfig::Neuron {
                    neuron: Some(neuron),
                },
                crate::LayerConfig::Linear {
                    size: 2,
                    bias: true,
                },
                crate::LayerConfig::Neuron { neuron: None },
            ],
            ..NetworkConfig::default()
        };
        config.memory_estimate(3).expect("plans").parameters
    }
}
