//! The machinery behind the catalogue of built-in models: the [`ModelSpec`] trait that each
//! model's parameter type implements in the model's own file, the `catalogue!` macro that
//! turns one entry per model into the [`NeuronModel`], [`NeuronKind`] and
//! [`ModelParams`](super::ModelParams) enums with their dispatch, and the configuration format
//! of the model-specific fields.
//!
//! In a configuration file a neuron is one flat table: `kind`, the shared fields of
//! [`NeuronConfig`] (`beta`, `threshold`, `surrogate` …) and the fields of that kind's
//! parameter type (`alpha` for `synaptic`, `refractory` for `lif` …). A field of another model
//! is an error naming it and the models it belongs to; a field of no model is an error listing
//! the fields the kind takes. Files written before the per-model types
//! existed list every model's fields at their defaults: a field of another model that holds
//! that model's default is accepted and ignored, so those run folders still load.

use super::{NeuronConfig, NeuronKind, NeuronModel};
use crate::error::InvalidParameter;
use crate::lif::{Lif, LifConfig};
use burn::module::Param;
use burn::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

/// The model-specific part of a neuron configuration: one type per kind, declared in the
/// model's file (e.g. [`SynapticParams`](crate::synaptic::SynapticParams)) and listed once in
/// the catalogue (`neurons/mod.rs`). Its serde fields are the model's configuration keys; its
/// `Default` gives each key's default.
pub trait ModelSpec:
    Clone + std::fmt::Debug + Default + PartialEq + Serialize + DeserializeOwned
{
    /// Checks the model's own fields (`config` holds the shared ones, `β`, `θ` …); an error
    /// names the field.
    fn validate(&self, config: &NeuronConfig) -> Result<(), InvalidParameter> {
        let _ = config;
        Ok(())
    }

    /// The LIF part the model is built from, given the one the shared fields describe (IF
    /// fixes `β = 1`).
    fn lif(&self, shared: LifConfig) -> LifConfig {
        shared
    }

    /// Builds the layer's model from `layer`: the LIF part (built from [`ModelSpec::lif`]),
    /// the shared fields, and the size, random source and device.
    fn init(&self, layer: LayerInit<'_>) -> NeuronModel;

    /// The model's NIR counterpart, or why it has none (the NIR exporter refuses such a
    /// layer with this reason). Every model states it.
    fn nir(&self) -> NirMapping;

    /// Learnable parameters of a layer of `neurons` neurons beyond `β`, `θ` and the model's
    /// decays (the `N×N` recurrent weights), for the memory estimate, which counts in `f64`
    /// so that no size overflows.
    fn extra_parameters(&self, neurons: f64) -> f64 {
        let _ = neurons;
        0.0
    }
}

/// What [`ModelSpec::init`] builds a layer from.
pub struct LayerInit<'a> {
    /// The whole neuron configuration (its shared fields: `β`, `θ`, `per_neuron` …).
    pub config: &'a NeuronConfig,
    /// The LIF part, built from [`ModelSpec::lif`] of the shared fields.
    pub lif: Lif,
    /// Neurons in the layer, `N`.
    pub neurons: usize,
    /// The source of random initial weights.
    pub rng: &'a mut dyn rand::RngCore,
    /// Where the parameters live.
    pub device: &'a Device,
}

impl LayerInit<'_> {
    /// A parameter vector of `value`s, `[1]` (one per layer) or, with `per_neuron`, `[N]`;
    /// trainable when `learn`.
    pub fn param(&self, value: f32, learn: bool) -> Param<Tensor<1>> {
        super::param(
            value,
            self.config.parameter_len(self.neurons),
            learn,
            self.device,
        )
    }
}

/// Declares a model's parameter type with each field's default beside it: the struct (serde
/// `default` and `deny_unknown_fields`, so a configuration gives any subset of its keys) and
/// its `Default`.
///
/// ```text
/// model_params! {
///     /// The parameters of kind `synaptic` …
///     pub struct SynapticParams {
///         /// Synaptic decay `α ∈ [0, 1]` (default 0.9).
///         pub alpha: f32 = 0.9,
///     }
/// }
/// ```
macro_rules! model_params {
    (
        $(#[doc = $doc:literal])*
        pub struct $name:ident {
            $($(#[doc = $field_doc:literal])* pub $field:ident: $ty:ty = $default:expr),* $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            $($(#[doc = $field_doc])* pub $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    $($field: $default,)*
                }
            }
        }
    };
}

/// How a model maps onto the Neuromorphic Intermediate Representation (NIR, Pedersen et al.
/// 2024, "NIR: a unified instruction set for brain-inspired computing"); the conversions
/// themselves are in spikeburn-nir's `convert` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NirMapping {
    /// Exported as (and imported from) this NIR node, e.g. `"CubaLIF"`.
    Node(&'static str),
    /// No NIR counterpart, for this reason (e.g. "NIR has no adaptive threshold").
    Unsupported(&'static str),
}

/// `value` checked to lie in `[0, 1]` (a decay), as an error naming `field`.
pub(crate) fn check_decay(field: &str, value: f32) -> Result<(), InvalidParameter> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(InvalidParameter::new(
            field,
            format!("expected a decay in [0, 1], got {value}"),
        ))
    }
}

/// `value` checked to be finite, as an error naming `field`.
pub(crate) fn check_finite(field: &str, value: f32) -> Result<(), InvalidParameter> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(InvalidParameter::new(
            field,
            format!("expected a finite number, got {value}"),
        ))
    }
}

/// The configuration keys of `P` with their defaults.
pub(crate) fn default_table<P: ModelSpec>() -> toml::Table {
    toml::Table::try_from(P::default()).unwrap_or_default()
}

/// Parses the model-specific fields `table` (only keys of `P`) as `P`.
pub(crate) fn parse_as<P: ModelSpec>(table: toml::Table) -> Result<P, String> {
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim().to_string())
}

/// Whether `value` is `P`'s default for `key` (compared after parsing, so `0.9` equals the
/// `f32` default written as `0.8999999761581421`).
pub(crate) fn is_default_of<P: ModelSpec>(key: &str, value: &toml::Value) -> bool {
    let mut one = toml::Table::new();
    one.insert(key.to_string(), value.clone());
    parse_as::<P>(one).is_ok_and(|p| p == P::default())
}

/// Splits a neuron's model-specific fields from the rest of its table (what serde left after
/// the shared fields) and parses them for the table's `kind` (see the [module docs](self)).
pub(crate) fn model_from_table(mut table: toml::Table) -> Result<super::ModelParams, String> {
    let kind: NeuronKind = match table.remove("kind") {
        Some(value) => value
            .try_into()
            .map_err(|e: toml::de::Error| format!("kind: {}", e.message().trim()))?,
        None => NeuronKind::default(),
    };
    let own_keys = kind.default_table();
    let mut own = toml::Table::new();
    for (key, value) in table {
        if own_keys.contains_key(&key) {
            own.insert(key, value);
            continue;
        }
        let owners: Vec<NeuronKind> = NeuronKind::ALL
            .iter()
            .copied()
            .filter(|k| k.default_table().contains_key(&key))
            .collect();
        match owners.first() {
            None => {
                let expected = toml::Table::try_from(NeuronConfig::new(kind))
                    .map(|t| t.keys().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default();
                return Err(format!(
                    "unknown field `{key}` (kind = \"{kind}\" takes: {expected})"
                ));
            }
            Some(owner) if owner.field_is_default(&key, &value) => {}
            Some(_) => {
                let names: Vec<String> = owners.iter().map(|k| k.name()).collect();
                return Err(format!(
                    "{key}: not a parameter of the {} neuron (only of {}): remove it",
                    kind.name(),
                    names.join(", ")
                ));
            }
        }
    }
    kind.parse(own)
}

impl Default for NeuronKind {
    /// `lif`.
    fn default() -> Self {
        NeuronKind::Lif
    }
}

impl NeuronKind {
    /// The name in configuration files (`"lif"`, `"synaptic"` …).
    pub fn name(self) -> String {
        match toml::Value::try_from(self) {
            Ok(toml::Value::String(name)) => name,
            _ => format!("{self:?}").to_lowercase(),
        }
    }
}

impl std::fmt::Display for NeuronKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl Default for super::ModelParams {
    /// The default kind's defaults (LIF).
    fn default() -> Self {
        NeuronKind::default().default_params()
    }
}

impl<'de> Deserialize<'de> for super::ModelParams {
    /// From the neuron's table less its shared fields (see the [module docs](self)).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let table = toml::Table::deserialize(deserializer)?;
        model_from_table(table).map_err(serde::de::Error::custom)
    }
}

/// Declares the catalogue of built-in models. Each entry is a one-line doc comment and a name
/// with its parameter type (`kind:`, a [`ModelSpec`]; the name in configuration files is the
/// snake-case name) and/or the layer type it adds to [`NeuronModel`] (`model:`); an entry with
/// both is one model, as most are. The macro defines [`NeuronModel`], [`NeuronKind`] and
/// [`ModelParams`](super::ModelParams) and their dispatch.
macro_rules! catalogue {
    ($(
        #[doc = $doc:literal]
        $name:ident { $(kind: $params:ty,)? $(model: $model:ty,)? }
    ),* $(,)?) => {
        /// One neuron model (the enum lets a network hold any of them in one list).
        #[derive(Module, Debug)]
        #[allow(clippy::large_enum_variant)]
        pub enum NeuronModel {
            $($(
                #[doc = $doc]
                #[doc = concat!("\n\nThe layer: [`", stringify!($model), "`].")]
                $name($model),
            )?)*
        }

        impl NeuronModel {
            /// Runs the sequence `[T, B, N]` from rest with the model's multi-step pass.
            pub fn forward_sequence(&self, input: Tensor<3>, keep_membrane: bool) -> NeuronOutput {
                match self {
                    $($(Self::$name(m) => <$model as Neuron>::forward_sequence(m, input, keep_membrane),)?)*
                }
            }

            /// The model's LIF part ([`Neuron::lif`]).
            pub fn lif(&self) -> Option<&Lif> {
                match self {
                    $($(Self::$name(m) => <$model as Neuron>::lif(m),)?)*
                }
            }

            /// Runs the sequence `[T, B, N]` from rest as a loop of the model's single step
            /// ([`step_loop`]).
            pub fn step_loop(&self, input: Tensor<3>, keep_membrane: bool) -> NeuronOutput {
                match self {
                    $($(Self::$name(m) => step_loop::<$model>(m, input, keep_membrane),)?)*
                }
            }
        }

        /// Which neuron model a layer uses (`kind` in configuration files).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum NeuronKind {
            $($(
                #[doc = $doc]
                #[doc = concat!("\n\nIts parameters: [`", stringify!($params), "`].")]
                $name,
            )?)*
        }

        /// The model-specific parameters of a neuron layer: one variant per [`NeuronKind`],
        /// holding that model's parameter type (declared in the model's file). Serialised as
        /// `kind` and the model's fields, in the neuron's table.
        #[derive(Clone, Debug, PartialEq, Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum ModelParams {
            $($(
                #[doc = $doc]
                $name($params),
            )?)*
        }

        impl NeuronKind {
            /// Every kind, in catalogue order.
            pub const ALL: &'static [NeuronKind] = &[$($({
                let _ = std::marker::PhantomData::<$params>;
                NeuronKind::$name
            },)?)*];

            /// The default parameters of this kind.
            pub fn default_params(self) -> ModelParams {
                match self {
                    $($(Self::$name => ModelParams::$name(<$params>::default()),)?)*
                }
            }

            /// The model-specific configuration keys of this kind, with their defaults.
            pub fn default_table(self) -> toml::Table {
                match self {
                    $($(Self::$name => catalogue::default_table::<$params>(),)?)*
                }
            }

            fn field_is_default(self, key: &str, value: &toml::Value) -> bool {
                match self {
                    $($(Self::$name => catalogue::is_default_of::<$params>(key, value),)?)*
                }
            }

            fn parse(self, table: toml::Table) -> Result<ModelParams, String> {
                match self {
                    $($(Self::$name => catalogue::parse_as::<$params>(table).map(ModelParams::$name),)?)*
                }
            }
        }

        impl ModelParams {
            /// The kind these parameters belong to.
            pub fn kind(&self) -> NeuronKind {
                match self {
                    $($(Self::$name(p) => {
                        let _: &$params = p;
                        NeuronKind::$name
                    })?)*
                }
            }

            /// [`ModelSpec::validate`] of the parameters held.
            pub fn validate(&self, config: &NeuronConfig) -> Result<(), InvalidParameter> {
                match self {
                    $($(Self::$name(p) => <$params as ModelSpec>::validate(p, config),)?)*
                }
            }

            /// [`ModelSpec::lif`] of the parameters held.
            pub fn lif(&self, shared: LifConfig) -> LifConfig {
                match self {
                    $($(Self::$name(p) => <$params as ModelSpec>::lif(p, shared),)?)*
                }
            }

            /// [`ModelSpec::init`] of the parameters held.
            pub fn init(&self, layer: LayerInit<'_>) -> NeuronModel {
                match self {
                    $($(Self::$name(p) => <$params as ModelSpec>::init(p, layer),)?)*
                }
            }

            /// [`ModelSpec::nir`] of the parameters held.
            pub fn nir(&self) -> NirMapping {
                match self {
                    $($(Self::$name(p) => <$params as ModelSpec>::nir(p),)?)*
                }
            }

            /// [`ModelSpec::extra_parameters`] of the parameters held.
            pub fn extra_parameters(&self, neurons: f64) -> f64 {
                match self {
                    $($(Self::$name(p) => <$params as ModelSpec>::extra_parameters(p, neurons),)?)*
                }
            }
        }

        $($(
            impl From<$params> for ModelParams {
                fn from(params: $params) -> Self {
                    Self::$name(params)
                }
            }
        )?)*
    };
}
