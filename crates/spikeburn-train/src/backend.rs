//! The compute backend a run uses, chosen at run time.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// A CPU backend of burn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// burn-flex, burn 0.22's pure-Rust CPU backend (SIMD, multi-threaded). The default: it
    /// was faster than ndarray in our measurements (see the README).
    #[default]
    Flex,
    /// burn-ndarray (deprecated by burn 0.22 in favour of flex; kept as the requested option).
    Ndarray,
}

impl BackendKind {
    /// All backends, in the order `--help` lists them.
    pub const ALL: [BackendKind; 2] = [BackendKind::Flex, BackendKind::Ndarray];

    /// The backend's name in configs and on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            BackendKind::Flex => "flex",
            BackendKind::Ndarray => "ndarray",
        }
    }

    /// The backend's device, without autodiff (for inference).
    #[allow(deprecated)] // burn 0.22 deprecates ndarray; the project supports it on purpose.
    pub fn device(&self) -> Device {
        match self {
            BackendKind::Flex => Device::flex(),
            BackendKind::Ndarray => Device::ndarray(),
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
            .ok_or_else(|| format!("unknown backend {s:?}, expected flex or ndarray"))
    }
}
