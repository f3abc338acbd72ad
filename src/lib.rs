//! # spikeburn
//!
//! Spiking neural networks trained with surrogate gradients on [burn](https://burn.dev).
//!
//! This crate re-exports the workspace's crates:
//! - [`core`] (`spikeburn-core`): neurons, surrogates, layers, losses, the [`SpikingModel`]
//!   trait of the code-first API and the networks configuration files describe;
//! - [`data`] (`spikeburn-data`): the [`Dataset`] trait, IDX reader, MNIST / Fashion-MNIST,
//!   batching;
//! - [`train`] (`spikeburn-train`): the training loop [`fit()`] (BPTT, checkpoints, resume,
//!   metrics, progress) and training from a configuration;
//! - [`nir`] (`spikeburn-nir`): NIR graphs and safetensors, import and export;
//! - [`research`] (`spikeburn-research`): hyper-parameter sweeps, gradient diagnostics, plots
//!   of run folders;
//! - [`figures`] (`spikeburn-figures`): line charts as SVG and PNG (no burn);
//! - [`io`] (`spikeburn-io`): crash-safe file output (atomic replace, flushed to disk).
//!
//! A network written in code, trained by the project's loop (the full program is
//! `examples/tutorial5.rs`):
//!
//! ```no_run
//! use spikeburn::prelude::*;
//!
//! #[derive(Module, Debug)]
//! struct Net {
//!     fc1: Linear,
//!     lif1: Lif,
//!     fc2: Linear,
//!     lif2: Lif,
//! }
//!
//! impl SpikingModel for Net {
//!     fn forward(&self, input: ModelInput) -> SnnOutput {
//!         let x = input.into_sequence(25); // [T, B, 784]: the image at each of 25 steps
//!         let s1 = self.lif1.forward(self.fc1.forward(x));
//!         let out = self.lif2.forward_with_membrane(self.fc2.forward(s1.clone()));
//!         SnnOutput::from_layers(vec![s1, out.spikes], out.membrane.unwrap())
//!     }
//! }
//!
//! let device = Device::flex();
//! let lif = LifConfig::new().with_beta(0.95);
//! let net = Net {
//!     fc1: LinearConfig::new(784, 1000).init(&device),
//!     lif1: lif.init(1000, &device),
//!     fc2: LinearConfig::new(1000, 10).init(&device),
//!     lif2: lif.init(10, &device),
//! };
//! let dir = DatasetKind::Mnist.default_dir();
//! let train = ImageDataset::load(DatasetKind::Mnist, &dir, Split::Train)?;
//! let test = ImageDataset::load(DatasetKind::Mnist, &dir, Split::Test)?;
//! let outcome = fit(net, &train, &test, &TrainingConfig::default(), "runs/net".as_ref(), &mut Console::default())?;
//! println!("{:.2}%", 100.0 * outcome.epochs[0].test_accuracy);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use spikeburn_core as core;
pub use spikeburn_data as data;
pub use spikeburn_figures as figures;
pub use spikeburn_io as io;
pub use spikeburn_nir as nir;
pub use spikeburn_research as research;
pub use spikeburn_train as train;

#[doc(no_inline)]
pub use spikeburn_core::SpikingModel;
#[doc(no_inline)]
pub use spikeburn_data::Dataset;
#[doc(no_inline)]
pub use spikeburn_train::fit;

/// The types most programs use: burn's tensors, modules and layers, spikeburn's neurons,
/// the code-first API, the data sets and the training loop.
pub mod prelude {
    pub use burn::nn::{Linear, LinearConfig};
    pub use burn::prelude::*;
    pub use spikeburn_core::{
        Encoder, LayerConfig, Lengths, Lif, LifConfig, LifOutput, LifState, ModelInput,
        ModelParams, NetworkConfig, NeuronConfig, NeuronKind, NeuronLayer, Reset, SnnOutput,
        SpikingModel, SpikingNetwork, Surrogate,
    };
    pub use spikeburn_data::{AugmentedImages, Batch, Dataset, DatasetKind, ImageDataset, Split};
    pub use spikeburn_train::{
        BackendKind, Console, ExperimentConfig, FitOutcome, LossKind, Progress, Silent, TrainError,
        TrainingConfig, fit, fit_resume,
    };
}

/// The README's Rust code blocks, compiled (and run, unless marked `no_run`) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The code of `docs/adding-a-neuron.md`, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../docs/adding-a-neuron.md")]
pub struct AddingANeuronDoctests;
