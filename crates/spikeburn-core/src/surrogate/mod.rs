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

use crate::registry::Registry;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;

pub(crate) mod table;

/// The surrogate derivative used in place of `dH/dx` in the backward pass.
///
/// Serialised with a `kind` tag, e.g. `{ kind = "atan", alpha = 2.0 }` in TOML. Default
/// parameters follow the anchor frameworks (snnTorch `snntorch.surrogate`, Norse
/// `norse.torch.functional.threshold`), so results compare 1:1. Every steepness parameter
/// also accepts the name `slope` in configuration files, so that a sweep can vary
/// "the slope" across surrogate shapes with one key.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Surrogate {
    /// Arctangent (Fang et al. 2021; snnTorch `surrogate.atan`, default `alpha = 2`):
    /// `σ(x) = (1/π)·atan(π·α·x/2)`, `σ'(x) = (α/2) / (1 + (π·α·x/2)²)`.
    Atan {
        /// Steepness `α`; the peak of `σ'` is `α/2` at `x = 0`.
        #[serde(default = "default_alpha", alias = "slope")]
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
    /// Triangular / piecewise-linear (Bellec et al. 2018, "Long short-term memory and
    /// learning-to-learn in networks of spiking neurons"; Norse `triangle`, default
    /// `alpha = 0.3`): `σ'(x) = α·max(0, 1 − |x|)`.
    Triangular {
        /// Height `α` of the triangle (its half-width is 1).
        #[serde(default = "default_triangle", alias = "slope")]
        alpha: f32,
    },
    /// Gaussian (the derivative of the Gaussian CDF; e.g. Yin, Corradi & Bohté 2021 use
    /// `σ_g = 0.5`): `σ'(x) = k/√(2π) · exp(−(k·x)²/2)`, i.e. a normal density of standard
    /// deviation `1/k` (default `slope = 2`).
    Gaussian {
        /// Slope `k = 1/σ_g`.
        #[serde(default = "default_gaussian")]
        slope: f32,
    },
    /// Straight-through estimator (Bengio et al. 2013; snnTorch
    /// `surrogate.straight_through_estimator`): `σ'(x) = 1`.
    StraightThrough,
    /// Spike-rate escape (Gerstner & Kistler 2002, "Spiking Neuron Models", escape noise;
    /// snnTorch `surrogate.spike_rate_escape`, defaults `beta = 1`, `slope = 25`):
    /// `σ'(x) = k·exp(−β·|x − 1|)`, exactly as snnTorch computes it (note the peak at `x = 1`).
    SpikeRateEscape {
        /// Decay `β` of the exponential.
        #[serde(default = "default_escape_beta")]
        beta: f32,
        /// Scale `k`.
        #[serde(default = "default_slope")]
        slope: f32,
    },
    /// Not a surrogate: the smooth reference of gradient diagnostics. The forward pass is
    /// the steep logistic `σ(x) = 1 / (1 + e^(−k·x))` itself instead of the Heaviside step,
    /// and the backward pass is its exact derivative `σ'(x) = k·σ(x)·(1 − σ(x))` (computed by
    /// autodiff). A network with it is a smooth function of its weights, so its gradient can be
    /// checked by finite differences; as `k → ∞` its forward pass tends to the spiking one.
    /// Used by `spikeburn diagnose` (Zenke & Vogels 2021, "The remarkable robustness of
    /// surrogate gradient learning"); it always runs the reference (non-fused) path.
    SmoothSigmoid {
        /// Steepness `k`.
        #[serde(default = "default_slope")]
        slope: f32,
    },
    /// A user-supplied derivative registered with [`register`] under a name, with one
    /// steepness parameter passed to it. In TOML: `{ kind = "custom", name = "my_surrogate",
    /// slope = 4.0 }`.
    Custom {
        /// The registered name.
        name: CustomSurrogate,
        /// The parameter handed to [`SurrogateFunction::derivative`].
        #[serde(default = "default_custom")]
        slope: f32,
    },
}

fn default_alpha() -> f32 {
    2.0
}

fn default_slope() -> f32 {
    25.0
}

fn default_triangle() -> f32 {
    0.3
}

fn default_gaussian() -> f32 {
    2.0
}

fn default_escape_beta() -> f32 {
    1.0
}

fn default_custom() -> f32 {
    1.0
}

impl Default for Surrogate {
    /// Arctangent with `α = 2`, snnTorch's default for `snn.Leaky`.
    fn default() -> Self {
        Surrogate::Atan { alpha: 2.0 }
    }
}

/// A surrogate derivative written outside the library.
///
/// Implement it (or pass a closure `Fn(x, slope) -> f32`) and [`register`] it under a name;
/// configuration files then select it with `{ kind = "custom", name = "...", slope = ... }`,
/// and the fused kernels, the reference path, sweeps and diagnostics use it like a built-in
/// one.
///
/// ```
/// use spikeburn_core::surrogate::{self, Surrogate};
/// // The derivative of a rectangular window of width 1/slope ("rectangular" surrogate,
/// // Wu et al. 2018): slope inside |x| < 1/(2·slope), 0 outside.
/// let rect = surrogate::register("rectangle", |x: f32, slope: f32| {
///     if x.abs() < 0.5 / slope { slope } else { 0.0 }
/// });
/// assert_eq!(rect.derivative(0.0), 1.0);
/// let parsed: Surrogate =
///     serde_json::from_str(r#"{"kind":"custom","name":"rectangle","slope":2.0}"#).unwrap();
/// assert_eq!(parsed.derivative(0.2), 2.0);
/// ```
pub trait SurrogateFunction: Send + Sync + 'static {
    /// `σ'(x)` for the steepness parameter `slope`.
    fn derivative(&self, x: f32, slope: f32) -> f32;

    /// `σ'(x)` element-wise on a tensor. The default reads the tensor to the host and applies
    /// [`derivative`](Self::derivative); override it with tensor operations for speed on a GPU.
    fn derivative_tensor(&self, x: Tensor<1>, slope: f32) -> Tensor<1> {
        let device = x.device();
        let values: Vec<f32> = x
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default()
            .into_iter()
            .map(|v| self.derivative(v, slope))
            .collect();
        let n = values.len();
        Tensor::from_data(TensorData::new(values, [n]), &device)
    }
}

impl<F: Fn(f32, f32) -> f32 + Send + Sync + 'static> SurrogateFunction for F {
    fn derivative(&self, x: f32, slope: f32) -> f32 {
        self(x, slope)
    }
}

static REGISTRY: Registry<dyn SurrogateFunction> = Registry::new();

/// A handle to a surrogate registered with [`register`]; serialises as its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CustomSurrogate(u32);

impl CustomSurrogate {
    /// The name it was registered under.
    pub fn name(&self) -> String {
        REGISTRY.name(self.0)
    }

    /// Looks a registered surrogate up by name.
    pub fn find(name: &str) -> Option<Self> {
        REGISTRY.find(name).map(CustomSurrogate)
    }

    /// The registry index (used by the fused kernels).
    pub fn index(&self) -> u32 {
        self.0
    }

    /// The handle with registry index `index`, if one exists.
    pub fn from_index(index: u32) -> Option<Self> {
        (index < REGISTRY.len() as u32).then_some(CustomSurrogate(index))
    }

    pub(crate) fn function(&self) -> Option<Arc<dyn SurrogateFunction>> {
        REGISTRY.get(self.0)
    }
}

/// Registers a user-supplied surrogate derivative under `name` (replacing an earlier one of
/// the same name) and returns it as a [`Surrogate`] with `slope = 1`.
pub fn register(name: &str, function: impl SurrogateFunction) -> Surrogate {
    let index = REGISTRY.insert(name, Arc::new(function));
    Surrogate::Custom {
        name: CustomSurrogate(index),
        slope: 1.0,
    }
}

impl Serialize for CustomSurrogate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for CustomSurrogate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        CustomSurrogate::find(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown custom surrogate `{name}`: register it first with \
                 spikeburn_core::surrogate::register"
            ))
        })
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

    /// Triangular surrogate of height `alpha` (see [`Surrogate::Triangular`]).
    pub fn triangular(alpha: f32) -> Self {
        Surrogate::Triangular { alpha }
    }

    /// Gaussian surrogate with `slope` (see [`Surrogate::Gaussian`]).
    pub fn gaussian(slope: f32) -> Self {
        Surrogate::Gaussian { slope }
    }

    /// Spike-rate-escape surrogate (see [`Surrogate::SpikeRateEscape`]).
    pub fn spike_rate_escape(beta: f32, slope: f32) -> Self {
        Surrogate::SpikeRateEscape { beta, slope }
    }

    /// Whether this is the smooth reference [`Surrogate::SmoothSigmoid`] (a sigmoid in the
    /// forward pass too), which the fused kernels do not implement.
    pub fn is_smooth(&self) -> bool {
        matches!(self, Surrogate::SmoothSigmoid { .. })
    }

    /// The smooth reference with steepness `k` (see [`Surrogate::SmoothSigmoid`]).
    pub fn smooth_sigmoid(k: f32) -> Self {
        Surrogate::SmoothSigmoid { slope: k }
    }

    /// Every built-in surrogate with its default parameters.
    pub fn builtins() -> [Surrogate; 7] {
        [
            Surrogate::Atan { alpha: 2.0 },
            Surrogate::FastSigmoid { slope: 25.0 },
            Surrogate::Sigmoid { slope: 25.0 },
            Surrogate::Triangular { alpha: 0.3 },
            Surrogate::Gaussian { slope: 2.0 },
            Surrogate::StraightThrough,
            Surrogate::SpikeRateEscape {
                beta: 1.0,
                slope: 25.0,
            },
        ]
    }

    /// The same shape with its steepness parameter set to `slope` (the parameter that
    /// configuration files also accept as `slope`); unchanged for the straight-through
    /// estimator.
    #[must_use]
    pub fn with_slope(self, slope: f32) -> Self {
        match self {
            Surrogate::Atan { .. } => Surrogate::Atan { alpha: slope },
            Surrogate::FastSigmoid { .. } => Surrogate::FastSigmoid { slope },
            Surrogate::Sigmoid { .. } => Surrogate::Sigmoid { slope },
            Surrogate::Triangular { .. } => Surrogate::Triangular { alpha: slope },
            Surrogate::Gaussian { .. } => Surrogate::Gaussian { slope },
            Surrogate::StraightThrough => Surrogate::StraightThrough,
            Surrogate::SpikeRateEscape { beta, .. } => Surrogate::SpikeRateEscape { beta, slope },
            Surrogate::Custom { name, .. } => Surrogate::Custom { name, slope },
            Surrogate::SmoothSigmoid { .. } => Surrogate::SmoothSigmoid { slope },
        }
    }

    /// The short name used in configuration files (`"atan"`, `"fast_sigmoid"`, ...; the
    /// registered name for a custom one).
    pub fn name(&self) -> String {
        match self {
            Surrogate::Atan { .. } => "atan".into(),
            Surrogate::FastSigmoid { .. } => "fast_sigmoid".into(),
            Surrogate::Sigmoid { .. } => "sigmoid".into(),
            Surrogate::Triangular { .. } => "triangular".into(),
            Surrogate::Gaussian { .. } => "gaussian".into(),
            Surrogate::StraightThrough => "straight_through".into(),
            Surrogate::SpikeRateEscape { .. } => "spike_rate_escape".into(),
            Surrogate::Custom { name, .. } => name.name(),
            Surrogate::SmoothSigmoid { .. } => "smooth_sigmoid".into(),
        }
    }

    /// Checks that the parameters are finite and positive.
    pub fn validate(&self) -> Result<(), String> {
        let params: &[(&str, f32)] = match *self {
            Surrogate::Atan { alpha } | Surrogate::Triangular { alpha } => &[("alpha", alpha)],
            Surrogate::FastSigmoid { slope }
            | Surrogate::Sigmoid { slope }
            | Surrogate::Gaussian { slope }
            | Surrogate::Custom { slope, .. }
            | Surrogate::SmoothSigmoid { slope } => &[("slope", slope)],
            Surrogate::SpikeRateEscape { beta, slope } => &[("beta", beta), ("slope", slope)],
            Surrogate::StraightThrough => &[],
        };
        for &(name, value) in params {
            if !(value.is_finite() && value > 0.0) {
                return Err(format!(
                    "surrogate {} {name} must be a finite number > 0, got {value}",
                    self.name()
                ));
            }
        }
        Ok(())
    }

    /// The built-in surrogate's code in the [table](table) of formulas and its two
    /// parameters `[a, b]` (the codes the fused kernels are handed), or a custom one's handle
    /// and slope. The smooth reference has the sigmoid's derivative.
    pub(crate) fn builtin(&self) -> Result<(u32, [f32; 2]), (CustomSurrogate, f32)> {
        Ok(match *self {
            Surrogate::Atan { alpha } => (0, [alpha, 0.0]),
            Surrogate::FastSigmoid { slope } => (1, [slope, 0.0]),
            Surrogate::Sigmoid { slope } | Surrogate::SmoothSigmoid { slope } => (2, [slope, 0.0]),
            Surrogate::StraightThrough => (3, [0.0, 0.0]),
            Surrogate::Triangular { alpha } => (4, [alpha, 0.0]),
            Surrogate::Gaussian { slope } => (5, [slope, 0.0]),
            Surrogate::SpikeRateEscape { beta, slope } => (6, [beta, slope]),
            Surrogate::Custom { name, slope } => return Err((name, slope)),
        })
    }

    /// The inverse of [`builtin`](Self::builtin) (the sigmoid for its shared code); `None`
    /// for a code that is not in the table.
    pub(crate) fn from_builtin(kind: u32, [a, b]: [f32; 2]) -> Option<Self> {
        Some(match kind {
            0 => Surrogate::Atan { alpha: a },
            1 => Surrogate::FastSigmoid { slope: a },
            2 => Surrogate::Sigmoid { slope: a },
            3 => Surrogate::StraightThrough,
            4 => Surrogate::Triangular { alpha: a },
            5 => Surrogate::Gaussian { slope: a },
            6 => Surrogate::SpikeRateEscape { beta: a, slope: b },
            _ => return None,
        })
    }

    /// The surrogate derivative `σ'(x)` at one point (the formula of the variant's docs,
    /// evaluated from the table in `surrogate/table.rs` that the kernels use).
    #[inline]
    pub fn derivative(&self, x: f32) -> f32 {
        match self.builtin() {
            Ok((kind, [a, b])) => table::scalar::derivative(kind, x, a, b),
            Err((name, slope)) => name.function().map_or(0.0, |f| f.derivative(x, slope)),
        }
    }

    /// The surrogate derivative `σ'(x)` element-wise, as a tensor (no gradient flows through
    /// it when `x` is detached); the same table of formulas (`surrogate/table.rs`) as the kernels.
    pub fn derivative_tensor<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self.builtin() {
            Ok((kind, [a, b])) => table::tensor::derivative(kind, x, a, b),
            Err((name, slope)) => {
                let shape = x.shape();
                let n = shape.num_elements();
                let flat = x.reshape([n]);
                let d = match name.function() {
                    Some(f) => f.derivative_tensor(flat, slope),
                    None => flat.zeros_like(),
                };
                d.reshape(shape)
            }
        }
    }

    /// Heaviside forward, surrogate backward: `S = H(x)` with `dS/dx := σ'(x)`.
    ///
    /// `H(0) = 0`, as in snnTorch. When `x` carries no gradient (inference), only the step is
    /// computed. For [`Surrogate::SmoothSigmoid`] the output is `σ(k·x)` itself (no step).
    pub fn spike<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        if let Surrogate::SmoothSigmoid { slope } = *self {
            return sigmoid(x * slope);
        }
        let heaviside = x.clone().greater_elem(0.0).float();
        if !x.is_tracked() {
            return heaviside;
        }
        let fixed = x.clone().detach();
        let slope = self.derivative_tensor(fixed.clone());
        heaviside + (x - fixed) * slope
    }
}

/// A computation generic over the surrogate derivative `σ'` (see [`with_derivative`]).
pub(crate) trait WithDerivative {
    /// What the computation returns.
    type Output;
    /// Runs the computation with `sg = σ'`.
    fn run(self, sg: impl Fn(f32) -> f32 + Sync) -> Self::Output;
}

/// Runs `work` with the derivative of `surrogate` as a concrete closure, one monomorphised
/// copy per surrogate so that the derivative inlines into the kernels' inner loops: the
/// [table](table)'s formula for a built-in one, the registered function for a custom one
/// (looked up once, not per element).
pub(crate) fn with_derivative<W: WithDerivative>(surrogate: Surrogate, work: W) -> W::Output {
    match surrogate.builtin() {
        Ok((kind, [a, b])) => table::with_builtin(kind, a, b, work),
        Err((name, slope)) => match name.function() {
            Some(f) => work.run(move |x| f.derivative(x, slope)),
            None => work.run(|_| 0.0),
        },
    }
}

#[cfg(test)]
mod tests;
