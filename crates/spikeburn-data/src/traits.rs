//! The [`Dataset`] trait: what the training loop (`spikeburn_train::fit`) needs of a data set
//! — its size, its classes, and the batch of any list of samples.
//!
//! A data set builds a batch on the device the model trains on: the input as a
//! [`ModelInput`] — static samples `[B, F]` or a time-major sequence `[T, B, F]` — and the
//! class labels `[B]`. The loop draws the order of the samples (seeded, per epoch); a data set
//! that augments its samples draws its random transforms from the stream it is handed, so a
//! resumed run sees exactly the batches of an uninterrupted one.
//!
//! ```
//! use burn::prelude::*;
//! use spikeburn_data::{Batch, Dataset};
//!
//! /// Two classes of constant sequences: class `k` is `k` at every step and input.
//! struct Levels;
//!
//! impl Dataset for Levels {
//!     fn len(&self) -> usize { 100 }
//!     fn num_classes(&self) -> usize { 2 }
//!     fn batch(&self, indices: &[usize], device: &Device) -> Batch {
//!         let labels: Vec<i64> = indices.iter().map(|&i| (i % 2) as i64).collect();
//!         let values: Vec<f32> = (0..10) // T = 10 steps
//!             .flat_map(|_| labels.iter().flat_map(|&k| [k as f32; 4]))
//!             .collect();
//!         let b = indices.len();
//!         Batch::new(
//!             Tensor::<3>::from_data(TensorData::new(values, [10, b, 4]), device),
//!             Tensor::from_data(TensorData::new(labels, [b]), device),
//!         )
//!     }
//! }
//!
//! let batch = Levels.batch(&[0, 1, 3], &Device::flex());
//! assert_eq!(batch.input.steps(), Some(10));
//! assert_eq!(batch.targets.into_data().convert::<i64>().try_to_vec::<i64>().unwrap(), [0, 1, 1]);
//! ```

use crate::batcher::{make_augmented_batch, make_batch, skip_augmentation};
use crate::dataset::ImageDataset;
use burn::prelude::*;
use rand_chacha::ChaCha8Rng;
use spikeburn_core::{Lengths, ModelInput};

/// A batch ready for a model: its input, the class of each sample, and, for a batch of
/// sequences of different lengths, the valid steps of each.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Static samples `[B, F]` or a time-major sequence `[T, B, F]`.
    pub input: ModelInput,
    /// Class indices, `[B]`.
    pub targets: Tensor<1, Int>,
    /// Each sample's number of valid steps when the sequences are right-padded to the
    /// longest (see [`spikeburn_core::padding`]); `None`: every sample has all `T` steps.
    /// The training loop hands them to the losses, read-outs and spike rates, so padding
    /// never counts.
    pub lengths: Option<Lengths>,
}

impl Batch {
    /// A batch whose samples all have every step (no padding).
    pub fn new(input: impl Into<ModelInput>, targets: Tensor<1, Int>) -> Self {
        Batch {
            input: input.into(),
            targets,
            lengths: None,
        }
    }

    /// The same batch of padded sequences with each sample's valid steps.
    #[must_use]
    pub fn with_lengths(mut self, lengths: Lengths) -> Self {
        self.lengths = Some(lengths);
        self
    }
}

/// A labelled data set the training loop can batch (see the [module docs](self)).
pub trait Dataset: Send + Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    /// Whether there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of classes (labels are `0..num_classes`).
    fn num_classes(&self) -> usize;

    /// A short description for progress output, e.g. `60000 images`.
    fn describe(&self) -> String {
        format!("{} samples", self.len())
    }

    /// The batch of the samples `indices` (in that order) on `device`, without augmentation:
    /// what evaluation sees.
    fn batch(&self, indices: &[usize], device: &Device) -> Batch;

    /// The training batch of the samples `indices`: [`batch`](Self::batch) with the data
    /// set's random augmentation, drawn from `rng` (the epoch's augmentation stream, ChaCha8
    /// seeded from the run's seed on stream `epoch`). The default has no augmentation.
    fn train_batch(&self, indices: &[usize], rng: &mut ChaCha8Rng, device: &Device) -> Batch {
        let _ = rng;
        self.batch(indices, device)
    }

    /// Advances `rng` exactly as [`train_batch`](Self::train_batch) of `indices` would,
    /// without building the batch (how a run resumed within an epoch reaches the position of
    /// the interrupted run). The default draws nothing.
    fn skip_batch(&self, indices: &[usize], rng: &mut ChaCha8Rng) {
        let _ = (indices, rng);
    }
}

impl Dataset for ImageDataset {
    fn len(&self) -> usize {
        ImageDataset::len(self)
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn describe(&self) -> String {
        format!("{} images", ImageDataset::len(self))
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Batch {
        let b = make_batch(self, indices, device);
        Batch::new(b.images, b.targets)
    }
}

/// Images with the usual training augmentation ([`make_augmented_batch`]): each training
/// image shifted by up to `max_shift` pixels in each direction and, with `flip`, mirrored
/// left–right with probability ½. Evaluation batches ([`Dataset::batch`]) are not augmented.
#[derive(Clone, Debug)]
pub struct AugmentedImages {
    /// The images.
    pub images: ImageDataset,
    /// The largest shift, in pixels (0: none).
    pub max_shift: usize,
    /// Whether images are mirrored at random.
    pub flip: bool,
}

impl Dataset for AugmentedImages {
    fn len(&self) -> usize {
        self.images.len()
    }

    fn num_classes(&self) -> usize {
        self.images.num_classes
    }

    fn describe(&self) -> String {
        Dataset::describe(&self.images)
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Batch {
        Dataset::batch(&self.images, indices, device)
    }

    fn train_batch(&self, indices: &[usize], rng: &mut ChaCha8Rng, device: &Device) -> Batch {
        if self.max_shift == 0 && !self.flip {
            return Dataset::batch(&self.images, indices, device);
        }
        let b = make_augmented_batch(
            &self.images,
            indices,
            self.max_shift,
            self.flip,
            rng,
            device,
        );
        Batch::new(b.images, b.targets)
    }

    fn skip_batch(&self, indices: &[usize], rng: &mut ChaCha8Rng) {
        if self.max_shift > 0 || self.flip {
            skip_augmentation(indices.len(), self.max_shift, self.flip, rng);
        }
    }
}
