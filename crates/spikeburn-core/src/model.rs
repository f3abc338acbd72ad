//! The code-first API: a spiking network is any burn [`Module`] that implements
//! [`SpikingModel`] — it runs over time and returns its output layer's spikes and membrane.
//!
//! The project's training loop (`spikeburn_train::fit`), its evaluation, checkpoints and
//! metrics take any `SpikingModel`; the networks that configuration files describe
//! ([`crate::SpikingNetwork`]) are one implementation. A model written in code, as in
//! snnTorch or Norse, is a `#[derive(Module)]` struct of burn layers and spikeburn neurons:
//!
//! ```
//! use burn::nn::{Linear, LinearConfig};
//! use burn::prelude::*;
//! use spikeburn_core::model::{ModelInput, SnnOutput, SpikingModel};
//! use spikeburn_core::{Lif, LifConfig};
//!
//! /// 784 → 100 → 10, LIF neurons, the image presented at each of `steps` steps.
//! #[derive(Module, Debug)]
//! struct Net {
//!     fc1: Linear,
//!     lif1: Lif,
//!     fc2: Linear,
//!     lif2: Lif,
//!     steps: usize,
//! }
//!
//! impl SpikingModel for Net {
//!     fn forward(&self, input: ModelInput) -> SnnOutput {
//!         let x = input.into_sequence(self.steps);                 // [T, B, 784]
//!         let s1 = self.lif1.forward(self.fc1.forward(x));         // [T, B, 100]
//!         let out = self.lif2.forward_with_membrane(self.fc2.forward(s1.clone()));
//!         SnnOutput::from_layers(vec![s1, out.spikes], out.membrane.expect("asked for"))
//!     }
//! }
//!
//! let device = Device::flex();
//! let net = Net {
//!     fc1: LinearConfig::new(784, 100).init(&device),
//!     lif1: LifConfig::new().with_beta(0.95).init(100, &device),
//!     fc2: LinearConfig::new(100, 10).init(&device),
//!     lif2: LifConfig::new().with_beta(0.95).init(10, &device),
//!     steps: 25,
//! };
//! let images = Tensor::<2>::ones([8, 784], &device);
//! let out = net.forward(ModelInput::Static(images));
//! assert_eq!(out.spikes.dims(), [25, 8, 10]);
//! assert_eq!(out.spike_rates.len(), 2);
//! ```
//!
//! Input is time-major: a batch is either static samples `[B, F]` (images; the model decides
//! how they become a sequence — repeated, rate-coded, …) or a sequence `[T, B, F]` (event
//! frames, binned spike trains; image-shaped frames flattened to `F = C·H·W`).

use crate::padding::Lengths;
use burn::module::Module;
use burn::prelude::*;
use std::ops::Range;

/// A batch of input for a [`SpikingModel`].
#[derive(Clone, Debug)]
pub enum ModelInput {
    /// Static samples `[B, F]` (flattened images, pixel values in `[0, 1]`).
    Static(Tensor<2>),
    /// A time-major sequence `[T, B, F]`.
    Sequence(Tensor<3>),
}

impl From<Tensor<2>> for ModelInput {
    fn from(x: Tensor<2>) -> Self {
        ModelInput::Static(x)
    }
}

impl From<Tensor<3>> for ModelInput {
    fn from(x: Tensor<3>) -> Self {
        ModelInput::Sequence(x)
    }
}

/// Static images `[B, C, H, W]`, flattened to `[B, C·H·W]` (row-major, the layout a
/// configured network's first convolution reshapes back).
impl From<Tensor<4>> for ModelInput {
    fn from(x: Tensor<4>) -> Self {
        let [b, c, h, w] = x.dims();
        ModelInput::Static(x.reshape([b, c * h * w]))
    }
}

/// A time-major sequence of frames `[T, B, C, H, W]` (event frames), flattened to
/// `[T, B, C·H·W]` (row-major, the layout a configured network's first convolution reshapes
/// back).
impl From<Tensor<5>> for ModelInput {
    fn from(x: Tensor<5>) -> Self {
        let [t, b, c, h, w] = x.dims();
        ModelInput::Sequence(x.reshape([t, b, c * h * w]))
    }
}

impl ModelInput {
    /// The number of samples `B`.
    pub fn batch_size(&self) -> usize {
        match self {
            ModelInput::Static(x) => x.dims()[0],
            ModelInput::Sequence(x) => x.dims()[1],
        }
    }

    /// The features per sample and step `F`.
    pub fn features(&self) -> usize {
        match self {
            ModelInput::Static(x) => x.dims()[1],
            ModelInput::Sequence(x) => x.dims()[2],
        }
    }

    /// The number of time steps of a sequence (`None` for static input).
    pub fn steps(&self) -> Option<usize> {
        match self {
            ModelInput::Static(_) => None,
            ModelInput::Sequence(x) => Some(x.dims()[0]),
        }
    }

    /// The device the input lives on.
    pub fn device(&self) -> Device {
        match self {
            ModelInput::Static(x) => x.device(),
            ModelInput::Sequence(x) => x.device(),
        }
    }

    /// The input as a time-major sequence `[T, B, F]`: static samples repeated at each of
    /// `steps` steps (direct encoding, `x[t] = x`), a sequence as it is (`steps` is ignored).
    pub fn into_sequence(self, steps: usize) -> Tensor<3> {
        match self {
            ModelInput::Static(x) => {
                let [b, f] = x.dims();
                x.unsqueeze::<3>().expand([steps, b, f])
            }
            ModelInput::Sequence(x) => x,
        }
    }

    /// The samples `range` of the batch (the same samples at every step of a sequence).
    pub fn slice_batch(&self, range: Range<usize>) -> Self {
        match self {
            ModelInput::Static(x) => ModelInput::Static(x.clone().slice(range)),
            ModelInput::Sequence(x) => {
                let t = x.dims()[0];
                ModelInput::Sequence(x.clone().slice([0..t, range]))
            }
        }
    }

    /// The input moved to `device`.
    pub fn to_device(self, device: &Device) -> Self {
        match self {
            ModelInput::Static(x) => ModelInput::Static(x.to_device(device)),
            ModelInput::Sequence(x) => ModelInput::Sequence(x.to_device(device)),
        }
    }
}

/// What a forward pass of a [`SpikingModel`] returns.
#[derive(Clone, Debug)]
pub struct SnnOutput {
    /// Output spikes, `[T, B, outputs]`.
    pub spikes: Tensor<3>,
    /// Output membrane potentials, `[T, B, outputs]`.
    pub membrane: Tensor<3>,
    /// Mean firing rate (spikes per neuron per step) of each neuron layer, `[1]` each, *not*
    /// detached (spike-rate regularisers use them).
    pub spike_rates: Vec<Tensor<1>>,
    /// Each neuron layer's spikes `[T, B, N]` (flattened features), for rasters,
    /// regularisers and diagnostics (not detached).
    pub layer_spikes: Vec<Tensor<3>>,
    /// Whether the output layer emits spikes. A non-spiking read-out (the leaky integrator)
    /// reports its potential as `spikes`: read-outs by spike count then read the summed
    /// potential, and the first-spike read-out does not apply.
    pub spiking: bool,
    /// The valid steps of each sample when the input was a batch of padded sequences of
    /// different lengths (see [`crate::padding`]); `None`: every step of every sample. Set by
    /// [`with_lengths`](Self::with_lengths), which the training loop calls with its batch's
    /// lengths, so a model's `forward` leaves it `None`.
    pub lengths: Option<Lengths>,
}

impl SnnOutput {
    /// The output of a network whose neuron layers fired `layer_spikes` (input to output,
    /// each `[T, B, N]`, the last one the output layer) and whose output layer's membrane is
    /// `membrane` `[T, B, outputs]`. The spike rates are the means of each layer's spikes.
    ///
    /// # Panics
    /// If `layer_spikes` is empty (a spiking model has at least its output layer).
    pub fn from_layers(layer_spikes: Vec<Tensor<3>>, membrane: Tensor<3>) -> Self {
        let spikes = layer_spikes
            .last()
            .cloned()
            .expect("SnnOutput::from_layers needs the output layer's spikes");
        SnnOutput {
            spikes,
            membrane,
            spike_rates: layer_spikes.iter().map(|s| s.clone().mean()).collect(),
            layer_spikes,
            spiking: true,
            lengths: None,
        }
    }

    /// The same output of a batch of padded sequences with `lengths` (see
    /// [`crate::padding`]): the spike rates become the means over the valid steps
    /// ([`crate::loss::mean_rate`]), and the losses and read-outs of the training loop read
    /// only those steps. `None` leaves the output as it is.
    #[must_use]
    pub fn with_lengths(mut self, lengths: Option<Lengths>) -> Self {
        if let Some(lengths) = lengths {
            self.spike_rates = self
                .layer_spikes
                .iter()
                .map(|s| crate::loss::mean_rate(s.clone(), Some(&lengths)))
                .collect();
            self.lengths = Some(lengths);
        }
        self
    }

    /// The same output, marked as that of a non-spiking read-out (see
    /// [`spiking`](Self::spiking)) when `spiking` is false.
    pub fn with_spiking(mut self, spiking: bool) -> Self {
        self.spiking = spiking;
        self
    }
}

/// A spiking network the project's training loop, evaluation and checkpoints can run: a burn
/// [`Module`] with a forward pass over time.
///
/// `forward` runs the whole sequence (backpropagation through time records every step) and
/// returns the output layer's spikes and membrane `[T, B, outputs]` with every neuron layer's
/// spikes (for rate regularisers and metrics). Losses and read-outs
/// ([`crate::loss`], [`crate::metrics`]) work on that output, so a model needs nothing else.
pub trait SpikingModel: Module {
    /// Runs the model over a batch of input (see [`ModelInput`]).
    fn forward(&self, input: ModelInput) -> SnnOutput;

    /// The positions of the model's random streams (rate encoders, dropout masks, stochastic
    /// neurons), which checkpoints store so that a resumed run draws what the uninterrupted
    /// one draws. A model without randomness, or whose randomness is a pure function of its
    /// input, returns none (the default).
    fn stream_positions(&self) -> Vec<u64> {
        Vec::new()
    }

    /// Restores positions read by [`stream_positions`](Self::stream_positions).
    ///
    /// # Errors
    /// A number of positions that does not match the model's streams.
    fn set_stream_positions(&self, positions: &[u64]) -> Result<(), String> {
        if positions.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} random stream positions for a model without random streams",
                positions.len()
            ))
        }
    }

    /// A one-line description for progress output (default: the number of parameters).
    fn summary(&self) -> String {
        format!("a model of {} parameters", self.num_params())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_input_repeats_and_sequence_slices_by_sample() {
        let device = Device::flex();
        let x = Tensor::<2>::from_data([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], &device);
        let seq = ModelInput::Static(x).into_sequence(2);
        assert_eq!(seq.dims(), [2, 3, 2]);
        let values = seq.clone().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(
            values,
            [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        );
        let part = ModelInput::Sequence(seq).slice_batch(1..3);
        assert_eq!(part.batch_size(), 2);
        assert_eq!(part.steps(), Some(2));
        let ModelInput::Sequence(part) = part else {
            unreachable!()
        };
        let values = part.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(values, [3.0, 4.0, 5.0, 6.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn rates_are_the_layer_means() {
        let device = Device::flex();
        let hidden = Tensor::<3>::from_data([[[1.0, 0.0]], [[1.0, 1.0]]], &device); // 3 of 4
        let out = Tensor::<3>::from_data([[[0.0]], [[1.0]]], &device); // 1 of 2
        let membrane = Tensor::<3>::zeros([2, 1, 1], &device);
        let o = SnnOutput::from_layers(vec![hidden, out], membrane);
        let rates: Vec<f32> = o
            .spike_rates
            .iter()
            .map(|r| r.clone().into_scalar::<f32>())
            .collect();
        assert_eq!(rates, [0.75, 0.5]);
        assert_eq!(o.spikes.dims(), [2, 1, 1]);
    }
}
