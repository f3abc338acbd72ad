//! Adaptive LIF: a threshold that rises with each spike and relaxes with its own time
//! constant (Bellec et al. 2018, "Long short-term memory and learning-to-learn in networks
//! of spiking neurons", the LSNN neuron; Norse `LSNNCell`).
//!
//! With the base threshold `θ`, adaptation decay `ρ` and strength `γ`:
//!
//! ```text
//! ϑ[t−1] = θ + γ·a[t−1]                      adaptive threshold
//! R[t]   = H(U[t−1] − ϑ[t−1])                 = S[t−1]
//! a[t]   = ρ·a[t−1] + (1 − ρ)·R[t]            (Bellec et al. eq. 3, discrete)
//! U[t]   = β·U[t−1] + X[t] − ϑ[t−1]·R[t]      subtract reset
//! U[t]   = β·(1 − R[t])·U[t−1] + X[t]          zero reset (none: no reset term)
//! S[t]   = H(U[t] − ϑ[t]),  ϑ[t] = θ + γ·a[t]
//! ```
//!
//! Gradients flow through the adaptation variable `a` (as in BPTT for LSNNs); the reset term
//! is detached when `detach_reset` is set. On the CPU backends the multi-step pass is one fused
//! scan ([`crate::fused::adaptive`], its backward written out there; equal to the step loop in
//! values and every gradient, tested); on burn-wgpu the step loop runs.

use crate::error::InvalidParameter;
use crate::fused::adaptive;
use crate::lif::{Lif, Reset};
use crate::neuron::catalogue::{check_decay, check_finite};
use crate::neuron::{
    LayerInit, ModelSpec, Neuron, NeuronConfig, NeuronModel, NeuronOutput, NirMapping, row,
    step_loop,
};
use burn::module::Param;
use burn::prelude::*;

/// A layer of adaptive LIF neurons (equations in the [module docs](self)).
#[derive(Module, Debug)]
pub struct AdaptiveLif {
    /// Decay `β`, base threshold `θ`, reset and surrogate.
    pub lif: Lif,
    /// Adaptation decay `ρ`, `[1]` or `[N]` (learnable with `learn_adapt`; clamped to
    /// `[0, 1]` when used).
    pub adapt_decay: Param<Tensor<1>>,
    /// Adaptation strength `γ`, `[1]` or `[N]` (learnable with `learn_adapt`).
    pub adapt_strength: Param<Tensor<1>>,
}

model_params! {
    /// The parameters of kind `adaptive` beyond the shared ones of [`NeuronConfig`].
    pub struct AdaptiveParams {
        /// Decay `ρ ∈ [0, 1]` of the threshold adaptation (default `exp(−1/700)`, Bellec et
        /// al. 2018 with `τ_a = 700` steps).
        pub adapt_decay: f32 = (-1.0f32 / 700.0).exp(),
        /// Strength `γ` of the threshold adaptation (default 1.8, Bellec et al. 2018).
        pub adapt_strength: f32 = 1.8,
        /// Train `ρ` and `γ` (default false): with `per_neuron`, one of each per neuron, as
        /// the learnable adaptation of the SHD literature.
        pub learn_adapt: bool = false,
    }
}

impl ModelSpec for AdaptiveParams {
    fn validate(&self, _: &NeuronConfig) -> Result<(), InvalidParameter> {
        check_decay("adapt_decay", self.adapt_decay)?;
        check_finite("adapt_strength", self.adapt_strength)
    }

    fn init(&self, layer: LayerInit<'_>) -> NeuronModel {
        NeuronModel::Adaptive(AdaptiveLif {
            adapt_decay: layer.param(self.adapt_decay, self.learn_adapt),
            adapt_strength: layer.param(self.adapt_strength, self.learn_adapt),
            lif: layer.lif,
        })
    }

    fn nir(&self) -> NirMapping {
        NirMapping::Unsupported("NIR has no adaptive threshold")
    }
}

/// The state of an [`AdaptiveLif`] layer (each `[B, N]`).
#[derive(Clone, Debug)]
pub struct AdaptiveState {
    /// Membrane `U`.
    pub membrane: Tensor<2>,
    /// Adaptation `a`.
    pub adaptation: Tensor<2>,
}

impl Neuron for AdaptiveLif {
    type State = AdaptiveState;

    fn rest(&self, batch: usize, neurons: usize, device: &Device) -> AdaptiveState {
        AdaptiveState {
            membrane: Tensor::zeros([batch, neurons], device),
            adaptation: Tensor::zeros([batch, neurons], device),
        }
    }

    fn step(&self, input: Tensor<2>, state: AdaptiveState) -> (Tensor<2>, AdaptiveState) {
        let (beta, threshold) = self.lif.coefficients();
        let rho = row(&self.adapt_decay).clamp(0.0, 1.0);
        let gamma = row(&self.adapt_strength);
        let previous = threshold.clone() + state.adaptation.clone() * gamma.clone();
        let fired = self
            .lif
            .surrogate
            .spike(state.membrane.clone() - previous.clone());
        let adaptation = state.adaptation * rho.clone() + fired.clone() * (rho.neg() + 1.0);
        let r = if self.lif.detach_reset {
            fired.detach()
        } else {
            fired
        };
        let membrane = match self.lif.reset {
            Reset::Subtract => state.membrane * beta + input - r * previous,
            Reset::Zero => (state.membrane.clone() - r * state.membrane) * beta + input,
            Reset::None => state.membrane * beta + input,
        };
        let now = threshold + adaptation.clone() * gamma;
        let spikes = self.lif.surrogate.spike(membrane.clone() - now);
        (
            spikes,
            AdaptiveState {
                membrane,
                adaptation,
            },
        )
    }

    fn membrane(state: &AdaptiveState) -> Tensor<2> {
        state.membrane.clone()
    }

    fn lif(&self) -> Option<&Lif> {
        Some(&self.lif)
    }

    /// The fused scan where the backend has it, else [`step_loop`].
    fn forward_sequence(&self, input: Tensor<3>, keep_membrane: bool) -> NeuronOutput {
        if !self.lif.uses_fused_scan() || !crate::fused::supports_cpu_scans(&input.device()) {
            return step_loop(self, input, keep_membrane);
        }
        let beta = self.lif.beta.val().clamp(0.0, 1.0);
        let threshold = self.lif.threshold.val();
        let rho = self.adapt_decay.val().clamp(0.0, 1.0);
        let gamma = self.adapt_strength.val();
        let scan = |output_membrane: bool| {
            adaptive::adaptive_scan(
                input.clone(),
                beta.clone(),
                threshold.clone(),
                rho.clone(),
                gamma.clone(),
                self.lif.scan_settings(output_membrane),
            )
        };
        NeuronOutput {
            spikes: scan(false),
            membrane: keep_membrane.then(|| scan(true)),
        }
    }
}
