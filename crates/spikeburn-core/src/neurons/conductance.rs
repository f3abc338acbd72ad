//! Conductance-based LIF: the input opens excitatory and inhibitory conductances whose
//! effect depends on the distance of the membrane from their reversal potentials.
//!
//! The forward-Euler step (time step `dt`, `β = 1 − dt/τ_m`) of
//! `τ_m·dU/dt = −U + g_e·(E_e − U) + g_i·(E_i − U)` with exponentially decaying conductances
//! driven by the positive and negative parts of the input (Dayan & Abbott 2001, ch. 5;
//! Gerstner et al. 2014, "Neuronal Dynamics", §1.3):
//!
//! ```text
//! g_e[t] = α·g_e[t−1] + max(X[t], 0)          g_i[t] = α·g_i[t−1] + max(−X[t], 0)
//! R[t]   = H(U[t−1] − θ)
//! U[t]   = β·U[t−1] + (1 − β)·(g_e[t]·(E_e − U[t−1]) + g_i[t]·(E_i − U[t−1])) − θ·R[t]
//! S[t]   = H(U[t] − θ)
//! ```
//!
//! (rest potential 0, other resets as in [`crate::lif`]). The Euler step is stable while
//! `(1 − β)·(1 + g_e + g_i) < 1`. On the CPU backends the multi-step pass is one fused scan
//! ([`crate::fused::conductance`], its backward written out there; equal to the step loop in
//! values and every gradient, tested); on burn-wgpu the step loop runs.

use crate::error::InvalidParameter;
use crate::fused;
use crate::lif::Lif;
use crate::neuron::catalogue::{check_decay, check_finite};
use crate::neuron::{
    LayerInit, ModelSpec, Neuron, NeuronConfig, NeuronModel, NeuronOutput, NirMapping, decay_row,
    step_loop,
};
use burn::module::Param;
use burn::prelude::*;

/// A layer of conductance-based LIF neurons (equations in the [module docs](self)).
#[derive(Module, Debug)]
pub struct ConductanceLif {
    /// Conductance decay `α`, `[1]` or `[N]`.
    pub alpha: Param<Tensor<1>>,
    /// Excitatory reversal potential `E_e`.
    pub reversal_exc: f32,
    /// Inhibitory reversal potential `E_i`.
    pub reversal_inh: f32,
    /// Membrane decay `β`, threshold, reset, surrogate.
    pub lif: Lif,
}

model_params! {
    /// The parameters of kind `conductance` beyond the shared ones of [`NeuronConfig`].
    pub struct ConductanceParams {
        /// Conductance decay `α ∈ [0, 1]` (default 0.9).
        pub alpha: f32 = 0.9,
        /// Train `α` (default false; one per neuron with `per_neuron`).
        pub learn_alpha: bool = false,
        /// Excitatory reversal potential `E_e` (default 5, in units where rest = 0).
        pub reversal_exc: f32 = 5.0,
        /// Inhibitory reversal potential `E_i` (default −1).
        pub reversal_inh: f32 = -1.0,
    }
}

impl ModelSpec for ConductanceParams {
    fn validate(&self, _: &NeuronConfig) -> Result<(), InvalidParameter> {
        check_decay("alpha", self.alpha)?;
        check_finite("reversal_exc", self.reversal_exc)?;
        check_finite("reversal_inh", self.reversal_inh)
    }

    fn init(&self, layer: LayerInit<'_>) -> NeuronModel {
        NeuronModel::Conductance(ConductanceLif {
            alpha: layer.param(self.alpha, self.learn_alpha),
            reversal_exc: self.reversal_exc,
            reversal_inh: self.reversal_inh,
            lif: layer.lif,
        })
    }

    fn nir(&self) -> NirMapping {
        NirMapping::Unsupported("NIR has no conductance-based neuron")
    }
}

/// The state of a [`ConductanceLif`] layer (each `[B, N]`).
#[derive(Clone, Debug)]
pub struct ConductanceState {
    /// Excitatory conductance `g_e`.
    pub excitatory: Tensor<2>,
    /// Inhibitory conductance `g_i`.
    pub inhibitory: Tensor<2>,
    /// Membrane `U`.
    pub membrane: Tensor<2>,
}

impl Neuron for ConductanceLif {
    type State = ConductanceState;

    fn rest(&self, batch: usize, neurons: usize, device: &Device) -> ConductanceState {
        let zeros = || Tensor::zeros([batch, neurons], device);
        ConductanceState {
            excitatory: zeros(),
            inhibitory: zeros(),
            membrane: zeros(),
        }
    }

    fn step(&self, input: Tensor<2>, state: ConductanceState) -> (Tensor<2>, ConductanceState) {
        let (beta, threshold) = self.lif.coefficients();
        let alpha = decay_row(&self.alpha);
        let g_e = state.excitatory * alpha.clone() + input.clone().clamp_min(0.0);
        let g_i = state.inhibitory * alpha + input.neg().clamp_min(0.0);
        let u = state.membrane;
        let drive = (g_e.clone() * (u.clone().neg() + self.reversal_exc)
            + g_i.clone() * (u.clone().neg() + self.reversal_inh))
            * (beta.clone().neg() + 1.0);
        let reset = self.lif.reset_signal(&u, &threshold);
        let membrane = self.lif.integrate(u, drive, reset, &beta, &threshold);
        let spikes = self.lif.surrogate.spike(membrane.clone() - threshold);
        (
            spikes,
            ConductanceState {
                excitatory: g_e,
                inhibitory: g_i,
                membrane,
            },
        )
    }

    fn membrane(state: &ConductanceState) -> Tensor<2> {
        state.membrane.clone()
    }

    fn lif(&self) -> Option<&Lif> {
        Some(&self.lif)
    }

    /// The fused scan where the backend has it, else [`step_loop`].
    fn forward_sequence(&self, input: Tensor<3>, keep_membrane: bool) -> NeuronOutput {
        if !self.lif.uses_fused_scan() || !fused::supports_cpu_scans(&input.device()) {
            return step_loop(self, input, keep_membrane);
        }
        let alpha = self.alpha.val().clamp(0.0, 1.0);
        let beta = self.lif.beta.val().clamp(0.0, 1.0);
        let threshold = self.lif.threshold.val();
        let scan = |output_membrane: bool| {
            fused::conductance::conductance_scan(
                input.clone(),
                alpha.clone(),
                beta.clone(),
                threshold.clone(),
                [self.reversal_exc, self.reversal_inh],
                self.lif.scan_settings(output_membrane),
            )
        };
        NeuronOutput {
            spikes: scan(false),
            membrane: keep_membrane.then(|| scan(true)),
        }
    }
}
