//! spikeburn's one-pass Adam against burn's Adam: the same parameters and moments bit for bit,
//! step after step, on burn-flex and burn-ndarray, for parameters larger than one parallel
//! chunk; and optimiser state written by either continues in the other.

#![allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.

use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::Distribution;

/// A layer of 300 × 200 weights (60,000: several chunks of the parallel update) and 200 biases.
fn layer(device: &Device) -> Linear {
    LinearConfig::new(300, 200).init(device)
}

fn values(linear: &Linear) -> Vec<f32> {
    let mut v = linear
        .weight
        .val()
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32");
    let bias = linear.bias.as_ref().expect("bias").val();
    v.extend(bias.into_data().try_to_vec::<f32>().expect("f32"));
    v
}

/// One step of `optim` on a loss whose gradient differs per element (and is zero for some).
fn step(optim: &mut ModuleOptimizer, linear: Linear, x: &Tensor<2>, lr: f64) -> Linear {
    let y = linear.forward(x.clone());
    let loss = burn::tensor::activation::relu(y.clone() * y.clone() * y).sum();
    let grads = GradientsParams::from_grads(loss.backward(), &linear);
    optim.step(lr, linear, grads)
}

fn burns(b1: f32, b2: f32, eps: f32) -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(b1)
        .with_beta_2(b2)
        .with_epsilon(eps)
        .init()
}

fn ours(b1: f32, b2: f32, eps: f32) -> ModuleOptimizer {
    ModuleOptimizer::from(spikeburn_train::optim::Adam::new(b1, b2, eps))
}

#[test]
fn one_pass_adam_equals_burns_adam_bit_for_bit() {
    for device in [Device::flex().autodiff(), Device::ndarray().autodiff()] {
        for (b1, b2, eps) in [(0.9, 0.999, 1e-8), (0.8, 0.99, 1e-5)] {
            let x = Tensor::<2>::random([16, 300], Distribution::Normal(0.0, 1.0), &device);
            let start = layer(&device);
            let (mut a, mut b) = (start.clone(), start);
            let (mut theirs, mut mine) = (burns(b1, b2, eps), ours(b1, b2, eps));
            for i in 0..5 {
                let lr = 1e-3 * (1.0 + i as f64);
                a = step(&mut theirs, a, &x, lr);
                b = step(&mut mine, b, &x, lr);
                let (va, vb) = (values(&a), values(&b));
                assert!(va != values(&layer(&device)), "the step moved nothing");
                let differing = va
                    .iter()
                    .zip(&vb)
                    .filter(|(p, q)| p.to_bits() != q.to_bits());
                assert_eq!(differing.count(), 0, "{device:?} β=({b1}, {b2}) step {i}");
            }
            // The moments: each optimiser's state, continued by the other, gives the same
            // parameters as both continuing on their own.
            let (bytes_theirs, bytes_mine) = (
                theirs.into_bytes().expect("record"),
                mine.into_bytes().expect("record"),
            );
            let mut crossed_mine = ours(b1, b2, eps).from_bytes(bytes_theirs).expect("load");
            let mut crossed_theirs = burns(b1, b2, eps).from_bytes(bytes_mine).expect("load");
            let a2 = step(&mut crossed_theirs, a.clone(), &x, 1e-3);
            let b2_ = step(&mut crossed_mine, b.clone(), &x, 1e-3);
            assert_eq!(values(&a2), values(&b2_), "{device:?}: crossed state");
            let fresh = step(&mut ours(b1, b2, eps), b, &x, 1e-3);
            assert_ne!(values(&fresh), values(&b2_), "the state changed nothing");
        }
    }
}

/// Parameters in another float type than `f32` take burn's Adam (the one-pass update reads
/// `f32` buffers): the same values as burn's, step after step.
#[test]
fn other_float_types_take_burns_adam() {
    use burn::optim::Optimizer;
    use burn::tensor::{DType, TensorData};
    let device = Device::flex();
    let tensor = |values: Vec<f64>| {
        Tensor::<1>::from_data(TensorData::new(values, [4]), (&device, DType::F64))
    };
    let ours = spikeburn_train::optim::Adam::new(0.9, 0.999, 1e-8);
    let theirs = AdamConfig::new().with_epsilon(1e-8).build();
    let (mut p_ours, mut p_theirs) = (tensor(vec![0.5, -1.0, 2.0, 0.0]), None);
    let (mut s_ours, mut s_theirs) = (None, None);
    for step in 0..3 {
        let grad = tensor(vec![0.1, -0.2, 0.3 * f64::from(step), 1.0]);
        assert_eq!(grad.dtype(), DType::F64);
        let start = p_theirs.take().unwrap_or_else(|| p_ours.clone());
        let (a, sa) = theirs.step(1e-2, start, grad.clone(), s_theirs.take());
        let (b, sb) = ours.step(1e-2, p_ours, grad, s_ours.take());
        assert_eq!(b.dtype(), DType::F64);
        let (va, vb) = (a.to_data(), b.to_data());
        assert_eq!(va, vb, "step {step}");
        (p_ours, p_theirs, s_ours, s_theirs) = (b, Some(a), sb, sa);
    }
}
