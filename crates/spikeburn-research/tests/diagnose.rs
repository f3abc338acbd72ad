//! Gradient diagnostics end to end on a tiny run of the shipped MNIST: the report and its
//! figures are written, the smooth reference gradient agrees with finite differences, and a
//! registered custom surrogate is compared like the built-in ones.

#[path = "../../spikeburn-train/tests/common/mod.rs"]
mod common;
use common::{shipped_mnist, small_mlp};

use burn::prelude::*;
use spikeburn_core::surrogate;
use spikeburn_research::diagnose::{
    DiagnoseOptions, Diagnostics, diagnose, finite_difference_checks, reference_network,
};
use spikeburn_train::trainer::compute_loss;
use spikeburn_train::{ExperimentConfig, Silent, train};

fn tiny() -> ExperimentConfig {
    let mut c = small_mlp(256, 64, 24, 6);
    c.data.dir = Some(shipped_mnist());
    c
}

#[test]
fn diagnose_writes_the_report_and_figures() {
    let rect = surrogate::register("test_rectangle", |x: f32, slope: f32| {
        if x.abs() < 0.5 / slope { slope } else { 0.0 }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    train(&tiny(), &run, &mut Silent).expect("train");
    let out = dir.path().join("diag");
    let options = DiagnoseOptions {
        samples: 64,
        grad_batch: 16,
        directions: 3,
        ..DiagnoseOptions::default()
    };
    let outcome = diagnose(&run, &out, &options).expect("diagnose");
    for name in [
        "diagnostics.json",
        "grad_norms.svg",
        "grad_norms.png",
        "rates.svg",
        "rates.png",
        "agreement.svg",
        "agreement.png",
    ] {
        assert!(out.join(name).is_file(), "{name} missing");
    }
    let text = std::fs::read_to_string(out.join("diagnostics.json")).expect("json");
    let d: Diagnostics = serde_json::from_str(&text).expect("parses");
    // (Floats round-trip through JSON to the last bit or so; compare the structure.)
    assert_eq!(d.parameters, outcome.diagnostics.parameters);
    assert_eq!(d.activity, outcome.diagnostics.activity);
    assert_eq!(d.agreement.len(), outcome.diagnostics.agreement.len());
    assert_eq!(d.grad_norm_per_step.len(), 2);
    assert!(d.grad_norm_per_step.iter().all(|n| n.len() == 6));
    assert!(d.grad_norm_per_step[1].iter().all(|&v| v > 0.0));
    assert_eq!(d.activity[0].neurons, 24);
    for a in &d.activity {
        assert_eq!(a.histogram_counts.iter().sum::<usize>(), a.neurons);
        assert!(a.silent + a.saturated <= a.neurons);
    }
    // The configured surrogate, the seven built-ins and the registered one.
    assert!(d.agreement.len() >= 8);
    assert!(d.agreement[0].configured);
    assert!(d.agreement.iter().any(|a| a.surrogate == rect));
    assert!(d.agreement.iter().all(|a| (-1.0..=1.0).contains(&a.cosine)));
    assert!(
        d.reference.cosine_fd_autodiff > 0.99 && d.reference.max_relative_error < 0.05,
        "finite differences disagree: {:?}",
        d.reference
    );
    // Out-of-range options are refused before anything is written.
    let bad = DiagnoseOptions {
        steepness: -1.0,
        ..options
    };
    assert!(diagnose(&run, &dir.path().join("bad"), &bad).is_err());
    assert!(!dir.path().join("bad").exists());
}

#[test]
fn smooth_reference_gradient_matches_finite_differences() {
    let mut config = tiny();
    config.model.input = vec![10];
    config.model.hidden = vec![8];
    config.model.outputs = 3;
    config.model.neuron.threshold = 0.5;
    let dev = Device::flex().autodiff();
    let smooth = reference_network(&config.model, 10.0);
    let net = smooth.init(7, &dev);
    let x = Tensor::<2>::from_data(
        TensorData::new(
            (0..40).map(|i| ((i * 37) % 17) as f32 / 17.0).collect(),
            [4, 10],
        ),
        &dev,
    );
    let y = Tensor::<1, Int>::from_data(TensorData::from([0i64, 1, 2, 1]), &dev);
    let out = net.forward(x.clone());
    let grads = compute_loss(&config.training, &out, y.clone()).backward();
    let mut reference = Vec::new();
    for lin in net.linears() {
        let g = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().expect("f32");
        reference.push(g(lin.weight.val().grad(&grads).expect("w")));
        let b = lin
            .bias
            .as_ref()
            .expect("bias")
            .val()
            .grad(&grads)
            .expect("b");
        reference.push(b.into_data().try_into_vec::<f32>().expect("f32"));
    }
    let checks = finite_difference_checks(&net, &config, &reference, x, y, 6, 1e-3, 1);
    let ad: Vec<f64> = checks.iter().map(|c| c.autodiff).collect();
    let fd: Vec<f64> = checks.iter().map(|c| c.finite_difference).collect();
    let dot: f64 = ad.iter().zip(&fd).map(|(a, b)| a * b).sum();
    let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
    let cos = dot / (norm(&ad) * norm(&fd));
    assert!(cos > 0.99, "cos {cos}: {checks:?}");
    // Along the gradient itself the derivative is its norm, to 2%.
    let g = &checks[0];
    assert!(
        (g.finite_difference - g.autodiff).abs() < 0.02 * g.autodiff.abs(),
        "{g:?}"
    );
}
