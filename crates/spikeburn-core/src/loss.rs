//! Losses on the output layer of a spiking classifier (snnTorch `snntorch.functional`).
//!
//! Inputs are time-major: membrane or spikes `[T, B, C]` for `C` classes; targets are class
//! indices `[B]`. Every loss is averaged over the batch.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

/// Cross-entropy of the class scores at every step: `Σ_t mean_b CE(x[t, b], y[b])`, with
/// `CE(z, y) = −log softmax(z)_y`.
fn ce_summed_over_time(scores: Tensor<3>, targets: Tensor<1, Int>) -> Tensor<1> {
    let [_, batch, classes] = scores.dims();
    let one_hot = targets.one_hot::<2>(classes).float().unsqueeze::<3>();
    let log_p = log_softmax(scores, 2);
    (log_p * one_hot).sum().neg() / batch as f32
}

/// Membrane cross-entropy summed over time (snnTorch tutorial 5; `ce_mem_loss`):
/// `L = Σ_t mean_b CE(U[t, b], y[b])` on the output layer's membrane `U`, `[T, B, C]`.
pub fn ce_membrane(membrane: Tensor<3>, targets: Tensor<1, Int>) -> Tensor<1> {
    ce_summed_over_time(membrane, targets)
}

/// Spike-rate cross-entropy (snnTorch `ce_rate_loss`): cross-entropy of the output spikes at
/// each step, averaged over time: `L = (1/T)·Σ_t mean_b CE(S[t, b], y[b])`, spikes `[T, B, C]`.
pub fn ce_rate(spikes: Tensor<3>, targets: Tensor<1, Int>) -> Tensor<1> {
    let steps = spikes.dims()[0];
    ce_summed_over_time(spikes, targets) / steps as f32
}

/// Spike-count cross-entropy (snnTorch `ce_count_loss`): cross-entropy of the spike counts
/// `N_c = Σ_t S[t, c]` taken as logits: `L = mean_b CE(N[b], y[b])`, spikes `[T, B, C]`.
pub fn ce_count(spikes: Tensor<3>, targets: Tensor<1, Int>) -> Tensor<1> {
    ce_summed_over_time(spikes.sum_dim(0), targets)
}

/// Max-membrane cross-entropy (snnTorch `ce_max_membrane_loss`): the maximum of each output
/// membrane over time taken as logits: `L = mean_b CE(max_t U[t, b], y[b])`.
pub fn ce_max_membrane(membrane: Tensor<3>, targets: Tensor<1, Int>) -> Tensor<1> {
    ce_summed_over_time(membrane.max_dim(0), targets)
}

/// `[B, C]` targets: `on` for the class of each sample, `off` elsewhere, broadcast over `[T]`.
fn class_targets(targets: Tensor<1, Int>, classes: usize, on: f32, off: f32) -> Tensor<2> {
    targets.one_hot::<2>(classes).float() * (on - off) + off
}

/// Spike-count mean squared error (snnTorch `mse_count_loss`): the spike count of the correct
/// class is pulled to `correct_rate·T` and the others to `incorrect_rate·T`:
/// `L = mean_{b,c} (Σ_t S[t, b, c] − N*[b, c])² / T`.
pub fn mse_count(
    spikes: Tensor<3>,
    targets: Tensor<1, Int>,
    correct_rate: f32,
    incorrect_rate: f32,
) -> Tensor<1> {
    let [steps, _, classes] = spikes.dims();
    let t = steps as f32;
    let target = class_targets(targets, classes, correct_rate * t, incorrect_rate * t);
    let count = spikes.sum_dim(0).squeeze_dim::<2>(0);
    (count - target).square().mean() / t
}

/// Membrane mean squared error (snnTorch `mse_membrane_loss`): every step's membrane is pulled
/// to `on_target` for the correct class and `off_target` elsewhere:
/// `L = (1/T)·Σ_t mean_{b,c} (U[t, b, c] − U*[b, c])²`.
pub fn mse_membrane(
    membrane: Tensor<3>,
    targets: Tensor<1, Int>,
    on_target: f32,
    off_target: f32,
) -> Tensor<1> {
    let [_, _, classes] = membrane.dims();
    let target = class_targets(targets, classes, on_target, off_target).unsqueeze::<3>();
    (membrane - target).square().mean()
}

/// The (soft) first-spike time of every neuron, `[B, C]`: the number of steps before its first
/// spike, `t_f = Σ_t Π_{τ≤t} (1 − S[τ])` (`T` when it never fires). With surrogate spikes the
/// product carries a gradient to every spike up to the first one.
pub fn first_spike_time(spikes: Tensor<3>) -> Tensor<2> {
    let [steps, batch, classes] = spikes.dims();
    let mut silent: Tensor<2> = Tensor::ones([batch, classes], &spikes.device());
    let mut time = silent.zeros_like();
    for t in 0..steps {
        let s = spikes.clone().slice(s![t]).squeeze_dim::<2>(0);
        silent = silent * (s.neg() + 1.0);
        time = time + silent.clone();
    }
    time
}

/// Temporal (first-spike) cross-entropy (snnTorch `ce_temporal_loss`): the negative first-spike
/// times taken as logits, so the correct class is pushed to fire first:
/// `L = mean_b CE(−t_f[b], y[b])` with [`first_spike_time`].
pub fn ce_temporal(spikes: Tensor<3>, targets: Tensor<1, Int>) -> Tensor<1> {
    ce_summed_over_time(first_spike_time(spikes).neg().unsqueeze::<3>(), targets)
}

/// L1 spike-rate regulariser of one layer: its mean firing rate `mean_{t,b,n} S` (sparser
/// activity; Zenke & Vogels 2021 use per-layer activity penalties of this kind).
pub fn l1_rate(spikes: Tensor<3>) -> Tensor<1> {
    spikes.mean()
}

/// L2 spike-rate regulariser of one layer: `mean_n r_n²` with `r_n = mean_{t,b} S[t, b, n]`,
/// penalising neurons that fire a lot (Zenke & Vogels 2021, "upper bound" term).
pub fn l2_rate(spikes: Tensor<3>) -> Tensor<1> {
    let [steps, batch, neurons] = spikes.dims();
    let per_neuron = spikes.reshape([steps * batch, neurons]).mean_dim(0);
    per_neuron.square().mean()
}

/// Target-rate regulariser of one layer: `(mean_{t,b,n} S − r*)²`.
pub fn target_rate(spikes: Tensor<3>, rate: f32) -> Tensor<1> {
    (spikes.mean() - rate).square()
}
