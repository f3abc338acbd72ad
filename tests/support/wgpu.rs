//! The `wgpu` requirement of the GPU test binaries (`crates/spikeburn-core/tests/wgpu.rs`,
//! `crates/spikeburn-train/tests/wgpu.rs`), for the harness of `harness.rs`, which must be
//! declared as `mod harness` beside it.

use burn::prelude::*;
use spikeburn_core::gpu::{wgpu_adapter, wgpu_device};

/// A wgpu adapter that opens (Mesa's llvmpipe will do).
pub const WGPU: crate::harness::Requirement = crate::harness::Requirement {
    name: "wgpu",
    probe: || wgpu_adapter().map(drop).map_err(|e| e.to_string()),
};

/// The wgpu device (the harness runs the tests that call this only where [`WGPU`] holds).
pub fn wgpu() -> Device {
    wgpu_device().expect("wgpu device")
}
