//! Classification read-outs and accuracy of a spiking classifier.
//!
//! Each read-out takes the batch's [`Lengths`] when its samples are padded sequences (see
//! [`crate::padding`]): it then reads each sample's valid steps `t < len_b` only.

use crate::padding::{Lengths, fill_padding_neg_inf, valid_mask};
use burn::prelude::*;

/// `Σ_t x[t]` over the valid steps, `[B, C]`.
fn sum_over_valid_steps(x: Tensor<3>, lengths: Option<&Lengths>) -> Tensor<2> {
    let x = match valid_mask(&x, lengths) {
        Some(mask) => x * mask,
        None => x,
    };
    x.sum_dim(0).squeeze_dim::<2>(0)
}

/// The class of the largest score of each row of `[B, C]` → `[B]`; ties go to the lowest
/// class index.
fn argmax(scores: Tensor<2>) -> Tensor<1, Int> {
    scores.argmax(1).squeeze_dim::<1>(1)
}

/// Predicted class by spike count: `argmax_c Σ_t S[t, b, c]` for spikes `[T, B, C]` → `[B]`.
/// Ties go to the lowest class index.
pub fn predict_by_spike_count(spikes: Tensor<3>, lengths: Option<&Lengths>) -> Tensor<1, Int> {
    argmax(sum_over_valid_steps(spikes, lengths))
}

/// Predicted class by membrane: `argmax_c Σ_t U[t, b, c]` for membrane `[T, B, C]` → `[B]`.
pub fn predict_by_membrane(membrane: Tensor<3>, lengths: Option<&Lengths>) -> Tensor<1, Int> {
    argmax(sum_over_valid_steps(membrane, lengths))
}

/// Number of predictions equal to the targets (both `[B]`).
pub fn correct(predictions: Tensor<1, Int>, targets: Tensor<1, Int>) -> usize {
    let hits = predictions.equal(targets).int().sum().into_scalar::<i64>();
    hits.max(0) as usize
}

/// The fraction of `predictions` equal to `targets`: `mean_b [ŷ_b = y_b]`.
fn accuracy(predictions: Tensor<1, Int>, targets: Tensor<1, Int>) -> f64 {
    let batch = targets.dims()[0].max(1);
    correct(predictions, targets) as f64 / batch as f64
}

/// Fraction of samples whose spike-count prediction is the target: `mean_b [ŷ_b = y_b]`.
pub fn accuracy_by_spike_count(
    spikes: Tensor<3>,
    targets: Tensor<1, Int>,
    lengths: Option<&Lengths>,
) -> f64 {
    accuracy(predict_by_spike_count(spikes, lengths), targets)
}

/// Fraction of samples whose membrane prediction is the target.
pub fn accuracy_by_membrane(
    membrane: Tensor<3>,
    targets: Tensor<1, Int>,
    lengths: Option<&Lengths>,
) -> f64 {
    accuracy(predict_by_membrane(membrane, lengths), targets)
}

/// Predicted class by maximum membrane: `argmax_c max_t U[t, b, c]`.
pub fn predict_by_max_membrane(membrane: Tensor<3>, lengths: Option<&Lengths>) -> Tensor<1, Int> {
    argmax(
        fill_padding_neg_inf(membrane, lengths)
            .max_dim(0)
            .squeeze_dim::<2>(0),
    )
}

/// Predicted class by first spike: the class that fires first; ties (and samples with no
/// output spike) go to the larger spike count, then the lowest index. The score is
/// `−t_f·(T + 1) + N` with `t_f` from [`crate::loss::first_spike_time`] and `N = Σ_t S`.
pub fn predict_by_first_spike(spikes: Tensor<3>, lengths: Option<&Lengths>) -> Tensor<1, Int> {
    let steps = spikes.dims()[0] as f32;
    let spikes = spikes.detach();
    let first = crate::loss::first_spike_time(spikes.clone(), lengths);
    let count = sum_over_valid_steps(spikes, lengths);
    argmax(first.neg() * (steps + 1.0) + count)
}

/// Fraction of samples whose first-spike prediction is the target.
pub fn accuracy_by_first_spike(
    spikes: Tensor<3>,
    targets: Tensor<1, Int>,
    lengths: Option<&Lengths>,
) -> f64 {
    accuracy(predict_by_first_spike(spikes, lengths), targets)
}
