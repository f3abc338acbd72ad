//! Helpers of the CLI tests: running the binary, the shipped MNIST, tiny runs, clean failures.
#![allow(dead_code)] // each test file uses its part

pub use std::path::Path;
pub use std::process::{Command, Output};

pub fn spikeburn(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spikeburn"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .output()
        .expect("run spikeburn")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn mnist() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets/mnist")
        .display()
        .to_string()
}

/// The data and size options of a tiny run: MNIST from `data`, `limit_train` and `limit_test`
/// samples, `num_steps` steps, batches of 64.
pub fn tiny_run<'a>(
    data: &'a str,
    limit_train: &'a str,
    limit_test: &'a str,
    num_steps: &'a str,
) -> [&'a str; 10] {
    [
        "--data-dir",
        data,
        "--limit-train",
        limit_train,
        "--limit-test",
        limit_test,
        "--num-steps",
        num_steps,
        "--batch-size",
        "64",
    ]
}

/// Trains the `mnist-mlp` preset for one epoch into `cwd/run`, with `options` after.
pub fn train_one_epoch(options: &[&str], cwd: &Path) -> Output {
    let mut args = vec![
        "train",
        "--preset",
        "mnist-mlp",
        "--epochs",
        "1",
        "--out",
        "run",
    ];
    args.extend(options);
    spikeburn(&args, cwd)
}

/// Asserts a failed run: non-zero exit, one `error:` line that mentions `needle`.
pub fn assert_clean_failure(out: &Output, needle: &str) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected failure, got success; stderr: {err}"
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(
        lines[0].contains(needle),
        "error line does not mention {needle:?}: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
