//! Losses on the output layer of a spiking classifier (snnTorch `snntorch.functional`).
//!
//! Inputs are time-major: membrane or spikes `[T, B, C]` for `C` classes; targets are class
//! indices `[B]`. Every loss is averaged over the batch.
//!
//! Every function takes the batch's [`Lengths`] when its samples are padded sequences of
//! different lengths (see [`crate::padding`]): sums and maxima over time then run over each
//! sample's valid steps `t < len_b` only, and `T` in a formula is the sample's own `len_b`,
//! so a padded sample contributes exactly what it contributes alone. `None`: every sample
//! has all `T` steps.

use crate::padding::{Lengths, fill_padding_neg_inf, valid_mask, valid_steps};
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

/// `x` with its padded steps zeroed (unchanged without padding).
fn zero_padding(x: Tensor<3>, lengths: Option<&Lengths>) -> Tensor<3> {
    match valid_mask(&x, lengths) {
        Some(mask) => x * mask,
        None => x,
    }
}

/// Cross-entropy of the class scores at every step, each term weighted:
/// `Σ_t mean_b w[t, b]·CE(x[t, b], y[b])` with `CE(z, y) = −log softmax(z)_y` and `w = 1`
/// without weights.
fn ce_weighted(scores: Tensor<3>, targets: Tensor<1, Int>, weight: Option<Tensor<3>>) -> Tensor<1> {
    let [_, batch, classes] = scores.dims();
    let one_hot = targets.one_hot::<2>(classes).float().unsqueeze::<3>();
    let picked = log_softmax(scores, 2) * one_hot;
    let picked = match weight {
        Some(w) => picked * w,
        None => picked,
    };
    picked.sum().neg() / batch as f32
}

/// Membrane cross-entropy summed over time (snnTorch tutorial 5; `ce_mem_loss`):
/// `L = Σ_t mean_b CE(U[t, b], y[b])` on the output layer's membrane `U`, `[T, B, C]` (the
/// sum over each sample's valid steps with `lengths`).
pub fn ce_membrane(
    membrane: Tensor<3>,
    targets: Tensor<1, Int>,
    lengths: Option<&Lengths>,
) -> Tensor<1> {
    let mask = valid_mask(&membrane, lengths);
    ce_weighted(membrane, targets, mask)
}

/// Spike-rate cross-entropy (snnTorch `ce_rate_loss`): cross-entropy of the output spikes at
/// each step, averaged over time: `L = mean_b (1/T)·Σ_t CE(S[t, b], y[b])`, spikes
/// `[T, B, C]` (`T = len_b` with `lengths`).
pub fn ce_rate(spikes: Tensor<3>, targets: Tensor<1, Int>, lengths: Option<&Lengths>) -> Tensor<1> {
    let steps = spikes.dims()[0];
    match valid_mask(&spikes, lengths) {
        Some(mask) => {
            let per_sample = valid_steps(&spikes, lengths).recip().unsqueeze::<3>();
            ce_weighted(spikes, targets, Some(mask * per_sample))
        }
        None => ce_weighted(spikes, targets, None) / steps as f32,
    }
}

/// Spike-count cross-entropy (snnTorch `ce_count_loss`): cross-entropy of the spike counts
/// `N_c = Σ_t S[t, c]` taken as logits: `L = mean_b CE(N[b], y[b])`, spikes `[T, B, C]`.
pub fn ce_count(
    spikes: Tensor<3>,
    targets: Tensor<1, Int>,
    lengths: Option<&Lengths>,
) -> Tensor<1> {
    ce_weighted(zero_padding(spikes, lengths).sum_dim(0), targets, None)
}

/// Max-membrane cross-entropy (snnTorch `ce_max_membrane_loss`): the maximum of each output
/// membrane over time taken as logits: `L = mean_b CE(max_t U[t, b], y[b])`.
pub fn ce_max_membrane(
    membrane: Tensor<3>,
    targets: Tensor<1, Int>,
    lengths: Option<&Lengths>,
) -> Tensor<1> {
    ce_weighted(
        fill_padding_neg_inf(membrane, lengths).max_dim(0),
        targets,
        None,
    )
}

/// `[B, C]` targets: `on` for the class of each sample, `off` elsewhere.
fn class_targets(targets: Tensor<1, Int>, classes: usize, on: f32, off: f32) -> Tensor<2> {
    targets.one_hot::<2>(classes).float() * (on - off) + off
}

/// Spike-count mean squared error (snnTorch `mse_count_loss`): the spike count of the correct
/// class is pulled to `correct_rate·T` and the others to `incorrect_rate·T`:
/// `L = mean_{b,c} (Σ_t S[t, b, c] − N*[b, c])² / T` (`T = len_b` with `lengths`).
pub fn mse_count(
    spikes: Tensor<3>,
    targets: Tensor<1, Int>,
    correct_rate: f32,
    incorrect_rate: f32,
    lengths: Option<&Lengths>,
) -> Tensor<1> {
    let [steps, _, classes] = spikes.dims();
    if valid_mask(&spikes, lengths).is_none() {
        let t = steps as f32;
        let target = class_targets(targets, classes, correct_rate * t, incorrect_rate * t);
        let count = spikes.sum_dim(0).squeeze_dim::<2>(0);
        return (count - target).square().mean() / t;
    }
    let t = valid_steps(&spikes, lengths); // [B, 1]
    let rates = class_targets(targets, classes, correct_rate, incorrect_rate);
    let count = zero_padding(spikes, lengths).sum_dim(0).squeeze_dim::<2>(0);
    ((count - rates * t.clone()).square() / t).mean()
}

/// Membrane mean squared error (snnTorch `mse_membrane_loss`): every step's membrane is pulled
/// to `on_target` for the correct class and `off_target` elsewhere:
/// `L = mean_{t,b,c} (U[t, b, c] − U*[b, c])²`, the mean over the valid steps with
/// `lengths`.
pub fn mse_membrane(
    membrane: Tensor<3>,
    targets: Tensor<1, Int>,
    on_target: f32,
    off_target: f32,
    lengths: Option<&Lengths>,
) -> Tensor<1> {
    let [_, _, classes] = membrane.dims();
    let target = class_targets(targets, classes, on_target, off_target).unsqueeze::<3>();
    let mask = valid_mask(&membrane, lengths);
    let squared = (membrane - target).square();
    match mask {
        Some(mask) => {
            let valid = mask.clone().sum() * classes as f32;
            (squared * mask).sum() / valid
        }
        None => squared.mean(),
    }
}

/// The (soft) first-spike time of every neuron, `[B, C]`: the number of steps before its first
/// spike, `t_f = Σ_t Π_{τ≤t} (1 − S[τ])` (`T`, or `len_b` with `lengths`, when it never
/// fires). With surrogate spikes the product carries a gradient to every spike up to the first
/// one.
pub fn first_spike_time(spikes: Tensor<3>, lengths: Option<&Lengths>) -> Tensor<2> {
    let [steps, batch, classes] = spikes.dims();
    let mask = valid_mask(&spikes, lengths);
    let mut silent: Tensor<2> = Tensor::ones([batch, classes], &spikes.device());
    let mut time = silent.zeros_like();
    for t in 0..steps {
        let s = spikes.clone().slice(s![t]).squeeze_dim::<2>(0);
        silent = silent * (s.neg() + 1.0);
        time = match &mask {
            Some(m) => time + silent.clone() * m.clone().slice(s![t]).squeeze_dim::<2>(0),
            None => time + silent.clone(),
        };
    }
    time
}

/// Temporal (first-spike) cross-entropy (snnTorch `ce_temporal_loss`): the negative first-spike
/// times taken as logits, so the correct class is pushed to fire first:
/// `L = mean_b CE(−t_f[b], y[b])` with [`first_spike_time`].
pub fn ce_temporal(
    spikes: Tensor<3>,
    targets: Tensor<1, Int>,
    lengths: Option<&Lengths>,
) -> Tensor<1> {
    let first = first_spike_time(spikes, lengths);
    ce_weighted(first.neg().unsqueeze::<3>(), targets, None)
}

/// The mean firing rate of a layer over its valid steps, `[1]`: `mean_{t,b,n} S`, or
/// `Σ_{t<len_b} S / (N·Σ_b len_b)` with `lengths`.
pub fn mean_rate(spikes: Tensor<3>, lengths: Option<&Lengths>) -> Tensor<1> {
    let neurons = spikes.dims()[2];
    match valid_mask(&spikes, lengths) {
        Some(mask) => {
            let valid = mask.clone().sum() * neurons as f32;
            (spikes * mask).sum() / valid
        }
        None => spikes.mean(),
    }
}

/// L1 spike-rate regulariser of one layer: its mean firing rate `mean_{t,b,n} S` (sparser
/// activity; Zenke & Vogels 2021 use per-layer activity penalties of this kind), over the
/// valid steps with `lengths` ([`mean_rate`]).
pub fn l1_rate(spikes: Tensor<3>, lengths: Option<&Lengths>) -> Tensor<1> {
    mean_rate(spikes, lengths)
}

/// L2 spike-rate regulariser of one layer: `mean_n r_n²` with `r_n = mean_{t,b} S[t, b, n]`
/// (over the valid steps with `lengths`), penalising neurons that fire a lot (Zenke & Vogels
/// 2021, "upper bound" term).
pub fn l2_rate(spikes: Tensor<3>, lengths: Option<&Lengths>) -> Tensor<1> {
    let [steps, batch, neurons] = spikes.dims();
    let per_neuron = match valid_mask(&spikes, lengths) {
        Some(mask) => {
            let valid = mask.clone().sum();
            (spikes * mask).reshape([steps * batch, neurons]).sum_dim(0) / valid.unsqueeze::<2>()
        }
        None => spikes.reshape([steps * batch, neurons]).mean_dim(0),
    };
    per_neuron.square().mean()
}

/// Target-rate regulariser of one layer: `(r − r*)²` with `r` its [`mean_rate`].
pub fn target_rate(spikes: Tensor<3>, rate: f32, lengths: Option<&Lengths>) -> Tensor<1> {
    (mean_rate(spikes, lengths) - rate).square()
}
