//! Records the git commit the crate is built from, for the reproducibility record of every run
//! (`run.json`, see `src/provenance.rs`).
//!
//! The commit is read at build time with `git rev-parse HEAD` in the crate's directory, so a
//! binary run from anywhere reports the source it was built from. `SPIKEBURN_GIT_COMMIT`, when
//! set at build time, takes precedence (builds from a tarball or a packaging system). Without
//! git or a repository the commit is unknown (`null` in `run.json`). The build script re-runs
//! when `HEAD` or the current branch moves, so the value does not go stale across commits.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SPIKEBURN_GIT_COMMIT");
    let commit = std::env::var("SPIKEBURN_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            // Watch the files that move when a commit is made or a branch checked out. Only
            // existing paths: cargo re-runs the script every time for a missing one.
            for name in ["HEAD", "packed-refs"] {
                watch(git(&["rev-parse", "--git-path", name]));
            }
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watch(git(&["rev-parse", "--git-path", &branch]));
            }
            git(&["rev-parse", "HEAD"])
        })
        .unwrap_or_default();
    println!("cargo:rustc-env=SPIKEBURN_GIT_COMMIT={commit}");
}

fn watch(path: Option<String>) {
    if let Some(path) = path {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
