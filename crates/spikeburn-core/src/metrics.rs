//! Classification read-outs and accuracy of a spiking classifier.

use burn::prelude::*;

/// Predicted class by spike count: `argmax_c Σ_t S[t, b, c]` for spikes `[T, B, C]` → `[B]`.
/// Ties go to the lowest class index.
pub fn predict_by_spike_count(spikes: Tensor<3>) -> Tensor<1, Int> {
    spikes
        .sum_dim(0)
        .squeeze_dim::<2>(0)
        .argmax(1)
        .squeeze_dim::<1>(1)
}

/// Predicted class by membrane: `argmax_c Σ_t U[t, b, c]` for membrane `[T, B, C]` → `[B]`.
pub fn predict_by_membrane(membrane: Tensor<3>) -> Tensor<1, Int> {
    predict_by_spike_count(membrane)
}

/// Number of predictions equal to the targets (both `[B]`).
pub fn correct(predictions: Tensor<1, Int>, targets: Tensor<1, Int>) -> usize {
    let hits = predictions.equal(targets).int().sum().into_scalar::<i64>();
    hits.max(0) as usize
}

/// Fraction of samples whose spike-count prediction is the target: `mean_b [ŷ_b = y_b]`.
pub fn accuracy_by_spike_count(spikes: Tensor<3>, targets: Tensor<1, Int>) -> f64 {
    let batch = targets.dims()[0].max(1);
    correct(predict_by_spike_count(spikes), targets) as f64 / batch as f64
}

/// Fraction of samples whose membrane prediction is the target.
pub fn accuracy_by_membrane(membrane: Tensor<3>, targets: Tensor<1, Int>) -> f64 {
    let batch = targets.dims()[0].max(1);
    correct(predict_by_membrane(membrane), targets) as f64 / batch as f64
}

/// Predicted class by maximum membrane: `argmax_c max_t U[t, b, c]`.
pub fn predict_by_max_membrane(membrane: Tensor<3>) -> Tensor<1, Int> {
    membrane
        .max_dim(0)
        .squeeze_dim::<2>(0)
        .argmax(1)
        .squeeze_dim::<1>(1)
}

/// Predicted class by first spike: the class that fires first; ties (and samples with no
/// output spike) go to the larger spike count, then the lowest index. The score is
/// `−t_f·(T + 1) + N` with `t_f` from [`crate::loss::first_spike_time`] and `N = Σ_t S`.
pub fn predict_by_first_spike(spikes: Tensor<3>) -> Tensor<1, Int> {
    let steps = spikes.dims()[0] as f32;
    let spikes = spikes.detach();
    let first = crate::loss::first_spike_time(spikes.clone());
    let count = spikes.sum_dim(0).squeeze_dim::<2>(0);
    (first.neg() * (steps + 1.0) + count)
        .argmax(1)
        .squeeze_dim::<1>(1)
}

/// Fraction of samples whose first-spike prediction is the target.
pub fn accuracy_by_first_spike(spikes: Tensor<3>, targets: Tensor<1, Int>) -> f64 {
    let batch = targets.dims()[0].max(1);
    correct(predict_by_first_spike(spikes), targets) as f64 / batch as f64
}
