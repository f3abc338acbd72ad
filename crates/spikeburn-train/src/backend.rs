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
}

/// Why a backend's device could not be created (only wgpu can fail).
pub use spikeburn_core::gpu::GpuError as BackendError;

impl BackendKind {
    /// All backends, in the order `--help` lists them.
    pub const ALL: [BackendKind; 3] = [BackendKind::Flex, BackendKind::Ndarray, BackendKind::Wgpu];

    /// The CPU backends (what `spikeburn bench` compares by default).
    pub const CPU: [BackendKind; 2] = [BackendKind::Flex, BackendKind::Ndarray];

    /// The backend's name in configs and on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Ndarray => "ndarray",
            BackendKind::Wgpu => "wgpu",
        }
    }

    /// Whether this build can create the backend's device (wgpu needs the cargo feature).
    pub fn compiled(&self) -> bool {
        !matches!(self, BackendKind::Wgpu) || cfg!(feature = "wgpu")
    }

    /// The backend's device, without autodiff (for inference; call `.autodiff()` to train).
    /// For wgpu, the first call opens the default adapter and later calls reuse it.
    #[allow(deprecated)] // burn 0.22 deprecates ndarray; the project supports it on purpose.
    pub fn device(&self) -> Result<Device, BackendError> {
        match self {
            BackendKind::Flex => Ok(Device::flex()),
            BackendKind::Ndarray => Ok(Device::ndarray()),
            BackendKind::Wgpu => spikeburn_core::gpu::wgpu_device(),
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
/// (`flex`, `ndarray`, `wgpu` for the default adapter) or `wgpu:N`, the `N`-th discrete GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The backend's own device.
    Backend(BackendKind),
    /// The `N`-th discrete GPU through wgpu.
    WgpuIndex(usize),
}

impl DeviceSpec {
    /// Opens the device (without autodiff).
    pub fn device(&self) -> Result<Device, BackendError> {
        match self {
            DeviceSpec::Backend(kind) => kind.device(),
            DeviceSpec::WgpuIndex(index) => spikeburn_core::gpu::wgpu_device_at(*index),
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
        s.parse::<BackendKind>()
            .map(DeviceSpec::Backend)
            .map_err(|_| format!("unknown device {s:?}, expected flex, ndarray, wgpu or wgpu:N"))
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Backend(kind) => write!(f, "{kind}"),
            DeviceSpec::WgpuIndex(index) => write!(f, "wgpu:{index}"),
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
            .ok_or_else(|| format!("unknown backend {s:?}, expected flex, ndarray or wgpu"))
    }
}
