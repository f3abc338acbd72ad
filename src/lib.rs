//! # spikeburn
//!
//! Spiking neural networks trained with surrogate gradients on [burn](https://burn.dev).
//!
//! This crate re-exports the workspace's crates:
//! - [`core`] (`spikeburn-core`): neurons, surrogates, layers, losses, the network description;
//! - [`data`] (`spikeburn-data`): IDX reader, MNIST / Fashion-MNIST, batching;
//! - [`train`] (`spikeburn-train`): BPTT training, checkpoints, metrics, progress.
//!
//! ```no_run
//! use spikeburn::prelude::*;
//!
//! let device = burn::prelude::Device::flex().autodiff();
//! let lif = LifConfig::new().with_beta(0.9).init(100, &device);
//! let input = burn::prelude::Tensor::<3>::ones([25, 8, 100], &device); // [T, B, N]
//! let spikes = lif.forward(input);                                     // [T, B, N]
//! ```

pub use spikeburn_core as core;
pub use spikeburn_data as data;
pub use spikeburn_train as train;

/// The types most programs use.
pub mod prelude {
    pub use spikeburn_core::{
        Lif, LifConfig, LifOutput, LifState, NetworkConfig, Reset, SnnOutput, SpikingMlp, Surrogate,
    };
    pub use spikeburn_data::{DatasetKind, ImageDataset, Split};
    pub use spikeburn_train::{BackendKind, ExperimentConfig};
}
