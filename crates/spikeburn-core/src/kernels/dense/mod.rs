//! Dense (fully connected) layers on the CPU backends through OpenBLAS, with a hand-written
//! backward.
//!
//! The time-folded dense layers of a spiking network (`[T·B, N_in] → [T·B, N_out]`, see
//! [`crate::layers`]) are where a CPU training step spends most of its time once the neuron
//! scans are fused. burn-flex computes them with the `gemm` crate and burn-ndarray with
//! `matrixmultiply`; OpenBLAS's kernels were measured 1.2–1.3× faster than the first on this
//! project's 2-core AVX2 machine (`spikeburn bench --workload lif-layer`). One operation (a
//! burn backend extension, [`DenseBackend`]) computes, for `X` `[M, K]` and `W` `[K, N]`
//! (burn's [`Linear`] layout):
//!
//! ```text
//! Y     = X · W
//! ∂L/∂X = G · Wᵀ          G = ∂L/∂Y
//! ∂L/∂W = Xᵀ · G
//! ```
//!
//! each as one `cblas_sgemm` per row block of the output, in parallel on rayon's pool
//! ([`blas`]); transposes are CBLAS flags, never copies. The bias is added by burn
//! (`Y + b`, `∂L/∂b = Σ_rows G`).
//!
//! The operation exists when the crate is built with the `openblas` feature (the default)
//! and pkg-config finds OpenBLAS; otherwise, on non-CPU devices and with
//! [`Kernel::Reference`], dense layers are burn's `matmul`. Equality with burn's `Linear`,
//! values and gradients, is tested in `tests/dense.rs`.

#![allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.

#[cfg(spikeburn_openblas)]
pub(crate) mod blas;

use crate::lif::Kernel;
use burn::nn::Linear;
use burn::prelude::*;

#[cfg(spikeburn_openblas)]
pub use extension::DenseBackend;

/// Whether dense layers on `device` run through OpenBLAS ([`linear`] with [`Kernel::Auto`]):
/// burn-flex and burn-ndarray, with or without autodiff, in a build that found OpenBLAS, when
/// OpenBLAS has kernels for this CPU (see [`dense_product`]).
pub fn supported(device: &Device) -> bool {
    #[cfg(spikeburn_openblas)]
    {
        use burn::backend::DispatchDevice;
        matches!(
            device.clone().inner().as_dispatch(),
            DispatchDevice::Flex(_) | DispatchDevice::NdArray(_)
        ) && blas::choice().is_ok()
    }
    #[cfg(not(spikeburn_openblas))]
    {
        let _ = device;
        false
    }
}

/// The BLAS behind dense layers on the CPU backends, as it describes itself, or `None` where
/// they use burn's matrix product (see [`dense_product`] for why).
pub fn blas_library() -> Option<String> {
    #[cfg(spikeburn_openblas)]
    {
        blas::choice().is_ok().then(blas::describe)
    }
    #[cfg(not(spikeburn_openblas))]
    {
        None
    }
}

/// One line saying which product the dense layers on the CPU backends use, and why.
///
/// The choice is made once per process, at run time, never by a build-time guess: OpenBLAS
/// where the build linked it, unless it picked kernels from before AVX2 on a CPU that has
/// AVX2 and FMA (an OpenBLAS too old to know the CPU: Debian's 0.3.21 runs its generic
/// `Prescott` kernels on AVX-512 Xeons, 2.7–3× slower than burn's product there); the
/// environment variable `SPIKEBURN_GEMM=openblas|burn` overrides it.
pub fn dense_product() -> String {
    #[cfg(spikeburn_openblas)]
    {
        match blas::choice() {
            Ok(()) => blas::describe(),
            Err(why) => format!("burn's matmul ({}: {why})", blas::describe()),
        }
    }
    #[cfg(not(spikeburn_openblas))]
    {
        "burn's matmul (this build has no OpenBLAS)".to_string()
    }
}

/// A dense layer `Y = X·W + b` for `x` `[M, K]`, `weight` `[K, N]` and an optional `bias`
/// `[N]` (burn's [`Linear`] with its default row layout): `[M, N]`.
///
/// With [`Kernel::Auto`] on a device where [`supported`] holds this is the OpenBLAS operation
/// of this module; elsewhere, or with [`Kernel::Reference`], burn's `matmul`.
///
/// # Panics
/// If the inner dimensions of `x` and `weight` differ.
pub fn linear(
    x: Tensor<2>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
    kernel: Kernel,
) -> Tensor<2> {
    let ([m, k], [k_w, n]) = (x.dims(), weight.dims());
    assert_eq!(k, k_w, "linear: input features {k} vs weight rows {k_w}");
    let y = if kernel == Kernel::Auto && supported(&x.device()) && fits(&[m, n, k]) {
        product(x, weight)
    } else {
        x.matmul(weight)
    };
    match bias {
        Some(bias) => y + bias.unsqueeze_dim(0),
        None => y,
    }
}

/// Applies burn's [`Linear`] module to `x` `[M, K]` through [`linear`]. Its weight is `[K, N]`
/// in either of burn's layouts (the column layout is a transposed view, which the operation
/// reads through a contiguous copy); an input of the wrong width goes to `Linear::forward`,
/// which panics with burn's shape message.
pub fn forward(layer: &Linear, x: Tensor<2>, kernel: Kernel) -> Tensor<2> {
    let weight = layer.weight.val();
    if weight.dims()[0] != x.dims()[1] {
        return layer.forward(x);
    }
    linear(x, weight, layer.bias.as_ref().map(|b| b.val()), kernel)
}

#[cfg(spikeburn_openblas)]
fn fits(dims: &[usize]) -> bool {
    blas::fits(dims)
}

#[cfg(not(spikeburn_openblas))]
fn fits(_: &[usize]) -> bool {
    false
}

#[cfg(spikeburn_openblas)]
fn product(x: Tensor<2>, weight: Tensor<2>) -> Tensor<2> {
    use burn::backend::Dispatch;
    Tensor::from_dispatch(<Dispatch as DenseBackend>::dense(
        x.into_dispatch(),
        weight.into_dispatch(),
    ))
}

#[cfg(not(spikeburn_openblas))]
fn product(x: Tensor<2>, weight: Tensor<2>) -> Tensor<2> {
    x.matmul(weight)
}

#[cfg(spikeburn_openblas)]
mod extension {
    use super::blas::{Operand, gemm};
    use crate::fused::cpu::{Host, from_host};
    use burn::backend::autodiff::Autodiff;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::ndarray::NdArrayTensor;
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Backend, Flex, NdArray, TensorMetadata, backend_extension};
    use std::borrow::Cow;

    /// The backend operation behind [`linear`](super::linear): `X·W` for `x` `[M, K]` and
    /// `weight` `[K, N]`, implemented for burn-flex, burn-ndarray and autodiff over them.
    #[allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.
    #[backend_extension(Flex, NdArray, Autodiff)]
    pub trait DenseBackend: Backend {
        /// `Y = X·W`: `[M, N]`.
        fn dense(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self>;
    }

    /// A CPU backend whose float tensors can be read in place: OpenBLAS reads the backend's
    /// own buffer, without the copy of `into_data` (for the weight of a `Linear(8192, 8192)`,
    /// 256 MB per pass).
    pub trait HostBuffer: Backend {
        /// The values of `t`, row-major `f32`: borrowed where the tensor's buffer already is
        /// that, else a copy.
        fn values(t: &FloatTensor<Self>) -> Cow<'_, [f32]>;
    }

    impl HostBuffer for Flex {
        fn values(t: &FloatTensor<Self>) -> Cow<'_, [f32]> {
            match t.as_slice::<f32>() {
                Some(values) => Cow::Borrowed(values),
                None => Cow::Owned(Host::new::<Self>(t.clone()).into_values()),
            }
        }
    }

    impl HostBuffer for NdArray {
        fn values(t: &FloatTensor<Self>) -> Cow<'_, [f32]> {
            if let NdArrayTensor::F32(storage) = t
                && let Some(values) = storage.view().to_slice()
            {
                return Cow::Borrowed(values);
            }
            Cow::Owned(Host::new::<Self>(t.clone()).into_values())
        }
    }

    /// A stored matrix of `B`, or its transpose, as a GEMM operand.
    fn operand<'a>(values: &'a [f32], dims: &[usize], transposed: bool) -> Operand<'a> {
        Operand {
            data: values,
            rows: dims[0],
            cols: dims[1],
            transposed,
        }
    }

    /// `op(A)·op(B)` for tensors of `B`, as a new `[rows, cols]` tensor of `B` on `device`.
    fn product<B: HostBuffer>(
        a: &FloatTensor<B>,
        a_transposed: bool,
        b: &FloatTensor<B>,
        b_transposed: bool,
        device: &B::Device,
    ) -> FloatTensor<B> {
        let (a_dims, b_dims) = (a.shape().to_vec(), b.shape().to_vec());
        let (a_values, b_values) = (B::values(a), B::values(b));
        let a = operand(&a_values, &a_dims, a_transposed);
        let b = operand(&b_values, &b_dims, b_transposed);
        let m = if a_transposed { a_dims[1] } else { a_dims[0] };
        let n = if b_transposed { b_dims[0] } else { b_dims[1] };
        from_host::<B>(gemm(a, b), &[m, n], device)
    }

    macro_rules! impl_dense_backend {
        ($backend:ty) => {
            impl DenseBackend for $backend {
                fn dense(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
                    let device = x.device();
                    product::<Self>(&x, false, &weight, false, &device)
                }
            }
        };
    }

    impl_dense_backend!(Flex);
    impl_dense_backend!(NdArray);

    /// What the backward pass keeps: the operands (shared buffers, not copies).
    #[derive(Clone, Debug)]
    struct Saved<B: Backend> {
        x: FloatTensor<B>,
        weight: FloatTensor<B>,
        device: B::Device,
    }

    #[derive(Debug)]
    struct DenseBackward;

    impl<B: HostBuffer> Backward<B, 2> for DenseBackward {
        type State = Saved<B>;

        fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
            let [node_x, node_weight] = ops.parents;
            let grad = grads.consume::<B>(&ops.node);
            let Saved { x, weight, device } = ops.state;
            if let Some(node) = node_x {
                // ∂L/∂X = G·Wᵀ: [M, K].
                let dx = product::<B>(&grad, false, &weight, true, &device);
                grads.register::<B>(node.id, dx);
            }
            if let Some(node) = node_weight {
                // ∂L/∂W = Xᵀ·G: [K, N].
                let dw = product::<B>(&x, true, &grad, false, &device);
                grads.register::<B>(node.id, dw);
            }
        }
    }

    impl<B: HostBuffer, C: CheckpointStrategy> DenseBackend for Autodiff<B, C> {
        fn dense(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
            let (x, x_node) = x.into_parts();
            let (weight, weight_node) = weight.into_parts();
            let device = x.device();
            let out = product::<B>(&x, false, &weight, false, &device);
            match DenseBackward
                .prepare::<C>([x_node, weight_node])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish(Saved { x, weight, device }, out),
                OpsKind::UnTracked(prep) => prep.finish(out),
            }
        }
    }
}
