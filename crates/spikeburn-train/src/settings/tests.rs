//! Tests of the settings: key resolution, values, tagged tables and neuron kinds.

use super::*;

fn base_tree() -> toml::Value {
    toml::Value::try_from(ExperimentConfig::default()).expect("tree")
}

#[test]
fn values_split_outside_brackets_and_parse_as_toml() {
    assert_eq!(
        split_values("1, 2.5,[3,4], \"a,b\",atan"),
        ["1", "2.5", "[3,4]", "\"a,b\"", "atan"]
    );
    assert_eq!(parse_value("25"), toml::Value::Integer(25));
    assert_eq!(parse_value("5e-4"), toml::Value::Float(5e-4));
    assert_eq!(parse_value("true"), toml::Value::Boolean(true));
    assert_eq!(
        parse_value("fast_sigmoid"),
        toml::Value::String("fast_sigmoid".into())
    );
    assert_eq!(parse_value("\"x y\""), toml::Value::String("x y".into()));
    assert!(parse_value("[64, 64]").is_array());
}

#[test]
fn keys_resolve_by_unique_suffix() {
    let t = base_tree();
    let r = |k: &str| resolve_key(&t, k).map(|p| p.join("."));
    assert_eq!(r("lr").unwrap(), "training.lr");
    assert_eq!(r("surrogate").unwrap(), "model.neuron.surrogate");
    assert_eq!(r("neuron.beta").unwrap(), "model.neuron.beta");
    assert_eq!(r("training.seed").unwrap(), "training.seed");
    // A new field of an existing table.
    assert_eq!(
        r("surrogate.slope").unwrap(),
        "model.neuron.surrogate.slope"
    );
    assert_eq!(r("data.dir").unwrap(), "data.dir");
    let e = r("learning_rate").unwrap_err().to_string();
    assert!(e.contains("learning_rate"), "{e}");
    let e = r("bet").unwrap_err().to_string();
    assert!(e.contains("model.neuron.beta"), "{e}");
    // Ambiguous: adam_beta1 and adam_beta2 do not share a suffix, but `limit_*` tables
    // do not exist; build an ambiguous tree by hand.
    let amb: toml::Value = toml::from_str("[a]\nx = 1\n[b]\nx = 2\n").expect("toml");
    let e = resolve_key(&amb, "x").unwrap_err().to_string();
    assert!(e.contains("a.x") && e.contains("b.x"), "{e}");
}

#[test]
fn a_string_on_a_tagged_table_replaces_the_variant() {
    let mut t = base_tree();
    let path: Vec<String> = ["model", "neuron", "surrogate"].map(String::from).to_vec();
    set_path(&mut t, &path, &parse_value("fast_sigmoid")).expect("set");
    let mut slope = path.clone();
    slope.push("slope".into());
    set_path(&mut t, &slope, &parse_value("5")).expect("set");
    let c = config_from_tree(&t).expect("config");
    assert_eq!(
        c.model.neuron.surrogate,
        spikeburn_core::Surrogate::fast_sigmoid(5.0)
    );
}

/// A new neuron kind brings its own fields for the settings after it, and a field of
/// another kind is refused, naming it.
#[test]
fn a_kind_set_first_brings_its_fields() {
    let spec = |s: &str| s.parse::<AxisSpec>().expect("spec");
    let base = ExperimentConfig::default();
    let set = apply_settings(
        &base,
        &[spec("neuron.kind=synaptic"), spec("neuron.alpha=0.5")],
    )
    .expect("synaptic takes alpha");
    let mut by_hand = base.clone();
    by_hand.model.neuron.model = spikeburn_core::synaptic::SynapticParams {
        alpha: 0.5,
        learn_alpha: false,
    }
    .into();
    assert_eq!(set, by_hand);
    // `alpha` alone is now ambiguous (the surrogate has one too).
    let err = apply_settings(&base, &[spec("neuron.kind=synaptic"), spec("alpha=0.5")])
        .expect_err("ambiguous");
    assert!(
        matches!(&err, SettingError::AmbiguousKey { candidates, .. }
            if candidates == "model.neuron.alpha, model.neuron.surrogate.alpha"),
        "{err}"
    );
    // `alpha` on a LIF network: the surrogate's, or the synaptic decay of another kind?
    let err = apply_settings(&base, &[spec("alpha=0.5")]).expect_err("ambiguous");
    assert!(
        matches!(&err, SettingError::AmbiguousKey { candidates, .. }
            if candidates.starts_with("model.neuron.surrogate.alpha or the field of the \
                synaptic, alpha, conductance neuron")),
        "{err}"
    );
    // The task's `alpha` is reached as `randman.alpha` (a lone `alpha` is ambiguous).
    let randman = ExperimentConfig::preset("randman-rsnn").expect("preset");
    let set = apply_settings(
        &randman,
        &[spec("manifold_dim=2"), spec("randman.alpha=1.5")],
    )
    .expect("the README's settings");
    let task = set.data.randman();
    assert_eq!((task.manifold_dim, task.alpha), (2, 1.5));
    let set = apply_settings(&base, &[spec("surrogate.alpha=0.5")]).expect("explicit");
    assert_eq!(
        set.model.neuron.surrogate,
        spikeburn_core::Surrogate::atan(0.5)
    );
    // A field of another kind than the configured one names the kinds that take it.
    let err = apply_settings(&base, &[spec("noise_seed=3")]).expect_err("lif has no noise");
    assert_eq!(
        err.to_string(),
        "unknown key \"noise_seed\" (no configuration field ends with it; `noise_seed` is a \
         field of the stochastic neuron only: set the kind first, e.g. --set \
         neuron.kind=stochastic --set neuron.noise_seed=…)"
    );
    let err = apply_settings(
        &base,
        &[
            spec("model.neuron.refractory=3"),
            spec("neuron.kind=synaptic"),
        ],
    )
    .expect_err("refractory on synaptic");
    assert!(
        err.to_string()
            .contains("refractory: not a parameter of the synaptic neuron"),
        "{err}"
    );
}

/// `train --set`: the settings give the configuration that setting the fields by hand
/// gives; a field set twice, a second value and a refused value are errors naming them.
#[test]
fn applied_settings_equal_fields_set_by_hand() {
    let spec = |s: &str| s.parse::<AxisSpec>().expect("spec");
    let base = ExperimentConfig::default();
    let set =
        apply_settings(&base, &[spec("lr=0.01"), spec("hidden=[64, 32]")]).expect("valid settings");
    let mut by_hand = base.clone();
    by_hand.training.lr = 0.01;
    by_hand.model.hidden = vec![64, 32];
    assert_eq!(set, by_hand);
    assert_eq!(apply_settings(&base, &[]).expect("none"), base);

    let err =
        apply_settings(&base, &[spec("lr=0.01"), spec("training.lr=0.02")]).expect_err("twice");
    assert!(
        matches!(&err, SettingError::Repeated { key } if key == "training.lr"),
        "{err}"
    );
    let err = apply_settings(&base, &[spec("lr=0.01,0.02")]).expect_err("two values");
    assert!(matches!(err, SettingError::BadSpec { .. }), "{err}");
    let err = apply_settings(&base, &[spec("lr=-1")]).expect_err("negative rate");
    let text = err.to_string();
    assert!(
        matches!(err, SettingError::Invalid { .. })
            && text.contains("--set lr=-1")
            && text.contains("training.lr"),
        "{text}"
    );
}
