//! Reading NIR graphs from HDF5 files (pure Rust, through `hdf5-pure`).
//!
//! Accepts the layout `nir` 1.0.x writes: a root `version` string and a group `node` holding
//! `type` = `"NIRGraph"`, `edges` (an (E, 2) array of UTF-8 strings), `nodes/<name>/` (one
//! group per node: `type` plus one dataset per parameter, gzip-compressed and chunked or
//! not), and optional `metadata/` groups. Like `nir.read`, a node group holding a key its
//! type does not define is rejected ([`NirError::UnknownParameter`]).
//!
//! Every failure is a typed [`NirError`] naming the file; a malformed file never panics (the
//! HDF5 decoder is additionally run under `catch_unwind`, so that a bug in it surfaces as
//! [`NirError::Hdf5`]).

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use hdf5_pure::{DType, Dataset, File, Group};

use crate::error::{NirError, Result};
use crate::graph::{Array, Edge, MetaValue, Metadata, NirGraph, NodeEntry};
use crate::params::{FieldSource, Param, node_from_fields};
use crate::validate::validate;

/// The result of reading an NIR file: the graph and the `version` string it declares.
#[derive(Debug, Clone, PartialEq)]
pub struct NirFile {
    /// The NIR version the file declares (its root `version` dataset, e.g. `"1.0.8"`).
    pub version: String,
    /// The graph (the file's `node` group).
    pub graph: NirGraph,
}

/// Reads and validates the NIR graph in `path` (see [`read_nir_bytes`]).
pub fn read_nir(path: impl AsRef<Path>) -> Result<NirFile> {
    let path = path.as_ref();
    read_nir_bytes(read_bytes(path)?, path)
}

/// The bytes of the file at `path`; a failure is [`NirError::Io`] naming it.
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| NirError::Io {
        file: path.to_path_buf(),
        action: "reading",
        source,
    })
}

/// Reads and validates an NIR graph from the bytes of a file; `path` is only used in error
/// messages. The graph is checked with [`validate`] (node parameters, edges, cycles through
/// non-recurrent nodes, shapes across edges).
pub fn read_nir_bytes(bytes: Vec<u8>, path: &Path) -> Result<NirFile> {
    let decoded = catch_unwind(AssertUnwindSafe(|| decode(bytes)));
    let file = match decoded {
        Ok(result) => result,
        Err(_) => Err(hdf5_error("/", "the HDF5 decoder panicked on this input")),
    }
    .map_err(|e| e.with_file(path))?;
    validate(&file.graph).map_err(|e| e.with_file(path))?;
    Ok(file)
}

fn hdf5_error(object: &str, detail: impl ToString) -> NirError {
    NirError::Hdf5 {
        file: crate::error::in_memory(),
        object: object.to_string(),
        detail: detail.to_string(),
    }
}

fn h5<T>(object: &str, r: std::result::Result<T, hdf5_pure::Error>) -> Result<T> {
    r.map_err(|e| hdf5_error(object, e))
}

/// The deepest group nesting read (sub-graphs within sub-graphs, metadata groups within
/// metadata groups): far beyond any real network.
const MAX_NESTING: usize = 64;

/// Refuses a group nested deeper than [`MAX_NESTING`]: HDF5 links can make a group contain
/// itself, and following such a cycle would recurse until memory or stack ran out.
fn shallow(hdf_path: &str) -> Result<()> {
    if hdf_path.matches('/').count() > MAX_NESTING {
        return Err(hdf5_error(
            hdf_path,
            format!(
                "groups nested more than {MAX_NESTING} levels deep (a group that contains itself?)"
            ),
        ));
    }
    Ok(())
}

/// How much larger than the file its data may decode to: deflate, the one filter NIR writers
/// use, expands at most 1032:1.
const MAX_EXPANSION: u64 = 1032;

/// Bytes counted per element of a dataset for [`dataset`]'s bound (the widest numeric type).
const BYTES_PER_ELEMENT: u64 = 8;

/// Bytes counted per element of a string dataset: a `String` and a short heap buffer.
const BYTES_PER_STRING: u64 = 64;

thread_local! {
    /// The bytes the datasets of the file being decoded may still declare, together (set by
    /// [`decode`], reduced by each [`dataset`] opened).
    static DATASET_BUDGET: std::cell::Cell<u64> = const { std::cell::Cell::new(u64::MAX) };
}

/// Opens a dataset, refusing one whose dataspace declares more elements than the file could
/// hold even fully compressed, counted over all the datasets read so far: their data would be
/// read into allocations sized by unchecked headers (found by fuzzing: a 37 KB file declaring
/// 10^16 bytes aborted the process on the allocation).
fn dataset(object: &str, r: std::result::Result<Dataset, hdf5_pure::Error>) -> Result<Dataset> {
    let ds = h5(object, r)?;
    let elements = h5(object, ds.shape())?
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d));
    let budget = DATASET_BUDGET.with(std::cell::Cell::get);
    // A string element costs a `String` (24 bytes) and its heap buffer when read.
    let per_element = if is_string(&h5(object, ds.dtype())?) {
        BYTES_PER_STRING
    } else {
        BYTES_PER_ELEMENT
    };
    match elements.and_then(|n| n.checked_mul(per_element)) {
        Some(bytes) if bytes <= budget => {
            DATASET_BUDGET.with(|b| b.set(budget - bytes));
            Ok(ds)
        }
        _ => Err(hdf5_error(
            object,
            format!(
                "the dataspace declares {} elements, more than the file can hold \
                 (at most {MAX_EXPANSION}:1 compressed, {} more elements in all)",
                elements.map_or_else(|| "over 2^64".to_string(), |n| n.to_string()),
                budget / BYTES_PER_ELEMENT
            ),
        )),
    }
}

/// The end of the file according to its superblock (its end-of-file address), for superblock
/// versions 0 to 3; `None` when the superblock is too short or unknown.
fn superblock_end(bytes: &[u8], sig: usize) -> Option<u64> {
    let at = |i: usize| bytes.get(sig.checked_add(i)?).copied();
    let version = at(8)?;
    let (offset_size, first_addr) = match version {
        0 => (at(13)?, 24),
        1 => (at(13)?, 28),
        2 | 3 => (at(9)?, 12),
        _ => return None,
    };
    let o = usize::from(offset_size);
    if !matches!(o, 2 | 4 | 8) {
        return None;
    }
    let read = |field: usize| -> Option<u64> {
        let start = sig
            .checked_add(first_addr)?
            .checked_add(field.checked_mul(o)?)?;
        let raw = bytes.get(start..start.checked_add(o)?)?;
        let mut buf = [0u8; 8];
        buf.get_mut(..o)?.copy_from_slice(raw);
        Some(u64::from_le_bytes(buf))
    };
    // v0/1: base, free-space, eof; v2/3: base, superblock extension, eof. The end-of-file
    // address is absolute, user block included, unlike the other addresses (libhdf5 compares
    // it with the file's size; a 512-byte user block written by h5py gives a base of 512 and
    // an end-of-file address equal to the file's length).
    let eof = read(2)?;
    (eof != u64::MAX).then_some(eof)
}

/// Offset of the HDF5 signature: 0, 512, 1024, 2048, ... (after a user block).
fn find_signature(bytes: &[u8]) -> Option<usize> {
    const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
    let mut offset = 0usize;
    loop {
        let end = offset.checked_add(SIGNATURE.len())?;
        if bytes.get(offset..end)? == SIGNATURE {
            return Some(offset);
        }
        offset = if offset == 0 {
            512
        } else {
            offset.checked_mul(2)?
        };
    }
}

fn decode(bytes: Vec<u8>) -> Result<NirFile> {
    let Some(sig) = find_signature(&bytes) else {
        return Err(NirError::NotHdf5 {
            file: crate::error::in_memory(),
        });
    };
    let actual = bytes.len() as u64;
    if let Some(expected) = superblock_end(&bytes, sig)
        && expected > actual
    {
        return Err(NirError::Truncated {
            file: crate::error::in_memory(),
            expected,
            actual,
        });
    }
    let budget = (bytes.len() as u64).saturating_mul(MAX_EXPANSION * BYTES_PER_ELEMENT);
    DATASET_BUDGET.with(|b| b.set(budget));
    let file = h5("/", File::from_bytes(bytes))?;
    let root = file.root();
    let root_datasets = h5("/", root.datasets())?;
    let root_groups = h5("/", root.groups())?;
    if !root_datasets.iter().any(|d| d == "version") {
        return Err(missing("version", "a string dataset with the NIR version"));
    }
    let version = read_scalar_string(&dataset("version", root.dataset("version"))?, "version", "")?;
    if !root_groups.iter().any(|g| g == "node") {
        return Err(missing("node", "the group holding the NIR graph"));
    }
    let node = h5("node", root.group("node"))?;
    let graph = read_graph(&node, "node", "")?;
    Ok(NirFile { version, graph })
}

fn missing(path: &str, expected: &'static str) -> NirError {
    NirError::MissingEntry {
        file: crate::error::in_memory(),
        path: path.to_string(),
        expected,
    }
}

fn wrong_type(node: &str, field: &str, expected: &'static str, found: String) -> NirError {
    NirError::WrongType {
        file: crate::error::in_memory(),
        node: node.to_string(),
        field: field.to_string(),
        expected,
        found,
    }
}

fn shape_of(ds: &Dataset, object: &str) -> Result<Vec<usize>> {
    h5(object, ds.shape())?
        .into_iter()
        .map(|d| usize::try_from(d).map_err(|_| hdf5_error(object, "dimension too large")))
        .collect()
}

fn is_string(dtype: &DType) -> bool {
    matches!(dtype, DType::String | DType::VariableLengthString)
}

fn is_float(dtype: &DType) -> bool {
    matches!(dtype, DType::F32 | DType::F64)
}

fn is_int(dtype: &DType) -> bool {
    matches!(
        dtype,
        DType::I8
            | DType::I16
            | DType::I32
            | DType::I64
            | DType::U8
            | DType::U16
            | DType::U32
            | DType::U64
    )
}

fn read_scalar_string(ds: &Dataset, object: &str, node: &str) -> Result<String> {
    let dtype = h5(object, ds.dtype())?;
    if !is_string(&dtype) {
        return Err(wrong_type(node, object, "a string", dtype.to_string()));
    }
    let mut values = h5(object, ds.read_string())?;
    match values.len() {
        1 => Ok(values.pop().unwrap_or_default()),
        n => Err(NirError::InvalidParameter {
            file: crate::error::in_memory(),
            node: node.to_string(),
            field: object.to_string(),
            problem: format!("expected one string, got {n}"),
        }),
    }
}

/// Reads one dataset of a node group as a parameter value.
fn read_value(ds: &Dataset, object: &str, node: &str, field: &str) -> Result<Param> {
    let dtype = h5(object, ds.dtype())?;
    let shape = shape_of(ds, object)?;
    if is_float(&dtype) {
        let data = h5(object, ds.read_f32())?;
        Ok(Param::Floats(Array::new(shape, data).map_err(|_| {
            hdf5_error(object, "element count differs from the dataspace")
        })?))
    } else if is_int(&dtype) {
        let data = h5(object, ds.read_i64())?;
        Ok(Param::Ints { shape, data })
    } else if is_string(&dtype) {
        Ok(Param::Str(read_scalar_string(ds, field, node)?))
    } else {
        Err(wrong_type(
            node,
            field,
            "numbers or a string",
            dtype.to_string(),
        ))
    }
}

/// The datasets of a node group, read on demand by [`node_from_fields`].
struct GroupFields<'a> {
    group: &'a Group,
    remaining: BTreeSet<String>,
    hdf_path: &'a str,
    node: &'a str,
}

impl FieldSource for GroupFields<'_> {
    fn take(&mut self, name: &'static str) -> Result<Option<Param>> {
        if !self.remaining.remove(name) {
            return Ok(None);
        }
        let object = format!("{}/{name}", self.hdf_path);
        let ds = dataset(&object, self.group.dataset(name))?;
        read_value(&ds, &object, self.node, name).map(Some)
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// Reads a `NIRGraph` group (`type`, `edges`, `nodes/`, optional `metadata/`).
fn read_graph(group: &Group, hdf_path: &str, graph_path: &str) -> Result<NirGraph> {
    shallow(hdf_path)?;
    let datasets = h5(hdf_path, group.datasets())?;
    let groups = h5(hdf_path, group.groups())?;
    let unknown = |field: &str| NirError::UnknownParameter {
        file: crate::error::in_memory(),
        node: graph_path.to_string(),
        node_type: "NIRGraph",
        field: field.to_string(),
    };
    if let Some(extra) = datasets
        .iter()
        .find(|d| !matches!(d.as_str(), "type" | "edges"))
    {
        return Err(unknown(extra));
    }
    if let Some(extra) = groups
        .iter()
        .find(|g| !matches!(g.as_str(), "nodes" | "metadata"))
    {
        return Err(unknown(extra));
    }
    for (name, expected) in [
        ("type", "the string \"NIRGraph\""),
        ("edges", "an (E, 2) array of node names"),
    ] {
        if !datasets.iter().any(|d| d == name) {
            return Err(missing(&format!("{hdf_path}/{name}"), expected));
        }
    }
    if !groups.iter().any(|g| g == "nodes") {
        return Err(missing(
            &format!("{hdf_path}/nodes"),
            "the group holding one group per node",
        ));
    }
    let type_path = format!("{hdf_path}/type");
    let ty = read_scalar_string(
        &dataset(&type_path, group.dataset("type"))?,
        "type",
        graph_path,
    )?;
    if ty != "NIRGraph" {
        return Err(NirError::UnknownNodeType {
            file: crate::error::in_memory(),
            node: if graph_path.is_empty() {
                "(top-level graph)".to_string()
            } else {
                graph_path.to_string()
            },
            found: ty,
        });
    }
    let edges_path = format!("{hdf_path}/edges");
    let edges = read_edges(
        &dataset(&edges_path, group.dataset("edges"))?,
        &edges_path,
        graph_path,
    )?;

    let nodes_path = format!("{hdf_path}/nodes");
    let nodes_group = h5(&nodes_path, group.group("nodes"))?;
    if let Some(ds) = h5(&nodes_path, nodes_group.datasets())?.first() {
        return Err(NirError::InvalidParameter {
            file: crate::error::in_memory(),
            node: graph_path.to_string(),
            field: format!("nodes/{ds}"),
            problem: "expected only node groups under `nodes`, found a dataset".to_string(),
        });
    }
    let mut graph = NirGraph::new();
    graph.edges = edges;
    for name in h5(&nodes_path, nodes_group.groups())? {
        let node_hdf = format!("{nodes_path}/{name}");
        let node_group = h5(&node_hdf, nodes_group.group(&name))?;
        let entry = read_node(&node_group, &node_hdf, &join(graph_path, &name))?;
        graph.nodes.insert(name, entry);
    }
    if groups.iter().any(|g| g == "metadata") {
        let meta_path = format!("{hdf_path}/metadata");
        graph.metadata = read_metadata(&h5(&meta_path, group.group("metadata"))?, &meta_path)?;
    }
    Ok(graph)
}

fn read_edges(ds: &Dataset, object: &str, graph_path: &str) -> Result<Vec<Edge>> {
    let bad = |problem: String| NirError::InvalidEdges {
        file: crate::error::in_memory(),
        graph: graph_path.to_string(),
        problem,
    };
    let shape = shape_of(ds, object)?;
    // An empty edge list may come as shape (0,) of any type (NumPy's `np.array([])`).
    if shape.contains(&0) {
        return Ok(Vec::new());
    }
    let dtype = h5(object, ds.dtype())?;
    if !is_string(&dtype) {
        return Err(bad(format!("expected strings, found element type {dtype}")));
    }
    if shape.len() != 2 || shape.get(1) != Some(&2) {
        return Err(bad(format!("expected shape (E, 2), found {shape:?}")));
    }
    let names = h5(object, ds.read_string())?;
    if names.len() % 2 != 0 {
        return Err(bad(format!("odd number of names ({})", names.len())));
    }
    Ok(names
        .chunks_exact(2)
        .filter_map(|pair| match pair {
            [s, t] => Some(Edge::new(s.clone(), t.clone())),
            _ => None,
        })
        .collect())
}

fn read_node(group: &Group, hdf_path: &str, node_path: &str) -> Result<NodeEntry> {
    shallow(hdf_path)?;
    let datasets = h5(hdf_path, group.datasets())?;
    let groups = h5(hdf_path, group.groups())?;
    if !datasets.iter().any(|d| d == "type") {
        return Err(missing(
            &format!("{hdf_path}/type"),
            "the node's type string",
        ));
    }
    let ty = read_scalar_string(
        &dataset(hdf_path, group.dataset("type"))?,
        "type",
        node_path,
    )?;
    if ty == "NIRGraph" {
        // A nested graph keeps its metadata in its own `NirGraph::metadata`.
        let sub = read_graph(group, hdf_path, node_path)?;
        return Ok(NodeEntry {
            metadata: Metadata::new(),
            node: sub.into(),
        });
    }
    let mut fields = GroupFields {
        group,
        remaining: datasets.iter().filter(|d| *d != "type").cloned().collect(),
        hdf_path,
        node: node_path,
    };
    let Some(node) = node_from_fields(&ty, node_path, &mut fields)? else {
        return Err(NirError::UnknownNodeType {
            file: crate::error::in_memory(),
            node: node_path.to_string(),
            found: ty,
        });
    };
    let node_type = node.type_name();
    let unknown = |field: &str| NirError::UnknownParameter {
        file: crate::error::in_memory(),
        node: node_path.to_string(),
        node_type,
        field: field.to_string(),
    };
    if let Some(extra) = fields.remaining.first() {
        return Err(unknown(extra));
    }
    if let Some(extra) = groups.iter().find(|g| *g != "metadata") {
        return Err(unknown(extra));
    }
    let metadata = if groups.iter().any(|g| g == "metadata") {
        let meta_path = format!("{hdf_path}/metadata");
        read_metadata(&h5(&meta_path, group.group("metadata"))?, &meta_path)?
    } else {
        Metadata::new()
    };
    Ok(NodeEntry { node, metadata })
}

/// Reads a free-form metadata group. Elements of unsupported HDF5 types (compound, ...) are
/// reported as [`NirError::WrongType`].
fn read_metadata(group: &Group, hdf_path: &str) -> Result<Metadata> {
    shallow(hdf_path)?;
    let mut meta = Metadata::new();
    for name in h5(hdf_path, group.datasets())? {
        let object = format!("{hdf_path}/{name}");
        let ds = dataset(&object, group.dataset(&name))?;
        let dtype = h5(&object, ds.dtype())?;
        let shape = shape_of(&ds, &object)?;
        let scalar = shape.is_empty();
        let value = if is_float(&dtype) {
            let data = h5(&object, ds.read_f64())?;
            match (scalar, data.as_slice()) {
                (true, [v]) => MetaValue::Float(*v),
                _ => MetaValue::Floats { shape, data },
            }
        } else if is_int(&dtype) || matches!(dtype, DType::Enum(_)) {
            let data = h5(&object, ds.read_i64())?;
            match (scalar, data.as_slice()) {
                (true, [v]) => MetaValue::Int(*v),
                _ => MetaValue::Ints { shape, data },
            }
        } else if is_string(&dtype) {
            let mut data = h5(&object, ds.read_string())?;
            if scalar && data.len() == 1 {
                MetaValue::String(data.pop().unwrap_or_default())
            } else {
                MetaValue::Strings { shape, data }
            }
        } else {
            return Err(wrong_type(
                hdf_path,
                &name,
                "a number, a string, or an array of them",
                dtype.to_string(),
            ));
        };
        meta.insert(name, value);
    }
    for name in h5(hdf_path, group.groups())? {
        let object = format!("{hdf_path}/{name}");
        let sub = read_metadata(&h5(&object, group.group(&name))?, &object)?;
        meta.insert(name, MetaValue::Map(sub));
    }
    Ok(meta)
}
