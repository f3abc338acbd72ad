//! Binned spike trains: samples that are lists of events `(step, channel)` on a grid of
//! `steps × channels`, batched as time-major dense sequences `[T, B, channels]` whose entry is
//! the number of events in that bin (0 or 1 for one spike per bin).
//!
//! This is the form of spiking benchmarks after binning — Randman ([`crate::randman`]), and
//! event data such as SHD or N-MNIST once their timestamps are cut into `T` bins. Events are
//! kept sparse (8 bytes each) and made dense only per batch.

use crate::traits::{Batch, Dataset};
use burn::prelude::*;
use spikeburn_core::Lengths;

/// Why a set of spike trains is inconsistent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpikeTrainError {
    /// An event lies outside the grid.
    #[error("sample {sample}: event ({step}, {channel}) outside the {steps} x {channels} grid")]
    OutsideGrid {
        /// The sample.
        sample: usize,
        /// Its step.
        step: u32,
        /// Its channel.
        channel: u32,
        /// Steps of the grid.
        steps: usize,
        /// Channels of the grid.
        channels: usize,
    },
    /// A label is not a class.
    #[error("sample {sample}: label {label} is not a class in 0..{classes}")]
    LabelOutOfRange {
        /// The sample.
        sample: usize,
        /// The label.
        label: usize,
        /// Number of classes.
        classes: usize,
    },
    /// A sample's length is not in `1..=steps`.
    #[error("sample {sample}: length {length} is not in 1..={steps}")]
    BadLength {
        /// The sample.
        sample: usize,
        /// Its length.
        length: usize,
        /// Steps of the grid.
        steps: usize,
    },
}

/// Labelled spike trains on a `steps × channels` grid (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq)]
pub struct SpikeTrains {
    steps: usize,
    channels: usize,
    num_classes: usize,
    /// Every sample's events, one after the other.
    events: Vec<(u32, u32)>,
    /// Sample `i`'s events are `events[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<usize>,
    labels: Vec<usize>,
    /// Each sample's number of steps (`≤ steps`) for a set of sequences of different
    /// lengths; `None`: every sample has `steps`.
    lengths: Option<Vec<usize>>,
}

impl SpikeTrains {
    /// An empty set on a `steps × channels` grid with `num_classes` classes.
    pub fn new(steps: usize, channels: usize, num_classes: usize) -> Self {
        SpikeTrains {
            steps,
            channels,
            num_classes,
            events: Vec::new(),
            offsets: vec![0],
            labels: Vec::new(),
            lengths: None,
        }
    }

    /// Adds a sample: its events `(step, channel)` (any order; repeated bins add up) and its
    /// label.
    ///
    /// # Errors
    /// An event outside the grid or a label outside `0..num_classes` (nothing is added).
    pub fn push(
        &mut self,
        events: impl IntoIterator<Item = (u32, u32)>,
        label: usize,
    ) -> Result<(), SpikeTrainError> {
        self.push_with_length(events, label, self.steps)
    }

    /// Adds a sample of `length` steps (`1..=steps`; its events lie in the first `length`).
    /// A set with samples shorter than `steps` is a set of sequences of different lengths:
    /// its batches are padded to their longest sample and carry each sample's length
    /// ([`Batch::lengths`]).
    ///
    /// # Errors
    /// A length outside `1..=steps`, an event outside the sample's `length × channels` grid,
    /// or a label outside `0..num_classes` (nothing is added).
    pub fn push_with_length(
        &mut self,
        events: impl IntoIterator<Item = (u32, u32)>,
        label: usize,
        length: usize,
    ) -> Result<(), SpikeTrainError> {
        let sample = self.labels.len();
        if length == 0 || length > self.steps {
            return Err(SpikeTrainError::BadLength {
                sample,
                length,
                steps: self.steps,
            });
        }
        if label >= self.num_classes {
            return Err(SpikeTrainError::LabelOutOfRange {
                sample,
                label,
                classes: self.num_classes,
            });
        }
        let start = self.events.len();
        for (step, channel) in events {
            if step as usize >= length || channel as usize >= self.channels {
                self.events.truncate(start);
                return Err(SpikeTrainError::OutsideGrid {
                    sample,
                    step,
                    channel,
                    steps: length,
                    channels: self.channels,
                });
            }
            self.events.push((step, channel));
        }
        self.offsets.push(self.events.len());
        self.labels.push(label);
        if length < self.steps && self.lengths.is_none() {
            self.lengths = Some(vec![self.steps; sample]);
        }
        if let Some(lengths) = &mut self.lengths {
            lengths.push(length);
        }
        Ok(())
    }

    /// Sample `i`'s number of steps.
    pub fn length(&self, i: usize) -> usize {
        self.lengths.as_ref().map_or(self.steps, |l| l[i])
    }

    /// Whether the samples are sequences of different lengths (some shorter than
    /// [`steps`](Self::steps)).
    pub fn has_lengths(&self) -> bool {
        self.lengths.is_some()
    }

    /// Time steps `T` of every sample (the longest sample's, for sequences of different
    /// lengths).
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Input channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Sample `i`'s events `(step, channel)`.
    pub fn events(&self, i: usize) -> &[(u32, u32)] {
        &self.events[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Sample `i`'s label.
    pub fn label(&self, i: usize) -> usize {
        self.labels[i]
    }

    /// The samples `indices`, in that order, as a new set.
    pub fn subset(&self, indices: &[usize]) -> Self {
        let mut out = SpikeTrains::new(self.steps, self.channels, self.num_classes);
        for &i in indices {
            out.events.extend_from_slice(self.events(i));
            out.offsets.push(out.events.len());
            out.labels.push(self.labels[i]);
        }
        out
    }

    /// The dense sequence of the samples `indices`, `[T, B, channels]` row-major: entry
    /// `(t, b, c)` counts sample `indices[b]`'s events in step `t`, channel `c`.
    pub fn dense(&self, indices: &[usize]) -> Vec<f32> {
        dense_counts(
            self.steps,
            self.channels,
            indices.iter().map(|&i| self.events(i)),
        )
    }

    /// The batch of the samples `indices` as sequences padded to the longest of them:
    /// `[max_b len_b, B, channels]` with their lengths (what [`Dataset::batch`] gives for a
    /// set with lengths).
    pub fn padded_batch(&self, indices: &[usize], device: &Device) -> Batch {
        let samples = indices.iter().map(|&i| (self.events(i), self.length(i)));
        let labels = indices.iter().map(|&i| self.labels[i] as i64).collect();
        padded_sequence_batch(samples, self.channels, labels, device)
    }
}

/// The batch of B samples' events `(step, channel)` with their lengths (each event before its
/// sample's length), padded to the longest: `[max_b len_b, B, channels]` counts carrying the
/// lengths, and the class labels.
pub(crate) fn padded_sequence_batch<'a>(
    samples: impl ExactSizeIterator<Item = (&'a [(u32, u32)], usize)> + Clone,
    channels: usize,
    labels: Vec<i64>,
    device: &Device,
) -> Batch {
    let lengths: Vec<usize> = samples.clone().map(|(_, l)| l).collect();
    let steps = lengths.iter().copied().max().unwrap_or(1);
    let values = dense_counts(steps, channels, samples.map(|(e, _)| e));
    let batch = sequence_batch(values, steps, channels, labels, device);
    match Lengths::new(lengths) {
        Ok(lengths) => batch.with_lengths(lengths),
        // An empty batch has no lengths.
        Err(_) => batch,
    }
}

/// The dense time-major counts `[steps, B, channels]` (row-major) of B samples' events
/// `(step, channel)`, each inside the grid: entry `(t, b, c)` counts sample `b`'s events in
/// step `t`, channel `c`.
pub(crate) fn dense_counts<'a>(
    steps: usize,
    channels: usize,
    samples: impl ExactSizeIterator<Item = &'a [(u32, u32)]>,
) -> Vec<f32> {
    let b = samples.len();
    let mut values = vec![0.0f32; steps * b * channels];
    for (k, events) in samples.enumerate() {
        for &(t, ch) in events {
            values[(t as usize * b + k) * channels + ch as usize] += 1.0;
        }
    }
    values
}

/// The batch of a dense time-major sequence `values` (`[steps, B, channels]`, B = the number
/// of labels) and its class labels.
pub(crate) fn sequence_batch(
    values: Vec<f32>,
    steps: usize,
    channels: usize,
    labels: Vec<i64>,
    device: &Device,
) -> Batch {
    let b = labels.len();
    Batch::new(
        Tensor::<3>::from_data(TensorData::new(values, [steps, b, channels]), device),
        Tensor::from_data(TensorData::new(labels, [b]), device),
    )
}

impl SpikeTrains {
    /// Writes the set in a little-endian binary form ([`from_bytes`](Self::from_bytes)
    /// reads it): `steps, channels, num_classes, samples, events` as u64, the labels as u32,
    /// the `samples + 1` offsets as u64, then each event as two u32 (step, channel).
    ///
    /// # Errors
    /// The writer's.
    pub fn write_to(&self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        for v in [
            self.steps,
            self.channels,
            self.num_classes,
            self.labels.len(),
            self.events.len(),
        ] {
            w.write_all(&(v as u64).to_le_bytes())?;
        }
        for &l in &self.labels {
            w.write_all(&(l as u32).to_le_bytes())?;
        }
        for &o in &self.offsets {
            w.write_all(&(o as u64).to_le_bytes())?;
        }
        for &(t, c) in &self.events {
            w.write_all(&t.to_le_bytes())?;
            w.write_all(&c.to_le_bytes())?;
        }
        for &l in self.lengths.iter().flatten() {
            w.write_all(&(l as u32).to_le_bytes())?;
        }
        Ok(())
    }

    /// Reads what [`write_to`](Self::write_to) wrote, checking every count against the
    /// bytes present before allocating and every event and label against the grid.
    ///
    /// # Errors
    /// A message saying what is inconsistent.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let mut pos = 0usize;
        let mut take = |n: usize| -> Result<&[u8], String> {
            let s = bytes
                .get(pos..pos.checked_add(n).ok_or("length overflow")?)
                .ok_or("truncated")?;
            pos += n;
            Ok(s)
        };
        let mut header = [0usize; 5];
        for h in &mut header {
            let v = u64::from_le_bytes(take(8)?.try_into().map_err(|_| "truncated")?);
            *h = usize::try_from(v).map_err(|_| "count too large")?;
        }
        let [steps, channels, classes, samples, events] = header;
        let need = samples
            .checked_mul(4)
            .and_then(|a| samples.checked_add(1)?.checked_mul(8)?.checked_add(a))
            .and_then(|a| events.checked_mul(8)?.checked_add(a))
            .ok_or("count too large")?;
        let with_lengths = need.checked_add(samples * 4).ok_or("count too large")?;
        let has_lengths = samples > 0 && bytes.len() - 40 == with_lengths;
        if bytes.len() - 40 != need && !has_lengths {
            return Err(format!(
                "{} bytes after the header, the counts need {need} (or {with_lengths} with lengths)",
                bytes.len() - 40
            ));
        }
        let labels: Vec<usize> = take(samples * 4)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
            .collect();
        let offsets: Vec<usize> = take((samples + 1) * 8)?
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()) as usize)
            .collect();
        let pairs: Vec<(u32, u32)> = take(events * 8)?
            .chunks_exact(8)
            .map(|c| {
                (
                    u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                    u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                )
            })
            .collect();
        let lengths: Vec<usize> = if has_lengths {
            take(samples * 4)?
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize)
                .collect()
        } else {
            vec![steps; samples]
        };
        let mut set = SpikeTrains::new(steps, channels, classes);
        for (i, &label) in labels.iter().enumerate() {
            let (a, b) = (offsets[i], offsets[i + 1]);
            if a > b || b > pairs.len() {
                return Err(format!(
                    "sample {i}: offsets {a}..{b} outside the {} events",
                    pairs.len()
                ));
            }
            set.push_with_length(pairs[a..b].iter().copied(), label, lengths[i])
                .map_err(|e| e.to_string())?;
        }
        Ok(set)
    }
}

impl Dataset for SpikeTrains {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn describe(&self) -> String {
        format!(
            "{} spike trains of {}{} steps x {} channels",
            self.labels.len(),
            if self.has_lengths() { "up to " } else { "" },
            self.steps,
            self.channels
        )
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Batch {
        if self.has_lengths() {
            return self.padded_batch(indices, device);
        }
        let labels = indices.iter().map(|&i| self.labels[i] as i64).collect();
        sequence_batch(
            self.dense(indices),
            self.steps,
            self.channels,
            labels,
            device,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_batches_count_events_per_bin_time_major() {
        let mut set = SpikeTrains::new(3, 2, 2);
        set.push([(0, 1), (2, 0), (2, 0)], 1).expect("valid");
        set.push([(1, 0)], 0).expect("valid");
        // [T=3, B=2, C=2] for the order (1, 0).
        assert_eq!(
            set.dense(&[1, 0]),
            [
                0.0, 0.0, 0.0, 1.0, // t = 0: sample 1 nothing, sample 0 channel 1
                1.0, 0.0, 0.0, 0.0, // t = 1: sample 1 channel 0
                0.0, 0.0, 2.0, 0.0, // t = 2: sample 0 channel 0 twice
            ]
        );
        let batch = set.batch(&[0], &Device::flex());
        assert_eq!(batch.input.steps(), Some(3));
        assert_eq!(
            batch
                .targets
                .into_data()
                .convert::<i64>()
                .try_to_vec::<i64>()
                .unwrap(),
            [1]
        );
    }

    #[test]
    fn sequences_of_different_lengths_batch_padded_and_keep_their_lengths_on_disk() {
        let mut set = SpikeTrains::new(4, 2, 2);
        set.push([(0, 1), (3, 0)], 1).expect("valid");
        assert!(!set.has_lengths());
        set.push_with_length([(1, 0)], 0, 2).expect("valid");
        assert!(matches!(
            set.push_with_length([(2, 0)], 0, 2),
            Err(SpikeTrainError::OutsideGrid {
                step: 2,
                steps: 2,
                ..
            })
        ));
        assert!(matches!(
            set.push_with_length([], 0, 0),
            Err(SpikeTrainError::BadLength { length: 0, .. })
        ));
        assert!(matches!(
            set.push_with_length([], 0, 5),
            Err(SpikeTrainError::BadLength { length: 5, .. })
        ));
        assert_eq!((set.length(0), set.length(1)), (4, 2));
        let device = Device::flex();
        // Only the short sample: T = 2, not 4.
        let batch = set.batch(&[1], &device);
        assert_eq!(batch.input.steps(), Some(2));
        assert_eq!(batch.lengths.map(|l| l.as_slice().to_vec()), Some(vec![2]));
        let batch = set.batch(&[1, 0], &device);
        assert_eq!(batch.input.steps(), Some(4));
        assert_eq!(
            batch.lengths.map(|l| l.as_slice().to_vec()),
            Some(vec![2, 4])
        );
        // On disk: the 40-byte header, labels, offsets and events, then one u32 length per
        // sample (written out here by hand).
        let mut bytes = Vec::new();
        set.write_to(&mut bytes).expect("write");
        let mut expected = Vec::new();
        for v in [4u64, 2, 2, 2, 3] {
            expected.extend(v.to_le_bytes());
        }
        for v in [1u32, 0] {
            expected.extend(v.to_le_bytes());
        }
        for v in [0u64, 2, 3] {
            expected.extend(v.to_le_bytes());
        }
        for v in [0u32, 1, 3, 0, 1, 0] {
            expected.extend(v.to_le_bytes());
        }
        for v in [4u32, 2] {
            expected.extend(v.to_le_bytes());
        }
        assert_eq!(bytes, expected);
        let back = SpikeTrains::from_bytes(&bytes).expect("read");
        assert_eq!((back.length(0), back.length(1)), (4, 2));
        // A length that does not hold its sample's events is refused.
        let n = bytes.len();
        bytes[n - 4..].copy_from_slice(&1u32.to_le_bytes());
        assert!(
            SpikeTrains::from_bytes(&bytes)
                .unwrap_err()
                .contains("sample 1")
        );
    }

    #[test]
    fn bad_events_and_labels_are_refused_whole() {
        let mut set = SpikeTrains::new(3, 2, 2);
        assert!(matches!(
            set.push([(0, 0), (3, 0)], 0),
            Err(SpikeTrainError::OutsideGrid { step: 3, .. })
        ));
        assert!(matches!(
            set.push([(0, 0)], 2),
            Err(SpikeTrainError::LabelOutOfRange { label: 2, .. })
        ));
        assert_eq!(Dataset::len(&set), 0);
        set.push([(0, 0)], 1).expect("valid");
        assert_eq!(set.events(0), [(0, 0)]);
        assert_eq!(set.subset(&[0, 0]).events(1), [(0, 0)]);
    }
}
