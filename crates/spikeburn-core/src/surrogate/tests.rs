//! Unit tests of the surrogate module: configuration defaults, constructors, registered
//! surrogates.

use super::*;

/// A configuration that names only the kind gets the documented defaults (the anchors'
/// own): atan α = 2, fast sigmoid and sigmoid slope 25, triangular α = 0.3, Gaussian slope
/// 2, spike-rate escape β = 1 and slope 25, a custom one slope 1.
#[test]
fn a_kind_alone_gets_the_documented_defaults() {
    let parse = |json: &str| serde_json::from_str::<Surrogate>(json).expect(json);
    for (json, want) in [
        (r#"{"kind":"atan"}"#, Surrogate::Atan { alpha: 2.0 }),
        (
            r#"{"kind":"fast_sigmoid"}"#,
            Surrogate::FastSigmoid { slope: 25.0 },
        ),
        (r#"{"kind":"sigmoid"}"#, Surrogate::Sigmoid { slope: 25.0 }),
        (
            r#"{"kind":"triangular"}"#,
            Surrogate::Triangular { alpha: 0.3 },
        ),
        (r#"{"kind":"gaussian"}"#, Surrogate::Gaussian { slope: 2.0 }),
        (
            r#"{"kind":"spike_rate_escape"}"#,
            Surrogate::SpikeRateEscape {
                beta: 1.0,
                slope: 25.0,
            },
        ),
        (
            r#"{"kind":"smooth_sigmoid"}"#,
            Surrogate::SmoothSigmoid { slope: 25.0 },
        ),
    ] {
        assert_eq!(parse(json), want, "{json}");
    }
    let handle = register("surrogate_default_test", |_: f32, k: f32| k);
    let Surrogate::Custom { name, .. } = handle else {
        unreachable!()
    };
    assert_eq!(
        parse(r#"{"kind":"custom","name":"surrogate_default_test"}"#),
        Surrogate::Custom { name, slope: 1.0 }
    );
    // The defaults are the built-ins' list.
    for s in Surrogate::builtins() {
        assert_eq!(parse(&format!(r#"{{"kind":"{}"}}"#, s.name())), s);
    }
}

/// Two registered surrogates keep their own names (in files) and indices (in the fused
/// kernels' settings), and evaluate their own functions.
#[test]
fn registered_surrogates_keep_their_names_and_indices() {
    let a = register("surrogate_index_test_a", |_: f32, _: f32| 2.0);
    let b = register("surrogate_index_test_b", |_: f32, k: f32| 3.0 * k);
    let (Surrogate::Custom { name: na, .. }, Surrogate::Custom { name: nb, .. }) = (a, b) else {
        unreachable!()
    };
    assert_ne!(na.index(), nb.index());
    assert_eq!(nb.name(), "surrogate_index_test_b");
    assert_eq!(CustomSurrogate::from_index(nb.index()), Some(nb));
    assert_eq!(CustomSurrogate::from_index(u32::MAX), None);
    let json = serde_json::to_string(&b.with_slope(2.0)).unwrap();
    assert!(
        json.contains(r#""name":"surrogate_index_test_b""#),
        "{json}"
    );
    let back: Surrogate = serde_json::from_str(&json).unwrap();
    assert_eq!(back.derivative(0.3), 6.0);
    assert_eq!(a.derivative(0.3), 2.0);
    // Through the fused kernels' encoding.
    let settings = crate::kernels::fused::ScanSettings {
        reset: crate::lif::Reset::Subtract,
        detach_reset: false,
        surrogate: b.with_slope(2.0),
        output_membrane: false,
        constant_steps: 0,
        refractory: 0,
    };
    let (code, params) = settings.encode();
    let decoded = crate::kernels::fused::ScanSettings::decode(code, params, [0, 0]);
    assert_eq!(decoded.surrogate, b.with_slope(2.0));
}

/// The constructors build their variant, `with_slope` sets each shape's steepness
/// parameter, and the names are those of configuration files.
#[test]
fn constructors_slopes_and_names() {
    let cases = [
        (Surrogate::atan(3.0), Surrogate::Atan { alpha: 3.0 }, "atan"),
        (
            Surrogate::fast_sigmoid(3.0),
            Surrogate::FastSigmoid { slope: 3.0 },
            "fast_sigmoid",
        ),
        (
            Surrogate::sigmoid(3.0),
            Surrogate::Sigmoid { slope: 3.0 },
            "sigmoid",
        ),
        (
            Surrogate::triangular(3.0),
            Surrogate::Triangular { alpha: 3.0 },
            "triangular",
        ),
        (
            Surrogate::gaussian(3.0),
            Surrogate::Gaussian { slope: 3.0 },
            "gaussian",
        ),
        (
            Surrogate::spike_rate_escape(0.5, 3.0),
            Surrogate::SpikeRateEscape {
                beta: 0.5,
                slope: 3.0,
            },
            "spike_rate_escape",
        ),
        (
            Surrogate::smooth_sigmoid(3.0),
            Surrogate::SmoothSigmoid { slope: 3.0 },
            "smooth_sigmoid",
        ),
    ];
    for (built, expected, name) in cases {
        assert_eq!(built, expected);
        assert_eq!(built.name(), name);
        assert_eq!(built.is_smooth(), name == "smooth_sigmoid");
        // From another steepness back to 3 (β of the escape surrogate stays).
        let other = match built {
            Surrogate::SpikeRateEscape { beta, .. } => {
                Surrogate::SpikeRateEscape { beta, slope: 9.0 }
            }
            s => s.with_slope(9.0),
        };
        assert_ne!(other, built);
        assert_eq!(other.with_slope(3.0), built);
    }
    assert_eq!(
        Surrogate::StraightThrough.with_slope(3.0),
        Surrogate::StraightThrough
    );
    assert_eq!(Surrogate::StraightThrough.name(), "straight_through");
    // Parameters must be finite and > 0.
    assert!(Surrogate::atan(1e-3).validate().is_ok());
    for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        assert!(Surrogate::atan(bad).validate().is_err(), "{bad}");
        assert!(
            Surrogate::spike_rate_escape(1.0, bad).validate().is_err(),
            "{bad}"
        );
    }
}
