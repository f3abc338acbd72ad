//! The autodiff plumbing shared by the CPU scans of five float inputs (the adaptive and the
//! all-to-all recurrent neurons): each describes its forward and backward pass on host buffers
//! ([`FiveInputScan`]); [`untracked`] and [`tracked`] run it on a CPU backend and record it
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

/// A fused CPU scan with five float inputs `[X, p1, p2, p3, p4]` and one output.
pub(crate) trait FiveInputScan: Send + Sync + std::fmt::Debug + 'static {
    /// What the backward pass keeps (host buffers, so independent of the backend).
    type Saved: Clone + Send + std::fmt::Debug + 'static;

    /// The output and, with `keep`, what the backward pass needs.
    fn forward<B: Backend>(
        tensors: [FloatTensor<B>; 5],
        settings: ScanSettings,
        keep: bool,
    ) -> (FloatTensor<B>, Option<Self::Saved>);

    /// The gradients of the five inputs for the output gradient `grad`.
    fn backward<B: Backend>(saved: Self::Saved, grad: FloatTensor<B>) -> [FloatTensor<B>; 5];
}

/// The scan `K` without autodiff.
pub(crate) fn untracked<K: FiveInputScan, B: Backend>(
    tensors: [FloatTensor<B>; 5],
    settings: ScanSettings,
) -> FloatTensor<B> {
    K::forward::<B>(tensors, settings, false).0
}

#[derive(Debug)]
struct FiveBackward<K>(PhantomData<K>);

impl<B: Backend, K: FiveInputScan> Backward<B, 5> for FiveBackward<K> {
    type State = K::Saved;

    fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _: &mut Checkpointer) {
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
pub(crate) fn tracked<K: FiveInputScan, B: Backend, C: CheckpointStrategy>(
    tensors: [FloatTensor<Autodiff<B, C>>; 5],
    settings: ScanSettings,
) -> FloatTensor<Autodiff<B, C>> {
    let [a, b, c, d, e] = tensors.map(|t| t.into_parts());
    let nodes = [a.1, b.1, c.1, d.1, e.1];
    let inner = [a.0, b.0, c.0, d.0, e.0];
    match FiveBackward::<K>(PhantomData)
        .prepare::<C>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (out, saved) = K::forward::<B>(inner, settings, true);
            prep.finish(saved.expect("kept for training"), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(untracked::<K, B>(inner, settings)),
    }
}
