//! Conversion between spikeburn models and NIR graphs / safetensors weights (cargo feature
//! `model`, on by default; it is the only part of this crate that depends on burn).
//!
//! # Export ([`network_to_nir`], [`network_to_safetensors`], [`export_run`])
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
//! `batch_norm`, the neuron kinds `alpha`, `adaptive`, `conductance`,
//! `stochastic`, a refractory period, graded spikes, and reset `none`. The *subtract* reset
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
//! | `layers.{i}.recurrent.weight`, `.recurrent.bias` | `[N, N]` (`(out, in)`), `[N]` | recurrent neuron, all-to-all (snnTorch `RLeaky.recurrent`, an `nn.Linear`) |
//! | `layers.{i}.recurrent.V` | `[N]` | recurrent neuron, one-to-one (snnTorch `RLeaky(V = …)`) |
//! | `layers.{i}.amplitude` | `[N]` | neuron with graded spikes |
//! | `layers.{i}.running_mean`, `.running_var`, `.gamma`, `.beta` | `[C]` | batch norm |
//!
//! `__metadata__` holds `spikeburn_config` (the [`NetworkConfig`] as JSON) and `format`
//! (`"spikeburn-safetensors-1"`). `tests/interop/load_safetensors_snntorch.py` builds the
//! equivalent snnTorch network from it.
//!
//! # Import ([`nir_to_network`], [`import_nir`])
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
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::prelude::*;
use spikeburn_core::lif::Reset;
use spikeburn_core::network::{Layer, LayerConfig, NetworkConfig, SpikingNetwork};
use spikeburn_core::neuron::{NeuronConfig, NeuronKind, NeuronModel};
use spikeburn_core::recurrent::{RecurrentKind, RecurrentLif};
use spikeburn_train::{ExperimentConfig, TrainError, trainer};

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
    /// Loading or writing the spikeburn run failed.
    #[error(transparent)]
    Train(#[from] TrainError),
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
        LayerConfig::Neuron { .. } => "neuron",
    }
}

/// The NIR graph of a network (see the [module docs](self)), and the warnings of an
/// approximate export.
pub fn network_to_nir(
    config: &NetworkConfig,
    net: &SpikingNetwork,
    options: &ExportOptions,
) -> Result<(NirGraph, Vec<String>), ConvertError> {
    let plan = config
        .plan()
        .map_err(|e| unsupported("network", e.to_string()))?;
    if plan.len() != net.layers.len() {
        return Err(unsupported(
            "network",
            format!(
                "the configuration has {} layers but the model {}",
                plan.len(),
                net.layers.len()
            ),
        ));
    }
    let dt = options.dt;
    let mut warnings = Vec::new();
    // Recurrent layers: (LIF node name, recurrent weight node), wired as a self-loop below.
    let mut loops: Vec<(String, Node)> = Vec::new();
    let mut nodes: Vec<(String, Node)> = vec![(
        "input".into(),
        Node::Input {
            shape: config.input.clone(),
        },
    )];
    for (i, (planned, layer)) in plan.iter().zip(&net.layers).enumerate() {
        let what = format!("{} ({})", name(i), layer_kind(&planned.layer));
        let n: usize = planned.output.iter().product();
        let node = match (&planned.layer, layer) {
            (_, Layer::Linear(linear)) => {
                // The model flattens a multi-dimensional sample before a linear layer (an MLP
                // on `input = [1, 28, 28]`): the graph must say so.
                if planned.input.len() > 1 {
                    nodes.push((
                        format!("{}{FLATTEN_SUFFIX}", name(i)),
                        Node::Flatten(Flatten {
                            start_dim: 0,
                            end_dim: -1,
                            input_shape: Some(planned.input.clone()),
                        }),
                    ));
                }
                let weight = transpose(linear.weight.val())?;
                match &linear.bias {
                    Some(b) => Node::Affine(Affine {
                        weight,
                        bias: array(b.val())?,
                    }),
                    None => Node::Linear(Linear { weight }),
                }
            }
            (
                LayerConfig::Conv2d {
                    channels,
                    kernel,
                    stride,
                    padding,
                    ..
                },
                Layer::Conv2d(conv),
            ) => {
                let pad = padding.unwrap_or(kernel / 2);
                Node::Conv2d(Conv {
                    input_shape: Some(planned.input[1..].to_vec()),
                    weight: array(conv.weight.val())?,
                    stride: vec![*stride; 2],
                    padding: Padding::Explicit(vec![pad; 2]),
                    dilation: vec![1, 1],
                    groups: 1,
                    bias: match &conv.bias {
                        Some(b) => array(b.val())?,
                        None => Array::vector(vec![0.0; *channels]),
                    },
                })
            }
            (LayerConfig::AvgPool2d { kernel, stride }, _) => {
                let s = stride.unwrap_or(*kernel);
                Node::AvgPool2d(Pool2d {
                    kernel_size: [*kernel; 2],
                    stride: [s; 2],
                    padding: [0, 0],
                })
            }
            (LayerConfig::Flatten, _) => Node::Flatten(Flatten {
                start_dim: 0,
                end_dim: -1,
                input_shape: Some(planned.input.clone()),
            }),
            (LayerConfig::Dropout { .. }, _) => continue,
            (LayerConfig::MaxPool2d { .. }, _) => {
                return Err(unsupported(
                    what,
                    "NIR has no max pooling (use avg_pool2d to export)",
                ));
            }
            (LayerConfig::BatchNorm, _) => {
                return Err(unsupported(
                    what,
                    "NIR has no batch normalisation (not folded into the weights)",
                ));
            }
            (LayerConfig::Neuron { neuron }, Layer::Neuron(layer)) => {
                let cfg = config.neuron_of(neuron);
                if layer.amplitude.is_some() {
                    return Err(unsupported(what, "NIR has no graded spikes"));
                }
                let check_reset = |reset: Reset, warnings: &mut Vec<String>| match reset {
                    Reset::Zero => Ok(()),
                    Reset::Subtract if options.allow_approximate => {
                        warnings.push(format!(
                            "{what}: subtract reset exported as NIR reset to v_reset = 0 (approximate: spikes differ after the first one)"
                        ));
                        Ok(())
                    }
                    Reset::Subtract => Err(unsupported(
                        what.clone(),
                        "subtract reset has no NIR equivalent (NIR resets to v_reset): train with reset = \"zero\" (`spikeburn train --set reset=zero`) for an exact export, or export approximately with --allow-approximate",
                    )),
                    Reset::None => Err(unsupported(
                        what.clone(),
                        "reset = \"none\" has no NIR equivalent",
                    )),
                };
                match &layer.model {
                    NeuronModel::Lif(lif) if cfg.kind == NeuronKind::If => {
                        check_reset(lif.reset, &mut warnings)?;
                        Node::If(If {
                            r: Array::vector(vec![(1.0 / dt) as f32; n]),
                            v_threshold: per_neuron(&lif.threshold, n, false)?,
                            v_reset: Array::vector(vec![0.0; n]),
                        })
                    }
                    NeuronModel::Lif(lif) => {
                        check_reset(lif.reset, &mut warnings)?;
                        let beta = per_neuron(&lif.beta, n, true)?;
                        let threshold = per_neuron(&lif.threshold, n, false)?;
                        Node::Lif(with_node(
                            mapping::lif_from_discrete(&beta, &threshold, dt),
                            &what,
                        )?)
                    }
                    NeuronModel::Synaptic(syn) => {
                        check_reset(syn.lif.reset, &mut warnings)?;
                        let alpha = per_neuron(&syn.alpha, n, true)?;
                        let beta = per_neuron(&syn.lif.beta, n, true)?;
                        let threshold = per_neuron(&syn.lif.threshold, n, false)?;
                        Node::CubaLif(with_node(
                            mapping::cuba_lif_from_discrete(&alpha, &beta, &threshold, dt),
                            &what,
                        )?)
                    }
                    NeuronModel::Integrator(li) => {
                        let beta = per_neuron(&li.beta, n, true)?;
                        Node::Li(with_node(mapping::li_from_discrete(&beta, dt), &what)?)
                    }
                    NeuronModel::Recurrent(rec) => {
                        check_reset(rec.lif.reset, &mut warnings)?;
                        let beta = per_neuron(&rec.lif.beta, n, true)?;
                        let threshold = per_neuron(&rec.lif.threshold, n, false)?;
                        loops.push((name(i), recurrent_node(rec, n, &what)?));
                        Node::Lif(with_node(
                            mapping::lif_from_discrete(&beta, &threshold, dt),
                            &what,
                        )?)
                    }
                    NeuronModel::Refractory(_) => {
                        return Err(unsupported(what, "NIR has no refractory period"));
                    }
                    _ => {
                        return Err(unsupported(
                            what,
                            format!(
                                "the {:?} neuron has no NIR counterpart (exportable: lif, if, synaptic, integrator, recurrent)",
                                cfg.kind
                            )
                            .to_lowercase(),
                        ));
                    }
                }
            }
            _ => {
                return Err(unsupported(
                    what,
                    "the model does not match its configuration",
                ));
            }
        };
        nodes.push((name(i), node));
    }
    let out_shape = plan.last().map(|p| p.output.clone()).unwrap_or_default();
    nodes.push(("output".into(), Node::Output { shape: out_shape }));
    let mut graph = NirGraph::sequential(nodes);
    for (lif, weight) in loops {
        let w = format!("{lif}{RECURRENT_SUFFIX}");
        graph.add_node(w.clone(), weight);
        graph.add_edge(lif.clone(), w.clone());
        graph.add_edge(w, lif);
    }
    graph.set_dt(dt);
    graph.metadata.insert(
        "spikeburn_encoder".into(),
        MetaValue::String(format!("{:?}", config.encoder)),
    );
    graph.metadata.insert(
        "spikeburn_num_steps".into(),
        MetaValue::Int(config.num_steps as i64),
    );
    crate::validate::validate(&graph)?;
    Ok((graph, warnings))
}

/// The recurrent weight node of a recurrent LIF layer: `Affine` (weight `(N, N)` in NIR's
/// `(out, in)` layout, and bias) for all-to-all, `Linear` with the diagonal `diag(v)` for
/// one-to-one (as snnTorch's `export_to_nir` writes `RLeaky`).
fn recurrent_node(rec: &RecurrentLif, n: usize, what: &str) -> Result<Node, ConvertError> {
    match (&rec.dense, &rec.diagonal) {
        (Some(linear), _) => {
            let weight = transpose(linear.weight.val())?;
            Ok(match &linear.bias {
                Some(b) => Node::Affine(Affine {
                    weight,
                    bias: array(b.val())?,
                }),
                None => Node::Linear(Linear { weight }),
            })
        }
        (None, Some(v)) => {
            let v = values(v.val())?;
            if v.len() != n {
                return Err(unsupported(
                    what,
                    format!("{} one-to-one recurrent weights for {n} neurons", v.len()),
                ));
            }
            let mut w = vec![0.0; n * n];
            for (o, x) in v.iter().enumerate() {
                w[o * n + o] = *x;
            }
            Ok(Node::Linear(Linear {
                weight: Array::new(vec![n, n], w)?,
            }))
        }
        (None, None) => Err(unsupported(
            what,
            "the recurrent layer holds no recurrent weights",
        )),
    }
}

fn with_node<T>(r: crate::Result<T>, what: &str) -> Result<T, ConvertError> {
    r.map_err(|e| match e {
        NirError::Mapping {
            quantity,
            value,
            expected,
            ..
        } => unsupported(
            what,
            format!("cannot convert `{quantity}` = {value}: expected {expected}"),
        ),
        other => other.into(),
    })
}

/// Tensors by name.
pub type NamedTensors = BTreeMap<String, Array>;

/// The network's weights as named tensors in PyTorch layout, and the metadata (layout in the
/// [module docs](self)).
pub fn network_to_safetensors(
    config: &NetworkConfig,
    net: &SpikingNetwork,
) -> Result<(NamedTensors, BTreeMap<String, String>), ConvertError> {
    let mut tensors = BTreeMap::new();
    for (i, layer) in net.layers.iter().enumerate() {
        let mut put = |key: &str, a: Array| {
            tensors.insert(format!("{}.{key}", name(i)), a);
        };
        match layer {
            Layer::Linear(l) => {
                put("weight", transpose(l.weight.val())?);
                if let Some(b) = &l.bias {
                    put("bias", array(b.val())?);
                }
            }
            Layer::Conv2d(c) => {
                put("weight", array(c.weight.val())?);
                if let Some(b) = &c.bias {
                    put("bias", array(b.val())?);
                }
            }
            Layer::BatchNorm(bn) => {
                put("gamma", array(bn.gamma.val())?);
                put("beta", array(bn.beta.val())?);
                put("running_mean", array(bn.running_mean.value())?);
                put("running_var", array(bn.running_var.value())?);
            }
            Layer::Neuron(nl) => {
                let (lif, alpha) = match &nl.model {
                    NeuronModel::Lif(l) => (Some(l), None),
                    NeuronModel::Refractory(r) => (Some(&r.lif), None),
                    NeuronModel::Synaptic(s) => (Some(&s.lif), Some(&s.alpha)),
                    NeuronModel::Alpha(a) => (Some(&a.lif), Some(&a.alpha)),
                    NeuronModel::Recurrent(r) => {
                        if let Some(d) = &r.dense {
                            put("recurrent.weight", transpose(d.weight.val())?);
                            if let Some(b) = &d.bias {
                                put("recurrent.bias", array(b.val())?);
                            }
                        }
                        if let Some(v) = &r.diagonal {
                            put("recurrent.V", array(v.val())?);
                        }
                        (Some(&r.lif), None)
                    }
                    NeuronModel::Adaptive(a) => (Some(&a.lif), None),
                    NeuronModel::Conductance(c) => (Some(&c.lif), Some(&c.alpha)),
                    NeuronModel::Stochastic(s) => (Some(&s.lif), None),
                    NeuronModel::Custom(c) => (Some(&c.lif), None),
                    NeuronModel::Integrator(li) => {
                        put("beta", array(li.beta.val())?);
                        (None, None)
                    }
                };
                if let Some(lif) = lif {
                    put("beta", array(lif.beta.val())?);
                    put("threshold", array(lif.threshold.val())?);
                }
                if let Some(alpha) = alpha {
                    put("alpha", array(alpha.val())?);
                }
                if let Some(a) = &nl.amplitude {
                    put("amplitude", array(a.val())?);
                }
            }
            _ => {}
        }
    }
    let json = serde_json::to_string(config)
        .map_err(|e| unsupported("network", format!("cannot serialise the config: {e}")))?;
    let metadata = BTreeMap::from([
        (SAFETENSORS_CONFIG_KEY.to_string(), json),
        ("format".to_string(), "spikeburn-safetensors-1".to_string()),
    ]);
    Ok((tensors, metadata))
}

/// What [`export_run`] wrote.
#[derive(Clone, Debug)]
pub struct ExportReport {
    /// The file written.
    pub path: PathBuf,
    /// The architecture summary (e.g. `784-1000-10`).
    pub summary: String,
    /// Warnings of an approximate export.
    pub warnings: Vec<String>,
}

/// Exports the trained model of a run directory (`config.toml` + `model.bpk`, as written by
/// `spikeburn train` or [`import_nir`]) to `out` in `format`, atomically.
pub fn export_run(
    run_dir: &Path,
    format: ExportFormat,
    out: &Path,
    options: &ExportOptions,
) -> Result<ExportReport, ConvertError> {
    let config = trainer::load_run_config(run_dir)?;
    let device = config.training.backend.device().map_err(TrainError::from)?;
    let net = trainer::load_run_model(run_dir, &config, &device)?;
    let warnings = match format {
        ExportFormat::Nir => {
            let (graph, warnings) = network_to_nir(&config.model, &net, options)?;
            crate::write::write_nir(out, &graph)?;
            warnings
        }
        ExportFormat::Safetensors => {
            let (tensors, metadata) = network_to_safetensors(&config.model, &net)?;
            crate::safetensors::write_safetensors(out, &tensors, &metadata)?;
            Vec::new()
        }
    };
    Ok(ExportReport {
        path: out.to_path_buf(),
        summary: config.model.summary(),
        warnings,
    })
}

/// Weights read from an NIR graph, per layer of the imported [`NetworkConfig`].
#[derive(Clone, Debug, PartialEq)]
pub enum LayerWeights {
    /// A layer without parameters.
    None,
    /// `linear`: weight `(out, in)` (NIR layout) and optional bias.
    Linear(Array, Option<Array>),
    /// `conv2d`: weight `(out, in, kh, kw)` and bias.
    Conv2d(Array, Array),
    /// A neuron layer: `β` (or `[1]`), threshold, `α` for synaptic, and the recurrent
    /// weights of a recurrent LIF.
    Neuron {
        /// `β`, `[1]` or `[N]`.
        beta: Array,
        /// `θ`, `[1]` or `[N]` (ignored by an integrator).
        threshold: Array,
        /// `α` of a synaptic neuron.
        alpha: Option<Array>,
        /// The recurrent connection of a `recurrent` neuron.
        recurrent: Option<RecurrentWeights>,
    },
}

/// The recurrent connection of an imported recurrent LIF layer (`V(S)` in
/// [`spikeburn_core::recurrent`]), with the LIF's input gain already applied.
#[derive(Clone, Debug, PartialEq)]
pub enum RecurrentWeights {
    /// All-to-all: `V(S) = W S + b`.
    AllToAll {
        /// `W`, `(N, N)` in NIR's `(out, in)` layout.
        weight: Array,
        /// `b`, `(N)` (zeros for an NIR `Linear`).
        bias: Array,
    },
    /// One-to-one: `V(S) = v ⊙ S`, `v` of shape `(N)` (the diagonal of an NIR `Linear` whose
    /// off-diagonal elements are all zero).
    OneToOne(Array),
}

impl RecurrentWeights {
    fn kind(&self) -> RecurrentKind {
        match self {
            Self::AllToAll { .. } => RecurrentKind::AllToAll,
            Self::OneToOne(_) => RecurrentKind::OneToOne,
        }
    }
}

/// An NIR graph converted to spikeburn terms (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedNetwork {
    /// The network description.
    pub config: NetworkConfig,
    /// The weights, one entry per layer of `config.layers`.
    pub weights: Vec<LayerWeights>,
    /// The `dt` used (from the metadata or the default).
    pub dt: f64,
}

/// One value when all elements are equal, else the array itself.
fn collapse(a: &Array) -> (Option<f32>, Array) {
    let d = a.data();
    match d.first() {
        Some(&v) if d.iter().all(|&x| x == v) => (Some(v), Array::vector(vec![v])),
        _ => (None, Array::vector(d.to_vec())),
    }
}

fn broadcast(a: &Array, n: usize, what: &str, field: &str) -> Result<Vec<f32>, ConvertError> {
    match a.len() {
        1 => Ok(vec![a.data()[0]; n]),
        len if len == n => Ok(a.data().to_vec()),
        len => Err(unsupported(
            what,
            format!("`{field}` has {len} elements for {n} neurons"),
        )),
    }
}

/// Converts a sequential NIR graph to a network description and weights.
pub fn nir_to_network(graph: &NirGraph) -> Result<ImportedNetwork, ConvertError> {
    crate::validate::validate(graph)?;
    let order = crate::validate::execution_order(graph)?;
    let loops = recurrent_loops(graph, &order.recurrent_edges)?;
    // An edge of a LIF's recurrent loop (`lif -> w` or `w -> lif`), not part of the chain.
    let on_loop = |a: &str, b: &str| {
        loops.get(a).is_some_and(|w| *w == b) || loops.get(b).is_some_and(|w| *w == a)
    };
    let dt = graph.dt().unwrap_or(DEFAULT_DT);
    let inputs = graph.inputs();
    let [input] = inputs.as_slice() else {
        return Err(unsupported(
            "graph",
            format!("expected one Input node, found {}", inputs.len()),
        ));
    };
    // Walk the chain from the input.
    let mut chain = Vec::new();
    let mut current = input.to_string();
    loop {
        let succ: Vec<&str> = graph
            .successors(&current)
            .into_iter()
            .filter(|next| !on_loop(&current, next))
            .collect();
        match succ.as_slice() {
            [] => break,
            [next] => {
                let inputs = graph
                    .predecessors(next)
                    .into_iter()
                    .filter(|p| !on_loop(p, next))
                    .count();
                if inputs != 1 {
                    return Err(unsupported(
                        format!("node `{next}`"),
                        "has several inputs; spikeburn imports chains (one edge into and out of each node)",
                    ));
                }
                current = next.to_string();
                chain.push(current.clone());
            }
            _ => {
                return Err(unsupported(
                    format!("node `{current}`"),
                    "has several outputs; spikeburn imports chains (one edge into and out of each node)",
                ));
            }
        }
    }
    if chain.len() + 1 + loops.len() != graph.nodes.len() {
        return Err(unsupported(
            "graph",
            "nodes not on the chain from the input; spikeburn imports chains",
        ));
    }
    let mut input_shape = match graph.node(input) {
        Some(Node::Input { shape }) => shape.clone(),
        _ => Vec::new(),
    };
    // A leading batch dimension of 1 (as some exporters write) is dropped.
    if input_shape.len() > 1 && input_shape[0] == 1 && input_shape.len() != 3 {
        input_shape.remove(0);
    }
    let mut layers: Vec<LayerConfig> = Vec::new();
    let mut weights: Vec<LayerWeights> = Vec::new();
    let mut last_output = false;
    for node_name in &chain {
        let what = format!("node `{node_name}`");
        let Some(node) = graph.node(node_name) else {
            continue;
        };
        if last_output {
            return Err(unsupported(what, "comes after the Output node"));
        }
        match node {
            Node::Output { .. } => last_output = true,
            Node::Affine(a) => {
                layers.push(LayerConfig::Linear {
                    size: a.weight.shape()[0],
                    bias: true,
                });
                weights.push(LayerWeights::Linear(a.weight.clone(), Some(a.bias.clone())));
            }
            Node::Linear(l) => {
                layers.push(LayerConfig::Linear {
                    size: l.weight.shape()[0],
                    bias: false,
                });
                weights.push(LayerWeights::Linear(l.weight.clone(), None));
            }
            Node::Conv2d(c) => {
                let s = c.weight.shape();
                let square = |v: &[usize]| v.len() == 2 && v[0] == v[1];
                let pad = match &c.padding {
                    Padding::Explicit(p) if square(p) => p[0],
                    Padding::Valid => 0,
                    Padding::Same if s[2] % 2 == 1 => s[2] / 2,
                    other => {
                        return Err(unsupported(
                            what,
                            format!("padding {other:?} (spikeburn: equal padding on both axes)"),
                        ));
                    }
                };
                if s[2] != s[3]
                    || !square(&c.stride)
                    || c.dilation.iter().any(|&d| d != 1)
                    || c.groups != 1
                {
                    return Err(unsupported(
                        what,
                        "spikeburn's conv2d needs a square kernel, equal strides, dilation 1, groups 1",
                    ));
                }
                layers.push(LayerConfig::Conv2d {
                    channels: s[0],
                    kernel: s[2],
                    stride: c.stride[0],
                    padding: Some(pad),
                    bias: true,
                });
                weights.push(LayerWeights::Conv2d(c.weight.clone(), c.bias.clone()));
            }
            Node::AvgPool2d(p) => {
                if p.kernel_size[0] != p.kernel_size[1]
                    || p.stride[0] != p.stride[1]
                    || p.padding != [0, 0]
                {
                    return Err(unsupported(
                        what,
                        "spikeburn's avg_pool2d needs a square window, equal strides, no padding",
                    ));
                }
                layers.push(LayerConfig::AvgPool2d {
                    kernel: p.kernel_size[0],
                    stride: Some(p.stride[0]),
                });
                weights.push(LayerWeights::None);
            }
            Node::Flatten(_) => {
                layers.push(LayerConfig::Flatten);
                weights.push(LayerWeights::None);
            }
            Node::Lif(lif) => {
                let recurrent = loops
                    .get(node_name.as_str())
                    .and_then(|w| Some((w.to_string(), graph.node(w)?)));
                push_lif(
                    &mut layers,
                    &mut weights,
                    &what,
                    lif,
                    recurrent.as_ref().map(|(w, node)| (w.as_str(), *node)),
                    dt,
                )?;
            }
            Node::Graph(sub) => {
                let (lif, (w, node)) = rnn_subgraph(sub, node_name)?;
                push_lif(
                    &mut layers,
                    &mut weights,
                    &what,
                    lif,
                    Some((&format!("{node_name}/{w}"), node)),
                    dt,
                )?;
            }
            Node::If(n) => {
                let gain = n.r.map(|r| r * dt as f32);
                let zeros = Array::scalar(0.0);
                push_neuron(
                    &mut layers,
                    &mut weights,
                    &what,
                    NeuronKind::If,
                    &Array::scalar(1.0),
                    &n.v_threshold,
                    None,
                    &gain,
                    &zeros,
                    &n.v_reset,
                    None,
                )?;
            }
            Node::Li(li) => {
                let d = with_node(mapping::li_to_discrete(li, dt), &what)?;
                push_neuron(
                    &mut layers,
                    &mut weights,
                    &what,
                    NeuronKind::Integrator,
                    &d.beta,
                    &Array::scalar(1.0),
                    None,
                    &d.gain,
                    &d.bias,
                    &Array::scalar(0.0),
                    None,
                )?;
            }
            Node::CubaLif(c) => {
                let d = with_node(mapping::cuba_lif_to_discrete(c, dt), &what)?;
                let m = &d.membrane;
                let n = m.beta.len().max(d.synaptic_gain.len());
                let gs = broadcast(&d.synaptic_gain, n, &what, "w_in")?;
                let gm = broadcast(&m.gain, n, &what, "r")?;
                let gain = Array::vector(gs.iter().zip(&gm).map(|(a, b)| a * b).collect());
                // The leak bias enters the membrane directly; through the synapse it would
                // be filtered, so only v_leak = 0 is exact.
                if m.bias.data().iter().any(|&b| b != 0.0) {
                    return Err(unsupported(what, "CubaLIF with v_leak != 0"));
                }
                push_neuron(
                    &mut layers,
                    &mut weights,
                    &what,
                    NeuronKind::Synaptic,
                    &m.beta,
                    &c.v_threshold,
                    Some(&d.alpha),
                    &gain,
                    &m.bias,
                    &c.v_reset,
                    None,
                )?;
            }
            Node::Input { .. } => return Err(unsupported(what, "a second Input on the chain")),
            other => {
                return Err(unsupported(
                    what,
                    format!(
                        "NIR {} is not imported (supported: Affine, Linear, Conv2d, AvgPool2d, Flatten, LIF, IF, LI, CubaLIF, and a LIF's recurrent loop through an Affine or Linear node)",
                        other.type_name()
                    ),
                ));
            }
        }
    }
    let config = NetworkConfig {
        input: input_shape,
        num_steps: graph
            .metadata
            .get("spikeburn_num_steps")
            .and_then(MetaValue::as_f64)
            .map_or(25, |v| v as usize),
        layers,
        ..NetworkConfig::default()
    };
    config
        .validate()
        .map_err(|e| unsupported("imported network", e.to_string()))?;
    Ok(ImportedNetwork {
        config,
        weights,
        dt,
    })
}

/// The recurrent loops of a graph, from its recurrent edges (see
/// [`crate::validate::execution_order`]): for each LIF node with a recurrent input, the name of
/// the `Affine`/`Linear` node that feeds the LIF's output back to it (snnTorch's `RLeaky`
/// pattern `lif -> w -> lif`), the only recurrence spikeburn imports. Any other recurrent edge
/// is refused with an error naming it.
fn recurrent_loops<'g>(
    graph: &'g NirGraph,
    recurrent: &'g [Edge],
) -> Result<BTreeMap<&'g str, &'g str>, ConvertError> {
    let mut loops = BTreeMap::new();
    for e in recurrent {
        let (w, lif) = (e.source.as_str(), e.target.as_str());
        let what = format!("recurrent edge `{w}` -> `{lif}`");
        let target = graph.node(lif).map_or("?", Node::type_name);
        if w == lif {
            return Err(unsupported(
                what,
                format!(
                    "the {target} node `{lif}` feeds its output straight back to itself; spikeburn imports recurrence as a LIF's self-loop through one Affine or Linear node (`lif -> w_rec -> lif`, snnTorch's RLeaky pattern)"
                ),
            ));
        }
        if !matches!(graph.node(lif), Some(Node::Lif(_))) {
            return Err(unsupported(
                what,
                format!(
                    "recurrent input into the {target} node `{lif}`: spikeburn's recurrent neuron (kind = \"recurrent\") is a LIF, so only LIF nodes may have a recurrent loop (a recurrent CubaLIF, snnTorch's RSynaptic, or IF / LI is not imported)"
                ),
            ));
        }
        let weight = matches!(graph.node(w), Some(Node::Affine(_) | Node::Linear(_)));
        if !weight || graph.predecessors(w) != [lif] || graph.successors(w) != [lif] {
            return Err(unsupported(
                what,
                format!(
                    "the loop through `{w}` is not a LIF's self-loop through one Affine or Linear node (`{lif}` -> `{w}` -> `{lif}` and no other edge into or out of `{w}`; snnTorch's RLeaky pattern), the only recurrence spikeburn imports"
                ),
            ));
        }
        if let Some(other) = loops.insert(lif, w) {
            return Err(unsupported(
                format!("node `{lif}`"),
                format!(
                    "has two recurrent loops (through `{other}` and `{w}`); spikeburn's recurrent LIF has one recurrent weight"
                ),
            ));
        }
    }
    Ok(loops)
}

/// The LIF and the recurrent weight node (with its name) of a nested graph `name` in
/// snnTorch's `RLeaky` form (what snnTorch's `_extract_snntorch_module` builds before nirtorch
/// flattens it into the parent graph): exactly an `Input`, an `Output`, a `LIF` and an
/// `Affine`/`Linear` node `w` with the edges `input -> lif -> output` and `lif -> w -> lif`.
fn rnn_subgraph<'g>(
    sub: &'g NirGraph,
    name: &str,
) -> Result<(&'g Lif, (&'g str, &'g Node)), ConvertError> {
    let what = format!("node `{name}` (nested graph)");
    let expected = "a nested graph is imported only in snnTorch's RLeaky form: Input -> LIF -> Output, with the LIF's output fed back to it through one Affine or Linear node";
    let of = |pred: fn(&Node) -> bool| -> Vec<(&'g str, &'g Node)> {
        sub.nodes
            .iter()
            .filter(|(_, e)| pred(&e.node))
            .map(|(k, e)| (k.as_str(), &e.node))
            .collect()
    };
    let inputs = of(|n| matches!(n, Node::Input { .. }));
    let outputs = of(|n| matches!(n, Node::Output { .. }));
    let lifs = of(|n| matches!(n, Node::Lif(_)));
    let weights = of(|n| matches!(n, Node::Affine(_) | Node::Linear(_)));
    let types = || {
        sub.nodes
            .iter()
            .map(|(k, e)| format!("{k}: {}", e.node.type_name()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let ([(input, _)], [(output, _)], [(lif_name, Node::Lif(lif))], [(w, weight)]) = (
        inputs.as_slice(),
        outputs.as_slice(),
        lifs.as_slice(),
        weights.as_slice(),
    ) else {
        return Err(unsupported(
            what,
            format!("{expected}; it holds {}", types()),
        ));
    };
    if sub.nodes.len() != 4 {
        return Err(unsupported(
            what,
            format!("{expected}; it holds {}", types()),
        ));
    }
    let mut edges: Vec<(&str, &str)> = sub
        .edges
        .iter()
        .map(|e| (e.source.as_str(), e.target.as_str()))
        .collect();
    edges.sort_unstable();
    let mut want = vec![
        (*input, *lif_name),
        (*lif_name, *w),
        (*w, *lif_name),
        (*lif_name, *output),
    ];
    want.sort_unstable();
    if edges != want {
        let list = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| format!("{a} -> {b}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(unsupported(
            what,
            format!(
                "{expected}; its edges are {}, expected {}",
                list(&edges),
                list(&want)
            ),
        ));
    }
    Ok((lif, (w, weight)))
}

/// Appends a LIF layer (`lif`, or `recurrent` when the node has a recurrent loop through the
/// weight node `recurrent`).
fn push_lif(
    layers: &mut Vec<LayerConfig>,
    weights: &mut Vec<LayerWeights>,
    what: &str,
    lif: &Lif,
    recurrent: Option<(&str, &Node)>,
    dt: f64,
) -> Result<(), ConvertError> {
    let d = with_node(mapping::lif_to_discrete(lif, dt), what)?;
    let threshold = d.threshold.clone().unwrap_or(Array::scalar(1.0));
    let kind = if recurrent.is_some() {
        NeuronKind::Recurrent
    } else {
        NeuronKind::Lif
    };
    push_neuron(
        layers,
        weights,
        what,
        kind,
        &d.beta,
        &threshold,
        None,
        &d.gain,
        &d.bias,
        &lif.v_reset,
        recurrent,
    )
}

/// The recurrent weights of a LIF's loop node `name`, multiplied row by row by the LIF's
/// input gain `gain` (`[1]` or `[N]`). A `Linear` whose off-diagonal elements are all zero is
/// one-to-one (as snnTorch's importer reads it), anything else all-to-all.
fn recurrent_weights(
    name: &str,
    node: &Node,
    gain: &Array,
) -> Result<RecurrentWeights, ConvertError> {
    let what = format!("node `{name}` (recurrent weight)");
    let (weight, bias) = match node {
        Node::Affine(a) => (&a.weight, Some(&a.bias)),
        Node::Linear(l) => (&l.weight, None),
        other => {
            return Err(unsupported(
                what,
                format!(
                    "a {} node cannot be a recurrent weight (expected Affine or Linear)",
                    other.type_name()
                ),
            ));
        }
    };
    let n = match *weight.shape() {
        [rows, cols] if rows == cols => rows,
        _ => {
            return Err(unsupported(
                what,
                format!(
                    "weight of shape {:?}, a recurrent weight must be square (N, N)",
                    weight.shape()
                ),
            ));
        }
    };
    let g = broadcast(gain, n, &what, "input gain r·dt/τ of the LIF")?;
    let w = weight.data();
    let diagonal = bias.is_none()
        && w.chunks_exact(n.max(1))
            .enumerate()
            .all(|(o, row)| row.iter().enumerate().all(|(k, &x)| k == o || x == 0.0));
    if diagonal {
        return Ok(RecurrentWeights::OneToOne(Array::vector(
            (0..n).map(|o| g[o] * w[o * n + o]).collect(),
        )));
    }
    let scaled: Vec<f32> = w
        .chunks_exact(n.max(1))
        .zip(&g)
        .flat_map(|(row, &go)| row.iter().map(move |x| x * go))
        .collect();
    let b = match bias {
        Some(b) => broadcast(b, n, &what, "bias")?,
        None => vec![0.0; n],
    };
    Ok(RecurrentWeights::AllToAll {
        weight: Array::new(vec![n, n], scaled)?,
        bias: Array::vector(b.iter().zip(&g).map(|(b, g)| b * g).collect()),
    })
}

/// Appends a neuron layer, folding its input gain and leak bias into the preceding layer.
#[allow(clippy::too_many_arguments)]
fn push_neuron(
    layers: &mut Vec<LayerConfig>,
    weights: &mut Vec<LayerWeights>,
    what: &str,
    kind: NeuronKind,
    beta: &Array,
    threshold: &Array,
    alpha: Option<&Array>,
    gain: &Array,
    bias: &Array,
    v_reset: &Array,
    recurrent: Option<(&str, &Node)>,
) -> Result<(), ConvertError> {
    if v_reset.data().iter().any(|&v| v != 0.0) {
        return Err(unsupported(
            what,
            "v_reset != 0 (spikeburn neurons reset to zero)",
        ));
    }
    let unit_gain = gain.data().iter().all(|&g| (g - 1.0).abs() <= 1e-6);
    let no_bias = bias.data().iter().all(|&b| b == 0.0);
    if !(unit_gain && no_bias) {
        match weights.last_mut() {
            Some(LayerWeights::Linear(w, b)) => {
                let (out, inp) = (w.shape()[0], w.shape()[1]);
                let g = broadcast(gain, out, what, "gain")?;
                let c = broadcast(bias, out, what, "v_leak")?;
                let mut data = w.data().to_vec();
                for (o, row) in data.chunks_exact_mut(inp).enumerate() {
                    row.iter_mut().for_each(|x| *x *= g[o]);
                }
                *w = Array::new(vec![out, inp], data)?;
                let old = b.as_ref().map_or(vec![0.0; out], |b| b.data().to_vec());
                *b = Some(Array::vector(
                    old.iter()
                        .enumerate()
                        .map(|(o, v)| v * g[o] + c[o])
                        .collect(),
                ));
                if let Some(LayerConfig::Linear { bias, .. }) = layers.last_mut() {
                    *bias = true;
                }
            }
            Some(LayerWeights::Conv2d(w, b)) if no_bias => match collapse(gain).0 {
                Some(g) => {
                    *w = w.map(|x| x * g);
                    *b = b.map(|x| x * g);
                }
                None => {
                    return Err(unsupported(
                        what,
                        "a per-neuron input gain r·dt/τ after a convolution cannot be folded into it",
                    ));
                }
            },
            _ => {
                return Err(unsupported(
                    what,
                    "input gain r·dt/τ != 1 or v_leak != 0 without a preceding Affine/Linear to fold it into",
                ));
            }
        }
    }
    // The gain applies to all of the neuron's input current, the recurrent part included.
    let recurrent = recurrent
        .map(|(name, node)| recurrent_weights(name, node, gain))
        .transpose()?;
    let (beta_one, beta) = collapse(beta);
    let (theta_one, threshold) = collapse(threshold);
    let alpha = alpha.map(collapse);
    let per_neuron =
        beta_one.is_none() || theta_one.is_none() || alpha.as_ref().is_some_and(|a| a.0.is_none());
    let neuron = NeuronConfig {
        kind,
        beta: beta_one.unwrap_or(0.9),
        threshold: theta_one.unwrap_or(1.0),
        alpha: alpha.as_ref().and_then(|a| a.0).unwrap_or(0.9),
        reset: Reset::Zero,
        per_neuron,
        recurrent: recurrent
            .as_ref()
            .map_or(RecurrentKind::default(), RecurrentWeights::kind),
        ..NeuronConfig::default()
    };
    weights.push(LayerWeights::Neuron {
        beta,
        threshold,
        alpha: alpha.map(|a| a.1),
        recurrent,
    });
    layers.push(LayerConfig::Neuron {
        neuron: Some(neuron),
    });
    Ok(())
}

fn tensor<const D: usize>(a: &Array, dims: [usize; D], device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::from_data(
        TensorData::new(a.data().to_vec(), dims),
        device,
    ))
}

fn shape_err(what: String, field: &str, found: &[usize], expected: &[usize]) -> ConvertError {
    unsupported(
        what,
        format!("`{field}` has shape {found:?}, the network needs {expected:?}"),
    )
}

/// NIR's `(out, in)` weight layout to burn's `[in, out]`.
fn to_burn(weight: &Array, out: usize, inp: usize) -> Result<Array, ConvertError> {
    let mut t = vec![0.0; out * inp];
    for (o, row) in weight.data().chunks_exact(inp.max(1)).enumerate().take(out) {
        for (k, &x) in row.iter().enumerate() {
            t[k * out + o] = x;
        }
    }
    Ok(Array::new(vec![inp, out], t)?)
}

/// Sets the recurrent weights of a recurrent LIF layer of `n` neurons.
fn set_recurrent(
    rec: &mut RecurrentLif,
    weights: &RecurrentWeights,
    n: usize,
    what: &str,
    device: &Device,
) -> Result<(), ConvertError> {
    match (weights, &mut rec.dense, &mut rec.diagonal) {
        (RecurrentWeights::AllToAll { weight, bias }, Some(linear), _) => {
            if weight.shape() != [n, n] {
                return Err(shape_err(
                    what.to_string(),
                    "recurrent weight",
                    weight.shape(),
                    &[n, n],
                ));
            }
            if bias.shape() != [n] {
                return Err(shape_err(
                    what.to_string(),
                    "recurrent bias",
                    bias.shape(),
                    &[n],
                ));
            }
            linear.weight = tensor(&to_burn(weight, n, n)?, [n, n], device);
            linear.bias = Some(tensor(bias, [n], device));
        }
        (RecurrentWeights::OneToOne(v), None, Some(diagonal)) => {
            if v.shape() != [n] {
                return Err(shape_err(
                    what.to_string(),
                    "recurrent weight",
                    v.shape(),
                    &[n],
                ));
            }
            *diagonal = tensor(v, [n], device);
        }
        _ => {
            return Err(unsupported(
                what,
                "the recurrent weights do not match the layer's recurrent connection (all-to-all or one-to-one)",
            ));
        }
    }
    Ok(())
}

/// Builds the model of an imported network on `device`, with its weights.
pub fn build_network(
    imported: &ImportedNetwork,
    device: &Device,
) -> Result<SpikingNetwork, ConvertError> {
    let config = &imported.config;
    let plan = config
        .plan()
        .map_err(|e| unsupported("imported network", e.to_string()))?;
    let mut net = config.init(0, device);
    for (i, ((layer, w), planned)) in net
        .layers
        .iter_mut()
        .zip(&imported.weights)
        .zip(&plan)
        .enumerate()
    {
        let what = name(i);
        let fan_in: usize = planned.input.iter().product();
        let n: usize = planned.output.iter().product();
        match (layer, w) {
            (Layer::Linear(linear), LayerWeights::Linear(weight, bias)) => {
                if weight.shape() != [n, fan_in] {
                    return Err(shape_err(what, "weight", weight.shape(), &[n, fan_in]));
                }
                linear.weight = tensor(&to_burn(weight, n, fan_in)?, [fan_in, n], device);
                linear.bias = match bias {
                    Some(b) if b.len() == n => Some(tensor(b, [n], device)),
                    Some(b) => return Err(shape_err(what, "bias", b.shape(), &[n])),
                    None => None,
                };
            }
            (Layer::Conv2d(conv), LayerWeights::Conv2d(weight, bias)) => {
                let dims = conv.weight.val().dims();
                if weight.shape() != dims {
                    return Err(shape_err(what, "weight", weight.shape(), &dims));
                }
                conv.weight = tensor(weight, dims, device);
                if bias.len() != dims[0] {
                    return Err(shape_err(what, "bias", bias.shape(), &[dims[0]]));
                }
                conv.bias = Some(tensor(bias, [dims[0]], device));
            }
            (
                Layer::Neuron(layer),
                LayerWeights::Neuron {
                    beta,
                    threshold,
                    alpha,
                    recurrent,
                },
            ) => {
                let size = |a: &Array| {
                    let len = a.len();
                    if len == 1 || len == n {
                        Ok(len)
                    } else {
                        Err(shape_err(what.clone(), "parameter", a.shape(), &[n]))
                    }
                };
                // Per-neuron layers hold [N] parameters, shared ones [1].
                let fit = |a: &Array, per: bool| -> Result<Array, ConvertError> {
                    size(a)?;
                    Ok(if per && a.len() == 1 {
                        Array::vector(vec![a.data()[0]; n])
                    } else {
                        a.clone()
                    })
                };
                let set = |p: &mut Param<Tensor<1>>, a: &Array| -> Result<(), ConvertError> {
                    let per = p.val().dims()[0] == n && n > 1;
                    let a = fit(a, per)?;
                    let require_grad = p.is_require_grad();
                    *p = tensor(&a, [a.len()], device).set_require_grad(require_grad);
                    Ok(())
                };
                match (&mut layer.model, recurrent) {
                    (NeuronModel::Recurrent(rec), Some(weights)) => {
                        set(&mut rec.lif.beta, beta)?;
                        set(&mut rec.lif.threshold, threshold)?;
                        set_recurrent(rec, weights, n, &what, device)?;
                    }
                    (_, Some(_)) => {
                        return Err(unsupported(
                            what,
                            "recurrent weights for a neuron layer that is not recurrent",
                        ));
                    }
                    (NeuronModel::Lif(lif), None) => {
                        set(&mut lif.beta, beta)?;
                        set(&mut lif.threshold, threshold)?;
                    }
                    (NeuronModel::Synaptic(syn), None) => {
                        set(&mut syn.lif.beta, beta)?;
                        set(&mut syn.lif.threshold, threshold)?;
                        if let Some(a) = alpha {
                            set(&mut syn.alpha, a)?;
                        }
                    }
                    (NeuronModel::Integrator(li), None) => set(&mut li.beta, beta)?,
                    (NeuronModel::Recurrent(_), None) => {
                        return Err(unsupported(
                            what,
                            "a recurrent neuron layer without recurrent weights",
                        ));
                    }
                    _ => return Err(unsupported(what, "unexpected neuron model")),
                }
            }
            (_, LayerWeights::None) => {}
            _ => return Err(unsupported(what, "weights do not match the layer")),
        }
    }
    Ok(net)
}

/// What [`import_nir`] wrote.
#[derive(Clone, Debug)]
pub struct ImportReport {
    /// The run directory written (`config.toml`, `model.bpk`).
    pub run_dir: PathBuf,
    /// The architecture summary.
    pub summary: String,
    /// The `dt` used for the mapping.
    pub dt: f64,
}

/// Reads the NIR file `file` and writes a run directory `out_dir` (`config.toml` with the
/// imported network and default data/training settings, `model.bpk` with the weights) that
/// `spikeburn eval --model OUT_DIR` and [`trainer::load_run_model`] accept. The directory is
/// assembled under a temporary name and renamed into place; an existing non-empty `out_dir`
/// is refused.
pub fn import_nir(file: &Path, out_dir: &Path) -> Result<ImportReport, ConvertError> {
    let nir = crate::read::read_nir(file)?;
    let imported = nir_to_network(&nir.graph).map_err(|e| match e {
        ConvertError::Unsupported { what, reason } => ConvertError::Unsupported {
            what: format!("{}: {what}", file.display()),
            reason,
        },
        ConvertError::Nir(e) => ConvertError::Nir(e.with_file(file)),
        other => other,
    })?;
    let io = |path: &Path, action: &'static str| {
        let path = path.to_path_buf();
        move |source| ConvertError::Io {
            path,
            action,
            source,
        }
    };
    if out_dir.exists()
        && std::fs::read_dir(out_dir)
            .map_err(io(out_dir, "reading"))?
            .next()
            .is_some()
    {
        return Err(ConvertError::Io {
            path: out_dir.to_path_buf(),
            action: "creating the run directory",
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "exists and is not empty",
            ),
        });
    }
    let experiment = ExperimentConfig {
        model: imported.config.clone(),
        ..ExperimentConfig::default()
    };
    let device = experiment
        .training
        .backend
        .device()
        .map_err(TrainError::from)?;
    let net = build_network(&imported, &device)?;
    let parent = match out_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent, "creating"))?;
    let tmp = tempfile::Builder::new()
        .prefix(".spikeburn-import-")
        .tempdir_in(&parent)
        .map_err(io(&parent, "creating a temporary directory in"))?;
    let config_path = tmp.path().join("config.toml");
    std::fs::write(&config_path, experiment.to_toml()).map_err(io(&config_path, "writing"))?;
    let model_path = tmp.path().join("model.bpk");
    net.save_file(&model_path)
        .map_err(|e| TrainError::record(&out_dir.join("model.bpk"), e))?;
    if out_dir.exists() {
        std::fs::remove_dir(out_dir).map_err(io(out_dir, "replacing the empty directory"))?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, out_dir).map_err(|source| {
        let _ = std::fs::remove_dir_all(&kept);
        ConvertError::Io {
            path: out_dir.to_path_buf(),
            action: "renaming the assembled run directory to",
            source,
        }
    })?;
    Ok(ImportReport {
        run_dir: out_dir.to_path_buf(),
        summary: imported.config.summary(),
        dt: imported.dt,
    })
}

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
