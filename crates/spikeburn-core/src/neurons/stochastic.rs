//! LIF with escape noise: the neuron fires at random with a probability that is a smooth
//! function of the membrane (Gerstner & Kistler 2002, "Spiking Neuron Models", §5.3; the
//! stochastic neurons of Ma et al. 2023 and snnTorch's `StochasticSpikeOperator` idea).
//!
//! ```text
//! U[t] = β·U[t−1] + X[t] − θ·S[t−1]            (the reset uses the sampled spike)
//! p[t] = sigmoid((U[t] − θ) / τ_n)             firing probability, temperature τ_n
//! S[t] = [ξ[t] < p[t]],   ξ[t] ~ Uniform(0, 1)  seeded
//! ∂S[t]/∂U[t] := p[t]·(1 − p[t]) / τ_n         the exact derivative of E[S[t]] = p[t]
//! ```
//!
//! The noise is drawn on the host by ChaCha8 seeded with the layer's seed; pass number `k`
//! from rest (counted per layer) uses stream `k`, so every batch sees fresh noise and a run
//! is reproducible. [`StochasticLif::rewind`] restarts the count. On the CPU backends the
//! multi-step pass draws the pass's noise up front, in the same order, and runs one fused
//! scan ([`crate::fused::stochastic`]; equal to the step loop in spikes, values and every
//! gradient, tested); on burn-wgpu the step loop runs.

use crate::error::InvalidParameter;
use crate::fused;
use crate::lif::{Lif, Reset};
use crate::neuron::{
    LayerInit, ModelSpec, Neuron, NeuronConfig, NeuronModel, NeuronOutput, NirMapping, step_loop,
};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A layer of stochastic (escape-noise) LIF neurons (equations in the [module docs](self)).
#[derive(Module, Debug)]
pub struct StochasticLif {
    /// Decay `β`, threshold `θ`, reset (the surrogate is not used: the backward pass uses the
    /// derivative of the firing probability).
    pub lif: Lif,
    /// Temperature `τ_n` of the escape noise.
    pub noise: f32,
    /// Seed of the noise.
    pub seed: u64,
    /// Passes from rest so far (the noise stream of the next pass).
    #[module(skip)]
    pub passes: Arc<AtomicU64>,
}

model_params! {
    /// The parameters of kind `stochastic` beyond the shared ones of [`NeuronConfig`].
    pub struct StochasticParams {
        /// Escape-noise temperature `τ_n > 0` (default 0.1).
        pub noise: f32 = 0.1,
        /// Seed of the escape noise (default 0).
        pub noise_seed: u64 = 0,
    }
}

impl ModelSpec for StochasticParams {
    fn validate(&self, _: &NeuronConfig) -> Result<(), InvalidParameter> {
        if self.noise.is_finite() && self.noise > 0.0 {
            Ok(())
        } else {
            Err(InvalidParameter::new(
                "noise",
                format!("expected a finite temperature > 0, got {}", self.noise),
            ))
        }
    }

    fn init(&self, layer: LayerInit<'_>) -> NeuronModel {
        NeuronModel::Stochastic(StochasticLif::new(layer.lif, self.noise, self.noise_seed))
    }

    fn nir(&self) -> NirMapping {
        NirMapping::Unsupported("NIR neurons are deterministic (no escape noise)")
    }
}

/// The state of a [`StochasticLif`] layer.
#[derive(Clone, Debug)]
pub struct StochasticState {
    /// Membrane `U`, `[B, N]`.
    pub membrane: Tensor<2>,
    /// The previous step's spikes, `[B, N]`.
    pub spikes: Tensor<2>,
    /// The noise generator of this pass.
    pub rng: ChaCha8Rng,
}

impl StochasticLif {
    /// A stochastic layer over `lif` with temperature `noise` and `seed`.
    pub fn new(lif: Lif, noise: f32, seed: u64) -> Self {
        Self {
            lif,
            noise,
            seed,
            passes: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Restarts the noise: the next pass from rest replays the first pass's noise.
    pub fn rewind(&self) {
        self.passes.store(0, Ordering::Relaxed);
    }
}

impl Neuron for StochasticLif {
    type State = StochasticState;

    fn rest(&self, batch: usize, neurons: usize, device: &Device) -> StochasticState {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(self.passes.fetch_add(1, Ordering::Relaxed));
        StochasticState {
            membrane: Tensor::zeros([batch, neurons], device),
            spikes: Tensor::zeros([batch, neurons], device),
            rng,
        }
    }

    fn step(&self, input: Tensor<2>, mut state: StochasticState) -> (Tensor<2>, StochasticState) {
        let (beta, threshold) = self.lif.coefficients();
        let reset = (self.lif.reset != Reset::None).then(|| state.spikes.clone());
        let membrane = self
            .lif
            .integrate(state.membrane, input, reset, &beta, &threshold);
        let probability = sigmoid((membrane.clone() - threshold) / self.noise);
        let [batch, neurons] = probability.dims();
        let noise: Vec<f32> = (0..batch * neurons)
            .map(|_| state.rng.random::<f32>())
            .collect();
        let noise = Tensor::<2>::from_data(
            TensorData::new(noise, [batch, neurons]),
            &probability.device(),
        );
        let fired = probability.clone().greater(noise).float();
        let spikes = if probability.is_tracked() {
            let fixed = probability.clone().detach();
            fired + (probability - fixed)
        } else {
            fired
        };
        (
            spikes.clone(),
            StochasticState {
                membrane,
                spikes,
                rng: state.rng,
            },
        )
    }

    fn membrane(state: &StochasticState) -> Tensor<2> {
        state.membrane.clone()
    }

    fn lif(&self) -> Option<&Lif> {
        Some(&self.lif)
    }

    /// The fused scan on noise drawn up front where the backend has it, else [`step_loop`].
    fn forward_sequence(&self, input: Tensor<3>, keep_membrane: bool) -> NeuronOutput {
        let device = input.device();
        if self.lif.kernel != crate::lif::Kernel::Auto || !fused::supports_cpu_scans(&device) {
            return step_loop(self, input, keep_membrane);
        }
        let [steps, batch, neurons] = input.dims();
        // The noise of this pass, drawn as the step loop draws it: the stream of `rest`, then
        // batch × neurons values per step.
        let mut rng = self.rest(batch, neurons, &device).rng;
        let noise: Vec<f32> = (0..steps * batch * neurons)
            .map(|_| rng.random::<f32>())
            .collect();
        let noise =
            Tensor::<3>::from_data(TensorData::new(noise, [steps, batch, neurons]), &device);
        let beta = self.lif.beta.val().clamp(0.0, 1.0);
        let threshold = self.lif.threshold.val();
        let scan = |output_membrane: bool| {
            fused::stochastic::stochastic_scan(
                input.clone(),
                beta.clone(),
                threshold.clone(),
                noise.clone(),
                self.noise,
                self.lif.scan_settings(output_membrane),
            )
        };
        NeuronOutput {
            spikes: scan(false),
            membrane: keep_membrane.then(|| scan(true)),
        }
    }
}
