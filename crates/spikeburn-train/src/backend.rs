//! The compute backend a run uses, chosen at run time.
//!
//! burn picks wgpu as its default device whenever the `wgpu` feature is compiled in, even on a
//! machine without a GPU. spikeburn never relies on that default: every run names its backend
//! (CPU `flex` unless asked otherwise), and [`BackendKind::device`] builds that device
//! explicitly, failing with [`BackendError`] where it cannot.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// A compute backend of burn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// burn-flex, burn 0.22's pure-Rust CPU backend (SIMD, multi-threaded). The default: it
    /// was faster than ndarray in our measurements (see the README).
    #[default]
    Flex,
    /// burn-ndarray (deprecated by burn 0.22 in favour of flex; kept as the requested option).
    Ndarray,
    /// burn-wgpu: the GPU through Vulkan, Metal, DX12 or WebGPU, with spikeburn's fused CubeCL
    /// neuron kernels. Needs the cargo feature `wgpu`; on a machine without a GPU, Mesa's
    /// software Vulkan driver (llvmpipe) provides an adapter.
    Wgpu,
    /// burn's CUDA backend on NVIDIA GPUs (the first GPU; `cuda:N` in `--devices` for others),
    /// with the same fused CubeCL kernels as wgpu. Needs the cargo feature `cuda`; the CUDA
    /// driver is loaded at run time.
    Cuda,
}

/// Why a backend's device could not be created (only the GPU backends can fail).
pub use spikeburn_core::gpu::GpuError as BackendError;

impl BackendKind {
    /// All backends, in the order `--help` lists them.
    pub const ALL: [BackendKind; 4] = [
        BackendKind::Flex,
        BackendKind::Ndarray,
        BackendKind::Wgpu,
        BackendKind::Cuda,
    ];

    /// The CPU backends (what `spikeburn bench` compares by default).
    pub const CPU: [BackendKind; 2] = [BackendKind::Flex, BackendKind::Ndarray];

    /// The backend's name in configs and on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Ndarray => "ndarray",
            BackendKind::Wgpu => "wgpu",
            BackendKind::Cuda => "cuda",
        }
    }

    /// Whether this build can create the backend's device (wgpu and CUDA need their cargo
    /// features).
    pub fn compiled(&self) -> bool {
        match self {
            BackendKind::Wgpu => cfg!(feature = "wgpu"),
            BackendKind::Cuda => cfg!(feature = "cuda"),
            BackendKind::Flex | BackendKind::Ndarray => true,
        }
    }

    /// Whether the backend runs on a GPU (its memory is the device's, not the process's).
    pub fn is_gpu(&self) -> bool {
        matches!(self, BackendKind::Wgpu | BackendKind::Cuda)
    }

    /// The backend's device, without autodiff (for inference; call `.autodiff()` to train).
    /// For wgpu, the first call opens the default adapter and later calls reuse it.
    #[allow(deprecated)] // burn 0.22 deprecates ndarray; the project supports it on purpose.
    pub fn device(&self) -> Result<Device, BackendError> {
        match self {
            BackendKind::Flex => Ok(Device::flex()),
            BackendKind::Ndarray => Ok(Device::ndarray()),
            BackendKind::Wgpu => spikeburn_core::gpu::wgpu_device(),
            BackendKind::Cuda => spikeburn_core::gpu::cuda_device(0),
        }
    }

    /// A one-line description of the device that runs the backend, e.g. the GPU adapter's
    /// name and graphics API for wgpu.
    pub fn describe(&self) -> String {
        match self {
            BackendKind::Wgpu => match spikeburn_core::gpu::wgpu_adapter() {
                Ok(adapter) => format!("wgpu ({adapter})"),
                Err(_) => "wgpu".to_string(),
            },
            BackendKind::Cuda => format!(
                "cuda:0 (NVIDIA GPU 0 of {})",
                spikeburn_core::gpu::cuda_device_count()
            ),
            other => format!("{} (CPU, {} threads)", other.name(), rayon_threads()),
        }
    }
}

impl BackendKind {
    /// A note for the user about this backend's device, where one is due: a wgpu adapter that
    /// is a software renderer on the CPU.
    pub fn note(&self) -> Option<String> {
        (*self == BackendKind::Wgpu && spikeburn_core::gpu::wgpu_is_software()).then(|| {
            "note: the wgpu adapter is a software renderer on the CPU (no GPU found); \
             it computes correctly but far slower than --backend flex"
                .to_string()
        })
    }
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One device of a data-parallel run (`training.devices`, `--devices`): a backend's device
/// (`flex`, `ndarray`, `wgpu` for the default adapter, `cuda` for the first NVIDIA GPU),
/// `wgpu:N`, the `N`-th discrete GPU through wgpu, or `cuda:N`, the `N`-th GPU through CUDA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The backend's own device.
    Backend(BackendKind),
    /// The `N`-th discrete GPU through wgpu.
    WgpuIndex(usize),
    /// The `N`-th NVIDIA GPU through CUDA.
    CudaIndex(usize),
}

impl DeviceSpec {
    /// Opens the device (without autodiff).
    pub fn device(&self) -> Result<Device, BackendError> {
        match self {
            DeviceSpec::Backend(kind) => kind.device(),
            DeviceSpec::WgpuIndex(index) => spikeburn_core::gpu::wgpu_device_at(*index),
            DeviceSpec::CudaIndex(index) => spikeburn_core::gpu::cuda_device(*index),
        }
    }
}

impl std::str::FromStr for DeviceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(index) = s.strip_prefix("wgpu:") {
            return index.parse().map(DeviceSpec::WgpuIndex).map_err(|_| {
                format!("device {s:?}: expected wgpu:N with N a GPU index (0, 1, …)")
            });
        }
        if let Some(index) = s.strip_prefix("cuda:") {
            return index.parse().map(DeviceSpec::CudaIndex).map_err(|_| {
                format!("device {s:?}: expected cuda:N with N a GPU index (0, 1, …)")
            });
        }
        s.parse::<BackendKind>()
            .map(DeviceSpec::Backend)
            .map_err(|_| {
                format!(
                    "unknown device {s:?}, expected flex, ndarray, wgpu, wgpu:N, cuda or cuda:N"
                )
            })
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Backend(kind) => write!(f, "{kind}"),
            DeviceSpec::WgpuIndex(index) => write!(f, "wgpu:{index}"),
            DeviceSpec::CudaIndex(index) => write!(f, "cuda:{index}"),
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for BackendKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| format!("unknown backend {s:?}, expected flex, ndarray, wgpu or cuda"))
    }
}
