//! The OpenBLAS dense layer (`spikeburn_core::dense`) equals burn's `Linear`: outputs and the
//! gradients of input, weight and bias, on burn-flex and burn-ndarray, for shapes that are
//! and are not split across threads; with and without autodiff. Where the build has no
//! OpenBLAS, `Kernel::Auto` is burn's product and the same checks hold trivially.

#![allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.

mod common;

use burn::nn::LinearConfig;
use burn::prelude::*;
use common::{assert_close, uniform, values};
use spikeburn_core::Kernel;
use spikeburn_core::dense::{blas_library, forward, linear, supported};

/// `[M, K, N]`: one row, rows split over threads, odd sizes, a 1-wide output.
const SHAPES: &[[usize; 3]] = &[
    [1, 5, 3],
    [300, 33, 17],
    [129, 64, 1],
    [7, 1, 9],
    [512, 100, 130],
];

/// One forward + backward of `Σ Y ⊙ R` for a fixed random `R`, through `kernel`.
fn pass([m, k, n]: [usize; 3], bias: bool, kernel: Kernel, dev: &Device) -> [Vec<f32>; 4] {
    let x = uniform([m, k], -1.0, 1.0, 1, dev).require_grad();
    let w = uniform([k, n], -1.0, 1.0, 2, dev).require_grad();
    let b = bias.then(|| uniform([n], -1.0, 1.0, 3, dev).require_grad());
    let y = linear(x.clone(), w.clone(), b.clone(), kernel);
    let r = uniform([m, n], -1.0, 1.0, 4, dev);
    let grads = (y.clone() * r).sum().backward();
    let gb = b.map_or_else(Vec::new, |b| values(b.grad(&grads).expect("bias gradient")));
    [
        values(y),
        values(x.grad(&grads).expect("∂X")),
        values(w.grad(&grads).expect("∂W")),
        gb,
    ]
}

#[test]
fn blas_dense_layer_equals_burn_in_values_and_gradients() {
    println!("BLAS: {:?}", blas_library());
    for dev in [Device::flex().autodiff(), Device::ndarray().autodiff()] {
        assert_eq!(supported(&dev), blas_library().is_some(), "{dev:?}");
        for &shape in SHAPES {
            for bias in [false, true] {
                let fast = pass(shape, bias, Kernel::Auto, &dev);
                let reference = pass(shape, bias, Kernel::Reference, &dev);
                // Each value sums at most 512 products, in another order than burn's GEMM.
                for (name, (a, b)) in ["Y", "∂X", "∂W", "∂b"]
                    .iter()
                    .zip(fast.iter().zip(&reference))
                {
                    assert_close(a, b, 1e-5, &format!("{dev:?} {shape:?} bias {bias} {name}"));
                }
            }
        }
    }
}

#[test]
fn blas_dense_layer_without_autodiff_equals_burn() {
    for dev in [Device::flex(), Device::ndarray()] {
        for &[m, k, n] in SHAPES {
            let x = uniform([m, k], -1.0, 1.0, 1, &dev);
            let w = uniform([k, n], -1.0, 1.0, 2, &dev);
            let b = uniform([n], -1.0, 1.0, 3, &dev);
            let run = |kernel| values(linear(x.clone(), w.clone(), Some(b.clone()), kernel));
            assert_close(
                &run(Kernel::Auto),
                &run(Kernel::Reference),
                1e-5,
                &format!("{dev:?} {m}x{k}x{n}"),
            );
        }
    }
}

/// The input gradient is skipped for a constant input (the first layer's encoded image), and
/// the module form gives burn's `Linear::forward`.
#[test]
fn linear_module_and_untracked_input() {
    let dev = Device::flex().autodiff();
    let layer = LinearConfig::new(24, 10).init(&dev);
    let x = uniform([40, 24], 0.0, 1.0, 5, &dev);
    let grads_of = |fast: bool| {
        let y = if fast {
            forward(&layer, x.clone(), Kernel::Auto)
        } else {
            layer.forward(x.clone())
        };
        let grads = (y.clone() * y.clone()).sum().backward();
        assert!(x.grad(&grads).is_none());
        let gw = values(layer.weight.val().grad(&grads).expect("∂W"));
        let gb = values(
            layer
                .bias
                .as_ref()
                .expect("bias")
                .val()
                .grad(&grads)
                .expect("∂b"),
        );
        [values(y), gw, gb]
    };
    for (name, (a, b)) in ["Y", "∂W", "∂b"]
        .iter()
        .zip(grads_of(true).iter().zip(&grads_of(false)))
    {
        assert_close(a, b, 1e-5, name);
    }
}
