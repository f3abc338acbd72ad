//! The evaluation order within one time step: strongly connected components, recurrent edges
//! into stateful nodes, and the cycle reported when a loop has none (see the [parent
//! module](super)).

use super::*;

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

pub(super) fn order_at(graph: &NirGraph, prefix: &str) -> Result<ExecutionOrder> {
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
