//! Axonal delays: each feature's spike train arrives `d_i` steps later, with `d_i` fixed or
//! learned (Hammouamri, Khalfaoui-Hassani & Masquelier 2023, "Learning delays in spiking
//! neural networks using dilated convolutions with learnable spacings", ICLR 2024 — here in
//! one dimension, per feature, with their triangular interpolation kernel).
//!
//! With the delay `d_i ∈ [0, D]` of feature `i` (clamped into that range when used):
//!
//! ```text
//! y_i[t] = Σ_{k=0..D} max(0, 1 − |d_i − k|) · x_i[t − k]          (x[t] = 0 for t < 0)
//! ∂y_i[t]/∂d_i = Σ_k −sign(d_i − k) · x_i[t − k]   over the two whole k next to d_i
//! ```
//!
//! A whole `d_i` shifts the train exactly; a fractional one splits each spike between the
//! two nearest steps, which makes the delay differentiable. Fixed delays (`learnable = false`)
//! are whole numbers drawn uniformly from `0..=D` (seeded), or given.

use burn::module::Param;
use burn::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The configuration of a [`Delay`] layer (a config's `{ type = "delay", … }`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayConfig {
    /// The largest delay `D`, in steps.
    pub max_delay: usize,
    /// Whether the delays are trained (default true).
    #[serde(default = "yes")]
    pub learnable: bool,
    /// The delays, one per feature (default: drawn from the network's seed, uniform in
    /// `[0, D]`, whole numbers when fixed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delays: Option<Vec<f32>>,
}

fn yes() -> bool {
    true
}

impl DelayConfig {
    /// Checks `max_delay ≤ 10⁴` and, when given, one finite delay in `[0, D]` per feature.
    pub fn validate(&self, features: usize) -> Result<(), crate::InvalidParameter> {
        if self.max_delay > 10_000 {
            return Err(crate::InvalidParameter::new(
                "max_delay",
                format!("expected at most 10000 steps, got {}", self.max_delay),
            ));
        }
        if let Some(d) = &self.delays {
            if d.len() != features {
                return Err(crate::InvalidParameter::new(
                    "delays",
                    format!(
                        "expected one delay per feature ({features}), got {}",
                        d.len()
                    ),
                ));
            }
            if let Some(bad) = d
                .iter()
                .find(|v| !(0.0..=self.max_delay as f32).contains(*v))
            {
                return Err(crate::InvalidParameter::new(
                    "delays",
                    format!("expected delays in [0, {}], got {bad}", self.max_delay),
                ));
            }
        }
        Ok(())
    }

    /// A layer of `features` delays on `device`, drawn from `rng` unless given.
    pub fn init(&self, features: usize, rng: &mut impl Rng, device: &Device) -> Delay {
        let values = self
            .delays
            .clone()
            .unwrap_or_else(|| draw_delays(features, self.max_delay, self.learnable, rng));
        let tensor = Tensor::from_data(TensorData::new(values, [features]), device);
        let delay = if self.learnable {
            Param::from_tensor(tensor)
        } else {
            Param::from_tensor(tensor).set_require_grad(false)
        };
        Delay {
            delay,
            max_delay: self.max_delay,
        }
    }
}

/// `count` delays drawn uniformly from `[0, max_delay]` by `rng`, rounded to whole steps
/// unless `learnable` (the initial delays of [`Delay`] and of
/// [`DelayedLinear`](super::DelayedLinear)).
pub(crate) fn draw_delays(
    count: usize,
    max_delay: usize,
    learnable: bool,
    rng: &mut impl Rng,
) -> Vec<f32> {
    let max = max_delay as f32;
    (0..count)
        .map(|_| {
            let d: f32 = rng.random_range(0.0..=max);
            if learnable { d } else { d.round() }
        })
        .collect()
}

/// A layer of per-feature delays (equations in the [module docs](self)).
#[derive(Module, Debug)]
pub struct Delay {
    /// `d_i`, steps, `[N]` (clamped to `[0, D]` when used).
    pub delay: Param<Tensor<1>>,
    /// `D`.
    #[module(skip)]
    pub max_delay: usize,
}

impl Delay {
    /// `[T, B, N] → [T, B, N]`: each feature's sequence delayed by its `d_i`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [t, _, n] = x.dims();
        let d = self
            .delay
            .val()
            .clamp(0.0, self.max_delay as f32)
            .reshape([1, 1, n]);
        let mut y = x.zeros_like();
        for k in 0..=self.max_delay.min(t.saturating_sub(1)) {
            y = y + shift_in_time(x.clone(), k) * delay_weight(d.clone(), k);
        }
        y
    }
}

/// `x` `[T, B, N]` delayed by `k < T` whole steps along time: `y[t] = x[t − k]`, zero for
/// `t < k`.
pub fn shift_in_time(x: Tensor<3>, k: usize) -> Tensor<3> {
    if k == 0 {
        return x;
    }
    let [t, b, n] = x.dims();
    Tensor::cat(
        vec![
            Tensor::zeros([k, b, n], &x.device()),
            x.slice([0..t - k, 0..b, 0..n]),
        ],
        0,
    )
}

/// The triangular interpolation kernel `max(0, 1 − |d − k|)` of the delays `d` at the whole
/// delay `k`: the share of a spike delayed by `d` that arrives `k` steps later.
pub fn delay_weight<const D: usize>(d: Tensor<D>, k: usize) -> Tensor<D> {
    (d - k as f32).abs().neg().add_scalar(1.0).clamp_min(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `max_delay` may be 10⁴ steps, not one more; given delays must be one per feature.
    #[test]
    fn validation_bounds_are_inclusive_at_ten_thousand() {
        let config = |max_delay, delays: Option<Vec<f32>>| DelayConfig {
            max_delay,
            learnable: true,
            delays,
        };
        config(10_000, None).validate(3).expect("10⁴ steps");
        let e = config(10_001, None).validate(3).expect_err("10⁴ + 1 steps");
        assert!(e.to_string().contains("max_delay"), "{e}");
        config(4, Some(vec![0.0, 4.0]))
            .validate(2)
            .expect("0 and D");
        let e = config(4, Some(vec![0.0]))
            .validate(2)
            .expect_err("one of two");
        assert!(e.to_string().contains("delays"), "{e}");
    }

    fn data(values: &[f32], dims: [usize; 3]) -> Tensor<3> {
        Tensor::from_data(TensorData::new(values.to_vec(), dims), &Device::flex())
    }

    fn layer(delays: &[f32], max_delay: usize, learnable: bool) -> Delay {
        DelayConfig {
            max_delay,
            learnable,
            delays: Some(delays.to_vec()),
        }
        .init(delays.len(), &mut rand::rng(), &Device::flex())
    }

    fn values(x: Tensor<3>) -> Vec<f32> {
        x.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn whole_delays_shift_and_fractional_ones_split_by_hand() {
        // T = 4, B = 1, N = 2: feature 0 spikes at steps 0 and 2, feature 1 at step 1.
        let x = data(&[1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0], [4, 1, 2]);
        // d = (1, 2): feature 0 at steps 1 and 3, feature 1 at step 3.
        let y = layer(&[1.0, 2.0], 3, false).forward(x.clone());
        assert_eq!(values(y), [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0]);
        // d = (0.25, 3): feature 0 split 0.75 / 0.25 between steps 0, 1 and 2, 3; feature 1
        // delayed past the end (step 4).
        let y = layer(&[0.25, 3.0], 3, true).forward(x);
        assert_eq!(values(y), [0.75, 0.0, 0.25, 0.0, 0.75, 0.0, 0.25, 0.0]);
    }

    #[test]
    fn the_delay_gradient_matches_finite_differences() {
        let device = Device::flex().autodiff();
        let x: Vec<f32> = (0..30).map(|i| ((i * 7 % 11) as f32) / 11.0).collect();
        let weights: Vec<f32> = (0..30)
            .map(|i| ((i * 5 % 13) as f32) / 13.0 - 0.4)
            .collect();
        // L(d) = Σ w ⊙ y(d): piecewise linear in d, smooth away from whole delays.
        let loss = |d: &[f32], device: &Device| {
            let layer = DelayConfig {
                max_delay: 4,
                learnable: true,
                delays: Some(d.to_vec()),
            }
            .init(3, &mut rand::rng(), device);
            let input = Tensor::<3>::from_data(TensorData::new(x.clone(), [5, 2, 3]), device);
            let w = Tensor::<3>::from_data(TensorData::new(weights.clone(), [5, 2, 3]), device);
            let l = (layer.forward(input) * w).sum();
            (layer, l)
        };
        let d = [0.3f32, 1.6, 2.45];
        let (layer, l) = loss(&d, &device);
        let grads = l.backward();
        let got = layer
            .delay
            .val()
            .grad(&grads)
            .expect("learnable")
            .into_data()
            .convert::<f32>();
        let got = got.try_to_vec::<f32>().unwrap();
        let eps = 1e-2f32;
        for i in 0..3 {
            let (mut up, mut down) = (d, d);
            up[i] += eps;
            down[i] -= eps;
            let f = |d: &[f32]| loss(d, &Device::flex()).1.into_scalar::<f32>();
            let fd = (f(&up) - f(&down)) / (2.0 * eps);
            assert!(
                (got[i] - fd).abs() < 1e-3,
                "d{i}: autodiff {} vs finite difference {fd}",
                got[i]
            );
        }
    }
}
