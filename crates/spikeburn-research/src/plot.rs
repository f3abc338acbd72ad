//! Figures of finished runs: training curves from `metrics.jsonl` (`spikeburn plot curves`,
//! [`plot_curves`]), and the spike raster of every neuron layer beside the output layer's
//! membrane traces for a test sample (`spikeburn plot raster`, [`plot_activity`]).

use spikeburn_figures::{Chart, Figure, FigureError, ImageFormat, Point, Series, XScale};
use spikeburn_train::TrainError;
use spikeburn_train::trainer::{EpochRecord, read_metrics};
use std::path::{Path, PathBuf};

/// Why a plot could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A run's metrics could not be read.
    #[error(transparent)]
    Run(#[from] TrainError),
    /// A run has no finished epoch yet.
    #[error("{path}: no epoch finished yet (nothing to plot)")]
    Empty {
        /// The metrics file.
        path: PathBuf,
    },
    /// The figure could not be drawn or written.
    #[error(transparent)]
    Figure(#[from] FigureError),
    /// The requested test sample does not exist.
    #[error("test sample {sample} does not exist (the test set has {available})")]
    Sample {
        /// The index asked for.
        sample: usize,
        /// Number of test samples.
        available: usize,
    },
}

/// The label of a run in legends: its directory name.
/// A sweep's run (`…/CELL/seed-S`) is labelled `CELL/seed-S`.
fn run_label(dir: &Path) -> String {
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    match (name(dir), dir.parent().and_then(name)) {
        (Some(n), Some(parent)) if n.starts_with("seed-") => format!("{parent}/{n}"),
        (Some(n), _) => n,
        _ => dir.display().to_string(),
    }
}

fn series(
    label: String,
    records: &[EpochRecord],
    value: impl Fn(&EpochRecord) -> f64,
    color: usize,
    dashed: bool,
) -> Series {
    Series {
        scatter: false,
        label,
        points: records
            .iter()
            .map(|r| Point {
                x: r.epoch as f64,
                y: value(r),
                err: None,
            })
            .collect(),
        color,
        dashed,
    }
}

/// The training curves of `runs` (run directories) as a figure of two panels, loss and
/// accuracy against the epoch: training dashed, test solid (and test accuracy by membrane,
/// dotted colour of its own, for a single run). Several runs are overlaid, one colour each.
pub fn curves_figure(runs: &[PathBuf]) -> Result<Figure, PlotError> {
    let mut loaded = Vec::new();
    for dir in runs {
        let records = read_metrics(dir)?;
        if records.is_empty() {
            return Err(PlotError::Empty {
                path: dir.join(spikeburn_train::trainer::files::METRICS),
            });
        }
        loaded.push((run_label(dir), records));
    }
    let single = loaded.len() == 1;
    let name = |run: &str, what: &str| {
        if single {
            what.to_string()
        } else {
            format!("{run} {what}")
        }
    };
    let (mut loss, mut acc) = (Vec::new(), Vec::new());
    for (i, (run, records)) in loaded.iter().enumerate() {
        let (c_train, c_test) = if single { (0, 1) } else { (i, i) };
        loss.push(series(
            name(run, "train"),
            records,
            |r| r.train_loss,
            c_train,
            true,
        ));
        loss.push(series(
            name(run, "test"),
            records,
            |r| r.test_loss,
            c_test,
            false,
        ));
        acc.push(series(
            name(run, "train"),
            records,
            |r| 100.0 * r.train_accuracy,
            c_train,
            true,
        ));
        acc.push(series(
            name(run, "test"),
            records,
            |r| 100.0 * r.test_accuracy,
            c_test,
            false,
        ));
        if single {
            acc.push(series(
                "test (membrane)".into(),
                records,
                |r| 100.0 * r.test_accuracy_membrane,
                2,
                false,
            ));
        }
    }
    let max_epoch = loaded
        .iter()
        .flat_map(|(_, r)| r.iter().map(|r| r.epoch))
        .max()
        .unwrap_or(1);
    let x_ticks = (max_epoch <= 12).then(|| (1..=max_epoch).map(|e| e as f64).collect());
    let title = if single {
        format!(" ({})", loaded[0].0)
    } else {
        String::new()
    };
    let chart = |title: String, y_label: &str, series| Chart {
        title,
        x_label: "epoch".into(),
        y_label: y_label.into(),
        x_scale: XScale::Linear,
        x_ticks: x_ticks.clone(),
        legend_title: None,
        series,
    };
    Ok(Figure {
        charts: vec![
            chart(format!("loss{title}"), "loss", loss),
            chart(format!("accuracy{title}"), "accuracy (%)", acc),
        ],
        panel_size: (560, 400),
    })
}

/// Writes the training curves of `runs` to `stem.svg` / `stem.png`; returns the files.
pub fn plot_curves(
    runs: &[PathBuf],
    stem: &Path,
    formats: &[ImageFormat],
) -> Result<Vec<PathBuf>, PlotError> {
    Ok(curves_figure(runs)?.write(stem, formats)?)
}

/// Most neurons of one layer drawn in a raster (the first ones).
const RASTER_NEURONS: usize = 200;

/// The spike raster of every neuron layer and the output membrane traces of test sample
/// `sample` of a trained run: one figure with two panels. In the raster, neuron `n` of layer
/// `l` is drawn at height `n + offset(l)` (layers stacked bottom to top, one colour each, at
/// most the first 200 neurons of a layer; a non-spiking read-out is left out); the membrane
/// panel has one line per class.
pub fn activity_figure(run_dir: &Path, sample: usize) -> Result<Figure, PlotError> {
    use burn::prelude::*;
    let config = spikeburn_train::trainer::load_run_config(run_dir)?;
    let device = Device::flex();
    let model = spikeburn_train::trainer::load_run_model(run_dir, &config, &device)?;
    let test = spikeburn_train::trainer::load_test_set(&config)?;
    if sample >= test.len() {
        return Err(PlotError::Sample {
            sample,
            available: test.len(),
        });
    }
    let batch = test.batch(&[sample], &device);
    let label = batch
        .targets
        .clone()
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .ok()
        .and_then(|v| v.first().copied())
        .unwrap_or(0) as usize;
    let out = model.forward(batch.input);
    let to_vec = |t: Tensor<3>| -> (Vec<f32>, [usize; 3]) {
        let dims = t.dims();
        let v = t
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        (v, dims)
    };
    let mut raster = Vec::new();
    let mut offset = 0usize;
    let spiking: Vec<bool> = model.neurons().iter().map(|n| n.is_spiking()).collect();
    for (l, spikes) in out.layer_spikes.iter().enumerate() {
        // A non-spiking read-out (leaky integrator) has its potential in the membrane panel.
        if !spiking.get(l).copied().unwrap_or(true) {
            continue;
        }
        let (values, [steps, _, neurons]) = to_vec(spikes.clone());
        let shown = neurons.min(RASTER_NEURONS);
        let mut points = Vec::new();
        for t in 0..steps {
            for n in 0..shown {
                if values.get(t * neurons + n).is_some_and(|&s| s != 0.0) {
                    points.push(Point {
                        x: t as f64,
                        y: (offset + n) as f64,
                        err: None,
                    });
                }
            }
        }
        raster.push(Series {
            label: format!("layer {} ({shown} of {neurons})", l + 1),
            points,
            color: l,
            dashed: false,
            scatter: true,
        });
        offset += shown + 5;
    }
    let (membrane, [steps, _, classes]) = to_vec(out.membrane);
    let traces = (0..classes)
        .map(|c| Series {
            label: if c == label {
                format!("class {c} (target)")
            } else {
                format!("class {c}")
            },
            points: (0..steps)
                .map(|t| Point {
                    x: t as f64,
                    y: f64::from(membrane[t * classes + c]),
                    err: None,
                })
                .collect(),
            color: c,
            dashed: c != label,
            scatter: false,
        })
        .collect();
    Ok(Figure {
        charts: vec![
            Chart {
                title: format!("spikes, test sample {sample} (label {label})"),
                x_label: "time step".into(),
                y_label: "neuron (layers stacked)".into(),
                x_scale: XScale::Linear,
                x_ticks: None,
                legend_title: None,
                series: raster,
            },
            Chart {
                title: "output membrane".into(),
                x_label: "time step".into(),
                y_label: "U".into(),
                x_scale: XScale::Linear,
                x_ticks: None,
                legend_title: None,
                series: traces,
            },
        ],
        panel_size: (560, 420),
    })
}

/// Writes [`activity_figure`] for each of `samples` to `stem-<sample>.svg` / `.png`.
pub fn plot_activity(
    run_dir: &Path,
    samples: &[usize],
    stem: &Path,
    formats: &[ImageFormat],
) -> Result<Vec<PathBuf>, PlotError> {
    let mut files = Vec::new();
    for &sample in samples {
        let mut name = stem.as_os_str().to_os_string();
        name.push(format!("-{sample}"));
        files.extend(activity_figure(run_dir, sample)?.write(Path::new(&name), formats)?);
    }
    Ok(files)
}
