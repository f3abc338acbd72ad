//! Import: an NIR graph to a network description and its weights (the chain, recurrent
//! loops, nested graphs).

use super::*;

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
pub(super) fn recurrent_loops<'g>(
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
pub(super) fn rnn_subgraph<'g>(
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
pub(super) fn push_lif(
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
pub(super) fn recurrent_weights(
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
pub(super) fn push_neuron(
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
    let model = match kind {
        NeuronKind::Synaptic => SynapticParams {
            alpha: alpha.as_ref().and_then(|a| a.0).unwrap_or(0.9),
            ..SynapticParams::default()
        }
        .into(),
        NeuronKind::Recurrent => RecurrentParams {
            recurrent: recurrent
                .as_ref()
                .map_or(RecurrentKind::default(), RecurrentWeights::kind),
        }
        .into(),
        other => other.default_params(),
    };
    let neuron = NeuronConfig {
        model,
        beta: beta_one.unwrap_or(0.9),
        threshold: theta_one.unwrap_or(1.0),
        reset: Reset::Zero,
        per_neuron,
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
