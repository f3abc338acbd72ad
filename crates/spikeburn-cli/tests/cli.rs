//! The `spikeburn` binary end to end: a tiny training run, eval, resume, and bad input.

mod common;
use common::*;

#[test]
fn bad_input_fails_with_one_line_and_no_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let data = mnist();
    let out_dir = d.join("out");
    let out = out_dir.to_str().expect("utf-8 path");

    let o = spikeburn(&["train", "--data-dir", "missing-dir", "--out", out], d);
    assert_clean_failure(&o, "missing-dir");

    std::fs::write(d.join("bad.toml"), "[model.neuron]\nbeta = 1.5\n").expect("write");
    for (option, value, field) in [
        ("--config", "bad.toml", "model.neuron.beta"),
        ("--num-steps", "0", "model.num_steps"),
        ("--batch-size", "0", "training.batch_size"),
    ] {
        let o = spikeburn(
            &["train", option, value, "--data-dir", &data, "--out", out],
            d,
        );
        assert_clean_failure(&o, field);
    }

    std::fs::write(d.join("typo.toml"), "[training]\nepoch = 2\n").expect("write");
    let o = spikeburn(&["train", "--config", "typo.toml", "--out", out], d);
    assert_clean_failure(&o, "typo.toml");

    let o = spikeburn(&["train", "--config", "absent.toml", "--out", out], d);
    assert_clean_failure(&o, "absent.toml");

    let o = spikeburn(&["eval", "--model", "not-a-run"], d);
    assert_clean_failure(&o, "not-a-run");

    assert!(!out_dir.exists(), "a failed run left {out} behind");
    assert!(!d.join("runs").exists());
}

/// `--backend wgpu` where wgpu finds no adapter (all Vulkan and EGL drivers hidden from it), or
/// in a build without the `wgpu` feature: one error line naming the backend, no output.
#[test]
fn wgpu_without_an_adapter_fails_with_one_line_and_no_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let out_dir = d.join("out");
    let data = mnist();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_spikeburn"))
            .args(args)
            .current_dir(d)
            .env("VK_ICD_FILENAMES", d.join("no-such-icd.json"))
            .env("__EGL_VENDOR_LIBRARY_FILENAMES", d.join("no-such-egl.json"))
            .env("XDG_RUNTIME_DIR", d)
            .env_remove("RUST_LOG")
            .output()
            .expect("run spikeburn")
    };
    let out = out_dir.to_str().expect("utf-8 path");
    let o = run(&[
        "train",
        "--backend",
        "wgpu",
        "--data-dir",
        &data,
        "--limit-train",
        "64",
        "--out",
        out,
    ]);
    assert_clean_failure(&o, "backend `wgpu`");
    assert!(!out_dir.exists(), "a failed run left {out} behind");
    let o = run(&["bench", "--backend", "wgpu", "--steps", "1"]);
    assert_clean_failure(&o, "backend `wgpu`");
}

/// CUDA where it cannot run: a GPU index the driver does not report (`cuda:99`), and on a
/// machine without the CUDA driver (or in a build without the `cuda` feature) `--backend cuda`
/// itself: one error line naming the backend, no output, no panic.
#[test]
fn cuda_without_a_device_fails_with_one_line_and_no_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let out_dir = d.join("out");
    let out = out_dir.to_str().expect("utf-8 path");
    let data = mnist();
    let train = |devices: &[&str]| {
        let mut args = vec![
            "train",
            "--data-dir",
            &data,
            "--limit-train",
            "64",
            "--out",
            out,
        ];
        args.extend_from_slice(devices);
        spikeburn(&args, d)
    };
    let o = train(&["--devices", "flex,cuda:99"]);
    assert_clean_failure(&o, "backend `cuda`");
    assert!(!out_dir.exists(), "a failed run left {out} behind");
    if spikeburn_core::gpu::cuda_device_count() == 0 {
        let o = train(&["--backend", "cuda"]);
        assert_clean_failure(&o, "backend `cuda`");
        assert!(!out_dir.exists(), "a failed run left {out} behind");
        let o = spikeburn(&["bench", "--backend", "cuda", "--steps", "1"], d);
        assert_clean_failure(&o, "backend `cuda`");
    }
}

#[test]
fn train_eval_and_resume_a_tiny_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let data = mnist();
    let common = tiny_run(&data, "256", "200", "5");
    let o = train_one_epoch(&common, d);
    assert!(o.status.success(), "train failed: {}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("test accuracy"), "{stdout}");
    assert!(
        stdout.contains("run"),
        "output does not say where files went: {stdout}"
    );
    for f in [
        "model.bpk",
        "config.toml",
        "metrics.jsonl",
        "checkpoint.json",
    ] {
        assert!(d.join("run").join(f).is_file(), "{f} missing");
    }

    let o = spikeburn(
        &["eval", "--model", "run", "--limit-test", "200", "--json"],
        d,
    );
    assert!(o.status.success(), "eval failed: {}", stderr(&o));
    let result: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("eval prints one JSON object");
    assert_eq!(result["samples"], 200);
    // `eval` scores the saved weights exactly as the end-of-epoch evaluation did.
    let metrics = std::fs::read_to_string(d.join("run/metrics.jsonl")).expect("metrics");
    let last: serde_json::Value =
        serde_json::from_str(metrics.lines().last().expect("a line")).expect("JSON");
    assert_eq!(result["accuracy"], last["test_accuracy"]);

    let o = spikeburn(&["train", "--resume", "run", "--epochs", "2"], d);
    assert!(o.status.success(), "resume failed: {}", stderr(&o));
    let metrics = std::fs::read_to_string(d.join("run/metrics.jsonl")).expect("metrics");
    assert_eq!(metrics.lines().count(), 2);

    // The same output directory again is refused.
    let mut again = vec!["train", "--out", "run"];
    again.extend(common);
    let o = spikeburn(&again, d);
    assert_clean_failure(&o, "not empty");
}

#[test]
fn help_lists_the_commands_and_options() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = spikeburn(&["--help"], dir.path());
    let text = String::from_utf8_lossy(&o.stdout);
    for word in ["train", "eval", "bench"] {
        assert!(text.contains(word), "--help lacks {word}: {text}");
    }
    let o = spikeburn(&["train", "--help"], dir.path());
    let text = String::from_utf8_lossy(&o.stdout);
    for option in [
        "--preset",
        "--config",
        "--resume",
        "--epochs",
        "--batch-size",
        "--num-steps",
        "--lr",
        "--seed",
        "--backend",
        "--data-dir",
        "--out",
        "--limit-train",
    ] {
        assert!(text.contains(option), "train --help lacks {option}");
    }
}

#[test]
fn bench_prints_one_json_object_per_case() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [&[&str]; 2] = [
        &[
            "bench",
            "--batch-size",
            "4",
            "--num-steps",
            "2",
            "--steps",
            "1",
            "--warmup",
            "0",
        ],
        &[
            "bench",
            "--workload",
            "lif-layer",
            "--sizes",
            "16,33",
            "--num-steps",
            "4",
            "--steps",
            "1",
            "--warmup",
            "0",
        ],
    ];
    for (args, expected) in cases.iter().zip([2, 4]) {
        let mut args = args.to_vec();
        args.push("--json");
        let o = spikeburn(&args, dir.path());
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
            .collect();
        assert_eq!(lines.len(), expected, "{args:?}");
        assert!(
            lines
                .iter()
                .all(|l| l["median_ms"].as_f64().is_some_and(|v| v > 0.0))
        );
    }
}

#[test]
fn diagnose_a_tiny_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let data = mnist();
    let o = train_one_epoch(&tiny_run(&data, "256", "64", "5"), d);
    assert!(o.status.success(), "train failed: {}", stderr(&o));
    let o = spikeburn(
        &[
            "diagnose",
            "--model",
            "run",
            "--samples",
            "32",
            "--grad-batch",
            "8",
            "--directions",
            "2",
            "--format",
            "svg",
        ],
        d,
    );
    assert!(o.status.success(), "diagnose failed: {}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("reference sigmoid(10"), "{stdout}");
    assert!(stdout.contains("(configured)"), "{stdout}");
    for f in [
        "diagnostics.json",
        "grad_norms.svg",
        "rates.svg",
        "agreement.svg",
    ] {
        assert!(d.join("run/diagnostics").join(f).is_file(), "{f} missing");
    }
    assert!(!d.join("run/diagnostics/rates.png").exists());
    let o = spikeburn(&["diagnose", "--model", "missing"], d);
    assert_clean_failure(&o, "missing");
    let o = spikeburn(&["diagnose", "--model", "run", "--steepness", "0"], d);
    assert_clean_failure(&o, "--steepness");
}

/// Hostile configurations (the reliability review's list) end with one `error:` line naming
/// the field, exit code 1, and no run folder; none panics or aborts on an allocation.
#[test]
fn hostile_configs_are_refused_before_the_run_folder_exists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let data = mnist();
    let cases = [
        (
            "[training]\naugment_shift = 4611686018427387904\n",
            "training.augment_shift",
        ),
        ("[training]\naugment_shift = 28\n", "training.augment_shift"),
        ("[model]\nnum_steps = 4000000000\n", "model.num_steps"),
        ("[model]\nnum_steps = 100000000\n", "model.num_steps"),
        ("[model]\nhidden = [2000000000]\n", "layer sizes"),
        (
            "[model.neuron]\nkind = \"synaptic\"\nrefractory = 3\n",
            "[model.neuron] refractory: not a parameter of the synaptic neuron (only of lif, if)",
        ),
    ];
    for (i, (toml, needle)) in cases.iter().enumerate() {
        let file = d.join(format!("hostile-{i}.toml"));
        std::fs::write(&file, toml).expect("write");
        let out_dir = d.join(format!("out-{i}"));
        let o = spikeburn(
            &[
                "train",
                "--config",
                file.to_str().expect("utf-8"),
                "--data-dir",
                &data,
                "--out",
                out_dir.to_str().expect("utf-8"),
            ],
            d,
        );
        assert_eq!(o.status.code(), Some(1), "case {toml:?}: {}", stderr(&o));
        assert_clean_failure(&o, needle);
        assert!(
            !out_dir.exists(),
            "case {toml:?} left {}",
            out_dir.display()
        );
    }
}

/// `--resume` takes `--epochs` only: another option is refused with a line naming it, before
/// anything runs.
#[test]
fn resume_refuses_options_that_would_change_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for option in [["--lr", "0.1"], ["--batch-size", "8"], ["--seed", "3"]] {
        let o = spikeburn(&["train", "--resume", "some-run", option[0], option[1]], d);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{option:?}: {err}");
        let first = err.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error: ") && first.contains(option[0]) && first.contains("--resume"),
            "{option:?}: {err}"
        );
    }
}

/// A small PLIF network (learnable per-neuron β and θ, whose gradients the fused scan sums
/// over the batch in parallel) with dropout.
const PLIF: &str = r#"
[data]
limit_train = 384
limit_test = 128

[model]
input = [784]
hidden = [96]
num_steps = 6

[model.neuron]
learn_beta = true
learn_threshold = true
per_neuron = true

[training]
batch_size = 64
lr = 2e-3
"#;

/// Same seed, same weights, bit for bit, whatever the thread count (1, 2 and 4 rayon
/// threads) for each dense product (OpenBLAS and burn's), checked with `spikeburn compare`,
/// which also tells different weights apart.
#[test]
fn training_is_bit_identical_for_any_thread_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("plif.toml"), PLIF).expect("write");
    let data = mnist();
    let train = |threads: usize, gemm: &str, seed: u64| -> String {
        let out = format!("run-{gemm}-{threads}-{seed}");
        let o = Command::new(env!("CARGO_BIN_EXE_spikeburn"))
            .args(["train", "--config", "plif.toml", "--data-dir", &data])
            .args(["--seed", &seed.to_string(), "--out", &out])
            .env("RAYON_NUM_THREADS", threads.to_string())
            .env("SPIKEBURN_GEMM", gemm)
            .current_dir(d)
            .output()
            .expect("run spikeburn");
        assert!(o.status.success(), "{out}: {}", stderr(&o));
        out
    };
    for gemm in ["openblas", "burn"] {
        let one = train(1, gemm, 7);
        for threads in [2, 4] {
            let other = train(threads, gemm, 7);
            let o = spikeburn(&["compare", &one, &other], d);
            assert!(
                o.status.success(),
                "{gemm}: 1 vs {threads} threads: {}",
                stderr(&o)
            );
            assert!(String::from_utf8_lossy(&o.stdout).starts_with("identical: "));
        }
    }
    let reseeded = train(2, "burn", 8);
    let o = spikeburn(&["compare", "run-burn-1-7", &reseeded], d);
    assert_eq!(o.status.code(), Some(1));
    assert_clean_failure(&o, "weights differ");
}

/// The README's export path: `train --set reset=zero` then `export --format nir`, exactly; the
/// default (subtract reset) run is refused with one line naming both ways out.
#[test]
fn train_set_and_the_documented_nir_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let data = mnist();
    let mut common = vec!["train"];
    common.extend(tiny_run(&data, "128", "64", "4"));
    let export_nir = |model: &str, out: &str| {
        spikeburn(
            &["export", "--model", model, "--format", "nir", "--out", out],
            d,
        )
    };
    let mut zero = common.clone();
    zero.extend(["--set", "reset=zero", "--set", "beta=0.9", "--out", "zero"]);
    let o = spikeburn(&zero, d);
    assert!(o.status.success(), "train --set failed: {}", stderr(&o));
    let config = std::fs::read_to_string(d.join("zero/config.toml")).expect("config");
    let parsed: toml::Value = toml::from_str(&config).expect("toml");
    assert_eq!(parsed["model"]["neuron"]["reset"].as_str(), Some("zero"));
    assert_eq!(parsed["model"]["neuron"]["beta"].as_float(), Some(0.9));
    let o = export_nir("zero", "zero.nir");
    assert!(o.status.success(), "export failed: {}", stderr(&o));
    assert!(d.join("zero.nir").is_file());

    let mut default = common.clone();
    default.extend(["--out", "default"]);
    assert!(spikeburn(&default, d).status.success());
    let o = export_nir("default", "d.nir");
    assert_clean_failure(&o, "--set reset=zero");
    assert!(stderr(&o).contains("--allow-approximate"));
    assert!(!d.join("d.nir").exists());

    // A key that is not a field is refused before anything is written.
    let mut bad = common.clone();
    bad.extend(["--set", "betta=0.9", "--out", "bad"]);
    let o = spikeburn(&bad, d);
    assert_clean_failure(&o, "betta");
    assert!(!d.join("bad").exists());
}
