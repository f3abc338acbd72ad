//! The im2col convolution (`spikeburn_core::conv`) equals burn's `conv2d`: outputs and the
//! gradients of input, weight and bias, on burn-flex and burn-ndarray, for strides,
//! paddings, kernel shapes and sizes not a multiple of anything; with and without autodiff.

#![allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.

mod common;

use burn::prelude::*;
use common::{assert_close, uniform, values};
use spikeburn_core::Kernel;
use spikeburn_core::conv::{conv2d, supported};

fn random<const D: usize>(shape: [usize; D], seed: u64, dev: &Device) -> Tensor<D> {
    uniform(shape, -1.0, 1.0, seed, dev)
}

/// One convolution: input `[n, c, h, w]`, `o` output channels, a `k × k` kernel.
#[derive(Clone, Copy, Debug)]
struct Case {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    k: usize,
    stride: usize,
    padding: usize,
    bias: bool,
}

const fn case(shape: [usize; 6], stride: usize, padding: usize, bias: bool) -> Case {
    let [n, c, h, w, o, k] = shape;
    Case {
        n,
        c,
        h,
        w,
        o,
        k,
        stride,
        padding,
        bias,
    }
}

impl Case {
    /// The case's random input, weight and (where it has one) bias, from seeds 1, 2 and 3.
    fn operands(self, dev: &Device) -> (Tensor<4>, Tensor<4>, Option<Tensor<1>>) {
        let Case {
            n, c, h, w, o, k, ..
        } = self;
        let x = random([n, c, h, w], 1, dev);
        let weight = random([o, c, k, k], 2, dev);
        let b = self.bias.then(|| random([o], 3, dev));
        (x, weight, b)
    }

    /// `conv2d` of the operands with the case's stride and padding, through `kernel`.
    fn conv(
        self,
        x: &Tensor<4>,
        weight: &Tensor<4>,
        b: &Option<Tensor<1>>,
        kernel: Kernel,
    ) -> Tensor<4> {
        conv2d(
            x.clone(),
            weight.clone(),
            b.clone(),
            self.stride,
            self.padding,
            kernel,
        )
    }
}

const CASES: &[Case] = &[
    case([4, 3, 9, 7, 5, 3], 1, 1, true),
    case([3, 1, 28, 28, 8, 3], 1, 1, false),
    case([2, 4, 10, 11, 3, 5], 2, 2, true),
    case([5, 2, 8, 8, 6, 1], 1, 0, false),
    case([1, 3, 6, 5, 2, 4], 3, 1, true),
    case([17, 2, 5, 5, 3, 3], 2, 0, false),
    case([2, 2, 3, 3, 2, 5], 1, 3, true),
];

/// One forward + backward of `Σ Y ⊙ R` for a fixed random `R`, through `kernel`.
fn pass(case: Case, kernel: Kernel, dev: &Device) -> [Vec<f32>; 4] {
    let (x, weight, b) = case.operands(dev);
    let (x, weight) = (x.require_grad(), weight.require_grad());
    let b = b.map(Tensor::require_grad);
    let y = case.conv(&x, &weight, &b, kernel);
    let r = random(y.dims(), 4, dev);
    let grads = (y.clone() * r).sum().backward();
    let grad = |t: &Tensor<4>| values(t.grad(&grads).expect("gradient"));
    let gb = b.map_or_else(Vec::new, |b| values(b.grad(&grads).expect("bias gradient")));
    [values(y), grad(&x), grad(&weight), gb]
}

#[test]
fn im2col_convolution_equals_burn_in_values_and_gradients() {
    for dev in [Device::flex().autodiff(), Device::ndarray().autodiff()] {
        assert!(supported(&dev), "{dev:?}");
        for &case in CASES {
            let fast = pass(case, Kernel::Auto, &dev);
            let reference = pass(case, Kernel::Reference, &dev);
            // ∂W and ∂b sum N·OH·OW products (up to 2,352 here) in another order than
            // burn's; the output and ∂x sum at most C·KH·KW or O·KH·KW.
            for ((name, tol), (a, b)) in
                [("output", 1e-5), ("∂x", 1e-5), ("∂W", 1e-4), ("∂b", 1e-4)]
                    .iter()
                    .zip(fast.iter().zip(&reference))
            {
                assert_close(a, b, *tol, &format!("{dev:?} {case:?} {name}"));
            }
        }
    }
}

#[test]
fn im2col_convolution_without_autodiff_equals_burn() {
    for dev in [Device::flex(), Device::ndarray()] {
        for &case in CASES {
            let Case {
                c,
                h,
                w,
                k,
                stride,
                padding,
                ..
            } = case;
            let (x, weight, b) = case.operands(&dev);
            let run = |kernel| values(case.conv(&x, &weight, &b, kernel));
            assert_close(
                &run(Kernel::Auto),
                &run(Kernel::Reference),
                1e-5,
                &format!("{dev:?} {c}x{h}x{w} k{k} s{stride} p{padding}"),
            );
        }
    }
}

/// The input gradient is skipped when the input is a constant (the first layer's image), and
/// the weight gradient is still right.
#[test]
fn only_the_tracked_operands_get_gradients() {
    let dev = Device::flex().autodiff();
    let x = random([3, 2, 6, 6], 1, &dev);
    let weight = random([4, 2, 3, 3], 2, &dev).require_grad();
    let grads_of = |kernel| {
        let y = conv2d(x.clone(), weight.clone(), None, 1, 1, kernel);
        let grads = y.sum().backward();
        assert!(x.grad(&grads).is_none());
        values(weight.grad(&grads).expect("weight gradient"))
    };
    assert_close(
        &grads_of(Kernel::Auto),
        &grads_of(Kernel::Reference),
        1e-5,
        "∂W",
    );
}
