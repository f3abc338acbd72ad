//! Run folders to and from the interchange formats: [`export_run`] writes a trained run's
//! model as NIR or safetensors, [`import_nir`] makes a run folder of an NIR graph. The
//! conversions themselves are spikeburn-nir's (`spikeburn_nir::convert`, which depends on
//! spikeburn-core only); this module adds the run folders (`config.toml`, `model.bpk`).

use crate::{ExperimentConfig, TrainError, trainer};
use burn::prelude::*;
use spikeburn_nir::convert::{
    ConvertError, ExportFormat, ExportOptions, build_network, network_to_nir,
    network_to_safetensors, nir_to_network,
};
use std::path::{Path, PathBuf};

/// Why an export or import of a run failed.
#[derive(Debug, thiserror::Error)]
pub enum InterchangeError {
    /// The conversion, or reading and writing the NIR / safetensors file, failed.
    #[error(transparent)]
    Convert(#[from] ConvertError),
    /// Loading or writing the run folder failed.
    #[error(transparent)]
    Train(#[from] TrainError),
}

impl From<spikeburn_nir::NirError> for InterchangeError {
    fn from(e: spikeburn_nir::NirError) -> Self {
        InterchangeError::Convert(ConvertError::Nir(e))
    }
}

/// What [`export_run`] wrote.
#[derive(Clone, Debug)]
pub struct ExportReport {
    /// The file written.
    pub path: PathBuf,
    /// The architecture summary (e.g. `784-1000-10`).
    pub summary: String,
    /// Warnings of an approximate export.
    pub warnings: Vec<String>,
}

/// Exports the trained model of a run directory (`config.toml` + `model.bpk`, as written by
/// `spikeburn train` or [`import_nir`]) to `out` in `format`, atomically.
pub fn export_run(
    run_dir: &Path,
    format: ExportFormat,
    out: &Path,
    options: &ExportOptions,
) -> Result<ExportReport, InterchangeError> {
    let config = trainer::load_run_config(run_dir)?;
    let device = config.training.backend.device().map_err(TrainError::from)?;
    let net = trainer::load_run_model(run_dir, &config, &device)?;
    let warnings = match format {
        ExportFormat::Nir => {
            let (graph, warnings) = network_to_nir(&config.model, &net, options)?;
            spikeburn_nir::write_nir(out, &graph)?;
            warnings
        }
        ExportFormat::Safetensors => {
            let (tensors, metadata) = network_to_safetensors(&config.model, &net)?;
            spikeburn_nir::write_safetensors(out, &tensors, &metadata)?;
            Vec::new()
        }
    };
    Ok(ExportReport {
        path: out.to_path_buf(),
        summary: config.model.summary(),
        warnings,
    })
}

/// What [`import_nir`] wrote.
#[derive(Clone, Debug)]
pub struct ImportReport {
    /// The run directory written (`config.toml`, `model.bpk`).
    pub run_dir: PathBuf,
    /// The architecture summary.
    pub summary: String,
    /// The `dt` used for the mapping.
    pub dt: f64,
}

/// Reads the NIR file `file` and writes a run directory `out_dir` (`config.toml` with the
/// imported network and default data/training settings, `model.bpk` with the weights) that
/// `spikeburn eval --model OUT_DIR` and [`trainer::load_run_model`] accept. The directory is
/// assembled under a temporary name and renamed into place; an existing non-empty `out_dir`
/// is refused.
pub fn import_nir(file: &Path, out_dir: &Path) -> Result<ImportReport, InterchangeError> {
    let nir = spikeburn_nir::read_nir(file)?;
    let imported = nir_to_network(&nir.graph).map_err(|e| match e {
        ConvertError::Unsupported { what, reason } => ConvertError::Unsupported {
            what: format!("{}: {what}", file.display()),
            reason,
        },
        ConvertError::Nir(e) => ConvertError::Nir(e.with_file(file)),
        other => other,
    })?;
    let io = |path: &Path, action: &'static str| {
        let path = path.to_path_buf();
        move |source| ConvertError::Io {
            path,
            action,
            source,
        }
    };
    if out_dir.exists()
        && std::fs::read_dir(out_dir)
            .map_err(io(out_dir, "reading"))?
            .next()
            .is_some()
    {
        return Err(ConvertError::Io {
            path: out_dir.to_path_buf(),
            action: "creating the run directory",
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "exists and is not empty",
            ),
        }
        .into());
    }
    let experiment = ExperimentConfig {
        model: imported.config.clone(),
        ..ExperimentConfig::default()
    };
    let device = experiment
        .training
        .backend
        .device()
        .map_err(TrainError::from)?;
    let net = build_network(&imported, &device)?;
    let parent = match out_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent, "creating"))?;
    let tmp = tempfile::Builder::new()
        .prefix(".spikeburn-import-")
        .tempdir_in(&parent)
        .map_err(io(&parent, "creating a temporary directory in"))?;
    let config_path = tmp.path().join("config.toml");
    std::fs::write(&config_path, experiment.to_toml()).map_err(io(&config_path, "writing"))?;
    let model_path = tmp.path().join("model.bpk");
    net.save_file(&model_path)
        .map_err(|e| TrainError::record(&out_dir.join("model.bpk"), e))?;
    if out_dir.exists() {
        std::fs::remove_dir(out_dir).map_err(io(out_dir, "replacing the empty directory"))?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, out_dir).map_err(|source| {
        let _ = std::fs::remove_dir_all(&kept);
        ConvertError::Io {
            path: out_dir.to_path_buf(),
            action: "renaming the assembled run directory to",
            source,
        }
    })?;
    Ok(ImportReport {
        run_dir: out_dir.to_path_buf(),
        summary: imported.config.summary(),
        dt: imported.dt,
    })
}
