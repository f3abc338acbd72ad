//! Recurrent LIF layers through NIR without Python (issue 5: "recurrent edges where the neuron
//! type supports them"): export → import round trips for both recurrent connections, the
//! nested-graph form of snnTorch's `RLeaky`, the LIF's input gain applied to the recurrent
//! weights (checked against a direct Euler simulation of the NIR graph), and one clear error
//! for each recurrence spikeburn cannot import. The Python side is in `convert_interop.rs`.

mod networks;
use burn::prelude::*;
use networks::{
    assert_same_spikes, dense_config, output_spikes, scale_weights, without_recurrence,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spikeburn_core::lif::Reset;
use spikeburn_core::network::{LayerConfig, NetworkConfig, SpikingNetwork};
use spikeburn_core::neuron::{ModelParams, NeuronConfig};
use spikeburn_core::recurrent::{RecurrentKind, RecurrentParams};
use spikeburn_nir::convert::{
    ConvertError, ExportOptions, ImportedNetwork, LayerWeights, RecurrentWeights, build_network,
    network_to_nir, nir_to_network,
};
use spikeburn_nir::{
    Affine, Array, CubaLif, Edge, Lif, Linear, NirError, NirGraph, Node, mapping, read_nir,
    write_nir,
};
use spikeburn_train::interchange::import_nir;

const T: usize = 25;
const B: usize = 3;
const F: usize = 6;
const N: usize = 8;

fn device() -> Device {
    Device::flex()
}

fn input(seed: u64, features: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..T * B * features)
        .map(|_| if rng.random::<f32>() < 0.4 { 1.0 } else { 0.0 })
        .collect()
}

fn spikes(net: &SpikingNetwork, x: &[f32], features: usize) -> Vec<f32> {
    output_spikes(net, x, [T, B, features])
}

/// F → linear N → recurrent LIF (zero reset) → linear 3 → LIF, weights scaled for activity.
fn network(kind: RecurrentKind) -> (NetworkConfig, SpikingNetwork) {
    let neuron = |model: ModelParams, beta| NeuronConfig {
        model,
        beta,
        reset: Reset::Zero,
        ..NeuronConfig::default()
    };
    let recurrent = neuron(RecurrentParams { recurrent: kind }.into(), 0.9);
    let config = dense_config(
        F,
        T,
        &[
            (N, true, recurrent),
            (3, false, neuron(ModelParams::default(), 0.8)),
        ],
    );
    let mut net = config.init(11, &device());
    scale_weights(&mut net, 2.5, 3.0);
    (config, net)
}

fn recurrent_kind(config: &NetworkConfig, layer: usize) -> Option<RecurrentKind> {
    match &config.layers[layer] {
        LayerConfig::Neuron {
            neuron:
                Some(NeuronConfig {
                    model: ModelParams::Recurrent(p),
                    ..
                }),
        } => Some(p.recurrent),
        _ => None,
    }
}

#[test]
fn recurrent_export_is_a_lif_with_a_self_loop_and_imports_back_exactly() {
    for kind in [RecurrentKind::AllToAll, RecurrentKind::OneToOne] {
        let (config, net) = network(kind);
        let (graph, warnings) =
            network_to_nir(&config, &net, &ExportOptions::default()).expect("export");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(matches!(graph.node("layers.1"), Some(Node::Lif(_))));
        match (kind, graph.node("layers.1.w_rec")) {
            (RecurrentKind::AllToAll, Some(Node::Affine(a))) => {
                assert_eq!(a.weight.shape(), [N, N]);
            }
            (RecurrentKind::OneToOne, Some(Node::Linear(l))) => {
                assert_eq!(l.weight.shape(), [N, N]);
                let off: f32 = (0..N * N)
                    .filter(|i| i / N != i % N)
                    .map(|i| l.weight.data()[i].abs())
                    .sum();
                assert_eq!(off, 0.0, "one-to-one is a diagonal matrix");
            }
            (_, other) => panic!("{kind:?}: recurrent weight node {other:?}"),
        }
        for e in [
            ("layers.1", "layers.1.w_rec"),
            ("layers.1.w_rec", "layers.1"),
        ] {
            assert!(graph.edges.contains(&Edge::new(e.0, e.1)), "{e:?}");
        }
        let order = spikeburn_nir::execution_order(&graph).expect("order");
        assert_eq!(
            order.recurrent_edges,
            vec![Edge::new("layers.1.w_rec", "layers.1")]
        );

        // Through a file, as `spikeburn import` does.
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("rec.nir");
        write_nir(&file, &graph).expect("write");
        assert_eq!(read_nir(&file).expect("read").graph, graph);
        let imported = nir_to_network(&graph).expect("import");
        assert_eq!(recurrent_kind(&imported.config, 1), Some(kind));
        let back = build_network(&imported, &device()).expect("build");
        let x = input(5, F);
        let ours = spikes(&net, &x, F);
        assert_same_spikes(&ours, &spikes(&back, &x, F), "export -> import");
        assert_ne!(
            ours,
            spikes(&without_recurrence(&net), &x, F),
            "{kind:?}: the recurrent weights do not change the output, the test is vacuous"
        );

        let run = dir.path().join("run");
        import_nir(&file, &run).expect("import_nir");
        let config = spikeburn_train::trainer::load_run_config(&run).expect("config");
        assert_eq!(recurrent_kind(&config.model, 1), Some(kind));
        let loaded =
            spikeburn_train::trainer::load_run_model(&run, &config, &device()).expect("model");
        assert_same_spikes(&ours, &spikes(&loaded, &x, F), "import_nir run directory");

        // And once more: the imported run exports to a graph of the same structure.
        let (again, _) =
            network_to_nir(&config.model, &loaded, &ExportOptions::default()).expect("export");
        assert_eq!(
            again.edges, graph.edges,
            "{kind:?}: export -> import -> export"
        );
        let types = |g: &NirGraph| -> Vec<(String, &'static str)> {
            g.nodes
                .iter()
                .map(|(k, e)| (k.clone(), e.node.type_name()))
                .collect()
        };
        assert_eq!(types(&again), types(&graph));
    }
}

/// A LIF with `β`, threshold 1 and snnTorch's `r = τ/dt` (input gain 1).
fn lif_node(n: usize, beta: f32, dt: f64) -> Lif {
    mapping::lif_from_discrete(
        &Array::vector(vec![beta; n]),
        &Array::vector(vec![1.0; n]),
        dt,
    )
    .expect("lif")
}

fn matrix(rows: usize, cols: usize, seed: u64, scale: f32) -> Array {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array::new(
        vec![rows, cols],
        (0..rows * cols)
            .map(|_| rng.random_range(-scale..scale))
            .collect(),
    )
    .expect("matrix")
}

fn vector(n: usize, seed: u64, scale: f32) -> Array {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array::vector((0..n).map(|_| rng.random_range(-scale..scale)).collect())
}

/// `input (F) → nodes → output (N)`, in a chain.
fn chain<const K: usize>(nodes: [(&str, Node); K]) -> NirGraph {
    let input = ("input", Node::Input { shape: vec![F] });
    let output = ("output", Node::Output { shape: vec![N] });
    NirGraph::sequential(std::iter::once(input).chain(nodes).chain([output]))
}

/// The input layer `F → N`: seeded weights up to `weight_scale`, biases up to `bias_scale`.
fn input_affine(weight_scale: f32, bias_scale: f32) -> Node {
    Node::Affine(Affine {
        weight: matrix(N, F, 1, weight_scale),
        bias: vector(N, 2, bias_scale),
    })
}

/// `input → fc → lif ⟲ w_rec → output`, flat (as snnTorch's export writes it).
fn flat(lif: Lif, rec: Node) -> NirGraph {
    let mut g = chain([("fc", input_affine(1.2, 0.2)), ("lif", Node::Lif(lif))]);
    g.add_node("w_rec", rec);
    g.add_edge("lif", "w_rec");
    g.add_edge("w_rec", "lif");
    g
}

fn affine_rec() -> Node {
    Node::Affine(Affine {
        weight: matrix(N, N, 3, 0.8),
        bias: vector(N, 4, 0.3),
    })
}

/// Forward Euler of the NIR graph `flat(lif, w_rec)` with step `dt`, the recurrent edge taken
/// from the previous step: `v ← v + dt/τ (v_leak − v + r (fc(x[t]) + w_rec(s[t−1])))`, spike
/// when `v > θ`, then `v ← v_reset` (zero).
fn euler_reference(graph: &NirGraph, x: &[f32], dt: f32) -> Vec<f32> {
    let (Some(Node::Affine(fc)), Some(Node::Lif(lif)), Some(rec)) =
        (graph.node("fc"), graph.node("lif"), graph.node("w_rec"))
    else {
        panic!("graph")
    };
    let (wr, br) = match rec {
        Node::Affine(a) => (a.weight.data().to_vec(), a.bias.data().to_vec()),
        Node::Linear(l) => (l.weight.data().to_vec(), vec![0.0; N]),
        _ => panic!("rec"),
    };
    let mut out = Vec::new();
    let mut v = [0.0f32; B * N];
    let mut s = vec![0.0f32; B * N];
    for t in 0..T {
        let mut s_new = vec![0.0f32; B * N];
        for b in 0..B {
            let xb = &x[(t * B + b) * F..(t * B + b + 1) * F];
            for o in 0..N {
                let mut i = fc.bias.data()[o];
                let row = &fc.weight.data()[o * F..(o + 1) * F];
                for (w, x) in row.iter().zip(xb) {
                    i += w * x;
                }
                i += br[o];
                for (w, s) in wr[o * N..(o + 1) * N].iter().zip(&s[b * N..(b + 1) * N]) {
                    i += w * s;
                }
                let (tau, r) = (lif.tau.data()[o], lif.r.data()[o]);
                let u = &mut v[b * N + o];
                *u += dt / tau * (lif.v_leak.data()[o] - *u + r * i);
                if *u > lif.v_threshold.data()[o] {
                    s_new[b * N + o] = 1.0;
                    *u = 0.0;
                }
            }
        }
        s = s_new;
        out.extend_from_slice(&s);
    }
    out
}

/// The LIF's input gain `r·dt/τ` also scales the recurrent input (NIR sums a node's inputs
/// before `r`): Norse's convention `r = 1` (gain `dt/τ`) and a gain of 2, against the Euler
/// simulation of the graph itself.
#[test]
fn the_lif_input_gain_scales_the_recurrent_weights() {
    let dt = 1e-3;
    // Gain r·dt/τ with τ = 10 dt: 0.1 for Norse's r = 1, 2 for r = 2τ/dt.
    for (label, r) in [("Norse's r = 1", 1.0), ("r = 2τ/dt", 20.0)] {
        for rec in [
            affine_rec(),
            Node::Linear(Linear {
                weight: matrix(N, N, 5, 0.8),
            }),
        ] {
            let mut lif = lif_node(N, 0.9, dt);
            lif.r = Array::vector(vec![r; N]);
            if r < 2.0 {
                // Enough input to fire with a gain of 0.1.
                lif.v_threshold = Array::vector(vec![0.3; N]);
            }
            let mut graph = flat(lif, rec);
            graph.set_dt(dt);
            let imported = nir_to_network(&graph).expect("import");
            assert_eq!(
                recurrent_kind(&imported.config, 1),
                Some(RecurrentKind::AllToAll)
            );
            let net = build_network(&imported, &device()).expect("build");
            let x = input(9, F);
            let ours = spikes(&net, &x, F);
            let reference = euler_reference(&graph, &x, dt as f32);
            let differ = ours.iter().zip(&reference).filter(|(a, b)| a != b).count();
            let total: f32 = ours.iter().sum();
            assert!(total > 0.0, "no spikes");
            eprintln!("{label}: {total} spikes, {differ} differ from the Euler reference");
            assert_eq!(differ, 0, "{label}: {differ} spikes differ ({total})");
        }
    }
}

/// snnTorch's importer (and ours) read a bias-free diagonal recurrent weight as one-to-one.
#[test]
fn a_diagonal_linear_is_one_to_one() {
    let diag = Array::new(
        vec![N, N],
        (0..N * N)
            .map(|i| {
                if i / N == i % N {
                    0.5 + i as f32 / 100.0
                } else {
                    0.0
                }
            })
            .collect(),
    )
    .expect("diag");
    let graph = flat(
        lif_node(N, 0.9, 1e-4),
        Node::Linear(Linear {
            weight: diag.clone(),
        }),
    );
    let imported = nir_to_network(&graph).expect("import");
    assert_eq!(
        recurrent_kind(&imported.config, 1),
        Some(RecurrentKind::OneToOne)
    );
    let LayerWeights::Neuron {
        recurrent: Some(RecurrentWeights::OneToOne(v)),
        ..
    } = &imported.weights[1]
    else {
        panic!("{:?}", imported.weights[1]);
    };
    let expected: Vec<f32> = (0..N).map(|o| diag.data()[o * N + o]).collect();
    assert_eq!(v.data(), expected.as_slice());
    // The same weights as an Affine (with a bias) stay all-to-all.
    let graph = flat(
        lif_node(N, 0.9, 1e-4),
        Node::Affine(Affine {
            weight: diag,
            bias: Array::vector(vec![0.0; N]),
        }),
    );
    let imported = nir_to_network(&graph).expect("import");
    assert_eq!(
        recurrent_kind(&imported.config, 1),
        Some(RecurrentKind::AllToAll)
    );
}

/// The nested form (`NIRGraph` node `Input → LIF → Output` with the loop, what snnTorch's
/// `_extract_snntorch_module` returns for an `RLeaky`) imports like the flat one.
#[test]
fn nested_rleaky_subgraph_imports_like_the_flat_loop() {
    let lif = lif_node(N, 0.85, 1e-4);
    let flat_graph = flat(lif.clone(), affine_rec());
    let mut sub = NirGraph::new();
    sub.add_node("input", Node::Input { shape: vec![N] });
    sub.add_node("lif", Node::Lif(lif));
    sub.add_node("w_rec", affine_rec());
    sub.add_node("output", Node::Output { shape: vec![N] });
    for (a, b) in [
        ("input", "lif"),
        ("lif", "w_rec"),
        ("w_rec", "lif"),
        ("lif", "output"),
    ] {
        sub.add_edge(a, b);
    }
    let Some(Node::Affine(fc)) = flat_graph.node("fc").cloned() else {
        panic!("fc")
    };
    let nested = chain([
        ("fc", Node::Affine(fc)),
        ("rlif", Node::Graph(Box::new(sub.clone()))),
    ]);
    let a = nir_to_network(&flat_graph).expect("flat");
    let b = nir_to_network(&nested).expect("nested");
    assert_eq!(a, b);

    // A nested graph of any other form is refused, naming it.
    let mut other = sub;
    other.edges.retain(|e| e.source != "w_rec");
    other.add_edge("w_rec", "output");
    let bad = chain([
        ("fc", nested.node("fc").cloned().expect("fc")),
        ("rlif", Node::Graph(Box::new(other))),
    ]);
    let e = nir_to_network(&bad).expect_err("refused");
    assert!(
        e.to_string().contains("`rlif`") && e.to_string().contains("RLeaky form"),
        "{e}"
    );
}

fn refused(graph: &NirGraph) -> String {
    match nir_to_network(graph) {
        Err(e @ ConvertError::Unsupported { .. }) => e.to_string(),
        Err(e) => panic!("expected Unsupported, got {e:?}"),
        Ok(ImportedNetwork { config, .. }) => panic!("imported: {}", config.summary()),
    }
}

#[test]
fn recurrence_spikeburn_cannot_express_is_refused_naming_the_node() {
    // A CubaLIF loop (snnTorch's RSynaptic): no recurrent synaptic neuron.
    let cuba: CubaLif = mapping::cuba_lif_from_discrete(
        &Array::vector(vec![0.8; N]),
        &Array::vector(vec![0.9; N]),
        &Array::vector(vec![1.0; N]),
        1e-4,
    )
    .expect("cuba");
    let mut g = flat(lif_node(N, 0.9, 1e-4), affine_rec());
    g.add_node("lif", Node::CubaLif(cuba));
    let e = refused(&g);
    assert!(
        e.contains("`w_rec` -> `lif`") && e.contains("CubaLIF") && e.contains("RSynaptic"),
        "{e}"
    );

    // A LIF fed straight back to itself.
    let mut g = flat(lif_node(N, 0.9, 1e-4), affine_rec());
    g.nodes.remove("w_rec");
    g.edges
        .retain(|e| e.source != "w_rec" && e.target != "w_rec");
    g.add_edge("lif", "lif");
    let e = refused(&g);
    assert!(e.contains("`lif` -> `lif`") && e.contains("itself"), "{e}");

    // A loop through two nodes.
    let mut g = flat(lif_node(N, 0.9, 1e-4), affine_rec());
    g.edges.retain(|e| e.source != "w_rec");
    g.add_node("w2", affine_rec());
    g.add_edge("w_rec", "w2");
    g.add_edge("w2", "lif");
    let e = refused(&g);
    assert!(
        e.contains("`w2` -> `lif`") && e.contains("self-loop"),
        "{e}"
    );

    // The loop's weight also feeds the output.
    let mut g = flat(lif_node(N, 0.9, 1e-4), affine_rec());
    g.add_edge("w_rec", "output");
    let e = refused(&g);
    assert!(e.contains("`w_rec`") && e.contains("no other edge"), "{e}");

    // Two loops into one LIF.
    let mut g = flat(lif_node(N, 0.9, 1e-4), affine_rec());
    g.add_node("w2", affine_rec());
    g.add_edge("lif", "w2");
    g.add_edge("w2", "lif");
    let e = refused(&g);
    assert!(
        e.contains("node `lif`") && e.contains("two recurrent loops"),
        "{e}"
    );

    // A loop between two LIF layers through affines (L1 → A → L2 → B → L1).
    let mut g = chain([
        ("fc", input_affine(1.0, 0.1)),
        ("l1", Node::Lif(lif_node(N, 0.9, 1e-4))),
        ("a", affine_rec()),
        ("l2", Node::Lif(lif_node(N, 0.9, 1e-4))),
    ]);
    g.add_node("b", affine_rec());
    g.add_edge("l2", "b");
    g.add_edge("b", "l1");
    let e = refused(&g);
    assert!(e.contains("self-loop"), "{e}");
}

/// A cycle through stateless nodes only is an algebraic loop: a validation error, not a
/// recurrent layer.
#[test]
fn a_cycle_through_stateless_nodes_is_still_an_error() {
    let mut g = flat(lif_node(N, 0.9, 1e-4), affine_rec());
    g.edges
        .retain(|e| e.source != "w_rec" && e.target != "w_rec");
    g.add_node("w2", affine_rec());
    g.add_edge("fc", "w_rec");
    g.add_edge("w_rec", "w2");
    g.add_edge("w2", "w_rec");
    let e = nir_to_network(&g).expect_err("cycle");
    let ConvertError::Nir(NirError::Cycle { nodes, .. }) = &e else {
        panic!("expected a cycle error, got {e}");
    };
    assert!(
        nodes.contains(&"w_rec".to_string()) && nodes.contains(&"w2".to_string()),
        "{e}"
    );
}
