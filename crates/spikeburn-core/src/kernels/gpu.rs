//! The GPU devices (burn-wgpu; CUDA), opened explicitly.
//!
//! burn makes wgpu its default device whenever the `wgpu` feature is compiled in, even on a
//! machine without a GPU. spikeburn never uses that default: [`wgpu_device`] opens the default
//! adapter on request, once per process, and says why when there is none. On a machine without
//! a GPU, Mesa's software Vulkan driver (Debian package `mesa-vulkan-drivers`, adapter
//! "llvmpipe") gives wgpu an adapter that runs the same kernels on the CPU.

use burn::prelude::*;

/// Why the GPU device could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GpuError {
    /// spikeburn was built without the cargo feature `wgpu`.
    #[error(
        "backend `wgpu` is not compiled into this build of spikeburn (rebuild with `--features wgpu`)"
    )]
    NotCompiled,
    /// wgpu found no adapter, or could not open it.
    #[error(
        "backend `wgpu`: no usable GPU adapter ({0}); on a machine without a GPU, install Mesa's software Vulkan driver (Debian: mesa-vulkan-drivers)"
    )]
    NoAdapter(String),
    /// spikeburn was built without the cargo feature `cuda`.
    #[error(
        "backend `cuda` is not compiled into this build of spikeburn (rebuild with `--features cuda`)"
    )]
    CudaNotCompiled,
    /// The CUDA driver is missing, or has no GPU of the index asked for.
    #[error("backend `cuda`: {0}")]
    NoCudaDevice(String),
}

/// The opened adapter.
#[derive(Clone, Debug)]
struct Opened {
    device: Device,
    description: String,
    software: bool,
}

/// The wgpu device on the default adapter (opened on the first call, then reused).
pub fn wgpu_device() -> Result<Device, GpuError> {
    imp::opened().map(|o| o.device.clone())
}

/// The default adapter as `name, graphics API, device type` (e.g.
/// `llvmpipe (LLVM 15.0.6, 256 bits), Vulkan, Cpu`), where one opens.
pub fn wgpu_adapter() -> Result<String, GpuError> {
    imp::opened().map(|o| o.description.clone())
}

/// The wgpu device on the `index`-th discrete GPU (for data-parallel training over several
/// GPUs), opened on the first call for that index, then reused.
pub fn wgpu_device_at(index: usize) -> Result<Device, GpuError> {
    imp::discrete(index)
}

/// Whether the default adapter is a software renderer running on the CPU (wgpu device type
/// `Cpu`, e.g. Mesa's llvmpipe): correct, but slower than the CPU backends.
pub fn wgpu_is_software() -> bool {
    imp::opened().is_ok_and(|o| o.software)
}

/// The CUDA device of the `index`-th NVIDIA GPU (cargo feature `cuda`; burn's CUDA backend, which
/// runs the same CubeCL kernels as wgpu). The driver library (`libcuda`) is looked for at run
/// time, so a build with the feature runs on a machine without one; there, or where the driver
/// reports no GPU `index`, this is [`GpuError::NoCudaDevice`] instead of a panic.
pub fn cuda_device(index: usize) -> Result<Device, GpuError> {
    cuda::device(index)
}

/// The number of GPUs the CUDA driver reports: 0 without a driver, or in a build without the
/// cargo feature `cuda`.
pub fn cuda_device_count() -> usize {
    cuda::count()
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::GpuError;
    use burn::prelude::*;
    use cubecl::device::DeviceUnavailable;

    /// The largest GPU index CubeCL's device ids hold.
    const MAX_INDEX: usize = u16::MAX as usize;

    pub(super) fn count() -> usize {
        // Naming a GPU the machine does not have reports how many it has. CubeCL asks whether
        // `libcuda` can be loaded before it calls into the driver (which would panic without
        // it), and counts no devices where it cannot.
        match cubecl::Device::cuda(MAX_INDEX) {
            Err(DeviceUnavailable::NoSuchDevice { available, .. }) => available,
            _ => 0,
        }
    }

    pub(super) fn device(index: usize) -> Result<Device, GpuError> {
        if index > MAX_INDEX {
            return Err(GpuError::NoCudaDevice(format!(
                "GPU {index} asked for, but indices end at {MAX_INDEX}"
            )));
        }
        match cubecl::Device::cuda(index) {
            Ok(_) => Ok(Device::cuda(index)),
            Err(DeviceUnavailable::NoSuchDevice { available: 0, .. }) => {
                Err(GpuError::NoCudaDevice(
                    "no NVIDIA GPU found (the CUDA driver library libcuda is not installed, \
                     or it reports no device)"
                        .to_string(),
                ))
            }
            Err(DeviceUnavailable::NoSuchDevice { available, .. }) => {
                Err(GpuError::NoCudaDevice(format!(
                    "GPU {index} asked for, but the CUDA driver reports {available} \
                     (cuda:0 … cuda:{})",
                    available - 1
                )))
            }
            Err(e) => Err(GpuError::NoCudaDevice(e.to_string())),
        }
    }
}

#[cfg(not(feature = "cuda"))]
mod cuda {
    use super::GpuError;

    pub(super) fn count() -> usize {
        0
    }

    pub(super) fn device(_: usize) -> Result<burn::prelude::Device, GpuError> {
        Err(GpuError::CudaNotCompiled)
    }
}

#[cfg(feature = "wgpu")]
mod imp {
    use super::{GpuError, Opened};
    use burn::prelude::*;
    use std::sync::OnceLock;

    static OPENED: OnceLock<Result<Opened, GpuError>> = OnceLock::new();

    fn open() -> Result<Opened, GpuError> {
        let opened = std::panic::catch_unwind(|| {
            Device::wgpu_options()
                .device_kind(burn::tensor::DeviceKind::DefaultDevice)
                .init_with_setup()
        });
        match opened {
            Ok(Ok((device, setup))) => {
                let info = setup.adapter.get_info();
                let description =
                    format!("{}, {:?}, {:?}", info.name, info.backend, info.device_type);
                let software = info.device_type == burn::backend::wgpu::wgpu::DeviceType::Cpu;
                Ok(Opened {
                    device,
                    description,
                    software,
                })
            }
            Ok(Err(e)) => Err(GpuError::NoAdapter(e.to_string())),
            Err(_) => Err(GpuError::NoAdapter(
                "wgpu panicked while opening the adapter".to_string(),
            )),
        }
    }

    pub(super) fn opened() -> Result<&'static Opened, GpuError> {
        OPENED.get_or_init(open).as_ref().map_err(Clone::clone)
    }

    type Discrete = std::collections::HashMap<usize, Result<Device, GpuError>>;
    static DISCRETE: std::sync::Mutex<Option<Discrete>> = std::sync::Mutex::new(None);

    pub(super) fn discrete(index: usize) -> Result<Device, GpuError> {
        let mut guard = DISCRETE.lock().unwrap_or_else(|p| p.into_inner());
        let opened = guard.get_or_insert_with(Default::default);
        opened
            .entry(index)
            .or_insert_with(|| {
                match std::panic::catch_unwind(|| {
                    Device::wgpu_options()
                        .device_kind(burn::tensor::DeviceKind::DiscreteGpu(index))
                        .init()
                }) {
                    Ok(Ok(device)) => Ok(device),
                    Ok(Err(e)) => Err(GpuError::NoAdapter(format!("discrete GPU {index}: {e}"))),
                    Err(_) => Err(GpuError::NoAdapter(format!(
                        "discrete GPU {index}: wgpu panicked while opening it"
                    ))),
                }
            })
            .clone()
    }
}

#[cfg(not(feature = "wgpu"))]
mod imp {
    use super::{GpuError, Opened};

    pub(super) fn opened() -> Result<&'static Opened, GpuError> {
        Err(GpuError::NotCompiled)
    }

    pub(super) fn discrete(_: usize) -> Result<burn::prelude::Device, GpuError> {
        Err(GpuError::NotCompiled)
    }
}
