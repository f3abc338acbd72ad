//! Structural checks of an [`NirGraph`]: parameter shapes inside each node, edge endpoints,
//! cycles, and shapes across edges; and the evaluation order an importer needs.
//!
//! # Cycles and recurrence
//! NIR expresses recurrence as a cycle in the graph. A cycle is legitimate when it passes
//! through a stateful node ([`Node::is_stateful`]: `I`, `IF`, `LI`, `LIF`, `CubaLI`,
//! `CubaLIF`, `Delay`, or a nested graph holding one), whose output depends on its state and
//! not instantaneously on its input. A cycle made only of stateless nodes (`Affine`, `Scale`,
//! ...) is an algebraic loop and is rejected with [`NirError::Cycle`].
//!
//! [`execution_order`] breaks every legitimate cycle at the edges that enter a stateful node
//! from inside its own strongly connected component: those are the *recurrent* edges, whose
//! signal a discrete-time simulator takes from the previous time step.
//!
//! # Shapes
//! Shapes exclude the batch dimension. Each node's accepted input shape (where its parameters
//! determine one) must equal the shape every incoming edge delivers; element-wise nodes whose
//! parameters all hold a single element accept any shape.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::{NirError, Result, in_memory};
use crate::graph::{Array, Conv, Edge, NirGraph, Node, Padding, Pool2d};

mod order;
mod shapes;

use order::order_at;
use shapes::infer_at;

pub use order::{ExecutionOrder, execution_order};
pub use shapes::output_shapes;

/// Checks a graph (and its nested graphs): parameter shapes of every node, edge endpoints and
/// duplicates, cycles through non-recurrent nodes, and shapes across edges. Errors name
/// [`IN_MEMORY`](crate::error::IN_MEMORY) as their file; the reader replaces it with the path.
pub fn validate(graph: &NirGraph) -> Result<()> {
    validate_at(graph, "")
}

fn validate_at(graph: &NirGraph, prefix: &str) -> Result<()> {
    for (name, entry) in &graph.nodes {
        if name.is_empty() || name == "." || name.contains('/') || name.contains('\0') {
            return Err(NirError::InvalidName {
                file: in_memory(),
                graph: prefix.to_string(),
                name: name.clone(),
            });
        }
        let path = join(prefix, name);
        check_node(&path, &entry.node)?;
        if let Node::Graph(sub) = &entry.node {
            validate_at(sub, &path)?;
        }
    }
    check_edges(graph, prefix)?;
    let order = order_at(graph, prefix)?;
    infer_at(graph, prefix, &order)?;
    Ok(())
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

fn invalid(node: &str, field: &str, problem: String) -> NirError {
    NirError::InvalidParameter {
        file: in_memory(),
        node: node.to_string(),
        field: field.to_string(),
        problem,
    }
}

/// The shape of an element-wise node's neurons: the common shape of its parameters that hold
/// more than one element (`None` when every parameter is a single value).
fn neuron_shape(node: &str, params: &[(&str, &Array)]) -> Result<Option<Vec<usize>>> {
    let mut shape: Option<(&str, &[usize])> = None;
    for &(field, a) in params {
        if a.len() == 1 {
            continue;
        }
        match shape {
            None => shape = Some((field, a.shape())),
            Some((first, s)) if s != a.shape() => {
                return Err(invalid(
                    node,
                    field,
                    format!(
                        "shape {:?} differs from the shape {s:?} of `{first}` (parameters must share one shape, or hold one value)",
                        a.shape()
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(shape.map(|(_, s)| s.to_vec()))
}

fn elementwise_params(node: &Node) -> Option<Vec<(&'static str, &Array)>> {
    Some(match node {
        Node::Scale(n) => vec![("scale", &n.scale)],
        Node::Threshold(n) => vec![("threshold", &n.threshold)],
        Node::Delay(n) => vec![("delay", &n.delay)],
        Node::I(n) => vec![("r", &n.r)],
        Node::If(n) => vec![
            ("r", &n.r),
            ("v_threshold", &n.v_threshold),
            ("v_reset", &n.v_reset),
        ],
        Node::Li(n) => vec![("tau", &n.tau), ("r", &n.r), ("v_leak", &n.v_leak)],
        Node::Lif(n) => vec![
            ("tau", &n.tau),
            ("r", &n.r),
            ("v_leak", &n.v_leak),
            ("v_threshold", &n.v_threshold),
            ("v_reset", &n.v_reset),
        ],
        Node::CubaLi(n) => vec![
            ("tau_syn", &n.tau_syn),
            ("tau_mem", &n.tau_mem),
            ("r", &n.r),
            ("v_leak", &n.v_leak),
            ("w_in", &n.w_in),
        ],
        Node::CubaLif(n) => vec![
            ("tau_syn", &n.tau_syn),
            ("tau_mem", &n.tau_mem),
            ("r", &n.r),
            ("v_leak", &n.v_leak),
            ("v_threshold", &n.v_threshold),
            ("v_reset", &n.v_reset),
            ("w_in", &n.w_in),
        ],
        _ => return None,
    })
}

/// Every numeric array of a node, and whether an infinity is meaningful in it: weights and
/// biases must be finite; neuron parameters may be infinite (a time constant of `inf` is a
/// neuron without leak) but not NaN.
fn numbers(n: &Node) -> Vec<(&'static str, &Array, bool)> {
    match n {
        Node::Affine(a) => vec![("weight", &a.weight, false), ("bias", &a.bias, false)],
        Node::Linear(l) => vec![("weight", &l.weight, false)],
        Node::Conv1d(c) | Node::Conv2d(c) => {
            vec![("weight", &c.weight, false), ("bias", &c.bias, false)]
        }
        other => elementwise_params(other)
            .unwrap_or_default()
            .into_iter()
            .map(|(field, a)| (field, a, true))
            .collect(),
    }
}

/// Refuses NaN, and infinities unless `allow_infinite`: they would spread silently through
/// every output of a simulation or training run.
fn defined(node: &str, field: &str, a: &Array, allow_infinite: bool) -> Result<()> {
    let bad = |v: &f32| v.is_nan() || (!allow_infinite && v.is_infinite());
    match a.data().iter().position(bad) {
        None => Ok(()),
        Some(i) => Err(invalid(
            node,
            field,
            format!(
                "expected {}, element {i} (of {}) is {}",
                if allow_infinite {
                    "numbers (not NaN)"
                } else {
                    "finite numbers"
                },
                a.len(),
                a.data()[i]
            ),
        )),
    }
}

fn matrix(node: &str, field: &str, w: &Array) -> Result<(usize, usize)> {
    match w.shape() {
        [rows, cols] => Ok((*rows, *cols)),
        s => Err(invalid(
            node,
            field,
            format!("expected a 2-d (out, in) matrix, got shape {s:?}"),
        )),
    }
}

fn check_conv(node: &str, c: &Conv, dims: usize) -> Result<()> {
    let w = c.weight.shape();
    if w.len() != dims + 2 {
        return Err(invalid(
            node,
            "weight",
            format!(
                "expected {} dimensions (C_out, C_in/groups, kernel...), got shape {w:?}",
                dims + 2
            ),
        ));
    }
    let c_out = w.first().copied().unwrap_or(0);
    for (field, v) in [("stride", &c.stride), ("dilation", &c.dilation)] {
        if v.len() != dims || v.contains(&0) {
            return Err(invalid(
                node,
                field,
                format!("expected {dims} value(s) >= 1, got {v:?}"),
            ));
        }
    }
    if let Padding::Explicit(p) = &c.padding
        && p.len() != dims
    {
        return Err(invalid(
            node,
            "padding",
            format!("expected {dims} value(s), got {p:?}"),
        ));
    }
    if let Some(s) = &c.input_shape
        && s.len() != dims
    {
        return Err(invalid(
            node,
            "input_shape",
            format!("expected {dims} value(s), got {s:?}"),
        ));
    }
    if c.groups == 0 || c_out % c.groups != 0 {
        return Err(invalid(
            node,
            "groups",
            format!("expected a divisor of C_out = {c_out}, got {}", c.groups),
        ));
    }
    if c.bias.shape() != [c_out] {
        return Err(invalid(
            node,
            "bias",
            format!("expected shape [{c_out}] (C_out), got {:?}", c.bias.shape()),
        ));
    }
    Ok(())
}

/// Checks the parameters of one node on their own (no edges involved). `node` is its path,
/// for error messages.
pub fn check_node(node: &str, n: &Node) -> Result<()> {
    for (field, array, allow_infinite) in numbers(n) {
        defined(node, field, array, allow_infinite)?;
    }
    match n {
        Node::Affine(a) => {
            let (rows, _) = matrix(node, "weight", &a.weight)?;
            if a.bias.shape() != [rows] {
                return Err(invalid(
                    node,
                    "bias",
                    format!(
                        "expected shape [{rows}] (the weight's rows), got {:?}",
                        a.bias.shape()
                    ),
                ));
            }
        }
        Node::Linear(l) => {
            matrix(node, "weight", &l.weight)?;
        }
        Node::Conv1d(c) => check_conv(node, c, 1)?,
        Node::Conv2d(c) => check_conv(node, c, 2)?,
        Node::SumPool2d(p) | Node::AvgPool2d(p) => {
            for (field, v) in [("kernel_size", p.kernel_size), ("stride", p.stride)] {
                if v.contains(&0) {
                    return Err(invalid(
                        node,
                        field,
                        format!("expected values >= 1, got {v:?}"),
                    ));
                }
            }
        }
        Node::Input { .. } | Node::Output { .. } | Node::Flatten(_) | Node::Graph(_) => {}
        other => {
            if let Some(params) = elementwise_params(other) {
                neuron_shape(node, &params)?;
            }
        }
    }
    Ok(())
}

fn check_edges(graph: &NirGraph, prefix: &str) -> Result<()> {
    let mut seen = BTreeSet::new();
    for e in &graph.edges {
        for end in [&e.source, &e.target] {
            if !graph.nodes.contains_key(end) {
                return Err(NirError::UnknownEdgeEndpoint {
                    file: in_memory(),
                    source_node: join(prefix, &e.source),
                    target: join(prefix, &e.target),
                    missing: join(prefix, end),
                });
            }
        }
        if !seen.insert(e) {
            return Err(NirError::InvalidEdges {
                file: in_memory(),
                graph: prefix.to_string(),
                problem: format!("duplicate edge `{}` -> `{}`", e.source, e.target),
            });
        }
    }
    Ok(())
}
