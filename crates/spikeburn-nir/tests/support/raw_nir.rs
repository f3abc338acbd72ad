//! Hand-built NIR files for the tests of malformed and unusual files (included by path from
//! `malformed.rs` and `file_layout.rs`): datasets and node groups written with `hdf5-pure`
//! directly, a small valid graph, and the reader with the test's file name.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;

use hdf5_pure::{FileBuilder, GroupBuilder};
use spikeburn_nir::{Affine, Array, Lif, NirError, NirGraph, Node, read_nir_bytes};

/// A dataset of a hand-built node group.
pub enum D<'a> {
    F(Vec<usize>, Vec<f32>),
    I(Vec<usize>, Vec<i64>),
    S(&'a str),
}

pub fn put(g: &mut GroupBuilder, name: &str, d: &D) {
    let dims = |s: &[usize]| s.iter().map(|&x| x as u64).collect::<Vec<_>>();
    match d {
        D::F(shape, data) => {
            g.create_dataset(name)
                .with_f32_data(data)
                .with_shape(&dims(shape));
        }
        D::I(shape, data) => {
            g.create_dataset(name)
                .with_i64_data(data)
                .with_shape(&dims(shape));
        }
        D::S(s) => {
            g.create_dataset(name)
                .with_vlen_strings(&[s])
                .with_shape(&[]);
        }
    }
}

/// Adds the NIR `version` dataset ("1.0.8") to a file being built.
pub fn put_version(b: &mut FileBuilder) {
    b.create_dataset("version")
        .with_vlen_strings(&["1.0.8"])
        .with_shape(&[]);
}

pub type RawNode<'a> = (&'a str, Vec<(&'a str, D<'a>)>);

/// An NIR file with the given nodes (each with its `type` among its datasets) and edges.
pub fn raw_nir(nodes: &[RawNode], edges: &[(&str, &str)]) -> Vec<u8> {
    let mut b = FileBuilder::new();
    put_version(&mut b);
    let mut node = b.create_group("node");
    put(&mut node, "type", &D::S("NIRGraph"));
    let flat: Vec<&str> = edges.iter().flat_map(|(s, t)| [*s, *t]).collect();
    node.create_dataset("edges")
        .with_vlen_strings(&flat)
        .with_shape(&[edges.len() as u64, 2]);
    let mut ns = node.create_group("nodes");
    for (name, fields) in nodes {
        let mut g = ns.create_group(name);
        for (field, d) in fields {
            put(&mut g, field, d);
        }
        ns.add_group(g.finish());
    }
    node.add_group(ns.finish());
    b.add_group(node.finish());
    b.finish().expect("encode")
}

pub fn input(n: usize) -> RawNode<'static> {
    (
        "in",
        vec![
            ("type", D::S("Input")),
            ("shape", D::I(vec![1], vec![n as i64])),
        ],
    )
}

pub fn lif(name: &'static str, n: usize) -> RawNode<'static> {
    let arr = |x: f32| D::F(vec![n], vec![x; n]);
    (
        name,
        vec![
            ("type", D::S("LIF")),
            ("tau", arr(2e-3)),
            ("r", arr(20.0)),
            ("v_leak", arr(0.0)),
            ("v_threshold", arr(1.0)),
            ("v_reset", arr(0.0)),
        ],
    )
}

pub fn affine(name: &'static str, out: usize, inp: usize) -> RawNode<'static> {
    raw_affine(
        name,
        D::F(vec![out, inp], vec![0.5; out * inp]),
        D::F(vec![out], vec![0.0; out]),
    )
}

/// An Affine node with the given `weight` and `bias` datasets, whatever they hold.
pub fn raw_affine<'a>(name: &'a str, weight: D<'a>, bias: D<'a>) -> RawNode<'a> {
    (
        name,
        vec![("type", D::S("Affine")), ("weight", weight), ("bias", bias)],
    )
}

/// in (3) → fc (Affine 2×3) → the given node, named `lif` in the edges → out (2).
pub fn mlp_with(lif_node: RawNode) -> Vec<u8> {
    raw_nir(
        &[input(3), affine("fc", 2, 3), lif_node, output(2)],
        &[("in", "fc"), ("fc", "lif"), ("lif", "out")],
    )
}

/// The 2-neuron LIF node `lif` without its dataset `field`.
pub fn lif_without(field: &str) -> RawNode<'static> {
    let (name, mut fields) = lif("lif", 2);
    fields.retain(|(f, _)| *f != field);
    (name, fields)
}

/// in (3) → the given node, named `fc` in the edges → out (2).
pub fn single_layer(fc: RawNode) -> Vec<u8> {
    raw_nir(&[input(3), fc, output(2)], &[("in", "fc"), ("fc", "out")])
}

pub fn output(n: usize) -> RawNode<'static> {
    (
        "out",
        vec![
            ("type", D::S("Output")),
            ("shape", D::I(vec![1], vec![n as i64])),
        ],
    )
}

pub fn path() -> PathBuf {
    PathBuf::from("/models/bad.nir")
}

pub fn read(bytes: Vec<u8>) -> Result<spikeburn_nir::NirFile, NirError> {
    read_nir_bytes(bytes, &path())
}

pub fn assert_names_file(e: &NirError) {
    assert_eq!(e.file(), Some(path().as_path()), "{e}");
    assert!(e.to_string().starts_with("/models/bad.nir: "), "{e}");
}

/// in (3) → fc (Affine 2×3) → lif (2 LIF neurons) → out (2).
pub fn small_graph() -> NirGraph {
    NirGraph::sequential([
        ("in", Node::Input { shape: vec![3] }),
        (
            "fc",
            Node::Affine(Affine {
                weight: Array::new(vec![2, 3], vec![0.25; 6]).expect("w"),
                bias: Array::vector(vec![0.0, 1.0]),
            }),
        ),
        (
            "lif",
            Node::Lif(Lif {
                tau: Array::vector(vec![2e-3; 2]),
                r: Array::vector(vec![20.0; 2]),
                v_leak: Array::vector(vec![0.0; 2]),
                v_threshold: Array::vector(vec![1.0; 2]),
                v_reset: Array::vector(vec![0.0; 2]),
            }),
        ),
        ("out", Node::Output { shape: vec![2] }),
    ])
}
