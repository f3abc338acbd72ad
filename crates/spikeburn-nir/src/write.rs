//! Writing NIR graphs to HDF5 files (pure Rust, through `hdf5-pure`), and the atomic file
//! replacement shared with [`crate::safetensors`].
//!
//! The layout is the one `nir` 1.0.8 writes (see [`crate::read`]): root `version`, group
//! `node` with `type` = `"NIRGraph"`, `edges` as an (E, 2) array of variable-length UTF-8
//! strings, `nodes/<name>/type` as a scalar string plus one dataset per parameter (`f32`
//! arrays, `i64` integers, `Conv1d` settings as scalars and `Conv2d` ones as pairs), and
//! `metadata/` groups only when non-empty. Numeric arrays are gzip-compressed in one chunk, as
//! `nir.write` does, unless [`WriteOptions::gzip_level`] is `None`.

use std::path::Path;

use hdf5_pure::{FileBuilder, GroupBuilder};

use crate::error::{NirError, Result, in_memory};
use crate::graph::{MetaValue, Metadata, NirGraph, Node};
use crate::params::{Param, node_fields};
use crate::validate::validate;

/// The `version` string written to the file: the `nir` release whose layout this crate
/// follows.
pub const NIR_VERSION: &str = "1.0.8";

/// Options of [`write_nir_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Gzip (deflate) level 0–9 for numeric arrays, or `None` to store them uncompressed.
    /// Default `Some(4)`, the level `nir.write` (h5py) uses.
    pub gzip_level: Option<u32>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            gzip_level: Some(4),
        }
    }
}

/// Validates `graph` and writes it to `path` atomically (a temporary file in the same
/// directory, renamed over `path` once complete), with default [`WriteOptions`].
pub fn write_nir(path: impl AsRef<Path>, graph: &NirGraph) -> Result<()> {
    write_nir_with(path, graph, &WriteOptions::default())
}

/// Validates `graph` and writes it to `path` atomically with the given options.
pub fn write_nir_with(
    path: impl AsRef<Path>,
    graph: &NirGraph,
    options: &WriteOptions,
) -> Result<()> {
    let path = path.as_ref();
    let bytes = nir_to_bytes(graph, options).map_err(|e| e.with_file(path))?;
    write_atomic(path, &bytes)
}

/// Validates `graph` and encodes it as the bytes of an NIR HDF5 file.
pub fn nir_to_bytes(graph: &NirGraph, options: &WriteOptions) -> Result<Vec<u8>> {
    validate(graph)?;
    let mut builder = FileBuilder::new();
    builder
        .create_dataset("version")
        .with_vlen_strings(&[NIR_VERSION])
        .with_shape(&[]);
    let mut node = builder.create_group("node");
    write_graph(&mut node, graph, &Metadata::new(), options);
    builder.add_group(node.finish());
    builder.finish().map_err(|e| NirError::Hdf5 {
        file: in_memory(),
        object: "/".to_string(),
        detail: format!("encoding failed: {e}"),
    })
}

fn dims(shape: &[usize]) -> Vec<u64> {
    shape.iter().map(|&d| d as u64).collect()
}

fn write_scalar_string(group: &mut GroupBuilder, name: &str, value: &str) {
    group
        .create_dataset(name)
        .with_vlen_strings(&[value])
        .with_shape(&[]);
}

/// Largest array stored in a single compressed chunk (HDF5 caps a chunk at 4 GiB).
const MAX_CHUNK_BYTES: usize = 1 << 30;

fn write_value(group: &mut GroupBuilder, name: &str, value: &Param, options: &WriteOptions) {
    match value {
        Param::Floats(a) => {
            let ds = group
                .create_dataset(name)
                .with_f32_data(a.data())
                .with_shape(&dims(a.shape()));
            compress(ds, a.shape(), a.len() * 4, options);
        }
        Param::Ints { shape, data } => {
            let ds = group
                .create_dataset(name)
                .with_i64_data(data)
                .with_shape(&dims(shape));
            // `nir.write` compresses NumPy arrays but stores Python ints plainly; scalars
            // cannot be chunked anyway.
            compress(ds, shape, data.len() * 8, options);
        }
        Param::Str(s) => write_scalar_string(group, name, s),
    }
}

fn compress(
    ds: &mut hdf5_pure::DatasetBuilder,
    shape: &[usize],
    bytes: usize,
    options: &WriteOptions,
) {
    if let Some(level) = options.gzip_level
        && !shape.is_empty()
        && !shape.contains(&0)
        && bytes <= MAX_CHUNK_BYTES
    {
        ds.with_chunks(&dims(shape)).with_deflate(level.min(9));
    }
}

fn write_graph(
    group: &mut GroupBuilder,
    graph: &NirGraph,
    extra_metadata: &Metadata,
    options: &WriteOptions,
) {
    write_scalar_string(group, "type", "NIRGraph");
    let flat: Vec<&str> = graph
        .edges
        .iter()
        .flat_map(|e| [e.source.as_str(), e.target.as_str()])
        .collect();
    group
        .create_dataset("edges")
        .with_vlen_strings(&flat)
        .with_shape(&[graph.edges.len() as u64, 2]);
    let mut nodes = group.create_group("nodes");
    for (name, entry) in &graph.nodes {
        let mut g = nodes.create_group(name);
        match &entry.node {
            Node::Graph(sub) => write_graph(&mut g, sub, &entry.metadata, options),
            node => {
                write_scalar_string(&mut g, "type", node.type_name());
                for (field, value) in node_fields(node) {
                    write_value(&mut g, field, &value, options);
                }
                write_metadata(&mut g, &entry.metadata, &Metadata::new());
            }
        }
        nodes.add_group(g.finish());
    }
    group.add_group(nodes.finish());
    write_metadata(group, &graph.metadata, extra_metadata);
}

/// Writes `metadata` (overridden by `extra`) as a `metadata` group, if there is any.
fn write_metadata(group: &mut GroupBuilder, metadata: &Metadata, extra: &Metadata) {
    if metadata.is_empty() && extra.is_empty() {
        return;
    }
    let mut merged = metadata.clone();
    merged.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut g = group.create_group("metadata");
    write_meta_entries(&mut g, &merged);
    group.add_group(g.finish());
}

fn write_meta_entries(group: &mut GroupBuilder, metadata: &Metadata) {
    for (name, value) in metadata {
        match value {
            MetaValue::String(s) => write_scalar_string(group, name, s),
            MetaValue::Float(v) => {
                group
                    .create_dataset(name)
                    .with_f64_data(&[*v])
                    .with_shape(&[]);
            }
            MetaValue::Int(v) => {
                group
                    .create_dataset(name)
                    .with_i64_data(&[*v])
                    .with_shape(&[]);
            }
            MetaValue::Floats { shape, data } => {
                group
                    .create_dataset(name)
                    .with_f64_data(data)
                    .with_shape(&dims(shape));
            }
            MetaValue::Ints { shape, data } => {
                group
                    .create_dataset(name)
                    .with_i64_data(data)
                    .with_shape(&dims(shape));
            }
            MetaValue::Strings { shape, data } => {
                let refs: Vec<&str> = data.iter().map(String::as_str).collect();
                group
                    .create_dataset(name)
                    .with_vlen_strings(&refs)
                    .with_shape(&dims(shape));
            }
            MetaValue::Map(sub) => {
                let mut g = group.create_group(name);
                write_meta_entries(&mut g, sub);
                group.add_group(g.finish());
            }
        }
    }
}

/// Writes `bytes` to `path` atomically through [`spikeburn_io::write_bytes_atomically`]: into
/// a temporary file in the same directory, flushed to disk, renamed over `path`, and the
/// directory flushed. On failure `path` is untouched and the temporary file is removed.
///
/// # Errors
/// [`NirError::Io`] naming the file and the step that failed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    spikeburn_io::write_bytes_atomically(path, bytes).map_err(|e| NirError::Io {
        file: e.path,
        action: e.action,
        source: e.source,
    })
}
