//! What the CPU scans share: the decomposition of `[T, B, N]` buffers into blocks of rows run
//! in parallel ([`row_blocks`], [`scan_blocks`]) and the fixed-order sums over them
//! ([`sum_blocks`], [`add_step_sums`]), the surrogate derivative as an inlined closure
//! ([`with_derivative`]), the run-time choice of AVX2 ([`wide_vectors`]), and the autodiff
//! plumbing of the scans with several float inputs: each describes its forward and backward
//! pass on host buffers ([`HostScan`]); [`untracked`] and [`tracked`] run it on a CPU backend
//! and record it on burn's autodiff graph.

use super::ScanSettings;
use crate::kernels::host::from_host;
use burn::backend::Backend;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use rayon::prelude::*;
use std::marker::PhantomData;

/// The most batch rows one parallel task of the scan handles (see `Scan::rows_per_block`).
const MAX_ROWS_PER_BLOCK: usize = 8;

/// Batch rows handled by one parallel task of a scan over `[T, B, N]`: about 4k neurons of
/// state per task, at most [`MAX_ROWS_PER_BLOCK`] rows (so a batch of 128 gives 16 tasks or
/// more). It depends on the shape only, never on the thread count, so that per-block sums added
/// in block order are bit-identical for any `RAYON_NUM_THREADS`.
pub(crate) fn rows_per_block(batch: usize, neurons: usize) -> usize {
    (4_096 / neurons.max(1)).clamp(1, MAX_ROWS_PER_BLOCK.min(batch.max(1)))
}

/// Splits a time-major `[T, B, N]` buffer into blocks of [`rows_per_block`] rows: block `i`
/// holds, for every step `t`, the slice of rows `i·rows .. (i+1)·rows`. The blocks are
/// disjoint, so they can be processed in parallel without sharing.
pub(crate) fn row_blocks<T>(buffer: &mut [T], batch: usize, neurons: usize) -> Vec<Vec<&mut [T]>> {
    let rows = rows_per_block(batch, neurons);
    let bn = (batch * neurons).max(1);
    let width = (rows * neurons).max(1);
    let num_blocks = batch.div_ceil(rows);
    let steps = buffer.len() / bn;
    let mut blocks: Vec<Vec<&mut [T]>> =
        (0..num_blocks).map(|_| Vec::with_capacity(steps)).collect();
    for slab in buffer.chunks_mut(bn) {
        for (block, part) in blocks.iter_mut().zip(slab.chunks_mut(width)) {
            block.push(part);
        }
    }
    blocks
}

/// Adds the per-block parameter sums of a scan's backward pass, `K` vectors of `n` per block,
/// in block order (not rayon's split order), so that the totals do not depend on the thread
/// count.
pub(crate) fn sum_blocks<const K: usize>(per_block: Vec<[Vec<f64>; K]>, n: usize) -> [Vec<f64>; K] {
    let mut sums: [Vec<f64>; K] = std::array::from_fn(|_| vec![0.0f64; n]);
    for block in per_block {
        for (sum, part) in sums.iter_mut().zip(block) {
            sum.iter_mut().zip(part).for_each(|(x, y)| *x += y);
        }
    }
    sums
}

/// Adds one step's per-neuron sums (`K` of them per neuron, in `f32` over a block's rows) to
/// the block's totals in `f64`.
pub(crate) fn add_step_sums<const K: usize>(sums: &mut [Vec<f64>; K], step: &[[f32; K]]) {
    for (j, s) in step.iter().enumerate() {
        for (total, &v) in sums.iter_mut().zip(s) {
            total[j] += f64::from(v);
        }
    }
}

/// Runs a scan's forward recurrence over blocks of rows ([`row_blocks`]) in parallel:
/// `block(first_row, out, traces)` fills its rows of the output `[T, B, N]` at every step and,
/// with `keep`, of `K` traces of the same shape (without `keep` the traces are empty).
pub(crate) fn scan_blocks<const K: usize>(
    [steps, batch, neurons]: [usize; 3],
    keep: bool,
    block: impl Fn(usize, Vec<&mut [f32]>, [Vec<&mut [f32]>; K]) + Sync,
) -> (Vec<f32>, [Vec<f32>; K]) {
    let size = steps * batch * neurons;
    let mut out = vec![0.0f32; size];
    let mut traces: [Vec<f32>; K] =
        std::array::from_fn(|_| vec![0.0f32; if keep { size } else { 0 }]);
    let rows = rows_per_block(batch, neurons);
    let out_blocks = row_blocks(&mut out, batch, neurons);
    let mut per_block: Vec<[Vec<&mut [f32]>; K]> = (0..out_blocks.len())
        .map(|_| std::array::from_fn(|_| Vec::new()))
        .collect();
    for (k, trace) in traces.iter_mut().enumerate() {
        for (i, b) in row_blocks(trace, batch, neurons).into_iter().enumerate() {
            per_block[i][k] = b;
        }
    }
    out_blocks
        .into_par_iter()
        .zip(per_block)
        .enumerate()
        .for_each(|(i, (o, t))| block(i * rows, o, t));
    (out, traces)
}

/// A per-neuron gradient sum as the gradient of a parameter of shape `dims`: per neuron, or
/// their total for a shared scalar.
pub(crate) fn parameter_gradient<B: Backend>(
    g: &[f64],
    dims: &[usize],
    device: &B::Device,
) -> FloatTensor<B> {
    let values = if dims.iter().product::<usize>() == g.len() {
        g.iter().map(|&v| v as f32).collect()
    } else {
        vec![g.iter().sum::<f64>() as f32]
    };
    from_host::<B>(values, dims, device)
}

/// Whether the CPU has AVX2 and FMA, for which the scans' loops are also compiled (chosen at
/// run time: the build targets baseline x86-64, whose 4-wide vectors halve the throughput of the
/// loops over neurons). Only the vector width changes, not the arithmetic (Rust never fuses a
/// multiply and an add by itself), so both builds give identical results.
#[inline]
pub(crate) fn wide_vectors() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

pub(crate) use crate::surrogate::{WithDerivative, with_derivative};

/// A fused CPU scan with `N` float inputs `[X, p1, …]` and one output.
pub(crate) trait HostScan<const N: usize>: Send + Sync + std::fmt::Debug + 'static {
    /// What the backward pass keeps (host buffers, so independent of the backend).
    type Saved: Clone + Send + std::fmt::Debug + 'static;

    /// The output and, with `keep`, what the backward pass needs.
    fn forward<B: Backend>(
        tensors: [FloatTensor<B>; N],
        settings: ScanSettings,
        keep: bool,
    ) -> (FloatTensor<B>, Option<Self::Saved>);

    /// The gradients of the `N` inputs for the output gradient `grad`; `None` for a constant
    /// input (noise, reversal potentials), which has none.
    fn backward<B: Backend>(
        saved: Self::Saved,
        grad: FloatTensor<B>,
    ) -> [Option<FloatTensor<B>>; N];
}

/// The scan `K` without autodiff.
pub(crate) fn untracked<K: HostScan<N>, B: Backend, const N: usize>(
    tensors: [FloatTensor<B>; N],
    settings: ScanSettings,
) -> FloatTensor<B> {
    K::forward::<B>(tensors, settings, false).0
}

#[derive(Debug)]
struct HostBackward<K>(PhantomData<K>);

impl<B: Backend, K: HostScan<N>, const N: usize> Backward<B, N> for HostBackward<K> {
    type State = K::Saved;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_out = grads.consume::<B>(&ops.node);
        let computed = K::backward::<B>(ops.state, grad_out);
        for (node, grad) in ops.parents.into_iter().zip(computed) {
            if let (Some(node), Some(grad)) = (node, grad) {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

/// The scan `K` on `Autodiff<B, C>`: recorded with its hand-written backward where any input
/// is tracked.
pub(crate) fn tracked<K: HostScan<N>, B: Backend, C: CheckpointStrategy, const N: usize>(
    tensors: [FloatTensor<Autodiff<B, C>>; N],
    settings: ScanSettings,
) -> FloatTensor<Autodiff<B, C>> {
    let mut parts = tensors.map(|t| {
        let (inner, node) = t.into_parts();
        (Some(inner), Some(node))
    });
    let nodes = std::array::from_fn(|i| parts[i].1.take().expect("each node once"));
    let inner = std::array::from_fn(|i| parts[i].0.take().expect("each tensor once"));
    match HostBackward::<K>(PhantomData)
        .prepare::<C>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (out, saved) = K::forward::<B>(inner, settings, true);
            prep.finish(saved.expect("kept for training"), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(untracked::<K, B, N>(inner, settings)),
    }
}

/// Declares a fused CPU scan with several float inputs as a burn backend extension, from the
/// [`HostScan`] `$op` that computes it:
///
/// - the backend trait `$trait` with its one operation `$method(inputs…, settings,
///   surrogate_params)` (settings in [`ScanSettings`]' encoded form), dispatched by burn to
///   burn-flex, burn-ndarray and autodiff over them;
/// - its implementations on burn-flex and burn-ndarray, which run `$op` on host buffers
///   ([`untracked`]), and the marker trait `$kernels` of those backends;
/// - its implementation on `Autodiff<B, C>` for every `B: $kernels`, which records `$op` with
///   its hand-written backward pass ([`tracked`]).
///
/// The typed entry point (`Tensor`s in, `Tensor` out) stays in the model's file, next to the
/// scan's equations.
macro_rules! host_scan_extension {
    (
        $(#[$trait_doc:meta])*
        pub trait $trait:ident {
            $(#[$method_doc:meta])*
            fn $method:ident($($input:ident),+ $(,)?);
        }
        $(#[$kernels_doc:meta])*
        pub trait $kernels:ident;
        op $op:ident, $n:literal;
    ) => {
        $(#[$trait_doc])*
        #[allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.
        #[burn::backend::backend_extension(Flex, NdArray, Autodiff)]
        pub trait $trait: burn::backend::Backend {
            $(#[$method_doc])*
            #[allow(clippy::too_many_arguments)]
            fn $method(
                $($input: burn::backend::tensor::FloatTensor<Self>,)+
                settings: u32,
                surrogate_params: [f32; 2],
            ) -> burn::backend::tensor::FloatTensor<Self>;
        }

        $(#[$kernels_doc])*
        pub trait $kernels: burn::backend::Backend {}

        $crate::kernels::fused::host_op::host_scan_extension!(
            @impl [] burn::backend::Flex, $trait, $method,
            $crate::kernels::fused::host_op::untracked::<$op, Self, $n>, $($input),+
        );
        #[allow(deprecated)]
        impl $kernels for burn::backend::Flex {}
        $crate::kernels::fused::host_op::host_scan_extension!(
            @impl [] burn::backend::NdArray, $trait, $method,
            $crate::kernels::fused::host_op::untracked::<$op, Self, $n>, $($input),+
        );
        #[allow(deprecated)]
        impl $kernels for burn::backend::NdArray {}
        $crate::kernels::fused::host_op::host_scan_extension!(
            @impl [B: $kernels, C: burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy]
            burn::backend::autodiff::Autodiff<B, C>, $trait, $method,
            $crate::kernels::fused::host_op::tracked::<$op, B, C, $n>, $($input),+
        );
    };
    // One implementation of the backend trait: decode the settings, run the scan with `$run`.
    (@impl [$($generics:tt)*] $backend:ty, $trait:ident, $method:ident, $run:path,
        $($input:ident),+) => {
        #[allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.
        impl<$($generics)*> $trait for $backend {
            fn $method(
                $($input: burn::backend::tensor::FloatTensor<Self>,)+
                settings: u32,
                surrogate_params: [f32; 2],
            ) -> burn::backend::tensor::FloatTensor<Self> {
                let settings = $crate::kernels::fused::ScanSettings::decode(
                    settings,
                    surrogate_params,
                    [0, 0],
                );
                $run([$($input),+], settings)
            }
        }
    };
}
pub(crate) use host_scan_extension;
