//! A dense layer followed by a LIF layer, run over time as one operation whose backward pass
//! recomputes the activations segment by segment (gradient checkpointing over time): memory
//! for long sequences.
//!
//! Trained as two operations, a `Linear(K, N)` and a fused LIF scan keep the input `X`
//! (`[T, B, K]`, for `∂L/∂W`) and the membrane trace (`[T, B, N]`), and hold the input
//! current `I = X·W + b` (`[T, B, N]`) while the scan runs. Here the sequence is cut into
//! segments of `S` steps; the forward pass computes each segment's current, runs the scan
//! from the previous segment's last membrane and keeps only that membrane (`B·N` floats per
//! segment). The backward pass runs the segments last to first: it recomputes the segment's
//! current and membrane trace (one more GEMM over the sequence), runs the scan's BPTT (the
//! equations of the [parent module](super)) with `δ = dL/dU` carried across the segment
//! boundary, and adds the segment's share of the gradients:
//!
//! ```text
//! I[t]   = X[t]·W + b                       t0 ≤ t < t1
//! ∂L/∂W += X[t0..t1]ᵀ · ∂L/∂I[t0..t1]
//! ∂L/∂b += Σ_rows ∂L/∂I[t0..t1]
//! ∂L/∂X[t0..t1] = ∂L/∂I[t0..t1] · Wᵀ
//! ```
//!
//! What training keeps per neuron-step: nothing of the current or the membrane, and of the
//! input one bit per value where `X` is all 0 and 1 (the spikes of a previous layer),
//! otherwise `X` itself. The price is one more `X·W` over the sequence in the backward pass.
//!
//! On the CPU backends (burn-flex, burn-ndarray; [`super::supports_cpu_scans`]); equality
//! with the two operations, in values and every gradient, is tested in
//! `tests/fused_scans.rs`.

#![allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.

use super::ScanSettings;
use super::cpu::{DenseScan, KeptInput, keep_input};
use super::host_op::parameter_gradient;
use crate::kernels::host::{HostBuffer, from_host};
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, NdArray, TensorMetadata, backend_extension};
use burn::prelude::*;
use std::sync::Arc;

/// The backend operation behind [`linear_lif_scan`], implemented for burn-flex, burn-ndarray
/// and autodiff over them. `bias` and `feedback` are stand-ins that are not read where
/// `with_bias` / `with_feedback` is false; `settings` and `surrogate_params` are
/// [`ScanSettings`] in encoded form.
#[backend_extension(Flex, NdArray, Autodiff)]
pub trait LinearLifBackend: Backend {
    /// `LIF(X·W + b)` over time, recomputed in segments of `segment` steps.
    #[allow(clippy::too_many_arguments)]
    fn linear_lif_scan(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        feedback: FloatTensor<Self>,
        with_bias: bool,
        with_feedback: bool,
        settings: u32,
        surrogate_params: [f32; 2],
        segment: usize,
    ) -> FloatTensor<Self>;
}

/// The operands of one call of [`LinearLifBackend::linear_lif_scan`] on a CPU backend, the
/// stand-ins already dropped.
struct Call<B: Backend> {
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: Option<FloatTensor<B>>,
    beta: FloatTensor<B>,
    threshold: FloatTensor<B>,
    feedback: Option<FloatTensor<B>>,
    settings: ScanSettings,
    segment: usize,
}

impl<B: HostBuffer> Call<B> {
    /// The layer on the host side; for training (`keep`) with its input as the backward pass
    /// keeps it ([`keep_input`]).
    fn layer(self, keep: bool) -> DenseScan<B> {
        let x_dims = dims3::<B>(&self.x);
        DenseScan {
            x: if keep {
                keep_input::<B>(self.x, x_dims[2])
            } else {
                KeptInput::Tensor(self.x)
            },
            x_dims,
            weight: self.weight,
            bias: self.bias.map(|b| B::values(&b).into_owned()),
            beta: self.beta,
            threshold: self.threshold,
            feedback: self.feedback,
            settings: self.settings,
            segment: self.segment.max(1),
        }
    }

    /// The forward pass, keeping nothing (inference).
    fn infer(self) -> FloatTensor<B> {
        let device = self.x.device();
        let layer = self.layer(false);
        let (out, _) = layer.forward(false, &device);
        from_host::<B>(out, &layer.out_dims(), &device)
    }
}

fn dims3<B: Backend>(x: &FloatTensor<B>) -> [usize; 3] {
    let d = x.shape().to_vec();
    [d[0], d[1], d[2]]
}

macro_rules! impl_linear_lif {
    ($backend:ty) => {
        impl LinearLifBackend for $backend {
            fn linear_lif_scan(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                bias: FloatTensor<Self>,
                beta: FloatTensor<Self>,
                threshold: FloatTensor<Self>,
                feedback: FloatTensor<Self>,
                with_bias: bool,
                with_feedback: bool,
                settings: u32,
                surrogate_params: [f32; 2],
                segment: usize,
            ) -> FloatTensor<Self> {
                Call::<Self> {
                    x,
                    weight,
                    bias: with_bias.then_some(bias),
                    beta,
                    threshold,
                    feedback: with_feedback.then_some(feedback),
                    settings: ScanSettings::decode(settings, surrogate_params, [0, 0]),
                    segment,
                }
                .infer()
            }
        }
    };
}

impl_linear_lif!(Flex);
impl_linear_lif!(NdArray);

/// What the backward pass keeps: the layer's operands (the input as bits where it is binary)
/// and the membrane at each segment's start.
#[derive(Clone, Debug)]
struct Saved<B: Backend> {
    layer: DenseScan<B>,
    starts: Arc<Vec<Vec<f32>>>,
    shapes: [Vec<usize>; 4],
}

/// The backward step: parents `X`, `W`, `b`, `β`, `θ`, `v`.
#[derive(Debug)]
struct LinearLifBackward;

impl<B: HostBuffer> Backward<B, 6> for LinearLifBackward {
    type State = Saved<B>;

    fn backward(self, ops: Ops<Self::State, 6>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let device = grad.device();
        let Saved {
            layer,
            starts,
            shapes: [bias_dims, beta_dims, threshold_dims, feedback_dims],
        } = ops.state;
        let [x_node, w_node, b_node, beta_node, theta_node, v_node] = ops.parents;
        let g = layer.backward(&starts, grad, x_node.is_some(), &device);
        let x_dims = layer.x_dims;
        let weight_dims = layer.weight.shape().to_vec();
        let computed = [
            g.x.map(|gx| from_host::<B>(gx, &x_dims, &device)),
            Some(from_host::<B>(g.weight, &weight_dims, &device)),
            Some(parameter_gradient::<B>(&g.bias, &bias_dims, &device)),
            Some(parameter_gradient::<B>(&g.beta, &beta_dims, &device)),
            Some(parameter_gradient::<B>(
                &g.threshold,
                &threshold_dims,
                &device,
            )),
            Some(parameter_gradient::<B>(
                &g.feedback,
                &feedback_dims,
                &device,
            )),
        ];
        for (node, grad) in [x_node, w_node, b_node, beta_node, theta_node, v_node]
            .into_iter()
            .zip(computed)
        {
            if let (Some(node), Some(grad)) = (node, grad) {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

impl<B: HostBuffer, C: CheckpointStrategy> LinearLifBackend for Autodiff<B, C> {
    fn linear_lif_scan(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        feedback: FloatTensor<Self>,
        with_bias: bool,
        with_feedback: bool,
        settings: u32,
        surrogate_params: [f32; 2],
        segment: usize,
    ) -> FloatTensor<Self> {
        let (x, x_node) = x.into_parts();
        let (weight, w_node) = weight.into_parts();
        let (bias, b_node) = bias.into_parts();
        let (beta, beta_node) = beta.into_parts();
        let (threshold, theta_node) = threshold.into_parts();
        let (feedback, v_node) = feedback.into_parts();
        let shapes = [&bias, &beta, &threshold, &feedback].map(|t| t.shape().to_vec());
        let call = Call::<B> {
            x,
            weight,
            bias: with_bias.then_some(bias),
            beta,
            threshold,
            feedback: with_feedback.then_some(feedback),
            settings: ScanSettings::decode(settings, surrogate_params, [0, 0]),
            segment,
        };
        // Stand-ins are detached (no node), so no gradient is registered for them.
        let nodes = [x_node, w_node, b_node, beta_node, theta_node, v_node];
        match LinearLifBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let device = call.x.device();
                let layer = call.layer(true);
                let (out, starts) = layer.forward(true, &device);
                let out = from_host::<B>(out, &layer.out_dims(), &device);
                let saved = Saved {
                    layer,
                    starts: Arc::new(starts),
                    shapes,
                };
                prep.finish(saved, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(call.infer()),
        }
    }
}

/// A dense layer and a LIF layer over time, `S = LIF(X·W + b)`, for `x` `[T, B, K]`,
/// `weight` `[K, N]` (burn's [`burn::nn::Linear`] layout), an optional `bias` `[N]`, `beta`
/// (clamped) and `threshold` `[1]` or `[N]`, and an optional one-to-one feedback weight
/// `feedback` (`[1]` or `[N]`, as [`super::recurrent_lif_scan`]): spikes (or the membrane,
/// with `settings.output_membrane`) `[T, B, N]`, from rest.
///
/// Equal in values and gradients (to the order of the sums) to
/// `lif_scan(dense::linear(x, weight, bias), …)`, with the activations recomputed in
/// segments of `segment` steps in the backward pass (see the [module docs](self)).
///
/// # Panics
/// Off the CPU backends ([`super::supports_cpu_scans`]), with a refractory period or a
/// constant input in `settings`, or where the shapes disagree.
#[allow(clippy::too_many_arguments)]
pub fn linear_lif_scan(
    x: Tensor<3>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
    beta: Tensor<1>,
    threshold: Tensor<1>,
    feedback: Option<Tensor<1>>,
    settings: ScanSettings,
    segment: usize,
) -> Tensor<3> {
    assert!(
        super::supports_cpu_scans(&x.device()),
        "linear_lif_scan runs on the CPU backends only (check fused::supports_cpu_scans)"
    );
    assert!(
        settings.refractory == 0 && settings.constant_steps == 0,
        "linear_lif_scan: no refractory period or constant input"
    );
    let ([_, _, k], [k_w, _]) = (x.dims(), weight.dims());
    assert_eq!(
        k, k_w,
        "linear_lif_scan: input features {k} vs weight rows {k_w}"
    );
    let (code, params) = settings.encode();
    let (with_bias, with_feedback) = (bias.is_some(), feedback.is_some());
    let stand_in = threshold.clone().detach();
    Tensor::from_dispatch(<Dispatch as LinearLifBackend>::linear_lif_scan(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.unwrap_or_else(|| stand_in.clone()).into_dispatch(),
        beta.into_dispatch(),
        threshold.into_dispatch(),
        feedback.unwrap_or(stand_in).into_dispatch(),
        with_bias,
        with_feedback,
        code,
        params,
        segment,
    ))
}
