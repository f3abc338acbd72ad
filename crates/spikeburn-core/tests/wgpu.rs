//! The GPU backend (burn-wgpu) against the CPU reference: the fused CubeCL LIF kernels and the
//! reference path on wgpu give the values and gradients of the CPU reference path (burn-flex,
//! standard tensor operations) for every reset × detach × surrogate × parameter layout, and
//! every model of the catalogue runs on wgpu with the CPU's values and gradients.
//!
//! Where no wgpu adapter opens (or the `wgpu` feature is not compiled in) the tests are
//! reported ignored, with the reason, by the harness of `tests/support/harness.rs`; with
//! `SPIKEBURN_REQUIRE=all` (set by `.ci/run` after `scripts/test-setup.sh` installed Mesa's
//! software Vulkan driver) they fail instead.
//!
//! Tolerance: `|gpu − cpu| ≤ 1e-4 · max(1, |gpu|, |cpu|)` for membranes and gradients (the GPU
//! sums the batch in a different order and may contract `a·b + c` into one rounding); spikes
//! must be identical.

mod common;
#[macro_use]
#[path = "../../../tests/support/harness.rs"]
mod harness;
#[path = "../../../tests/support/wgpu.rs"]
mod support_wgpu;
use support_wgpu::{WGPU, wgpu};

use burn::prelude::*;
use common::{SURROGATES, assert_close, catalogue, pass, uniform, values};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use spikeburn_core::NeuronConfig;
use spikeburn_core::lif::{Kernel, LifConfig, Reset};

const TOL: f32 = 1e-4;

/// Every model of the catalogue through `NeuronLayer::forward` on wgpu (its fused kernel where
/// it has one, and the reference path) equals the CPU reference in spikes, membrane, input
/// gradient and every parameter's gradient.
fn every_model_on_wgpu_equals_the_cpu_reference() {
    let gpu = wgpu();
    let gpu = gpu.autodiff();
    let cpu = Device::flex().autodiff();
    let shapes = [[9, 3, 5], [1, 2, 7], [14, 4, 37]];
    let mut seed = 3;
    for (name, config) in catalogue() {
        for shape in shapes {
            seed += 10;
            let layer_on = |kernel: Kernel, dev: &Device| {
                let config = NeuronConfig {
                    kernel,
                    ..config.clone()
                };
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                config.init(shape[2], &mut rng, dev)
            };
            let reference = pass(&layer_on(Kernel::Reference, &cpu), false, shape, seed, &cpu);
            for kernel in [Kernel::Auto, Kernel::Reference] {
                let what = format!("{name} wgpu {kernel:?} {shape:?}");
                let got = pass(&layer_on(kernel, &gpu), false, shape, seed, &gpu);
                assert_eq!(got.spikes, reference.spikes, "{what}: output");
                assert_close(
                    &got.membrane,
                    &reference.membrane,
                    TOL,
                    &format!("{what}: U"),
                );
                assert_close(
                    &got.grad_input,
                    &reference.grad_input,
                    TOL,
                    &format!("{what}: dL/dX"),
                );
                assert_eq!(got.grad_params.len(), reference.grad_params.len());
                for (i, (a, b)) in got
                    .grad_params
                    .iter()
                    .zip(&reference.grad_params)
                    .enumerate()
                {
                    assert_close(a, b, TOL, &format!("{what}: parameter {i}"));
                }
            }
        }
    }
}

/// The fused LIF kernel on wgpu equals the CPU reference path for every reset mode × detach
/// flag × built-in surrogate × scalar or per-neuron β and θ, with learnable parameters, for
/// shapes with T = 1 and N not a multiple of any vector width.
fn fused_lif_on_wgpu_equals_the_cpu_reference_for_every_setting() {
    let gpu = wgpu();
    let gpu = gpu.autodiff();
    let cpu = Device::flex().autodiff();
    let shapes = [[7, 3, 5], [1, 2, 9], [12, 5, 37]];
    let mut seed = 500;
    for reset in [Reset::Subtract, Reset::Zero, Reset::None] {
        for detach_reset in [true, false] {
            for surrogate in SURROGATES {
                for per_neuron in [false, true] {
                    seed += 10;
                    let shape = shapes[seed as usize % shapes.len()];
                    let config = NeuronConfig {
                        beta: 0.8,
                        threshold: 0.9,
                        reset,
                        detach_reset,
                        surrogate,
                        learn_beta: true,
                        learn_threshold: true,
                        per_neuron,
                        ..NeuronConfig::default()
                    };
                    let layer_on = |kernel: Kernel, dev: &Device| {
                        let config = NeuronConfig {
                            kernel,
                            ..config.clone()
                        };
                        config.init(shape[2], &mut ChaCha8Rng::seed_from_u64(seed), dev)
                    };
                    let what = format!("{shape:?} {config:?}");
                    let reference =
                        pass(&layer_on(Kernel::Reference, &cpu), false, shape, seed, &cpu);
                    let fused = pass(&layer_on(Kernel::Auto, &gpu), false, shape, seed, &gpu);
                    assert_eq!(fused.spikes, reference.spikes, "{what}: spikes");
                    if shape[0] > 1 {
                        assert!(fused.spikes.iter().any(|&s| s > 0.0), "{what}: silent");
                    }
                    assert_close(&fused.membrane, &reference.membrane, TOL, &what);
                    assert_close(&fused.grad_input, &reference.grad_input, TOL, &what);
                    for (a, b) in fused.grad_params.iter().zip(&reference.grad_params) {
                        assert!(!a.is_empty(), "{what}: a parameter got no gradient");
                        assert_close(a, b, TOL, &format!("{what}: parameter gradient"));
                    }
                }
            }
        }
    }
}

/// Inference (no autodiff) through the fused kernel on wgpu, for a sequence and for a constant
/// input repeated over time, equals the CPU.
fn fused_inference_and_constant_input_on_wgpu_equal_the_cpu() {
    let gpu = wgpu();
    let cpu = Device::flex();
    for reset in [Reset::Subtract, Reset::Zero] {
        let config = LifConfig::new()
            .with_beta(0.9)
            .with_threshold(0.7)
            .with_reset(reset);
        let run = |dev: &Device| {
            let lif = config.init(33, dev);
            let x = uniform([20, 6, 33], -0.2, 0.8, 9, dev);
            let constant = uniform([1, 6, 33], 0.0, 0.4, 10, dev).squeeze_dim::<2>(0);
            let out = lif.forward_with_membrane(x);
            let repeated = lif.forward_constant(constant, 15, false).spikes;
            (
                values(out.spikes),
                values(out.membrane.expect("membrane")),
                values(repeated),
            )
        };
        let (s_gpu, u_gpu, c_gpu) = run(&gpu);
        let (s_cpu, u_cpu, c_cpu) = run(&cpu);
        assert_eq!(s_gpu, s_cpu, "{reset:?}: spikes");
        assert!(s_gpu.iter().any(|&s| s > 0.0), "{reset:?}: silent");
        assert_close(&u_gpu, &u_cpu, TOL, &format!("{reset:?}: membrane"));
        assert_eq!(c_gpu, c_cpu, "{reset:?}: spikes for a constant input");
    }
}

fn main() -> std::process::ExitCode {
    harness::run(trials![;
        needs WGPU =>
            every_model_on_wgpu_equals_the_cpu_reference,
            fused_lif_on_wgpu_equals_the_cpu_reference_for_every_setting,
            fused_inference_and_constant_input_on_wgpu_equal_the_cpu,
    ])
}
