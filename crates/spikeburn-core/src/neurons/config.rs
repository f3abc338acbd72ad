//! The configuration of a neuron layer: which model ([`NeuronKind`]) and its parameters
//! ([`NeuronConfig`]), checked by field and turned into a layer by [`NeuronConfig::init`].

use super::*;

/// Which neuron model a layer uses (`kind` in configuration files).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeuronKind {
    /// Leaky integrate-and-fire ([`Lif`]); with `refractory > 0` a [`RefractoryLif`].
    #[default]
    Lif,
    /// Integrate-and-fire: a [`Lif`] with `β = 1` (no leak), not learnable.
    If,
    /// Current-based LIF with a synaptic current ([`Synaptic`]).
    Synaptic,
    /// Alpha-shaped synapse, snnTorch `Alpha` ([`Alpha`]).
    Alpha,
    /// LIF with learnable recurrent weights ([`RecurrentLif`]).
    Recurrent,
    /// LIF with an adaptive threshold ([`AdaptiveLif`]).
    Adaptive,
    /// Non-spiking leaky integrator readout ([`LeakyIntegrator`]).
    Integrator,
    /// Conductance-based LIF with excitatory and inhibitory reversal potentials
    /// ([`ConductanceLif`]).
    Conductance,
    /// LIF with escape noise: stochastic, seeded firing ([`StochasticLif`]).
    Stochastic,
    /// A model registered with [`crate::custom::register_neuron`], named by
    /// [`NeuronConfig::name`] ([`CustomNeuron`]).
    Custom,
}

/// Description of a neuron layer: the model and all its parameters (each with a default).
/// A model-specific field set on a model that does not use it (`refractory` on `synaptic`)
/// is refused by [`validate`](Self::validate), naming the field.
///
/// In TOML (`[model.neuron]`, or per layer): `kind = "synaptic"`, `beta = 0.9`,
/// `alpha = 0.8`, `surrogate = { kind = "fast_sigmoid", slope = 25.0 }`, ...
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NeuronConfig {
    /// The model (default `lif`).
    pub kind: NeuronKind,
    /// Membrane decay `β ∈ [0, 1]` per step (default 0.95). PLIF: set `learn_beta`.
    pub beta: f32,
    /// Firing threshold `θ > 0` (default 1).
    pub threshold: f32,
    /// Reset mechanism (default subtract).
    pub reset: Reset,
    /// Stop the gradient through the reset signal (default true).
    pub detach_reset: bool,
    /// Train `β` (default false).
    pub learn_beta: bool,
    /// Train `θ` (default false).
    pub learn_threshold: bool,
    /// One `β` and `θ` (and `α`) per neuron instead of one per layer (default false).
    pub per_neuron: bool,
    /// Surrogate derivative of the spike (default arctan, `α = 2`).
    pub surrogate: Surrogate,
    /// Implementation of the multi-step pass (default: fused where available).
    pub kernel: Kernel,
    /// Synaptic decay `α ∈ [0, 1]` (synaptic, alpha, conductance; default 0.9).
    pub alpha: f32,
    /// Train `α` (default false).
    pub learn_alpha: bool,
    /// Refractory period in steps (lif, if; default 0): the input is ignored for the
    /// `refractory` steps after a spike.
    pub refractory: usize,
    /// Recurrent connection of `kind = "recurrent"` (default all-to-all).
    pub recurrent: RecurrentKind,
    /// Decay `ρ` of the threshold adaptation (adaptive; default `exp(−1/700)`, Bellec et al.
    /// 2018 with `τ_a = 700` steps).
    pub adapt_decay: f32,
    /// Strength `γ` of the threshold adaptation (adaptive; default 1.8, Bellec et al. 2018).
    pub adapt_strength: f32,
    /// Train `ρ` and `γ` (adaptive; default false): with `per_neuron`, one of each per
    /// neuron, as the learnable adaptation of the SHD literature.
    pub learn_adapt: bool,
    /// Excitatory reversal potential `E_e` (conductance; default 5, in units where rest = 0).
    pub reversal_exc: f32,
    /// Inhibitory reversal potential `E_i` (conductance; default −1).
    pub reversal_inh: f32,
    /// Escape-noise temperature `τ_n > 0` (stochastic; default 0.1).
    pub noise: f32,
    /// Seed of the escape noise (stochastic; default 0).
    pub noise_seed: u64,
    /// Multiply the spikes by a learnable amplitude per neuron (graded spikes, snnTorch
    /// `graded_spikes_factor`; default false).
    pub graded_spikes: bool,
    /// The registered name of a `kind = "custom"` model (see [`crate::custom`]); only with
    /// that kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Default for NeuronConfig {
    /// A LIF neuron with [`LifConfig`]'s defaults and each other model's defaults.
    fn default() -> Self {
        LifConfig::default().into()
    }
}

impl From<LifConfig> for NeuronConfig {
    fn from(lif: LifConfig) -> Self {
        Self {
            kind: NeuronKind::Lif,
            beta: lif.beta,
            threshold: lif.threshold,
            reset: lif.reset,
            detach_reset: lif.detach_reset,
            learn_beta: lif.learn_beta,
            learn_threshold: lif.learn_threshold,
            per_neuron: lif.per_neuron,
            surrogate: lif.surrogate,
            kernel: lif.kernel,
            alpha: 0.9,
            learn_alpha: false,
            refractory: 0,
            recurrent: RecurrentKind::AllToAll,
            adapt_decay: (-1.0f32 / 700.0).exp(),
            adapt_strength: 1.8,
            learn_adapt: false,
            reversal_exc: 5.0,
            reversal_inh: -1.0,
            noise: 0.1,
            noise_seed: 0,
            graded_spikes: false,
            name: None,
        }
    }
}

impl NeuronConfig {
    /// The defaults with model `kind`.
    pub fn new(kind: NeuronKind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    /// The LIF part of this description (`β = 1`, fixed, for IF).
    pub fn lif(&self) -> LifConfig {
        let integrate_and_fire = self.kind == NeuronKind::If;
        LifConfig {
            beta: if integrate_and_fire { 1.0 } else { self.beta },
            threshold: self.threshold,
            reset: self.reset,
            detach_reset: self.detach_reset,
            learn_beta: self.learn_beta && !integrate_and_fire,
            learn_threshold: self.learn_threshold,
            per_neuron: self.per_neuron,
            surrogate: self.surrogate,
            kernel: self.kernel,
        }
    }

    /// The defaults with the custom model registered as `name` (see [`crate::custom`]).
    pub fn custom(name: &str) -> Self {
        Self {
            kind: NeuronKind::Custom,
            name: Some(name.to_string()),
            ..Self::default()
        }
    }

    /// Checks every field a model uses (for `kind = "custom"`: that `name` is registered).
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        self.lif().validate()?;
        match (self.kind, &self.name) {
            (NeuronKind::Custom, None) => {
                return Err(InvalidParameter::new(
                    "name",
                    "kind = \"custom\" needs the name of a registered neuron model",
                ));
            }
            (NeuronKind::Custom, Some(name)) if CustomNeuronId::find(name).is_none() => {
                let known = registered_neurons();
                return Err(InvalidParameter::new(
                    "name",
                    format!(
                        "unknown custom neuron `{name}` (register it first with \
                         spikeburn_core::custom::register_neuron; registered: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
            (NeuronKind::Custom, Some(_)) => {}
            (kind, Some(_)) => {
                return Err(InvalidParameter::new(
                    "name",
                    format!("only kind = \"custom\" takes a name (kind is {kind:?})"),
                ));
            }
            (_, None) => {}
        }
        let unit = |field: &str, value: f32| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(InvalidParameter::new(
                    field,
                    format!("expected a decay in [0, 1], got {value}"),
                ))
            }
        };
        unit("alpha", self.alpha)?;
        unit("adapt_decay", self.adapt_decay)?;
        if self.kind == NeuronKind::Alpha && !(self.alpha > 0.0 && self.beta > 0.0) {
            return Err(InvalidParameter::new(
                "alpha",
                "the alpha neuron needs alpha and beta in (0, 1] with alpha != beta",
            ));
        }
        if self.kind == NeuronKind::Alpha && self.alpha == self.beta {
            return Err(InvalidParameter::new(
                "alpha",
                format!(
                    "the alpha neuron needs alpha != beta, both are {}",
                    self.alpha
                ),
            ));
        }
        let finite = |field: &str, value: f32| {
            if value.is_finite() {
                Ok(())
            } else {
                Err(InvalidParameter::new(
                    field,
                    format!("expected a finite number, got {value}"),
                ))
            }
        };
        self.check_fields_belong()?;
        finite("adapt_strength", self.adapt_strength)?;
        finite("reversal_exc", self.reversal_exc)?;
        finite("reversal_inh", self.reversal_inh)?;
        if !(self.noise.is_finite() && self.noise > 0.0) {
            return Err(InvalidParameter::new(
                "noise",
                format!("expected a finite temperature > 0, got {}", self.noise),
            ));
        }
        Ok(())
    }

    /// A model-specific field set (to anything but its default) on a model that does not use
    /// it is an error naming the field and the models that do: `refractory = 3` on
    /// `kind = "synaptic"` would otherwise be silently ignored. A custom model may read any
    /// field.
    fn check_fields_belong(&self) -> Result<(), InvalidParameter> {
        use NeuronKind::*;
        let d = Self::default();
        let fields: [(&str, bool, &[NeuronKind]); 11] = [
            ("refractory", self.refractory != d.refractory, &[Lif, If]),
            (
                "alpha",
                self.alpha != d.alpha,
                &[Synaptic, Alpha, Conductance],
            ),
            (
                "learn_alpha",
                self.learn_alpha != d.learn_alpha,
                &[Synaptic, Alpha, Conductance],
            ),
            ("recurrent", self.recurrent != d.recurrent, &[Recurrent]),
            (
                "adapt_decay",
                self.adapt_decay != d.adapt_decay,
                &[Adaptive],
            ),
            (
                "adapt_strength",
                self.adapt_strength != d.adapt_strength,
                &[Adaptive],
            ),
            (
                "learn_adapt",
                self.learn_adapt != d.learn_adapt,
                &[Adaptive],
            ),
            (
                "reversal_exc",
                self.reversal_exc != d.reversal_exc,
                &[Conductance],
            ),
            (
                "reversal_inh",
                self.reversal_inh != d.reversal_inh,
                &[Conductance],
            ),
            ("noise", self.noise != d.noise, &[Stochastic]),
            ("noise_seed", self.noise_seed != d.noise_seed, &[Stochastic]),
        ];
        for (field, set, users) in fields {
            if set && self.kind != Custom && !users.contains(&self.kind) {
                let names: Vec<String> = users
                    .iter()
                    .map(|k| format!("{k:?}").to_lowercase())
                    .collect();
                return Err(InvalidParameter::new(
                    field,
                    format!(
                        "not a parameter of the {} neuron (only of {}): remove it",
                        format!("{:?}", self.kind).to_lowercase(),
                        names.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Builds a layer of `neurons` neurons on `device`. The recurrent weights of
    /// `kind = "recurrent"` are drawn from `rng` (uniform in `±1/√N`).
    pub fn init(&self, neurons: usize, rng: &mut impl rand::Rng, device: &Device) -> NeuronLayer {
        let lif = self.lif().init(neurons, device);
        let n = if self.per_neuron { neurons } else { 1 };
        let model = match self.kind {
            NeuronKind::Lif | NeuronKind::If if self.refractory > 0 => {
                NeuronModel::Refractory(RefractoryLif::new(lif, self.refractory))
            }
            NeuronKind::Lif | NeuronKind::If => NeuronModel::Lif(lif),
            NeuronKind::Synaptic => NeuronModel::Synaptic(Synaptic {
                alpha: param(self.alpha, n, self.learn_alpha, device),
                lif,
            }),
            NeuronKind::Alpha => NeuronModel::Alpha(Alpha {
                alpha: param(self.alpha, n, self.learn_alpha, device),
                lif,
            }),
            NeuronKind::Recurrent => {
                NeuronModel::Recurrent(RecurrentLif::new(lif, self.recurrent, neurons, rng, device))
            }
            NeuronKind::Adaptive => NeuronModel::Adaptive(AdaptiveLif {
                lif,
                adapt_decay: param(self.adapt_decay, n, self.learn_adapt, device),
                adapt_strength: param(self.adapt_strength, n, self.learn_adapt, device),
            }),
            NeuronKind::Integrator => NeuronModel::Integrator(LeakyIntegrator {
                beta: param(self.beta, n, self.learn_beta, device),
                kernel: self.kernel,
            }),
            NeuronKind::Conductance => NeuronModel::Conductance(ConductanceLif {
                alpha: param(self.alpha, n, self.learn_alpha, device),
                reversal_exc: self.reversal_exc,
                reversal_inh: self.reversal_inh,
                lif,
            }),
            NeuronKind::Stochastic => {
                NeuronModel::Stochastic(StochasticLif::new(lif, self.noise, self.noise_seed))
            }
            NeuronKind::Custom => NeuronModel::Custom(CustomNeuron {
                lif,
                id: self
                    .name
                    .as_deref()
                    .and_then(CustomNeuronId::find)
                    .expect("NeuronConfig::init needs a valid config (call validate)"),
            }),
        };
        NeuronLayer {
            model,
            amplitude: self
                .graded_spikes
                .then(|| param(1.0, neurons, true, device)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_of_another_model_is_refused_by_name() {
        type Case = (NeuronKind, fn(&mut NeuronConfig), &'static str);
        let cases: [Case; 5] = [
            (NeuronKind::Synaptic, |c| c.refractory = 3, "refractory"),
            (NeuronKind::Lif, |c| c.alpha = 0.5, "alpha"),
            (NeuronKind::Adaptive, |c| c.noise = 0.3, "noise"),
            (
                NeuronKind::Lif,
                |c| c.recurrent = RecurrentKind::OneToOne,
                "recurrent",
            ),
            (
                NeuronKind::Synaptic,
                |c| c.reversal_exc = 2.0,
                "reversal_exc",
            ),
        ];
        for (kind, set, field) in cases {
            let mut c = NeuronConfig::new(kind);
            c.validate().expect("the defaults are valid");
            set(&mut c);
            let err = c.validate().expect_err(field);
            assert_eq!(err.field, field, "{err}");
        }
        // The same fields on the models that use them are fine.
        let mut c = NeuronConfig::new(NeuronKind::Synaptic);
        c.alpha = 0.5;
        c.validate().expect("synaptic takes alpha");
        let mut c = NeuronConfig::new(NeuronKind::Lif);
        c.refractory = 2;
        c.validate().expect("lif takes refractory");
    }
}
