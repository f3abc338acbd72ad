//! # spikeburn-core
//!
//! Spiking neurons as differentiable [burn](https://burn.dev) modules: the forward pass fires
//! with a Heaviside step, the backward pass uses a surrogate gradient, and networks are
//! unrolled over time for backpropagation through time (BPTT).
//!
//! Tensors are time-major, `[T, B, …]`. Modules:
//! - [`surrogate`]: the spike function and its surrogate derivatives;
//! - [`lif`]: the leaky integrate-and-fire layer (snnTorch `Leaky` semantics);
//! - [`fused`]: the LIF time loop as one operation with a hand-written BPTT backward (CPU);
//! - [`batch_norm`]: training-mode batch normalisation with a hand-written backward (CPU);
//! - [`dense`]: dense layers through OpenBLAS with a hand-written backward (CPU);
//! - [`conv`]: 2-D convolution as im2col + GEMM with a hand-written backward (CPU);
//! - [`pool`]: 2-D max pooling with a saved-arg-max backward (CPU);
//! - [`layers`]: stateless layers over sequences (time folded into the batch);
//! - [`custom`]: neuron models registered by the user (`kind = "custom"`);
//! - [`model`]: the code-first API: the [`SpikingModel`] trait any network implements, its
//!   input (static or time-major) and output;
//! - [`network`]: the serialisable network description and the model it builds;
//! - [`loss`], [`metrics`]: training objectives and read-outs of a spiking classifier.

pub mod adaptive;
pub mod alpha;
pub mod batch_norm;
pub mod conductance;
pub mod conv;
pub mod custom;
pub mod dense;
pub mod encoding;
pub mod error;
pub mod fused;
pub mod gpu;
pub mod integrator;
pub mod layers;
pub mod lif;
pub mod loss;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod network;
pub mod neuron;
pub mod pool;
pub mod recurrent;
pub mod refractory;
mod registry;
pub mod stochastic;
pub mod surrogate;
pub mod synaptic;

pub use encoding::Encoder;
pub use error::InvalidParameter;
pub use lif::{Kernel, Lif, LifConfig, LifOutput, LifState, Reset};
pub use model::{ModelInput, SnnOutput, SpikingModel};
pub use network::{LayerConfig, NetworkConfig, SpikingMlp, SpikingNetwork};
pub use neuron::{Neuron, NeuronConfig, NeuronKind, NeuronLayer, NeuronModel, NeuronOutput};
pub use surrogate::Surrogate;
