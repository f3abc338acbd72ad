//! The network description (a serialisable config: a list of layers) and the model it builds.
//!
//! A network maps a static sample `[B, …input]` (an image) to the output layer's spikes and
//! membrane over `T = num_steps` steps:
//!
//! ```text
//! x ─ encoder ─ layer ─ layer ─ … ─ neuron layer → spikes, membrane [T, B, classes]
//! ```
//!
//! Layers ([`LayerConfig`]): `linear`, `conv2d`, `max_pool2d`, `avg_pool2d`, `flatten`,
//! `dropout` (the same mask at every step), `batch_norm` (statistics over `T×B`) and `neuron`
//! (any model of [`crate::neuron`]). In TOML:
//!
//! ```toml
//! [model]
//! input = [1, 28, 28]
//! num_steps = 25
//! layers = [
//!   { type = "conv2d", channels = 12, kernel = 5 },
//!   { type = "max_pool2d", kernel = 2 },
//!   { type = "neuron" },                       # the network-wide [model.neuron]
//!   { type = "flatten" },
//!   { type = "linear", size = 10 },
//!   { type = "neuron", neuron = { kind = "lif", beta = 0.9 } },   # its own neuron
//! ]
//! ```
//!
//! Without `layers`, `hidden` and `outputs` describe an MLP: `linear(h) → neuron` for each
//! hidden size, then `linear(outputs) → neuron` (snnTorch tutorial 5 with the defaults:
//! 784-1000-10, `β = 0.95`, 25 steps).
//!
//! ## Where the speed comes from
//! Stateless layers are applied to all steps at once by folding `T` into the batch
//! (`[T, B, …] → [T·B, …]`, one GEMM or convolution). With direct encoding the input is the
//! same at every step, and so is the output of every stateless layer before the first neuron
//! layer: those run once on `[B, …]` (`T` times fewer FLOPs, identical results), and the first
//! neuron layer takes the constant input without materialising its repetition.

use crate::encoding::Encoder;
use crate::error::InvalidParameter;
use crate::model::{ModelInput, SnnOutput, SpikingModel};
use crate::neuron::{NeuronConfig, NeuronLayer};
use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, PaddingConfig2d};
use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

fn yes() -> bool {
    true
}
fn three() -> usize {
    3
}
fn two() -> usize {
    2
}
fn one() -> usize {
    1
}
fn half() -> f32 {
    0.5
}

/// One layer of a network description (`type` in configuration files).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LayerConfig {
    /// Fully connected: `y = x·Wᵀ + b` (a multi-dimensional input is flattened first).
    Linear {
        /// Output features.
        size: usize,
        /// With a bias (default true).
        #[serde(default = "yes")]
        bias: bool,
    },
    /// 2-D convolution over `[C, H, W]` samples (PyTorch `Conv2d` semantics).
    Conv2d {
        /// Output channels.
        channels: usize,
        /// Square kernel size (default 3).
        #[serde(default = "three")]
        kernel: usize,
        /// Stride (default 1).
        #[serde(default = "one")]
        stride: usize,
        /// Zero padding on each side (default `kernel / 2`, "same" for odd kernels).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        padding: Option<usize>,
        /// With a bias (default true).
        #[serde(default = "yes")]
        bias: bool,
    },
    /// Max pooling over square windows.
    MaxPool2d {
        /// Window size (default 2).
        #[serde(default = "two")]
        kernel: usize,
        /// Stride (default: the window size).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stride: Option<usize>,
    },
    /// Average pooling over square windows.
    AvgPool2d {
        /// Window size (default 2).
        #[serde(default = "two")]
        kernel: usize,
        /// Stride (default: the window size).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stride: Option<usize>,
    },
    /// Flattens `[C, H, W]` to `[C·H·W]`.
    Flatten,
    /// Dropout with one mask per sample shared by every time step (Lee et al. 2020): a dropped
    /// unit stays dropped for the whole sequence. Only while training (on an autodiff device).
    Dropout {
        /// Drop probability (default 0.5).
        #[serde(default = "half")]
        prob: f32,
    },
    /// Batch normalisation over channels (or features), statistics over `T×B` (and space)
    /// — "batch norm through time" with shared statistics (Ioffe & Szegedy 2015 applied to the
    /// folded sequence, as SpikingJelly's `layer.BatchNorm2d` in multi-step mode).
    BatchNorm,
    /// Fully connected with a delay on every synapse, fixed or learnable
    /// ([`crate::layers::DelayedLinear`]; Hammouamri et al. 2023): `{ type = "delayed_linear",
    /// size = 256, max_delay = 25 }`, `learnable = false` for fixed whole delays drawn from
    /// the seed. A multi-dimensional input is flattened first.
    DelayedLinear {
        /// Output features.
        size: usize,
        /// The largest delay `D`, in steps (at most 10⁴).
        max_delay: usize,
        /// Whether the delays are trained (default true).
        #[serde(default = "yes")]
        learnable: bool,
        /// With a bias (default true).
        #[serde(default = "yes")]
        bias: bool,
    },
    /// Per-feature axonal delays, fixed or learnable ([`crate::layers::Delay`]; Hammouamri
    /// et al. 2023): `{ type = "delay", max_delay = 10 }`, `learnable = false` for fixed ones.
    /// Flat features only (after `flatten` or a linear layer).
    Delay(crate::layers::DelayConfig),
    /// A layer of spiking neurons (or the leaky-integrator readout).
    Neuron {
        /// This layer's neuron; absent: the network-wide `neuron`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        neuron: Option<NeuronConfig>,
    },
}

/// Description of a [`SpikingNetwork`]; every field has a default (snnTorch tutorial 5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Shape of one input sample (default `[1, 28, 28]`; `[784]` works for an MLP too).
    pub input: Vec<usize>,
    /// Hidden sizes of the MLP used when `layers` is empty (default `[1000]`).
    pub hidden: Vec<usize>,
    /// Output neurons of that MLP, one per class (default 10).
    pub outputs: usize,
    /// Simulated time steps `T` per sample (default 25).
    pub num_steps: usize,
    /// How a static sample becomes input over time (default direct).
    pub encoder: Encoder,
    /// The neuron of every `neuron` layer that does not name its own.
    pub neuron: NeuronConfig,
    /// The layers, input to output (default: the MLP of `hidden` and `outputs`).
    pub layers: Vec<LayerConfig>,
    /// Gradient checkpointing over time for long sequences (default off): each dense layer
    /// followed by a LIF (or IF, or one-to-one recurrent LIF) layer, on a sequence input, runs
    /// as one operation that keeps neither the input current nor the membrane trace and
    /// recomputes them in the backward pass in segments of this many steps (see
    /// [`crate::fused::linear_lif`]). Same values and gradients; one more `X·W` product per
    /// step. CPU backends only (elsewhere the two layers run as usual).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_segment: Option<usize>,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            input: vec![1, 28, 28],
            hidden: vec![1000],
            outputs: 10,
            num_steps: 25,
            encoder: Encoder::Direct,
            neuron: NeuronConfig::default(),
            layers: Vec::new(),
            checkpoint_segment: None,
        }
    }
}

/// A layer with the shapes it maps between, as [`NetworkConfig::plan`] resolves them.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedLayer {
    /// The layer.
    pub layer: LayerConfig,
    /// Sample shape going in.
    pub input: Vec<usize>,
    /// Sample shape coming out.
    pub output: Vec<usize>,
}

impl NetworkConfig {
    /// The layers to build: [`layers`](Self::layers), or the MLP of `hidden` and `outputs`.
    pub fn resolved_layers(&self) -> Vec<LayerConfig> {
        if !self.layers.is_empty() {
            return self.layers.clone();
        }
        self.hidden
            .iter()
            .chain(std::iter::once(&self.outputs))
            .flat_map(|&size| {
                [
                    LayerConfig::Linear { size, bias: true },
                    LayerConfig::Neuron { neuron: None },
                ]
            })
            .collect()
    }

    /// The neuron configuration of a `neuron` layer.
    pub fn neuron_of<'a>(&'a self, layer: &'a Option<NeuronConfig>) -> &'a NeuronConfig {
        layer.as_ref().unwrap_or(&self.neuron)
    }

    /// Resolves every layer's input and output sample shape, checking that they fit.
    pub fn plan(&self) -> Result<Vec<PlannedLayer>, InvalidParameter> {
        let mut shape = self.input.clone();
        if shape.is_empty() || shape.contains(&0) {
            return Err(InvalidParameter::new(
                "input",
                format!("expected a sample shape of sizes > 0, got {shape:?}"),
            ));
        }
        let mut plan = Vec::new();
        for (i, layer) in self.resolved_layers().into_iter().enumerate() {
            let field = |name: &str| format!("layers[{i}].{name}");
            let err = |name: &str, message: String| InvalidParameter::new(field(name), message);
            let positive = |name: &str, value: usize| {
                if value == 0 {
                    Err(err(name, "expected a number > 0, got 0".into()))
                } else {
                    Ok(())
                }
            };
            let image = |shape: &[usize]| -> Result<[usize; 3], InvalidParameter> {
                match *shape {
                    [c, h, w] => Ok([c, h, w]),
                    _ => Err(err(
                        "type",
                        format!(
                            "expected an image input [C, H, W], got {shape:?} (put it before flatten/linear)"
                        ),
                    )),
                }
            };
            let output = match &layer {
                LayerConfig::Linear { size, .. } => {
                    positive("size", *size)?;
                    vec![*size]
                }
                LayerConfig::DelayedLinear {
                    size, max_delay, ..
                } => {
                    positive("size", *size)?;
                    if *max_delay > 10_000 {
                        return Err(err(
                            "max_delay",
                            format!("expected at most 10000 steps, got {max_delay}"),
                        ));
                    }
                    vec![*size]
                }
                LayerConfig::Conv2d {
                    channels,
                    kernel,
                    stride,
                    padding,
                    ..
                } => {
                    positive("channels", *channels)?;
                    positive("kernel", *kernel)?;
                    positive("stride", *stride)?;
                    let [_, h, w] = image(&shape)?;
                    let pad = padding.unwrap_or(kernel / 2);
                    let out = |x: usize| (x + 2 * pad).checked_sub(*kernel).map(|v| v / stride + 1);
                    match (out(h), out(w)) {
                        (Some(oh), Some(ow)) if oh > 0 && ow > 0 => vec![*channels, oh, ow],
                        _ => {
                            return Err(err(
                                "kernel",
                                format!(
                                    "kernel {kernel} (padding {pad}) does not fit the {h}×{w} input"
                                ),
                            ));
                        }
                    }
                }
                LayerConfig::MaxPool2d { kernel, stride }
                | LayerConfig::AvgPool2d { kernel, stride } => {
                    positive("kernel", *kernel)?;
                    let stride = stride.unwrap_or(*kernel);
                    positive("stride", stride)?;
                    let [c, h, w] = image(&shape)?;
                    if h < *kernel || w < *kernel {
                        return Err(err(
                            "kernel",
                            format!("pooling window {kernel} is larger than the {h}×{w} input"),
                        ));
                    }
                    vec![c, (h - kernel) / stride + 1, (w - kernel) / stride + 1]
                }
                LayerConfig::Flatten => vec![shape.iter().product()],
                LayerConfig::Dropout { prob } => {
                    if !(0.0..1.0).contains(prob) {
                        return Err(err(
                            "prob",
                            format!("expected a probability in [0, 1), got {prob}"),
                        ));
                    }
                    shape.clone()
                }
                LayerConfig::BatchNorm => shape.clone(),
                LayerConfig::Delay(delay) => {
                    let [features] = shape[..] else {
                        return Err(err(
                            "type",
                            format!(
                                "a delay takes flat features, got {shape:?} (put it after flatten or linear)"
                            ),
                        ));
                    };
                    delay
                        .validate(features)
                        .map_err(|e| e.within(&field("delay")))?;
                    shape.clone()
                }
                LayerConfig::Neuron { neuron } => {
                    self.neuron_of(neuron)
                        .validate()
                        .map_err(|e| e.within(&field("neuron")))?;
                    shape.clone()
                }
            };
            plan.push(PlannedLayer {
                layer,
                input: shape,
                output: output.clone(),
            });
            shape = output;
        }
        match plan.last() {
            Some(PlannedLayer {
                layer: LayerConfig::Neuron { .. },
                ..
            }) => Ok(plan),
            _ => Err(InvalidParameter::new(
                "layers",
                "the last layer must be a neuron layer (its spikes/membrane are the output)",
            )),
        }
    }

    /// Checks sizes, shapes, `num_steps > 0`, `checkpoint_segment > 0`, the encoder and every neuron's parameters.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        if self.num_steps == 0 {
            return Err(InvalidParameter::new(
                "num_steps",
                "expected a number > 0, got 0",
            ));
        }
        if self.checkpoint_segment == Some(0) {
            return Err(InvalidParameter::new(
                "checkpoint_segment",
                "expected a number of steps > 0 (or no entry, for no checkpointing), got 0",
            ));
        }
        if self.layers.is_empty() {
            for (i, &size) in self.hidden.iter().enumerate() {
                if size == 0 {
                    return Err(InvalidParameter::new(
                        format!("hidden[{i}]"),
                        "expected a number > 0, got 0",
                    ));
                }
            }
            if self.outputs == 0 {
                return Err(InvalidParameter::new(
                    "outputs",
                    "expected a number > 0, got 0",
                ));
            }
        }
        self.encoder.validate().map_err(|e| e.within("encoder"))?;
        self.neuron.validate().map_err(|e| e.within("neuron"))?;
        self.plan().map(|_| ())
    }

    /// Number of input features per sample (the product of [`input`](Self::input)).
    pub fn input_size(&self) -> usize {
        self.input.iter().product()
    }

    /// Number of output neurons (classes).
    pub fn output_size(&self) -> usize {
        self.plan()
            .ok()
            .and_then(|p| p.last().map(|l| l.output.iter().product()))
            .unwrap_or(self.outputs)
    }

    /// A short text of the architecture, e.g. `784-1000-10` or `1x28x28-c12k5-mp2-…`.
    pub fn summary(&self) -> String {
        let mut parts = vec![
            self.input
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("x"),
        ];
        for layer in self.resolved_layers() {
            parts.push(match layer {
                LayerConfig::Linear { size, .. } => size.to_string(),
                LayerConfig::DelayedLinear {
                    size, max_delay, ..
                } => format!("{size}d{max_delay}"),
                LayerConfig::Conv2d {
                    channels, kernel, ..
                } => format!("c{channels}k{kernel}"),
                LayerConfig::MaxPool2d { kernel, .. } => format!("mp{kernel}"),
                LayerConfig::AvgPool2d { kernel, .. } => format!("ap{kernel}"),
                LayerConfig::Flatten => "flat".into(),
                LayerConfig::Dropout { prob } => format!("drop{prob}"),
                LayerConfig::BatchNorm => "bn".into(),
                LayerConfig::Delay(d) => format!("delay{}", d.max_delay),
                LayerConfig::Neuron { neuron } => self.neuron_of(&neuron).kind().name(),
            });
        }
        parts.join("-")
    }

    /// Builds the model on `device`. Weights and biases are drawn uniformly from
    /// `±1/√fan_in` (PyTorch's default for `Linear` and `Conv2d`) by ChaCha8 seeded with
    /// `seed`: the same seed gives the same weights on every backend and thread. Call
    /// [`Self::validate`] first (a config that does not validate panics here).
    pub fn init(&self, seed: u64, device: &Device) -> SpikingNetwork {
        let plan = self
            .plan()
            .expect("NetworkConfig::init needs a valid config (call validate)");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut layers = Vec::with_capacity(plan.len());
        for (i, planned) in plan.iter().enumerate() {
            let fan_in: usize = planned.input.iter().product();
            let layer = match &planned.layer {
                LayerConfig::Linear { size, bias } => {
                    Layer::Linear(seeded_linear(fan_in, *size, *bias, &mut rng, device))
                }
                LayerConfig::DelayedLinear {
                    size,
                    max_delay,
                    learnable,
                    bias,
                } => {
                    let linear = seeded_linear(fan_in, *size, *bias, &mut rng, device);
                    let delays = crate::layers::DelayedLinear::random_delays(
                        fan_in, *size, *max_delay, *learnable, &mut rng, device,
                    );
                    Layer::DelayedLinear(crate::layers::DelayedLinear::new(
                        linear.weight,
                        linear.bias,
                        delays,
                        *max_delay,
                        *learnable,
                    ))
                }
                LayerConfig::Conv2d {
                    channels,
                    kernel,
                    stride,
                    padding,
                    bias,
                } => {
                    let in_channels = planned.input[0];
                    let pad = padding.unwrap_or(kernel / 2);
                    let mut conv = Conv2dConfig::new([in_channels, *channels], [*kernel, *kernel])
                        .with_stride([*stride, *stride])
                        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                        .with_bias(*bias)
                        .init(device);
                    let fan_in = in_channels * kernel * kernel;
                    conv.weight = uniform_param(
                        [*channels, in_channels, *kernel, *kernel],
                        fan_in,
                        &mut rng,
                        device,
                    );
                    conv.bias = bias.then(|| uniform_param([*channels], fan_in, &mut rng, device));
                    Layer::Conv2d(conv)
                }
                LayerConfig::MaxPool2d { kernel, stride } => Layer::MaxPool2d(
                    MaxPool2dConfig::new([*kernel, *kernel])
                        .with_strides([stride.unwrap_or(*kernel); 2])
                        .init(),
                ),
                LayerConfig::AvgPool2d { kernel, stride } => Layer::AvgPool2d(
                    AvgPool2dConfig::new([*kernel, *kernel])
                        .with_strides([stride.unwrap_or(*kernel); 2])
                        .init(),
                ),
                LayerConfig::Flatten => Layer::Flatten(Flatten {
                    dims: planned.output.clone(),
                }),
                LayerConfig::Dropout { prob } => Layer::Dropout(TimeDropout {
                    prob: *prob,
                    seed: seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i as u64 + 1)),
                    passes: Arc::new(AtomicU64::new(0)),
                }),
                LayerConfig::BatchNorm => {
                    Layer::BatchNorm(BatchNormConfig::new(planned.input[0]).init(device))
                }
                LayerConfig::Delay(delay) => {
                    Layer::Delay(delay.init(planned.input[0], &mut rng, device))
                }
                LayerConfig::Neuron { neuron } => {
                    let neurons = planned.input.iter().product();
                    Layer::Neuron(self.neuron_of(neuron).init(neurons, &mut rng, device))
                }
            };
            layers.push(layer);
        }
        SpikingNetwork {
            layers,
            input: self.input.clone(),
            num_steps: self.num_steps,
            encoder: self.encoder.seeded(seed ^ 0x656e_636f_6465),
            checkpoint_segment: self.checkpoint_segment,
        }
    }
}

fn uniform_values(n: usize, fan_in: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
    (0..n).map(|_| rng.random_range(-bound..=bound)).collect()
}

fn uniform_param<const D: usize>(
    dims: [usize; D],
    fan_in: usize,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Param<Tensor<D>> {
    let n = dims.iter().product();
    let data = TensorData::new(uniform_values(n, fan_in, rng), dims);
    Param::from_tensor(Tensor::from_data(data, device))
}

/// A `Linear(fan_in, fan_out)` with weights and bias uniform in `±1/√fan_in`, drawn from `rng`.
fn seeded_linear(
    fan_in: usize,
    fan_out: usize,
    bias: bool,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Linear {
    Linear {
        weight: uniform_param([fan_in, fan_out], fan_in, rng, device),
        bias: bias.then(|| uniform_param([fan_out], fan_in, rng, device)),
    }
}

mod run;
pub use run::*;
