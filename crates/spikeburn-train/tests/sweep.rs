//! Sweeps end to end on tiny runs of the shipped MNIST: tables, figures, provenance,
//! resuming, determinism, and errors that name the axis.

use spikeburn_train::ExperimentConfig;
use spikeburn_train::figures::ImageFormat;
use spikeburn_train::provenance::RunInfo;
use spikeburn_train::sweep::{
    AxisSpec, Grid, Metric, RunResult, SweepError, SweepOptions, run_sweep,
};
use spikeburn_train::{Silent, TrainError};
use std::path::Path;

/// A run of well under a second: 256 training images, 32 hidden neurons, 5 steps.
fn tiny_base() -> ExperimentConfig {
    let mut c = ExperimentConfig::preset("mnist-mlp").expect("preset");
    c.data.dir = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/mnist"));
    c.data.limit_train = 256;
    c.data.limit_test = 100;
    c.model.hidden = vec![32];
    c.model.num_steps = 5;
    c.training.batch_size = 64;
    c.training.lr = 2e-3;
    c
}

fn axes(specs: &[&str]) -> Vec<AxisSpec> {
    specs.iter().map(|s| s.parse().expect("axis")).collect()
}

fn options(out: &Path, jobs: usize) -> SweepOptions {
    SweepOptions {
        out: out.to_path_buf(),
        jobs,
        metric: Metric::TestAccuracy,
        formats: ImageFormat::ALL.to_vec(),
    }
}

/// The numbers of a result, without the timings.
fn numbers(r: &RunResult) -> Vec<f64> {
    let l = r.last.as_ref().expect("finished epoch");
    let mut v = vec![
        l.train_loss,
        l.train_accuracy,
        l.test_loss,
        l.test_accuracy,
        l.test_accuracy_membrane,
    ];
    v.extend(&l.spike_rates);
    v.extend(&l.test_spike_rates);
    v
}

#[test]
fn a_sweep_writes_tables_figures_and_provenance_and_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("sweep");
    let grid = Grid::new(
        &tiny_base(),
        &axes(&["epochs=1"]),
        &axes(&["surrogate=fast_sigmoid,sigmoid", "surrogate.slope=5,25"]),
        2,
    )
    .expect("grid");
    assert_eq!(grid.cells.len(), 4);
    assert_eq!(grid.seeds, [42, 43]);
    assert_eq!(
        grid.cells[1].config.model.neuron.surrogate,
        spikeburn_core::Surrogate::fast_sigmoid(25.0)
    );
    let first = run_sweep(&grid, &options(&out, 2), &mut Silent).expect("sweep");
    assert_eq!((first.ran, first.skipped, first.results.len()), (8, 0, 8));

    // results.csv: a header and one row per run, in grid order.
    let results = std::fs::read_to_string(out.join("results.csv")).expect("results.csv");
    let lines: Vec<&str> = results.lines().collect();
    assert_eq!(lines.len(), 9, "{results}");
    assert!(lines[0].starts_with(
        "run,model.neuron.surrogate,model.neuron.surrogate.slope,seed,status,epochs,train_loss"
    ));
    assert!(lines[0].contains(",test_accuracy,") && lines[0].contains(",wall_seconds,"));
    assert!(
        lines[1].starts_with(
            "runs/surrogate=fast_sigmoid+surrogate.slope=5/seed-42,fast_sigmoid,5,42,ok,1,"
        ),
        "{}",
        lines[1]
    );
    // summary.csv: one row per cell, 2 runs each, a mean and a std.
    let summary = std::fs::read_to_string(out.join("summary.csv")).expect("summary.csv");
    let rows: Vec<Vec<&str>> = summary.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 5, "{summary}");
    let col = |name: &str| rows[0].iter().position(|c| *c == name).expect(name);
    for row in &rows[1..] {
        assert_eq!(row[col("runs")], "2");
        let mean: f64 = row[col("test_accuracy_mean")].parse().expect("mean");
        let std: f64 = row[col("test_accuracy_std")].parse().expect("std");
        assert!((0.0..=1.0).contains(&mean) && std >= 0.0);
    }
    // The mean in summary.csv is the mean of the two rows of results.csv.
    let accs: Vec<f64> = first.results[..2]
        .iter()
        .map(|r| r.last.as_ref().expect("epoch").test_accuracy)
        .collect();
    let mean: f64 = rows[1][col("test_accuracy_mean")].parse().expect("mean");
    assert!((mean - (accs[0] + accs[1]) / 2.0).abs() < 1e-12);

    // Figures: one per axis, SVG and PNG.
    for stem in [
        "test_accuracy_vs_surrogate",
        "test_accuracy_vs_surrogate.slope",
    ] {
        let svg = std::fs::read_to_string(out.join(format!("{stem}.svg"))).expect("svg");
        assert!(
            svg.starts_with("<svg") && svg.contains("<line"),
            "{stem}.svg"
        );
        let png = std::fs::read(out.join(format!("{stem}.png"))).expect("png");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000);
    }

    // Every run records how to reproduce it.
    let run_dir = out.join(&first.results[3].run);
    let info = RunInfo::read(&run_dir).expect("run.json");
    assert_eq!(info.seed, 43);
    assert_eq!(info.backend, "flex");
    assert_eq!(info.spikeburn_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.config.training.seed, 43);
    assert_eq!(
        info.config.model.neuron.surrogate,
        spikeburn_core::Surrogate::fast_sigmoid(25.0)
    );
    assert!(out.join("sweep.json").is_file());

    // A restart skips finished runs and gives the same tables.
    let again = run_sweep(&grid, &options(&out, 1), &mut Silent).expect("restart");
    assert_eq!((again.ran, again.skipped), (0, 8));
    let results_again = std::fs::read_to_string(out.join("results.csv")).expect("results");
    assert_eq!(results_again, results);

    // An interrupted run (no result.json yet) is continued, not retrained from scratch.
    std::fs::remove_file(run_dir.join("result.json")).expect("remove");
    let resumed = run_sweep(&grid, &options(&out, 1), &mut Silent).expect("resume");
    assert_eq!((resumed.ran, resumed.skipped), (1, 7));
    assert_eq!(numbers(&resumed.results[3]), numbers(&first.results[3]));

    // A different base configuration in the same directory is refused before anything runs.
    let other = Grid::new(
        &tiny_base(),
        &axes(&["epochs=1", "lr=0.01"]),
        &axes(&["surrogate=fast_sigmoid,sigmoid", "surrogate.slope=5,25"]),
        2,
    )
    .expect("grid");
    let err = run_sweep(&other, &options(&out, 1), &mut Silent).unwrap_err();
    assert!(matches!(err, SweepError::ConfigMismatch { .. }), "{err}");
}

#[test]
fn the_same_cell_gives_the_same_numbers_whatever_the_jobs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let grid = Grid::new(&tiny_base(), &[], &axes(&["beta=0.8,0.95"]), 1).expect("grid");
    let a = run_sweep(&grid, &options(&dir.path().join("a"), 1), &mut Silent).expect("a");
    let b = run_sweep(&grid, &options(&dir.path().join("b"), 2), &mut Silent).expect("b");
    for (x, y) in a.results.iter().zip(&b.results) {
        assert_eq!(x.run, y.run);
        assert_eq!(numbers(x), numbers(y), "{} differs between runs", x.run);
    }
    assert_ne!(numbers(&a.results[0]), numbers(&a.results[1]));
}

#[test]
fn bad_grids_are_errors_that_name_the_key() {
    let base = tiny_base();
    let err = |grid: &[&str]| {
        Grid::new(&base, &[], &axes(grid), 1)
            .expect_err("expected an error")
            .to_string()
    };
    let e = err(&["learning_rate=1"]);
    assert!(
        e.contains("learning_rate") && e.contains("training.lr"),
        "{e}"
    );
    let e = err(&["lr=abc"]);
    assert!(e.contains("lr=abc") && e.contains("training.lr"), "{e}");
    let e = err(&["beta=0.5,1.5"]);
    assert!(
        e.contains("beta=1.5") && e.contains("model.neuron.beta"),
        "{e}"
    );
    let e = err(&["seed=1,2"]);
    assert!(e.contains("--seeds"), "{e}");
    let e = err(&["lr=1e-3", "training.lr=1e-2"]);
    assert!(e.contains("training.lr"), "{e}");
    assert!("lr".parse::<AxisSpec>().is_err());
    assert!("lr=1,1".parse::<AxisSpec>().is_err());
    let e = Grid::new(&base, &axes(&["epochs=0"]), &[], 1)
        .expect_err("epochs = 0")
        .to_string();
    assert!(
        e.contains("epochs=0") && e.contains("training.epochs"),
        "{e}"
    );
}

#[test]
fn training_curves_are_plotted_from_a_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let mut config = tiny_base();
    config.training.epochs = 2;
    spikeburn_train::train(&config, &run, &mut Silent).expect("train");
    assert!(
        run.join("run.json").is_file(),
        "plain training writes run.json"
    );
    let files = spikeburn_train::plot::plot_curves(
        std::slice::from_ref(&run),
        &run.join("curves"),
        &ImageFormat::ALL,
    )
    .expect("plot");
    assert_eq!(files.len(), 2);
    let svg = std::fs::read_to_string(run.join("curves.svg")).expect("svg");
    assert!(svg.contains("loss") && svg.contains("accuracy"));
    assert!(std::fs::read(run.join("curves.png")).expect("png").len() > 1000);
    // A directory without metrics is a typed error naming the file.
    let err = spikeburn_train::plot::plot_curves(
        &[dir.path().join("nothing")],
        &dir.path().join("c"),
        &ImageFormat::ALL,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            spikeburn_train::plot::PlotError::Run(TrainError::MissingRunFile { .. })
        ),
        "{err}"
    );
    assert!(!dir.path().join("c.svg").exists());
}
