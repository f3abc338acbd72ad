//! Sweeps end to end on tiny runs of the shipped MNIST: tables, figures, provenance,
//! resuming, determinism, and errors that name the axis.

#[path = "../../spikeburn-train/tests/common/mod.rs"]
mod common;
use common::{shipped_mnist, small_mlp};

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use spikeburn_figures::ImageFormat;
use spikeburn_research::sweep::{
    AxisSpec, Grid, RunResult, Shard, SweepError, SweepOptions, run_sweep, write_reports,
};
use spikeburn_train::provenance::RunInfo;
use spikeburn_train::trainer::{EpochRecord, files, load_run_model, read_metrics};
use spikeburn_train::{ExperimentConfig, LrSchedule, Silent, TrainError, checkpoint};
use std::path::Path;

/// A run of well under a second: 256 training images, 32 hidden neurons, 5 steps.
fn tiny_base() -> ExperimentConfig {
    let mut c = small_mlp(256, 100, 32, 5);
    c.data.dir = Some(shipped_mnist());
    c
}

fn axes(specs: &[&str]) -> Vec<AxisSpec> {
    specs.iter().map(|s| s.parse().expect("axis")).collect()
}

fn options(out: &Path, jobs: usize) -> SweepOptions {
    SweepOptions {
        jobs,
        ..SweepOptions::new(out)
    }
}

/// A CSV table without its timing columns (`wall_seconds…`, `step_ms…`), which differ between
/// runs.
fn without_timings(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("table");
    let rows: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let keep: Vec<usize> = (0..rows[0].len())
        .filter(|&c| !rows[0][c].contains("wall_seconds") && !rows[0][c].contains("step_ms"))
        .collect();
    rows.iter()
        .map(|r| keep.iter().map(|&c| r[c].clone()).collect())
        .collect()
}

#[test]
fn four_shards_on_one_folder_give_what_one_sweep_gives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let grid = Grid::new(&tiny_base(), &[], &axes(&["beta=0.7,0.8,0.95"]), 2).expect("grid");
    let whole = dir.path().join("whole");
    run_sweep(&grid, &options(&whole, 1), &mut Silent).expect("whole");

    // Four processes sharing one folder, as on a cluster: threads here, at the same time.
    let shared = dir.path().join("shared");
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=4)
            .map(|i| {
                let mut o = options(&shared, 1);
                o.shard = format!("{i}/4").parse().expect("shard");
                let grid = &grid;
                scope.spawn(move || run_sweep(grid, &o, &mut Silent).expect("shard"))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    // Runs 0..6 dealt round-robin: shards 1 and 2 get two runs, 3 and 4 one; no tables yet.
    let counts: Vec<usize> = outcomes.iter().map(|o| o.results.len()).collect();
    assert_eq!(counts, [2, 2, 1, 1]);
    assert_eq!(outcomes[0].results[1].run, "runs/beta=0.95/seed-42");
    assert!(outcomes.iter().all(|o| o.files.is_empty()));
    assert!(!shared.join("results.csv").exists());

    let (merged, files) = write_reports(&grid, &options(&shared, 1)).expect("merge");
    assert_eq!(merged.len(), 6);
    assert!(files.iter().all(|f| f.is_file()));
    for table in ["results.csv", "summary.csv"] {
        let (a, b) = (whole.join(table), shared.join(table));
        assert_eq!(without_timings(&a), without_timings(&b), "{table}");
    }
    // The merged folder trains nothing more when run whole, and leaves no temporary files.
    let again = run_sweep(&grid, &options(&shared, 1), &mut Silent).expect("again");
    assert_eq!((again.ran, again.skipped), (0, 6));
    let stray: Vec<_> = std::fs::read_dir(&shared)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
fn a_shard_is_i_of_n() {
    let s: Shard = "3/4".parse().expect("3/4");
    assert_eq!(s.to_string(), "3/4");
    assert!(s.holds(2) && s.holds(6) && !s.holds(3) && !s.holds(0));
    assert!(s.is_partial() && !Shard::WHOLE.is_partial());
    for bad in ["0/4", "5/4", "1/0", "1", "a/b", "1/2/3", ""] {
        let err = bad.parse::<Shard>().expect_err(bad);
        assert!(err.contains("I/N"), "{bad}: {err}");
    }
}

/// The numbers of a result, without the timings.
fn numbers(r: &RunResult) -> Vec<f64> {
    epoch_numbers(r.last.as_ref().expect("finished epoch"))
}

/// The numbers of an epoch record, without the timings.
fn epoch_numbers(l: &EpochRecord) -> Vec<f64> {
    let mut v = vec![
        l.epoch as f64,
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
        &axes(&["epochs=2"]),
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
            "runs/surrogate=fast_sigmoid+surrogate.slope=5/seed-42,fast_sigmoid,5,42,ok,2,"
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

    // An interrupted run is continued from its checkpoint, not retrained from scratch. The
    // finished run 3 is put back into the state that a crash during its second (last) epoch
    // leaves: `checkpoint.json` pointing at `checkpoint-1/` (epochs_done = 1), `model.bpk`
    // and `metrics.jsonl` of epoch 1 only, no `checkpoint-2/`, no `result.json`. Those files
    // come from a one-epoch run of the same configuration: with a constant learning rate
    // (checked) its epoch is the first epoch of the two-epoch run (checked on the numbers).
    // Its metrics line is marked with a `train_seconds` that no real epoch takes, so that a
    // retrained epoch 1 cannot pass for the kept one.
    let config = spikeburn_train::load_run_config(&run_dir).expect("config");
    assert_eq!(config.training.epochs, 2);
    assert_eq!(config.training.lr_schedule, LrSchedule::Constant);
    let finished_metrics = read_metrics(&run_dir).expect("metrics");
    assert_eq!(finished_metrics.len(), 2);
    let finished_model = model_floats(&run_dir, &config);
    let crashed = dir.path().join("crashed");
    let mut one_epoch = config.clone();
    one_epoch.training.epochs = 1;
    spikeburn_train::train(&one_epoch, &crashed, &mut Silent).expect("one epoch");
    let epoch_one = read_metrics(&crashed).expect("metrics");
    assert_eq!(epoch_one.len(), 1);
    assert_eq!(
        epoch_numbers(&epoch_one[0]),
        epoch_numbers(&finished_metrics[0])
    );
    let copy = |name: &str| std::fs::copy(crashed.join(name), run_dir.join(name)).expect(name);
    std::fs::remove_file(run_dir.join("result.json")).expect("remove result.json");
    std::fs::remove_dir_all(run_dir.join("checkpoint-2")).expect("remove checkpoint-2");
    std::fs::create_dir(run_dir.join("checkpoint-1")).expect("checkpoint-1");
    for name in ["checkpoint-1/model.bpk", "checkpoint-1/optim.bpk"] {
        copy(name);
    }
    for name in [checkpoint::POINTER, files::MODEL] {
        copy(name);
    }
    let marked = EpochRecord {
        train_seconds: 1000.0,
        ..epoch_one[0].clone()
    };
    let line = serde_json::to_string(&marked).expect("json") + "\n";
    std::fs::write(run_dir.join(files::METRICS), line).expect("metrics.jsonl");
    let info = checkpoint::read_info(&run_dir)
        .expect("read")
        .expect("checkpoint");
    assert_eq!((info.epochs_done, info.dir.as_str()), (1, "checkpoint-1"));
    let kept = read_metrics(&run_dir).expect("metrics");
    assert_eq!((kept.len(), kept[0].train_seconds), (1, 1000.0));
    assert_ne!(
        model_floats(&run_dir, &config),
        finished_model,
        "the interrupted run holds the weights of epoch 1"
    );
    let resumed = run_sweep(&grid, &options(&out, 1), &mut Silent).expect("resume");
    assert_eq!((resumed.ran, resumed.skipped), (1, 7));
    // The continued run trained epoch 2 (and only it) to the uninterrupted run's result.
    assert_eq!(numbers(&resumed.results[3]), numbers(&first.results[3]));
    let records = read_metrics(&run_dir).expect("metrics");
    assert_eq!(records.len(), 2, "one line per epoch");
    assert_eq!(records[0], kept[0], "epoch 1 is kept, not retrained");
    assert_eq!(
        epoch_numbers(&records[1]),
        epoch_numbers(&finished_metrics[1])
    );
    assert_eq!(model_floats(&run_dir, &config), finished_model);
    let info = checkpoint::read_info(&run_dir)
        .expect("read")
        .expect("checkpoint");
    assert_eq!((info.epochs_done, info.dir.as_str()), (2, "checkpoint-2"));
    assert!(!run_dir.join("checkpoint-1").exists());
    let results_resumed = std::fs::read_to_string(out.join("results.csv")).expect("results");
    assert_eq!(results_resumed.lines().count(), 9);

    // A different base configuration in the same directory is refused before anything runs.
    let other = Grid::new(
        &tiny_base(),
        &axes(&["epochs=2", "lr=0.01"]),
        &axes(&["surrogate=fast_sigmoid,sigmoid", "surrogate.slope=5,25"]),
        2,
    )
    .expect("grid");
    let err = run_sweep(&other, &options(&out, 1), &mut Silent).unwrap_err();
    assert!(matches!(err, SweepError::ConfigMismatch { .. }), "{err}");
}

/// Every float tensor of a run directory's `model.bpk`, in visiting order.
fn model_floats(run: &Path, config: &ExperimentConfig) -> Vec<Vec<f32>> {
    struct Floats(Vec<Vec<f32>>);
    impl ModuleVisitor for Floats {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let v = param.val().into_data().convert::<f32>();
            self.0.push(v.try_into_vec::<f32>().expect("f32"));
        }
    }
    let model = load_run_model(run, config, &Device::flex()).expect("model");
    let mut floats = Floats(Vec::new());
    model.visit(&mut floats);
    floats.0
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
    let files = spikeburn_research::plot::plot_curves(
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
    let err = spikeburn_research::plot::plot_curves(
        &[dir.path().join("nothing")],
        &dir.path().join("c"),
        &ImageFormat::ALL,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            spikeburn_research::plot::PlotError::Run(TrainError::MissingRunFile { .. })
        ),
        "{err}"
    );
    assert!(!dir.path().join("c.svg").exists());
}

/// A grid over neuron kinds with a field that only those kinds take: each cell gets the
/// kind's parameter type with the value of its cell (the base's `lif` fields, at their
/// defaults, do not stand in the way); a kind that does not take the field is refused by name.
#[test]
fn a_grid_over_neuron_kinds_sets_each_kinds_own_field() {
    use spikeburn_core::ModelParams;
    use spikeburn_core::alpha::AlphaParams;
    use spikeburn_core::synaptic::SynapticParams;
    let grid = Grid::new(
        &tiny_base(),
        &[],
        &axes(&["neuron.kind=synaptic,alpha", "neuron.alpha=0.5,0.8"]),
        1,
    )
    .expect("grid");
    let models: Vec<ModelParams> = grid
        .cells
        .iter()
        .map(|c| c.config.model.neuron.model.clone())
        .collect();
    let synaptic = |alpha| {
        ModelParams::from(SynapticParams {
            alpha,
            learn_alpha: false,
        })
    };
    let alpha = |alpha| {
        ModelParams::from(AlphaParams {
            alpha,
            learn_alpha: false,
        })
    };
    assert_eq!(
        models,
        [synaptic(0.5), synaptic(0.8), alpha(0.5), alpha(0.8)]
    );
    let e = Grid::new(
        &tiny_base(),
        &[],
        &axes(&["neuron.kind=lif,synaptic", "neuron.alpha=0.5"]),
        1,
    )
    .expect_err("lif takes no alpha")
    .to_string();
    assert!(
        e.contains("alpha: not a parameter of the lif neuron"),
        "{e}"
    );
}
