//! The Python venv of the interop tests (NIR interop, the SHD-format writer), included by path,
//! whose harness (`tests/support/harness.rs`) runs the tests that need it only where
//! [`imports`] holds, and reports them ignored (or, under `SPIKEBURN_REQUIRE`, failed) elsewhere.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::Command;

/// `$SPIKEBURN_VENV`, default `~/.cache/spikeburn/venv`.
pub fn venv() -> PathBuf {
    std::env::var_os("SPIKEBURN_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            Path::new(&home).join(".cache/spikeburn/venv")
        })
}

/// A script of `tests/interop/`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/interop")
        .join(name)
}

/// The venv's Python.
pub fn python() -> PathBuf {
    venv().join("bin/python")
}

/// Runs `python` (the venv's, [`python`]) with `args` (a script or `-c CODE`, then its
/// arguments) and returns what it printed; a failure panics with its standard error (a test's
/// set-up step failed).
pub fn run_python<S: AsRef<std::ffi::OsStr>>(
    python: &Path,
    args: impl IntoIterator<Item = S>,
) -> Vec<u8> {
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().into()).collect();
    let out = Command::new(python)
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "python {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Whether the venv's Python imports `modules`: `Err` says why not (the harness's probe).
pub fn imports(modules: &[&str]) -> Result<(), String> {
    let python = python();
    let list = modules.join(", ");
    if !python.exists() {
        return Err(format!("no Python venv at {}", venv().display()));
    }
    match Command::new(&python)
        .args(["-c", &format!("import {list}")])
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "{} cannot import {list}: {}",
            python.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run {}: {e}", python.display())),
    }
}

/// h5py and numpy in the venv: what the SHD-format writer `tests/interop/shd_like.py` needs
/// (the test binary must also include `tests/support/harness.rs` as `harness`).
pub const H5PY: crate::harness::Requirement = crate::harness::Requirement {
    name: "interop",
    probe: || imports(&["h5py", "numpy"]),
};
