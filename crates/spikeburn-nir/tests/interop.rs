//! Interoperability with the Python reference implementations: `nir` 1.0.8 (`nir.read`,
//! `nir.write`) and `safetensors` 0.7 (`safetensors.numpy`), through
//! `tests/interop/nir_check.py` run by the venv `$SPIKEBURN_VENV`
//! (default `~/.cache/spikeburn/venv`).
//!
//! Without a usable venv the tests are reported ignored, with the reason, by the harness of
//! `tests/support/harness.rs`; under `SPIKEBURN_REQUIRE=all` (set by `.ci/run` after
//! `scripts/test-setup.sh` installed the venv) they fail instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use spikeburn_nir::{
    Affine, Array, Conv, Flatten, If, Li, Linear, MetaValue, NirGraph, Node, Padding, Param,
    Pool2d, mapping, read_nir, read_safetensors, write_nir, write_safetensors,
};

#[path = "../../../tests/support/venv.rs"]
mod common;
#[macro_use]
#[path = "../../../tests/support/harness.rs"]
mod harness;

fn script() -> PathBuf {
    common::script("nir_check.py")
}

/// The Python packages these tests use, in the venv of `tests/interop/requirements.txt`.
const INTEROP: harness::Requirement = harness::Requirement {
    name: "interop",
    probe: || common::imports(&["nir", "h5py", "numpy", "safetensors"]),
};

fn python() -> PathBuf {
    common::python()
}

fn run_py(python: &Path, args: &[&str]) -> Json {
    let script = script();
    let stdout = common::run_python(
        python,
        std::iter::once(script.as_os_str()).chain(args.iter().map(|a| a.as_ref())),
    );
    serde_json::from_slice(&stdout).expect("nir_check.py prints JSON")
}

/// Python's `{"shape": [...], "data": [...]}` as (shape, f64 values).
fn py_array(v: &Json) -> (Vec<usize>, Vec<f64>) {
    let shape = v["shape"]
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|d| d.as_u64().expect("dim") as usize)
        .collect();
    let data = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect();
    (shape, data)
}

fn assert_param_eq(ctx: &str, ours: &Param, py: &Json) {
    match ours {
        Param::Str(s) => assert_eq!(py.as_str(), Some(s.as_str()), "{ctx}"),
        Param::Floats(a) => {
            let (shape, data) = py_array(py);
            assert_eq!(a.shape(), shape.as_slice(), "{ctx}: shape");
            let ours: Vec<f32> = a.data().to_vec();
            let theirs: Vec<f32> = data.iter().map(|&x| x as f32).collect();
            assert_eq!(ours, theirs, "{ctx}: values");
        }
        Param::Ints { shape, data } => {
            let (py_shape, py_data) = py_array(py);
            // A Python int and a 1-element array are the same setting.
            if py_data.len() == 1 && data.len() == 1 {
                assert_eq!(data[0] as f64, py_data[0], "{ctx}");
            } else {
                assert_eq!(shape, &py_shape, "{ctx}: shape");
                let ours: Vec<f64> = data.iter().map(|&x| x as f64).collect();
                assert_eq!(ours, py_data, "{ctx}: values");
            }
        }
    }
}

/// Compares our graph with the JSON `nir_check.py` printed for a Python graph.
fn assert_graph_matches(ours: &NirGraph, py: &Json) {
    let py_nodes = py["nodes"].as_object().expect("nodes");
    let our_names: Vec<&String> = ours.nodes.keys().collect();
    let mut py_names: Vec<&String> = py_nodes.keys().collect();
    py_names.sort();
    assert_eq!(our_names, py_names, "node names");
    let mut our_edges: Vec<(String, String)> = ours
        .edges
        .iter()
        .map(|e| (e.source.clone(), e.target.clone()))
        .collect();
    let mut py_edges: Vec<(String, String)> = py["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            (
                e[0].as_str().expect("src").to_string(),
                e[1].as_str().expect("dst").to_string(),
            )
        })
        .collect();
    our_edges.sort();
    py_edges.sort();
    assert_eq!(our_edges, py_edges, "edges");
    for (name, entry) in &ours.nodes {
        let p = &py_nodes[name];
        assert_eq!(
            p["type"].as_str(),
            Some(entry.node.type_name()),
            "type of {name}"
        );
        let params = entry.node.parameters();
        for (field, value) in &params {
            assert!(
                p.get(*field).is_some(),
                "{name}.{field} missing on the Python side: {p}"
            );
            assert_param_eq(&format!("{name}.{field}"), value, &p[*field]);
        }
        for key in p.as_object().expect("node").keys() {
            if key != "type" && key != "metadata" {
                assert!(
                    params.iter().any(|(f, _)| f == key),
                    "{name}: Python has `{key}`, we do not"
                );
            }
        }
    }
}

fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn seq(n: usize, scale: f32, offset: f32) -> Vec<f32> {
    (0..n).map(|i| offset + scale * i as f32).collect()
}

/// A graph touching most node types, consistent in shape, written by us.
fn our_graph() -> NirGraph {
    let dt = 1e-3;
    let lif = mapping::lif_from_discrete(
        &Array::full(vec![4, 4, 4], 0.9),
        &Array::full(vec![4, 4, 4], 1.0),
        dt,
    )
    .expect("lif");
    let cuba = mapping::cuba_lif_from_discrete(
        &Array::vector(vec![0.5, 0.6, 0.7, 0.8, 0.85, 0.9]),
        &Array::vector(vec![0.9; 6]),
        &Array::vector(vec![1.0; 6]),
        dt,
    )
    .expect("cuba");
    let li = mapping::li_from_discrete(&Array::vector(vec![0.95, 0.9, 0.8]), dt).expect("li");
    let mut g = NirGraph::sequential([
        (
            "input",
            Node::Input {
                shape: vec![2, 8, 8],
            },
        ),
        (
            "conv",
            Node::Conv2d(Conv {
                input_shape: Some(vec![8, 8]),
                weight: Array::new(vec![4, 2, 3, 3], seq(72, 0.01, -0.3)).expect("w"),
                stride: vec![1, 1],
                padding: Padding::Explicit(vec![1, 1]),
                dilation: vec![1, 1],
                groups: 1,
                bias: Array::vector(vec![0.1, 0.2, 0.3, 0.4]),
            }),
        ),
        (
            "pool",
            Node::SumPool2d(Pool2d {
                kernel_size: [2, 2],
                stride: [2, 2],
                padding: [0, 0],
            }),
        ),
        ("lif1", Node::Lif(lif)),
        (
            "flat",
            Node::Flatten(Flatten {
                start_dim: 0,
                end_dim: -1,
                input_shape: Some(vec![4, 4, 4]),
            }),
        ),
        (
            "fc1",
            Node::Affine(Affine {
                weight: Array::new(vec![6, 64], seq(384, 0.001, -0.2)).expect("w"),
                bias: Array::vector(seq(6, 0.5, -1.0)),
            }),
        ),
        ("cuba", Node::CubaLif(cuba)),
        (
            "fc2",
            Node::Linear(Linear {
                weight: Array::new(vec![3, 6], seq(18, 0.1, -0.9)).expect("w"),
            }),
        ),
        ("readout", Node::Li(li)),
        (
            "spike",
            Node::If(If {
                r: Array::vector(vec![1.0; 3]),
                v_threshold: Array::vector(vec![0.5; 3]),
                v_reset: Array::vector(vec![0.0; 3]),
            }),
        ),
        ("output", Node::Output { shape: vec![3] }),
    ]);
    g.set_dt(dt);
    g.metadata
        .insert("producer".into(), MetaValue::String("spikeburn".into()));
    g
}

fn python_nir_reads_our_graph() {
    let py = python();
    let dir = tmpdir();
    let path = dir.path().join("ours.nir");
    let graph = our_graph();
    write_nir(&path, &graph).expect("write");
    let json = run_py(&py, &["read", path.to_str().expect("utf8 path")]);
    assert_eq!(json["version"].as_str(), Some(spikeburn_nir::NIR_VERSION));
    assert_graph_matches(&graph, &json);
    let dt = py_array(&json["metadata"]["dt"]).1;
    assert_eq!(dt, vec![1e-3]);
    assert_eq!(json["metadata"]["producer"].as_str(), Some("spikeburn"));
}

fn python_nir_reads_our_recurrent_graph() {
    let py = python();
    let dir = tmpdir();
    let path = dir.path().join("rec.nir");
    let mut graph = NirGraph::sequential([
        ("input", Node::Input { shape: vec![2] }),
        (
            "fc",
            Node::Affine(Affine {
                weight: Array::new(vec![3, 2], seq(6, 0.1, 0.0)).expect("w"),
                bias: Array::vector(vec![0.0; 3]),
            }),
        ),
        (
            "lif",
            Node::Lif(
                mapping::lif_from_discrete(&Array::scalar(0.9), &Array::scalar(1.0), 1e-3)
                    .map(|mut l| {
                        // Per-neuron parameters, so that nir's type inference knows the size.
                        for a in [
                            &mut l.tau,
                            &mut l.r,
                            &mut l.v_leak,
                            &mut l.v_threshold,
                            &mut l.v_reset,
                        ] {
                            *a = Array::full(vec![3], a.data()[0]);
                        }
                        l
                    })
                    .expect("lif"),
            ),
        ),
        ("output", Node::Output { shape: vec![3] }),
    ]);
    graph.add_node(
        "rec",
        Linear {
            weight: Array::new(vec![3, 3], seq(9, -0.1, 0.4)).expect("w"),
        },
    );
    graph.add_edge("lif", "rec");
    graph.add_edge("rec", "lif");
    write_nir(&path, &graph).expect("write");
    let json = run_py(&py, &["read", path.to_str().expect("utf8 path")]);
    assert_graph_matches(&graph, &json);
}

fn read_python_graph(kind: &str) -> (NirGraph, Json) {
    let py = python();
    let dir = tmpdir();
    let path = dir.path().join(format!("{kind}.nir"));
    let json = run_py(&py, &["write", kind, path.to_str().expect("utf8 path")]);
    let file = read_nir(&path).unwrap_or_else(|e| panic!("reading Python's {kind} graph: {e}"));
    assert_eq!(Some(file.version.as_str()), json["version"].as_str());
    assert_graph_matches(&file.graph, &json);
    (file.graph, json)
}

fn we_read_python_mlp() {
    let (graph, _) = read_python_graph("mlp");
    assert_eq!(graph.dt(), Some(1e-4));
    assert_eq!(
        graph.metadata.get("source"),
        Some(&MetaValue::String("nir_check.py".into()))
    );
    // snnTorch's convention: the LIF maps back to the beta it was built from, with gain 1.
    let Some(Node::Lif(lif)) = graph.node("lif_1") else {
        panic!("lif_1 is not a LIF");
    };
    let d = mapping::lif_to_discrete(lif, 1e-4).expect("discrete");
    for (b, want) in d.beta.data().iter().zip([0.8f32, 0.85, 0.95]) {
        assert!((b - want).abs() < 1e-5, "beta {b} vs {want}");
    }
    assert!(d.gain.data().iter().all(|g| (g - 1.0).abs() < 1e-5));
    let order = spikeburn_nir::execution_order(&graph).expect("order");
    assert_eq!(
        order.order,
        ["input", "affine", "lif", "affine_1", "lif_1", "output"]
    );
}

fn we_read_python_cuba() {
    let (graph, _) = read_python_graph("cuba");
    let Some(Node::CubaLif(n)) = graph.node("cubalif") else {
        panic!("cubalif is not a CubaLIF");
    };
    let d = mapping::cuba_lif_to_discrete(n, 1e-4).expect("discrete");
    assert!(d.alpha.data().iter().all(|a| (a - 0.7).abs() < 1e-5));
    assert!(
        d.membrane
            .beta
            .data()
            .iter()
            .all(|b| (b - 0.9).abs() < 1e-5)
    );
    assert!(matches!(graph.node("li"), Some(Node::Li(Li { .. }))));
}

fn we_read_python_conv() {
    let (graph, _) = read_python_graph("conv");
    let shapes = spikeburn_nir::output_shapes(&graph).expect("shapes");
    assert_eq!(shapes["conv2d"], vec![4, 8, 8]);
    assert_eq!(shapes["sumpool2d"], vec![4, 4, 4]);
    assert_eq!(shapes["flatten"], vec![64]);
    assert_eq!(shapes["output"], vec![10]);
}

fn we_read_python_recurrent() {
    let (graph, _) = read_python_graph("recurrent");
    let order = spikeburn_nir::execution_order(&graph).expect("order");
    assert_eq!(order.order, ["input", "fc", "lif", "output", "rec"]);
    assert_eq!(
        order.recurrent_edges,
        vec![spikeburn_nir::Edge::new("rec", "lif")]
    );
}

fn tensors() -> BTreeMap<String, Array> {
    BTreeMap::from([
        (
            "layers.0.weight".to_string(),
            Array::new(vec![3, 4], seq(12, 0.25, -1.5)).expect("w"),
        ),
        (
            "layers.0.bias".to_string(),
            Array::vector(vec![0.5, -0.5, 1e-7]),
        ),
        ("beta".to_string(), Array::scalar(0.95)),
    ])
}

fn python_safetensors_reads_ours() {
    let py = python();
    let dir = tmpdir();
    let path = dir.path().join("w.safetensors");
    let meta = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    write_safetensors(&path, &tensors(), &meta).expect("write");
    let json = run_py(&py, &["st-read", path.to_str().expect("utf8 path")]);
    let obj = json.as_object().expect("object");
    assert_eq!(obj.len(), 3);
    for (name, a) in tensors() {
        assert_eq!(json[&name]["dtype"].as_str(), Some("float32"), "{name}");
        assert_param_eq(&name, &Param::Floats(a), &json[&name]);
    }
}

fn we_read_python_safetensors() {
    let py = python();
    let dir = tmpdir();
    let path = dir.path().join("py.safetensors");
    let json = run_py(&py, &["st-write", path.to_str().expect("utf8 path")]);
    let read = read_safetensors(&path).expect("read");
    assert_eq!(read.metadata.get("dt").map(String::as_str), Some("0.001"));
    assert_eq!(read.tensors.len(), 4);
    for (name, a) in &read.tensors {
        assert_param_eq(name, &Param::Floats(a.clone()), &json[name]);
    }
}

/// The dataset budget is shared by all the datasets of a file: h5py declares two float64
/// metadata arrays, unwritten (fill value, no storage), each 0.6 × the file's length × 1032
/// elements, so each alone fits what the file could hold compressed and the two together do
/// not. The file with one of them reads; with both, the second is refused by name.
fn the_dataset_budget_counts_all_datasets_together() {
    let dir = tempfile::tempdir().expect("tempdir");
    let code = r#"
import h5py, os, sys
def write(path, names, n):
    f = h5py.File(path, "w")
    f.create_dataset("version", data="1.0.8", dtype=h5py.string_dtype())
    g = f.create_group("node")
    g.create_dataset("type", data="NIRGraph", dtype=h5py.string_dtype())
    g.create_dataset("edges", shape=(0, 2), dtype=h5py.string_dtype())
    g.create_group("nodes")
    m = g.create_group("metadata")
    for name in names:
        m.create_dataset(name, shape=(n,), dtype="f8")
    f.close()
    return os.path.getsize(path)
one, two = sys.argv[1], sys.argv[2]
n = int(0.6 * write(two, ["a", "b"], 1) * 1032)
write(one, ["a"], n)
write(two, ["a", "b"], n)
print(n)
"#;
    let (one, two) = (dir.path().join("one.nir"), dir.path().join("two.nir"));
    let stdout = common::run_python(
        &python(),
        [
            std::ffi::OsStr::new("-c"),
            code.as_ref(),
            one.as_os_str(),
            two.as_os_str(),
        ],
    );
    let n: u64 = String::from_utf8_lossy(&stdout).trim().parse().expect("n");
    let file = read_nir(&one).expect("one declared array within the budget reads");
    match file.graph.metadata.get("a") {
        Some(MetaValue::Floats { data, .. }) => assert_eq!(data.len() as u64, n),
        other => panic!("metadata a: {other:?}"),
    }
    let e = read_nir(&two).expect_err("two arrays exceed the budget together");
    let text = e.to_string();
    assert!(
        text.contains("node/metadata/b") && text.contains("more than the file can hold"),
        "{text}"
    );
}

/// HDF5 files may start with a user block (512 bytes or a larger power of two) before the
/// signature: h5py writes an empty NIR graph after a 512-byte and a 2048-byte user block, and
/// both read.
fn files_with_a_user_block_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let code = r#"
import h5py, sys
for path, size in zip(sys.argv[1::2], sys.argv[2::2]):
    f = h5py.File(path, "w", userblock_size=int(size))
    f.create_dataset("version", data="1.0.8", dtype=h5py.string_dtype())
    g = f.create_group("node")
    g.create_dataset("type", data="NIRGraph", dtype=h5py.string_dtype())
    g.create_dataset("edges", shape=(0, 2), dtype=h5py.string_dtype())
    g.create_group("nodes")
    f.close()
"#;
    let (a, b) = (dir.path().join("a.nir"), dir.path().join("b.nir"));
    common::run_python(
        &python(),
        [
            std::ffi::OsStr::new("-c"),
            code.as_ref(),
            a.as_os_str(),
            "512".as_ref(),
            b.as_os_str(),
            "2048".as_ref(),
        ],
    );
    for (path, offset) in [(&a, 512), (&b, 2048)] {
        let bytes = std::fs::read(path).expect("read");
        assert_eq!(
            &bytes[offset..offset + 4],
            b"\x89HDF",
            "signature at {offset}"
        );
        let file = read_nir(path).unwrap_or_else(|e| panic!("user block of {offset}: {e}"));
        assert!(file.graph.nodes.is_empty());
    }
}

fn main() -> std::process::ExitCode {
    harness::run(trials![;
        needs INTEROP => python_nir_reads_our_graph, python_nir_reads_our_recurrent_graph, we_read_python_mlp, we_read_python_cuba, we_read_python_conv, we_read_python_recurrent, python_safetensors_reads_ours, we_read_python_safetensors,
            the_dataset_budget_counts_all_datasets_together, files_with_a_user_block_read,
    ])
}
