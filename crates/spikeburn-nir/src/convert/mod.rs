//! Conversion between spikeburn models and NIR graphs / safetensors weights (cargo feature
//! `model`, on by default; it is the only part of this crate that depends on burn).
//!
//! # Export ([`network_to_nir`], [`network_to_safetensors`]; a run folder: `spikeburn_train::interchange::export_run`)
//! A network's layers become a chain `input → … → output` of NIR nodes named `layers.{i}`
//! (`i` = the index in [`NetworkConfig::resolved_layers`]):
//!
//! | spikeburn layer | NIR node |
//! |---|---|
//! | `linear` | `Affine` (`Linear` without bias); burn's weight `[in, out]` is transposed to `(out, in)` |
//! | `conv2d` | `Conv2d` (weight `(out, in, kh, kw)`, explicit padding, dilation 1, groups 1) |
//! | `avg_pool2d` | `AvgPool2d` |
//! | `flatten` | `Flatten` (`start_dim = 0`, `end_dim = -1`, no batch dimension) |
//! | `linear` on a multi-dimensional sample | `Flatten` `layers.{i}.flatten`, then the `Affine` |
//! | `dropout` | nothing (identity at inference) |
//! | `neuron`, `lif` with zero reset | `LIF`: `τ = dt/(1−β)`, `r = τ/dt`, `v_leak = 0`, `v_threshold = θ`, `v_reset = 0` |
//! | `neuron`, `if` with zero reset | `IF`: `r = 1/dt`, `v_threshold = θ`, `v_reset = 0` |
//! | `neuron`, `synaptic` with zero reset | `CubaLIF` (see [`crate::mapping`]) |
//! | `neuron`, `integrator` | `LI`: `τ = dt/(1−β)`, `r = τ/dt`, `v_leak = 0` |
//! | `neuron`, `recurrent` with zero reset | `LIF` as above, plus a node `layers.{i}.w_rec` with the edges `layers.{i} → layers.{i}.w_rec → layers.{i}`: `Affine` (`(N, N)` weight, bias) for all-to-all, `Linear` with the diagonal `diag(v)` for one-to-one |
//!
//! The recurrent layer is written the way snnTorch 1.0's `export_to_nir` writes an `RLeaky`
//! (a LIF and its recurrent weight in a two-node cycle, flattened into the graph). NIR's
//! Affine is instantaneous; a discrete-time simulator breaks the cycle at the edge into the
//! LIF, so the feedback computed from the spikes `S[t−1]` enters `U[t]`, and the bias `b`
//! enters at every step including the first (`V(S[−1] = 0) = b`) — snnTorch's
//! `RLeaky` (as its NIR importer builds it, `reset_delay = False`) and spikeburn's
//! [`RecurrentLif`] both compute exactly this.
//!
//! `dt` (default [`DEFAULT_DT`] = 1e-4 s, snnTorch's) is recorded in the graph metadata under
//! `dt`; the encoder is recorded under `spikeburn_encoder` and the number of steps under
//! `spikeburn_num_steps`. **The graph's input is the current fed to the first layer at each
//! step**: with the direct encoder that is the image itself, repeated every step; with a
//! rate or latency encoder it is the encoder's spike train.
//!
//! Not expressible in NIR, refused with [`ConvertError::Unsupported`]: `max_pool2d`,
//! `batch_norm`, the neuron kinds without a NIR counterpart (`alpha`, `adaptive`,
//! `conductance`, `stochastic`, `eif`: each model's `ModelSpec::nir` gives the reason), a
//! refractory period, graded spikes, and reset `none`. The *subtract* reset
//! (spikeburn's default) has no NIR equivalent either (NIR neurons reset to `v_reset`): it is
//! refused unless [`ExportOptions::allow_approximate`] is set, in which case the neuron is
//! written with `v_reset = 0` and a warning is returned — the NIR graph then behaves like the
//! model with *zero* reset, which fires differently.
//!
//! # Safetensors layout ([`network_to_safetensors`])
//! One `F32` tensor per parameter, named after the layer index `i` in
//! [`NetworkConfig::resolved_layers`], in PyTorch layout:
//!
//! | tensor | shape | layer |
//! |---|---|---|
//! | `layers.{i}.weight` | `[out, in]` | linear (PyTorch `nn.Linear.weight`) |
//! | `layers.{i}.weight` | `[out, in, kh, kw]` | conv2d (PyTorch `nn.Conv2d.weight`) |
//! | `layers.{i}.bias` | `[out]` | linear / conv2d with bias |
//! | `layers.{i}.beta`, `layers.{i}.threshold` | `[1]` or `[N]` (per neuron) | neuron (β unclamped as stored) |
//! | `layers.{i}.alpha` | `[1]` or `[N]` | synaptic / alpha / conductance neuron |
//! | `layers.{i}.adapt_decay`, `.adapt_strength` | `[1]` or `[N]` | adaptive neuron (`ρ` unclamped, `γ`) |
//! | `layers.{i}.recurrent.weight`, `.recurrent.bias` | `[N, N]` (`(out, in)`), `[N]` | recurrent neuron, all-to-all (snnTorch `RLeaky.recurrent`, an `nn.Linear`) |
//! | `layers.{i}.recurrent.V` | `[N]` | recurrent neuron, one-to-one (snnTorch `RLeaky(V = …)`) |
//! | `layers.{i}.amplitude` | `[N]` | neuron with graded spikes |
//! | `layers.{i}.running_mean`, `.running_var`, `.gamma`, `.beta` | `[C]` | batch norm |
//!
//! `__metadata__` holds `spikeburn_config` (the [`NetworkConfig`] as JSON) and `format`
//! (`"spikeburn-safetensors-1"`). `tests/interop/load_safetensors_snntorch.py` builds the
//! equivalent snnTorch network from it.
//!
//! # Import ([`nir_to_network`], [`build_network`]; into a run folder: `spikeburn_train::interchange::import_nir`)
//! A chain of NIR nodes (`Input → … → Output`, one edge in and out of each node) becomes a
//! [`NetworkConfig`] and its weights. `dt` comes from the graph metadata, else
//! [`DEFAULT_DT`]. `LIF` becomes a `lif` neuron with `β = 1 − dt/τ`, `θ = v_threshold` and
//! `reset = "zero"` (`v_reset` must be 0); `IF` an `if` neuron; `LI` an `integrator`;
//! `CubaLIF` a `synaptic` neuron with `α = 1 − dt/τ_syn`. The input gains `g = r·dt/τ` (LIF,
//! LI, CubaLIF membrane), `r·dt` (IF) and `w_in·dt/τ_syn` (CubaLIF synapse) — 1 under
//! snnTorch's convention, `dt/τ` for Norse's `r = 1` — and the leak term `(1−β)·v_leak` are
//! folded into the preceding `Affine`/`Linear` (per output neuron) or `Conv2d` (one gain for
//! all); a neuron without such a predecessor must have gain 1 and `v_leak = 0`. Equal
//! per-neuron values become one scalar, differing ones a per-neuron parameter.
//!
//! ## Recurrence
//! A `LIF` whose output feeds back to its own input through one `Affine` or `Linear` node `w`
//! (edges `lif → w → lif`, nothing else into or out of `w`: snnTorch's `RLeaky` pattern, flat
//! as snnTorch's export writes it, or as a nested `NIRGraph` `Input → LIF → Output` with the
//! loop) becomes a `recurrent` neuron (`U[t] = β(1−R[t])U[t−1] + X[t] + V(S[t−1])`, see
//! [`spikeburn_core::recurrent`]); the loop is not part of the chain. A `Linear` whose
//! off-diagonal elements are all zero becomes a one-to-one connection `v = diag(W)` (as
//! snnTorch's importer reads it); anything else an all-to-all one with `W` and the `Affine`'s
//! bias (zeros for a `Linear`). The LIF's input gain `g` multiplies the recurrent weights and
//! bias row by row, since NIR sums both inputs before `r`. Refused, with an error naming the
//! edge or node: a recurrent loop into anything but a `LIF` (a `CubaLIF` loop, snnTorch's
//! `RSynaptic`, has no spikeburn counterpart), a loop through more than one node or through a
//! node with other edges, a node feeding itself directly, two loops into one LIF. A cycle
//! through stateless nodes only is an algebraic loop, refused by the validation
//! ([`NirError::Cycle`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use burn::module::Param;
use burn::prelude::*;
use spikeburn_core::lif::Reset;
use spikeburn_core::network::{Layer, LayerConfig, NetworkConfig, SpikingNetwork};
use spikeburn_core::neuron::{NeuronConfig, NeuronKind, NeuronModel, NirMapping};
use spikeburn_core::recurrent::{RecurrentKind, RecurrentLif, RecurrentParams};
use spikeburn_core::synaptic::SynapticParams;

use crate::error::NirError;
use crate::graph::{
    Affine, Array, Conv, Edge, Flatten, If, Lif, Linear, MetaValue, NirGraph, Node, Padding, Pool2d,
};
use crate::mapping;

/// snnTorch's time step, the default `dt` of export and of an import without `metadata/dt`.
pub const DEFAULT_DT: f64 = 1e-4;

/// Suffix of the name of a recurrent layer's weight node in an exported graph: the LIF
/// `layers.{i}` and its recurrent weight `layers.{i}.w_rec` (snnTorch names them
/// `{layer}.lif` and `{layer}.w_rec`).
pub const RECURRENT_SUFFIX: &str = ".w_rec";

/// Suffix of the `Flatten` node written before a linear layer `layers.{i}` whose input is a
/// multi-dimensional sample (an MLP on `input = [1, 28, 28]`): `layers.{i}.flatten`.
pub const FLATTEN_SUFFIX: &str = ".flatten";

/// Metadata key of the safetensors export holding the network configuration as JSON.
pub const SAFETENSORS_CONFIG_KEY: &str = "spikeburn_config";

/// Why a conversion failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// Reading, writing or validating the NIR / safetensors data failed.
    #[error(transparent)]
    Nir(#[from] NirError),
    /// A part of the model or graph has no counterpart on the other side.
    #[error("{what}: {reason}")]
    Unsupported {
        /// The layer or node (e.g. `layers.2 (max_pool2d)`).
        what: String,
        /// Why, and what would work.
        reason: String,
    },
    /// A file-system operation on the output failed.
    #[error("{}: {action}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn unsupported(what: impl Into<String>, reason: impl Into<String>) -> ConvertError {
    ConvertError::Unsupported {
        what: what.into(),
        reason: reason.into(),
    }
}

/// Options of [`network_to_nir`].
#[derive(Clone, Debug, PartialEq)]
pub struct ExportOptions {
    /// Simulation time step in seconds, recorded in `metadata/dt` (default [`DEFAULT_DT`]).
    pub dt: f64,
    /// Export subtract-reset neurons as NIR's reset-to-`v_reset = 0` with a warning instead
    /// of refusing them (default false).
    pub allow_approximate: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            dt: DEFAULT_DT,
            allow_approximate: false,
        }
    }
}

/// The two export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// An NIR graph (HDF5).
    Nir,
    /// The weights as safetensors with the configuration in `__metadata__`.
    Safetensors,
}

fn values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, ConvertError> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| unsupported("tensor", format!("cannot read values: {e:?}")))
}

fn array<const D: usize>(t: Tensor<D>) -> Result<Array, ConvertError> {
    let shape = t.dims().to_vec();
    Ok(Array::new(shape, values(t)?)?)
}

/// `[in, out]` (burn's `Linear.weight`) to `[out, in]` (PyTorch / NIR).
fn transpose(weight: Tensor<2>) -> Result<Array, ConvertError> {
    array(weight.transpose())
}

/// A `[1]` or `[N]` parameter broadcast to `[n]`.
fn per_neuron(p: &Param<Tensor<1>>, n: usize, clamp: bool) -> Result<Array, ConvertError> {
    let mut v = values(p.val())?;
    if clamp {
        v.iter_mut().for_each(|x| *x = x.clamp(0.0, 1.0));
    }
    let v = if v.len() == 1 { vec![v[0]; n] } else { v };
    Ok(Array::vector(v))
}

fn name(i: usize) -> String {
    format!("layers.{i}")
}

fn layer_kind(layer: &LayerConfig) -> &'static str {
    match layer {
        LayerConfig::Linear { .. } => "linear",
        LayerConfig::Conv2d { .. } => "conv2d",
        LayerConfig::MaxPool2d { .. } => "max_pool2d",
        LayerConfig::AvgPool2d { .. } => "avg_pool2d",
        LayerConfig::Flatten => "flatten",
        LayerConfig::Dropout { .. } => "dropout",
        LayerConfig::BatchNorm => "batch_norm",
        LayerConfig::Delay(_) => "delay",
        LayerConfig::DelayedLinear { .. } => "delayed_linear",
        LayerConfig::Neuron { .. } => "neuron",
    }
}

mod build;
mod export;
mod import;

pub use build::*;
pub use export::*;
pub use import::*;

/// Runs a network on a given input sequence `[T, B, features]` (the current into the first
/// layer at each step, as the NIR graph's input) and returns the output layer's spikes (or
/// potential, for an integrator) `[T, B, outputs]`: the network's own forward pass on a
/// sequence ([`spikeburn_core::ModelInput::Sequence`]; its encoder and `num_steps` are not
/// used).
pub fn simulate_sequence(
    net: &SpikingNetwork,
    input: Tensor<3>,
) -> Result<Tensor<3>, ConvertError> {
    let features = input.dims()[2];
    let expected: usize = net.input.iter().product();
    if expected != features {
        return Err(unsupported(
            "input",
            format!(
                "{features} features per step, the network takes {:?}",
                net.input
            ),
        ));
    }
    Ok(net.forward(input).spikes)
}
