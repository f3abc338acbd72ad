//! Batch normalisation in training mode on the CPU backends, as one operation per pass with a
//! hand-written backward.
//!
//! burn 0.22 computes the training-mode statistics of `x` `[N, C, …]` by moving the channel
//! axis first (a full transposed copy of `x`, twice in the forward pass and twice in the
//! backward pass) and builds the normalisation from about ten tensor operations. On the
//! `*-conv` presets' first layer (`[128, 32, 28, 28]`) that was a third of a training step.
//! Here, with `M = N·∏(trailing dims)` values per channel `c`, the statistics are summed over
//! each channel's contiguous runs in place (in `f64`), in parallel over channels:
//!
//! ```text
//! μ_c = (1/M) Σ x          σ²_c = (1/M) Σ (x − μ_c)²          (biased, as burn)
//! x̂ = (x − μ_c)/√(σ²_c + ε)     y = γ_c·x̂ + β_c
//! ∂L/∂β_c = Σ g     ∂L/∂γ_c = Σ g·x̂
//! ∂L/∂x = γ_c/√(σ²_c + ε) · (g − ∂L/∂β_c/M − x̂·∂L/∂γ_c/M)
//! ```
//!
//! (Ioffe & Szegedy 2015; the same output, statistics and gradients as burn's
//! `batch_norm_train`, tested in `tests/batch_norm.rs`). The running statistics are updated
//! exactly as burn's [`BatchNorm`] does. Evaluation mode, non-CPU devices and
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
use burn::nn::BatchNorm;
use burn::prelude::*;
use rayon::prelude::*;

/// The backend operation behind [`forward`]: implemented for burn-flex, burn-ndarray and
/// autodiff over them.
#[allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.
#[backend_extension(Flex, NdArray, Autodiff)]
pub trait BatchNormBackend: Backend {
    /// Training-mode batch normalisation of `x` `[N, C, …]` with the batch statistics:
    /// returns the output (shaped like `x`) and the per-channel mean and biased variance
    /// (`[C]`, not differentiable).
    fn batch_norm_batch_stats(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// `x` seen as `[N, C, I]`, `I` the product of the trailing dimensions.
#[derive(Clone, Copy, Debug)]
struct Layout {
    samples: usize,
    channels: usize,
    inner: usize,
}

impl Layout {
    fn of(dims: &[usize]) -> Self {
        assert!(
            dims.len() >= 2,
            "batch norm input needs [N, C, …], got {dims:?}"
        );
        Self {
            samples: dims[0],
            channels: dims[1],
            inner: dims[2..].iter().product(),
        }
    }

    fn count(&self) -> f64 {
        (self.samples * self.inner) as f64
    }

    /// The contiguous runs of channel `c`: one slice of `I` values per sample.
    fn runs<'a>(&self, values: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> {
        let (i, stride) = (self.inner, self.channels * self.inner);
        (0..self.samples).map(move |n| &values[n * stride + c * i..][..i])
    }

    /// A buffer the size of `x`, split into each channel's runs (disjoint, so the channels
    /// can be written in parallel).
    fn split<'a>(&self, buffer: &'a mut [f32]) -> Vec<Vec<&'a mut [f32]>> {
        let mut channels: Vec<Vec<&mut [f32]>> = (0..self.channels)
            .map(|_| Vec::with_capacity(self.samples))
            .collect();
        for sample in buffer.chunks_mut((self.channels * self.inner).max(1)) {
            for (runs, run) in channels
                .iter_mut()
                .zip(sample.chunks_mut(self.inner.max(1)))
            {
                runs.push(run);
            }
        }
        channels
    }
}

/// `Σ f(v)` over a channel's runs, each run summed in `f32` and the runs in `f64`.
fn channel_sum<'a>(runs: impl Iterator<Item = &'a [f32]>, f: impl Fn(f32) -> f32) -> f64 {
    runs.map(|run| f64::from(run.iter().map(|&v| f(v)).sum::<f32>()))
        .sum()
}

/// The batch statistics per channel.
struct Stats {
    mean: Vec<f32>,
    variance: Vec<f32>,
}

impl Stats {
    /// The mean and variance as `[C]` tensors of `B` on `device`.
    fn tensors<B: Backend>(&self, device: &B::Device) -> (FloatTensor<B>, FloatTensor<B>) {
        let c = [self.mean.len()];
        (
            from_host::<B>(self.mean.clone(), &c, device),
            from_host::<B>(self.variance.clone(), &c, device),
        )
    }
}

/// The normalised output and the statistics.
fn forward_on_host(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    epsilon: f64,
    l: Layout,
) -> (Vec<f32>, Stats) {
    let count = l.count().max(1.0);
    let stats: Vec<(f32, f32)> = (0..l.channels)
        .into_par_iter()
        .map(|c| {
            let mean = channel_sum(l.runs(x, c), |v| v) / count;
            let m = mean as f32;
            let variance = channel_sum(l.runs(x, c), |v| (v - m) * (v - m)) / count;
            (m, variance as f32)
        })
        .collect();
    let mut output = vec![0.0f32; x.len()];
    l.split(&mut output)
        .into_par_iter()
        .enumerate()
        .for_each(|(c, runs)| {
            let (mean, variance) = stats[c];
            let inv_std = (1.0 / (f64::from(variance) + epsilon).sqrt()) as f32;
            let (g, b) = (gamma[c], beta[c]);
            for (out, x) in runs.into_iter().zip(l.runs(x, c)) {
                for (o, &v) in out.iter_mut().zip(x) {
                    *o = (v - mean) * inv_std * g + b;
                }
            }
        });
    let (mean, variance) = stats.into_iter().unzip();
    (output, Stats { mean, variance })
}

/// The forward pass on the host; returns the output as a tensor of `B` on `device`, and the
/// statistics.
fn batch_stats<B: Backend>(
    x: &Host,
    gamma: &Host,
    beta: &Host,
    epsilon: f64,
    device: &B::Device,
) -> (FloatTensor<B>, Stats) {
    let dims = x.dims();
    let layout = Layout::of(&dims);
    let (y, stats) = forward_on_host(x.values(), gamma.values(), beta.values(), epsilon, layout);
    (from_host::<B>(y, &dims, device), stats)
}

macro_rules! impl_batch_norm_backend {
    ($backend:ty) => {
        impl BatchNormBackend for $backend {
            fn batch_norm_batch_stats(
                x: FloatTensor<Self>,
                gamma: FloatTensor<Self>,
                beta: FloatTensor<Self>,
                epsilon: f64,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                let device = x.device();
                let [x, gamma, beta] = [x, gamma, beta].map(Host::new::<Self>);
                let (y, stats) = batch_stats::<Self>(&x, &gamma, &beta, epsilon, &device);
                let (mean, variance) = stats.tensors::<Self>(&device);
                (y, mean, variance)
            }
        }
    };
}

impl_batch_norm_backend!(burn::backend::Flex);
impl_batch_norm_backend!(burn::backend::NdArray);

/// What the backward pass keeps: the input, `γ` and the statistics.
#[derive(Clone, Debug)]
struct Saved<B: Backend> {
    x: Host,
    gamma: Vec<f32>,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    device: B::Device,
}

#[derive(Debug)]
struct BatchNormBackward;

impl<B: Backend> Backward<B, 3> for BatchNormBackward {
    type State = Saved<B>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad = Host::new::<B>(grads.consume::<B>(&ops.node));
        let Saved {
            x,
            gamma,
            mean,
            inv_std,
            device,
        } = ops.state;
        let dims = x.dims();
        let l = Layout::of(&dims);
        let (x, g) = (x.values(), grad.values());
        let count = l.count().max(1.0);
        // Per channel: Σ g and Σ g·x̂.
        let sums: Vec<(f64, f64)> = (0..l.channels)
            .into_par_iter()
            .map(|c| {
                let (m, s) = (mean[c], inv_std[c]);
                let sum_g = channel_sum(l.runs(g, c), |v| v);
                let sum_gx: f64 = l
                    .runs(g, c)
                    .zip(l.runs(x, c))
                    .map(|(g, x)| {
                        let run: f32 = g.iter().zip(x).map(|(&g, &x)| g * (x - m) * s).sum();
                        f64::from(run)
                    })
                    .sum();
                (sum_g, sum_gx)
            })
            .collect();
        if let Some(node) = node_x {
            let mut dx = vec![0.0f32; x.len()];
            l.split(&mut dx)
                .into_par_iter()
                .enumerate()
                .for_each(|(c, runs)| {
                    let (m, s) = (mean[c], inv_std[c]);
                    let scale = gamma[c] * s;
                    let mean_g = (sums[c].0 / count) as f32;
                    let mean_gx = (sums[c].1 / count) as f32;
                    for (out, (g, x)) in runs.into_iter().zip(l.runs(g, c).zip(l.runs(x, c))) {
                        for (d, (&g, &x)) in out.iter_mut().zip(g.iter().zip(x)) {
                            *d = scale * (g - mean_g - (x - m) * s * mean_gx);
                        }
                    }
                });
            grads.register::<B>(node.id, from_host::<B>(dx, &dims, &device));
        }
        let per_channel = |pick: fn(&(f64, f64)) -> f64| -> Vec<f32> {
            sums.iter().map(|s| pick(s) as f32).collect()
        };
        if let Some(node) = node_gamma {
            let dgamma = per_channel(|s| s.1);
            grads.register::<B>(node.id, from_host::<B>(dgamma, &[l.channels], &device));
        }
        if let Some(node) = node_beta {
            let dbeta = per_channel(|s| s.0);
            grads.register::<B>(node.id, from_host::<B>(dbeta, &[l.channels], &device));
        }
    }
}

impl<B: Backend, C: CheckpointStrategy> BatchNormBackend for Autodiff<B, C> {
    fn batch_norm_batch_stats(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (x, x_node) = x.into_parts();
        let (gamma, gamma_node) = gamma.into_parts();
        let (beta, beta_node) = beta.into_parts();
        let device = x.device();
        let [x, gamma, beta] = [x, gamma, beta].map(Host::new::<B>);
        let (y, stats) = batch_stats::<B>(&x, &gamma, &beta, epsilon, &device);
        // The statistics leave as constants: the gradient through them is in the backward pass.
        let (mean, variance) = stats.tensors::<Self>(&device);
        let y = match BatchNormBackward
            .prepare::<C>([x_node, gamma_node, beta_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let inv_std = stats
                    .variance
                    .iter()
                    .map(|&v| (1.0 / (f64::from(v) + epsilon).sqrt()) as f32)
                    .collect();
                let saved = Saved {
                    x,
                    gamma: gamma.values().to_vec(),
                    mean: stats.mean,
                    inv_std,
                    device: device.clone(),
                };
                prep.finish(saved, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        (y, mean, variance)
    }
}

/// Applies `norm` to `x` `[N, C, …]`. In training mode (an autodiff device and the layer's
/// training flag on) on a CPU device with [`Kernel::Auto`], through the operation of this
/// module, updating the running statistics as burn does
/// (`running ← (1 − momentum)·running + momentum·batch`); otherwise burn's
/// [`BatchNorm::forward`].
pub fn forward<const D: usize>(norm: &BatchNorm, x: Tensor<D>, kernel: Kernel) -> Tensor<D> {
    let device = x.device();
    let training = device.is_autodiff() && norm.training.is_enabled();
    if !training || kernel == Kernel::Reference || !crate::conv::supported(&device) {
        return norm.forward(x);
    }
    let (y, mean, variance) = <Dispatch as BatchNormBackend>::batch_norm_batch_stats(
        x.into_dispatch(),
        norm.gamma.val().into_dispatch(),
        norm.beta.val().into_dispatch(),
        norm.epsilon,
    );
    let (mean, variance): (Tensor<1>, Tensor<1>) =
        (Tensor::from_dispatch(mean), Tensor::from_dispatch(variance));
    let momentum = norm.momentum;
    let blend = |running: Tensor<1>, batch: Tensor<1>| {
        running
            .to_device(&device)
            .mul_scalar(1.0 - momentum)
            .add(batch.detach().mul_scalar(momentum))
            .detach()
    };
    norm.running_mean
        .update(blend(norm.running_mean.value_sync(), mean));
    norm.running_var
        .update(blend(norm.running_var.value_sync(), variance));
    Tensor::from_dispatch(y)
}
