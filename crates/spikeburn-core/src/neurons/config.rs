//! The configuration of a neuron layer ([`NeuronConfig`]): which model and its own parameters
//! ([`ModelParams`]) plus the shared ones, checked by field and turned into a layer by
//! [`NeuronConfig::init`].

use super::*;

/// Description of a neuron layer: the model with its own parameters ([`ModelParams`], one
/// type per kind, declared in the model's file) and the parameters every model shares.
///
/// In TOML (`[model.neuron]`, or per layer) it is one flat table: `kind = "synaptic"`,
/// `beta = 0.9`, `alpha = 0.8`, `surrogate = { kind = "fast_sigmoid", slope = 25.0 }`, ... A
/// field of another model (`refractory` on `synaptic`) or of none is refused when the file is
/// read, naming the field (see [`crate::neuron::catalogue`]). In code:
///
/// ```
/// use spikeburn_core::synaptic::SynapticParams;
/// use spikeburn_core::{NeuronConfig, NeuronKind};
///
/// let neuron = NeuronConfig {
///     beta: 0.8,
///     ..NeuronConfig::from(SynapticParams { alpha: 0.7, ..Default::default() })
/// };
/// assert_eq!(neuron.kind(), NeuronKind::Synaptic);
/// let text = toml::to_string(&neuron).unwrap();
/// assert!(text.contains("kind = \"synaptic\"") && text.contains("alpha = 0.7"));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NeuronConfig {
    /// The model (`kind`, default `lif`) and its own parameters, in the same table.
    #[serde(flatten)]
    pub model: ModelParams,
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
    /// One `β` and `θ` (and each decay of the model) per neuron instead of one per layer
    /// (default false).
    pub per_neuron: bool,
    /// Surrogate derivative of the spike (default arctan, `α = 2`).
    pub surrogate: Surrogate,
    /// Implementation of the multi-step pass (default: fused where available).
    pub kernel: Kernel,
    /// Multiply the spikes by a learnable amplitude per neuron (graded spikes, snnTorch
    /// `graded_spikes_factor`; default false).
    pub graded_spikes: bool,
}

impl Default for NeuronConfig {
    /// A LIF neuron with [`LifConfig`]'s defaults.
    fn default() -> Self {
        LifConfig::default().into()
    }
}

impl From<LifConfig> for NeuronConfig {
    /// A `lif` layer with these shared parameters.
    fn from(lif: LifConfig) -> Self {
        Self {
            model: ModelParams::default(),
            beta: lif.beta,
            threshold: lif.threshold,
            reset: lif.reset,
            detach_reset: lif.detach_reset,
            learn_beta: lif.learn_beta,
            learn_threshold: lif.learn_threshold,
            per_neuron: lif.per_neuron,
            surrogate: lif.surrogate,
            kernel: lif.kernel,
            graded_spikes: false,
        }
    }
}

impl<P: ModelSpec + Into<ModelParams>> From<P> for NeuronConfig {
    /// A layer of the model `params` belong to, with the shared defaults.
    fn from(params: P) -> Self {
        Self {
            model: params.into(),
            ..Self::default()
        }
    }
}

impl NeuronConfig {
    /// The defaults with model `kind`.
    pub fn new(kind: NeuronKind) -> Self {
        Self {
            model: kind.default_params(),
            ..Self::default()
        }
    }

    /// The model of this layer.
    pub fn kind(&self) -> NeuronKind {
        self.model.kind()
    }

    /// The defaults with the custom model registered as `name` (see [`crate::custom`]).
    pub fn custom(name: &str) -> Self {
        CustomParams {
            name: name.to_string(),
        }
        .into()
    }

    /// The LIF part of this description (the shared fields; `β = 1`, fixed, for IF).
    pub fn lif(&self) -> LifConfig {
        self.model.lif(LifConfig {
            beta: self.beta,
            threshold: self.threshold,
            reset: self.reset,
            detach_reset: self.detach_reset,
            learn_beta: self.learn_beta,
            learn_threshold: self.learn_threshold,
            per_neuron: self.per_neuron,
            surrogate: self.surrogate,
            kernel: self.kernel,
        })
    }

    /// The length of a per-layer parameter vector for `neurons` neurons: `neurons` with
    /// [`per_neuron`](Self::per_neuron), else 1.
    pub fn parameter_len(&self, neurons: usize) -> usize {
        if self.per_neuron { neurons } else { 1 }
    }

    /// Checks the shared fields ([`LifConfig::validate`]) and the model's own
    /// ([`ModelSpec::validate`]).
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        self.lif().validate()?;
        self.model.validate(self)
    }

    /// Builds a layer of `neurons` neurons on `device`. Random initial weights (the recurrent
    /// weights of `kind = "recurrent"`, uniform in `±1/√N`) are drawn from `rng`.
    pub fn init(&self, neurons: usize, rng: &mut impl rand::Rng, device: &Device) -> NeuronLayer {
        let layer = LayerInit {
            config: self,
            lif: self.lif().init(neurons, device),
            neurons,
            rng,
            device,
        };
        NeuronLayer {
            model: self.model.init(layer),
            amplitude: self
                .graded_spikes
                .then(|| param(1.0, neurons, true, device)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `[model.neuron]` table of a run folder's `config.toml` written before the
    /// per-model parameter types (it lists every model's fields at their defaults).
    const WRITTEN_BEFORE: &str = r#"
kind = "lif"
beta = 0.95
threshold = 1.0
reset = "subtract"
detach_reset = true
learn_beta = false
learn_threshold = false
per_neuron = false
kernel = "auto"
alpha = 0.9
learn_alpha = false
refractory = 0
recurrent = "all_to_all"
adapt_decay = 0.99857247
adapt_strength = 1.8
learn_adapt = false
reversal_exc = 5.0
reversal_inh = -1.0
noise = 0.1
noise_seed = 0
graded_spikes = false

[surrogate]
kind = "atan"
alpha = 2.0
"#;

    fn parse(text: &str) -> Result<NeuronConfig, String> {
        toml::from_str(text).map_err(|e: toml::de::Error| e.message().to_string())
    }

    #[test]
    fn a_file_written_before_the_per_model_types_still_loads() {
        assert_eq!(parse(WRITTEN_BEFORE), Ok(NeuronConfig::default()));
        let synaptic = WRITTEN_BEFORE
            .replace("kind = \"lif\"", "kind = \"synaptic\"")
            .replace("alpha = 0.9", "alpha = 0.5");
        let expected = NeuronConfig::from(crate::synaptic::SynapticParams {
            alpha: 0.5,
            learn_alpha: false,
        });
        assert_eq!(parse(&synaptic), Ok(expected));
    }

    #[test]
    fn a_field_of_another_model_is_refused_by_name() {
        let cases = [
            ("synaptic", "refractory = 3", "refractory", "lif, if"),
            (
                "lif",
                "alpha = 0.5",
                "alpha",
                "synaptic, alpha, conductance",
            ),
            ("adaptive", "noise = 0.3", "noise", "stochastic"),
            (
                "lif",
                "recurrent = \"one_to_one\"",
                "recurrent",
                "recurrent",
            ),
            (
                "synaptic",
                "reversal_exc = 2.0",
                "reversal_exc",
                "conductance",
            ),
            ("custom", "noise_seed = 3", "noise_seed", "stochastic"),
        ];
        for (kind, line, field, owners) in cases {
            let text = format!("kind = \"{kind}\"\n{line}\n");
            let err = parse(&text).expect_err(&text);
            assert_eq!(
                err,
                format!(
                    "{field}: not a parameter of the {kind} neuron (only of {owners}): remove it"
                ),
            );
        }
        // The same fields on the models that use them are taken.
        let c = parse("kind = \"synaptic\"\nalpha = 0.5\n").expect("synaptic takes alpha");
        assert_eq!(
            c.model,
            ModelParams::Synaptic(crate::synaptic::SynapticParams {
                alpha: 0.5,
                learn_alpha: false
            })
        );
        let c = parse("refractory = 2\n").expect("lif (the default kind) takes refractory");
        assert_eq!(
            c.model,
            ModelParams::Lif(crate::lif::LifParams { refractory: 2 })
        );
    }

    /// Each model's own checks name the field: decays in `[0, 1]`, finite reversal
    /// potentials and adaptation strength, a positive temperature, a registered name.
    #[test]
    fn out_of_range_model_fields_are_refused_by_name() {
        let cases = [
            ("kind = \"synaptic\"\nalpha = 1.5", "alpha"),
            ("kind = \"conductance\"\nalpha = -0.1", "alpha"),
            ("kind = \"conductance\"\nreversal_exc = inf", "reversal_exc"),
            ("kind = \"conductance\"\nreversal_inh = nan", "reversal_inh"),
            ("kind = \"adaptive\"\nadapt_decay = 1.01", "adapt_decay"),
            (
                "kind = \"adaptive\"\nadapt_strength = -inf",
                "adapt_strength",
            ),
            ("kind = \"stochastic\"\nnoise = 0.0", "noise"),
            ("kind = \"alpha\"\nalpha = 0.95", "alpha"),
            ("kind = \"alpha\"\nalpha = 0.0", "alpha"),
            ("kind = \"custom\"", "name"),
        ];
        for (text, field) in cases {
            let config = parse(text).expect(text);
            let err = config.validate().expect_err(text);
            assert_eq!(err.field, field, "{text}: {err}");
        }
        // The bounds themselves are valid.
        for text in [
            "kind = \"synaptic\"\nalpha = 1.0",
            "kind = \"conductance\"\nalpha = 0.0\nreversal_inh = -5.0",
            "kind = \"adaptive\"\nadapt_decay = 0.0\nadapt_strength = -2.0",
        ] {
            parse(text).expect(text).validate().expect(text);
        }
    }

    /// `per_neuron` gives every parameter vector of a model one entry per neuron, the
    /// model's own ones included (`α`, `ρ`, `γ`, the integrator's `β`); without it, one.
    #[test]
    fn per_neuron_parameters_have_one_entry_per_neuron() {
        use crate::adaptive::AdaptiveParams;
        use crate::synaptic::SynapticParams;
        use burn::module::Param;
        use rand::SeedableRng;
        let device = Device::flex();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let len = |p: &Param<Tensor<1>>| p.val().dims()[0];
        for (per_neuron, n) in [(false, 1), (true, 7)] {
            let build = |model: ModelParams, rng: &mut rand_chacha::ChaCha8Rng| {
                NeuronConfig {
                    per_neuron,
                    model,
                    ..NeuronConfig::default()
                }
                .init(7, rng, &device)
                .model
            };
            match build(SynapticParams::default().into(), &mut rng) {
                NeuronModel::Synaptic(m) => assert_eq!(len(&m.alpha), n),
                other => panic!("{other:?}"),
            }
            match build(AdaptiveParams::default().into(), &mut rng) {
                NeuronModel::Adaptive(m) => {
                    assert_eq!([len(&m.adapt_decay), len(&m.adapt_strength)], [n, n]);
                }
                other => panic!("{other:?}"),
            }
            match build(NeuronKind::Integrator.default_params(), &mut rng) {
                NeuronModel::Integrator(m) => assert_eq!(len(&m.beta), n),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn an_unknown_field_or_kind_is_refused() {
        let err = parse("kind = \"integrator\"\ntreshold = 1.0\n").expect_err("typo");
        assert!(
            err.starts_with(
                "unknown field `treshold` (kind = \"integrator\" takes: beta, detach_reset,"
            ),
            "{err}"
        );
        let err = parse("kind = \"qif\"\n").expect_err("no such kind");
        assert!(err.starts_with("kind: unknown variant `qif`"), "{err}");
        let err = parse("kind = \"synaptic\"\nalpha = \"high\"\n").expect_err("a string");
        assert!(err.contains("expected f32"), "{err}");
    }

    #[test]
    fn every_kind_round_trips_through_toml_with_its_own_fields_only() {
        for &kind in NeuronKind::ALL {
            let config = NeuronConfig::new(kind);
            let text = toml::to_string(&config).expect("serialise");
            assert_eq!(parse(&text), Ok(config), "{text}");
            let own = kind.default_table();
            for (other, _) in NeuronKind::ALL
                .iter()
                .flat_map(|k| k.default_table())
                .filter(|(key, _)| !own.contains_key(key))
            {
                let mut top_level = text.lines().take_while(|l| !l.starts_with('['));
                assert!(
                    !top_level.any(|l| l.starts_with(&format!("{other} ="))),
                    "{kind:?} writes {other}: {text}"
                );
            }
        }
    }
}
