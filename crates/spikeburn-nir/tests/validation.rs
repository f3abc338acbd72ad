//! The validator's checks of single nodes and names, one case per rule: each node type's
//! parameters share one shape (or hold one value) and hold no NaN, a convolution's settings
//! match its kernel, and node names are path segments. Every case is built by hand and
//! expected to be refused naming the field (or accepted, at the edge of a rule).

use spikeburn_nir::validate::check_node;
use spikeburn_nir::{
    Affine, Array, CubaLi, CubaLif, Delay, Flatten, If, Integrator, Li, Lif, NirError, NirGraph,
    Node, Scale, Threshold, output_shapes, validate,
};

fn arr(shape: &[usize], value: f32) -> Array {
    let n = shape.iter().product();
    Array::new(shape.to_vec(), vec![value; n]).expect("array")
}

/// `[2]`-shaped values, except the field named `odd`, which gets `[3]`.
fn params(odd: &str) -> impl Fn(&str) -> Array + '_ {
    move |field| {
        if field == odd {
            arr(&[3], 0.5)
        } else {
            arr(&[2], 0.5)
        }
    }
}

/// Each element-wise node type with its parameters, every one `[2]` but `odd`.
fn element_wise_nodes(odd: &str) -> Vec<(&'static str, Node)> {
    let p = params(odd);
    vec![
        ("Scale", Node::Scale(Scale { scale: p("scale") })),
        (
            "Threshold",
            Node::Threshold(Threshold {
                threshold: p("threshold"),
            }),
        ),
        ("Delay", Node::Delay(Delay { delay: p("delay") })),
        ("I", Node::I(Integrator { r: p("r") })),
        (
            "IF",
            Node::If(If {
                r: p("r"),
                v_threshold: p("v_threshold"),
                v_reset: p("v_reset"),
            }),
        ),
        (
            "LI",
            Node::Li(Li {
                tau: p("tau"),
                r: p("r"),
                v_leak: p("v_leak"),
            }),
        ),
        (
            "LIF",
            Node::Lif(Lif {
                tau: p("tau"),
                r: p("r"),
                v_leak: p("v_leak"),
                v_threshold: p("v_threshold"),
                v_reset: p("v_reset"),
            }),
        ),
        (
            "CubaLI",
            Node::CubaLi(CubaLi {
                tau_syn: p("tau_syn"),
                tau_mem: p("tau_mem"),
                r: p("r"),
                v_leak: p("v_leak"),
                w_in: p("w_in"),
            }),
        ),
        (
            "CubaLIF",
            Node::CubaLif(CubaLif {
                tau_syn: p("tau_syn"),
                tau_mem: p("tau_mem"),
                r: p("r"),
                v_leak: p("v_leak"),
                v_threshold: p("v_threshold"),
                v_reset: p("v_reset"),
                w_in: p("w_in"),
            }),
        ),
    ]
}

fn refused_field(e: &NirError) -> &str {
    match e {
        NirError::InvalidParameter { field, .. } => field,
        other => panic!("expected an invalid parameter, got {other}"),
    }
}

/// A parameter whose shape differs from the others' is refused, naming it; a parameter of one
/// value beside `[2]`-shaped ones is fine (it applies to every neuron).
#[test]
fn element_wise_parameters_share_one_shape() {
    let last_field = [
        ("IF", "v_reset"),
        ("LI", "v_leak"),
        ("LIF", "v_reset"),
        ("CubaLI", "w_in"),
        ("CubaLIF", "w_in"),
    ];
    for (ty, field) in last_field {
        let (_, node) = element_wise_nodes(field)
            .into_iter()
            .find(|(t, _)| *t == ty)
            .expect("node type");
        let e = check_node("n", &node).expect_err(ty);
        assert_eq!(refused_field(&e), field, "{ty}: {e}");
        assert!(e.to_string().contains("[3]"), "{ty}: {e}");
    }
    for (ty, node) in element_wise_nodes("none") {
        check_node("n", &node).unwrap_or_else(|e| panic!("{ty}: {e}"));
    }
    let one_value = Node::Li(Li {
        tau: arr(&[2], 10.0),
        r: arr(&[1], 1.0),
        v_leak: arr(&[2], 0.0),
    });
    check_node("n", &one_value).expect("one value beside [2]");
}

/// Every element-wise parameter is checked for NaN (an infinity is allowed: a time constant of
/// `inf` is a neuron without leak).
#[test]
fn element_wise_parameters_hold_no_nan() {
    for (ty, node) in element_wise_nodes("none") {
        let first = match &node {
            Node::Scale(_) => "scale",
            Node::Threshold(_) => "threshold",
            Node::Delay(_) => "delay",
            Node::I(_) | Node::If(_) => "r",
            Node::Li(_) | Node::Lif(_) => "tau",
            _ => "tau_syn",
        };
        let with = |v: f32| {
            let mut n = node.clone();
            let a = arr(&[2], v);
            match &mut n {
                Node::Scale(x) => x.scale = a,
                Node::Threshold(x) => x.threshold = a,
                Node::Delay(x) => x.delay = a,
                Node::I(x) => x.r = a,
                Node::If(x) => x.r = a,
                Node::Li(x) => x.tau = a,
                Node::Lif(x) => x.tau = a,
                Node::CubaLi(x) => x.tau_syn = a,
                Node::CubaLif(x) => x.tau_syn = a,
                _ => unreachable!("element-wise nodes only"),
            }
            n
        };
        let e = check_node("n", &with(f32::NAN)).expect_err(ty);
        assert_eq!(refused_field(&e), first, "{ty}: {e}");
        check_node("n", &with(f32::INFINITY)).unwrap_or_else(|e| panic!("{ty}: {e}"));
    }
}

/// A change to a convolution's settings.
type ConvEdit = Box<dyn FnOnce(&mut spikeburn_nir::Conv)>;

/// A 2-d convolution with 4 output channels, 2 input channels and a 3 × 3 kernel, with
/// `edit` applied.
fn conv2d(edit: impl FnOnce(&mut spikeburn_nir::Conv)) -> Node {
    let mut c = spikeburn_nir::Conv {
        input_shape: Some(vec![8, 8]),
        weight: arr(&[4, 2, 3, 3], 0.1),
        stride: vec![1, 2],
        padding: spikeburn_nir::Padding::Explicit(vec![1, 0]),
        dilation: vec![1, 1],
        groups: 1,
        bias: arr(&[4], 0.0),
    };
    edit(&mut c);
    Node::Conv2d(c)
}

#[test]
fn convolution_settings_match_the_kernel() {
    check_node("c", &conv2d(|_| {})).expect("valid");
    check_node("c", &conv2d(|c| c.groups = 2)).expect("2 groups divide 4 channels");
    let cases: [(&str, ConvEdit); 9] = [
        ("weight", Box::new(|c| c.weight = arr(&[4, 2, 3], 0.1))),
        ("stride", Box::new(|c| c.stride = vec![1])),
        ("stride", Box::new(|c| c.stride = vec![1, 0])),
        ("dilation", Box::new(|c| c.dilation = vec![0, 1])),
        (
            "padding",
            Box::new(|c| c.padding = spikeburn_nir::Padding::Explicit(vec![1])),
        ),
        ("input_shape", Box::new(|c| c.input_shape = Some(vec![8]))),
        ("groups", Box::new(|c| c.groups = 3)),
        ("groups", Box::new(|c| c.groups = 0)),
        ("bias", Box::new(|c| c.bias = arr(&[2], 0.0))),
    ];
    for (field, edit) in cases {
        let e = check_node("c", &conv2d(edit)).expect_err(field);
        assert_eq!(refused_field(&e), field, "{e}");
    }
}

/// A node name is one path segment: not empty, not `.`, without `/` or NUL; each is refused
/// on its own.
#[test]
fn node_names_are_path_segments() {
    for bad in ["", ".", "a/b", "a\0b"] {
        let g = NirGraph::sequential([
            ("in", Node::Input { shape: vec![2] }),
            (bad, Node::Output { shape: vec![2] }),
        ]);
        let e = validate(&g).expect_err(bad);
        assert!(
            matches!(&e, NirError::InvalidName { name, .. } if name == bad),
            "{bad:?}: {e}"
        );
    }
    let g = NirGraph::sequential([
        ("in", Node::Input { shape: vec![2] }),
        ("out.1", Node::Output { shape: vec![2] }),
    ]);
    validate(&g).expect("a dot inside a name is fine");
}

/// Shapes inferred along `in [3] → aff (2 × 3) → out [2]`, by hand: each node's output.
#[test]
fn inferred_shapes_of_a_small_chain() {
    let g = NirGraph::sequential([
        ("in", Node::Input { shape: vec![3] }),
        (
            "aff",
            Node::Affine(Affine {
                weight: arr(&[2, 3], 0.1),
                bias: arr(&[2], 0.0),
            }),
        ),
        ("out", Node::Output { shape: vec![2] }),
    ]);
    let shapes = output_shapes(&g).expect("valid");
    let expected: Vec<(String, Vec<usize>)> = vec![
        ("aff".into(), vec![2]),
        ("in".into(), vec![3]),
        ("out".into(), vec![2]),
    ];
    assert_eq!(shapes.into_iter().collect::<Vec<_>>(), expected);
}

/// A nested graph accepts the shape of its one input node: feeding it `[3]` where its input
/// is `[2]` is a mismatch on that edge.
#[test]
fn a_nested_graph_accepts_the_shape_of_its_input() {
    let sub = |width: usize| {
        Node::Graph(Box::new(NirGraph::sequential([
            ("input", Node::Input { shape: vec![width] }),
            ("output", Node::Output { shape: vec![width] }),
        ])))
    };
    let outer = |width: usize| {
        NirGraph::sequential([
            ("in", Node::Input { shape: vec![3] }),
            ("sub", sub(width)),
            ("out", Node::Output { shape: vec![width] }),
        ])
    };
    validate(&outer(3)).expect("matching shapes");
    let e = validate(&outer(2)).expect_err("[3] into [2]");
    assert!(
        matches!(
            &e,
            NirError::EdgeShapeMismatch { source_node, target, produced, expected, .. }
                if source_node == "in" && target == "sub" && produced == &[3] && expected == &[2]
        ),
        "{e}"
    );
}

/// A convolution's input must have its kernel's input channels (`C_in = 2` here), not only
/// the right number of dimensions (checked where the node does not state its input size).
#[test]
fn a_convolution_input_needs_the_kernels_channels() {
    let chain = |channels: usize| {
        NirGraph::sequential([
            (
                "in",
                Node::Input {
                    shape: vec![channels, 8, 8],
                },
            ),
            ("conv", conv2d(|c| c.input_shape = None)),
        ])
    };
    let shapes = output_shapes(&chain(2)).expect("two channels");
    // 8 + 2·1 − 3 + 1 = 8 rows at stride 1; (8 − 3) / 2 + 1 = 3 columns at stride 2.
    assert_eq!(shapes["conv"], vec![4, 8, 3]);
    let e = output_shapes(&chain(3)).expect_err("three channels");
    assert!(
        refused_field(&e) == "input" && e.to_string().contains("C_in = 2"),
        "{e}"
    );
}

/// Flatten over `[2, 3, 4]`: dimensions by index from the front or (negative) from the back;
/// a start after the end, an end past the last dimension, and a start before the first are
/// each refused.
#[test]
fn flatten_dimensions_select_a_range_of_the_input() {
    let flatten = |start: i64, end: i64| {
        output_shapes(&NirGraph::sequential([
            (
                "in",
                Node::Input {
                    shape: vec![2, 3, 4],
                },
            ),
            (
                "flat",
                Node::Flatten(Flatten {
                    start_dim: start,
                    end_dim: end,
                    input_shape: None,
                }),
            ),
        ]))
        .map(|s| s["flat"].clone())
    };
    assert_eq!(flatten(1, 2).expect("1..=2"), vec![2, 12]);
    assert_eq!(flatten(-2, -1).expect("-2..=-1"), vec![2, 12]);
    assert_eq!(flatten(0, -1).expect("all"), vec![24]);
    assert_eq!(flatten(1, 1).expect("one dimension"), vec![2, 3, 4]);
    for (start, end) in [(2, 1), (0, 3), (-5, 1)] {
        let e = flatten(start, end).expect_err("out of range");
        assert_eq!(refused_field(&e), "input", "({start}, {end}): {e}");
    }
}
