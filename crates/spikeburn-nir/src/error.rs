//! The one error type of this crate.
//!
//! Every variant names where the problem is (the file, or [`IN_MEMORY`] for a graph that was
//! built in memory and never read from disk), the node or field concerned, and what was
//! expected, so that a command-line tool can print it as one self-explanatory line.

use std::path::{Path, PathBuf};

/// The `file` of errors raised on a graph that was built in memory rather than read from disk.
pub const IN_MEMORY: &str = "<in-memory graph>";

/// Everything that can go wrong while reading, writing or validating NIR graphs and
/// safetensors files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NirError {
    /// The operating system refused to read or write the file.
    #[error("{}: {action}: {source}", file.display())]
    Io {
        /// The file concerned.
        file: PathBuf,
        /// What was being done ("reading", "writing temporary file", ...).
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The file does not start with the HDF5 signature, so it cannot be an NIR file.
    #[error("{}: not an HDF5 file (no HDF5 signature); expected an NIR graph written by `nir.write` or spikeburn", file.display())]
    NotHdf5 {
        /// The file concerned.
        file: PathBuf,
    },

    /// The file is shorter than its HDF5 superblock says it is (an interrupted copy or download).
    #[error("{}: truncated HDF5 file: {actual} bytes, but its superblock says it ends at byte {expected}", file.display())]
    Truncated {
        /// The file concerned.
        file: PathBuf,
        /// The end-of-file address recorded in the superblock.
        expected: u64,
        /// The actual length of the file.
        actual: u64,
    },

    /// The HDF5 structure could not be decoded (corrupt or unsupported file).
    #[error("{}: corrupt or unsupported HDF5 data at `{object}`: {detail}", file.display())]
    Hdf5 {
        /// The file concerned.
        file: PathBuf,
        /// The HDF5 path of the object being decoded (`/` for the file itself).
        object: String,
        /// What the HDF5 decoder reported.
        detail: String,
    },

    /// A required group or dataset of the NIR layout is missing (`version`, `node/type`,
    /// `node/edges`, `node/nodes`).
    #[error("{}: missing `{path}`: expected {expected}", file.display())]
    MissingEntry {
        /// The file concerned.
        file: PathBuf,
        /// The HDF5 path that is missing.
        path: String,
        /// What should have been there.
        expected: &'static str,
    },

    /// A node's `type` names no node type that NIR 1.0 defines.
    #[error("{}: node `{node}` has unknown type `{found}`; expected one of {}", file.display(), crate::graph::NODE_TYPES.join(", "))]
    UnknownNodeType {
        /// The file concerned.
        file: PathBuf,
        /// The node's path in the graph (`a/b` for node `b` of subgraph `a`).
        node: String,
        /// The type string found.
        found: String,
    },

    /// A node lacks a parameter its type requires.
    #[error("{}: node `{node}` ({node_type}) is missing parameter `{field}`", file.display())]
    MissingParameter {
        /// The file concerned.
        file: PathBuf,
        /// The node's path in the graph.
        node: String,
        /// The node's NIR type.
        node_type: &'static str,
        /// The missing parameter.
        field: &'static str,
    },

    /// A node group holds a key that its type does not define (`nir.read` rejects these too;
    /// extra information belongs under the node's `metadata` group).
    #[error("{}: node `{node}` ({node_type}) has unknown entry `{field}`; non-standard data belongs under `metadata/`", file.display())]
    UnknownParameter {
        /// The file concerned.
        file: PathBuf,
        /// The node's path in the graph.
        node: String,
        /// The node's NIR type.
        node_type: &'static str,
        /// The unexpected key.
        field: String,
    },

    /// A dataset has the wrong element type (for example text where numbers are expected).
    #[error("{}: `{field}` of node `{node}` has element type {found}; expected {expected}", file.display())]
    WrongType {
        /// The file concerned.
        file: PathBuf,
        /// The node's path in the graph (empty for graph-level entries).
        node: String,
        /// The dataset concerned.
        field: String,
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: String,
    },

    /// A parameter has the wrong shape or an invalid value (a weight that is not 2-D, a bias
    /// whose length differs from the weight's rows, a negative stride, ...).
    #[error("{}: `{field}` of node `{node}`: {problem}", file.display())]
    InvalidParameter {
        /// The file concerned.
        file: PathBuf,
        /// The node's path in the graph.
        node: String,
        /// The parameter concerned.
        field: String,
        /// What is wrong and what was expected.
        problem: String,
    },

    /// A node name that cannot be an HDF5 link name (empty, `.`, or holding `/`).
    #[error("{}: invalid node name {name:?} in graph `{graph}`: names must be non-empty, not `.`, and hold no `/`", file.display())]
    InvalidName {
        /// The file concerned.
        file: PathBuf,
        /// The graph's path (empty for the top-level graph).
        graph: String,
        /// The offending name.
        name: String,
    },

    /// The `node/edges` dataset is not an (E, 2) array of strings, or an edge is repeated.
    #[error("{}: bad edge list of graph `{graph}`: {problem}", file.display())]
    InvalidEdges {
        /// The file concerned.
        file: PathBuf,
        /// The graph's path (empty for the top-level graph).
        graph: String,
        /// What is wrong.
        problem: String,
    },

    /// An edge refers to a node that is not in the graph.
    #[error("{}: edge `{source_node}` -> `{target}` refers to unknown node `{missing}`", file.display())]
    UnknownEdgeEndpoint {
        /// The file concerned.
        file: PathBuf,
        /// The edge's source node (path in the graph: `sub/a` for node `a` of subgraph `sub`).
        source_node: String,
        /// The edge's target node (path in the graph).
        target: String,
        /// The endpoint that does not exist (path in the graph).
        missing: String,
    },

    /// The shape a node produces differs from the shape the next node accepts.
    #[error("{}: shape mismatch on edge `{source_node}` -> `{target}`: `{source_node}` produces {produced:?}, `{target}` expects {expected:?}", file.display())]
    EdgeShapeMismatch {
        /// The file concerned.
        file: PathBuf,
        /// The edge's source node (path in the graph).
        source_node: String,
        /// The edge's target node (path in the graph).
        target: String,
        /// The shape the source produces (without batch dimension).
        produced: Vec<usize>,
        /// The shape the target accepts (without batch dimension).
        expected: Vec<usize>,
    },

    /// A cycle runs only through stateless nodes (an algebraic loop with no neuron state to
    /// carry it from one time step to the next).
    #[error("{}: cycle through non-recurrent nodes {}: every cycle needs a stateful node (I, IF, LI, LIF, CubaLI, CubaLIF, Delay)", file.display(), nodes.join(" -> "))]
    Cycle {
        /// The file concerned.
        file: PathBuf,
        /// The nodes on the cycle (paths in the graph).
        nodes: Vec<String>,
    },

    /// A discrete/continuous parameter conversion got a value outside its domain.
    #[error("node `{node}`: cannot convert `{quantity}` = {value}: expected {expected}")]
    Mapping {
        /// The node concerned (may be empty when converting a lone value).
        node: String,
        /// The quantity being converted (`beta`, `tau`, `dt`, ...).
        quantity: &'static str,
        /// The offending value.
        value: f64,
        /// The valid domain.
        expected: &'static str,
    },

    /// An [`Array`](crate::Array) was given data whose length differs from its shape.
    #[error("array `{name}`: shape {shape:?} holds {expected} elements, got {found}")]
    ArrayShape {
        /// The array concerned.
        name: String,
        /// The requested shape.
        shape: Vec<usize>,
        /// Product of `shape`.
        expected: usize,
        /// Number of elements supplied.
        found: usize,
    },

    /// The safetensors file could not be encoded or decoded.
    #[error("{}: invalid safetensors data: {detail}", file.display())]
    Safetensors {
        /// The file concerned.
        file: PathBuf,
        /// What the safetensors codec reported.
        detail: String,
    },

    /// A safetensors tensor has an element type this crate does not convert to `f32`.
    #[error("{}: tensor `{tensor}` has dtype {found}; expected F32 or F64", file.display())]
    SafetensorsDtype {
        /// The file concerned.
        file: PathBuf,
        /// The tensor concerned.
        tensor: String,
        /// The dtype found.
        found: String,
    },
}

/// Evaluates `$some` with `$file` bound to the `file` field of whichever variant `$error`
/// holds, or `$none` for the variants without one: the one list of the variants that name a
/// file.
macro_rules! with_file_field {
    ($error:expr, $file:ident => $some:expr, $none:expr) => {
        match $error {
            NirError::Io { file: $file, .. }
            | NirError::NotHdf5 { file: $file }
            | NirError::Truncated { file: $file, .. }
            | NirError::Hdf5 { file: $file, .. }
            | NirError::MissingEntry { file: $file, .. }
            | NirError::UnknownNodeType { file: $file, .. }
            | NirError::MissingParameter { file: $file, .. }
            | NirError::UnknownParameter { file: $file, .. }
            | NirError::WrongType { file: $file, .. }
            | NirError::InvalidParameter { file: $file, .. }
            | NirError::InvalidName { file: $file, .. }
            | NirError::InvalidEdges { file: $file, .. }
            | NirError::UnknownEdgeEndpoint { file: $file, .. }
            | NirError::EdgeShapeMismatch { file: $file, .. }
            | NirError::Cycle { file: $file, .. }
            | NirError::Safetensors { file: $file, .. }
            | NirError::SafetensorsDtype { file: $file, .. } => $some,
            NirError::Mapping { .. } | NirError::ArrayShape { .. } => $none,
        }
    };
}

impl NirError {
    /// The file the error concerns ([`IN_MEMORY`] when none), if the variant has one.
    pub fn file(&self) -> Option<&Path> {
        with_file_field!(self, file => Some(file.as_path()), None)
    }

    /// Replaces the `file` of a variant that has one (used to attach the path of the file a
    /// graph was read from to errors found by [`validate`](crate::validate::validate)).
    #[must_use]
    pub fn with_file(mut self, path: &Path) -> Self {
        with_file_field!(&mut self, file => *file = path.to_path_buf(), ());
        self
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = NirError> = std::result::Result<T, E>;

pub(crate) fn in_memory() -> PathBuf {
    PathBuf::from(IN_MEMORY)
}
