//! The alpha neuron, snnTorch `Alpha`: two exponentially decaying synaptic currents of
//! opposite sign whose sum has the shape of an alpha function.
//!
//! With `R[t] = H(U[t−1] − θ)` (detached by default), `α > β` the two decays and
//! `τ_α = ln α / (ln β − ln α) + 1`, one step is (snnTorch `Alpha._base_state_function` and
//! its reset functions, reproduced term by term):
//!
//! ```text
//! E[t] = α·E[t−1] + X[t]          I[t] = β·I[t−1] − X[t]          U' = τ_α·(E[t] + I[t])
//! subtract reset:  E[t] −= R·θ     I[t] −= R·(β·I[t−1] − X[t])      U[t] = U' + R·I[t−1]
//! zero reset:      E[t], I[t], U[t] multiplied by (1 − R)
//! S[t] = H(U[t] − θ)
//! ```
//!
//! On the CPU backends the multi-step pass is one fused scan ([`crate::fused::alpha`], its
//! backward written out there; equal to the step loop in values and every gradient, tested);
//! on burn-wgpu the step loop runs.

use crate::error::InvalidParameter;
use crate::fused;
use crate::lif::{Lif, Reset};
use crate::neuron::catalogue::check_decay;
use crate::neuron::{
    LayerInit, ModelSpec, Neuron, NeuronConfig, NeuronModel, NeuronOutput, NirMapping, decay_row,
    step_loop,
};
use burn::module::Param;
use burn::prelude::*;

/// A layer of alpha neurons (equations in the [module docs](self)).
#[derive(Module, Debug)]
pub struct Alpha {
    /// Decay `α` of the excitatory current, `[1]` or `[N]`.
    pub alpha: Param<Tensor<1>>,
    /// Threshold, inhibitory decay `β`, reset and surrogate.
    pub lif: Lif,
}

model_params! {
    /// The parameters of kind `alpha` beyond the shared ones of [`NeuronConfig`] (whose `β`
    /// is the inhibitory decay).
    pub struct AlphaParams {
        /// Excitatory decay `α ∈ (0, 1]`, `α ≠ β` (default 0.9).
        pub alpha: f32 = 0.9,
        /// Train `α` (default false; one per neuron with `per_neuron`).
        pub learn_alpha: bool = false,
    }
}

impl ModelSpec for AlphaParams {
    /// `α ∈ (0, 1]`, `β > 0` and `α ≠ β` (`τ_α` divides by `ln β − ln α`).
    fn validate(&self, config: &NeuronConfig) -> Result<(), InvalidParameter> {
        check_decay("alpha", self.alpha)?;
        if !(self.alpha > 0.0 && config.beta > 0.0) {
            return Err(InvalidParameter::new(
                "alpha",
                "the alpha neuron needs alpha and beta in (0, 1] with alpha != beta",
            ));
        }
        if self.alpha == config.beta {
            return Err(InvalidParameter::new(
                "alpha",
                format!(
                    "the alpha neuron needs alpha != beta, both are {}",
                    self.alpha
                ),
            ));
        }
        Ok(())
    }

    fn init(&self, layer: LayerInit<'_>) -> NeuronModel {
        NeuronModel::Alpha(Alpha {
            alpha: layer.param(self.alpha, self.learn_alpha),
            lif: layer.lif,
        })
    }

    fn nir(&self) -> NirMapping {
        NirMapping::Unsupported("NIR has no alpha synapse (two currents of opposite sign)")
    }
}

/// The state of an [`Alpha`] layer (each `[B, N]`).
#[derive(Clone, Debug)]
pub struct AlphaState {
    /// Excitatory current `E`.
    pub excitatory: Tensor<2>,
    /// Inhibitory current `I`.
    pub inhibitory: Tensor<2>,
    /// Membrane `U`.
    pub membrane: Tensor<2>,
}

impl Neuron for Alpha {
    type State = AlphaState;

    fn rest(&self, batch: usize, neurons: usize, device: &Device) -> AlphaState {
        let zeros = || Tensor::zeros([batch, neurons], device);
        AlphaState {
            excitatory: zeros(),
            inhibitory: zeros(),
            membrane: zeros(),
        }
    }

    fn step(&self, input: Tensor<2>, state: AlphaState) -> (Tensor<2>, AlphaState) {
        let (beta, threshold) = self.lif.coefficients();
        let alpha = decay_row(&self.alpha);
        let tau = alpha.clone().log() / (beta.clone().log() - alpha.clone().log()) + 1.0;
        let exc = state.excitatory * alpha + input.clone();
        let inh = state.inhibitory.clone() * beta - input;
        let mem = tau * (exc.clone() + inh.clone());
        let reset = self
            .lif
            .reset_signal(&state.membrane, &threshold)
            .map(|r| if self.lif.detach_reset { r.detach() } else { r });
        let (exc, inh, mem) = match (reset, self.lif.reset) {
            (Some(r), Reset::Subtract) => (
                exc - r.clone() * threshold.clone(),
                inh.clone() - r.clone() * inh,
                mem + r * state.inhibitory,
            ),
            (Some(r), Reset::Zero) => {
                let keep = r.neg() + 1.0;
                (exc * keep.clone(), inh * keep.clone(), mem * keep)
            }
            _ => (exc, inh, mem),
        };
        let spikes = self.lif.surrogate.spike(mem.clone() - threshold);
        (
            spikes,
            AlphaState {
                excitatory: exc,
                inhibitory: inh,
                membrane: mem,
            },
        )
    }

    fn membrane(state: &AlphaState) -> Tensor<2> {
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
            fused::alpha::alpha_scan(
                input.clone(),
                alpha.clone(),
                beta.clone(),
                threshold.clone(),
                self.lif.scan_settings(output_membrane),
            )
        };
        NeuronOutput {
            spikes: scan(false),
            membrane: keep_membrane.then(|| scan(true)),
        }
    }
}
