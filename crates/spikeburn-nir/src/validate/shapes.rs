//! Shapes across edges: the shape each node accepts and produces, inferred in evaluation order
//! (see the [parent module](super)).

use super::*;

/// The shape a node accepts, where its parameters alone determine it.
fn accepted_shape(node: &Node) -> Option<Vec<usize>> {
    match node {
        Node::Output { shape } => Some(shape.clone()),
        Node::Affine(a) => a.weight.shape().get(1).map(|&c| vec![c]),
        Node::Linear(l) => l.weight.shape().get(1).map(|&c| vec![c]),
        Node::Conv1d(c) | Node::Conv2d(c) => {
            let spatial = c.input_shape.as_ref()?;
            let c_in = c.weight.shape().get(1)?.checked_mul(c.groups)?;
            let mut s = vec![c_in];
            s.extend_from_slice(spatial);
            Some(s)
        }
        Node::Flatten(f) => f.input_shape.clone(),
        Node::Graph(g) => match g.inputs().as_slice() {
            [one] => match g.node(one) {
                Some(Node::Input { shape }) => Some(shape.clone()),
                _ => None,
            },
            _ => None,
        },
        Node::Input { .. } | Node::SumPool2d(_) | Node::AvgPool2d(_) => None,
        other => {
            let params = elementwise_params(other)?;
            neuron_shape("", &params).ok().flatten()
        }
    }
}

fn conv_out(n: usize, k: usize, s: usize, p: usize, d: usize) -> Option<usize> {
    let span = d.checked_mul(k.checked_sub(1)?)?.checked_add(1)?;
    let padded = n.checked_add(p.checked_mul(2)?)?;
    Some(padded.checked_sub(span)? / s.max(1) + 1)
}

/// The shape a node produces from an input of shape `input`, or a message saying why that
/// input is impossible (the caller has already checked it against [`accepted_shape`]).
fn produced_shape(node: &Node, input: &[usize]) -> std::result::Result<Vec<usize>, String> {
    match node {
        Node::Input { shape } | Node::Output { shape } => Ok(shape.clone()),
        Node::Affine(a) => Ok(a
            .weight
            .shape()
            .first()
            .map(|&r| vec![r])
            .unwrap_or_default()),
        Node::Linear(l) => Ok(l
            .weight
            .shape()
            .first()
            .map(|&r| vec![r])
            .unwrap_or_default()),
        Node::Conv1d(c) | Node::Conv2d(c) => {
            let w = c.weight.shape();
            let dims = w.len().saturating_sub(2);
            let c_in = w.get(1).copied().unwrap_or(0).saturating_mul(c.groups);
            if input.len() != dims + 1 || input.first() != Some(&c_in) {
                return Err(format!(
                    "expected input (C_in = {c_in}, {dims} spatial dims), got {input:?}"
                ));
            }
            let mut out = vec![w.first().copied().unwrap_or(0)];
            for i in 0..dims {
                let n = input.get(i + 1).copied().unwrap_or(0);
                let k = w.get(i + 2).copied().unwrap_or(1);
                let s = c.stride.get(i).copied().unwrap_or(1);
                let d = c.dilation.get(i).copied().unwrap_or(1);
                let size = match &c.padding {
                    Padding::Same => Some(n),
                    Padding::Valid => conv_out(n, k, s, 0, d),
                    Padding::Explicit(p) => conv_out(n, k, s, p.get(i).copied().unwrap_or(0), d),
                };
                out.push(size.ok_or_else(|| {
                    format!("spatial size {n} is smaller than the dilated kernel {k}")
                })?);
            }
            Ok(out)
        }
        Node::SumPool2d(p) | Node::AvgPool2d(p) => pool_out(p, input),
        Node::Flatten(f) => flatten_out(f.start_dim, f.end_dim, input),
        Node::Graph(g) => match g.outputs().as_slice() {
            [one] => match g.node(one) {
                Some(Node::Output { shape }) => Ok(shape.clone()),
                _ => Ok(input.to_vec()),
            },
            _ => Ok(input.to_vec()),
        },
        // Element-wise nodes keep the shape.
        _ => Ok(input.to_vec()),
    }
}

fn pool_out(p: &Pool2d, input: &[usize]) -> std::result::Result<Vec<usize>, String> {
    let [c, h, w] = input else {
        return Err(format!("expected (C, H, W) input, got {input:?}"));
    };
    let mut out = vec![*c];
    for (i, n) in [*h, *w].into_iter().enumerate() {
        let size = conv_out(n, p.kernel_size[i], p.stride[i], p.padding[i], 1)
            .ok_or_else(|| format!("spatial size {n} is smaller than the window"))?;
        out.push(size);
    }
    Ok(out)
}

fn flatten_out(start: i64, end: i64, input: &[usize]) -> std::result::Result<Vec<usize>, String> {
    let nd = i64::try_from(input.len()).unwrap_or(i64::MAX);
    let norm = |d: i64| if d < 0 { d + nd } else { d };
    let (s, e) = (norm(start), norm(end));
    if !(0 <= s && s <= e && e < nd) {
        return Err(format!(
            "start_dim {start} / end_dim {end} do not select dimensions of input {input:?}"
        ));
    }
    let (s, e) = (s as usize, e as usize);
    let mut out = input.get(..s).unwrap_or_default().to_vec();
    out.push(input.get(s..=e).unwrap_or_default().iter().product());
    out.extend_from_slice(input.get(e + 1..).unwrap_or_default());
    Ok(out)
}

/// The output shape of every node of the graph's top level whose shape can be determined.
/// Runs [`validate`] first.
pub fn output_shapes(graph: &NirGraph) -> Result<BTreeMap<String, Vec<usize>>> {
    validate(graph)?;
    let order = order_at(graph, "")?;
    infer_at(graph, "", &order)
}

pub(super) fn infer_at(
    graph: &NirGraph,
    prefix: &str,
    order: &ExecutionOrder,
) -> Result<BTreeMap<String, Vec<usize>>> {
    let recurrent: BTreeSet<&Edge> = order.recurrent_edges.iter().collect();
    let mut produced: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut accepted: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mismatch =
        |source: &str, target: &str, p: &[usize], e: &[usize]| NirError::EdgeShapeMismatch {
            file: in_memory(),
            source_node: join(prefix, source),
            target: join(prefix, target),
            produced: p.to_vec(),
            expected: e.to_vec(),
        };
    for name in &order.order {
        let Some(entry) = graph.nodes.get(name) else {
            continue;
        };
        let mut input = accepted_shape(&entry.node);
        let mut input_from: Option<&str> = None;
        for e in graph.edges.iter().filter(|e| &e.target == name) {
            if recurrent.contains(e) {
                continue;
            }
            let Some(p) = produced.get(&e.source) else {
                continue;
            };
            match &input {
                Some(expected) if expected != p => {
                    return Err(mismatch(&e.source, name, p, expected));
                }
                Some(_) => {}
                None => {
                    input = Some(p.clone());
                    input_from = Some(&e.source);
                }
            }
        }
        let out = match (&entry.node, &input) {
            (Node::Input { shape }, _) => Some(shape.clone()),
            (node, Some(inp)) => match produced_shape(node, inp) {
                Ok(s) => Some(s),
                Err(problem) => {
                    return Err(match input_from {
                        Some(src) => invalid(
                            &join(prefix, name),
                            "input",
                            format!("from `{}`: {problem}", join(prefix, src)),
                        ),
                        None => invalid(&join(prefix, name), "input", problem),
                    });
                }
            },
            (_, None) => None,
        };
        if let Some(inp) = input {
            accepted.insert(name.as_str(), inp);
        }
        if let Some(out) = out {
            produced.insert(name.clone(), out);
        }
    }
    for e in &order.recurrent_edges {
        if let (Some(p), Some(a)) = (produced.get(&e.source), accepted.get(e.target.as_str()))
            && p != a
        {
            return Err(mismatch(&e.source, &e.target, p, a));
        }
    }
    Ok(produced)
}
