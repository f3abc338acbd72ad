//! `spikeburn train` on event data: a recurrent network learns a small SHD-format data set
//! written by an independent writer (h5py, `tests/interop/shd_like.py` in the interop venv),
//! and a missing data folder is refused in one line naming the layout and where the data set
//! is published. The harness (`tests/support/harness.rs`) reports the first test ignored
//! where the venv is missing, and fails it under `SPIKEBURN_REQUIRE`.

use std::path::Path;
use std::process::{Command, Output};

#[path = "../../../tests/support/venv.rs"]
mod common;
#[macro_use]
#[path = "../../../tests/support/harness.rs"]
mod harness;

use common::H5PY;

fn spikeburn(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spikeburn"))
        .args(args)
        .env("SPIKEBURN_CACHE_DIR", cache)
        .env_remove("RUST_LOG")
        .output()
        .expect("run spikeburn")
}

/// Trains `shd-rsnn` with `options` on a generated SHD-format set of `train` and `test`
/// recordings (sample seeds 1 and 2 for train and test) in a new folder; returns the folder,
/// what `train` printed, and the last test accuracy.
fn train_shd(train: &str, test: &str, options: &[&str]) -> (tempfile::TempDir, String, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("shd");
    std::fs::create_dir(&data).expect("mkdir");
    write_shd_like(&data.join("shd_train.h5"), train, "1");
    write_shd_like(&data.join("shd_test.h5"), test, "2");
    let out = dir.path().join("run");
    let mut args = vec![
        "train",
        "--preset",
        "shd-rsnn",
        "--data-dir",
        data.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(options);
    let o = spikeburn(&args, &dir.path().join("cache"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let said = String::from_utf8_lossy(&o.stdout).into_owned();
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).expect("metrics");
    let last: serde_json::Value =
        serde_json::from_str(metrics.lines().last().expect("a line")).expect("json");
    let acc = last["test_accuracy"].as_f64().expect("accuracy");
    (dir, said, acc)
}

fn write_shd_like(path: &Path, samples: &str, seed: &str) {
    let script = common::script("shd_like.py");
    let mut argv = vec![script.as_os_str(), path.as_os_str()];
    argv.extend(
        ["--samples", samples, "--classes", "5", "--seed", seed]
            .into_iter()
            .chain(["--active", "100", "--spikes-per-unit", "2"])
            .map(std::ffi::OsStr::new),
    );
    common::run_python(&common::python(), argv);
}

/// Five classes of spike-time templates over 700 channels (chance: 20 %); `shd-rsnn` as
/// published, six epochs (measured: 100 % test accuracy, 10 s on 2 cores; 50.3 % with
/// all-to-all recurrence).
fn shd_rsnn_learns_a_generated_shd_file_far_above_chance() {
    let (dir, said, acc) = train_shd("1500", "300", &["--epochs", "6"]);
    assert!(said.contains("1500 recordings as 100 frames"), "{said}");
    assert!(
        said.contains("batches") && said.contains("% of training"),
        "{said}"
    );
    assert!(acc > 0.35, "test accuracy {acc} (chance 0.2)");
    let (out, cache) = (dir.path().join("run"), dir.path().join("cache"));
    // The frames were cached: one file per split.
    let cached = std::fs::read_dir(cache.join("frames"))
        .expect("cache")
        .count();
    assert_eq!(cached, 2);

    // The run's figures and diagnostics read its event data like training did.
    let run = out.to_str().expect("utf-8");
    let raster = dir.path().join("raster");
    let o = spikeburn(
        &[
            "plot",
            "raster",
            "--model",
            run,
            "--samples",
            "0",
            "--format",
            "svg",
            "--out",
            raster.to_str().expect("utf-8"),
        ],
        &cache,
    );
    assert!(
        o.status.success(),
        "plot raster: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let svg = std::fs::read_to_string(dir.path().join("raster-0.svg")).expect("raster svg");
    assert!(
        svg.contains("layer 1 (128 of 128)") && svg.contains("(target)"),
        "raster"
    );
    let o = spikeburn(
        &[
            "diagnose",
            "--model",
            run,
            "--samples",
            "32",
            "--grad-batch",
            "8",
            "--directions",
            "2",
            "--format",
            "svg",
        ],
        &cache,
    );
    assert!(
        o.status.success(),
        "diagnose: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("diagnostics/diagnostics.json")).expect("report"),
    )
    .expect("json");
    assert!(report.is_object(), "diagnostics.json");
}

/// The same data cut into 10 ms windows, each recording keeping its own number of frames
/// (`data.events.variable_length`): batches are padded to their longest recording and the
/// loss and read-outs read each recording's own frames only (each recording's length is the
/// span of its events in 10 ms windows, counted from its first event).
fn variable_length_recordings_train_padded_batches_far_above_chance() {
    let options = [
        "--epochs",
        "4",
        "--set",
        "data.events.steps=100",
        "--set",
        "data.events.frames={by=\"time_window\", window_us=10000}",
        "--set",
        "data.events.variable_length=true",
    ];
    let (_dir, said, acc) = train_shd("1000", "300", &options);
    assert!(
        said.contains("1000 recordings as up to 100 frames"),
        "{said}"
    );
    assert!(acc > 0.35, "test accuracy {acc} (chance 0.2)");
}

/// With `model.checkpoint_segment`, `shd-rsnn`'s input layer and one-to-one recurrent layer
/// run as the checkpointed operation (said in the header line) on the sparse SHD frames, and the
/// network still learns the generated set.
fn shd_rsnn_with_gradient_checkpointing_learns_the_generated_set() {
    let options = ["--epochs", "4", "--set", "model.checkpoint_segment=25"];
    let (_dir, said, acc) = train_shd("1000", "300", &options);
    assert!(
        said.contains("gradient checkpointing of 1 dense + LIF pair(s) in segments of 25 steps"),
        "{said}"
    );
    assert!(acc > 0.35, "test accuracy {acc} (chance 0.2)");
}

fn a_missing_data_folder_names_the_layout_and_the_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    for (preset, needle) in [
        ("shd-rsnn", "shd_train.h5"),
        ("nmnist-conv", "Train/<digit>/<id>.bin"),
        ("dvsgesture-conv", "trials_to_train.txt"),
    ] {
        let missing = dir.path().join("nowhere");
        let o = spikeburn(
            &[
                "train",
                "--preset",
                preset,
                "--data-dir",
                missing.to_str().expect("utf-8"),
                "--out",
                out.to_str().expect("utf-8"),
            ],
            &dir.path().join("cache"),
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{preset}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{preset}: {err}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(needle),
            "{preset}: {err}"
        );
        assert!(lines[0].contains("http"), "{preset}: {err}");
        assert!(!out.exists(), "{preset}: nothing written");
    }
}

fn main() -> std::process::ExitCode {
    harness::run(trials![
        a_missing_data_folder_names_the_layout_and_the_source;
        needs H5PY => shd_rsnn_learns_a_generated_shd_file_far_above_chance;
        needs H5PY => variable_length_recordings_train_padded_batches_far_above_chance;
        needs H5PY => shd_rsnn_with_gradient_checkpointing_learns_the_generated_set
    ])
}
