//! The CPU batch normalisation (`spikeburn_core::batch_norm`) equals burn's `BatchNorm` in
//! training mode: output, the gradients of input, γ and β, and the running statistics after
//! two updates, on burn-flex and burn-ndarray, for image and flat inputs.

#![allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.

mod common;

use burn::module::Param;
use burn::nn::BatchNormConfig;
use burn::prelude::*;
use common::{assert_close, uniform, values};
use spikeburn_core::Kernel;
use spikeburn_core::batch_norm::forward;

fn random<const D: usize>(shape: [usize; D], seed: u64, dev: &Device) -> Tensor<D> {
    // Values off zero and wider than 1, so that the statistics are not trivial.
    uniform(shape, -1.0, 3.0, seed, dev)
}

/// Two training passes of `Σ Y ⊙ R`; returns the second pass's output and gradients and the
/// running statistics after both.
fn pass<const D: usize>(shape: [usize; D], kernel: Kernel, dev: &Device) -> Vec<Vec<f32>> {
    let channels = shape[1];
    let mut norm = BatchNormConfig::new(channels).init(dev);
    // Non-trivial affine parameters.
    norm.gamma = Param::from_tensor(random([channels], 7, dev));
    norm.beta = Param::from_tensor(random([channels], 8, dev));
    let mut out = Vec::new();
    for seed in [1, 2] {
        let x = random(shape, seed, dev).require_grad();
        let y = forward(&norm, x.clone(), kernel);
        let r = random(y.dims(), 10 + seed, dev);
        let grads = (y.clone() * r).sum().backward();
        out = vec![
            values(y),
            values(x.grad(&grads).expect("∂x")),
            values(norm.gamma.val().grad(&grads).expect("∂γ")),
            values(norm.beta.val().grad(&grads).expect("∂β")),
        ];
    }
    out.push(values(norm.running_mean.value()));
    out.push(values(norm.running_var.value()));
    out
}

fn check<const D: usize>(shape: [usize; D]) {
    for dev in [Device::flex().autodiff(), Device::ndarray().autodiff()] {
        let fast = pass(shape, Kernel::Auto, &dev);
        let reference = pass(shape, Kernel::Reference, &dev);
        let names = ["output", "∂x", "∂γ", "∂β", "running mean", "running var"];
        for (name, (a, b)) in names.iter().zip(fast.iter().zip(&reference)) {
            assert_close(a, b, 1e-4, &format!("{dev:?} {shape:?} {name}"));
        }
    }
}

#[test]
fn batch_norm_equals_burn_on_images() {
    check([6, 3, 5, 7]);
    check([2, 5, 1, 1]);
}

#[test]
fn batch_norm_equals_burn_on_flat_features() {
    check([9, 4]);
}

#[test]
fn evaluation_mode_is_burns() {
    let dev = Device::flex();
    let norm = BatchNormConfig::new(3).init(&dev);
    let x = random([4, 3, 2, 2], 1, &dev);
    assert_eq!(
        values(forward(&norm, x.clone(), Kernel::Auto)),
        values(norm.forward(x))
    );
}
