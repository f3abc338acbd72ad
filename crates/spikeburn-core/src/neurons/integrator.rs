//! The non-spiking leaky integrator readout (Norse `LICell`, NIR `LI`).
//!
//! ```text
//! U[t] = β·U[t−1] + X[t]
//! ```
//!
//! The output is the potential `U` itself: no threshold, no spikes, no reset. Used as the
//! output layer of a classifier read out by its (maximum or final) membrane. The Euler step
//! of NIR's `LI` (`τ·dv/dt = (v_leak − v) + r·I`) with `v_leak = 0`, `β = 1 − dt/τ` and
//! `r = τ/dt` is exactly this update.

use crate::lif::{Kernel, LifOutput, LifState};
use crate::neuron::{
    LayerInit, ModelSpec, Neuron, NeuronModel, NeuronOutput, NirMapping, decay_row, leaky_filter,
};
use burn::module::Param;
use burn::prelude::*;

/// A layer of leaky integrators (equation in the [module docs](self)).
#[derive(Module, Debug)]
pub struct LeakyIntegrator {
    /// Decay `β`, `[1]` or `[N]`, clamped to `[0, 1]` when used.
    pub beta: Param<Tensor<1>>,
    /// Implementation of the multi-step pass.
    #[module(skip)]
    pub kernel: Kernel,
}

model_params! {
    /// The parameters of kind `integrator`: none beyond the shared `beta`, `learn_beta`,
    /// `per_neuron` and `kernel` of [`NeuronConfig`](crate::NeuronConfig) (a readout has no
    /// threshold, reset or surrogate).
    pub struct IntegratorParams {}
}

impl ModelSpec for IntegratorParams {
    fn init(&self, layer: LayerInit<'_>) -> NeuronModel {
        NeuronModel::Integrator(LeakyIntegrator {
            beta: layer.param(layer.config.beta, layer.config.learn_beta),
            kernel: layer.config.kernel,
        })
    }

    fn nir(&self) -> NirMapping {
        NirMapping::Node("LI")
    }
}

impl Neuron for LeakyIntegrator {
    type State = LifState;

    fn rest(&self, batch: usize, neurons: usize, device: &Device) -> LifState {
        LifState::zeros(batch, neurons, device)
    }

    fn step(&self, input: Tensor<2>, state: LifState) -> (Tensor<2>, LifState) {
        let membrane = state.membrane * decay_row(&self.beta) + input;
        (membrane.clone(), LifState { membrane })
    }

    fn membrane(state: &LifState) -> Tensor<2> {
        state.membrane.clone()
    }

    fn forward_sequence(&self, input: Tensor<3>, keep_membrane: bool) -> NeuronOutput {
        let membrane = leaky_filter(input, self.beta.val().clamp(0.0, 1.0), self.kernel);
        LifOutput {
            spikes: membrane.clone(),
            membrane: keep_membrane.then_some(membrane),
        }
    }
}
