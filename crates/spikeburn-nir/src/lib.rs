//! # spikeburn-nir
//!
//! The file-format layer of spikeburn's export and import, without any dependency on burn:
//!
//! - [`graph`]: an in-memory NIR graph ([`NirGraph`]): named [`Node`]s with typed parameters,
//!   edges and metadata;
//! - [`mod@read`] / [`mod@write`]: NIR HDF5 files (NIR 1.0, as `nir` 1.0.8 reads and writes them),
//!   in pure Rust through `hdf5-pure`; writing is atomic (temporary file + rename);
//! - [`mod@validate`]: parameter shapes, edge endpoints, cycles through non-recurrent nodes,
//!   shapes across edges, and the evaluation order an importer needs;
//! - [`mapping`]: discrete-time (β, α, dt) ↔ continuous-time (τ, r, w_in) neuron parameters,
//!   with the equations;
//! - [`mod@safetensors`]: named `f32` tensors in the safetensors format;
//! - `convert` (cargo feature `model`, default on; the only part that needs burn): spikeburn
//!   networks to NIR graphs and safetensors weights, NIR graphs to runnable run directories.
//!
//! Every failure is a [`NirError`] naming the file, the node or field, and what was expected;
//! malformed input never panics.
//!
//! ```
//! use spikeburn_nir::{Affine, Array, NirGraph, Node, mapping};
//!
//! let lif = mapping::lif_from_discrete(&Array::vector(vec![0.9, 0.95]), &Array::scalar(1.0), 1e-3)?;
//! let mut graph = NirGraph::sequential([
//!     ("input", Node::Input { shape: vec![3] }),
//!     ("fc", Node::Affine(Affine {
//!         weight: Array::new(vec![2, 3], vec![0.1; 6])?,
//!         bias: Array::vector(vec![0.0, 0.0]),
//!     })),
//!     ("lif", Node::Lif(lif)),
//!     ("output", Node::Output { shape: vec![2] }),
//! ]);
//! graph.set_dt(1e-3);
//! let bytes = spikeburn_nir::nir_to_bytes(&graph, &Default::default())?;
//! let back = spikeburn_nir::read_nir_bytes(bytes, "model.nir".as_ref())?;
//! assert_eq!(back.graph, graph);
//! # Ok::<(), spikeburn_nir::NirError>(())
//! ```

#![warn(missing_docs)]

#[cfg(feature = "model")]
pub mod convert;
pub mod error;
pub mod graph;
pub mod mapping;
mod params;
pub mod read;
pub mod safetensors;
pub mod validate;
pub mod write;

pub use error::{IN_MEMORY, NirError, Result};
pub use graph::{
    Affine, Array, Conv, CubaLi, CubaLif, Delay, Edge, Flatten, If, Integrator, Li, Lif, Linear,
    METADATA_DT, MetaValue, Metadata, NODE_TYPES, NirGraph, Node, NodeEntry, Padding, Pool2d,
    Scale, Threshold,
};
pub use params::Param;
pub use read::{NirFile, read_nir, read_nir_bytes};
pub use safetensors::{
    Tensors, read_safetensors, read_safetensors_bytes, safetensors_to_bytes, write_safetensors,
};
pub use validate::{ExecutionOrder, execution_order, output_shapes, validate};
pub use write::{NIR_VERSION, WriteOptions, nir_to_bytes, write_atomic, write_nir, write_nir_with};
