//! # spikeburn-data
//!
//! Data for spiking classifiers: a defensive reader for the IDX format ([`idx`]), the MNIST and
//! Fashion-MNIST data sets ([`dataset`]), and seeded shuffling and batching ([`batcher`]), and the [`Dataset`] trait
//! through which the training loop batches any data set ([`traits`]).
//!
//! Malformed input never panics: every failure is a typed error naming the file and the
//! problem.

#![warn(missing_docs)]

pub mod batcher;
pub mod dataset;
pub mod events;
pub mod idx;
pub mod randman;
pub mod spike_trains;
pub mod traits;

pub use batcher::{
    ImageBatch, batches, epoch_order, make_augmented_batch, make_batch, make_shifted_batch,
    num_batches, skip_augmentation,
};
pub use dataset::{DataError, DatasetKind, ImageDataset, Split};
pub use events::{EventDataset, EventError, EventsConfig};
pub use idx::{IdxArray, IdxError, parse_idx, read_idx};
pub use randman::{RandmanConfig, RandmanError};
pub use spike_trains::{SpikeTrainError, SpikeTrains};
pub use traits::{AugmentedImages, Batch, Dataset};
