//! The exponential integrate-and-fire neuron (EIF; Fourcaud-Trocmé et al. 2003, "How spike
//! generation mechanisms determine the neuronal response to fluctuating inputs"; Gerstner et
//! al. 2014, "Neuronal Dynamics", §5.2; SpikingJelly `EIFNode`).
//!
//! The membrane feels, besides the leak, an exponential drive that takes over near the
//! rheobase `ϑ_rh` with sharpness `Δ_T`: the upswing of a real spike. With the membrane decay
//! `β = 1 − dt/τ_m` (rest 0) and the forward-Euler step of
//! `τ_m·dU/dt = −U + Δ_T·exp((U − ϑ_rh)/Δ_T) + R·I`:
//!
//! ```text
//! E(U) = Δ_T·exp((min(U, θ) − ϑ_rh) / Δ_T)       the exponential drive, capped at θ
//! F[t] = β·U[t−1] + (1 − β)·E(U[t−1])
//! R[t] = H(U[t−1] − θ)                            (detached by default)
//! U[t] = F[t] + X[t] − θ·R[t]                     subtract reset (default)
//! U[t] = (1 − R[t])·F[t] + X[t]                   zero reset
//! U[t] = F[t] + X[t]                              no reset
//! S[t] = H(U[t] − θ)
//! ```
//!
//! from `U[−1] = 0`. Without the drive (`Δ_T → 0`) this is the LIF of [`crate::lif`]. The
//! drive is capped at the threshold: above it the neuron fires anyway, and the cap keeps
//! `exp` finite (the configuration is refused where `Δ_T·exp((θ − ϑ_rh)/Δ_T)` would overflow).
//! `ϑ_rh` and `Δ_T` are fixed; `β` and `θ` are learnable as for LIF. There is no fused kernel:
//! the multi-step pass is the loop of [`Neuron::step`].

use crate::error::InvalidParameter;
use crate::lif::{Lif, LifState, Reset};
use crate::neuron::{LayerInit, ModelSpec, Neuron, NeuronConfig, NeuronModel, NirMapping};
use burn::prelude::*;

model_params! {
    /// The parameters of kind `eif` beyond the shared ones of [`NeuronConfig`].
    pub struct EifParams {
        /// Rheobase `ϑ_rh`, below the threshold `θ` (default 0.8).
        pub rheobase: f32 = 0.8,
        /// Sharpness `Δ_T > 0` of the exponential drive (default 0.1).
        pub sharpness: f32 = 0.1,
    }
}

impl ModelSpec for EifParams {
    /// `Δ_T > 0`, `ϑ_rh < θ`, and a drive at the threshold that fits an `f32`.
    fn validate(&self, config: &NeuronConfig) -> Result<(), InvalidParameter> {
        if !(self.sharpness.is_finite() && self.sharpness > 0.0) {
            return Err(InvalidParameter::new(
                "sharpness",
                format!("expected a finite Δ_T > 0, got {}", self.sharpness),
            ));
        }
        if !(self.rheobase.is_finite() && self.rheobase < config.threshold) {
            return Err(InvalidParameter::new(
                "rheobase",
                format!(
                    "expected a rheobase below the threshold {}, got {}",
                    config.threshold, self.rheobase
                ),
            ));
        }
        let exponent = (config.threshold - self.rheobase) / self.sharpness;
        if exponent > 80.0 {
            return Err(InvalidParameter::new(
                "sharpness",
                format!(
                    "the drive at the threshold, Δ_T·exp((θ − ϑ_rh)/Δ_T) = Δ_T·exp({exponent}), \
                     overflows: raise sharpness or the rheobase"
                ),
            ));
        }
        Ok(())
    }

    fn init(&self, layer: LayerInit<'_>) -> NeuronModel {
        NeuronModel::Eif(ExponentialLif {
            lif: layer.lif,
            rheobase: self.rheobase,
            sharpness: self.sharpness,
        })
    }

    fn nir(&self) -> NirMapping {
        NirMapping::Unsupported("NIR has no exponential integrate-and-fire neuron")
    }
}

/// A layer of exponential integrate-and-fire neurons (equations in the [module docs](self)).
#[derive(Module, Debug)]
pub struct ExponentialLif {
    /// Decay `β`, threshold `θ`, reset and surrogate.
    pub lif: Lif,
    /// Rheobase `ϑ_rh`.
    pub rheobase: f32,
    /// Sharpness `Δ_T`.
    pub sharpness: f32,
}

impl Neuron for ExponentialLif {
    type State = LifState;

    fn rest(&self, batch: usize, neurons: usize, device: &Device) -> LifState {
        LifState::zeros(batch, neurons, device)
    }

    fn step(&self, input: Tensor<2>, state: LifState) -> (Tensor<2>, LifState) {
        let (beta, threshold) = self.lif.coefficients();
        let u = state.membrane;
        let capped = u.clone() - (u.clone() - threshold.clone()).clamp_min(0.0);
        let drive = ((capped - self.rheobase) / self.sharpness).exp() * self.sharpness;
        let leak = beta.clone() * u.clone() + (beta.neg() + 1.0) * drive;
        let membrane = match self.lif.reset_signal(&u, &threshold) {
            None => leak + input,
            Some(r) => {
                let r = if self.lif.detach_reset { r.detach() } else { r };
                match self.lif.reset {
                    Reset::Zero => (r.neg() + 1.0) * leak + input,
                    _ => leak + input - threshold.clone() * r,
                }
            }
        };
        let spikes = self.lif.surrogate.spike(membrane.clone() - threshold);
        (spikes, LifState { membrane })
    }

    fn membrane(state: &LifState) -> Tensor<2> {
        state.membrane.clone()
    }

    fn lif(&self) -> Option<&Lif> {
        Some(&self.lif)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NeuronKind;
    use rand::SeedableRng;

    #[test]
    fn out_of_range_parameters_are_refused_by_name() {
        let with = |rheobase, sharpness| {
            NeuronConfig::from(EifParams {
                rheobase,
                sharpness,
            })
        };
        with(0.8, 0.1).validate().expect("the defaults are valid");
        for (rheobase, sharpness, field) in [
            (1.0, 0.1, "rheobase"),
            (f32::NAN, 0.1, "rheobase"),
            (0.8, 0.0, "sharpness"),
            (0.8, -0.1, "sharpness"),
            (-20.0, 0.1, "sharpness"),
        ] {
            let err = with(rheobase, sharpness).validate().expect_err(field);
            assert_eq!(err.field, field, "{err}");
        }
    }

    /// A constant input too weak for a LIF neuron (its fixed point `I/(1 − β) = 0.95` stays
    /// below `θ = 1`) makes the EIF fire: the exponential drive near the rheobase carries the
    /// membrane over the threshold. Far below the rheobase the two agree to `(1 − β)·E(U)`.
    #[test]
    fn the_exponential_drive_fires_where_a_lif_stays_silent() {
        let device = Device::flex();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let input = Tensor::<3>::full([200, 1, 1], 0.095, &device);
        let mut spikes = |kind: NeuronKind| {
            let config = NeuronConfig {
                beta: 0.9,
                ..NeuronConfig::new(kind)
            };
            let out = config
                .init(1, &mut rng, &device)
                .forward(input.clone(), false);
            out.spikes.sum().into_scalar::<f32>()
        };
        assert_eq!(spikes(NeuronKind::Lif), 0.0);
        assert!(spikes(NeuronKind::Eif) > 0.0);
        // One step from U = 0 with input 0: U[0] = (1 − β)·Δ_T·exp(−ϑ_rh/Δ_T).
        let layer = NeuronConfig {
            beta: 0.9,
            ..NeuronConfig::new(NeuronKind::Eif)
        }
        .init(1, &mut rng, &device);
        let u = layer.forward(Tensor::<3>::zeros([1, 1, 1], &device), true);
        let u = u.membrane.expect("membrane").into_scalar::<f32>();
        let expected = 0.1 * 0.1 * (-8.0f32).exp();
        assert!((u - expected).abs() <= 1e-9, "{u} vs {expected}");
    }
}
