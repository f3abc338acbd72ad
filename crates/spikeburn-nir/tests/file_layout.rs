//! The file layout the reader accepts and refuses, at the edges of its rules: group nesting,
//! the superblock versions' end-of-file address, and the shape and type of the edge list.
//! Files are written with spikeburn-nir's writer or built byte by byte from the HDF5
//! specification.

use hdf5_pure::{FileBuilder, GroupBuilder};
use spikeburn_nir::{NirError, WriteOptions, nir_to_bytes};

#[path = "support/raw_nir.rs"]
mod raw_nir;
use raw_nir::*;

/// Metadata maps nested `depth` deep under the graph's metadata, the innermost holding a float.
fn nested_metadata_graph(depth: usize) -> Vec<u8> {
    let mut value = spikeburn_nir::MetaValue::Float(1.0);
    for _ in 0..depth {
        let mut map = spikeburn_nir::Metadata::new();
        map.insert("m".into(), value);
        value = spikeburn_nir::MetaValue::Map(map);
    }
    let mut g = small_graph();
    g.metadata.insert("m".into(), value);
    nir_to_bytes(&g, &WriteOptions::default()).expect("encode")
}

/// HDF5 links can make a group contain itself, so the reader stops at 64 levels of groups
/// (counted as the `/` in an object's path). The graph's metadata group is `node/metadata`
/// (one `/`) and each nested map adds one level: 63 maps reach 64 `/`, the most allowed; 64
/// maps are refused, naming the nesting.
#[test]
fn groups_nested_deeper_than_64_levels_are_refused() {
    read(nested_metadata_graph(63)).expect("64 levels are allowed");
    let e = read(nested_metadata_graph(64)).unwrap_err();
    assert!(
        matches!(&e, NirError::Hdf5 { detail, .. } if detail.contains("nested more than 64 levels")),
        "{e}"
    );
    assert_names_file(&e);
}

/// A file cut short after its superblock, for superblock versions 0 and 1, built byte by byte
/// from the HDF5 specification (section II.A): signature, version, the version and size
/// bytes, the group K values and flags (and, in version 1, the indexed-storage K and two
/// reserved bytes), then the base, free-space and end-of-file addresses (8 bytes each). The
/// end of file says 4096 bytes; the file has 128.
fn superblock_only(version: u8) -> Vec<u8> {
    let mut b = b"\x89HDF\r\n\x1a\n".to_vec();
    b.extend([version, 0, 0, 0, 0, 8, 8, 0]); // versions, offset and length sizes
    b.extend([4, 0, 16, 0]); // group leaf K = 4, internal K = 16
    b.extend([0, 0, 0, 0]); // consistency flags
    if version == 1 {
        b.extend([32, 0, 0, 0]); // indexed-storage K = 32, reserved
    }
    b.extend(0u64.to_le_bytes()); // base address
    b.extend(u64::MAX.to_le_bytes()); // free-space address: undefined
    b.extend(4096u64.to_le_bytes()); // end-of-file address
    b.resize(128, 0);
    b
}

#[test]
fn version_0_and_1_superblocks_are_checked_for_truncation() {
    for version in [0u8, 1] {
        let e = read(superblock_only(version)).unwrap_err();
        assert!(
            matches!(
                e,
                NirError::Truncated {
                    expected: 4096,
                    actual: 128,
                    ..
                }
            ),
            "superblock version {version}: {e}"
        );
    }
}

/// A graph group built by hand: `type`, then `edges` written by `edges` (or none), and an
/// empty `nodes` group.
fn graph_with_edges(edges: impl FnOnce(&mut GroupBuilder)) -> Vec<u8> {
    let mut b = FileBuilder::new();
    put_version(&mut b);
    let mut node = b.create_group("node");
    put(&mut node, "type", &D::S("NIRGraph"));
    edges(&mut node);
    let ns = node.create_group("nodes");
    node.add_group(ns.finish());
    b.add_group(node.finish());
    b.finish().expect("encode")
}

/// Edges must be an (E, 2) array of strings: an (E, 3) array, integers, and a graph without
/// `edges` are each refused; a graph that has every entry reads.
#[test]
fn edges_are_an_e_by_2_array_of_names() {
    let e = read(graph_with_edges(|g| {
        g.create_dataset("edges")
            .with_vlen_strings(&["a", "b", "c", "d", "e", "f"])
            .with_shape(&[2, 3]);
    }))
    .unwrap_err();
    assert!(
        matches!(&e, NirError::InvalidEdges { .. }) && e.to_string().contains("[2, 3]"),
        "{e}"
    );
    let e = read(graph_with_edges(|g| {
        g.create_dataset("edges")
            .with_i64_data(&[0, 1])
            .with_shape(&[1, 2]);
    }))
    .unwrap_err();
    assert!(
        matches!(&e, NirError::InvalidEdges { .. }) && e.to_string().contains("expected strings"),
        "{e}"
    );
    let e = read(graph_with_edges(|_| {})).unwrap_err();
    assert!(
        matches!(&e, NirError::MissingEntry { path, .. } if path == "node/edges"),
        "{e}"
    );
    read(graph_with_edges(|g| {
        g.create_dataset("edges")
            .with_vlen_strings(&[])
            .with_shape(&[0, 2]);
    }))
    .expect("an empty graph with every entry");
}
