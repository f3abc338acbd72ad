//! 2-D max pooling on the CPU backends, with a backward pass that scatters into the saved
//! arg-max positions.
//!
//! For `x` `[N, C, H, W]`, window `k` and stride `s` (no padding, no dilation), each
//! `(n, c)` plane is pooled on its own, in parallel over planes:
//!
//! ```text
//! Y[n, c, i, j] = max_{0 ≤ a, b < k} X[n, c, i·s + a, j·s + b]
//! ∂L/∂X[n, c, y, x] = Σ_{(i, j) : argmax(i, j) = (y, x)} G[n, c, i, j]
//! ```
//!
//! The arg-max (the first maximum in row-major window order, as PyTorch) is kept as one `u32`
//! per output for the backward pass. burn-flex's own pooling spent about as long as the
//! convolution after it on the `*-conv` presets' first layer; equality with burn's
//! `max_pool2d` (values and gradients) is tested in `tests/pool.rs`. Other devices and
//! [`Kernel::Reference`] use burn's module.

#![allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.

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
use burn::nn::pool::MaxPool2d;
use burn::prelude::*;
use rayon::prelude::*;

/// The backend operation behind [`forward`]: implemented for burn-flex, burn-ndarray and
/// autodiff over them.
#[allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.
#[backend_extension(Flex, NdArray, Autodiff)]
pub trait MaxPoolBackend: Backend {
    /// Max pooling of `x` `[N, C, H, W]` over `kernel × kernel` windows every `stride`
    /// positions, without padding: `[N, C, (H − kernel)/stride + 1, (W − kernel)/stride + 1]`.
    fn max_pool2d_cpu(x: FloatTensor<Self>, kernel: usize, stride: usize) -> FloatTensor<Self>;
}

/// Plane geometry of one pooling.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    planes: usize,
    height: usize,
    width: usize,
    kernel: usize,
    stride: usize,
}

impl Geometry {
    fn of(dims: &[usize], kernel: usize, stride: usize) -> Self {
        assert!(
            kernel > 0 && stride > 0 && dims[2] >= kernel && dims[3] >= kernel,
            "max pooling window {kernel} (stride {stride}) does not fit {dims:?}"
        );
        Self {
            planes: dims[0] * dims[1],
            height: dims[2],
            width: dims[3],
            kernel,
            stride,
        }
    }

    fn out_height(&self) -> usize {
        (self.height - self.kernel) / self.stride + 1
    }

    fn out_width(&self) -> usize {
        (self.width - self.kernel) / self.stride + 1
    }

    fn out_dims(&self, dims: &[usize]) -> [usize; 4] {
        [dims[0], dims[1], self.out_height(), self.out_width()]
    }

    /// Output values and, when `keep`, the arg-max of each output (its index in the plane).
    fn forward(&self, x: &[f32], keep: bool) -> (Vec<f32>, Vec<u32>) {
        let (plane_in, plane_out) = (
            self.height * self.width,
            self.out_height() * self.out_width(),
        );
        let mut out = vec![0.0f32; self.planes * plane_out];
        let mut arg = vec![0u32; if keep { out.len() } else { 0 }];
        let (ow, k, s, w) = (self.out_width(), self.kernel, self.stride, self.width);
        // One output row at a time, window offset by window offset, so that the innermost loop
        // runs along the row without a loop-carried dependency (comparisons become selects:
        // on noisy data they are coin tosses a branch predictor cannot learn).
        let pool_plane = |x: &[f32], out: &mut [f32], arg: &mut [u32]| {
            for (i, (value, best)) in out
                .chunks_exact_mut(ow)
                .zip(arg.chunks_exact_mut(ow))
                .enumerate()
            {
                let top = i * s * w;
                for (j, (v, b)) in value.iter_mut().zip(best.iter_mut()).enumerate() {
                    *v = x[top + j * s];
                    *b = (top + j * s) as u32;
                }
                for a in 0..k {
                    for c in 0..k {
                        let offset = top + a * w + c;
                        if a == 0 && c == 0 {
                            continue;
                        }
                        let row = &x[offset..];
                        for (j, (v, b)) in value.iter_mut().zip(best.iter_mut()).enumerate() {
                            let candidate = row[j * s];
                            // The first maximum wins; a NaN wins over numbers and stays.
                            let wins = (candidate > *v) | (candidate.is_nan() & !v.is_nan());
                            *b = if wins { (offset + j * s) as u32 } else { *b };
                            *v = if wins { candidate } else { *v };
                        }
                    }
                }
            }
        };
        // Tasks of whole planes, about 16k inputs each. Without `keep`, each task writes the
        // arg-max of one plane at a time into scratch space.
        let planes = (16_384 / plane_in.max(1)).max(1);
        let tasks = x
            .par_chunks(planes * plane_in)
            .zip(out.par_chunks_mut(planes * plane_out));
        let pool_task =
            |x: &[f32], out: &mut [f32], arg: Option<&mut [u32]>, scratch: &mut [u32]| {
                let mut arg = arg.map(|a| a.chunks_exact_mut(plane_out));
                for (x, out) in x
                    .chunks_exact(plane_in)
                    .zip(out.chunks_exact_mut(plane_out))
                {
                    match arg.as_mut().and_then(Iterator::next) {
                        Some(arg) => pool_plane(x, out, arg),
                        None => pool_plane(x, out, scratch),
                    }
                }
            };
        if keep {
            tasks
                .zip(arg.par_chunks_mut(planes * plane_out))
                .for_each(|((x, out), arg)| pool_task(x, out, Some(arg), &mut []));
        } else {
            tasks.for_each_init(
                || vec![0u32; plane_out],
                |scratch, (x, out)| pool_task(x, out, None, scratch),
            );
        }
        (out, arg)
    }

    /// Scatters the output gradient into the arg-max positions.
    fn backward(&self, arg: &[u32], grad: &[f32]) -> Vec<f32> {
        let (plane_in, plane_out) = (
            self.height * self.width,
            self.out_height() * self.out_width(),
        );
        let mut dx = vec![0.0f32; self.planes * plane_in];
        dx.par_chunks_mut(plane_in)
            .zip(arg.par_chunks(plane_out).zip(grad.par_chunks(plane_out)))
            .for_each(|(dx, (arg, grad))| {
                for (&a, &g) in arg.iter().zip(grad) {
                    dx[a as usize] += g;
                }
            });
        dx
    }
}

macro_rules! impl_pool_backend {
    ($backend:ty) => {
        impl MaxPoolBackend for $backend {
            fn max_pool2d_cpu(
                x: FloatTensor<Self>,
                kernel: usize,
                stride: usize,
            ) -> FloatTensor<Self> {
                let device = x.device();
                let x = Host::new::<Self>(x);
                let dims = x.dims();
                let geometry = Geometry::of(&dims, kernel, stride);
                let (out, _) = geometry.forward(x.values(), false);
                from_host::<Self>(out, &geometry.out_dims(&dims), &device)
            }
        }
    };
}

impl_pool_backend!(burn::backend::Flex);
impl_pool_backend!(burn::backend::NdArray);

/// What the backward pass keeps: the arg-max positions and the input shape.
#[derive(Clone, Debug)]
struct Saved<B: Backend> {
    arg: Vec<u32>,
    dims: Vec<usize>,
    geometry: Geometry,
    device: B::Device,
}

#[derive(Debug)]
struct MaxPoolBackward;

impl<B: Backend> Backward<B, 1> for MaxPoolBackward {
    type State = Saved<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node] = ops.parents;
        let grad = Host::new::<B>(grads.consume::<B>(&ops.node));
        if let Some(node) = node {
            let Saved {
                arg,
                dims,
                geometry,
                device,
            } = ops.state;
            let dx = geometry.backward(&arg, grad.values());
            grads.register::<B>(node.id, from_host::<B>(dx, &dims, &device));
        }
    }
}

impl<B: Backend, C: CheckpointStrategy> MaxPoolBackend for Autodiff<B, C> {
    fn max_pool2d_cpu(x: FloatTensor<Self>, kernel: usize, stride: usize) -> FloatTensor<Self> {
        let (x, node) = x.into_parts();
        let device = x.device();
        let x = Host::new::<B>(x);
        let dims = x.dims();
        let geometry = Geometry::of(&dims, kernel, stride);
        let out_dims = geometry.out_dims(&dims);
        match MaxPoolBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (out, arg) = geometry.forward(x.values(), true);
                let out = from_host::<B>(out, &out_dims, &device);
                let saved = Saved {
                    arg,
                    dims,
                    geometry,
                    device,
                };
                prep.finish(saved, out)
            }
            OpsKind::UnTracked(prep) => {
                let (out, _) = geometry.forward(x.values(), false);
                prep.finish(from_host::<B>(out, &out_dims, &device))
            }
        }
    }
}

/// Applies `pool` to `x` `[N, C, H, W]`: on a CPU device with [`Kernel::Auto`], and when the
/// pool has square windows and strides, no padding and no dilation (what
/// [`LayerConfig::MaxPool2d`](crate::LayerConfig::MaxPool2d) builds), through the operation
/// of this module; otherwise burn's [`MaxPool2d::forward`].
pub fn forward(pool: &MaxPool2d, x: Tensor<4>, kernel: Kernel) -> Tensor<4> {
    let [k0, k1] = pool.kernel_size;
    let [s0, s1] = pool.stride;
    let plain = k0 == k1
        && s0 == s1
        && pool.dilation == [1, 1]
        && !pool.ceil_mode
        && matches!(pool.padding, PaddingConfig2d::Valid);
    if !plain || kernel == Kernel::Reference || !crate::conv::supported(&x.device()) {
        return pool.forward(x);
    }
    Tensor::from_dispatch(<Dispatch as MaxPoolBackend>::max_pool2d_cpu(
        x.into_dispatch(),
        k0,
        s0,
    ))
}
