//! The autodiff plumbing shared by the CPU scans with several float inputs (the adaptive, alpha
//! and all-to-all recurrent neurons): each describes its forward and backward pass on host
//! buffers ([`HostScan`]); [`untracked`] and [`tracked`] run it on a CPU backend and record it
//! on burn's autodiff graph.

use super::ScanSettings;
use burn::backend::Backend;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use std::marker::PhantomData;

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

    /// The gradients of the `N` inputs for the output gradient `grad`.
    fn backward<B: Backend>(saved: Self::Saved, grad: FloatTensor<B>) -> [FloatTensor<B>; N];
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
            if let Some(node) = node {
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
