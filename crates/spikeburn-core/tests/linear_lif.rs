//! The dense + LIF operation recomputed in segments of time (`fused::linear_lif_scan`) equals
//! the two operations it replaces, a dense layer (burn's `matmul`) and the fused LIF scan
//! from rest, in the output and in the gradients of the input, the weights, the bias, β, θ
//! and the one-to-one feedback weight: for every reset, detach flag, segment lengths from
//! one step to more than the sequence, binary inputs (kept as bits) and real ones.

mod common;

use burn::prelude::*;
use common::{assert_close, devices, uniform, values};
use spikeburn_core::fused::{ScanSettings, lif_scan, linear_lif_scan, recurrent_lif_scan};
use spikeburn_core::lif::Reset;
use spikeburn_core::surrogate::Surrogate;

/// Leaves of one comparison: the input, the dense layer's weight and bias, β, θ, the
/// feedback weight and the weights of the loss.
struct Leaves {
    x: Tensor<3>,
    weight: Tensor<2>,
    bias: Tensor<1>,
    beta: Tensor<1>,
    threshold: Tensor<1>,
    feedback: Tensor<1>,
    loss_weights: Tensor<3>,
}

impl Leaves {
    fn new(
        [t, b, k, n]: [usize; 4],
        binary: bool,
        per_neuron: bool,
        seed: u64,
        dev: &Device,
    ) -> Self {
        let x = uniform([t, b, k], 0.0, 1.0, seed, dev);
        // Spikes: about a third of the values 1, the rest 0.
        let x = if binary {
            x.greater_elem(0.66).float()
        } else {
            x
        };
        let p = if per_neuron { n } else { 1 };
        Self {
            x,
            weight: uniform([k, n], -0.4, 0.8, seed + 1, dev),
            bias: uniform([n], -0.1, 0.3, seed + 2, dev),
            beta: uniform([p], 0.6, 0.95, seed + 3, dev),
            threshold: uniform([p], 0.5, 1.0, seed + 4, dev),
            feedback: uniform([p], -0.5, 0.5, seed + 5, dev),
            loss_weights: uniform([t, b, n], -1.0, 1.0, seed + 6, dev),
        }
    }
}

/// Output and gradients (x, W, b, β, θ, v) of `L = Σ out ⊙ w` for the segmented operation
/// (`segment = Some(S)`) or the dense layer followed by the scan (`None`).
fn run(
    leaves: &Leaves,
    settings: ScanSettings,
    feedback: bool,
    segment: Option<usize>,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let leaf = |t: &Tensor<1>| t.clone().require_grad();
    let x = leaves.x.clone().require_grad();
    let weight = leaves.weight.clone().require_grad();
    let (bias, beta, threshold, v) = (
        leaf(&leaves.bias),
        leaf(&leaves.beta),
        leaf(&leaves.threshold),
        leaf(&leaves.feedback),
    );
    let fb = feedback.then(|| v.clone());
    let out = match segment {
        Some(s) => linear_lif_scan(
            x.clone(),
            weight.clone(),
            Some(bias.clone()),
            beta.clone(),
            threshold.clone(),
            fb,
            settings,
            s,
        ),
        None => {
            let [t, b, k] = x.dims();
            let n = weight.dims()[1];
            let current = (x.clone().reshape([t * b, k]).matmul(weight.clone())
                + bias.clone().unsqueeze::<2>())
            .reshape([t, b, n]);
            match fb {
                Some(v) => {
                    recurrent_lif_scan(current, beta.clone(), threshold.clone(), v, settings)
                }
                None => lif_scan(current, beta.clone(), threshold.clone(), settings),
            }
        }
    };
    let grads = (out.clone() * leaves.loss_weights.clone()).sum().backward();
    let mut g = vec![
        values(x.grad(&grads).expect("∂L/∂X")),
        values(weight.grad(&grads).expect("∂L/∂W")),
        values(bias.grad(&grads).expect("∂L/∂b")),
        values(beta.grad(&grads).expect("∂L/∂β")),
        values(threshold.grad(&grads).expect("∂L/∂θ")),
    ];
    if feedback {
        g.push(values(v.grad(&grads).expect("∂L/∂v")));
    }
    (values(out), g)
}

fn settings(
    reset: Reset,
    detach_reset: bool,
    surrogate: Surrogate,
    membrane: bool,
) -> ScanSettings {
    ScanSettings {
        reset,
        detach_reset,
        surrogate,
        output_membrane: membrane,
        constant_steps: 0,
        refractory: 0,
    }
}

/// Compares the two ways for one setting; the output exactly (spikes) or to 1e-5 (membrane).
fn compare(leaves: &Leaves, settings: ScanSettings, feedback: bool, segment: usize, what: &str) {
    let (out, grads) = run(leaves, settings, feedback, Some(segment));
    let (want, want_grads) = run(leaves, settings, feedback, None);
    if settings.output_membrane {
        assert_close(&out, &want, 1e-5, what);
    } else {
        assert_eq!(out, want, "{what}: spikes");
        assert!(
            out.contains(&1.0) && out.contains(&0.0),
            "{what}: spikes all alike"
        );
    }
    let names = ["∂L/∂X", "∂L/∂W", "∂L/∂b", "∂L/∂β", "∂L/∂θ", "∂L/∂v"];
    for ((g, w), name) in grads.iter().zip(&want_grads).zip(names) {
        assert!(g.iter().any(|v| *v != 0.0), "{what}: {name} is zero");
        assert_close(g, w, 2e-4, &format!("{what}: {name}"));
    }
}

#[test]
fn segmented_dense_lif_equals_the_dense_layer_and_the_scan_for_every_setting() {
    let mut seed = 40_000;
    for (backend, dev) in devices() {
        for reset in [Reset::Subtract, Reset::Zero, Reset::None] {
            for detach_reset in [true, false] {
                for (i, segment) in [1, 4, 7, 30].into_iter().enumerate() {
                    seed += 10;
                    let binary = i % 2 == 0;
                    // 25 steps: segments of 4 leave a last segment of one step.
                    let leaves = Leaves::new([25, 10, 12, 9], binary, i >= 2, seed, &dev);
                    let surrogate = [Surrogate::atan(2.0), Surrogate::fast_sigmoid(5.0)][i % 2];
                    let what = format!(
                        "{backend} {reset:?} detach={detach_reset} S={segment} binary={binary}"
                    );
                    let s = settings(reset, detach_reset, surrogate, false);
                    compare(&leaves, s, false, segment, &what);
                }
            }
        }
    }
}

#[test]
fn segmented_dense_lif_with_feedback_or_membrane_output_equals_the_two_operations() {
    for (backend, dev) in devices() {
        for (i, reset) in [Reset::Subtract, Reset::Zero, Reset::None]
            .into_iter()
            .enumerate()
        {
            let leaves = Leaves::new([23, 17, 8, 11], i == 1, i != 1, 50_000 + i as u64, &dev);
            let s = settings(reset, i == 2, Surrogate::atan(2.0), false);
            compare(
                &leaves,
                s,
                true,
                5,
                &format!("{backend} {reset:?} feedback"),
            );
            // θ moves the membrane through an attached reset only.
            if reset != Reset::None {
                let s = settings(reset, false, Surrogate::triangular(1.0), true);
                compare(
                    &leaves,
                    s,
                    false,
                    6,
                    &format!("{backend} {reset:?} membrane"),
                );
            }
        }
    }
}

/// Several blocks of rows (48 rows of 200 neurons: blocks of 8 rows) and segment boundaries
/// inside them, on a binary input of the size of a hidden layer.
#[test]
fn segmented_dense_lif_over_several_row_blocks_equals_the_two_operations() {
    for (backend, dev) in devices() {
        let leaves = Leaves::new([40, 48, 64, 200], true, true, 60_000, &dev);
        let s = settings(Reset::Subtract, true, Surrogate::atan(2.0), false);
        compare(&leaves, s, false, 9, &format!("{backend} row blocks"));
    }
}

/// Sparse inputs (5 % non-zeros, as event data), real-valued and binary: the operation keeps
/// and multiplies their non-zeros only, as the dense layers do, with the same results.
#[test]
fn segmented_dense_lif_on_sparse_inputs_equals_the_two_operations() {
    for (backend, dev) in devices() {
        for binary in [false, true] {
            let mut leaves = Leaves::new([30, 16, 40, 24], false, true, 70_000, &dev);
            let keep = uniform([30, 16, 40], 0.0, 1.0, 70_100, &dev)
                .lower_elem(0.05)
                .float();
            leaves.x = if binary {
                keep
            } else {
                leaves.x.clone() * 4.0 * keep
            };
            // Strong enough weights that the sparse input makes the layer spike.
            leaves.weight = leaves.weight.clone() * 3.0;
            let s = settings(Reset::Subtract, true, Surrogate::atan(2.0), false);
            compare(
                &leaves,
                s,
                false,
                8,
                &format!("{backend} sparse binary={binary}"),
            );
        }
    }
}

/// Without autodiff (inference) the operation gives the same output as the two operations.
#[test]
#[allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.
fn segmented_dense_lif_without_autodiff_equals_the_two_operations() {
    for (backend, dev) in [("flex", Device::flex()), ("ndarray", Device::ndarray())] {
        for binary in [false, true] {
            let leaves = Leaves::new([21, 6, 10, 13], binary, false, 80_000, &dev);
            let s = settings(Reset::Zero, true, Surrogate::atan(2.0), false);
            let out = linear_lif_scan(
                leaves.x.clone(),
                leaves.weight.clone(),
                Some(leaves.bias.clone()),
                leaves.beta.clone(),
                leaves.threshold.clone(),
                None,
                s,
                4,
            );
            let [t, b, k] = leaves.x.dims();
            let current = (leaves
                .x
                .clone()
                .reshape([t * b, k])
                .matmul(leaves.weight.clone())
                + leaves.bias.clone().unsqueeze::<2>())
            .reshape([t, b, 13]);
            let want = lif_scan(current, leaves.beta.clone(), leaves.threshold.clone(), s);
            let (out, want) = (values(out), values(want));
            assert_eq!(out, want, "{backend} binary={binary}");
            assert!(
                out.contains(&1.0) && out.contains(&0.0),
                "{backend}: spikes all alike"
            );
        }
    }
}

/// Collects the gradient of every float parameter of a module, in visiting order.
struct ParamGrads<'a>(&'a burn::tensor::Gradients, Vec<Vec<f32>>);

impl burn::module::ModuleVisitor for ParamGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        self.1
            .push(param.val().grad(self.0).map(values).unwrap_or_default());
    }
}

/// A network with `checkpoint_segment` runs its dense + LIF pairs (a LIF layer with learnable
/// β, and a one-to-one recurrent layer) through the segmented operation and gives the output
/// and every parameter gradient of the network without it.
#[test]
fn a_network_with_checkpointing_equals_the_network_without() {
    use burn::module::Module;
    use spikeburn_core::recurrent::{RecurrentKind, RecurrentParams};
    use spikeburn_core::{
        LayerConfig, ModelInput, NetworkConfig, NeuronConfig, NeuronKind, SpikingModel,
    };
    let dev = Device::flex().autodiff();
    let linear = |size| LayerConfig::Linear { size, bias: true };
    let neuron = |neuron: NeuronConfig| LayerConfig::Neuron {
        neuron: Some(neuron),
    };
    let base = NeuronConfig {
        beta: 0.8,
        threshold: 0.5,
        learn_beta: true,
        ..NeuronConfig::default()
    };
    let recurrent = NeuronConfig {
        model: RecurrentParams {
            recurrent: RecurrentKind::OneToOne,
        }
        .into(),
        ..base.clone()
    };
    let readout = NeuronConfig {
        model: NeuronKind::Integrator.default_params(),
        ..NeuronConfig::default()
    };
    let config = |checkpoint_segment| NetworkConfig {
        input: vec![30],
        num_steps: 17,
        layers: vec![
            linear(40),
            neuron(base.clone()),
            linear(25),
            neuron(recurrent.clone()),
            linear(5),
            neuron(readout.clone()),
        ],
        checkpoint_segment,
        ..NetworkConfig::default()
    };
    let x = uniform([17, 6, 30], 0.0, 1.0, 90_000, &dev)
        .greater_elem(0.7)
        .float();
    let w = uniform([17, 6, 5], -1.0, 1.0, 90_001, &dev);
    let run = |segment| {
        let config = config(segment);
        config.validate().expect("valid");
        let net = config.init(5, &dev);
        let pairs = if segment.is_some() {
            vec![0, 2]
        } else {
            vec![]
        };
        assert_eq!(net.checkpointed(&dev), pairs, "checkpointed layers");
        let out = SpikingModel::forward(&net, ModelInput::Sequence(x.clone()));
        let rates: Vec<f32> = out
            .spike_rates
            .iter()
            .map(|r| values(r.clone())[0])
            .collect();
        let grads = (out.membrane.clone() * w.clone()).sum().backward();
        let mut visitor = ParamGrads(&grads, Vec::new());
        net.visit(&mut visitor);
        (values(out.membrane), rates, visitor.1)
    };
    let (membrane, rates, grads) = run(Some(4));
    let (want_membrane, want_rates, want_grads) = run(None);
    assert_close(&membrane, &want_membrane, 1e-5, "membrane");
    assert_eq!(rates, want_rates, "spike rates");
    assert!(
        rates[..2].iter().all(|&r| r > 0.0 && r < 1.0),
        "hidden layers spike: {rates:?}"
    );
    assert_eq!(grads.len(), want_grads.len());
    // Fixed parameters (θ here) have no gradient either way.
    let learnable = want_grads.iter().filter(|g| !g.is_empty()).count();
    assert!(learnable >= 9, "{learnable} learnable parameters");
    for (i, (g, w)) in grads.iter().zip(&want_grads).enumerate() {
        assert!(
            w.is_empty() || g.iter().any(|v| *v != 0.0),
            "parameter {i} has no gradient"
        );
        assert_close(g, w, 2e-4, &format!("parameter {i}"));
    }
}
