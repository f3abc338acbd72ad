//! The discrete (β, α, dt) ↔ continuous (τ, r, w_in) mapping: round trips, and one Euler step
//! of the NIR equations equals one step of the discrete neuron.

use spikeburn_nir::mapping::{
    beta_from_tau, cuba_lif_from_discrete, cuba_lif_to_discrete, input_gain, li_from_discrete,
    li_to_discrete, lif_from_discrete, lif_to_discrete, tau_from_beta, unit_gain_r,
};
use spikeburn_nir::{Array, Lif, NirError};

#[test]
fn beta_tau_round_trip() {
    for dt in [1e-4, 1e-3, 1.0] {
        for i in 0..100 {
            let beta = f64::from(i) / 100.0;
            let tau = tau_from_beta(beta, dt).expect("tau");
            assert!((tau - dt / (1.0 - beta)).abs() <= 1e-15 * tau.max(1.0));
            let back = beta_from_tau(tau, dt).expect("beta");
            assert!((back - beta).abs() < 1e-12, "dt {dt} beta {beta} -> {back}");
            assert!(
                (input_gain(tau, unit_gain_r(tau, dt).expect("r"), dt).expect("g") - 1.0).abs()
                    < 1e-12
            );
        }
    }
}

#[test]
fn out_of_domain_values_are_errors() {
    for (beta, dt) in [
        (1.0, 1e-3),
        (1.5, 1e-3),
        (-0.1, 1e-3),
        (f64::NAN, 1e-3),
        (0.5, 0.0),
        (0.5, -1.0),
    ] {
        let e = tau_from_beta(beta, dt).unwrap_err();
        assert!(matches!(e, NirError::Mapping { .. }), "{e}");
    }
    assert!(beta_from_tau(1e-4, 1e-3).is_err(), "tau < dt");
    assert!(beta_from_tau(f64::INFINITY, 1e-3).is_err());
    let e =
        lif_from_discrete(&Array::vector(vec![0.5, 1.0]), &Array::scalar(1.0), 1e-3).unwrap_err();
    assert!(e.to_string().contains("beta"), "{e}");
    assert!(e.to_string().contains("IF"), "{e}");
}

/// One forward-Euler step of `τ dv/dt = (v_leak - v) + r I`.
fn euler_lif(v: f64, input: f64, tau: f64, r: f64, v_leak: f64, dt: f64) -> f64 {
    v + dt / tau * (v_leak - v + r * input)
}

#[test]
fn lif_mapping_matches_one_euler_step_and_round_trips() {
    let dt = 1e-3;
    let beta = Array::vector(vec![0.0, 0.5, 0.9, 0.99]);
    let lif = lif_from_discrete(&beta, &Array::scalar(1.0), dt).expect("lif");
    assert_eq!(lif.v_leak, Array::vector(vec![0.0; 4]));
    assert_eq!(lif.v_reset, Array::scalar(0.0));
    for (i, &b) in beta.data().iter().enumerate() {
        let (tau, r) = (f64::from(lif.tau.data()[i]), f64::from(lif.r.data()[i]));
        let (v, x) = (0.7, 0.3);
        let nir = euler_lif(v, x, tau, r, 0.0, dt);
        let discrete = f64::from(b) * v + x;
        assert!(
            (nir - discrete).abs() < 1e-6,
            "beta {b}: {nir} vs {discrete}"
        );
    }
    let d = lif_to_discrete(&lif, dt).expect("discrete");
    for (got, want) in d.beta.data().iter().zip(beta.data()) {
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
    assert!(d.gain.data().iter().all(|g| (g - 1.0).abs() < 1e-6));
    assert!(d.bias.data().iter().all(|b| *b == 0.0));
}

#[test]
fn norse_style_r_gives_gain_dt_over_tau_and_leak_gives_bias() {
    let dt = 1e-3;
    let lif = Lif {
        tau: Array::vector(vec![1e-2]),
        r: Array::vector(vec![1.0]),
        v_leak: Array::vector(vec![0.5]),
        v_threshold: Array::vector(vec![1.0]),
        v_reset: Array::vector(vec![0.0]),
    };
    let d = lif_to_discrete(&lif, dt).expect("discrete");
    assert!((d.beta.data()[0] - 0.9).abs() < 1e-6);
    assert!((d.gain.data()[0] - 0.1).abs() < 1e-6);
    assert!((d.bias.data()[0] - 0.05).abs() < 1e-6);
    // β v + g x + bias equals the Euler step.
    let (v, x) = (0.2, 3.0);
    let step = f64::from(d.beta.data()[0]) * v
        + f64::from(d.gain.data()[0]) * x
        + f64::from(d.bias.data()[0]);
    assert!((step - euler_lif(v, x, 1e-2, 1.0, 0.5, dt)).abs() < 1e-6);
}

#[test]
fn li_round_trip() {
    let li = li_from_discrete(&Array::vector(vec![0.8, 0.95]), 1e-4).expect("li");
    let d = li_to_discrete(&li, 1e-4).expect("discrete");
    assert!((d.beta.data()[0] - 0.8).abs() < 1e-6 && (d.beta.data()[1] - 0.95).abs() < 1e-5);
    assert!(d.threshold.is_none() && d.reset.is_none());
}

#[test]
fn cuba_lif_mapping_matches_euler_and_round_trips() {
    let dt = 1e-4;
    let alpha = Array::vector(vec![0.5, 0.8]);
    let beta = Array::vector(vec![0.9, 0.95]);
    let n =
        cuba_lif_from_discrete(&alpha, &beta, &Array::vector(vec![1.0, 2.0]), dt).expect("cuba");
    for i in 0..2 {
        let (ts, w) = (f64::from(n.tau_syn.data()[i]), f64::from(n.w_in.data()[i]));
        let (tm, r) = (f64::from(n.tau_mem.data()[i]), f64::from(n.r.data()[i]));
        let (cur, v, x) = (0.4, 0.1, 2.0);
        // τ_syn dI/dt = -I + w_in x, then the membrane with the new current.
        let cur_nir = cur + dt / ts * (-cur + w * x);
        let v_nir = euler_lif(v, cur_nir, tm, r, 0.0, dt);
        let cur_d = f64::from(alpha.data()[i]) * cur + x;
        let v_d = f64::from(beta.data()[i]) * v + cur_d;
        assert!((cur_nir - cur_d).abs() < 1e-5 && (v_nir - v_d).abs() < 1e-5);
    }
    let d = cuba_lif_to_discrete(&n, dt).expect("discrete");
    for (got, want) in d.alpha.data().iter().zip(alpha.data()) {
        assert!((got - want).abs() < 1e-5);
    }
    for (got, want) in d.membrane.beta.data().iter().zip(beta.data()) {
        assert!((got - want).abs() < 1e-5);
    }
    assert!(
        d.synaptic_gain
            .data()
            .iter()
            .all(|g| (g - 1.0).abs() < 1e-5)
    );
    let e =
        cuba_lif_from_discrete(&Array::scalar(1.0), &beta, &Array::scalar(1.0), dt).unwrap_err();
    assert!(
        matches!(
            &e,
            NirError::Mapping {
                quantity: "alpha",
                ..
            }
        ),
        "{e}"
    );
}
