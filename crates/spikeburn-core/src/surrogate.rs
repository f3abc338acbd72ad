//! Surrogate gradients for the spike non-linearity.
//!
//! A spiking neuron emits `S = H(U - θ)` with the Heaviside step `H(x) = 1 if x > 0 else 0`.
//! `H` has a zero derivative almost everywhere, so gradient descent cannot train through it.
//! Surrogate-gradient learning (Neftci, Mostafa & Zenke 2019, "Surrogate Gradient Learning in
//! Spiking Neural Networks") keeps the exact step in the forward pass and replaces `dH/dx` by
//! the derivative `σ'(x)` of a smooth function in the backward pass.
//!
//! [`Surrogate::spike`] builds this from standard tensor operations, so it runs (and
//! differentiates) on every burn backend:
//!
//! ```text
//! spike(x) = H(x) + (x − sg(x)) · σ'(sg(x))     where sg = stop-gradient (detach)
//! ```
//!
//! The second term is exactly zero in the forward pass (`x − x = 0`), and its derivative with
//! respect to `x` is `σ'(x)`: forward = Heaviside, backward = surrogate.

use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use serde::{Deserialize, Serialize};
use std::f32::consts::PI;

/// The surrogate derivative used in place of `dH/dx` in the backward pass.
///
/// Serialised with a `kind` tag, e.g. `{ kind = "atan", alpha = 2.0 }` in TOML. Default
/// parameters follow snnTorch (`snntorch.surrogate`), so results compare 1:1.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Surrogate {
    /// Arctangent (Fang et al. 2021; snnTorch `surrogate.atan`, default `alpha = 2`):
    /// `σ(x) = (1/π)·atan(π·α·x/2)`, `σ'(x) = (α/2) / (1 + (π·α·x/2)²)`.
    Atan {
        /// Steepness `α`; the peak of `σ'` is `α/2` at `x = 0`.
        #[serde(default = "default_alpha")]
        alpha: f32,
    },
    /// Fast sigmoid / SuperSpike (Zenke & Ganguli 2018; snnTorch `surrogate.fast_sigmoid`,
    /// default `slope = 25`): `σ(x) = x / (1 + k·|x|)`, `σ'(x) = 1 / (1 + k·|x|)²`.
    FastSigmoid {
        /// Slope `k`.
        #[serde(default = "default_slope")]
        slope: f32,
    },
    /// Logistic sigmoid (snnTorch `surrogate.sigmoid`, default `slope = 25`):
    /// `σ(x) = 1 / (1 + e^(−k·x))`, `σ'(x) = k·σ(x)·(1 − σ(x))`.
    Sigmoid {
        /// Slope `k`.
        #[serde(default = "default_slope")]
        slope: f32,
    },
    /// Straight-through estimator (Bengio et al. 2013; snnTorch
    /// `surrogate.straight_through_estimator`): `σ'(x) = 1`.
    StraightThrough,
}

fn default_alpha() -> f32 {
    2.0
}

fn default_slope() -> f32 {
    25.0
}

impl Default for Surrogate {
    /// Arctangent with `α = 2`, snnTorch's default for `snn.Leaky`.
    fn default() -> Self {
        Surrogate::Atan { alpha: 2.0 }
    }
}

impl Surrogate {
    /// Arctangent surrogate with steepness `alpha` (see [`Surrogate::Atan`]).
    pub fn atan(alpha: f32) -> Self {
        Surrogate::Atan { alpha }
    }

    /// Fast-sigmoid surrogate with `slope` (see [`Surrogate::FastSigmoid`]).
    pub fn fast_sigmoid(slope: f32) -> Self {
        Surrogate::FastSigmoid { slope }
    }

    /// Sigmoid surrogate with `slope` (see [`Surrogate::Sigmoid`]).
    pub fn sigmoid(slope: f32) -> Self {
        Surrogate::Sigmoid { slope }
    }

    /// The short name used in configuration files (`"atan"`, `"fast_sigmoid"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Surrogate::Atan { .. } => "atan",
            Surrogate::FastSigmoid { .. } => "fast_sigmoid",
            Surrogate::Sigmoid { .. } => "sigmoid",
            Surrogate::StraightThrough => "straight_through",
        }
    }

    /// Checks that the parameter is finite and positive.
    pub fn validate(&self) -> Result<(), String> {
        let (name, value) = match *self {
            Surrogate::Atan { alpha } => ("alpha", alpha),
            Surrogate::FastSigmoid { slope } | Surrogate::Sigmoid { slope } => ("slope", slope),
            Surrogate::StraightThrough => return Ok(()),
        };
        if value.is_finite() && value > 0.0 {
            Ok(())
        } else {
            Err(format!(
                "surrogate {} {name} must be a finite number > 0, got {value}",
                self.name()
            ))
        }
    }

    /// The surrogate derivative `σ'(x)` at one point (the formula of the variant's docs).
    pub fn derivative(&self, x: f32) -> f32 {
        match *self {
            Surrogate::Atan { alpha } => {
                let z = 0.5 * PI * alpha * x;
                0.5 * alpha / (1.0 + z * z)
            }
            Surrogate::FastSigmoid { slope } => {
                let d = 1.0 + slope * x.abs();
                1.0 / (d * d)
            }
            Surrogate::Sigmoid { slope } => {
                let s = 1.0 / (1.0 + (-slope * x).exp());
                slope * s * (1.0 - s)
            }
            Surrogate::StraightThrough => 1.0,
        }
    }

    /// The surrogate derivative `σ'(x)` element-wise, as a tensor (no gradient flows through
    /// it when `x` is detached).
    pub fn derivative_tensor<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match *self {
            Surrogate::Atan { alpha } => {
                let z = x * (0.5 * PI * alpha);
                (z.square() + 1.0).recip() * (0.5 * alpha)
            }
            Surrogate::FastSigmoid { slope } => (x.abs() * slope + 1.0).square().recip(),
            Surrogate::Sigmoid { slope } => {
                let s = sigmoid(x * slope);
                (s.clone() * (s.neg() + 1.0)) * slope
            }
            Surrogate::StraightThrough => x.ones_like(),
        }
    }

    /// Heaviside forward, surrogate backward: `S = H(x)` with `dS/dx := σ'(x)`.
    ///
    /// `H(0) = 0`, as in snnTorch. When `x` carries no gradient (inference), only the step is
    /// computed.
    pub fn spike<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let heaviside = x.clone().greater_elem(0.0).float();
        if !x.is_tracked() {
            return heaviside;
        }
        let fixed = x.clone().detach();
        let slope = self.derivative_tensor(fixed.clone());
        heaviside + (x - fixed) * slope
    }
}
