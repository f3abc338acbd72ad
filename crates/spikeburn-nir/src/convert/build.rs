//! Import, second half: the imported description and weights as a spikeburn network and run
//! folder.

use super::*;

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
    pub(super) fn kind(&self) -> RecurrentKind {
        match self {
            Self::AllToAll { .. } => RecurrentKind::AllToAll,
            Self::OneToOne(_) => RecurrentKind::OneToOne,
        }
    }
}

/// An NIR graph converted to spikeburn terms (see the [module docs](crate::convert)).
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
pub(super) fn collapse(a: &Array) -> (Option<f32>, Array) {
    let d = a.data();
    match d.first() {
        Some(&v) if d.iter().all(|&x| x == v) => (Some(v), Array::vector(vec![v])),
        _ => (None, Array::vector(d.to_vec())),
    }
}

pub(super) fn broadcast(
    a: &Array,
    n: usize,
    what: &str,
    field: &str,
) -> Result<Vec<f32>, ConvertError> {
    match a.len() {
        1 => Ok(vec![a.data()[0]; n]),
        len if len == n => Ok(a.data().to_vec()),
        len => Err(unsupported(
            what,
            format!("`{field}` has {len} elements for {n} neurons"),
        )),
    }
}

pub(super) fn tensor<const D: usize>(
    a: &Array,
    dims: [usize; D],
    device: &Device,
) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::from_data(
        TensorData::new(a.data().to_vec(), dims),
        device,
    ))
}

pub(super) fn shape_err(
    what: String,
    field: &str,
    found: &[usize],
    expected: &[usize],
) -> ConvertError {
    unsupported(
        what,
        format!("`{field}` has shape {found:?}, the network needs {expected:?}"),
    )
}

/// NIR's `(out, in)` weight layout to burn's `[in, out]`.
pub(super) fn to_burn(weight: &Array, out: usize, inp: usize) -> Result<Array, ConvertError> {
    let mut t = vec![0.0; out * inp];
    for (o, row) in weight.data().chunks_exact(inp.max(1)).enumerate().take(out) {
        for (k, &x) in row.iter().enumerate() {
            t[k * out + o] = x;
        }
    }
    Ok(Array::new(vec![inp, out], t)?)
}

/// Sets the recurrent weights of a recurrent LIF layer of `n` neurons.
pub(super) fn set_recurrent(
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
