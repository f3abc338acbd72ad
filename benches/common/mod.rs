//! Helpers shared by the Criterion benchmarks (included with `mod common;`).

use burn::prelude::*;
use spikeburn::train::BackendKind;

/// The autodiff device a benchmark times `backend` on, or `None` (with a note on stderr where
/// the reason is worth telling) when it should be skipped: wgpu on a software renderer, or a
/// compiled backend whose device could not be opened. Backends not compiled in are skipped
/// silently.
pub fn bench_device(backend: BackendKind) -> Option<Device> {
    match backend.device() {
        Ok(_) if backend == BackendKind::Wgpu && spikeburn::core::gpu::wgpu_is_software() => {
            eprintln!("skipping wgpu: its adapter is a software renderer (no GPU)");
            None
        }
        Ok(device) => Some(device.autodiff()),
        Err(e) if backend.compiled() => {
            eprintln!("skipping {backend}: {e}");
            None
        }
        Err(_) => None,
    }
}
