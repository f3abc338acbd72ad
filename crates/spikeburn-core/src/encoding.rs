//! Encoders (static samples → spike or current sequences) and the delta modulator.
//!
//! Samples are intensities, ideally in `[0, 1]` (the IDX loader scales pixels to `[0, 1]`).
//! - [`Encoder::Direct`]: the sample itself is the input current at every step (the default;
//!   the first layer then runs once per batch).
//! - [`Encoder::Rate`]: at every step a Bernoulli spike with probability `clamp(g·x, 0, 1)`
//!   (snnTorch `spikegen.rate`), seeded.
//! - [`Encoder::Latency`]: one spike per feature at the time-to-first-spike of its intensity
//!   (snnTorch `spikegen.latency` with `normalize = True`): linear `t = (1 − x)·(T − 1)`, or
//!   logarithmic `t = τ·ln(x / (x − θ))` (the RC charging time to threshold `θ`) scaled so
//!   that the largest finite time of the batch is `T − 1`; features with `x ≤ θ` never fire.
//! - [`delta`]: delta modulation of a sequence into on/off channels (snnTorch
//!   `spikegen.delta` with `off_spike = True`).

use crate::error::InvalidParameter;
use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

fn one() -> f32 {
    1.0
}

fn latency_threshold() -> f32 {
    0.01
}

/// How the time axis of a latency code is scaled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyScale {
    /// `t = (1 − x)·(T − 1)`.
    #[default]
    Linear,
    /// `t ∝ ln(x / (x − θ))`, normalised to the batch.
    Log,
}

/// How a static sample becomes the network's input over time (`kind` in configuration files).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Encoder {
    /// The same input current at every step.
    #[default]
    Direct,
    /// Bernoulli spikes with probability `clamp(gain·x, 0, 1)` per step.
    Rate {
        /// Gain `g` (default 1).
        #[serde(default = "one")]
        gain: f32,
    },
    /// One spike at the intensity's time to first spike.
    Latency {
        /// Linear or logarithmic time axis (default linear).
        #[serde(default)]
        scale: LatencyScale,
        /// Intensities `≤ threshold` never fire (default 0.01).
        #[serde(default = "latency_threshold")]
        threshold: f32,
    },
}

impl Encoder {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        match *self {
            Encoder::Direct => Ok(()),
            Encoder::Rate { gain } if gain.is_finite() && gain > 0.0 => Ok(()),
            Encoder::Rate { gain } => Err(InvalidParameter::new(
                "gain",
                format!("expected a finite gain > 0, got {gain}"),
            )),
            Encoder::Latency { threshold, .. } if (0.0..1.0).contains(&threshold) => Ok(()),
            Encoder::Latency { threshold, .. } => Err(InvalidParameter::new(
                "threshold",
                format!("expected a threshold in [0, 1), got {threshold}"),
            )),
        }
    }

    /// A stateful encoder seeded with `seed` (the stochastic encoders draw stream `k` of that
    /// seed on their `k`-th call).
    pub fn seeded(&self, seed: u64) -> EncoderState {
        EncoderState {
            encoder: self.clone(),
            seed,
            passes: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// An [`Encoder`] with its random stream.
#[derive(Clone, Debug)]
pub struct EncoderState {
    /// The encoding.
    pub encoder: Encoder,
    /// Seed of the stochastic encoders.
    pub seed: u64,
    /// Calls so far.
    pub passes: Arc<AtomicU64>,
}

/// An encoded batch.
#[derive(Clone, Debug)]
pub enum Encoded {
    /// The same `[B, F]` at every step.
    Constant(Tensor<2>),
    /// A sequence `[T, B, F]`.
    Sequence(Tensor<3>),
}

impl EncoderState {
    /// Encodes a batch `[B, F]` over `steps` steps.
    pub fn encode(&self, input: Tensor<2>, steps: usize) -> Encoded {
        match self.encoder {
            Encoder::Direct => Encoded::Constant(input),
            Encoder::Rate { gain } => {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                rng.set_stream(self.passes.fetch_add(1, Ordering::Relaxed));
                Encoded::Sequence(rate(input, steps, gain, &mut rng))
            }
            Encoder::Latency { scale, threshold } => {
                Encoded::Sequence(latency(input, steps, scale, threshold))
            }
        }
    }
}

fn host(input: Tensor<2>) -> (Vec<f32>, [usize; 2], Device) {
    let dims = input.dims();
    let device = input.device();
    let values = input
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    (values, dims, device)
}

/// Rate code: `S[t, b, f] ~ Bernoulli(clamp(gain·x[b, f], 0, 1))`, drawn from `rng`.
pub fn rate(input: Tensor<2>, steps: usize, gain: f32, rng: &mut impl Rng) -> Tensor<3> {
    let (values, [batch, features], device) = host(input);
    let mut out = Vec::with_capacity(steps * values.len());
    for _ in 0..steps {
        out.extend(values.iter().map(|&x| {
            let p = (gain * x).clamp(0.0, 1.0);
            if rng.random::<f32>() < p { 1.0 } else { 0.0 }
        }));
    }
    Tensor::from_data(TensorData::new(out, [steps, batch, features]), &device)
}

/// Latency code: one spike per feature at its time to first spike (see the module docs).
pub fn latency(input: Tensor<2>, steps: usize, scale: LatencyScale, threshold: f32) -> Tensor<3> {
    let (values, [batch, features], device) = host(input);
    let last = steps.saturating_sub(1) as f32;
    let raw: Vec<Option<f32>> = values
        .iter()
        .map(|&x| {
            let x = x.clamp(0.0, 1.0);
            (x > threshold).then(|| match scale {
                LatencyScale::Linear => (1.0 - x) * last,
                LatencyScale::Log => (x / (x - threshold)).ln(),
            })
        })
        .collect();
    let norm = match scale {
        LatencyScale::Linear => 1.0,
        LatencyScale::Log => {
            let max = raw.iter().flatten().fold(0.0f32, |m, &t| m.max(t));
            if max > 0.0 { last / max } else { 1.0 }
        }
    };
    let mut out = vec![0.0f32; steps * values.len()];
    for (i, t) in raw.iter().enumerate() {
        if let Some(t) = t {
            let step = ((t * norm).round() as usize).min(steps.saturating_sub(1));
            out[step * values.len() + i] = 1.0;
        }
    }
    Tensor::from_data(TensorData::new(out, [steps, batch, features]), &device)
}

/// Delta modulation of a sequence `[T, B, F]` into `[T, B, 2F]`: on-spikes
/// `[x[t] − x[t−1] ≥ θ]` in the first `F` channels and off-spikes `[x[t−1] − x[t] ≥ θ]` in the
/// last `F`, with `x[−1] = 0` (snnTorch `spikegen.delta`, `off_spike = True`).
pub fn delta(sequence: Tensor<3>, threshold: f32) -> Tensor<3> {
    let [steps, batch, features] = sequence.dims();
    let previous = Tensor::cat(
        vec![
            sequence.zeros_like().slice(s![0..1]),
            sequence.clone().slice(s![0..steps.saturating_sub(1)]),
        ],
        0,
    );
    let change = sequence - previous;
    let on = change.clone().greater_equal_elem(threshold).float();
    let off = change.neg().greater_equal_elem(threshold).float();
    let out = Tensor::cat(vec![on, off], 2);
    debug_assert_eq!(out.dims(), [steps, batch, 2 * features]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_of_configuration_files_are_the_documented_ones() {
        let rate: Encoder = serde_json::from_str(r#"{"kind":"rate"}"#).unwrap();
        assert_eq!(rate, Encoder::Rate { gain: 1.0 });
        let latency: Encoder = serde_json::from_str(r#"{"kind":"latency"}"#).unwrap();
        assert_eq!(
            latency,
            Encoder::Latency {
                scale: LatencyScale::Linear,
                threshold: 0.01
            }
        );
    }

    #[test]
    fn validation_accepts_exactly_the_documented_ranges() {
        let rate = |gain| Encoder::Rate { gain }.validate();
        assert!(rate(1.0).is_ok() && rate(1e-6).is_ok());
        for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            let e = rate(bad).expect_err("refused");
            assert_eq!(e.field, "gain", "{bad}");
        }
        let latency = |threshold| {
            Encoder::Latency {
                scale: LatencyScale::Log,
                threshold,
            }
            .validate()
        };
        assert!(latency(0.0).is_ok() && latency(0.5).is_ok() && latency(0.999).is_ok());
        for bad in [1.0, -0.1, f32::NAN] {
            let e = latency(bad).expect_err("refused");
            assert_eq!(e.field, "threshold", "{bad}");
        }
        assert!(Encoder::Direct.validate().is_ok());
    }

    /// The step of each feature's spike in a latency code `[T, 1, F]`, `None` for silence.
    fn spike_steps(code: Tensor<3>) -> Vec<Option<usize>> {
        let [steps, _, features] = code.dims();
        let v = code.into_data().try_to_vec::<f32>().unwrap();
        (0..features)
            .map(|f| (0..steps).find(|&t| v[t * features + f] == 1.0))
            .collect()
    }

    #[test]
    fn latency_codes_by_hand() {
        let device = Device::flex();
        let x = Tensor::<2>::from_data([[0.02f32, 0.015, 0.0125, 0.01, 1.0]], &device);
        // Log: t = ln(x / (x − θ)), θ = 0.01: ln 2, ln 3, ln 5; none at x = θ; ln(100/99) for
        // x = 1. Scaled so that the largest, ln 5, is T − 1 = 10: 10·ln 2/ln 5 = 4.31 → 4,
        // 10·ln 3/ln 5 = 6.83 → 7, and 10·ln(100/99)/ln 5 = 0.06 → 0.
        let log = latency(x.clone(), 11, LatencyScale::Log, 0.01);
        assert_eq!(
            spike_steps(log),
            [Some(4), Some(7), Some(10), None, Some(0)]
        );
        // Linear: t = (1 − x)·(T − 1) = 9.8, 9.85, 9.875 → 10; none at x = θ; 0 for x = 1.
        let linear = latency(x, 11, LatencyScale::Linear, 0.01);
        assert_eq!(
            spike_steps(linear),
            [Some(10), Some(10), Some(10), None, Some(0)]
        );
    }
}
