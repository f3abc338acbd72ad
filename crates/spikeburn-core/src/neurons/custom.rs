//! Neuron models written outside the library: a registry analogous to the custom surrogates
//! of [`crate::surrogate::register`].
//!
//! A user implements [`NeuronFunction`] — one time step from the input current `I[t]`, the
//! previous state tensors and the layer's parameters (decay `β`, threshold `θ`, surrogate) to
//! the output and the next state — and registers it with [`register_neuron`] under a name.
//! Configuration files then select it like a built-in model:
//!
//! ```toml
//! [model.neuron]
//! kind = "custom"
//! name = "qif"        # the registered name
//! beta = 0.9          # handed to the step as NeuronParams::beta (learnable with learn_beta)
//! threshold = 1.0     # NeuronParams::threshold
//! surrogate = { kind = "fast_sigmoid", slope = 10.0 }
//! ```
//!
//! The multi-step pass is a loop of the single step ([`crate::neuron::step_loop`]); there is no
//! fused kernel for a custom model (its backward pass is whatever autodiff derives from the
//! step's tensor operations). Sweeps, training and `spikeburn diagnose` accept a custom model
//! like a built-in one in programs that register it first; the `spikeburn` binary does not
//! know a model registered by another program.
//!
//! ```
//! use burn::prelude::*;
//! use spikeburn_core::custom::{NeuronFunction, NeuronParams, register_neuron};
//!
//! /// Integrate-and-fire with a leak towards zero, reset by subtraction.
//! struct Leaky;
//!
//! impl NeuronFunction for Leaky {
//!     fn state_size(&self) -> usize {
//!         1
//!     }
//!     fn step(&self, input: Tensor<2>, state: &[Tensor<2>], p: &NeuronParams) -> (Tensor<2>, Vec<Tensor<2>>) {
//!         let u = state[0].clone() * p.beta.clone() + input;
//!         let s = p.surrogate.spike(u.clone() - p.threshold.clone());
//!         let r = if p.detach_reset { s.clone().detach() } else { s.clone() };
//!         let u = u - r * p.threshold.clone();
//!         (s, vec![u])
//!     }
//! }
//! register_neuron("doc_leaky", Leaky);
//! assert!(spikeburn_core::custom::CustomNeuronId::find("doc_leaky").is_some());
//! ```

use crate::error::InvalidParameter;
use crate::lif::Lif;
use crate::neuron::{LayerInit, ModelSpec, Neuron, NeuronConfig, NeuronModel, NirMapping};
use crate::registry::Registry;
use crate::surrogate::Surrogate;
use burn::prelude::*;
use std::sync::Arc;

/// The parameters a layer hands to a custom step: `β` clamped to `[0, 1]` and `θ` as rows
/// `[1, 1]` (one per layer) or `[1, N]` (`per_neuron`) that broadcast over `[B, N]`, the layer's surrogate (use [`Surrogate::spike`] for the spike, so that every surrogate — and the
/// smooth reference of the diagnostics — applies to the custom model too), and whether the
/// reset is detached.
#[derive(Clone, Debug)]
pub struct NeuronParams {
    /// Decay `β ∈ [0, 1]`, `[1, 1]` or `[1, N]` (learnable with `learn_beta`).
    pub beta: Tensor<2>,
    /// Threshold `θ`, `[1, 1]` or `[1, N]` (learnable with `learn_threshold`).
    pub threshold: Tensor<2>,
    /// The configured surrogate.
    pub surrogate: Surrogate,
    /// Whether a reset signal should be detached from the graph (`detach_reset`; a step that
    /// resets should honour it: the smooth reference of the gradient diagnostics sets it to
    /// false, so that autodiff gives the exact gradient there).
    pub detach_reset: bool,
}

impl NeuronParams {
    /// The spike `H(u − θ)` of a membrane `u` `[B, N]` through the layer's surrogate
    /// (Heaviside forward, the surrogate's derivative backward).
    pub fn spike(&self, u: Tensor<2>) -> Tensor<2> {
        self.surrogate.spike(u - self.threshold.clone())
    }

    /// The reset signal `R = H(u − θ)` of the previous membrane `u` `[B, N]`: [`Self::spike`],
    /// detached from the graph when `detach_reset` is set.
    pub fn reset(&self, u: Tensor<2>) -> Tensor<2> {
        let r = self.spike(u);
        if self.detach_reset { r.detach() } else { r }
    }
}

/// One time step of a neuron model written outside the library.
pub trait NeuronFunction: Send + Sync + 'static {
    /// Number of state tensors (each `[B, N]`, zero at rest). At least 1; the first is taken
    /// as the membrane potential `U` (the output layer's membrane, used by membrane losses).
    fn state_size(&self) -> usize;

    /// One step: the input current `I[t]` `[B, N]`, the state at `t − 1` (`state_size`
    /// tensors) and the parameters give the output `S[t]` `[B, N]` and the state at `t`.
    fn step(
        &self,
        input: Tensor<2>,
        state: &[Tensor<2>],
        params: &NeuronParams,
    ) -> (Tensor<2>, Vec<Tensor<2>>);
}

static REGISTRY: Registry<dyn NeuronFunction> = Registry::new();

/// A handle to a neuron model registered with [`register_neuron`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CustomNeuronId(u32);

impl CustomNeuronId {
    /// Looks a registered model up by name.
    pub fn find(name: &str) -> Option<Self> {
        REGISTRY.find(name).map(CustomNeuronId)
    }

    /// The name it was registered under.
    pub fn name(&self) -> String {
        REGISTRY.name(self.0)
    }

    fn function(&self) -> Option<Arc<dyn NeuronFunction>> {
        REGISTRY.get(self.0)
    }
}

/// The names of the registered neuron models, in registration order.
pub fn registered_neurons() -> Vec<String> {
    REGISTRY.names()
}

model_params! {
    /// The parameters of kind `custom`: the registered name of the model (the shared `beta`,
    /// `threshold`, `surrogate` and `detach_reset` of [`NeuronConfig`] reach its step as
    /// [`NeuronParams`]).
    pub struct CustomParams {
        /// The name the model was registered under with [`register_neuron`].
        pub name: String = String::new(),
    }
}

impl ModelSpec for CustomParams {
    /// The name must be registered.
    fn validate(&self, _: &NeuronConfig) -> Result<(), InvalidParameter> {
        if self.name.is_empty() {
            return Err(InvalidParameter::new(
                "name",
                "kind = \"custom\" needs the name of a registered neuron model",
            ));
        }
        if CustomNeuronId::find(&self.name).is_some() {
            return Ok(());
        }
        let known = registered_neurons();
        Err(InvalidParameter::new(
            "name",
            format!(
                "unknown custom neuron `{}` (register it first with \
                 spikeburn_core::custom::register_neuron; registered: {})",
                self.name,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ),
        ))
    }

    /// # Panics
    /// If the name is not registered (call [`NeuronConfig::validate`] first).
    fn init(&self, layer: LayerInit<'_>) -> NeuronModel {
        NeuronModel::Custom(CustomNeuron {
            lif: layer.lif,
            id: CustomNeuronId::find(&self.name)
                .expect("NeuronConfig::init needs a valid config (call validate)"),
        })
    }

    fn nir(&self) -> NirMapping {
        NirMapping::Unsupported("a custom model's step is Rust code, which NIR cannot hold")
    }
}

/// Registers a neuron model under `name` (replacing an earlier one of the same name) and
/// returns its handle. Configurations select it with `kind = "custom"`, `name = "NAME"`.
pub fn register_neuron(name: &str, function: impl NeuronFunction) -> CustomNeuronId {
    CustomNeuronId(REGISTRY.insert(name, Arc::new(function)))
}

/// A layer of a registered custom model: the LIF parameters (`β`, `θ`, surrogate) it hands to
/// the step, and the model's handle.
#[derive(Module, Debug)]
pub struct CustomNeuron {
    /// `β`, `θ` and the surrogate (its reset and kernel settings are not used).
    pub lif: Lif,
    /// The registered model.
    #[module(skip)]
    pub id: CustomNeuronId,
}

/// The state of a [`CustomNeuron`] layer: the model's state tensors, each `[B, N]`.
pub type CustomState = Vec<Tensor<2>>;

impl CustomNeuron {
    fn params(&self) -> NeuronParams {
        let (beta, threshold) = self.lif.coefficients();
        NeuronParams {
            beta,
            threshold,
            surrogate: self.lif.surrogate,
            detach_reset: self.lif.detach_reset,
        }
    }
}

impl Neuron for CustomNeuron {
    type State = CustomState;

    fn rest(&self, batch: usize, neurons: usize, device: &Device) -> CustomState {
        let n = self.id.function().map_or(1, |f| f.state_size().max(1));
        (0..n)
            .map(|_| Tensor::zeros([batch, neurons], device))
            .collect()
    }

    /// One step of the registered function (a model unregistered since the layer was built
    /// passes the input through unchanged as its state and emits no spikes).
    fn step(&self, input: Tensor<2>, state: CustomState) -> (Tensor<2>, CustomState) {
        match self.id.function() {
            Some(f) => f.step(input, &state, &self.params()),
            None => (input.zeros_like(), vec![input]),
        }
    }

    fn membrane(state: &CustomState) -> Tensor<2> {
        state[0].clone()
    }

    fn lif(&self) -> Option<&Lif> {
        Some(&self.lif)
    }
}
