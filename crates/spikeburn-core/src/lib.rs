//! # spikeburn-core
//!
//! Spiking neurons as differentiable [burn](https://burn.dev) modules: the forward pass fires
//! with a Heaviside step, the backward pass uses a surrogate gradient, and networks are
//! unrolled over time for backpropagation through time (BPTT).
//!
//! Tensors are time-major, `[T, B, …]`. Modules, by concern:
//! - [`neurons`]: the neuron catalogue (`Neuron`, `NeuronConfig`, `NeuronLayer`), one file per
//!   model (`neurons/lif.rs`: the leaky integrate-and-fire layer, snnTorch `Leaky` semantics;
//!   `neurons/custom.rs`: models registered by the user, `kind = "custom"`; …);
//! - [`surrogate`]: the spike function and its surrogate derivatives;
//! - [`kernels`]: fused neuron time loops (CPU and CubeCL), dense, convolution, pooling and
//!   batch norm, each with a hand-written backward;
//! - [`layers`]: stateless layers over sequences (time folded into the batch);
//! - [`encoding`]: static samples to spike trains (direct, rate, latency, delta);
//! - [`loss`], [`metrics`]: training objectives and read-outs of a spiking classifier;
//! - [`model`]: the code-first API: the [`SpikingModel`] trait any network implements, its
//!   input (static or time-major) and output;
//! - [`network`]: the serialisable network description and the model it builds;
//! - [`memory`]: the training-memory estimate of a network description.
//!
//! Former module paths (`spikeburn_core::lif`, `::neuron`, `::fused`, …) remain as hidden
//! re-exports.

#![warn(missing_docs)]

pub mod encoding;
pub mod error;
pub mod kernels;
pub mod layers;
pub mod loss;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod network;
pub mod neurons;
pub mod padding;
mod registry;
pub mod surrogate;

// The paths of the modules before they moved into `neurons/` and `kernels/`, so that code
// written against them keeps compiling.
#[doc(hidden)]
pub use kernels::{batch_norm, conv, dense, fused, gpu, pool};
#[doc(hidden)]
pub use neurons as neuron;
#[doc(hidden)]
pub use neurons::{
    adaptive, alpha, conductance, custom, integrator, lif, recurrent, refractory, stochastic,
    synaptic,
};

pub use encoding::Encoder;
pub use error::InvalidParameter;
pub use model::{ModelInput, SnnOutput, SpikingModel};
#[allow(deprecated)]
#[doc(hidden)]
pub use network::SpikingMlp;
pub use network::{LayerConfig, NetworkConfig, SpikingNetwork};
pub use neurons::lif::{Kernel, Lif, LifConfig, LifOutput, LifState, Reset};
pub use neurons::{
    ModelParams, ModelSpec, Neuron, NeuronConfig, NeuronKind, NeuronLayer, NeuronModel,
    NeuronOutput,
};
pub use padding::Lengths;
pub use surrogate::Surrogate;
