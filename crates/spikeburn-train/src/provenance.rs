//! The reproducibility record of a run: `run.json` in every run directory.
//!
//! It holds what is needed to run the same experiment again and to know where a result came
//! from: the resolved configuration (also in `config.toml`), the seed and backend, the
//! spikeburn version, the git commit the binary was built from (recorded at build time by
//! `build.rs`; `null` where git or the repository was not available), the command line, the
//! host name and the number of threads. On the same CPU backend and the same build, training
//! the same configuration with the same seed gives the same numbers (tested).

use crate::config::ExperimentConfig;
use crate::error::TrainError;
use serde::{Deserialize, Serialize};
use spikeburn_io::write_bytes_atomically;
use std::path::Path;

/// File name of the record inside a run directory.
pub const RUN_INFO: &str = "run.json";

/// The contents of `run.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Version of the spikeburn crates (`CARGO_PKG_VERSION`).
    pub spikeburn_version: String,
    /// Git commit the binary was built from, when known.
    pub git_commit: Option<String>,
    /// The CPU backend of the run.
    pub backend: String,
    /// Seed of weights and data order (`training.seed`).
    pub seed: u64,
    /// Threads available to the process (`std::thread::available_parallelism`).
    pub threads: usize,
    /// Host name, when it can be read.
    pub hostname: Option<String>,
    /// Start time, seconds since the Unix epoch.
    pub started_unix: u64,
    /// The program's command line.
    pub command: Vec<String>,
    /// The resolved experiment configuration.
    pub config: ExperimentConfig,
}

/// The git commit recorded at build time, if any.
pub fn git_commit() -> Option<&'static str> {
    let commit = env!("SPIKEBURN_GIT_COMMIT");
    (!commit.is_empty()).then_some(commit)
}

impl RunInfo {
    /// The record of a run of `config` starting now in this process.
    pub fn collect(config: &ExperimentConfig) -> Self {
        Self {
            spikeburn_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: git_commit().map(str::to_string),
            backend: config.training.backend.name().to_string(),
            seed: config.training.seed,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            hostname: hostname(),
            started_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            command: std::env::args().collect(),
            config: config.clone(),
        }
    }

    /// Writes the record to `run_dir/run.json` (atomically).
    pub fn write(&self, run_dir: &Path) -> Result<(), TrainError> {
        let text = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        Ok(write_bytes_atomically(
            &run_dir.join(RUN_INFO),
            text.as_bytes(),
        )?)
    }

    /// Reads `run_dir/run.json`.
    pub fn read(run_dir: &Path) -> Result<Self, TrainError> {
        let path = run_dir.join(RUN_INFO);
        let text = std::fs::read_to_string(&path).map_err(crate::error::io_error(&path))?;
        serde_json::from_str(&text).map_err(|e| TrainError::BadCheckpoint {
            path,
            message: e.to_string(),
        })
    }
}

/// The host name from the kernel or the environment, if available.
fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}
