//! Write → read round trips of NIR graphs and safetensors files.

use std::collections::BTreeMap;

use spikeburn_nir::{
    Affine, Array, Conv, CubaLi, CubaLif, Delay, Flatten, If, Integrator, Li, Lif, Linear,
    MetaValue, Metadata, NirGraph, Node, Padding, Pool2d, Scale, Threshold, WriteOptions,
    nir_to_bytes, read_nir, read_nir_bytes, read_safetensors, write_nir, write_nir_with,
    write_safetensors,
};

fn v(n: usize, start: f32) -> Array {
    Array::vector((0..n).map(|i| start + 0.125 * i as f32).collect())
}

fn every_node_type() -> NirGraph {
    let mut g = NirGraph::new();
    g.add_node("input", Node::Input { shape: vec![2, 6] });
    g.add_node(
        "conv1d",
        Node::Conv1d(Conv {
            input_shape: Some(vec![6]),
            weight: Array::new(vec![3, 2, 3], (0..18).map(|i| i as f32 * 0.1).collect())
                .expect("w"),
            stride: vec![1],
            padding: Padding::Same,
            dilation: vec![1],
            groups: 1,
            bias: v(3, 0.0),
        }),
    );
    g.add_node(
        "flat",
        Node::Flatten(Flatten {
            start_dim: 0,
            end_dim: -1,
            input_shape: None,
        }),
    );
    g.add_node(
        "aff",
        Node::Affine(Affine {
            weight: Array::new(vec![4, 18], vec![0.01; 72]).expect("w"),
            bias: v(4, -1.0),
        }),
    );
    g.add_node("scale", Node::Scale(Scale { scale: v(4, 1.0) }));
    g.add_node(
        "thr",
        Node::Threshold(Threshold {
            threshold: Array::scalar(0.5),
        }),
    );
    g.add_node("delay", Node::Delay(Delay { delay: v(4, 1.0) }));
    g.add_node("i", Node::I(Integrator { r: v(4, 1.0) }));
    g.add_node(
        "if",
        Node::If(If {
            r: v(4, 1.0),
            v_threshold: v(4, 1.0),
            v_reset: v(4, 0.0),
        }),
    );
    g.add_node(
        "li",
        Node::Li(Li {
            tau: v(4, 1.0),
            r: v(4, 1.0),
            v_leak: v(4, 0.0),
        }),
    );
    g.add_node(
        "lif",
        Node::Lif(Lif {
            tau: v(4, 1.0),
            r: v(4, 1.0),
            v_leak: v(4, 0.0),
            v_threshold: v(4, 1.0),
            v_reset: v(4, 0.0),
        }),
    );
    g.add_node(
        "culi",
        Node::CubaLi(CubaLi {
            tau_syn: v(4, 1.0),
            tau_mem: v(4, 2.0),
            r: v(4, 1.0),
            v_leak: v(4, 0.0),
            w_in: v(4, 1.0),
        }),
    );
    g.add_node(
        "culif",
        Node::CubaLif(CubaLif {
            tau_syn: v(4, 1.0),
            tau_mem: v(4, 2.0),
            r: v(4, 1.0),
            v_leak: v(4, 0.0),
            v_threshold: v(4, 1.0),
            v_reset: v(4, 0.0),
            w_in: v(4, 1.0),
        }),
    );
    g.add_node(
        "lin",
        Node::Linear(Linear {
            weight: Array::new(vec![4, 4], vec![0.5; 16]).expect("w"),
        }),
    );
    let out = g.add_node("output", Node::Output { shape: vec![4] });
    out.metadata
        .insert("note".into(), MetaValue::String("ünïcode ✓".into()));
    let chain = [
        "input", "conv1d", "flat", "aff", "scale", "thr", "delay", "i", "if", "li", "lif", "culi",
        "culif", "lin", "output",
    ];
    for w in chain.windows(2) {
        g.add_edge(w[0], w[1]);
    }
    g.set_dt(1e-3);
    let mut nested = Metadata::new();
    nested.insert("depth".into(), MetaValue::Int(2));
    g.metadata.insert("nested".into(), MetaValue::Map(nested));
    g.metadata.insert(
        "floats".into(),
        MetaValue::Floats {
            shape: vec![2, 2],
            data: vec![1.0, 2.0, 3.0, 4.5],
        },
    );
    g.metadata.insert(
        "ints".into(),
        MetaValue::Ints {
            shape: vec![3],
            data: vec![-1, 0, 7],
        },
    );
    g.metadata.insert(
        "names".into(),
        MetaValue::Strings {
            shape: vec![2],
            data: vec!["a".into(), "bb".into()],
        },
    );
    // Arrays of one element stay arrays (only a scalar dataset is a single value).
    g.metadata.insert(
        "one_name".into(),
        MetaValue::Strings {
            shape: vec![1],
            data: vec!["c".into()],
        },
    );
    g.metadata.insert(
        "one_float".into(),
        MetaValue::Floats {
            shape: vec![1],
            data: vec![0.25],
        },
    );
    g.metadata.insert(
        "one_int".into(),
        MetaValue::Ints {
            shape: vec![1],
            data: vec![3],
        },
    );
    g
}

#[test]
fn every_node_type_round_trips_with_and_without_gzip() {
    let g = every_node_type();
    for options in [
        WriteOptions::default(),
        WriteOptions { gzip_level: None },
        WriteOptions {
            gzip_level: Some(9),
        },
    ] {
        let bytes = nir_to_bytes(&g, &options).expect("encode");
        let back = read_nir_bytes(bytes, "x.nir".as_ref()).expect("decode");
        assert_eq!(back.version, spikeburn_nir::NIR_VERSION);
        assert_eq!(back.graph, g, "{options:?}");
    }
    let shapes = spikeburn_nir::output_shapes(&g).expect("shapes");
    assert_eq!(shapes["conv1d"], vec![3, 6]);
    assert_eq!(shapes["flat"], vec![18]);
    assert_eq!(shapes["output"], vec![4]);
}

/// A 2×2 pooling window with the given stride and padding.
fn pool_2x2(stride: [usize; 2], padding: [usize; 2]) -> Pool2d {
    Pool2d {
        kernel_size: [2, 2],
        stride,
        padding,
    }
}

#[test]
fn conv2d_pool_and_nested_graph_round_trip() {
    let mut inner = NirGraph::sequential([
        (
            "in",
            Node::Input {
                shape: vec![4, 4, 4],
            },
        ),
        ("pool", Node::AvgPool2d(pool_2x2([2, 2], [0, 0]))),
        (
            "out",
            Node::Output {
                shape: vec![4, 2, 2],
            },
        ),
    ]);
    inner.metadata.insert("inner".into(), MetaValue::Float(0.5));
    let g = NirGraph::sequential([
        (
            "input",
            Node::Input {
                shape: vec![1, 9, 9],
            },
        ),
        (
            "conv",
            Node::Conv2d(Conv {
                input_shape: Some(vec![9, 9]),
                weight: Array::new(vec![4, 1, 3, 3], vec![0.1; 36]).expect("w"),
                stride: vec![2, 2],
                padding: Padding::Explicit(vec![0, 0]),
                dilation: vec![1, 1],
                groups: 1,
                bias: Array::vector(vec![0.0; 4]),
            }),
        ),
        ("sub", Node::Graph(Box::new(inner))),
        ("sum", Node::SumPool2d(pool_2x2([1, 1], [1, 1]))),
        (
            "output",
            Node::Output {
                shape: vec![4, 3, 3],
            },
        ),
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("conv.nir");
    write_nir(&path, &g).expect("write");
    let back = read_nir(&path).expect("read");
    assert_eq!(back.graph, g);
    let shapes = spikeburn_nir::output_shapes(&g).expect("shapes");
    assert_eq!(shapes["conv"], vec![4, 4, 4]);
    assert_eq!(shapes["sub"], vec![4, 2, 2]);
}

#[test]
fn graph_without_edges_round_trips() {
    let g = NirGraph::sequential([("only", Node::Input { shape: vec![1] })]);
    let bytes = nir_to_bytes(&g, &WriteOptions::default()).expect("encode");
    assert_eq!(
        read_nir_bytes(bytes, "x.nir".as_ref())
            .expect("decode")
            .graph,
        g
    );
}

#[test]
fn atomic_write_replaces_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.nir");
    std::fs::write(&path, b"old content").expect("write");
    write_nir_with(&path, &every_node_type(), &WriteOptions::default()).expect("write");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("m.nir")]);
    assert_eq!(read_nir(&path).expect("read").graph, every_node_type());
    // A directory that does not exist gives an I/O error naming the file.
    let e = write_nir(dir.path().join("no/such/dir.nir"), &every_node_type()).unwrap_err();
    assert!(matches!(e, spikeburn_nir::NirError::Io { .. }), "{e}");
    assert!(e.to_string().contains("no/such/dir.nir"), "{e}");
}

#[test]
fn safetensors_round_trip() {
    let tensors = BTreeMap::from([
        (
            "layers.0.weight".to_string(),
            Array::new(
                vec![2, 3],
                vec![1.0, -2.0, 3.5, f32::MIN_POSITIVE, 0.0, -0.0],
            )
            .expect("w"),
        ),
        ("scalar".to_string(), Array::scalar(0.95)),
        (
            "empty".to_string(),
            Array::new(vec![0, 4], Vec::new()).expect("e"),
        ),
    ]);
    let meta = BTreeMap::from([("dt".to_string(), "0.001".to_string())]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("w.safetensors");
    write_safetensors(&path, &tensors, &meta).expect("write");
    let back = read_safetensors(&path).expect("read");
    assert_eq!(back.tensors, tensors);
    assert_eq!(back.metadata, meta);
    let names: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn array_rejects_wrong_length() {
    let e = Array::new(vec![2, 3], vec![0.0; 5]).unwrap_err();
    assert!(
        matches!(
            e,
            spikeburn_nir::NirError::ArrayShape {
                expected: 6,
                found: 5,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn error_stays_small() {
    // Keeps `Result<_, NirError>` cheap to return (clippy's `result_large_err` limit).
    assert!(std::mem::size_of::<spikeburn_nir::NirError>() < 128);
}
