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
//! (`kernels/dense/blas.rs`); transposes are CBLAS flags, never copies. The bias is added by burn
//! (`Y + b`, `∂L/∂b = Σ_rows G`).
//!
//! When `X` is sparse (spikes, spike counts, event frames: at most [`SPARSE_BELOW`] of its
//! values non-zero, counted at each call), `Y` and `∂L/∂W` are computed from its non-zeros
//! instead (`kernels/dense/sparse.rs`: cost ∝ non-zeros × N), and only the non-zeros are kept for the
//! backward pass; [`set_sparse_input`] forces either path (benchmarks, tests).
//!
//! The operation exists when the crate is built with the `openblas` feature (the default)
//! and pkg-config finds OpenBLAS; otherwise, on non-CPU devices and with
//! [`Kernel::Reference`], dense layers are burn's `matmul`. Equality with burn's `Linear`,
//! values and gradients, is tested in `tests/dense.rs`.

#![allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.

#[cfg(spikeburn_openblas)]
pub(crate) mod blas;
#[cfg(spikeburn_openblas)]
pub(crate) mod sparse;

use crate::lif::Kernel;
use burn::nn::Linear;
use burn::prelude::*;

#[cfg(spikeburn_openblas)]
pub use extension::DenseBackend;

/// How the CPU dense operation treats its input `X` (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SparseInput {
    /// The sparse products when at most [`SPARSE_BELOW`] of `X` is non-zero (the default).
    Auto,
    /// Always the dense products.
    Never,
    /// Always the sparse products.
    Always,
}

/// Under [`SparseInput::Auto`], inputs with at most this fraction of non-zero values take the
/// sparse products. Measured with `spikeburn bench --workload sparse` (AMD EPYC, 2 cores):
/// see the README's performance section.
pub const SPARSE_BELOW: f64 = 0.1;

/// `u8::MAX` until set: then [`sparse_input`] reads `SPIKEBURN_SPARSE_INPUT`.
static SPARSE_MODE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(u8::MAX);

/// Chooses how dense layers on the CPU treat sparse inputs, for the whole process.
pub fn set_sparse_input(mode: SparseInput) {
    let code = match mode {
        SparseInput::Auto => 0,
        SparseInput::Never => 1,
        SparseInput::Always => 2,
    };
    SPARSE_MODE.store(code, std::sync::atomic::Ordering::Relaxed);
}

/// The current [`SparseInput`] setting: the last [`set_sparse_input`], else the environment
/// variable `SPIKEBURN_SPARSE_INPUT` (`auto`, `never`, `always`; read once), else `Auto`.
pub fn sparse_input() -> SparseInput {
    match SPARSE_MODE.load(std::sync::atomic::Ordering::Relaxed) {
        0 => SparseInput::Auto,
        1 => SparseInput::Never,
        2 => SparseInput::Always,
        _ => {
            static FROM_ENV: std::sync::OnceLock<SparseInput> = std::sync::OnceLock::new();
            *FROM_ENV.get_or_init(
                || match std::env::var("SPIKEBURN_SPARSE_INPUT").as_deref() {
                    Ok("never") => SparseInput::Never,
                    Ok("always") => SparseInput::Always,
                    _ => SparseInput::Auto,
                },
            )
        }
    }
}

/// Whether dense layers on `device` run through this module's operation ([`linear`] with
/// [`Kernel::Auto`]): burn-flex and burn-ndarray, with or without autodiff, in a build that
/// found OpenBLAS. Its dense products are OpenBLAS's where OpenBLAS has kernels for this CPU,
/// else the `gemm` crate's (see [`dense_product`]); sparse inputs take the sparse products
/// either way.
pub fn supported(device: &Device) -> bool {
    #[cfg(spikeburn_openblas)]
    {
        crate::kernels::on_cpu(device)
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
            Err(why) => format!(
                "the gemm crate, burn's product ({}: {why})",
                blas::describe()
            ),
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

/// The row-major `values` (`cols` per row) as compressed rows where the dense layers take
/// them as sparse ([`SparseInput`]: under `Auto`, at most [`SPARSE_BELOW`] of them non-zero).
#[cfg(spikeburn_openblas)]
pub(crate) fn sparse_rows(values: &[f32], cols: usize) -> Option<sparse::Csr> {
    let sparse = match sparse_input() {
        SparseInput::Never => false,
        SparseInput::Always => true,
        SparseInput::Auto => sparse::nonzeros(values) as f64 <= SPARSE_BELOW * values.len() as f64,
    };
    sparse.then(|| sparse::Csr::from_dense(values, values.len() / cols.max(1), cols))
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
    use super::sparse::Csr;
    use crate::kernels::host::{HostBuffer, from_host};
    use burn::backend::autodiff::Autodiff;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{Backend, Flex, NdArray, TensorMetadata, backend_extension};

    /// The backend operation behind [`linear`](super::linear): `X·W` for `x` `[M, K]` and
    /// `weight` `[K, N]`, implemented for burn-flex, burn-ndarray and autodiff over them.
    #[allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.
    #[backend_extension(Flex, NdArray, Autodiff)]
    pub trait DenseBackend: Backend {
        /// `Y = X·W`: `[M, N]`.
        fn dense(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self>;
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

    /// `X` as compressed rows when the sparse products apply ([`super::sparse_rows`]).
    fn sparse_of<B: HostBuffer>(x: &FloatTensor<B>) -> Option<Csr> {
        super::sparse_rows(&B::values(x), x.shape().to_vec()[1])
    }

    /// `Y = X·W`, from the non-zeros of `X` when `csr` holds them.
    fn forward<B: HostBuffer>(
        x: &FloatTensor<B>,
        csr: Option<&Csr>,
        weight: &FloatTensor<B>,
        device: &B::Device,
    ) -> FloatTensor<B> {
        match csr {
            Some(csr) => {
                let n = weight.shape().to_vec()[1];
                let rows = x.shape().to_vec()[0];
                from_host::<B>(csr.matmul(&B::values(weight), n), &[rows, n], device)
            }
            None => product::<B>(x, false, weight, false, device),
        }
    }

    macro_rules! impl_dense_backend {
        ($backend:ty) => {
            impl DenseBackend for $backend {
                fn dense(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
                    let device = x.device();
                    let csr = sparse_of::<Self>(&x);
                    forward::<Self>(&x, csr.as_ref(), &weight, &device)
                }
            }
        };
    }

    impl_dense_backend!(Flex);
    impl_dense_backend!(NdArray);

    /// What the backward pass keeps: the operands (shared buffers, not copies), `X` as its
    /// non-zeros when it was sparse.
    #[derive(Clone, Debug)]
    struct Saved<B: Backend> {
        x: Result<FloatTensor<B>, std::sync::Arc<Csr>>,
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
                let dw = match &x {
                    Ok(x) => product::<B>(x, true, &grad, false, &device),
                    Err(csr) => {
                        let n = grad.shape().to_vec()[1];
                        let dw = csr.transpose_matmul(&B::values(&grad), n);
                        from_host::<B>(dw, &weight.shape().to_vec(), &device)
                    }
                };
                grads.register::<B>(node.id, dw);
            }
        }
    }

    impl<B: HostBuffer, C: CheckpointStrategy> DenseBackend for Autodiff<B, C> {
        fn dense(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
            let (x, x_node) = x.into_parts();
            let (weight, weight_node) = weight.into_parts();
            let device = x.device();
            let csr = sparse_of::<B>(&x);
            let out = forward::<B>(&x, csr.as_ref(), &weight, &device);
            match DenseBackward
                .prepare::<C>([x_node, weight_node])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => {
                    let x = match csr {
                        Some(csr) => Err(std::sync::Arc::new(csr)),
                        None => Ok(x),
                    };
                    prep.finish(Saved { x, weight, device }, out)
                }
                OpsKind::UnTracked(prep) => prep.finish(out),
            }
        }
    }
}
