//! Randman: the random-manifold spike-timing benchmark of Zenke & Vogels (2021), "The
//! remarkable robustness of surrogate gradient learning for instilling complex function in
//! spiking neural networks", Neural Computation 33(4), generated locally from a seed.
//!
//! Each class `k` is a smooth random manifold of dimension `D` embedded in `N` dimensions
//! (one per input unit). Unit `u`'s coordinate on the manifold at the point `x ∈ [0, 1)^D` is
//!
//! ```text
//! f_u(x) = Π_{d<D} Σ_{i<F} θ_{u,d,0,i} · (i + 1)^(−α) · sin(2π (i·x_d·θ_{u,d,1,i} + θ_{u,d,2,i}))
//! ```
//!
//! with `θ ~ U[0, 1)` drawn per class (`θ_{u,d,0,0} = 0`: no offset), smoothness `α` (larger is
//! smoother) and `F = min(⌈prec^(−1/α)⌉, 1000)` frequencies (`prec = 10⁻³`). A sample of class
//! `k` is a point `x ~ U[0, 1)^D` on its manifold: each unit fires one spike at the time
//! `t_u = ⌊f̂_u(x) · T · step_frac⌋`, where `f̂_u` is `f_u` standardised to `[0, 1)` over the
//! class's samples (`(f − min)/(max − min + 10⁻⁷)`). With `spikes > 1`, each unit fires once on
//! each of `spikes` independent manifolds of the class. The task is to tell the manifolds
//! apart from the spike times alone (every unit fires the same number of spikes in every
//! sample).
//!
//! This follows `make_spiking_dataset` of the authors' `randman` package (github.com/fzenke/
//! randman); the random numbers are ChaCha8's, so the samples are not theirs, but the
//! distribution is.

use crate::spike_trains::SpikeTrains;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

fn default_classes() -> usize {
    10
}

/// The parameters of a Randman task (`[data.randman]` in configuration files).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandmanConfig {
    /// Classes (manifolds), default 10.
    #[serde(default = "default_classes")]
    pub classes: usize,
    /// Input units `N` (the embedding dimension), default 100.
    pub units: usize,
    /// Manifold dimension `D`, default 2.
    pub manifold_dim: usize,
    /// Smoothness `α` (the power spectrum falls as `(i + 1)^(−α)`), default 2.
    pub alpha: f64,
    /// Samples per class, default 1000.
    pub samples_per_class: usize,
    /// Time steps `T` of a sample, default 100.
    pub steps: usize,
    /// Fraction of the `T` steps the spike times span, in `(0, 1]`, default 1.
    pub step_frac: f64,
    /// Spikes per unit and sample, default 1.
    pub spikes: usize,
    /// Fraction of the samples held out as the test set, default 0.2.
    pub test_fraction: f64,
    /// Seed of the manifolds, the samples and the split.
    pub seed: u64,
}

impl Default for RandmanConfig {
    fn default() -> Self {
        RandmanConfig {
            classes: 10,
            units: 100,
            manifold_dim: 2,
            alpha: 2.0,
            samples_per_class: 1000,
            steps: 100,
            step_frac: 1.0,
            spikes: 1,
            test_fraction: 0.2,
            seed: 42,
        }
    }
}

/// Largest number of spikes a generated task may hold (`classes · samples · units · spikes`):
/// 2²⁸ events are 2 GiB.
pub const MAX_EVENTS: u128 = 1 << 28;

/// Largest number of frequencies per one-dimensional function (the reference's cut-off).
const MAX_FREQUENCIES: usize = 1000;

/// Mixed into the seed for the sample coordinates and the split.
const SAMPLE_SEED: u64 = 0x0052_414E_444D_414E; // "RANDMAN"

/// Why a Randman configuration cannot be generated: the field and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("data.randman.{field}: {message}")]
pub struct RandmanError {
    /// The field.
    pub field: &'static str,
    /// What was expected.
    pub message: String,
}

impl RandmanConfig {
    /// Checks every field's range and the size of the task.
    ///
    /// # Errors
    /// The first field out of range, or a task of more than [`MAX_EVENTS`] spikes.
    pub fn validate(&self) -> Result<(), RandmanError> {
        let err = |field, message: String| Err(RandmanError { field, message });
        for (field, value) in [
            ("classes", self.classes),
            ("units", self.units),
            ("manifold_dim", self.manifold_dim),
            ("samples_per_class", self.samples_per_class),
            ("steps", self.steps),
            ("spikes", self.spikes),
        ] {
            if value == 0 {
                return err(field, "expected a number > 0, got 0".into());
            }
        }
        if self.classes < 2 {
            return err(
                "classes",
                format!("expected at least 2, got {}", self.classes),
            );
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return err(
                "alpha",
                format!("expected a number > 0, got {}", self.alpha),
            );
        }
        if !(self.step_frac > 0.0 && self.step_frac <= 1.0) {
            return err(
                "step_frac",
                format!("expected a number in (0, 1], got {}", self.step_frac),
            );
        }
        if !(self.test_fraction >= 0.0 && self.test_fraction < 1.0) {
            return err(
                "test_fraction",
                format!("expected a number in [0, 1), got {}", self.test_fraction),
            );
        }
        let events = self.classes as u128
            * self.samples_per_class as u128
            * self.units as u128
            * self.spikes as u128;
        if events > MAX_EVENTS {
            return err(
                "samples_per_class",
                format!(
                    "the task would hold {events} spikes (classes x samples x units x spikes), \
                     more than {MAX_EVENTS}"
                ),
            );
        }
        if self.steps > u32::MAX as usize || self.units > u32::MAX as usize {
            return err("steps", "expected steps and units below 2^32".into());
        }
        Ok(())
    }

    /// Frequencies per one-dimensional function: `min(⌈prec^(−1/α)⌉, 1000)`, `prec = 10⁻³`.
    pub fn frequencies(&self) -> usize {
        let f = (1e-3f64).powf(-1.0 / self.alpha).ceil();
        if f.is_finite() && f >= 1.0 {
            (f as usize).min(MAX_FREQUENCIES)
        } else {
            MAX_FREQUENCIES
        }
    }

    /// Generates the task: the training and the test set, shuffled, `(1 − test_fraction)` of
    /// the samples for training.
    ///
    /// # Errors
    /// A configuration that does not [`validate`](Self::validate).
    pub fn generate(&self) -> Result<(SpikeTrains, SpikeTrains), RandmanError> {
        self.validate()?;
        let (n, d, f) = (self.units, self.manifold_dim, self.frequencies());
        let samples = self.samples_per_class;
        let mut all = SpikeTrains::new(self.steps, n, self.classes);
        let span = self.steps as f64 * self.step_frac;
        for class in 0..self.classes {
            let mut points = ChaCha8Rng::seed_from_u64(self.seed ^ SAMPLE_SEED);
            points.set_stream(class as u64);
            let x: Vec<f64> = (0..samples * d).map(|_| points.random::<f64>()).collect();
            // times[s][spike·n + u]
            let mut times = vec![0u32; samples * self.spikes * n];
            for spike in 0..self.spikes {
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
                rng.set_stream((class * self.spikes + spike) as u64);
                let manifold = Manifold::draw(&mut rng, n, d, f, self.alpha);
                for u in 0..n {
                    let values: Vec<f64> = (0..samples)
                        .map(|s| manifold.eval(u, &x[s * d..(s + 1) * d]))
                        .collect();
                    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    for (s, v) in values.iter().enumerate() {
                        let unit = (v - lo) / (hi - lo + 1e-7);
                        let t = (unit * span).floor().clamp(0.0, (self.steps - 1) as f64);
                        times[(s * self.spikes + spike) * n + u] = t as u32;
                    }
                }
            }
            for s in 0..samples {
                let row = &times[s * self.spikes * n..(s + 1) * self.spikes * n];
                let events = row.iter().enumerate().map(|(j, &t)| (t, (j % n) as u32));
                all.push(events, class).map_err(|e| RandmanError {
                    field: "steps",
                    message: e.to_string(),
                })?;
            }
        }
        let mut order: Vec<usize> = (0..self.classes * samples).collect();
        let mut shuffle = ChaCha8Rng::seed_from_u64(self.seed ^ SAMPLE_SEED);
        shuffle.set_stream(u64::MAX);
        order.shuffle(&mut shuffle);
        let test = ((order.len() as f64) * self.test_fraction).round() as usize;
        let (test_idx, train_idx) = order.split_at(test);
        Ok((all.subset(train_idx), all.subset(test_idx)))
    }
}

/// The parameters `θ[u][d][3][F]` of one class's manifold.
struct Manifold {
    theta: Vec<f64>,
    spectrum: Vec<f64>,
    dims: usize,
    frequencies: usize,
}

impl Manifold {
    fn draw(
        rng: &mut ChaCha8Rng,
        units: usize,
        dims: usize,
        frequencies: usize,
        alpha: f64,
    ) -> Self {
        let mut theta: Vec<f64> = (0..units * dims * 3 * frequencies)
            .map(|_| rng.random::<f64>())
            .collect();
        // No offset: the amplitude of the constant (i = 0) term is zero.
        for ud in 0..units * dims {
            theta[ud * 3 * frequencies] = 0.0;
        }
        let spectrum = (0..frequencies)
            .map(|i| ((i + 1) as f64).powf(-alpha))
            .collect();
        Manifold {
            theta,
            spectrum,
            dims,
            frequencies,
        }
    }

    /// `f_u(x)` (the module's equation).
    fn eval(&self, unit: usize, x: &[f64]) -> f64 {
        let f = self.frequencies;
        let mut product = 1.0;
        for (d, &xd) in x.iter().enumerate().take(self.dims) {
            let base = (unit * self.dims + d) * 3 * f;
            let (amp, freq, phase) = (
                &self.theta[base..base + f],
                &self.theta[base + f..base + 2 * f],
                &self.theta[base + 2 * f..base + 3 * f],
            );
            let sum: f64 = (0..f)
                .map(|i| {
                    amp[i]
                        * self.spectrum[i]
                        * (std::f64::consts::TAU * (i as f64 * xd * freq[i] + phase[i])).sin()
                })
                .sum();
            product *= sum;
        }
        product
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traits::Dataset;

    fn small() -> RandmanConfig {
        RandmanConfig {
            classes: 3,
            units: 8,
            manifold_dim: 1,
            samples_per_class: 50,
            steps: 20,
            ..RandmanConfig::default()
        }
    }

    #[test]
    fn every_unit_fires_once_per_sample_within_the_span() {
        let config = RandmanConfig {
            step_frac: 0.5,
            ..small()
        };
        let (train, test) = config.generate().expect("valid");
        assert_eq!(Dataset::len(&train) + Dataset::len(&test), 150);
        assert_eq!(Dataset::len(&test), 30);
        for i in 0..Dataset::len(&train) {
            let events = train.events(i);
            let mut units: Vec<u32> = events.iter().map(|e| e.1).collect();
            units.sort_unstable();
            assert_eq!(units, (0..8).collect::<Vec<_>>(), "sample {i}");
            assert!(events.iter().all(|e| e.0 < 10), "times beyond T·step_frac");
        }
    }

    #[test]
    fn a_unit_spans_the_whole_window_over_its_class() {
        // Standardised per class: the earliest sample of each unit fires at 0 and the
        // latest in the last step.
        let config = RandmanConfig {
            test_fraction: 0.0,
            ..small()
        };
        let (train, _) = config.generate().expect("valid");
        for class in 0..3 {
            for unit in 0..8u32 {
                let times: Vec<u32> = (0..Dataset::len(&train))
                    .filter(|&i| train.label(i) == class)
                    .flat_map(|i| train.events(i).iter().filter(|e| e.1 == unit).map(|e| e.0))
                    .collect();
                assert_eq!(times.iter().min(), Some(&0));
                assert_eq!(times.iter().max(), Some(&19));
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_task_and_another_seed_another() {
        let a = small().generate().expect("valid");
        let b = small().generate().expect("valid");
        assert_eq!(a, b);
        let c = RandmanConfig { seed: 7, ..small() }
            .generate()
            .expect("valid");
        assert_ne!(a.0, c.0);
    }

    #[test]
    fn the_function_is_the_documented_sum_of_sines() {
        // One unit, one dimension, two frequencies, by hand.
        let m = Manifold {
            theta: vec![0.0, 0.5, 0.3, 0.7, 0.1, 0.2],
            spectrum: vec![1.0, 0.25],
            dims: 1,
            frequencies: 2,
        };
        let x = 0.4;
        let expected = 0.0 + 0.5 * 0.25 * (std::f64::consts::TAU * (1.0 * x * 0.7 + 0.2)).sin();
        assert!((m.eval(0, &[x]) - expected).abs() < 1e-12);
        assert_eq!(
            RandmanConfig {
                alpha: 2.0,
                ..small()
            }
            .frequencies(),
            32
        );
        assert_eq!(
            RandmanConfig {
                alpha: 1.0,
                ..small()
            }
            .frequencies(),
            1000
        );
    }

    #[test]
    fn hostile_sizes_are_refused_before_allocating() {
        let huge = RandmanConfig {
            samples_per_class: usize::MAX / 4,
            ..small()
        };
        assert_eq!(huge.validate().unwrap_err().field, "samples_per_class");
        let zero = RandmanConfig {
            units: 0,
            ..small()
        };
        assert_eq!(zero.validate().unwrap_err().field, "units");
        let frac = RandmanConfig {
            step_frac: 1.5,
            ..small()
        };
        assert_eq!(frac.validate().unwrap_err().field, "step_frac");
    }
}
