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
//! | [`RefractoryLif`] | `U`, counter | no (see its docs) | Norse `LIFRefrac` |
//! | [`Synaptic`] (current-based, NIR `CubaLIF`) | `I`, `U` | yes (two scans) | snnTorch `Synaptic` |
//! | [`Alpha`] | `I_exc`, `I_inh` | no | snnTorch `Alpha` |
//! | [`RecurrentLif`] | `U`, `S` | no (a matrix product per step) | snnTorch `RLeaky` |
//! | [`AdaptiveLif`] | `U`, `a` | no | Bellec et al. 2018 (Norse `LSNN`) |
//! | [`LeakyIntegrator`] (non-spiking readout) | `U` | yes | Norse `LICell`, NIR `LI` |
//! | [`ConductanceLif`] | `g_e`, `g_i`, `U` | no | conductance-based LIF |
//! | [`StochasticLif`] (escape noise) | `U`, `S` | no | Gerstner & Kistler 2002 |
//! | [`CustomNeuron`] (registered by the user) | its own | no (a loop of its step) | [`crate::custom`] |
//!
//! Models without a fused pass run the reference loop: their recurrences couple several state
//! variables through the spike (or a matrix product, for [`RecurrentLif`]), so a fused kernel
//! needs its own hand-written backward per model; they are not on the hot path of the presets.
//! [`NeuronLayer`] adds graded spikes (a learnable output amplitude per neuron, snnTorch
//! `graded_spikes_factor`) to any model.
//!
//! Each model lives in its own file in this folder, with its equations in the rustdoc, its
//! single step and, where it has one, the call of its fused kernel ([`crate::kernels`]).

pub mod adaptive;
pub mod alpha;
pub mod conductance;
pub mod custom;
pub mod integrator;
pub mod lif;
pub mod recurrent;
pub mod refractory;
pub mod stochastic;
pub mod synaptic;

use crate::adaptive::AdaptiveLif;
use crate::alpha::Alpha;
use crate::conductance::ConductanceLif;
use crate::custom::{CustomNeuron, CustomNeuronId, registered_neurons};
use crate::error::InvalidParameter;
use crate::fused::{self, ScanSettings};
use crate::integrator::LeakyIntegrator;
use crate::lif::{Kernel, Lif, LifConfig, LifOutput, LifState, Reset};
use crate::recurrent::{RecurrentKind, RecurrentLif};
use crate::refractory::RefractoryLif;
use crate::stochastic::StochasticLif;
use crate::surrogate::Surrogate;
use crate::synaptic::Synaptic;
use burn::module::Param;
use burn::prelude::*;
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

impl Neuron for Lif {
    type State = LifState;

    fn rest(&self, batch: usize, neurons: usize, device: &Device) -> LifState {
        LifState::zeros(batch, neurons, device)
    }

    fn step(&self, input: Tensor<2>, state: LifState) -> (Tensor<2>, LifState) {
        Lif::step(self, input, state)
    }

    fn membrane(state: &LifState) -> Tensor<2> {
        state.membrane.clone()
    }

    fn forward_sequence(&self, input: Tensor<3>, keep_membrane: bool) -> NeuronOutput {
        if keep_membrane {
            self.forward_with_membrane(input)
        } else {
            LifOutput {
                spikes: self.forward(input),
                membrane: None,
            }
        }
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

/// Which neuron model a layer uses (`kind` in configuration files).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeuronKind {
    /// Leaky integrate-and-fire ([`Lif`]); with `refractory > 0` a [`RefractoryLif`].
    #[default]
    Lif,
    /// Integrate-and-fire: a [`Lif`] with `β = 1` (no leak), not learnable.
    If,
    /// Current-based LIF with a synaptic current ([`Synaptic`]).
    Synaptic,
    /// Alpha-shaped synapse, snnTorch `Alpha` ([`Alpha`]).
    Alpha,
    /// LIF with learnable recurrent weights ([`RecurrentLif`]).
    Recurrent,
    /// LIF with an adaptive threshold ([`AdaptiveLif`]).
    Adaptive,
    /// Non-spiking leaky integrator readout ([`LeakyIntegrator`]).
    Integrator,
    /// Conductance-based LIF with excitatory and inhibitory reversal potentials
    /// ([`ConductanceLif`]).
    Conductance,
    /// LIF with escape noise: stochastic, seeded firing ([`StochasticLif`]).
    Stochastic,
    /// A model registered with [`crate::custom::register_neuron`], named by
    /// [`NeuronConfig::name`] ([`CustomNeuron`]).
    Custom,
}

/// Description of a neuron layer: the model and all its parameters (each with a default).
/// A model-specific field set on a model that does not use it (`refractory` on `synaptic`)
/// is refused by [`validate`](Self::validate), naming the field.
///
/// In TOML (`[model.neuron]`, or per layer): `kind = "synaptic"`, `beta = 0.9`,
/// `alpha = 0.8`, `surrogate = { kind = "fast_sigmoid", slope = 25.0 }`, ...
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NeuronConfig {
    /// The model (default `lif`).
    pub kind: NeuronKind,
    /// Membrane decay `β ∈ [0, 1]` per step (default 0.95). PLIF: set `learn_beta`.
    pub beta: f32,
    /// Firing threshold `θ > 0` (default 1).
    pub threshold: f32,
    /// Reset mechanism (default subtract).
    pub reset: Reset,
    /// Stop the gradient through the reset signal (default true).
    pub detach_reset: bool,
    /// Train `β` (default false).
    pub learn_beta: bool,
    /// Train `θ` (default false).
    pub learn_threshold: bool,
    /// One `β` and `θ` (and `α`) per neuron instead of one per layer (default false).
    pub per_neuron: bool,
    /// Surrogate derivative of the spike (default arctan, `α = 2`).
    pub surrogate: Surrogate,
    /// Implementation of the multi-step pass (default: fused where available).
    pub kernel: Kernel,
    /// Synaptic decay `α ∈ [0, 1]` (synaptic, alpha, conductance; default 0.9).
    pub alpha: f32,
    /// Train `α` (default false).
    pub learn_alpha: bool,
    /// Refractory period in steps (lif, if; default 0): the input is ignored for the
    /// `refractory` steps after a spike.
    pub refractory: usize,
    /// Recurrent connection of `kind = "recurrent"` (default all-to-all).
    pub recurrent: RecurrentKind,
    /// Decay `ρ` of the threshold adaptation (adaptive; default `exp(−1/700)`, Bellec et al.
    /// 2018 with `τ_a = 700` steps).
    pub adapt_decay: f32,
    /// Strength `γ` of the threshold adaptation (adaptive; default 1.8, Bellec et al. 2018).
    pub adapt_strength: f32,
    /// Train `ρ` and `γ` (adaptive; default false): with `per_neuron`, one of each per
    /// neuron, as the learnable adaptation of the SHD literature.
    pub learn_adapt: bool,
    /// Excitatory reversal potential `E_e` (conductance; default 5, in units where rest = 0).
    pub reversal_exc: f32,
    /// Inhibitory reversal potential `E_i` (conductance; default −1).
    pub reversal_inh: f32,
    /// Escape-noise temperature `τ_n > 0` (stochastic; default 0.1).
    pub noise: f32,
    /// Seed of the escape noise (stochastic; default 0).
    pub noise_seed: u64,
    /// Multiply the spikes by a learnable amplitude per neuron (graded spikes, snnTorch
    /// `graded_spikes_factor`; default false).
    pub graded_spikes: bool,
    /// The registered name of a `kind = "custom"` model (see [`crate::custom`]); only with
    /// that kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Default for NeuronConfig {
    /// A LIF neuron with [`LifConfig`]'s defaults and each other model's defaults.
    fn default() -> Self {
        LifConfig::default().into()
    }
}

impl From<LifConfig> for NeuronConfig {
    fn from(lif: LifConfig) -> Self {
        Self {
            kind: NeuronKind::Lif,
            beta: lif.beta,
            threshold: lif.threshold,
            reset: lif.reset,
            detach_reset: lif.detach_reset,
            learn_beta: lif.learn_beta,
            learn_threshold: lif.learn_threshold,
            per_neuron: lif.per_neuron,
            surrogate: lif.surrogate,
            kernel: lif.kernel,
            alpha: 0.9,
            learn_alpha: false,
            refractory: 0,
            recurrent: RecurrentKind::AllToAll,
            adapt_decay: (-1.0f32 / 700.0).exp(),
            adapt_strength: 1.8,
            learn_adapt: false,
            reversal_exc: 5.0,
            reversal_inh: -1.0,
            noise: 0.1,
            noise_seed: 0,
            graded_spikes: false,
            name: None,
        }
    }
}

impl NeuronConfig {
    /// The defaults with model `kind`.
    pub fn new(kind: NeuronKind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    /// The LIF part of this description (`β = 1`, fixed, for IF).
    pub fn lif(&self) -> LifConfig {
        let integrate_and_fire = self.kind == NeuronKind::If;
        LifConfig {
            beta: if integrate_and_fire { 1.0 } else { self.beta },
            threshold: self.threshold,
            reset: self.reset,
            detach_reset: self.detach_reset,
            learn_beta: self.learn_beta && !integrate_and_fire,
            learn_threshold: self.learn_threshold,
            per_neuron: self.per_neuron,
            surrogate: self.surrogate,
            kernel: self.kernel,
        }
    }

    /// The defaults with the custom model registered as `name` (see [`crate::custom`]).
    pub fn custom(name: &str) -> Self {
        Self {
            kind: NeuronKind::Custom,
            name: Some(name.to_string()),
            ..Self::default()
        }
    }

    /// Checks every field a model uses (for `kind = "custom"`: that `name` is registered).
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        self.lif().validate()?;
        match (self.kind, &self.name) {
            (NeuronKind::Custom, None) => {
                return Err(InvalidParameter::new(
                    "name",
                    "kind = \"custom\" needs the name of a registered neuron model",
                ));
            }
            (NeuronKind::Custom, Some(name)) if CustomNeuronId::find(name).is_none() => {
                let known = registered_neurons();
                return Err(InvalidParameter::new(
                    "name",
                    format!(
                        "unknown custom neuron `{name}` (register it first with \
                         spikeburn_core::custom::register_neuron; registered: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
            (NeuronKind::Custom, Some(_)) => {}
            (kind, Some(_)) => {
                return Err(InvalidParameter::new(
                    "name",
                    format!("only kind = \"custom\" takes a name (kind is {kind:?})"),
                ));
            }
            (_, None) => {}
        }
        let unit = |field: &str, value: f32| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(InvalidParameter::new(
                    field,
                    format!("expected a decay in [0, 1], got {value}"),
                ))
            }
        };
        unit("alpha", self.alpha)?;
        unit("adapt_decay", self.adapt_decay)?;
        if self.kind == NeuronKind::Alpha && !(self.alpha > 0.0 && self.beta > 0.0) {
            return Err(InvalidParameter::new(
                "alpha",
                "the alpha neuron needs alpha and beta in (0, 1] with alpha != beta",
            ));
        }
        if self.kind == NeuronKind::Alpha && self.alpha == self.beta {
            return Err(InvalidParameter::new(
                "alpha",
                format!(
                    "the alpha neuron needs alpha != beta, both are {}",
                    self.alpha
                ),
            ));
        }
        let finite = |field: &str, value: f32| {
            if value.is_finite() {
                Ok(())
            } else {
                Err(InvalidParameter::new(
                    field,
                    format!("expected a finite number, got {value}"),
                ))
            }
        };
        self.check_fields_belong()?;
        finite("adapt_strength", self.adapt_strength)?;
        finite("reversal_exc", self.reversal_exc)?;
        finite("reversal_inh", self.reversal_inh)?;
        if !(self.noise.is_finite() && self.noise > 0.0) {
            return Err(InvalidParameter::new(
                "noise",
                format!("expected a finite temperature > 0, got {}", self.noise),
            ));
        }
        Ok(())
    }

    /// A model-specific field set (to anything but its default) on a model that does not use
    /// it is an error naming the field and the models that do: `refractory = 3` on
    /// `kind = "synaptic"` would otherwise be silently ignored. A custom model may read any
    /// field.
    fn check_fields_belong(&self) -> Result<(), InvalidParameter> {
        use NeuronKind::*;
        let d = Self::default();
        let fields: [(&str, bool, &[NeuronKind]); 11] = [
            ("refractory", self.refractory != d.refractory, &[Lif, If]),
            (
                "alpha",
                self.alpha != d.alpha,
                &[Synaptic, Alpha, Conductance],
            ),
            (
                "learn_alpha",
                self.learn_alpha != d.learn_alpha,
                &[Synaptic, Alpha, Conductance],
            ),
            ("recurrent", self.recurrent != d.recurrent, &[Recurrent]),
            (
                "adapt_decay",
                self.adapt_decay != d.adapt_decay,
                &[Adaptive],
            ),
            (
                "adapt_strength",
                self.adapt_strength != d.adapt_strength,
                &[Adaptive],
            ),
            (
                "learn_adapt",
                self.learn_adapt != d.learn_adapt,
                &[Adaptive],
            ),
            (
                "reversal_exc",
                self.reversal_exc != d.reversal_exc,
                &[Conductance],
            ),
            (
                "reversal_inh",
                self.reversal_inh != d.reversal_inh,
                &[Conductance],
            ),
            ("noise", self.noise != d.noise, &[Stochastic]),
            ("noise_seed", self.noise_seed != d.noise_seed, &[Stochastic]),
        ];
        for (field, set, users) in fields {
            if set && self.kind != Custom && !users.contains(&self.kind) {
                let names: Vec<String> = users
                    .iter()
                    .map(|k| format!("{k:?}").to_lowercase())
                    .collect();
                return Err(InvalidParameter::new(
                    field,
                    format!(
                        "not a parameter of the {} neuron (only of {}): remove it",
                        format!("{:?}", self.kind).to_lowercase(),
                        names.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Builds a layer of `neurons` neurons on `device`. The recurrent weights of
    /// `kind = "recurrent"` are drawn from `rng` (uniform in `±1/√N`).
    pub fn init(&self, neurons: usize, rng: &mut impl rand::Rng, device: &Device) -> NeuronLayer {
        let lif = self.lif().init(neurons, device);
        let n = if self.per_neuron { neurons } else { 1 };
        let model = match self.kind {
            NeuronKind::Lif | NeuronKind::If if self.refractory > 0 => {
                NeuronModel::Refractory(RefractoryLif::new(lif, self.refractory))
            }
            NeuronKind::Lif | NeuronKind::If => NeuronModel::Lif(lif),
            NeuronKind::Synaptic => NeuronModel::Synaptic(Synaptic {
                alpha: param(self.alpha, n, self.learn_alpha, device),
                lif,
            }),
            NeuronKind::Alpha => NeuronModel::Alpha(Alpha {
                alpha: param(self.alpha, n, self.learn_alpha, device),
                lif,
            }),
            NeuronKind::Recurrent => {
                NeuronModel::Recurrent(RecurrentLif::new(lif, self.recurrent, neurons, rng, device))
            }
            NeuronKind::Adaptive => NeuronModel::Adaptive(AdaptiveLif {
                lif,
                adapt_decay: param(self.adapt_decay, n, self.learn_adapt, device),
                adapt_strength: param(self.adapt_strength, n, self.learn_adapt, device),
            }),
            NeuronKind::Integrator => NeuronModel::Integrator(LeakyIntegrator {
                beta: param(self.beta, n, self.learn_beta, device),
                kernel: self.kernel,
            }),
            NeuronKind::Conductance => NeuronModel::Conductance(ConductanceLif {
                alpha: param(self.alpha, n, self.learn_alpha, device),
                reversal_exc: self.reversal_exc,
                reversal_inh: self.reversal_inh,
                lif,
            }),
            NeuronKind::Stochastic => {
                NeuronModel::Stochastic(StochasticLif::new(lif, self.noise, self.noise_seed))
            }
            NeuronKind::Custom => NeuronModel::Custom(CustomNeuron {
                lif,
                id: self
                    .name
                    .as_deref()
                    .and_then(CustomNeuronId::find)
                    .expect("NeuronConfig::init needs a valid config (call validate)"),
            }),
        };
        NeuronLayer {
            model,
            amplitude: self
                .graded_spikes
                .then(|| param(1.0, neurons, true, device)),
        }
    }
}

/// One neuron model (the enum lets a network hold any of them in one list).
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum NeuronModel {
    /// [`Lif`] (and IF).
    Lif(Lif),
    /// [`RefractoryLif`].
    Refractory(RefractoryLif),
    /// [`Synaptic`].
    Synaptic(Synaptic),
    /// [`Alpha`].
    Alpha(Alpha),
    /// [`RecurrentLif`].
    Recurrent(RecurrentLif),
    /// [`AdaptiveLif`].
    Adaptive(AdaptiveLif),
    /// [`LeakyIntegrator`].
    Integrator(LeakyIntegrator),
    /// [`ConductanceLif`].
    Conductance(ConductanceLif),
    /// [`StochasticLif`].
    Stochastic(StochasticLif),
    /// [`CustomNeuron`].
    Custom(CustomNeuron),
}

/// Evaluates `$body` with `$m` bound to the model inside whichever variant `$model` holds.
macro_rules! each_model {
    ($model:expr, $m:ident => $body:expr) => {
        match $model {
            NeuronModel::Lif($m) => $body,
            NeuronModel::Refractory($m) => $body,
            NeuronModel::Synaptic($m) => $body,
            NeuronModel::Alpha($m) => $body,
            NeuronModel::Recurrent($m) => $body,
            NeuronModel::Adaptive($m) => $body,
            NeuronModel::Integrator($m) => $body,
            NeuronModel::Conductance($m) => $body,
            NeuronModel::Stochastic($m) => $body,
            NeuronModel::Custom($m) => $body,
        }
    };
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
        let out = each_model!(&self.model, m => m.forward_sequence(input, keep_membrane));
        self.graded(out)
    }

    /// Runs the sequence `[T, B, N]` from rest as a loop of the model's single-step update
    /// ([`step_loop`]): the reference that [`forward`](Self::forward) equals.
    pub fn forward_stepwise(&self, input: Tensor<3>, keep_membrane: bool) -> NeuronOutput {
        let out = each_model!(&self.model, m => step_loop(m, input, keep_membrane));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_of_another_model_is_refused_by_name() {
        type Case = (NeuronKind, fn(&mut NeuronConfig), &'static str);
        let cases: [Case; 5] = [
            (NeuronKind::Synaptic, |c| c.refractory = 3, "refractory"),
            (NeuronKind::Lif, |c| c.alpha = 0.5, "alpha"),
            (NeuronKind::Adaptive, |c| c.noise = 0.3, "noise"),
            (
                NeuronKind::Lif,
                |c| c.recurrent = RecurrentKind::OneToOne,
                "recurrent",
            ),
            (
                NeuronKind::Synaptic,
                |c| c.reversal_exc = 2.0,
                "reversal_exc",
            ),
        ];
        for (kind, set, field) in cases {
            let mut c = NeuronConfig::new(kind);
            c.validate().expect("the defaults are valid");
            set(&mut c);
            let err = c.validate().expect_err(field);
            assert_eq!(err.field, field, "{err}");
        }
        // The same fields on the models that use them are fine.
        let mut c = NeuronConfig::new(NeuronKind::Synaptic);
        c.alpha = 0.5;
        c.validate().expect("synaptic takes alpha");
        let mut c = NeuronConfig::new(NeuronKind::Lif);
        c.refractory = 2;
        c.validate().expect("lif takes refractory");
    }
}
