//! Padded batches of sequences of different lengths: every loss, read-out and rate of a
//! padded batch with its lengths equals what the samples give when each is run alone at its
//! own length (a second, unpadded computation), in values and in the input gradient.

use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spikeburn_core::{
    Lengths, NetworkConfig, NeuronConfig, SnnOutput, SpikingNetwork, loss, metrics,
};

const LENGTHS: [usize; 3] = [7, 3, 1];
const FEATURES: usize = 6;
const CLASSES: usize = 3;

fn network(device: &Device) -> SpikingNetwork {
    let config = NetworkConfig {
        input: vec![FEATURES],
        hidden: vec![32],
        outputs: CLASSES,
        num_steps: 7,
        neuron: NeuronConfig {
            beta: 0.8,
            threshold: 0.3,
            ..NeuronConfig::default()
        },
        ..NetworkConfig::default()
    };
    config.validate().expect("valid");
    config.init(11, device)
}

/// Each sample's own steps `[len_b, F]`, uniform in `[0, 1.5)`.
fn samples() -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    LENGTHS
        .iter()
        .map(|&l| {
            (0..l * FEATURES)
                .map(|_| rng.random_range(0.0..1.5))
                .collect()
        })
        .collect()
}

/// The samples right-padded with zeros into one time-major batch `[T, B, F]`; `fill` is
/// written at the padded steps (the padding must not matter, whatever it holds).
fn padded(samples: &[Vec<f32>], fill: f32) -> Vec<f32> {
    let steps = LENGTHS[0];
    let mut out = vec![fill; steps * samples.len() * FEATURES];
    for (b, s) in samples.iter().enumerate() {
        for (t, row) in s.chunks(FEATURES).enumerate() {
            let at = (t * samples.len() + b) * FEATURES;
            out[at..at + FEATURES].copy_from_slice(row);
        }
    }
    out
}

type LossFn = fn(&SnnOutput, Tensor<1, Int>, Option<&Lengths>) -> Tensor<1>;

/// Every loss and regulariser, named. The per-sample means over the batch compare directly;
/// the means over all valid steps (`mse_membrane`, the rates) are weighted by the lengths
/// (`by_steps`).
fn losses() -> Vec<(&'static str, LossFn, bool)> {
    vec![
        (
            "ce_membrane",
            |o, y, l| loss::ce_membrane(o.membrane.clone(), y, l),
            false,
        ),
        (
            "ce_rate",
            |o, y, l| loss::ce_rate(o.spikes.clone(), y, l),
            false,
        ),
        (
            "ce_count",
            |o, y, l| loss::ce_count(o.spikes.clone(), y, l),
            false,
        ),
        (
            "ce_max_membrane",
            |o, y, l| loss::ce_max_membrane(o.membrane.clone(), y, l),
            false,
        ),
        (
            "mse_count",
            |o, y, l| loss::mse_count(o.spikes.clone(), y, 0.8, 0.1, l),
            false,
        ),
        (
            "ce_temporal",
            |o, y, l| loss::ce_temporal(o.spikes.clone(), y, l),
            false,
        ),
        (
            "mse_membrane",
            |o, y, l| loss::mse_membrane(o.membrane.clone(), y, 1.0, 0.0, l),
            true,
        ),
        (
            "l1_rate",
            |o, _, l| loss::l1_rate(o.layer_spikes[0].clone(), l),
            true,
        ),
        (
            "target_rate",
            |o, _, l| loss::target_rate(o.layer_spikes[0].clone(), 0.0, l),
            true,
        ),
    ]
}

fn scalar(x: Tensor<1>) -> f32 {
    x.into_scalar::<f32>()
}

fn labels(device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(vec![2i64, 0, 1], [3]), device)
}

#[test]
fn every_padded_loss_equals_the_samples_run_alone_in_value_and_input_gradient() {
    let device = Device::flex().autodiff();
    let net = network(&device);
    let samples = samples();
    let lengths = Lengths::new(LENGTHS.to_vec()).expect("lengths");
    let batch = LENGTHS.len();
    let x_host = padded(&samples, 0.7);
    let steps = LENGTHS[0];
    for (name, f, by_steps) in losses() {
        let x = Tensor::<3>::from_data(
            TensorData::new(x_host.clone(), [steps, batch, FEATURES]),
            &device,
        )
        .require_grad();
        let out = net.forward(x.clone()).with_lengths(Some(lengths.clone()));
        let padded_loss = f(&out, labels(&device), Some(&lengths));
        let value = scalar(padded_loss.clone());
        let grad = x
            .grad(&padded_loss.backward())
            .expect("input gradient")
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();

        // Alone: sample b as a batch of one with its own length, no padding anywhere.
        let total_steps: usize = LENGTHS.iter().sum();
        let mut expected = 0.0f32;
        for (b, sample) in samples.iter().enumerate() {
            let l = LENGTHS[b];
            let xb =
                Tensor::<3>::from_data(TensorData::new(sample.clone(), [l, 1, FEATURES]), &device)
                    .require_grad();
            let yb = labels(&device).slice(b..b + 1);
            let out_b = net.forward(xb.clone());
            let weight = if by_steps {
                l as f32 / total_steps as f32
            } else {
                1.0 / batch as f32
            };
            let loss_b = f(&out_b, yb, None) * weight;
            expected += if name == "target_rate" {
                // (r − 0)² of the mean rate r = Σ_b w_b·r_b: sum the weighted rates here.
                scalar(loss::l1_rate(out_b.layer_spikes[0].clone(), None)) * weight
            } else {
                scalar(loss_b.clone())
            };
            let grad_b = xb
                .grad(&loss_b.backward())
                .expect("input gradient")
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            for t in 0..steps {
                for k in 0..FEATURES {
                    let got = grad[(t * batch + b) * FEATURES + k];
                    let want = if t < l { grad_b[t * FEATURES + k] } else { 0.0 };
                    if name == "target_rate" {
                        continue; // (r − r*)² is not a weighted sum of per-sample parts
                    }
                    let tol = 1e-5 * want.abs().max(1e-3);
                    assert!(
                        (got - want).abs() <= tol.max(1e-7),
                        "{name}: ∂L/∂x[t={t}, b={b}, {k}] = {got} padded, {want} alone"
                    );
                }
            }
        }
        if name == "target_rate" {
            // r* = 0: (Σ_b w_b·r_b)² with the rates of the samples alone.
            expected *= expected;
        }
        assert!(
            (value - expected).abs() <= 1e-5 * expected.abs().max(1.0),
            "{name}: padded {value}, alone {expected}"
        );
    }
}

#[test]
fn padded_read_outs_equal_the_samples_alone_and_padding_would_change_them() {
    let device = Device::flex();
    let net = network(&device);
    let samples = samples();
    let lengths = Lengths::new(LENGTHS.to_vec()).expect("lengths");
    let (steps, batch) = (LENGTHS[0], LENGTHS.len());
    // Padding full of large input, so a read-out that looked at it would see it.
    let x = Tensor::<3>::from_data(
        TensorData::new(padded(&samples, 3.0), [steps, batch, FEATURES]),
        &device,
    );
    let out = net.forward(x).with_lengths(Some(lengths.clone()));
    type ReadOut = fn(&SnnOutput, Option<&Lengths>) -> Tensor<1, Int>;
    let read_outs: [(&str, ReadOut); 4] = [
        ("spike count", |o, l| {
            metrics::predict_by_spike_count(o.spikes.clone(), l)
        }),
        ("membrane", |o, l| {
            metrics::predict_by_membrane(o.membrane.clone(), l)
        }),
        ("max membrane", |o, l| {
            metrics::predict_by_max_membrane(o.membrane.clone(), l)
        }),
        ("first spike", |o, l| {
            metrics::predict_by_first_spike(o.spikes.clone(), l)
        }),
    ];
    for (name, read) in read_outs {
        let got = ints(read(&out, Some(&lengths)));
        let alone: Vec<i64> = samples
            .iter()
            .enumerate()
            .map(|(b, s)| {
                let xb = Tensor::<3>::from_data(
                    TensorData::new(s.clone(), [LENGTHS[b], 1, FEATURES]),
                    &device,
                );
                ints(read(&net.forward(xb), None))[0]
            })
            .collect();
        assert_eq!(got, alone, "{name}");
    }
    // The rates of the padded output are those of the valid steps: the spikes of each sample
    // alone, summed, over N·Σ len.
    let rate = out.spike_rates[0].clone().into_scalar::<f32>();
    let (mut spikes, mut cells) = (0.0f32, 0usize);
    for (b, s) in samples.iter().enumerate() {
        let xb = Tensor::<3>::from_data(
            TensorData::new(s.clone(), [LENGTHS[b], 1, FEATURES]),
            &device,
        );
        let hidden = net.forward(xb).layer_spikes[0].clone();
        cells += hidden.dims().iter().product::<usize>();
        spikes += hidden.sum().into_scalar::<f32>();
    }
    assert!(
        (rate - spikes / cells as f32).abs() < 1e-6,
        "rate {rate} vs {}",
        spikes / cells as f32
    );
    // Without the lengths the padded steps count, and the test above could fail.
    let unmasked = scalar(loss::ce_max_membrane(
        out.membrane.clone(),
        labels(&device),
        None,
    ));
    let masked = scalar(loss::ce_max_membrane(
        out.membrane,
        labels(&device),
        Some(&lengths),
    ));
    assert!(
        (unmasked - masked).abs() > 1e-3,
        "padding changed nothing: {masked} vs {unmasked}"
    );
}

#[test]
fn full_lengths_change_nothing_bit_for_bit() {
    let device = Device::flex();
    let net = network(&device);
    let x = Tensor::<3>::random(
        [7, 3, FEATURES],
        burn::tensor::Distribution::Uniform(0.0, 1.5),
        &device,
    );
    let out = net.forward(x);
    let full = Lengths::new(vec![7; 3]).expect("lengths");
    for (name, f, _) in losses() {
        let a = scalar(f(&out, labels(&device), None));
        let b = scalar(f(&out, labels(&device), Some(&full)));
        assert_eq!(a.to_bits(), b.to_bits(), "{name}");
    }
}

fn ints(t: Tensor<1, Int>) -> Vec<i64> {
    t.into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .unwrap()
}

/// Spikes `[T = 3, B = 2, C = 2]` of lengths `[1, 3]`, written by hand. Sample 0 (length 1):
/// class 0 fires at t = 0; the padding has class 1 firing twice. Sample 1 (length 3): both
/// classes first fire at t = 0, class 1 fires twice more (a first-spike tie that the count
/// breaks).
fn hand_spikes(device: &Device) -> (Tensor<3>, Lengths) {
    let s = Tensor::<3>::from_data(
        [
            [[1.0, 0.0], [1.0, 1.0]],
            [[0.0, 1.0], [0.0, 1.0]],
            [[0.0, 1.0], [0.0, 1.0]],
        ],
        device,
    );
    (s, Lengths::new(vec![1, 3]).unwrap())
}

/// Read-outs and accuracies on [`hand_spikes`], where the padded steps would change every
/// prediction.
#[test]
fn read_outs_by_hand_ignore_the_padding_and_break_ties_as_documented() {
    let device = Device::flex();
    let (s, lengths) = hand_spikes(&device);
    assert_eq!(lengths.batch_size(), 2);
    let l = Some(&lengths);
    assert_eq!(ints(metrics::predict_by_spike_count(s.clone(), l)), [0, 1]);
    assert_eq!(
        ints(metrics::predict_by_spike_count(s.clone(), None)),
        [1, 1]
    );
    assert_eq!(ints(metrics::predict_by_membrane(s.clone(), l)), [0, 1]);
    assert_eq!(ints(metrics::predict_by_max_membrane(s.clone(), l)), [0, 0]);
    assert_eq!(
        ints(metrics::predict_by_max_membrane(s.clone(), None)),
        [0, 0]
    );
    assert_eq!(ints(metrics::predict_by_first_spike(s.clone(), l)), [0, 1]);
    // First-spike times: sample 0 class 1 never fires within its one step (t_f = 1).
    let tf = loss::first_spike_time(s.clone(), l)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(tf, [0.0, 1.0, 0.0, 0.0]);
    let tf = loss::first_spike_time(s.clone(), None)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(tf, [0.0, 1.0, 0.0, 0.0]);
    // Accuracies over the batch: targets [0, 0] → one of two right by count and first spike.
    let y = Tensor::<1, Int>::from_data([0, 0], &device);
    assert_eq!(
        metrics::accuracy_by_spike_count(s.clone(), y.clone(), l),
        0.5
    );
    assert_eq!(metrics::accuracy_by_membrane(s.clone(), y.clone(), l), 0.5);
    assert_eq!(
        metrics::accuracy_by_first_spike(s.clone(), y.clone(), l),
        0.5
    );
    let y = Tensor::<1, Int>::from_data([1, 1], &device);
    assert_eq!(
        metrics::accuracy_by_spike_count(s.clone(), y.clone(), None),
        1.0
    );
    assert_eq!(metrics::accuracy_by_first_spike(s, y, None), 0.5);
}

/// The L2 rate regulariser over the valid steps, by hand: per-neuron rates over the
/// `Σ len = 4` valid (t, b) cells, then the mean of their squares.
#[test]
fn l2_rate_over_the_valid_steps_by_hand() {
    let device = Device::flex();
    let (s, lengths) = hand_spikes(&device);
    // Valid cells: (t0, b0) [1, 0]; (t0, b1) [1, 1]; (t1, b1) [0, 1]; (t2, b1) [0, 1].
    let (r0, r1) = (2.0f32 / 4.0, 3.0f32 / 4.0);
    let want = (r0 * r0 + r1 * r1) / 2.0;
    let got = scalar(loss::l2_rate(s.clone(), Some(&lengths)));
    assert!((got - want).abs() < 1e-7, "{got} vs {want}");
    let (r0, r1) = (2.0f32 / 6.0, 5.0f32 / 6.0);
    let want = (r0 * r0 + r1 * r1) / 2.0;
    let got = scalar(loss::l2_rate(s, None));
    assert!((got - want).abs() < 1e-7, "{got} vs {want}");
}
