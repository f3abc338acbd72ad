//! Tests of the neuron, surrogate and loss semantics against hand-computed values, analytic
//! derivatives and the single-step reference.

mod common;

use burn::prelude::*;
use common::{SURROGATES, uniform};
use spikeburn_core::loss::{ce_count, ce_membrane, ce_rate};
use spikeburn_core::metrics::{accuracy_by_membrane, accuracy_by_spike_count};
use spikeburn_core::{Kernel, LifConfig, LifState, NetworkConfig, Reset, Surrogate};

fn device() -> Device {
    Device::flex().autodiff()
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 data")
}

fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let scale = 1.0f32.max(x.abs()).max(y.abs());
        assert!(
            (x - y).abs() <= tol * scale,
            "{what}[{i}]: {x} vs {y} (tolerance {tol})"
        );
    }
}

/// Every built-in surrogate (the sigmoid and spike-rate escape with gentler slopes, so that
/// gradients through an attached reset neither vanish nor explode to 1e7 on the test's inputs,
/// where f32 rounding alone exceeds the 1e-5 tolerance).

#[test]
fn surrogate_backward_equals_analytic_derivative() {
    let dev = device();
    let grid: Vec<f32> = (0..401).map(|i| -2.0 + i as f32 * 0.01).collect();
    for surrogate in SURROGATES {
        let x = Tensor::<1>::from_data(TensorData::new(grid.clone(), [grid.len()]), &dev)
            .require_grad();
        let s = surrogate.spike(x.clone());
        let forward = values(s.clone());
        let grads = s.sum().backward();
        let g = values(x.grad(&grads).expect("gradient"));
        for (i, &xi) in grid.iter().enumerate() {
            let heaviside = if xi > 0.0 { 1.0 } else { 0.0 };
            assert_eq!(forward[i], heaviside, "{surrogate:?} forward at {xi}");
            let expected = surrogate.derivative(xi);
            assert!(
                (g[i] - expected).abs() <= 1e-5 * expected.abs().max(1.0),
                "{surrogate:?} gradient at {xi}: {} vs {expected}",
                g[i]
            );
        }
    }
}

/// A surrogate and the smooth function whose derivative it claims to be.
type Primitive = (Surrogate, fn(f64) -> f64);

#[test]
fn surrogate_formulas_are_derivatives_of_their_smooth_functions() {
    // σ for each surrogate (module docs); its central difference must match `derivative`.
    let primitives: [Primitive; 6] = [
        (Surrogate::Atan { alpha: 2.0 }, |x| {
            (std::f64::consts::PI * 2.0 * x / 2.0).atan() / std::f64::consts::PI
        }),
        (Surrogate::FastSigmoid { slope: 25.0 }, |x| {
            x / (1.0 + 25.0 * x.abs())
        }),
        (Surrogate::Sigmoid { slope: 5.0 }, |x| {
            1.0 / (1.0 + (-5.0 * x).exp())
        }),
        (Surrogate::StraightThrough, |x| x),
        (Surrogate::Triangular { alpha: 0.3 }, |x| {
            0.3 * if x.abs() <= 1.0 {
                x - x * x.abs() / 2.0
            } else {
                0.5 * x.signum()
            }
        }),
        (
            Surrogate::SpikeRateEscape {
                beta: 1.0,
                slope: 25.0,
            },
            |x| 25.0 * (x - 1.0).signum() * (1.0 - (-(x - 1.0).abs()).exp()),
        ),
    ];
    let h = 1e-5;
    for (surrogate, f) in primitives {
        for i in 0..81 {
            let x = -2.0 + i as f64 * 0.05 + 0.0123; // avoid the kinks of |x| at 0 and ±1
            let numeric = (f(x + h) - f(x - h)) / (2.0 * h);
            let analytic = f64::from(surrogate.derivative(x as f32));
            assert!(
                (numeric - analytic).abs() <= 1e-4 * analytic.abs().max(1.0),
                "{surrogate:?} at {x}: finite difference {numeric} vs formula {analytic}"
            );
        }
    }
}

/// Runs a single neuron (β = 0.5, θ = 1) over `input` and returns (spikes, membrane).
fn simulate(reset: Reset, input: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let dev = Device::flex();
    let lif = LifConfig::new()
        .with_beta(0.5)
        .with_threshold(1.0)
        .with_reset(reset)
        .init(1, &dev);
    let t = input.len();
    let x = Tensor::<3>::from_data(TensorData::new(input.to_vec(), [t, 1, 1]), &dev);
    let out = lif.forward_with_membrane(x);
    (values(out.spikes), values(out.membrane.expect("membrane")))
}

#[test]
fn lif_matches_hand_computed_sequences_for_each_reset() {
    let input = [0.6, 0.6, 0.6, 0.6, 0.6, 1.5, 0.0, 0.0];
    // U[t] = 0.5·U[t−1] + I[t] − reset; S[t] = U[t] > 1.
    let cases: [(Reset, [f32; 8], [f32; 8]); 3] = [
        (
            Reset::Subtract,
            [
                0.6, 0.9, 1.05, 0.125, 0.6625, 1.83125, -0.084375, -0.0421875,
            ],
            [0., 0., 1., 0., 0., 1., 0., 0.],
        ),
        (
            Reset::Zero,
            [0.6, 0.9, 1.05, 0.6, 0.9, 1.95, 0.0, 0.0],
            [0., 0., 1., 0., 0., 1., 0., 0.],
        ),
        (
            Reset::None,
            [0.6, 0.9, 1.05, 1.125, 1.1625, 2.08125, 1.040625, 0.5203125],
            [0., 0., 1., 1., 1., 1., 1., 0.],
        ),
    ];
    for (reset, membrane, spikes) in cases {
        let (s, u) = simulate(reset, &input);
        assert_close(&u, &membrane, 1e-6, &format!("{reset:?} membrane"));
        assert_eq!(s, spikes, "{reset:?} spikes");
    }
}

/// Everything a gradient comparison needs from one pass.
struct Pass {
    spikes: Vec<f32>,
    membrane: Vec<f32>,
    grad_input: Vec<f32>,
    grad_beta: Vec<f32>,
    grad_threshold: Vec<f32>,
}

/// Loss = Σ w₁·S + Σ w₂·U over a random sequence, through `forward` (multi-step) or a loop of
/// `step`, from the same leaf tensors.
fn pass(config: &LifConfig, multi: bool, shape: [usize; 3], seed: u64, dev: &Device) -> Pass {
    let dev = dev.clone();
    let [t, b, n] = shape;
    let lif = config.init(n, &dev);
    let input = uniform(shape, -0.5, 1.5, seed, &dev).require_grad();
    let w1 = uniform(shape, -1.0, 1.0, seed + 1, &dev);
    let w2 = uniform(shape, -1.0, 1.0, seed + 2, &dev);
    let (spikes, membrane) = if multi {
        let out = lif.forward_with_membrane(input.clone());
        (out.spikes, out.membrane.expect("membrane"))
    } else {
        let mut state = LifState::zeros(b, n, &dev);
        let (mut s_all, mut u_all) = (Vec::new(), Vec::new());
        for step in 0..t {
            let x = input.clone().slice(s![step]).squeeze_dim::<2>(0);
            let (s, next) = lif.step(x, state);
            s_all.push(s);
            u_all.push(next.membrane.clone());
            state = next;
        }
        (Tensor::stack(s_all, 0), Tensor::stack(u_all, 0))
    };
    let loss = (spikes.clone() * w1).sum() + (membrane.clone() * w2).sum();
    let grads = loss.backward();
    let grad = |p: Option<Tensor<1>>| p.map(values).unwrap_or_default();
    Pass {
        spikes: values(spikes),
        membrane: values(membrane),
        grad_input: values(input.grad(&grads).expect("input gradient")),
        grad_beta: grad(lif.beta.val().grad(&grads)),
        grad_threshold: grad(lif.threshold.val().grad(&grads)),
    }
}

#[allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.
fn devices() -> [(&'static str, Device); 2] {
    [
        ("flex", Device::flex().autodiff()),
        ("ndarray", Device::ndarray().autodiff()),
    ]
}

/// `forward` (fused kernel and reference ops) equals the loop of `step`, in values and in
/// gradients with respect to input, β and θ, for every reset × detach × surrogate × scalar or
/// per-neuron parameters, on both CPU backends; shapes include T = 1 and N not a multiple of
/// the SIMD width.
#[test]
fn forward_equals_step_loop_in_values_and_gradients() {
    let mut seed = 100;
    let shapes = [[7, 3, 5], [1, 2, 9], [12, 5, 37]];
    for (backend, dev) in devices() {
        for kernel in [Kernel::Auto, Kernel::Reference] {
            for reset in [Reset::Subtract, Reset::Zero, Reset::None] {
                for detach_reset in [true, false] {
                    for surrogate in SURROGATES {
                        for per_neuron in [false, true] {
                            seed += 10;
                            let shape = shapes[seed as usize % shapes.len()];
                            let config = LifConfig::new()
                                .with_beta(0.8)
                                .with_threshold(0.9)
                                .with_reset(reset)
                                .with_detach_reset(detach_reset)
                                .with_surrogate(surrogate)
                                .with_learn_beta(true)
                                .with_learn_threshold(true)
                                .with_per_neuron(per_neuron)
                                .with_kernel(kernel);
                            check_multi_equals_single(&config, shape, seed, &dev, backend);
                        }
                    }
                }
            }
        }
    }
}

fn check_multi_equals_single(
    config: &LifConfig,
    shape: [usize; 3],
    seed: u64,
    dev: &Device,
    backend: &str,
) {
    let what = format!("{backend} {shape:?} {config:?}");
    let multi = pass(config, true, shape, seed, dev);
    let single = pass(config, false, shape, seed, dev);
    if shape[0] > 1 {
        assert!(
            multi.spikes.iter().any(|&s| s > 0.0),
            "{what}: no spike at all"
        );
    }
    assert_eq!(multi.spikes, single.spikes, "{what}: spikes");
    assert_close(
        &multi.membrane,
        &single.membrane,
        1e-6,
        &format!("{what}: membrane"),
    );
    assert_close(
        &multi.grad_input,
        &single.grad_input,
        1e-5,
        &format!("{what}: dL/dI"),
    );
    assert!(!multi.grad_beta.is_empty() && !multi.grad_threshold.is_empty());
    assert_close(
        &multi.grad_beta,
        &single.grad_beta,
        1e-5,
        &format!("{what}: dL/dβ"),
    );
    assert_close(
        &multi.grad_threshold,
        &single.grad_threshold,
        1e-5,
        &format!("{what}: dL/dθ"),
    );
}

#[test]
fn fixed_parameters_get_no_gradient() {
    let dev = device();
    let lif = LifConfig::new().init(4, &dev);
    let x = uniform([5, 2, 4], 0.0, 1.5, 7, &dev).require_grad();
    let grads = lif.forward(x.clone()).sum().backward();
    assert!(x.grad(&grads).is_some());
    assert!(lif.beta.val().grad(&grads).is_none());
    assert!(lif.threshold.val().grad(&grads).is_none());
}

#[test]
fn constant_input_equals_repeated_sequence() {
    let dev = device();
    let (t, b, n) = (9, 4, 6);
    for kernel in [Kernel::Auto, Kernel::Reference] {
        let lif = LifConfig::new()
            .with_learn_beta(true)
            .with_learn_threshold(true)
            .with_kernel(kernel)
            .init(n, &dev);
        let x = uniform([b, n], 0.0, 1.0, 3, &dev).require_grad();
        let constant = lif.forward_constant(x.clone(), t, true);
        let repeated = lif.forward_with_membrane(x.clone().unsqueeze::<3>().repeat_dim(0, t));
        let loss = |o: &spikeburn_core::LifOutput| {
            o.membrane.clone().expect("membrane").sum() + o.spikes.clone().sum()
        };
        let (loss_c, loss_r) = (loss(&constant), loss(&repeated));
        assert_eq!(
            values(constant.spikes),
            values(repeated.spikes),
            "{kernel:?}"
        );
        let g_c = loss_c.backward();
        let g_r = loss_r.backward();
        let grad = |g: &burn::tensor::Gradients| {
            (
                values(x.grad(g).expect("grad")),
                values(lif.beta.val().grad(g).expect("grad")),
                values(lif.threshold.val().grad(g).expect("grad")),
            )
        };
        let (gx_c, gb_c, gt_c) = grad(&g_c);
        let (gx_r, gb_r, gt_r) = grad(&g_r);
        assert_close(&gx_c, &gx_r, 1e-5, &format!("{kernel:?} dL/dx"));
        assert_close(&gb_c, &gb_r, 1e-5, &format!("{kernel:?} dL/dβ"));
        assert_close(&gt_c, &gt_r, 1e-5, &format!("{kernel:?} dL/dθ"));
    }
}

/// Inference (no autodiff): the fused kernel gives the reference's spikes and membrane.
#[test]
fn fused_inference_equals_reference() {
    for (backend, dev) in devices() {
        let dev = dev.inner();
        for reset in [Reset::Subtract, Reset::Zero, Reset::None] {
            let x = uniform([9, 4, 13], -0.5, 1.5, 11, &dev);
            let run = |kernel| {
                let lif = LifConfig::new()
                    .with_reset(reset)
                    .with_kernel(kernel)
                    .init(13, &dev);
                let out = lif.forward_with_membrane(x.clone());
                (values(out.spikes), values(out.membrane.expect("membrane")))
            };
            let (s_fused, u_fused) = run(Kernel::Auto);
            let (s_ref, u_ref) = run(Kernel::Reference);
            assert_eq!(s_fused, s_ref, "{backend} {reset:?} spikes");
            assert_close(
                &u_fused,
                &u_ref,
                1e-6,
                &format!("{backend} {reset:?} membrane"),
            );
        }
    }
}

#[test]
fn config_validation_names_the_field() {
    let err = LifConfig::new()
        .with_beta(1.5)
        .validate()
        .expect_err("beta 1.5");
    assert_eq!(err.field, "beta");
    let err = LifConfig::new()
        .with_threshold(0.0)
        .validate()
        .expect_err("threshold 0");
    assert_eq!(err.field, "threshold");
    let err = NetworkConfig {
        num_steps: 0,
        ..NetworkConfig::default()
    }
    .validate()
    .expect_err("num_steps 0");
    assert_eq!(err.field, "num_steps");
    let mut net = NetworkConfig::default();
    net.neuron.surrogate = Surrogate::FastSigmoid { slope: -1.0 };
    assert_eq!(net.validate().expect_err("slope").field, "neuron.surrogate");
}

#[test]
fn losses_match_their_formulas() {
    let dev = Device::flex();
    // T = 2, B = 1, C = 3
    let scores = [1.0f32, 2.0, 0.5, -1.0, 0.0, 3.0];
    let x = Tensor::<3>::from_data(TensorData::new(scores.to_vec(), [2, 1, 3]), &dev);
    let y = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64], [1]), &dev);
    let ce = |z: &[f32], target: usize| {
        let lse = z.iter().map(|v| v.exp()).sum::<f32>().ln();
        lse - z[target]
    };
    let expected_sum = ce(&scores[..3], 1) + ce(&scores[3..], 1);
    let got = ce_membrane(x.clone(), y.clone(), None).into_scalar::<f32>();
    assert!(
        (got - expected_sum).abs() < 1e-5,
        "ce_membrane {got} vs {expected_sum}"
    );
    let got = ce_rate(x.clone(), y.clone(), None).into_scalar::<f32>();
    assert!((got - expected_sum / 2.0).abs() < 1e-5, "ce_rate {got}");
    let counts = [0.0, 2.0, 3.5];
    let got = ce_count(x.clone(), y.clone(), None).into_scalar::<f32>();
    assert!((got - ce(&counts, 1)).abs() < 1e-5, "ce_count {got}");
    // Σ_t: [0, 2, 3.5] → class 2; target 1 → accuracy 0.
    assert_eq!(accuracy_by_spike_count(x.clone(), y.clone(), None), 0.0);
    let y2 = Tensor::<1, Int>::from_data(TensorData::new(vec![2i64], [1]), &dev);
    assert_eq!(accuracy_by_membrane(x, y2, None), 1.0);
}

#[test]
fn network_is_seeded_and_runs_direct_encoding() {
    let dev = Device::flex();
    let config = NetworkConfig {
        input: vec![12],
        hidden: vec![8, 6],
        outputs: 3,
        num_steps: 5,
        ..NetworkConfig::default()
    };
    let a = config.init(9, &dev);
    let b = config.init(9, &dev);
    let c = config.init(10, &dev);
    let w = |m: &spikeburn_core::SpikingNetwork| values(m.linears()[1].weight.val());
    assert_eq!(w(&a), w(&b));
    assert_ne!(w(&a), w(&c));
    let bound = 1.0 / 8f32.sqrt();
    assert!(w(&a).iter().all(|v| v.abs() <= bound));
    let x = uniform([4, 12], 0.0, 1.0, 1, &dev);
    let out = a.forward(x);
    assert_eq!(out.spikes.dims(), [5, 4, 3]);
    assert_eq!(out.membrane.dims(), [5, 4, 3]);
    assert_eq!(out.spike_rates.len(), 3);
}
