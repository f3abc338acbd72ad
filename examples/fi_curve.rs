//! The f-I curve of the discrete LIF neuron: simulated firing rate against constant input
//! current, with and without a refractory period, beside the analytic curve
//! `rate = 1 / (n* + k)`, `n* = ⌈ln(1 − θ(1 − β)/I) / ln β⌉` (zero reset, refractory period
//! `k`; computed by `spikeburn::core::refractory::fi_rate`; derivation in `tests/catalogue.rs`).
//!
//! `cargo run --release --example fi_curve [-- OUT_STEM]` writes `OUT_STEM.{svg,png}`
//! (default `docs/figures/fi_curve`).

use burn::prelude::*;
use rand::SeedableRng;
use spikeburn::core::NeuronConfig;
use spikeburn::core::lif::{LifParams, Reset};
use spikeburn::core::refractory::fi_rate;
use spikeburn::figures::{Chart, Figure, ImageFormat, Point, Series, XScale};
use std::path::PathBuf;

fn main() {
    let stem = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("docs/figures/fi_curve"), PathBuf::from);
    let device = Device::flex();
    let (beta, threshold, steps) = (0.9f32, 1.0f32, 4000usize);
    let currents: Vec<f32> = (0..=120).map(|i| 0.0125 * i as f32).collect();
    let mut series = Vec::new();
    for (color, refractory) in [0usize, 3].into_iter().enumerate() {
        let layer = NeuronConfig {
            beta,
            threshold,
            reset: Reset::Zero,
            ..NeuronConfig::from(LifParams { refractory })
        }
        .init(
            currents.len(),
            &mut rand_chacha::ChaCha8Rng::seed_from_u64(0),
            &device,
        );
        let input = Tensor::<2>::from_data(
            TensorData::new(currents.clone(), [1, currents.len()]),
            &device,
        );
        let spikes: Vec<f32> = layer
            .forward_constant(input, steps, false)
            .spikes
            .into_data()
            .convert::<f32>()
            .try_into_vec()
            .unwrap_or_default();
        let simulated = currents
            .iter()
            .enumerate()
            .map(|(j, &i)| Point {
                x: f64::from(i),
                y: (0..steps)
                    .map(|t| f64::from(spikes[t * currents.len() + j]))
                    .sum::<f64>()
                    / steps as f64,
                err: None,
            })
            .collect();
        let exact = currents
            .iter()
            .map(|&i| Point {
                x: f64::from(i),
                y: fi_rate(
                    f64::from(i),
                    f64::from(beta),
                    f64::from(threshold),
                    refractory,
                ),
                err: None,
            })
            .collect();
        series.push(Series {
            label: format!("analytic, k = {refractory}"),
            points: exact,
            color,
            dashed: true,
            scatter: false,
        });
        series.push(Series {
            label: format!("simulated, k = {refractory}"),
            points: simulated,
            color,
            dashed: false,
            scatter: true,
        });
    }
    let figure = Figure {
        charts: vec![Chart {
            title: format!("discrete LIF f-I curve (β = {beta}, θ = {threshold}, zero reset)"),
            x_label: "input current I".into(),
            y_label: "spikes per step".into(),
            x_scale: XScale::Linear,
            x_ticks: None,
            legend_title: None,
            series,
        }],
        panel_size: (720, 440),
    };
    match figure.write(&stem, &[ImageFormat::Svg, ImageFormat::Png]) {
        Ok(files) => files.iter().for_each(|f| println!("wrote {}", f.display())),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
