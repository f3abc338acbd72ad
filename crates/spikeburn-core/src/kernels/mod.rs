//! The hand-written operations behind the layers and neurons: each a burn backend extension
//! with its own backward pass, on the CPU backends (flex, ndarray) and, for the neuron scans,
//! as CubeCL kernels on the GPU backends (wgpu, CUDA). Each is tested against the reference built from burn's ops, in
//! values and gradients (`tests/` of this crate).
//!
//! - [`fused`]: the time loops of the LIF, synaptic and integrator neurons as one operation
//!   with a hand-written BPTT backward (`cpu/`, and `cube.rs` on the GPU), and of the
//!   recurrent (`recurrent.rs` for all-to-all), adaptive (`adaptive.rs`), alpha (`alpha.rs`),
//!   conductance (`conductance.rs`), stochastic (`stochastic.rs`) and refractory neurons on
//!   the CPU; `linear_lif.rs` (with `cpu/segments.rs`): a dense layer and a LIF layer as one
//!   operation with gradient checkpointing over time, for long sequences;
//! - [`dense`]: dense layers through OpenBLAS or the `gemm` crate, chosen at run time;
//! - [`conv`]: 2-D convolution as im2col + GEMM;
//! - [`pool`]: 2-D max pooling with a saved arg-max;
//! - [`batch_norm`]: training-mode batch normalisation;
//! - [`gpu`]: opening the GPU devices (wgpu, CUDA).

pub mod batch_norm;
pub mod conv;
pub mod dense;
pub mod fused;
pub mod gpu;
pub(crate) mod host;
pub(crate) mod matmul;
pub mod pool;

/// Whether `device` is one of the CPU backends (burn-flex, burn-ndarray; with or without
/// autodiff), where the hand-written CPU operations run on host buffers.
pub fn on_cpu(device: &burn::prelude::Device) -> bool {
    use burn::backend::DispatchDevice;
    matches!(
        device.clone().inner().as_dispatch(),
        DispatchDevice::Flex(_) | DispatchDevice::NdArray(_)
    )
}
