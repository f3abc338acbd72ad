//! Batches of sequences of different lengths.
//!
//! A batch of samples with `len_b` steps each is right-padded to its longest sample,
//! `T = max_b len_b`, with zero input at the padded steps `t ≥ len_b`, and carries its
//! [`Lengths`]. A network's state at step `t` depends only on the input at steps `≤ t`, so
//! padding never changes what the valid steps compute. What reads the output over time —
//! the losses ([`crate::loss`]), the read-outs ([`crate::metrics`]) and the spike rates of
//! [`crate::SnnOutput::with_lengths`] — takes the lengths and reads only the valid steps
//! `{(t, b) : t < len_b}`: a padded sample scores exactly as the same sample run alone at its
//! own length (tonic's `PadTensors` collation, PyTorch's `pack_padded_sequence`).
//!
//! ```
//! use burn::prelude::*;
//! use spikeburn_core::{Lengths, loss};
//!
//! let device = Device::flex();
//! // Two samples of 3 and 1 steps, two classes; the second is padded with two steps.
//! let membrane = Tensor::<3>::from_data(
//!     [[[2.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [9.0, 0.0]], [[1.0, 0.0], [9.0, 0.0]]],
//!     &device,
//! );
//! let targets = Tensor::<1, Int>::from_data([0, 1], &device);
//! let lengths = Lengths::new(vec![3, 1]).unwrap();
//! // Max-membrane logits: sample 0 [2, 0], sample 1 [0, 1] (its padded 9s are not read).
//! let loss = loss::ce_max_membrane(membrane, targets, Some(&lengths)).into_scalar::<f32>();
//! let ce = |z: f32| (1.0 + (-z).exp()).ln(); // CE of logits [z, 0] for the class of z
//! assert!((loss - (ce(2.0) + ce(1.0)) / 2.0).abs() < 1e-6);
//! ```

use crate::error::InvalidParameter;
use burn::prelude::*;
use std::ops::Range;

/// The number of valid steps `len_b ≥ 1` of each sample of a right-padded batch (see the
/// [module docs](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lengths(Vec<usize>);

impl Lengths {
    /// The lengths of a batch, one per sample.
    ///
    /// # Errors
    /// An empty list or a length of 0 (a sample has at least one step).
    pub fn new(lengths: Vec<usize>) -> Result<Self, InvalidParameter> {
        if lengths.is_empty() {
            return Err(InvalidParameter::new(
                "lengths",
                "a batch has at least one sample",
            ));
        }
        if let Some(b) = lengths.iter().position(|&l| l == 0) {
            return Err(InvalidParameter::new(
                format!("lengths[{b}]"),
                "a sample has at least one step, got 0",
            ));
        }
        Ok(Lengths(lengths))
    }

    /// The lengths, one per sample.
    pub fn as_slice(&self) -> &[usize] {
        &self.0
    }

    /// The number of samples `B`.
    pub fn batch_size(&self) -> usize {
        self.0.len()
    }

    /// The longest length, the `T` of the padded batch.
    pub fn max(&self) -> usize {
        self.0.iter().copied().max().unwrap_or(0)
    }

    /// Whether no sample is padded in a batch of `steps` steps (every `len_b ≥ steps`).
    pub fn is_full(&self, steps: usize) -> bool {
        self.0.iter().all(|&l| l >= steps)
    }

    /// The lengths of the samples `range`.
    ///
    /// # Panics
    /// If `range` is not inside `0..B`.
    pub fn slice(&self, range: Range<usize>) -> Self {
        Lengths(self.0[range].to_vec())
    }

    /// The valid steps of a batch of `steps` steps as a float mask `[T, B, 1]`:
    /// `m[t, b] = 1` for `t < len_b`, `0` at the padding.
    pub fn mask(&self, steps: usize, device: &Device) -> Tensor<3> {
        let b = self.0.len();
        let values: Vec<f32> = (0..steps)
            .flat_map(|t| self.0.iter().map(move |&l| f32::from(u8::from(t < l))))
            .collect();
        Tensor::from_data(TensorData::new(values, [steps, b, 1]), device)
    }

    /// The padded steps of a batch of `steps` steps, `[T, B, 1]`: `true` for `t ≥ len_b`.
    pub fn padding(&self, steps: usize, device: &Device) -> Tensor<3, Bool> {
        self.mask(steps, device).lower_elem(0.5)
    }

    /// The number of valid steps of each sample in a batch of `steps` steps,
    /// `min(len_b, T)`, as floats `[B]`.
    pub fn valid_steps(&self, steps: usize, device: &Device) -> Tensor<1> {
        let values: Vec<f32> = self.0.iter().map(|&l| l.min(steps) as f32).collect();
        Tensor::from_data(TensorData::new(values, [self.0.len()]), device)
    }
}

/// The float mask `[T, B, 1]` of the valid steps of `x` `[T, B, …]` under `lengths`, or
/// `None` where every step is valid (no lengths, or no sample shorter than `T`).
pub(crate) fn valid_mask(x: &Tensor<3>, lengths: Option<&Lengths>) -> Option<Tensor<3>> {
    let steps = x.dims()[0];
    lengths
        .filter(|l| !l.is_full(steps))
        .map(|l| l.mask(steps, &x.device()))
}

/// The number of valid steps of each sample of `x` `[T, B, …]`, `[B, 1]`: `min(len_b, T)`,
/// or `T` for every sample without lengths.
pub(crate) fn valid_steps(x: &Tensor<3>, lengths: Option<&Lengths>) -> Tensor<2> {
    let [steps, batch, _] = x.dims();
    match lengths {
        Some(l) => l.valid_steps(steps, &x.device()).unsqueeze_dim(1),
        None => Tensor::full([batch, 1], steps as f32, &x.device()),
    }
}

/// `x` with its padded steps set to `−∞` (for a maximum over the valid steps).
pub(crate) fn fill_padding_neg_inf(x: Tensor<3>, lengths: Option<&Lengths>) -> Tensor<3> {
    let [steps, batch, width] = x.dims();
    match lengths.filter(|l| !l.is_full(steps)) {
        Some(l) => {
            let padding = l.padding(steps, &x.device()).expand([steps, batch, width]);
            x.mask_fill(padding, f32::NEG_INFINITY)
        }
        None => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_mark_the_steps_before_each_length() {
        let device = Device::flex();
        let l = Lengths::new(vec![2, 3, 1]).unwrap();
        assert_eq!(l.max(), 3);
        let m = l.mask(3, &device).into_data().try_to_vec::<f32>().unwrap();
        // [T=3, B=3, 1], time-major.
        assert_eq!(m, [1., 1., 1., 1., 1., 0., 0., 1., 0.]);
        let p = l
            .padding(3, &device)
            .into_data()
            .convert::<bool>()
            .try_into_vec::<bool>()
            .unwrap();
        assert_eq!(p, m.iter().map(|&v| v == 0.0).collect::<Vec<_>>());
        assert_eq!(l.slice(1..3).as_slice(), [3, 1]);
        assert!(!l.is_full(3) && l.is_full(1));
        let steps = l
            .valid_steps(2, &device)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(steps, [2., 2., 1.]);
    }

    #[test]
    fn empty_and_zero_lengths_are_refused() {
        assert!(Lengths::new(Vec::new()).is_err());
        let e = Lengths::new(vec![4, 0]).unwrap_err();
        assert_eq!(e.field, "lengths[1]");
    }
}
