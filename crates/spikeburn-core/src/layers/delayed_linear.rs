//! A fully connected layer with a delay on every synapse, fixed or learned (Hammouamri,
//! Khalfaoui-Hassani & Masquelier 2023, "Learning delays in spiking neural networks using
//! dilated convolutions with learnable spacings", ICLR 2024: the delays of a feed-forward
//! layer as the positions of the taps of a 1-D convolution over time, one per synapse, here
//! with their final-stage triangular interpolation kernel).
//!
//! With the weight `W_ij` and delay `d_ij ∈ [0, D]` of the synapse from input `i` to output
//! `j` (the delay clamped into that range when used):
//!
//! ```text
//! y_j[t] = b_j + Σ_i W_ij · Σ_{k=0..D} max(0, 1 − |d_ij − k|) · x_i[t − k]   (x[t] = 0 for t < 0)
//!        = b_j + Σ_{k=0..D} (x[t − k] · (W ⊙ K_k))_j,   K_k = max(0, 1 − |d − k|)
//! ```
//!
//! so a pass is `D + 1` products of the shifted input with the weights masked by the kernel
//! `K_k` (the cost of a dilated convolution of `D + 1` taps). A whole `d_ij` delays the
//! synapse's input exactly; a fractional one splits it between the two nearest steps, which
//! makes `d` differentiable (`∂K_k/∂d = −sign(d − k)` where `|d − k| < 1`). Fixed delays
//! (`learnable = false`) are whole numbers. [`crate::layers::Delay`] is the per-feature
//! (axonal) version, with one delay per input instead of one per synapse.

use super::delay::{delay_weight, draw_delays, shift_in_time};
use burn::module::Param;
use burn::prelude::*;
use rand::Rng;

/// A [`DelayedLinear`] layer (equations in the [module docs](self)); in a configuration,
/// `{ type = "delayed_linear", size = 256, max_delay = 25 }`.
#[derive(Module, Debug)]
pub struct DelayedLinear {
    /// `W`, `[N_in, N_out]` (burn's `Linear` layout).
    pub weight: Param<Tensor<2>>,
    /// `b`, `[N_out]`, where the layer has one.
    pub bias: Option<Param<Tensor<1>>>,
    /// `d`, steps, `[N_in, N_out]` (clamped to `[0, D]` when used).
    pub delay: Param<Tensor<2>>,
    /// `D`.
    #[module(skip)]
    pub max_delay: usize,
}

impl DelayedLinear {
    /// A layer from its weights `[N_in, N_out]`, optional bias and delays `[N_in, N_out]`
    /// (trained where `learnable`, else whole numbers are expected and kept fixed).
    pub fn new(
        weight: Param<Tensor<2>>,
        bias: Option<Param<Tensor<1>>>,
        delay: Tensor<2>,
        max_delay: usize,
        learnable: bool,
    ) -> Self {
        let delay = Param::from_tensor(delay).set_require_grad(learnable);
        Self {
            weight,
            bias,
            delay,
            max_delay,
        }
    }

    /// Delays drawn uniformly from `[0, D]` for `inputs × outputs` synapses (whole numbers
    /// unless `learnable`), as a tensor `[N_in, N_out]` on `device`.
    pub fn random_delays(
        inputs: usize,
        outputs: usize,
        max_delay: usize,
        learnable: bool,
        rng: &mut impl Rng,
        device: &Device,
    ) -> Tensor<2> {
        let values = draw_delays(inputs * outputs, max_delay, learnable, rng);
        Tensor::from_data(TensorData::new(values, [inputs, outputs]), device)
    }

    /// `[T, B, N_in] → [T, B, N_out]` (see the [module docs](self)).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [steps, batch, inputs] = x.dims();
        let weight = self.weight.val();
        let outputs = weight.dims()[1];
        let d = self.delay.val().clamp(0.0, self.max_delay as f32);
        let mut y: Tensor<2> = Tensor::zeros([steps * batch, outputs], &x.device());
        for k in 0..=self.max_delay.min(steps.saturating_sub(1)) {
            let masked = weight.clone() * delay_weight(d.clone(), k);
            let shifted = shift_in_time(x.clone(), k).reshape([steps * batch, inputs]);
            y = y + shifted.matmul(masked);
        }
        if let Some(bias) = &self.bias {
            y = y + bias.val().unsqueeze::<2>();
        }
        y.reshape([steps, batch, outputs])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor<const D: usize>(values: &[f32], dims: [usize; D], device: &Device) -> Tensor<D> {
        Tensor::from_data(TensorData::new(values.to_vec(), dims), device)
    }

    fn layer(
        w: &[f32],
        d: &[f32],
        shape: [usize; 2],
        max: usize,
        device: &Device,
    ) -> DelayedLinear {
        DelayedLinear::new(
            Param::from_tensor(tensor(w, shape, device)),
            Some(Param::from_tensor(Tensor::zeros([shape[1]], device))),
            tensor(d, shape, device),
            max,
            true,
        )
    }

    /// The definition, element by element: `y_j[t] = Σ_i W_ij Σ_k K(d_ij, k) x_i[t − k]`.
    fn by_definition(x: &[f32], w: &[f32], d: &[f32], dims: [usize; 4], max: usize) -> Vec<f32> {
        let [steps, batch, inputs, outputs] = dims;
        let mut y = vec![0.0f32; steps * batch * outputs];
        for t in 0..steps {
            for b in 0..batch {
                for j in 0..outputs {
                    let mut sum = 0.0f32;
                    for i in 0..inputs {
                        let dij = d[i * outputs + j].clamp(0.0, max as f32);
                        for k in 0..=max.min(t) {
                            let share = (1.0 - (dij - k as f32).abs()).max(0.0);
                            sum +=
                                w[i * outputs + j] * share * x[((t - k) * batch + b) * inputs + i];
                        }
                    }
                    y[(t * batch + b) * outputs + j] = sum;
                }
            }
        }
        y
    }

    #[test]
    fn whole_delays_delay_each_synapse_by_hand() {
        let device = Device::flex();
        // T = 4, B = 1, two inputs, two outputs. Input 0 spikes at step 0, input 1 at step 1.
        let x = tensor(
            &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
            [4, 1, 2],
            &device,
        );
        // W = [[1, 10], [100, 1000]] (rows: inputs), d = [[0, 2], [1, 0]]: output 0 gets input
        // 0 at once (1) and input 1 one step late (100, at step 2); output 1 gets input 0 two
        // steps late (10, at step 2) and input 1 at once (1000, at step 1).
        let l = layer(
            &[1.0, 10.0, 100.0, 1000.0],
            &[0.0, 2.0, 1.0, 0.0],
            [2, 2],
            3,
            &device,
        );
        let y = l
            .forward(x)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(y, [1.0, 0.0, 0.0, 1000.0, 100.0, 10.0, 0.0, 0.0]);
    }

    #[test]
    fn forward_equals_the_definition_with_fractional_delays() {
        let device = Device::flex();
        let dims = [6, 2, 3, 4];
        let x: Vec<f32> = (0..36).map(|i| ((i * 7 % 11) as f32) / 11.0).collect();
        let w: Vec<f32> = (0..12)
            .map(|i| ((i * 5 % 13) as f32) / 13.0 - 0.4)
            .collect();
        // Fractional, whole, and out of [0, D] (clamped) delays.
        let d = [
            0.3, 1.0, 2.7, 3.0, 0.0, 4.5, 1.25, -1.0, 2.5, 0.9, 3.6, 1.75,
        ];
        let l = layer(&w, &d, [3, 4], 4, &device);
        let y = l.forward(tensor(&x, [6, 2, 3], &device));
        let y = y.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
        let expected = by_definition(&x, &w, &d, dims, 4);
        for (e, (a, b)) in y.iter().zip(&expected).enumerate() {
            assert!((a - b).abs() < 1e-5, "y[{e}]: layer {a} vs definition {b}");
        }
    }

    #[test]
    fn delay_and_weight_gradients_match_finite_differences() {
        let device = Device::flex().autodiff();
        let x: Vec<f32> = (0..30).map(|i| ((i * 7 % 11) as f32) / 11.0).collect();
        let g: Vec<f32> = (0..20).map(|i| ((i * 3 % 7) as f32) / 7.0 - 0.5).collect();
        let w = [0.5f32, -0.25, 0.75, 0.1, -0.6, 0.3];
        // Away from whole numbers, where L is smooth in d.
        let d = [0.3f32, 1.6, 2.45, 0.7, 3.2, 1.35];
        let loss = |w: &[f32], d: &[f32], device: &Device| {
            let l = layer(w, d, [3, 2], 4, device);
            let y = l.forward(tensor(&x, [5, 2, 3], device));
            let value = (y * tensor(&g, [5, 2, 2], device)).sum();
            (l, value)
        };
        let (l, value) = loss(&w, &d, &device);
        let grads = value.backward();
        let read = |t: Option<Tensor<2>>| {
            let t = t.expect("a gradient").into_data().convert::<f32>();
            t.try_to_vec::<f32>().unwrap()
        };
        let gd = read(l.delay.val().grad(&grads));
        let gw = read(l.weight.val().grad(&grads));
        let f = |w: &[f32], d: &[f32]| loss(w, d, &Device::flex()).1.into_scalar::<f32>();
        let eps = 1e-2f32;
        for s in 0..6 {
            let (mut up, mut down) = (d, d);
            up[s] += eps;
            down[s] -= eps;
            let fd = (f(&w, &up) - f(&w, &down)) / (2.0 * eps);
            assert!(
                (gd[s] - fd).abs() < 1e-3,
                "∂L/∂d[{s}]: autodiff {} vs {fd}",
                gd[s]
            );
            let (mut up, mut down) = (w, w);
            up[s] += eps;
            down[s] -= eps;
            let fd = (f(&up, &d) - f(&down, &d)) / (2.0 * eps);
            assert!(
                (gw[s] - fd).abs() < 1e-3,
                "∂L/∂W[{s}]: autodiff {} vs {fd}",
                gw[s]
            );
        }
    }
}
