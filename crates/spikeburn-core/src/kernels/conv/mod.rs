//! 2-D convolution on the CPU backends as im2col + GEMM with a hand-written backward.
//!
//! burn 0.22's CPU backends compute the weight gradient of a convolution as another
//! convolution whose kernel is the whole output-gradient map (`[N, H, W]` per channel pair),
//! and burn-flex runs that through its NHWC conversion and a GEMM with 9 rows: for the
//! 32-channel layer of the `*-conv` presets that was most of a training step. Here one
//! operation (a burn backend extension, [`Conv2dBackend`]) does, per sample `n`, with
//! `cols(X[n])` the `[C·KH·KW, OH·OW]` matrix of input patches (im2col):
//!
//! ```text
//! Y[n]      = W · cols(X[n])                      W as [O, C·KH·KW]
//! ∂L/∂X[n]  = col2im(Wᵀ · G[n])                   G[n] = ∂L/∂Y[n] as [O, OH·OW]
//! ∂L/∂W     = Σ_n G[n] · cols(X[n])ᵀ
//! ```
//!
//! where `col2im` adds each patch entry back to the input position it was read from (the
//! adjoint of im2col). The GEMMs run single-threaded inside rayon tasks over samples
//! (`kernels/conv/cpu.rs`); the patches are rebuilt in the backward pass rather than kept, so the pass saves
//! only `X` and `W`.
//!
//! The operation covers square strides, symmetric zero padding, no dilation and no groups
//! (what [`LayerConfig::Conv2d`](crate::LayerConfig::Conv2d) builds); anything else, and every
//! non-CPU device, takes burn's `conv2d`. Equality with burn's convolution, values and
//! gradients, is tested in `tests/conv.rs`.

#![allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.

pub(crate) mod cpu;

use crate::kernels::host::{Host, from_host};
use crate::lif::Kernel;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, TensorMetadata, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use cpu::Geometry;

/// The backend operation behind [`conv2d`]: implemented for burn-flex, burn-ndarray and
/// autodiff over them.
#[allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.
#[backend_extension(Flex, NdArray, Autodiff)]
pub trait Conv2dBackend: Backend {
    /// `Y = X ⋆ W` for `x` `[N, C, H, W]` and `weight` `[O, C, KH, KW]` with a square
    /// `stride` and `padding` zeros on every side, without bias: `[N, O, OH, OW]`.
    fn conv2d_im2col(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self>;
}

/// The geometry of a convolution of `x` by `weight`, both on the host.
fn geometry(x: &Host, weight: &Host, stride: usize, padding: usize) -> Geometry {
    let (xd, wd) = (x.dims(), weight.dims());
    Geometry {
        samples: xd[0],
        channels: xd[1],
        height: xd[2],
        width: xd[3],
        outputs: wd[0],
        kernel_h: wd[2],
        kernel_w: wd[3],
        stride,
        padding,
    }
}

/// The forward pass on the host: the output as a tensor of `B` on `device`.
fn forward_on_host<B: Backend>(
    x: &Host,
    weight: &Host,
    geometry: &Geometry,
    device: &B::Device,
) -> FloatTensor<B> {
    let out = geometry.forward(x.values(), weight.values());
    let dims = [
        geometry.samples,
        geometry.outputs,
        geometry.out_height(),
        geometry.out_width(),
    ];
    from_host::<B>(out, &dims, device)
}

macro_rules! impl_conv_backend {
    ($backend:ty) => {
        impl Conv2dBackend for $backend {
            fn conv2d_im2col(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                stride: usize,
                padding: usize,
            ) -> FloatTensor<Self> {
                let device = x.device();
                let (x, weight) = (Host::new::<Self>(x), Host::new::<Self>(weight));
                let geometry = geometry(&x, &weight, stride, padding);
                forward_on_host::<Self>(&x, &weight, &geometry, &device)
            }
        }
    };
}

impl_conv_backend!(burn::backend::Flex);
impl_conv_backend!(burn::backend::NdArray);

/// What the backward pass keeps: the input and the weight on the host.
#[derive(Clone, Debug)]
struct Saved<B: Backend> {
    x: Host,
    weight: Host,
    geometry: Geometry,
    device: B::Device,
}

#[derive(Debug)]
struct ConvBackward;

impl<B: Backend> Backward<B, 2> for ConvBackward {
    type State = Saved<B>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_weight] = ops.parents;
        let grad = Host::new::<B>(grads.consume::<B>(&ops.node));
        let Saved {
            x,
            weight,
            geometry,
            device,
        } = ops.state;
        if let Some(node) = node_x {
            let dx = geometry.backward_input(weight.values(), grad.values());
            grads.register::<B>(node.id, from_host::<B>(dx, &x.dims(), &device));
        }
        if let Some(node) = node_weight {
            let dw = geometry.backward_weight(x.values(), grad.values());
            grads.register::<B>(node.id, from_host::<B>(dw, &weight.dims(), &device));
        }
    }
}

impl<B: Backend, C: CheckpointStrategy> Conv2dBackend for Autodiff<B, C> {
    fn conv2d_im2col(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let (x, x_node) = x.into_parts();
        let (weight, weight_node) = weight.into_parts();
        let device = x.device();
        let (x, weight) = (Host::new::<B>(x), Host::new::<B>(weight));
        let geometry = geometry(&x, &weight, stride, padding);
        match ConvBackward
            .prepare::<C>([x_node, weight_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = forward_on_host::<B>(&x, &weight, &geometry, &device);
                let saved = Saved {
                    x,
                    weight,
                    geometry,
                    device,
                };
                prep.finish(saved, out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(forward_on_host::<B>(&x, &weight, &geometry, &device))
            }
        }
    }
}

/// Whether `device` runs [`Conv2dBackend`] (burn-flex and burn-ndarray, with or without
/// autodiff).
pub fn supported(device: &Device) -> bool {
    crate::kernels::on_cpu(device)
}

/// 2-D convolution (PyTorch `Conv2d` semantics, no dilation, one group) of `x` `[N, C, H, W]`
/// by `weight` `[O, C, KH, KW]` plus an optional `bias` `[O]`, with a square `stride` and
/// `padding` zeros on every side: `[N, O, OH, OW]`, `OH = (H + 2·padding − KH)/stride + 1`.
///
/// With [`Kernel::Auto`] on a CPU device this is the im2col operation of this module;
/// elsewhere, or with [`Kernel::Reference`], burn's `conv2d`.
///
/// # Panics
/// If the shapes disagree (channels of `x` and `weight`, or a kernel larger than the padded
/// input) or `stride` is 0; [`NetworkConfig::validate`](crate::NetworkConfig::validate)
/// rejects such layers first.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: usize,
    padding: usize,
    kernel: Kernel,
) -> Tensor<4> {
    let [_, channels, _, _] = x.dims();
    let [outputs, weight_channels, _, _] = weight.dims();
    assert_eq!(
        channels, weight_channels,
        "conv2d: input channels {channels} vs weight channels {weight_channels}"
    );
    if kernel == Kernel::Reference || !supported(&x.device()) {
        let options = ConvOptions::new([stride; 2], [padding; 2], [1, 1], 1);
        return burn_conv2d(x, weight, bias, options);
    }
    let y = Tensor::from_dispatch(<Dispatch as Conv2dBackend>::conv2d_im2col(
        x.into_dispatch(),
        weight.into_dispatch(),
        stride,
        padding,
    ));
    match bias {
        Some(bias) => y + bias.reshape([1, outputs, 1, 1]),
        None => y,
    }
}

/// Applies burn's [`Conv2d`] module through [`conv2d`] where its settings allow (symmetric
/// explicit or valid padding, equal strides, no dilation, one group), else its own `forward`.
pub fn forward(conv: &Conv2d, x: Tensor<4>, kernel: Kernel) -> Tensor<4> {
    let padding = match conv.padding {
        PaddingConfig2d::Valid => Some(0),
        PaddingConfig2d::Explicit(top, left, bottom, right)
            if top == left && top == bottom && top == right =>
        {
            Some(top)
        }
        _ => None,
    };
    match padding {
        Some(padding)
            if conv.stride[0] == conv.stride[1] && conv.dilation == [1, 1] && conv.groups == 1 =>
        {
            conv2d(
                x,
                conv.weight.val(),
                conv.bias.as_ref().map(|b| b.val()),
                conv.stride[0],
                padding,
                kernel,
            )
        }
        _ => conv.forward(x),
    }
}
