//! Custom surrogates in the fused and reference paths, the encoders' codes, and the losses and
//! read-outs against their formulas worked out by hand.

mod common;

use burn::prelude::*;
use common::{assert_close, pass, values};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use spikeburn_core::NeuronConfig;
use spikeburn_core::lif::Kernel;
use spikeburn_core::surrogate::{self, Surrogate};

#[test]
fn custom_surrogates_work_in_fused_and_reference_paths() {
    let rect = surrogate::register("test_rectangle", |x: f32, slope: f32| {
        if x.abs() < 0.5 / slope { slope } else { 0.0 }
    });
    let rect = rect.with_slope(2.0);
    for kernel in [Kernel::Auto, Kernel::Reference] {
        let config = NeuronConfig {
            surrogate: rect,
            kernel,
            learn_beta: true,
            ..NeuronConfig::default()
        };
        let dev = Device::flex().autodiff();
        let layer = config.init(6, &mut ChaCha8Rng::seed_from_u64(0), &dev);
        let a = pass(&layer, false, [8, 2, 6], 3, &dev);
        let b = pass(&layer, true, [8, 2, 6], 3, &dev);
        assert_close(&a.grad_input, &b.grad_input, 1e-5, "custom surrogate dL/dX");
        assert!(a.grad_input.iter().any(|&g| g != 0.0));
    }
    let parsed: Surrogate =
        serde_json::from_str(r#"{"kind":"custom","name":"test_rectangle","slope":4.0}"#)
            .expect("parse");
    assert_eq!(parsed.derivative(0.1), 4.0);
    assert_eq!(parsed.derivative(0.2), 0.0);
    let unknown = serde_json::from_str::<Surrogate>(r#"{"kind":"custom","name":"nope"}"#);
    assert!(
        unknown
            .expect_err("unknown")
            .to_string()
            .contains("unknown custom surrogate `nope`")
    );
    // Every steepness parameter also reads as `slope`.
    let atan: Surrogate = serde_json::from_str(r#"{"kind":"atan","slope":3.0}"#).expect("alias");
    assert_eq!(atan, Surrogate::Atan { alpha: 3.0 });
}

#[test]
fn encoders_produce_their_codes() {
    use spikeburn_core::encoding::{LatencyScale, delta, latency, rate};
    let dev = Device::flex();
    // Rate: the empirical firing probability approaches clamp(gain·x, 0, 1).
    let x = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 0.25, 0.5, 1.0], [1, 4]), &dev);
    let spikes = values(rate(
        x.clone(),
        4000,
        1.0,
        &mut ChaCha8Rng::seed_from_u64(1),
    ));
    for (j, p) in [0.0, 0.25, 0.5, 1.0].iter().enumerate() {
        let mean = (0..4000).map(|t| spikes[t * 4 + j]).sum::<f32>() / 4000.0;
        assert!((mean - p).abs() < 0.03, "rate {p}: {mean}");
    }
    // Latency (linear): one spike at round((1 − x)·(T − 1)); x ≤ threshold never fires.
    let spikes = values(latency(x.clone(), 5, LatencyScale::Linear, 0.01));
    let when = |j: usize| {
        (0..5)
            .filter(|&t| spikes[t * 4 + j] == 1.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(when(0), Vec::<usize>::new());
    assert_eq!(when(1), vec![3]);
    assert_eq!(when(2), vec![2]);
    assert_eq!(when(3), vec![0]);
    // Latency (log): brighter fires earlier, the largest time of the batch is T − 1.
    let spikes = values(latency(x, 10, LatencyScale::Log, 0.2));
    let first = |j: usize| (0..10).find(|&t| spikes[t * 4 + j] == 1.0);
    assert_eq!(first(1), Some(9));
    assert!(first(2) < first(1) && first(3) < first(2));
    // Delta: on-spike when the value rises by ≥ θ, off-spike when it falls by ≥ θ.
    let seq = Tensor::<3>::from_data(
        TensorData::new(vec![0.0f32, 0.5, 0.6, 0.0], [4, 1, 1]),
        &dev,
    );
    assert_eq!(
        values(delta(seq, 0.3)),
        [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    );
}

#[test]
fn new_losses_match_their_formulas() {
    use spikeburn_core::loss::{
        ce_max_membrane, ce_temporal, first_spike_time, l2_rate, mse_count, mse_membrane,
        target_rate,
    };
    use spikeburn_core::metrics::{predict_by_first_spike, predict_by_max_membrane};
    let dev = Device::flex();
    // T = 3, B = 1, C = 2 spikes: class 0 fires at t = 1 and 2, class 1 at t = 0.
    let s = Tensor::<3>::from_data(
        TensorData::new(vec![0.0f32, 1.0, 1.0, 0.0, 1.0, 0.0], [3, 1, 2]),
        &dev,
    );
    let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64], [1]), &dev);
    // counts [2, 1]; targets [0.8·3, 0.2·3] = [2.4, 0.6]; mean of squares / T.
    let expect = ((2.0f32 - 2.4).powi(2) + (1.0f32 - 0.6).powi(2)) / 2.0 / 3.0;
    assert!(
        (mse_count(s.clone(), y.clone(), 0.8, 0.2, None).into_scalar::<f32>() - expect).abs()
            < 1e-6
    );
    assert_eq!(values(first_spike_time(s.clone(), None)), [1.0, 0.0]);
    let ce = |z: [f32; 2], k: usize| z.iter().map(|v| v.exp()).sum::<f32>().ln() - z[k];
    assert!(
        (ce_temporal(s.clone(), y.clone(), None).into_scalar::<f32>() - ce([-1.0, 0.0], 0)).abs()
            < 1e-6
    );
    assert_eq!(
        values(predict_by_first_spike(s.clone(), None).float()),
        [1.0]
    );
    // Membrane: max over time is [3, 2] → class 0.
    let u = Tensor::<3>::from_data(
        TensorData::new(vec![1.0f32, 2.0, 3.0, 0.0, 0.5, 1.0], [3, 1, 2]),
        &dev,
    );
    assert!(
        (ce_max_membrane(u.clone(), y.clone(), None).into_scalar::<f32>() - ce([3.0, 2.0], 0))
            .abs()
            < 1e-6
    );
    assert_eq!(
        values(predict_by_max_membrane(u.clone(), None).float()),
        [0.0]
    );
    let expect = [(1.0f32, 2.0f32), (3.0, 0.0), (0.5, 1.0)]
        .iter()
        .map(|(a, b)| ((a - 1.0).powi(2) + b.powi(2)) / 2.0)
        .sum::<f32>()
        / 3.0;
    assert!((mse_membrane(u, y, 1.0, 0.0, None).into_scalar::<f32>() - expect).abs() < 1e-6);
    // Per-neuron rates [2/3, 1/3]: L2 = mean of squares; target = (mean − r*)².
    assert!(
        (l2_rate(s.clone(), None).into_scalar::<f32>() - (4.0 / 9.0 + 1.0 / 9.0) / 2.0).abs()
            < 1e-6
    );
    assert!(
        (target_rate(s, 0.25, None).into_scalar::<f32>() - (0.5f32 - 0.25).powi(2)).abs() < 1e-6
    );
}
