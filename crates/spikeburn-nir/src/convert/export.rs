//! Export: a network and its weights to an NIR graph or safetensors, and a run folder to a
//! file.

use super::*;

/// The NIR graph of a network (see the [module docs](crate::convert)), and the warnings of an
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
            (LayerConfig::Delay(_), _) => {
                return Err(unsupported(
                    what,
                    "spikeburn's NIR exporter does not write delays yet (export the weights and delays with --format safetensors)",
                ));
            }
            (LayerConfig::DelayedLinear { .. }, _) => {
                return Err(unsupported(
                    what,
                    "NIR has no per-synapse delays (export the weights and delays with --format safetensors)",
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
                    NeuronModel::Lif(lif) if cfg.kind() == NeuronKind::If => {
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
                    _ => {
                        let reason = match cfg.model.nir() {
                            NirMapping::Unsupported(reason) => reason,
                            NirMapping::Node(_) => "its conversion is not written",
                        };
                        return Err(unsupported(
                            what,
                            format!(
                                "the {} neuron has no NIR counterpart: {reason} (exportable: {})",
                                cfg.kind(),
                                exportable_kinds()
                            ),
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
pub(super) fn recurrent_node(
    rec: &RecurrentLif,
    n: usize,
    what: &str,
) -> Result<Node, ConvertError> {
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

pub(super) fn with_node<T>(r: crate::Result<T>, what: &str) -> Result<T, ConvertError> {
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
/// [module docs](crate::convert)).
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
            Layer::Delay(d) => put("delay", array(d.delay.val())?),
            Layer::DelayedLinear(l) => {
                // [out, in], as the weight of a linear layer.
                put("weight", transpose(l.weight.val())?);
                put("delay", transpose(l.delay.val())?);
                if let Some(b) = &l.bias {
                    put("bias", array(b.val())?);
                }
            }
            Layer::Neuron(nl) => {
                let (lif, alpha) = match &nl.model {
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
                    NeuronModel::Adaptive(a) => {
                        put("adapt_decay", array(a.adapt_decay.val())?);
                        put("adapt_strength", array(a.adapt_strength.val())?);
                        (Some(&a.lif), None)
                    }
                    NeuronModel::Conductance(c) => (Some(&c.lif), Some(&c.alpha)),
                    NeuronModel::Integrator(li) => {
                        put("beta", array(li.beta.val())?);
                        (None, None)
                    }
                    // Every other model: the β and θ of its LIF part.
                    other => (other.lif(), None),
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

/// The neuron kinds whose defaults have a NIR counterpart, comma-separated.
fn exportable_kinds() -> String {
    NeuronKind::ALL
        .iter()
        .filter(|k| matches!(k.default_params().nir(), NirMapping::Node(_)))
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}
