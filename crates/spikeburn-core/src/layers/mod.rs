//! Layers applied to time-major sequences.
//!
//! A stateless layer gives the same result at every step, so the time axis is folded into
//! the batch: `[T, B, N] → [T·B, N]`, one GEMM for the whole sequence, then unfolded again.
//! A [`Delay`] and a [`DelayedLinear`] mix steps, so they take the sequence itself.

pub mod delay;
pub mod delayed_linear;

pub use delay::{Delay, DelayConfig, delay_weight, shift_in_time};
pub use delayed_linear::DelayedLinear;

use burn::nn::Linear;
use burn::prelude::*;

/// Applies `linear` to every step of a time-major sequence `[T, B, N_in] → [T, B, N_out]`
/// with a single matrix product over `T·B` rows: `Y[t] = X[t]·W + b` (through OpenBLAS on the
/// CPU backends where the build has it: [`crate::dense`]).
pub fn linear_over_time(linear: &Linear, input: Tensor<3>) -> Tensor<3> {
    let [steps, batch, features] = input.dims();
    let folded = crate::dense::forward(
        linear,
        input.reshape([steps * batch, features]),
        crate::Kernel::Auto,
    );
    let outputs = folded.dims()[1];
    folded.reshape([steps, batch, outputs])
}
