//! The CPU max pooling (`spikeburn_core::pool`) equals burn's `MaxPool2d`: outputs and input
//! gradients, on burn-flex and burn-ndarray, for windows, strides (overlapping, gapped) and
//! sizes that do not divide evenly; with and without autodiff.

#![allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.

mod common;

use burn::nn::pool::MaxPool2dConfig;
use burn::prelude::*;
use common::{assert_close, uniform, values};
use spikeburn_core::Kernel;
use spikeburn_core::pool::forward;

fn random(shape: [usize; 4], seed: u64, dev: &Device) -> Tensor<4> {
    uniform(shape, -1.0, 1.0, seed, dev)
}

/// `(shape, kernel, stride)`
const CASES: &[([usize; 4], usize, usize)] = &[
    ([3, 4, 8, 8], 2, 2),
    ([2, 3, 7, 9], 2, 2),
    ([2, 2, 9, 7], 3, 2),
    ([1, 5, 10, 10], 3, 3),
    ([4, 1, 6, 5], 2, 3),
    ([2, 2, 4, 4], 4, 4),
];

#[test]
fn max_pooling_equals_burn_in_values_and_gradients() {
    for dev in [Device::flex().autodiff(), Device::ndarray().autodiff()] {
        for &(shape, k, s) in CASES {
            let pool = MaxPool2dConfig::new([k, k]).with_strides([s, s]).init();
            let run = |kernel| {
                let x = random(shape, 1, &dev).require_grad();
                let y = forward(&pool, x.clone(), kernel);
                let r = random(y.dims(), 2, &dev);
                let grads = (y.clone() * r).sum().backward();
                (values(y), values(x.grad(&grads).expect("∂x")))
            };
            let (fast, fast_grad) = run(Kernel::Auto);
            let (reference, reference_grad) = run(Kernel::Reference);
            let what = format!("{dev:?} {shape:?} k{k} s{s}");
            assert_close(&fast, &reference, 0.0, &format!("{what} output"));
            assert_close(&fast_grad, &reference_grad, 1e-6, &format!("{what} ∂x"));
        }
    }
}

#[test]
fn max_pooling_without_autodiff_equals_burn() {
    for dev in [Device::flex(), Device::ndarray()] {
        for &(shape, k, s) in CASES {
            let pool = MaxPool2dConfig::new([k, k]).with_strides([s, s]).init();
            let x = random(shape, 3, &dev);
            assert_close(
                &values(forward(&pool, x.clone(), Kernel::Auto)),
                &values(forward(&pool, x, Kernel::Reference)),
                0.0,
                &format!("{dev:?} {shape:?} k{k} s{s}"),
            );
        }
    }
}
