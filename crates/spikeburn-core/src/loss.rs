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
