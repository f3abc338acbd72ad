//! The current-based (synaptic) LIF neuron, snnTorch `Synaptic`, NIR `CubaLIF`.
//!
//! A synaptic current `I` with its own decay `α` filters the input before the membrane:
//!
//! ```text
//! I[t] = α·I[t−1] + X[t]
//! U[t] = β·U[t−1] + I[t] − θ·R[t]          (and the other resets as in crate::lif)
//! S[t] = H(U[t] − θ)
//! ```
//!
//! (snnTorch `Synaptic`, Eshraghian et al. 2023; the discrete form of NIR's `CubaLIF`.)
//! The current does not depend on the spikes, so the multi-step pass is two fused scans: the
//! leaky filter for `I`, then the LIF scan on `I`.

use crate::error::InvalidParameter;
use crate::lif::{Lif, LifOutput, LifState};
use crate::neuron::catalogue::check_decay;
use crate::neuron::{
    LayerInit, ModelSpec, Neuron, NeuronConfig, NeuronModel, NeuronOutput, NirMapping, decay_row,
    leaky_filter,
};
use burn::module::Param;
use burn::prelude::*;

/// A layer of current-based LIF neurons (equations in the [module docs](self)).
#[derive(Module, Debug)]
pub struct Synaptic {
    /// Synaptic decay `α`, `[1]` or `[N]`, clamped to `[0, 1]` when used.
    pub alpha: Param<Tensor<1>>,
    /// The membrane part (decay `β`, threshold, reset, surrogate).
    pub lif: Lif,
}

model_params! {
    /// The parameters of kind `synaptic` beyond the shared ones of [`NeuronConfig`].
    pub struct SynapticParams {
        /// Synaptic decay `α ∈ [0, 1]` (default 0.9).
        pub alpha: f32 = 0.9,
        /// Train `α` (default false; one per neuron with `per_neuron`).
        pub learn_alpha: bool = false,
    }
}

impl ModelSpec for SynapticParams {
    fn validate(&self, _: &NeuronConfig) -> Result<(), InvalidParameter> {
        check_decay("alpha", self.alpha)
    }

    fn init(&self, layer: LayerInit<'_>) -> NeuronModel {
        NeuronModel::Synaptic(Synaptic {
            alpha: layer.param(self.alpha, self.learn_alpha),
            lif: layer.lif,
        })
    }

    fn nir(&self) -> NirMapping {
        NirMapping::Node("CubaLIF")
    }
}

/// The state of a [`Synaptic`] layer.
#[derive(Clone, Debug)]
pub struct SynapticState {
    /// Synaptic current `I`, `[B, N]`.
    pub current: Tensor<2>,
    /// Membrane state.
    pub lif: LifState,
}

impl Neuron for Synaptic {
    type State = SynapticState;

    fn rest(&self, batch: usize, neurons: usize, device: &Device) -> SynapticState {
        SynapticState {
            current: Tensor::zeros([batch, neurons], device),
            lif: LifState::zeros(batch, neurons, device),
        }
    }

    fn step(&self, input: Tensor<2>, state: SynapticState) -> (Tensor<2>, SynapticState) {
        let current = state.current * decay_row(&self.alpha) + input;
        let (spikes, lif) = self.lif.step(current.clone(), state.lif);
        (spikes, SynapticState { current, lif })
    }

    fn membrane(state: &SynapticState) -> Tensor<2> {
        state.lif.membrane.clone()
    }

    fn lif(&self) -> Option<&Lif> {
        Some(&self.lif)
    }

    fn forward_sequence(&self, input: Tensor<3>, keep_membrane: bool) -> NeuronOutput {
        let alpha = self.alpha.val().clamp(0.0, 1.0);
        let current = leaky_filter(input, alpha, self.lif.kernel);
        let out: LifOutput = self.lif.forward_sequence(current, keep_membrane);
        out
    }
}
