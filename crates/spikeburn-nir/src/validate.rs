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

/// An order in which to evaluate a graph's nodes within one time step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionOrder {
    /// Every node exactly once; each node comes after the sources of all its
    /// non-recurrent incoming edges. Ties are broken by node name, so the order is
    /// deterministic.
    pub order: Vec<String>,
    /// Edges that close a cycle into a stateful node: a discrete-time simulator feeds their
    /// signal from the previous time step. Empty for a feed-forward graph.
    pub recurrent_edges: Vec<Edge>,
}

/// The evaluation order of the graph's top level (nested graphs are ordered separately), and
/// its recurrent edges. Fails with [`NirError::Cycle`] on a cycle through non-recurrent
/// nodes and [`NirError::UnknownEdgeEndpoint`] on an edge to a missing node.
pub fn execution_order(graph: &NirGraph) -> Result<ExecutionOrder> {
    check_edges(graph, "")?;
    order_at(graph, "")
}

fn order_at(graph: &NirGraph, prefix: &str) -> Result<ExecutionOrder> {
    let names: Vec<&str> = graph.nodes.keys().map(String::as_str).collect();
    let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let n = names.len();
    let mut succ = vec![Vec::new(); n];
    let mut pred = vec![Vec::new(); n];
    let mut edge_ids = Vec::with_capacity(graph.edges.len());
    for e in &graph.edges {
        // Endpoints were checked by `check_edges`; skip defensively rather than panic.
        let (Some(&s), Some(&t)) = (index.get(e.source.as_str()), index.get(e.target.as_str()))
        else {
            continue;
        };
        succ[s].push(t);
        pred[t].push(s);
        edge_ids.push((s, t, e));
    }
    let comp = strongly_connected_components(&succ, &pred);
    let stateful: Vec<bool> = names
        .iter()
        .map(|name| {
            graph
                .nodes
                .get(*name)
                .is_some_and(|entry| entry.node.is_stateful())
        })
        .collect();

    let mut recurrent_edges = Vec::new();
    let mut indegree = vec![0usize; n];
    let mut forward = vec![Vec::new(); n];
    for &(s, t, e) in &edge_ids {
        if comp[s] == comp[t] && stateful[t] {
            recurrent_edges.push(e.clone());
        } else {
            forward[s].push(t);
            indegree[t] += 1;
        }
    }
    // Kahn's algorithm with a name-ordered ready set.
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(names[i].to_string());
        for &t in &forward[i] {
            indegree[t] -= 1;
            if indegree[t] == 0 {
                ready.insert(t);
            }
        }
    }
    if order.len() < n {
        // What is left contains a cycle of stateless nodes; report one of them.
        let left: Vec<bool> = indegree.iter().map(|&d| d > 0).collect();
        let cycle = find_cycle(&forward, &left)
            .into_iter()
            .map(|i| join(prefix, names[i]))
            .collect();
        return Err(NirError::Cycle {
            file: in_memory(),
            nodes: cycle,
        });
    }
    Ok(ExecutionOrder {
        order,
        recurrent_edges,
    })
}

/// Kosaraju's algorithm, iterative: the component id of every vertex.
fn strongly_connected_components(succ: &[Vec<usize>], pred: &[Vec<usize>]) -> Vec<usize> {
    let n = succ.len();
    let mut visited = vec![false; n];
    let mut finish = Vec::with_capacity(n);
    for start in 0..n {
        if visited[start] {
            continue;
        }
        visited[start] = true;
        let mut stack = vec![(start, 0usize)];
        while let Some((v, next)) = stack.pop() {
            if let Some(&w) = succ[v].get(next) {
                stack.push((v, next + 1));
                if !visited[w] {
                    visited[w] = true;
                    stack.push((w, 0));
                }
            } else {
                finish.push(v);
            }
        }
    }
    let mut comp = vec![usize::MAX; n];
    let mut next_id = 0;
    for &root in finish.iter().rev() {
        if comp[root] != usize::MAX {
            continue;
        }
        comp[root] = next_id;
        let mut stack = vec![root];
        while let Some(v) = stack.pop() {
            for &w in &pred[v] {
                if comp[w] == usize::MAX {
                    comp[w] = next_id;
                    stack.push(w);
                }
            }
        }
        next_id += 1;
    }
    comp
}

/// One cycle among the vertices marked `left` (each of which has an unprocessed predecessor
/// that is also left, so walking predecessors backwards must revisit a vertex).
fn find_cycle(forward: &[Vec<usize>], left: &[bool]) -> Vec<usize> {
    let n = forward.len();
    let mut pred_left = vec![None; n];
    for (s, targets) in forward.iter().enumerate() {
        if !left.get(s).copied().unwrap_or(false) {
            continue;
        }
        for &t in targets {
            if left.get(t).copied().unwrap_or(false) && pred_left[t].is_none() {
                pred_left[t] = Some(s);
            }
        }
    }
    let Some(start) = (0..n).find(|&i| left[i]) else {
        return Vec::new();
    };
    let mut pos = HashMap::new();
    let mut path = Vec::new();
    let mut v = start;
    loop {
        if let Some(&p) = pos.get(&v) {
            let mut cycle: Vec<usize> = path.split_off(p);
            cycle.reverse();
            if let Some(&first) = cycle.first() {
                cycle.push(first);
            }
            return cycle;
        }
        pos.insert(v, path.len());
        path.push(v);
        match pred_left[v] {
            Some(p) => v = p,
            None => return path,
        }
    }
}

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

fn infer_at(
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
