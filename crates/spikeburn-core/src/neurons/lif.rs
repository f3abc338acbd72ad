//! The leaky integrate-and-fire (LIF) neuron, snnTorch `Leaky` semantics.
//!
//! With input current `I[t]`, decay `β`, threshold `θ` and the surrogate spike function `S`
//! (see [`crate::surrogate`]), one time step is
//!
//! ```text
//! R[t] = H(U[t−1] − θ)                  reset signal (detached from the graph by default)
//! U[t] = β·U[t−1] + I[t] − θ·R[t]       Reset::Subtract (default)
//! U[t] = β·(1 − R[t])·U[t−1] + I[t]     Reset::Zero (snnTorch ≥ 0.7, NIR v_reset = 0)
//! U[t] = β·U[t−1] + I[t]                Reset::None
//! S[t] = H(U[t] − θ)                    output spike, H(x) = 1 if x > 0 else 0
//! ```
//!
//! starting from `U[−1] = 0`. This follows snnTorch's `snn.Leaky` (Eshraghian et al. 2023,
//! "Training Spiking Neural Networks Using Lessons From Deep Learning", eq. 4), so a network
//! trained here compares 1:1 with the same network in snnTorch. `β` is clamped to `[0, 1]`
//! in the forward pass, as snnTorch does.
//!
//! Two entry points compute the same function:
//! - [`Lif::step`] advances one step on `[B, N]` (streaming use, and the readable reference);
//! - [`Lif::forward`] runs a whole time-major sequence `[T, B, N]`, and
//!   [`Lif::forward_constant`] a sequence whose input is the same at every step (direct
//!   encoding), without materialising the repeated input.
//!
//! Both give identical values and gradients (tested).

use crate::error::InvalidParameter;
use crate::fused::{self, ScanSettings, lif_scan, lif_scan_constant};
use crate::neuron::{LayerInit, ModelSpec, Neuron, NeuronModel, NeuronOutput, NirMapping};
use crate::refractory::RefractoryLif;
use crate::surrogate::Surrogate;
use burn::module::Param;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// How the membrane is reset after a spike.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reset {
    /// Subtract the threshold: `U[t] = β·U[t−1] + I[t] − θ·R[t]` (snnTorch default).
    #[default]
    Subtract,
    /// Reset to zero: `U[t] = β·(1 − R[t])·U[t−1] + I[t]` (snnTorch 1.0 `reset_mechanism =
    /// "zero"`): the membrane that crossed the threshold is zeroed and this step's input is
    /// integrated from zero, so the spikes are those of NIR's `LIF` with `v_reset = 0`.
    Zero,
    /// No reset: `U[t] = β·U[t−1] + I[t]`.
    None,
}

/// Which implementation runs a multi-step pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kernel {
    /// The fused operation ([`crate::fused`]) where the backend has it (burn-flex,
    /// burn-ndarray, and burn-wgpu with the `wgpu` feature), the reference path elsewhere.
    #[default]
    Auto,
    /// Always the reference path built from standard tensor operations.
    Reference,
}

/// Configuration of a [`Lif`] layer.
///
/// Deserialises from partial TOML/JSON (missing fields take the defaults below; unknown fields
/// are rejected), and builds with `LifConfig::new().with_beta(0.9).init(1000, &device)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LifConfig {
    /// Membrane decay `β ∈ [0, 1]` per step (default 0.95).
    pub beta: f32,
    /// Firing threshold `θ > 0` (default 1.0).
    pub threshold: f32,
    /// Reset mechanism (default [`Reset::Subtract`]).
    pub reset: Reset,
    /// Stop the gradient through the reset signal `R[t]` (default true, as snnTorch).
    pub detach_reset: bool,
    /// Train `β` by gradient descent (default false).
    pub learn_beta: bool,
    /// Train `θ` by gradient descent (default false).
    pub learn_threshold: bool,
    /// One `β` and `θ` per neuron instead of one per layer (default false).
    pub per_neuron: bool,
    /// Surrogate derivative of the spike (default arctan, `α = 2`).
    pub surrogate: Surrogate,
    /// Implementation of the multi-step pass (default: fused where available).
    pub kernel: Kernel,
}

impl Default for LifConfig {
    fn default() -> Self {
        Self {
            beta: 0.95,
            threshold: 1.0,
            reset: Reset::Subtract,
            detach_reset: true,
            learn_beta: false,
            learn_threshold: false,
            per_neuron: false,
            surrogate: Surrogate::default(),
            kernel: Kernel::Auto,
        }
    }
}

macro_rules! with_setters {
    ($($(#[$doc:meta])* $fn:ident => $field:ident: $ty:ty),* $(,)?) => {
        $($(#[$doc])* #[must_use] pub fn $fn(mut self, $field: $ty) -> Self {
            self.$field = $field;
            self
        })*
    };
}

impl LifConfig {
    /// The snnTorch `snn.Leaky` defaults: `β = 0.95`, `θ = 1`, subtract reset (detached),
    /// arctan surrogate with `α = 2`, nothing learnable.
    pub fn new() -> Self {
        Self::default()
    }

    with_setters! {
        /// Sets the decay `β`.
        with_beta => beta: f32,
        /// Sets the threshold `θ`.
        with_threshold => threshold: f32,
        /// Sets the reset mechanism.
        with_reset => reset: Reset,
        /// Sets whether the reset signal is detached from the graph.
        with_detach_reset => detach_reset: bool,
        /// Sets whether `β` is learnable.
        with_learn_beta => learn_beta: bool,
        /// Sets whether `θ` is learnable.
        with_learn_threshold => learn_threshold: bool,
        /// Sets whether `β` and `θ` are per neuron.
        with_per_neuron => per_neuron: bool,
        /// Sets the surrogate gradient.
        with_surrogate => surrogate: Surrogate,
        /// Sets the implementation of the multi-step pass.
        with_kernel => kernel: Kernel,
    }

    /// Checks every field's range: `β ∈ [0, 1]`, `θ` finite and `> 0`, a valid surrogate.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        if !(0.0..=1.0).contains(&self.beta) {
            return Err(InvalidParameter::new(
                "beta",
                format!("expected a decay in [0, 1], got {}", self.beta),
            ));
        }
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            return Err(InvalidParameter::new(
                "threshold",
                format!("expected a finite threshold > 0, got {}", self.threshold),
            ));
        }
        self.surrogate
            .validate()
            .map_err(|message| InvalidParameter::new("surrogate", message))
    }

    /// Builds a layer of `num_neurons` LIF neurons on `device`. `β` and `θ` are tensors of
    /// shape `[num_neurons]` when [`per_neuron`](Self::per_neuron) is set, else `[1]`.
    pub fn init(&self, num_neurons: usize, device: &Device) -> Lif {
        let n = if self.per_neuron { num_neurons } else { 1 };
        let param = |value: f32, learn: bool| {
            Param::from_tensor(Tensor::<1>::full([n], value, device)).set_require_grad(learn)
        };
        Lif {
            beta: param(self.beta, self.learn_beta),
            threshold: param(self.threshold, self.learn_threshold),
            reset: self.reset,
            detach_reset: self.detach_reset,
            surrogate: self.surrogate,
            kernel: self.kernel,
            num_neurons,
        }
    }
}

model_params! {
    /// The parameters of kind `lif` beyond the shared ones of
    /// [`NeuronConfig`](crate::NeuronConfig) (`β`, `θ`, reset, surrogate …, which make its
    /// [`LifConfig`]).
    pub struct LifParams {
        /// Refractory period `k` in steps (default 0): the input is ignored for the `k` steps
        /// after a spike, and the layer is a [`RefractoryLif`] (equations in
        /// [`crate::refractory`]).
        pub refractory: usize = 0,
    }
}

impl ModelSpec for LifParams {
    fn init(&self, layer: LayerInit<'_>) -> NeuronModel {
        if self.refractory > 0 {
            NeuronModel::Refractory(RefractoryLif::new(layer.lif, self.refractory))
        } else {
            NeuronModel::Lif(layer.lif)
        }
    }

    fn nir(&self) -> NirMapping {
        if self.refractory > 0 {
            NirMapping::Unsupported("NIR has no refractory period")
        } else {
            NirMapping::Node("LIF")
        }
    }
}

model_params! {
    /// The parameters of kind `if` (integrate-and-fire): a LIF layer with `β = 1`, not
    /// learnable, whatever `beta` and `learn_beta` say.
    pub struct IfParams {
        /// Refractory period in steps (default 0), as for [`LifParams::refractory`].
        pub refractory: usize = 0,
    }
}

impl IfParams {
    fn as_lif(&self) -> LifParams {
        LifParams {
            refractory: self.refractory,
        }
    }
}

impl ModelSpec for IfParams {
    fn lif(&self, shared: LifConfig) -> LifConfig {
        LifConfig {
            beta: 1.0,
            learn_beta: false,
            ..shared
        }
    }

    fn init(&self, layer: LayerInit<'_>) -> NeuronModel {
        self.as_lif().init(layer)
    }

    fn nir(&self) -> NirMapping {
        match self.as_lif().nir() {
            NirMapping::Node(_) => NirMapping::Node("IF"),
            refused => refused,
        }
    }
}

/// A layer of leaky integrate-and-fire neurons (equations in the [module docs](self)).
#[derive(Module, Debug)]
pub struct Lif {
    /// Decay `β`, shape `[1]` or `[N]`; clamped to `[0, 1]` when used.
    pub beta: Param<Tensor<1>>,
    /// Threshold `θ`, shape `[1]` or `[N]`.
    pub threshold: Param<Tensor<1>>,
    /// Reset mechanism.
    #[module(skip)]
    pub reset: Reset,
    /// Whether the reset signal is detached from the graph.
    pub detach_reset: bool,
    /// Surrogate derivative of the spike.
    #[module(skip)]
    pub surrogate: Surrogate,
    /// Implementation of the multi-step pass.
    #[module(skip)]
    pub kernel: Kernel,
    /// Number of neurons `N`.
    pub num_neurons: usize,
}

/// The state a [`Lif`] layer carries between steps: the membrane potential `U`, `[B, N]`.
#[derive(Clone, Debug)]
pub struct LifState {
    /// Membrane potential `U[t]`, `[B, N]`.
    pub membrane: Tensor<2>,
}

impl LifState {
    /// The resting state `U = 0` for a batch of `batch` samples of `neurons` neurons.
    pub fn zeros(batch: usize, neurons: usize, device: &Device) -> Self {
        Self {
            membrane: Tensor::zeros([batch, neurons], device),
        }
    }
}

/// Output of a multi-step pass: spikes and (optionally) the membrane trace, both `[T, B, N]`.
#[derive(Clone, Debug)]
pub struct LifOutput {
    /// Spikes `S[t]` in {0, 1}, `[T, B, N]`.
    pub spikes: Tensor<3>,
    /// Membrane potentials `U[t]`, `[T, B, N]`, when requested.
    pub membrane: Option<Tensor<3>>,
}

/// The per-step input of a sequence pass.
#[derive(Clone)]
enum Current {
    /// `[T, B, N]`: a different input at each step.
    Sequence(Tensor<3>),
    /// `[B, N]` repeated over `T` steps.
    Constant(Tensor<2>, usize),
}

impl Current {
    fn steps(&self) -> usize {
        match self {
            Current::Sequence(x) => x.dims()[0],
            Current::Constant(_, t) => *t,
        }
    }

    fn batch_neurons(&self) -> [usize; 2] {
        match self {
            Current::Sequence(x) => {
                let [_, b, n] = x.dims();
                [b, n]
            }
            Current::Constant(x, _) => x.dims(),
        }
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

    fn lif(&self) -> Option<&Lif> {
        Some(self)
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

impl Lif {
    /// `β` clamped to `[0, 1]` and `θ`, each as `[1, N]` or `[1, 1]` for broadcasting.
    pub(crate) fn coefficients(&self) -> (Tensor<2>, Tensor<2>) {
        let beta = self.beta.val().clamp(0.0, 1.0).unsqueeze::<2>();
        let threshold = self.threshold.val().unsqueeze::<2>();
        (beta, threshold)
    }

    /// The membrane update of one step given the reset signal `R[t]`.
    pub(crate) fn integrate(
        &self,
        membrane: Tensor<2>,
        input: Tensor<2>,
        reset: Option<Tensor<2>>,
        beta: &Tensor<2>,
        threshold: &Tensor<2>,
    ) -> Tensor<2> {
        let Some(reset) = reset else {
            return membrane * beta.clone() + input;
        };
        let reset = if self.detach_reset {
            reset.detach()
        } else {
            reset
        };
        match self.reset {
            Reset::Subtract => membrane * beta.clone() + input - reset * threshold.clone(),
            Reset::Zero => (membrane.clone() - reset * membrane) * beta.clone() + input,
            Reset::None => membrane * beta.clone() + input,
        }
    }

    /// The reset signal `R[t] = S(U[t−1] − θ)` computed from a membrane, or `None` without
    /// reset.
    pub(crate) fn reset_signal(
        &self,
        membrane: &Tensor<2>,
        threshold: &Tensor<2>,
    ) -> Option<Tensor<2>> {
        (self.reset != Reset::None)
            .then(|| self.surrogate.spike(membrane.clone() - threshold.clone()))
    }

    /// One time step: input current `[B, N]` and the previous state give the spikes `[B, N]`
    /// and the next state.
    pub fn step(&self, input: Tensor<2>, state: LifState) -> (Tensor<2>, LifState) {
        let (beta, threshold) = self.coefficients();
        let reset = self.reset_signal(&state.membrane, &threshold);
        let membrane = self.integrate(state.membrane, input, reset, &beta, &threshold);
        let spikes = self.surrogate.spike(membrane.clone() - threshold);
        (spikes, LifState { membrane })
    }

    /// Runs the sequence `[T, B, N]` from rest and returns the spikes `[T, B, N]`.
    pub fn forward(&self, input: Tensor<3>) -> Tensor<3> {
        self.run_from_rest(Current::Sequence(input), false).spikes
    }

    /// Runs the sequence `[T, B, N]` from rest and returns spikes and membrane, `[T, B, N]`.
    pub fn forward_with_membrane(&self, input: Tensor<3>) -> LifOutput {
        self.run_from_rest(Current::Sequence(input), true)
    }

    /// Runs `num_steps` steps from rest with the same input `[B, N]` at every step (direct
    /// encoding). Equals [`forward`](Self::forward) on the input repeated `num_steps` times,
    /// in values and gradients, without building the repeated tensor.
    pub fn forward_constant(
        &self,
        input: Tensor<2>,
        num_steps: usize,
        membrane: bool,
    ) -> LifOutput {
        self.run_from_rest(Current::Constant(input, num_steps), membrane)
    }

    /// Runs the sequence `[T, B, N]` from `state` and also returns the final state, for
    /// streaming a long sequence in chunks. This always takes the reference path (the fused
    /// operation starts from rest).
    pub fn forward_from(
        &self,
        input: Tensor<3>,
        state: LifState,
        membrane: bool,
    ) -> (LifOutput, LifState) {
        self.run(Current::Sequence(input), Some(state), membrane)
    }

    /// A multi-step pass from rest: fused where the backend has it (and [`Kernel::Auto`]),
    /// else the reference loop.
    fn run_from_rest(&self, current: Current, keep_membrane: bool) -> LifOutput {
        let device = match &current {
            Current::Sequence(x) => x.device(),
            Current::Constant(x, _) => x.device(),
        };
        if self.uses_fused_scan() && fused::supported(&device, &self.surrogate) {
            self.run_fused(current, keep_membrane)
        } else {
            self.run(current, None, keep_membrane).0
        }
    }

    /// Whether the multi-step pass may take a fused kernel: [`Kernel::Auto`] and a surrogate
    /// whose forward pass is the Heaviside step (the backend's support is checked apart).
    pub(crate) fn uses_fused_scan(&self) -> bool {
        self.kernel == Kernel::Auto && !self.surrogate.is_smooth()
    }

    /// The settings of this layer's fused scan.
    pub(crate) fn scan_settings(&self, output_membrane: bool) -> ScanSettings {
        ScanSettings {
            reset: self.reset,
            detach_reset: self.detach_reset,
            surrogate: self.surrogate,
            output_membrane,
            constant_steps: 0,
            refractory: 0,
        }
    }

    /// The multi-step pass as one fused operation per output (spikes, and membrane if asked).
    fn run_fused(&self, current: Current, keep_membrane: bool) -> LifOutput {
        let beta = self.beta.val().clamp(0.0, 1.0);
        let threshold = self.threshold.val();
        let settings = |output_membrane| self.scan_settings(output_membrane);
        // The last scan takes the current itself, so that its buffer has one owner and the
        // CPU scan reads it without a copy (a `[T, B, N]` buffer saved at the peak).
        let scan = |current: Current, output_membrane: bool| match current {
            Current::Sequence(x) => lif_scan(
                x,
                beta.clone(),
                threshold.clone(),
                settings(output_membrane),
            ),
            Current::Constant(x, steps) => lif_scan_constant(
                x,
                beta.clone(),
                threshold.clone(),
                steps,
                settings(output_membrane),
            ),
        };
        if keep_membrane {
            LifOutput {
                spikes: scan(current.clone(), false),
                membrane: Some(scan(current, true)),
            }
        } else {
            LifOutput {
                spikes: scan(current, false),
                membrane: None,
            }
        }
    }

    /// The multi-step loop. Identical to iterating [`step`](Self::step), except that the
    /// reset signal `R[t] = S(U[t−1] − θ)` for `t > 0` reuses the spikes `S[t−1]` already
    /// computed (the same expression, so the same values and gradients).
    fn run(
        &self,
        current: Current,
        state: Option<LifState>,
        keep_membrane: bool,
    ) -> (LifOutput, LifState) {
        let steps = current.steps();
        let [batch, neurons] = current.batch_neurons();
        let device = match &current {
            Current::Sequence(x) => x.device(),
            Current::Constant(x, _) => x.device(),
        };
        let (beta, threshold) = self.coefficients();
        let mut membrane = state
            .map(|s| s.membrane)
            .unwrap_or_else(|| Tensor::zeros([batch, neurons], &device));
        let mut reset = self.reset_signal(&membrane, &threshold);
        let mut spikes = Vec::with_capacity(steps);
        let mut membranes = Vec::with_capacity(if keep_membrane { steps } else { 0 });
        for t in 0..steps {
            let input = match &current {
                Current::Sequence(x) => x.clone().slice(s![t]).squeeze_dim::<2>(0),
                Current::Constant(x, _) => x.clone(),
            };
            membrane = self.integrate(membrane, input, reset, &beta, &threshold);
            let spike = self.surrogate.spike(membrane.clone() - threshold.clone());
            reset = (self.reset != Reset::None).then(|| spike.clone());
            spikes.push(spike);
            if keep_membrane {
                membranes.push(membrane.clone());
            }
        }
        let output = LifOutput {
            spikes: Tensor::stack(spikes, 0),
            membrane: keep_membrane.then(|| Tensor::stack(membranes, 0)),
        };
        (output, LifState { membrane })
    }
}
