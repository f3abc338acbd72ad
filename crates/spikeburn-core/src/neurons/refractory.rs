//! LIF with a refractory period (Norse `LIFRefrac`: no integration for a number of steps
//! after a spike).
//!
//! With the LIF update of [`crate::lif`], a counter `c` and period `k ≥ 1`:
//!
//! ```text
//! R[t] = H(U[t−1] − θ)
//! c[t] = R[t]·k + (1 − R[t])·max(c[t−1] − 1, 0)
//! U[t] = β·U[t−1] + [c[t] = 0]·X[t] − θ·R[t]      (the input is ignored for the k steps
//!                                                    after a spike, the reset step included)
//! S[t] = H(U[t] − θ)
//! ```
//!
//! The counter and the gate are piecewise constant (no gradient flows through them). On the CPU
//! backends the multi-step pass is the fused LIF scan with the counter carried inside it
//! ([`crate::fused::ScanSettings::refractory`]: the gate multiplies the input and its
//! gradient; equal to the step loop in values and gradients, tested); on burn-wgpu the step
//! loop runs.

use crate::fused;
use crate::lif::{Lif, LifState};
use crate::neuron::{Neuron, NeuronOutput, step_loop};
use burn::prelude::*;

/// The firing rate, in spikes per step, of a discrete LIF neuron with zero reset, decay
/// `beta`, threshold `threshold` and a refractory period of `refractory` steps under a
/// constant input `current` (its f-I curve): `1 / (n* + k)` with
/// `n* = ⌈ln(1 − θ(1 − β)/I) / ln β⌉` (at least 1), the steps the membrane takes from `U = I`
/// to cross `θ`; zero at or below the rheobase `I ≤ θ(1 − β)`, where it never fires.
pub fn fi_rate(current: f64, beta: f64, threshold: f64, refractory: usize) -> f64 {
    let rheobase = threshold * (1.0 - beta);
    if current <= rheobase {
        return 0.0;
    }
    let n = ((1.0 - rheobase / current).ln() / beta.ln())
        .ceil()
        .max(1.0);
    1.0 / (n + refractory as f64)
}

/// A layer of LIF neurons with a refractory period (equations in the [module docs](self)).
#[derive(Module, Debug)]
pub struct RefractoryLif {
    /// The LIF neurons.
    pub lif: Lif,
    /// The refractory period `k` in steps.
    pub period: usize,
}

/// The state of a [`RefractoryLif`] layer.
#[derive(Clone, Debug)]
pub struct RefractoryState {
    /// Membrane `U`, `[B, N]`.
    pub membrane: Tensor<2>,
    /// Steps left until the input is integrated again, `[B, N]`.
    pub counter: Tensor<2>,
}

impl RefractoryLif {
    /// A refractory layer over `lif` with period `period ≥ 1`.
    pub fn new(lif: Lif, period: usize) -> Self {
        Self { lif, period }
    }
}

impl Neuron for RefractoryLif {
    type State = RefractoryState;

    fn rest(&self, batch: usize, neurons: usize, device: &Device) -> RefractoryState {
        RefractoryState {
            membrane: Tensor::zeros([batch, neurons], device),
            counter: Tensor::zeros([batch, neurons], device),
        }
    }

    fn step(&self, input: Tensor<2>, state: RefractoryState) -> (Tensor<2>, RefractoryState) {
        let (beta, threshold) = self.lif.coefficients();
        let fired = (state.membrane.clone() - threshold.clone())
            .detach()
            .greater_elem(0.0)
            .float();
        let counter = fired.clone() * self.period as f32
            + (fired.neg() + 1.0) * (state.counter - 1.0).clamp_min(0.0);
        let open = counter.clone().equal_elem(0.0).float();
        let reset = self.lif.reset_signal(&state.membrane, &threshold);
        let membrane = self
            .lif
            .integrate(state.membrane, input * open, reset, &beta, &threshold);
        let spikes = self.lif.surrogate.spike(membrane.clone() - threshold);
        (spikes, RefractoryState { membrane, counter })
    }

    fn membrane(state: &RefractoryState) -> Tensor<2> {
        state.membrane.clone()
    }

    fn lif(&self) -> Option<&Lif> {
        Some(&self.lif)
    }

    /// The fused scan with the refractory counter where the backend has it, else
    /// [`step_loop`].
    fn forward_sequence(&self, input: Tensor<3>, keep_membrane: bool) -> NeuronOutput {
        if self.period == 0
            || !self.lif.uses_fused_scan()
            || !fused::supports_cpu_scans(&input.device())
        {
            return step_loop(self, input, keep_membrane);
        }
        let beta = self.lif.beta.val().clamp(0.0, 1.0);
        let threshold = self.lif.threshold.val();
        let scan = |output_membrane: bool| {
            let settings = fused::ScanSettings {
                refractory: self.period,
                ..self.lif.scan_settings(output_membrane)
            };
            fused::lif_scan(input.clone(), beta.clone(), threshold.clone(), settings)
        };
        NeuronOutput {
            spikes: scan(false),
            membrane: keep_membrane.then(|| scan(true)),
        }
    }
}

impl From<LifState> for RefractoryState {
    fn from(state: LifState) -> Self {
        let counter = state.membrane.zeros_like();
        Self {
            membrane: state.membrane,
            counter,
        }
    }
}
