//! The Python venv of the interop tests and their skip policy, shared by `interop.rs` and
//! `convert_interop.rs`.

use std::io::Write as _;
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

/// The venv's Python if it imports `modules`, or `None` after printing why `test` is
/// skipped; panics instead when `SPIKEBURN_REQUIRE_INTEROP=1` (set by `.ci/run` once the venv
/// is installed).
pub fn python(test: &str, modules: &[&str]) -> Option<PathBuf> {
    let python = venv().join("bin/python");
    let list = modules.join(", ");
    let reason = if !python.exists() {
        Some(format!("no Python venv at {}", venv().display()))
    } else {
        match Command::new(&python)
            .args(["-c", &format!("import {list}")])
            .output()
        {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(format!(
                "{} cannot import {list}: {}",
                python.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Some(format!("cannot run {}: {e}", python.display())),
        }
    };
    let Some(reason) = reason else {
        return Some(python);
    };
    let required = std::env::var("SPIKEBURN_REQUIRE_INTEROP").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{test}: SPIKEBURN_REQUIRE_INTEROP=1 but {reason} (install with `python -m pip install -r tests/interop/requirements.txt`)"
    );
    // Written to the stderr handle directly: libtest captures `eprintln!` of passing tests,
    // and a skip must be visible.
    let _ = writeln!(
        std::io::stderr(),
        "{test}: skipped: {reason} (set SPIKEBURN_VENV, or run .ci/run to create it)"
    );
    None
}
