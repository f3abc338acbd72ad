//! The neuron catalogue behind one interface, and its serialisable description.
//!
//! Every stateful neuron model implements [`Neuron`]: a single-step update
//! [`Neuron::step`] on `[B, N]` (streaming use, and the readable reference) and a multi-step
//! pass [`Neuron::forward_sequence`] on time-major `[T, B, N]` sequences, which by default
//! iterates `step` and is overridden where a fused kernel exists (on the CPU backends, and on
//! burn-wgpu with the `wgpu` feature). The two give the same values and gradients (tested for
//! every model).
//!
//! | model | state | fused multi-step pass | reference |
//! |---|---|---|---|
//! | [`Lif`] (also IF with `β = 1`, PLIF with learnable `β`) | `U` | yes | snnTorch `Leaky` |
//! | [`RefractoryLif`] | `U`, counter | yes (CPU; the LIF scan with the counter) | Norse `LIFRefrac` |
//! | [`Synaptic`] (current-based, NIR `CubaLIF`) | `I`, `U` | yes (two scans) | snnTorch `Synaptic` |
//! | [`Alpha`] | `I_exc`, `I_inh` | yes (CPU; [`crate::fused::alpha`]) | snnTorch `Alpha` |
//! | [`RecurrentLif`] | `U`, `S` | yes (CPU; all-to-all: [`crate::fused::recurrent`]) | snnTorch `RLeaky` |
//! | [`AdaptiveLif`] | `U`, `a` | yes (CPU; [`crate::fused::adaptive`]) | Bellec et al. 2018 (Norse `LSNN`) |
//! | [`LeakyIntegrator`] (non-spiking readout) | `U` | yes | Norse `LICell`, NIR `LI` |
//! | [`ConductanceLif`] | `g_e`, `g_i`, `U` | yes (CPU; [`crate::fused::conductance`]) | conductance-based LIF |
//! | [`StochasticLif`] (escape noise) | `U`, `S` | yes (CPU; [`crate::fused::stochastic`]) | Gerstner & Kistler 2002 |
//! | [`ExponentialLif`] (EIF) | `U` | no (a loop of its step) | Fourcaud-Trocmé et al. 2003, SpikingJelly `EIFNode` |
//! | [`CustomNeuron`] (registered by the user) | its own | no (a loop of its step) | [`crate::custom`] |
//!
//! Models without a fused pass (custom neurons, EIF, and every model but LIF, IF, synaptic and
//! the integrator on wgpu) run the reference loop: a fused kernel needs its own hand-written
//! backward per model (see [`crate::fused`] and its `adaptive`, `alpha`, `conductance`,
//! `recurrent` and `stochastic` modules).
//! [`NeuronLayer`] adds graded spikes (a learnable output amplitude per neuron, snnTorch
//! `graded_spikes_factor`) to any model.
//!
//! Each model lives in its own file in this folder: its equations in the rustdoc, its layer
//! and single step, where it has one the call of its fused kernel ([`crate::kernels`]), and
//! its parameter type (a [`ModelSpec`]: the configuration keys that only it takes, their
//! checks, and how the layer is built). The `catalogue!` below lists every model once; it
//! defines [`NeuronModel`], [`NeuronKind`] and [`ModelParams`] (the model-specific half of a
//! [`NeuronConfig`]) and their dispatch. `docs/adding-a-neuron.md` walks through adding one.

#[macro_use]
pub mod catalogue;

pub mod adaptive;
pub mod alpha;
pub mod conductance;
pub mod custom;
pub mod eif;
pub mod integrator;
pub mod lif;
pub mod recurrent;
pub mod refractory;
pub mod stochastic;
pub mod synaptic;

mod config;
pub use catalogue::{LayerInit, ModelSpec, NirMapping};
pub use config::NeuronConfig;

use crate::adaptive::{AdaptiveLif, AdaptiveParams};
use crate::alpha::{Alpha, AlphaParams};
use crate::conductance::{ConductanceLif, ConductanceParams};
use crate::custom::{CustomNeuron, CustomParams};
use crate::error::InvalidParameter;
use crate::fused::{self, ScanSettings};
use crate::integrator::{IntegratorParams, LeakyIntegrator};
use crate::lif::{IfParams, Kernel, Lif, LifConfig, LifOutput, LifParams, Reset};
use crate::recurrent::{RecurrentLif, RecurrentParams};
use crate::refractory::RefractoryLif;
use crate::stochastic::{StochasticLif, StochasticParams};
use crate::surrogate::Surrogate;
use crate::synaptic::{Synaptic, SynapticParams};
use burn::module::Param;
use burn::prelude::*;
use eif::{EifParams, ExponentialLif};
use serde::{Deserialize, Serialize};

/// Spikes (or, for non-spiking models, the output potential) and optionally the membrane
/// trace of a multi-step pass, both `[T, B, N]`.
pub type NeuronOutput = LifOutput;

/// A stateful neuron model with a single-step and a multi-step entry point.
pub trait Neuron {
    /// What the model carries from one step to the next (each tensor `[B, N]`).
    type State: Clone + std::fmt::Debug;

    /// The resting state for `batch` samples of `neurons` neurons.
    fn rest(&self, batch: usize, neurons: usize, device: &Device) -> Self::State;

    /// One time step: the input current `[B, N]` and the previous state give the output
    /// `[B, N]` (spikes, or the potential for a non-spiking model) and the next state.
    fn step(&self, input: Tensor<2>, state: Self::State) -> (Tensor<2>, Self::State);

    /// The membrane potential `U` held in a state.
    fn membrane(state: &Self::State) -> Tensor<2>;

    /// The LIF part (`β`, `θ`, reset, surrogate) the model is built on, if it has one: what
    /// exporters read as the layer's `beta` and `threshold`.
    fn lif(&self) -> Option<&Lif> {
        None
    }

    /// Runs a whole sequence `[T, B, N]` from rest. The default iterates [`step`](Self::step);
    /// models with a fused kernel override it (same values and gradients).
    fn forward_sequence(&self, input: Tensor<3>, keep_membrane: bool) -> NeuronOutput {
        step_loop(self, input, keep_membrane)
    }
}

/// Iterates `neuron.step` over the sequence `[T, B, N]` from rest: the reference multi-step
/// pass of every model.
pub fn step_loop<N: Neuron + ?Sized>(
    neuron: &N,
    input: Tensor<3>,
    keep_membrane: bool,
) -> NeuronOutput {
    let [steps, batch, neurons] = input.dims();
    let mut state = neuron.rest(batch, neurons, &input.device());
    let mut spikes = Vec::with_capacity(steps);
    let mut membranes = Vec::with_capacity(if keep_membrane { steps } else { 0 });
    for t in 0..steps {
        let x = input.clone().slice(s![t]).squeeze_dim::<2>(0);
        let (out, next) = neuron.step(x, state);
        if keep_membrane {
            membranes.push(N::membrane(&next));
        }
        spikes.push(out);
        state = next;
    }
    LifOutput {
        spikes: Tensor::stack(spikes, 0),
        membrane: keep_membrane.then(|| Tensor::stack(membranes, 0)),
    }
}

/// A parameter vector of `n` copies of `value` (`n = 1` for a shared scalar), trainable when
/// `learn`.
pub(crate) fn param(value: f32, n: usize, learn: bool, device: &Device) -> Param<Tensor<1>> {
    Param::from_tensor(Tensor::<1>::full([n], value, device)).set_require_grad(learn)
}

/// A `[1]` or `[N]` parameter as a row `[1, 1]` or `[1, N]` that broadcasts over `[B, N]`.
pub(crate) fn row(p: &Param<Tensor<1>>) -> Tensor<2> {
    p.val().unsqueeze::<2>()
}

/// A decay parameter clamped to `[0, 1]`, as a broadcastable row.
pub(crate) fn decay_row(p: &Param<Tensor<1>>) -> Tensor<2> {
    p.val().clamp(0.0, 1.0).unsqueeze::<2>()
}

/// The leaky filter `Y[t] = d·Y[t−1] + X[t]` from `Y[−1] = 0` over `[T, B, N]`, for a decay
/// `d` (`[1]` or `[N]`, already clamped): the fused scan where the backend has one, else a
/// loop of tensor operations. Gradients flow to `x` and `d`.
pub(crate) fn leaky_filter(x: Tensor<3>, decay: Tensor<1>, kernel: Kernel) -> Tensor<3> {
    if kernel == Kernel::Auto && fused::supported(&x.device(), &Surrogate::StraightThrough) {
        let threshold = decay.ones_like().detach();
        return fused::lif_scan(
            x,
            decay,
            threshold,
            ScanSettings {
                reset: Reset::None,
                detach_reset: true,
                surrogate: Surrogate::StraightThrough,
                output_membrane: true,
                constant_steps: 0,
                refractory: 0,
            },
        );
    }
    let [steps, batch, neurons] = x.dims();
    let d = decay.unsqueeze::<2>();
    let mut y: Tensor<2> = Tensor::zeros([batch, neurons], &x.device());
    let mut out = Vec::with_capacity(steps);
    for t in 0..steps {
        y = y * d.clone() + x.clone().slice(s![t]).squeeze_dim::<2>(0);
        out.push(y.clone());
    }
    Tensor::stack(out, 0)
}

catalogue! {
    /// Leaky integrate-and-fire, snnTorch `Leaky` (PLIF with `learn_beta`); kind `lif` with `refractory > 0` builds a [`RefractoryLif`].
    Lif { kind: LifParams, model: Lif, },
    /// Integrate-and-fire: a [`Lif`] with `β = 1` (no leak), not learnable.
    If { kind: IfParams, },
    /// LIF with a refractory period, Norse `LIFRefrac` (built by kind `lif` with `refractory > 0`).
    Refractory { model: RefractoryLif, },
    /// Current-based LIF with a synaptic current, snnTorch `Synaptic`, NIR `CubaLIF`.
    Synaptic { kind: SynapticParams, model: Synaptic, },
    /// Alpha-shaped synapse, snnTorch `Alpha`.
    Alpha { kind: AlphaParams, model: Alpha, },
    /// LIF with learnable recurrent weights, snnTorch `RLeaky`.
    Recurrent { kind: RecurrentParams, model: RecurrentLif, },
    /// LIF with an adaptive threshold (Bellec et al. 2018, Norse `LSNN`).
    Adaptive { kind: AdaptiveParams, model: AdaptiveLif, },
    /// Non-spiking leaky integrator readout, Norse `LICell`, NIR `LI`.
    Integrator { kind: IntegratorParams, model: LeakyIntegrator, },
    /// Conductance-based LIF with excitatory and inhibitory reversal potentials.
    Conductance { kind: ConductanceParams, model: ConductanceLif, },
    /// LIF with escape noise: stochastic, seeded firing (Gerstner & Kistler 2002).
    Stochastic { kind: StochasticParams, model: StochasticLif, },
    /// Exponential integrate-and-fire (Fourcaud-Trocmé et al. 2003, SpikingJelly `EIFNode`).
    Eif { kind: EifParams, model: ExponentialLif, },
    /// A model registered with [`crate::custom::register_neuron`], named by its `name`.
    Custom { kind: CustomParams, model: CustomNeuron, },
}

/// A neuron layer: a model plus, optionally, a learnable spike amplitude per neuron (graded
/// spikes: the output is `a ⊙ S[t]`).
#[derive(Module, Debug)]
pub struct NeuronLayer {
    /// The neuron model.
    pub model: NeuronModel,
    /// Spike amplitude `a`, `[N]`, when graded spikes are on.
    pub amplitude: Option<Param<Tensor<1>>>,
}

impl NeuronLayer {
    /// Runs the sequence `[T, B, N]` from rest.
    pub fn forward(&self, input: Tensor<3>, keep_membrane: bool) -> NeuronOutput {
        let out = self.model.forward_sequence(input, keep_membrane);
        self.graded(out)
    }

    /// Runs the sequence `[T, B, N]` from rest as a loop of the model's single-step update
    /// ([`step_loop`]): the reference that [`forward`](Self::forward) equals.
    pub fn forward_stepwise(&self, input: Tensor<3>, keep_membrane: bool) -> NeuronOutput {
        let out = self.model.step_loop(input, keep_membrane);
        self.graded(out)
    }

    /// The pass counter of a stochastic model's noise (`None` for the deterministic ones):
    /// see [`crate::network::SpikingNetwork::stream_positions`].
    pub fn random_stream(&self) -> Option<&std::sync::Arc<std::sync::atomic::AtomicU64>> {
        match &self.model {
            NeuronModel::Stochastic(m) => Some(&m.passes),
            _ => None,
        }
    }

    /// Restarts the noise of a stochastic model (no effect on the others).
    pub fn rewind(&self) {
        if let NeuronModel::Stochastic(m) = &self.model {
            m.rewind();
        }
    }

    /// Runs `steps` steps from rest with the same input `[B, N]` at every step; the fused
    /// constant-input scan for LIF, the repeated input otherwise.
    pub fn forward_constant(
        &self,
        input: Tensor<2>,
        steps: usize,
        keep_membrane: bool,
    ) -> NeuronOutput {
        if let NeuronModel::Lif(lif) = &self.model {
            return self.graded(lif.forward_constant(input, steps, keep_membrane));
        }
        let [batch, neurons] = input.dims();
        let repeated = input.unsqueeze::<3>().expand([steps, batch, neurons]);
        self.forward(repeated, keep_membrane)
    }

    /// Whether [`forward_dense`](Self::forward_dense) runs the segmented operation on `device`
    /// (for an input of the dense layer's width): a LIF (or IF) or one-to-one recurrent LIF
    /// model with a fused scan, on a device with the CPU scans.
    pub fn runs_with_dense(&self, device: &Device) -> bool {
        let lif = match &self.model {
            NeuronModel::Lif(lif) => lif,
            NeuronModel::Recurrent(r) if r.diagonal.is_some() => &r.lif,
            _ => return false,
        };
        lif.uses_fused_scan() && fused::supports_cpu_scans(device)
    }

    /// This layer over the output of the dense layer `linear` on the sequence `x`
    /// (`[T, B, K]`), `forward(linear(x))`, as one operation whose backward pass recomputes
    /// the input current and the membrane segment by segment of `segment` steps
    /// ([`crate::fused::linear_lif`]): training keeps neither for the whole sequence, and the
    /// input only as bits where it is spikes. Same values and gradients (to the order of the
    /// sums); the price is one more product `X·W` per backward pass.
    ///
    /// Spikes only (no membrane). `None` where the operation does not apply, so that the
    /// caller runs the two layers: a model other than LIF (or IF) and the one-to-one recurrent
    /// LIF, a device without the CPU scans ([`fused::supports_cpu_scans`]), the reference
    /// kernel or a smooth surrogate, or an input whose width is not the layer's.
    pub fn forward_dense(
        &self,
        linear: &burn::nn::Linear,
        x: Tensor<3>,
        segment: usize,
    ) -> Option<NeuronOutput> {
        let weight = linear.weight.val();
        if !self.runs_with_dense(&x.device()) || x.dims()[2] != weight.dims()[0] {
            return None;
        }
        let (lif, feedback) = match &self.model {
            NeuronModel::Lif(lif) => (lif, None),
            NeuronModel::Recurrent(r) => (&r.lif, Some(r.diagonal.as_ref()?.val())),
            _ => return None,
        };
        let spikes = fused::linear_lif_scan(
            x,
            weight,
            linear.bias.as_ref().map(|b| b.val()),
            lif.beta.val().clamp(0.0, 1.0),
            lif.threshold.val(),
            feedback,
            lif.scan_settings(false),
            segment,
        );
        Some(self.graded(NeuronOutput {
            spikes,
            membrane: None,
        }))
    }

    fn graded(&self, out: NeuronOutput) -> NeuronOutput {
        match &self.amplitude {
            Some(a) => NeuronOutput {
                spikes: out.spikes * a.val().unsqueeze::<3>(),
                membrane: out.membrane,
            },
            None => out,
        }
    }

    /// Whether the layer emits spikes (false for the leaky-integrator readout).
    pub fn is_spiking(&self) -> bool {
        !matches!(self.model, NeuronModel::Integrator(_))
    }
}
