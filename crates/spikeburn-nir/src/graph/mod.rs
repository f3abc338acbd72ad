//! The in-memory NIR graph: named nodes with typed parameters, edges, and free-form metadata.
//!
//! The node types and their equations follow the NIR 1.0 specification
//! (<https://neuroir.org/docs/primitives.html>) and the classes of the Python `nir` 1.0.8
//! package. Shapes never include the batch dimension. Continuous-time dynamics are written with
//! `I` for a node's input current and `S` for spike trains (sums of Dirac deltas).

use std::collections::BTreeMap;

mod values;

pub use values::{Array, MetaValue, Metadata};

/// Type strings of every node type this crate reads and writes, as stored in the `type`
/// dataset of a node group.
pub const NODE_TYPES: &[&str] = &[
    "Input",
    "Output",
    "Affine",
    "Linear",
    "Conv1d",
    "Conv2d",
    "Flatten",
    "SumPool2d",
    "AvgPool2d",
    "Scale",
    "Threshold",
    "Delay",
    "I",
    "IF",
    "LI",
    "LIF",
    "CubaLI",
    "CubaLIF",
    "NIRGraph",
];

/// Metadata key under which spikeburn records the simulation time step `dt` (seconds) of a
/// discrete-time model in the graph's metadata; see [`crate::mapping`].
pub const METADATA_DT: &str = "dt";

/// `y = W x + b`, `weight` of shape `(out, in)`, `bias` of shape `(out,)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Affine {
    /// `W`, shape `(out, in)`.
    pub weight: Array,
    /// `b`, shape `(out,)`.
    pub bias: Array,
}

/// `y = W x`, `weight` of shape `(out, in)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    /// `W`, shape `(out, in)`.
    pub weight: Array,
}

/// `y = s ⊙ x` (element-wise scaling).
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    /// `s`, one factor per element of the input.
    pub scale: Array,
}

/// `y = H(x - θ)` with `H` the Heaviside step (a spike where the input exceeds `θ`).
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// `θ`, one per element of the input.
    pub threshold: Array,
}

/// `y(t) = x(t - d)` (element-wise delay, in the graph's time unit).
#[derive(Debug, Clone, PartialEq)]
pub struct Delay {
    /// `d`, one per element of the input.
    pub delay: Array,
}

/// Flattens dimensions `start_dim..=end_dim` of the input into one (PyTorch `nn.Flatten`
/// semantics on the shape *without* batch dimension; negative indices count from the end).
#[derive(Debug, Clone, PartialEq)]
pub struct Flatten {
    /// First dimension to flatten.
    pub start_dim: i64,
    /// Last dimension to flatten (inclusive).
    pub end_dim: i64,
    /// Shape of the input (stored as `input_type`), when known.
    pub input_shape: Option<Vec<usize>>,
}

/// Padding of a convolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Padding {
    /// `"same"`: output spatial size equals input size (stride 1).
    Same,
    /// `"valid"`: no padding.
    Valid,
    /// Explicit zero padding per spatial dimension, added on both sides.
    Explicit(Vec<usize>),
}

/// N-d convolution with PyTorch semantics (`Conv1d`: N = 1, `Conv2d`: N = 2):
/// `y[o] = b[o] + Σ_c W[o, c] ⋆ x[c]`, input `(C_in, *spatial)`, weight
/// `(C_out, C_in / groups, *kernel)`; each output spatial size is
/// `⌊(n + 2p - d (k - 1) - 1) / s⌋ + 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv {
    /// Spatial input size (without channels), when known.
    pub input_shape: Option<Vec<usize>>,
    /// Kernel, shape `(C_out, C_in / groups, *kernel)`.
    pub weight: Array,
    /// Stride per spatial dimension.
    pub stride: Vec<usize>,
    /// Padding.
    pub padding: Padding,
    /// Dilation per spatial dimension.
    pub dilation: Vec<usize>,
    /// Number of channel groups.
    pub groups: usize,
    /// Bias, shape `(C_out,)`.
    pub bias: Array,
}

/// 2-d pooling over `(C, H, W)` input; each output spatial size is `⌊(n + 2p - k) / s⌋ + 1`.
/// `SumPool2d` sums the window, `AvgPool2d` averages it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool2d {
    /// Window size `(k_h, k_w)`.
    pub kernel_size: [usize; 2],
    /// Stride `(s_h, s_w)`.
    pub stride: [usize; 2],
    /// Zero padding `(p_h, p_w)`.
    pub padding: [usize; 2],
}

/// Integrator `I`: `dv/dt = r I`.
#[derive(Debug, Clone, PartialEq)]
pub struct Integrator {
    /// `r`, input resistance.
    pub r: Array,
}

/// Integrate-and-fire `IF`: `dv/dt = r I`; spike when `v > v_threshold`, then `v ← v_reset`.
#[derive(Debug, Clone, PartialEq)]
pub struct If {
    /// `r`, input resistance.
    pub r: Array,
    /// Firing threshold.
    pub v_threshold: Array,
    /// Potential after a spike (defaults to zeros when absent from a file, as in `nir.read`).
    pub v_reset: Array,
}

/// Leaky integrator `LI`: `τ dv/dt = (v_leak - v) + r I`.
#[derive(Debug, Clone, PartialEq)]
pub struct Li {
    /// `τ`, membrane time constant.
    pub tau: Array,
    /// `r`, input resistance.
    pub r: Array,
    /// Resting potential.
    pub v_leak: Array,
}

/// Leaky integrate-and-fire `LIF`: `τ dv/dt = (v_leak - v) + r I`; spike when
/// `v > v_threshold`, then `v ← v_reset`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lif {
    /// `τ`, membrane time constant.
    pub tau: Array,
    /// `r`, input resistance.
    pub r: Array,
    /// Resting potential.
    pub v_leak: Array,
    /// Firing threshold.
    pub v_threshold: Array,
    /// Potential after a spike (defaults to zeros when absent from a file, as in `nir.read`).
    pub v_reset: Array,
}

/// Current-based leaky integrator `CubaLI`: `τ_syn dI/dt = -I + w_in S`,
/// `τ_mem dv/dt = (v_leak - v) + r I`.
#[derive(Debug, Clone, PartialEq)]
pub struct CubaLi {
    /// `τ_syn`, synaptic time constant.
    pub tau_syn: Array,
    /// `τ_mem`, membrane time constant.
    pub tau_mem: Array,
    /// `r`, input resistance.
    pub r: Array,
    /// Resting potential.
    pub v_leak: Array,
    /// `w_in`, input weight of the synaptic current.
    pub w_in: Array,
}

/// Current-based LIF `CubaLIF`: `τ_syn dI/dt = -I + w_in S`,
/// `τ_mem dv/dt = (v_leak - v) + r I`; spike when `v > v_threshold`, then `v ← v_reset`.
#[derive(Debug, Clone, PartialEq)]
pub struct CubaLif {
    /// `τ_syn`, synaptic time constant.
    pub tau_syn: Array,
    /// `τ_mem`, membrane time constant.
    pub tau_mem: Array,
    /// `r`, input resistance.
    pub r: Array,
    /// Resting potential.
    pub v_leak: Array,
    /// Firing threshold.
    pub v_threshold: Array,
    /// Potential after a spike (defaults to zeros when absent from a file, as in `nir.read`).
    pub v_reset: Array,
    /// `w_in`, input weight of the synaptic current.
    pub w_in: Array,
}

/// A node of an NIR graph with its typed parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Graph input of the given shape (stored as `shape`).
    Input {
        /// Shape of one sample.
        shape: Vec<usize>,
    },
    /// Graph output of the given shape (stored as `shape`).
    Output {
        /// Shape of one sample.
        shape: Vec<usize>,
    },
    /// See [`Affine`].
    Affine(Affine),
    /// See [`Linear`].
    Linear(Linear),
    /// See [`Conv`] (one spatial dimension).
    Conv1d(Conv),
    /// See [`Conv`] (two spatial dimensions).
    Conv2d(Conv),
    /// See [`Flatten`].
    Flatten(Flatten),
    /// Sum over windows; see [`Pool2d`].
    SumPool2d(Pool2d),
    /// Average over windows; see [`Pool2d`].
    AvgPool2d(Pool2d),
    /// See [`Scale`].
    Scale(Scale),
    /// See [`Threshold`].
    Threshold(Threshold),
    /// See [`Delay`].
    Delay(Delay),
    /// See [`Integrator`] (NIR type `I`).
    I(Integrator),
    /// See [`If`] (NIR type `IF`).
    If(If),
    /// See [`Li`] (NIR type `LI`).
    Li(Li),
    /// See [`Lif`] (NIR type `LIF`).
    Lif(Lif),
    /// See [`CubaLi`] (NIR type `CubaLI`).
    CubaLi(CubaLi),
    /// See [`CubaLif`] (NIR type `CubaLIF`).
    CubaLif(CubaLif),
    /// A nested graph (NIR type `NIRGraph`).
    Graph(Box<NirGraph>),
}

impl Node {
    /// The NIR type string stored in the node's `type` dataset.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Input { .. } => "Input",
            Self::Output { .. } => "Output",
            Self::Affine(_) => "Affine",
            Self::Linear(_) => "Linear",
            Self::Conv1d(_) => "Conv1d",
            Self::Conv2d(_) => "Conv2d",
            Self::Flatten(_) => "Flatten",
            Self::SumPool2d(_) => "SumPool2d",
            Self::AvgPool2d(_) => "AvgPool2d",
            Self::Scale(_) => "Scale",
            Self::Threshold(_) => "Threshold",
            Self::Delay(_) => "Delay",
            Self::I(_) => "I",
            Self::If(_) => "IF",
            Self::Li(_) => "LI",
            Self::Lif(_) => "LIF",
            Self::CubaLi(_) => "CubaLI",
            Self::CubaLif(_) => "CubaLIF",
            Self::Graph(_) => "NIRGraph",
        }
    }

    /// Whether the node carries state from one instant to the next (a neuron, an integrator
    /// or a delay), so that a cycle through it is a legitimate recurrence rather than an
    /// algebraic loop. A nested graph is stateful when any of its nodes is.
    pub fn is_stateful(&self) -> bool {
        match self {
            Self::I(_)
            | Self::If(_)
            | Self::Li(_)
            | Self::Lif(_)
            | Self::CubaLi(_)
            | Self::CubaLif(_)
            | Self::Delay(_) => true,
            Self::Graph(g) => g.nodes.values().any(|e| e.node.is_stateful()),
            _ => false,
        }
    }
}

macro_rules! impl_from_for_node {
    ($($ty:ty => $variant:ident),* $(,)?) => {
        $(impl From<$ty> for Node {
            fn from(value: $ty) -> Self {
                Self::$variant(value)
            }
        })*
    };
}

impl_from_for_node!(
    Affine => Affine,
    Linear => Linear,
    Flatten => Flatten,
    Scale => Scale,
    Threshold => Threshold,
    Delay => Delay,
    Integrator => I,
    If => If,
    Li => Li,
    Lif => Lif,
    CubaLi => CubaLi,
    CubaLif => CubaLif,
);

impl From<NirGraph> for Node {
    fn from(value: NirGraph) -> Self {
        Self::Graph(Box::new(value))
    }
}

/// A node with its free-form metadata (the node group's `metadata/`).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeEntry {
    /// The node.
    pub node: Node,
    /// Its metadata (empty when none).
    pub metadata: Metadata,
}

/// A directed edge `source → target` between two named nodes. Several edges into one node sum
/// their signals.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Edge {
    /// Name of the node the signal comes from.
    pub source: String,
    /// Name of the node the signal goes to.
    pub target: String,
}

impl Edge {
    /// The edge `source → target`.
    pub fn new(source: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            target: target.into(),
        }
    }
}

/// An NIR graph: named nodes, edges between them, and metadata.
///
/// Node names are unique keys; edges are kept in insertion order (the order they are written
/// to the file). Nothing is checked on construction: call
/// [`validate`](crate::validate::validate) (the reader and writer do).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NirGraph {
    /// The nodes by name.
    pub nodes: BTreeMap<String, NodeEntry>,
    /// The edges, in file order.
    pub edges: Vec<Edge>,
    /// Graph metadata (`node/metadata` in the file); spikeburn records `dt` here
    /// ([`METADATA_DT`]).
    pub metadata: Metadata,
}

impl NirGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// A chain `n0 → n1 → … → nk` of the given named nodes (like Python's
    /// `NIRGraph.from_list`, but with caller-chosen names).
    pub fn sequential<S: Into<String>>(nodes: impl IntoIterator<Item = (S, Node)>) -> Self {
        let mut graph = Self::new();
        let mut previous: Option<String> = None;
        for (name, node) in nodes {
            let name = name.into();
            graph.add_node(name.clone(), node);
            if let Some(prev) = previous.take() {
                graph.add_edge(prev, name.clone());
            }
            previous = Some(name);
        }
        graph
    }

    /// Adds (or replaces) the node `name` with empty metadata and returns its entry, so that
    /// metadata can be attached.
    pub fn add_node(&mut self, name: impl Into<String>, node: impl Into<Node>) -> &mut NodeEntry {
        let entry = NodeEntry {
            node: node.into(),
            metadata: Metadata::new(),
        };
        match self.nodes.entry(name.into()) {
            std::collections::btree_map::Entry::Occupied(mut slot) => {
                slot.insert(entry);
                slot.into_mut()
            }
            std::collections::btree_map::Entry::Vacant(slot) => slot.insert(entry),
        }
    }

    /// Appends the edge `source → target`.
    pub fn add_edge(&mut self, source: impl Into<String>, target: impl Into<String>) {
        self.edges.push(Edge::new(source, target));
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.get(name).map(|e| &e.node)
    }

    /// Names of the `Input` nodes, sorted.
    pub fn inputs(&self) -> Vec<&str> {
        self.names_where(|n| matches!(n, Node::Input { .. }))
    }

    /// Names of the `Output` nodes, sorted.
    pub fn outputs(&self) -> Vec<&str> {
        self.names_where(|n| matches!(n, Node::Output { .. }))
    }

    fn names_where(&self, pred: impl Fn(&Node) -> bool) -> Vec<&str> {
        self.nodes
            .iter()
            .filter(|(_, e)| pred(&e.node))
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// Names of the nodes with an edge into `name`, in edge order.
    pub fn predecessors(&self, name: &str) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|e| e.target == name)
            .map(|e| e.source.as_str())
            .collect()
    }

    /// Names of the nodes `name` has an edge to, in edge order.
    pub fn successors(&self, name: &str) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|e| e.source == name)
            .map(|e| e.target.as_str())
            .collect()
    }

    /// The time step recorded under [`METADATA_DT`] in the graph metadata, if any.
    pub fn dt(&self) -> Option<f64> {
        self.metadata.get(METADATA_DT).and_then(MetaValue::as_f64)
    }

    /// Records the time step `dt` (seconds) under [`METADATA_DT`] in the graph metadata.
    pub fn set_dt(&mut self, dt: f64) {
        self.metadata
            .insert(METADATA_DT.to_string(), MetaValue::Float(dt));
    }
}
