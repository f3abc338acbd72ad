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

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;

    /// Every step of the output is the layer applied to that step alone, against an f64 sum
    /// of the same terms within the bound of an f32 inner product of 4 terms (3 inputs and the
    /// bias) in any order: `|error| ≤ γ₄·Σ|terms|`, with `γ₄ < 4·ε`.
    #[test]
    fn linear_over_time_applies_the_layer_at_every_step() {
        let device = Device::flex();
        let linear = LinearConfig::new(3, 2).init(&device);
        let (steps, batch) = (4, 5);
        let values: Vec<f32> = (0..steps * batch * 3)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0)
            .collect();
        let x = Tensor::<3>::from_data(TensorData::new(values.clone(), [steps, batch, 3]), &device);
        let y = linear_over_time(&linear, x);
        assert_eq!(y.dims(), [steps, batch, 2]);
        fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
            t.into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .expect("f32")
        }
        let y = host(y);
        let w = host(linear.weight.val());
        let b = host(linear.bias.as_ref().expect("bias").val());
        for row in 0..steps * batch {
            for o in 0..2 {
                let terms: Vec<f64> = (0..3)
                    .map(|i| f64::from(values[row * 3 + i]) * f64::from(w[i * 2 + o]))
                    .chain([f64::from(b[o])])
                    .collect();
                let exact: f64 = terms.iter().sum();
                let bound =
                    4.0 * f64::from(f32::EPSILON) * terms.iter().map(|t| t.abs()).sum::<f64>();
                let got = f64::from(y[row * 2 + o]);
                assert!(
                    (got - exact).abs() <= bound,
                    "row {row}, output {o}: {got} vs {exact} (bound {bound})"
                );
            }
        }
    }
}
