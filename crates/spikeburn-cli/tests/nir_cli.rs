//! `spikeburn import` on malformed or unsupported NIR files (issue 5, interop test 5): one
//! `error:` line each, a non-zero exit, no panic, no output directory. And the round trip
//! `import` → `export --format nir` → `import` through the binary.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use burn::prelude::*;
use spikeburn_core::NeuronModel;
use spikeburn_core::network::Layer;
use spikeburn_nir::{Affine, Array, Lif, NirGraph, Node, Threshold, mapping, write_nir};

fn spikeburn(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_spikeburn"))
        .args(args)
        .output()
        .expect("run spikeburn");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn lif(n: usize) -> Lif {
    mapping::lif_from_discrete(
        &Array::vector(vec![0.9; n]),
        &Array::vector(vec![1.0; n]),
        1e-4,
    )
    .expect("lif")
}

/// An affine map with distinct weights and biases (so that a transposed or reordered export
/// shows in the values).
fn affine(out: usize, inp: usize) -> Node {
    let weight = (0..out * inp).map(|k| 0.05 + 0.01 * k as f32).collect();
    Node::Affine(Affine {
        weight: Array::new(vec![out, inp], weight).expect("weight"),
        bias: Array::vector((0..out).map(|o| 0.02 * o as f32 - 0.01).collect()),
    })
}

fn mlp(neuron: Node) -> NirGraph {
    NirGraph::sequential([
        ("input", Node::Input { shape: vec![4] }),
        ("fc", affine(3, 4)),
        ("lif", neuron),
        ("output", Node::Output { shape: vec![3] }),
    ])
}

fn write(dir: &Path, name: &str, graph: &NirGraph) -> String {
    let path = dir.join(name);
    write_nir(&path, graph).expect("write graph");
    path.to_string_lossy().into_owned()
}

#[test]
fn malformed_nir_files_give_one_error_line_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let garbage = d.join("garbage.nir");
    std::fs::write(&garbage, b"this is not hdf5").expect("write");
    let good = write(d, "good.nir", &mlp(Node::Lif(lif(3))));
    let bytes = std::fs::read(&good).expect("read");
    let truncated = d.join("truncated.nir");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let mut reset = lif(3);
    reset.v_reset = Array::vector(vec![0.5; 3]);
    // A LIF's self-loop through one Affine imports (a recurrent layer); a loop through two
    // nodes does not.
    let mut recurrent = mlp(Node::Lif(lif(3)));
    recurrent.add_node("rec", affine(3, 3));
    recurrent.add_node("rec2", affine(3, 3));
    recurrent.add_edge("lif", "rec");
    recurrent.add_edge("rec", "rec2");
    recurrent.add_edge("rec2", "lif");
    let cases = [
        (garbage.to_string_lossy().into_owned(), "not an HDF5 file"),
        (truncated.to_string_lossy().into_owned(), "truncated"),
        (
            d.join("missing.nir").to_string_lossy().into_owned(),
            "missing.nir",
        ),
        (
            write(
                d,
                "threshold.nir",
                &mlp(Node::Threshold(Threshold {
                    threshold: Array::vector(vec![1.0; 3]),
                })),
            ),
            "Threshold is not imported",
        ),
        (write(d, "reset.nir", &mlp(Node::Lif(reset))), "v_reset"),
        (
            write(d, "recurrent.nir", &recurrent),
            "recurrent edge `rec2` -> `lif`",
        ),
    ];
    for (file, expected) in cases {
        let out = d.join("run");
        let (ok, _, stderr) = spikeburn(&["import", &file, "--out", &out.to_string_lossy()]);
        assert!(!ok, "{file}: import succeeded");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{file}: stderr {stderr:?}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(expected),
            "{file}: {:?} lacks {expected:?}",
            lines[0]
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!out.exists(), "{file}: a run directory was left behind");
    }
}

#[test]
fn import_export_import_through_the_binary() {
    let mut recurrent = mlp(Node::Lif(lif(3)));
    recurrent.add_node("rec", affine(3, 3));
    recurrent.add_edge("lif", "rec");
    recurrent.add_edge("rec", "lif");
    round_trip(&mlp(Node::Lif(lif(3))), None);
    round_trip(&recurrent, Some("layers.1"));
}

/// `import` → `export` (NIR and safetensors) → `import`; `recurrent` names the LIF that must
/// come back with its `.w_rec` self-loop.
fn round_trip(graph: &NirGraph, recurrent: Option<&str>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let file = write(d, "mlp.nir", graph);
    let run = d.join("run").to_string_lossy().into_owned();
    let (ok, stdout, stderr) = spikeburn(&["import", &file, "--out", &run]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("config.toml, model.bpk"), "{stdout}");
    let again = d.join("again.nir").to_string_lossy().into_owned();
    let (ok, _, stderr) = spikeburn(&[
        "export", "--model", &run, "--format", "nir", "--out", &again,
    ]);
    assert!(ok, "{stderr}");
    let st = d.join("w.safetensors").to_string_lossy().into_owned();
    let (ok, _, stderr) = spikeburn(&[
        "export",
        "--model",
        &run,
        "--format",
        "safetensors",
        "--out",
        &st,
    ]);
    assert!(ok, "{stderr}");
    check_safetensors(Path::new(&st), Path::new(&run));
    let back = spikeburn_nir::read_nir(&again).expect("read export");
    assert_eq!(back.graph.dt(), Some(1e-4));
    if let Some(lif) = recurrent {
        let w = format!("{lif}.w_rec");
        assert!(
            matches!(back.graph.node(&w), Some(Node::Affine(_))),
            "{:?}",
            back.graph.nodes.keys()
        );
        assert!(
            back.graph
                .edges
                .contains(&spikeburn_nir::Edge::new(lif, &w))
        );
        assert!(
            back.graph
                .edges
                .contains(&spikeburn_nir::Edge::new(&w, lif))
        );
        let config = std::fs::read_to_string(Path::new(&run).join("config.toml")).expect("config");
        assert!(config.contains("kind = \"recurrent\""), "{config}");
    }
    let run2 = d.join("run2").to_string_lossy().into_owned();
    let (ok, _, stderr) = spikeburn(&["import", &again, "--out", &run2]);
    assert!(ok, "{stderr}");
    // A second import into a non-empty directory is refused.
    let (ok, _, stderr) = spikeburn(&["import", &again, "--out", &run2]);
    assert!(!ok && stderr.contains("not empty"), "{stderr}");
}

/// Reads the safetensors file that `export` wrote with the `safetensors` crate (not
/// spikeburn-nir's reader) and checks that it holds exactly the tensors of the exported model,
/// loaded from the run directory through the library: the names of spikeburn-nir's layout
/// (`layers.{i}.…`), PyTorch's `[out, in]` shape for the linear weights (burn stores
/// `[in, out]`, transposed here by index), and every value bit for bit.
fn check_safetensors(file: &Path, run: &Path) {
    let config = spikeburn_train::load_run_config(run).expect("config");
    let net = spikeburn_train::load_run_model(run, &config, &Device::flex()).expect("model");
    let host = |t: Tensor<1>| -> (Vec<usize>, Vec<f32>) {
        let shape = t.dims().to_vec();
        (shape, t.into_data().try_into_vec::<f32>().expect("f32"))
    };
    // `[in, out]` to `[out, in]`.
    let pytorch = |t: Tensor<2>| -> (Vec<usize>, Vec<f32>) {
        let [inp, out] = t.dims();
        let v = t.into_data().try_into_vec::<f32>().expect("f32");
        let transposed = (0..out)
            .flat_map(|o| (0..inp).map(move |k| (o, k)))
            .map(|(o, k)| v[k * out + o])
            .collect();
        (vec![out, inp], transposed)
    };
    let mut expected = BTreeMap::new();
    for (i, layer) in net.layers.iter().enumerate() {
        let mut put = |key: &str, tensor: (Vec<usize>, Vec<f32>)| {
            expected.insert(format!("layers.{i}.{key}"), tensor);
        };
        match layer {
            Layer::Linear(l) => {
                put("weight", pytorch(l.weight.val()));
                if let Some(b) = &l.bias {
                    put("bias", host(b.val()));
                }
            }
            Layer::Neuron(n) => {
                let lif = match &n.model {
                    NeuronModel::Lif(lif) => lif,
                    NeuronModel::Recurrent(r) => {
                        let dense = r.dense.as_ref().expect("all-to-all recurrent weights");
                        put("recurrent.weight", pytorch(dense.weight.val()));
                        let bias = dense.bias.as_ref().expect("recurrent bias");
                        put("recurrent.bias", host(bias.val()));
                        &r.lif
                    }
                    other => panic!("unexpected neuron model {other:?}"),
                };
                put("beta", host(lif.beta.val()));
                put("threshold", host(lif.threshold.val()));
            }
            other => panic!("unexpected layer {other:?}"),
        }
    }
    let bytes = std::fs::read(file).expect("read the safetensors file");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("a safetensors file");
    let names: BTreeSet<String> = st.names().into_iter().map(|n| n.to_string()).collect();
    let wanted: BTreeSet<String> = expected.keys().cloned().collect();
    assert_eq!(names, wanted, "tensor names");
    for (name, (shape, values)) in &expected {
        let view = st.tensor(name).expect(name);
        assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
        assert_eq!(view.shape(), shape.as_slice(), "{name}: shape");
        let got: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(&got, values, "{name}: values");
    }
}
