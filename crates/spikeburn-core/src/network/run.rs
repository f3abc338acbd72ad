//! The model a [`NetworkConfig`] builds, [`SpikingNetwork`], and its forward pass over time.

use super::*;

/// Flattens `[C, H, W]` samples to `[C·H·W]`; `dims` is the output sample shape.
#[derive(Module, Debug)]
pub struct Flatten {
    /// Output sample shape (`[C·H·W]`).
    pub dims: Vec<usize>,
}

/// Dropout with one mask per sample for the whole sequence (see [`LayerConfig::Dropout`]).
/// The mask is drawn by ChaCha8 from the layer's seed, pass `k` using stream `k`.
#[derive(Module, Debug)]
pub struct TimeDropout {
    /// Drop probability.
    pub prob: f32,
    /// Seed of the masks.
    pub seed: u64,
    /// Masks drawn so far.
    #[module(skip)]
    pub passes: Arc<AtomicU64>,
}

impl TimeDropout {
    /// A mask `[B, F]` of 0 and `1/(1 − p)` (inverted dropout).
    fn mask(&self, batch: usize, features: usize, device: &Device) -> Tensor<2> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(self.passes.fetch_add(1, Ordering::Relaxed));
        let keep = 1.0 - self.prob;
        let values = (0..batch * features)
            .map(|_| {
                if rng.random::<f32>() < keep {
                    1.0 / keep
                } else {
                    0.0
                }
            })
            .collect();
        Tensor::from_data(TensorData::new(values, [batch, features]), device)
    }
}

/// One layer of a [`SpikingNetwork`].
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Layer {
    /// Fully connected.
    Linear(Linear),
    /// 2-D convolution.
    Conv2d(Conv2d),
    /// Max pooling.
    MaxPool2d(MaxPool2d),
    /// Average pooling.
    AvgPool2d(AvgPool2d),
    /// Flatten.
    Flatten(Flatten),
    /// Dropout, one mask per sequence.
    Dropout(TimeDropout),
    /// Batch normalisation over `T×B`.
    BatchNorm(BatchNorm),
    /// Per-feature delays (mixes time steps).
    Delay(crate::layers::Delay),
    /// Fully connected with per-synapse delays (mixes time steps).
    DelayedLinear(crate::layers::DelayedLinear),
    /// Spiking neurons.
    Neuron(NeuronLayer),
}

/// A feed-forward spiking network (see the [module docs](super)).
#[derive(Module, Debug)]
pub struct SpikingNetwork {
    /// The layers, input to output.
    pub layers: Vec<Layer>,
    /// Shape of one input sample.
    #[module(skip)]
    pub input: Vec<usize>,
    /// Simulated time steps `T`.
    pub num_steps: usize,
    /// How the static input becomes a sequence.
    #[module(skip)]
    pub encoder: crate::encoding::EncoderState,
    /// Segment length of the gradient checkpointing over time of dense + LIF pairs
    /// ([`NetworkConfig::checkpoint_segment`]); `None`: off.
    #[module(skip)]
    pub checkpoint_segment: Option<usize>,
}

/// The former name of [`SpikingNetwork`] (it was an MLP only).
#[deprecated(
    since = "0.1.0",
    note = "renamed `SpikingNetwork` (it is not an MLP only)"
)]
#[doc(hidden)]
pub type SpikingMlp = SpikingNetwork;

/// Activations between layers: rows are `B` (a time-invariant activation) or `T·B`
/// (time-major), features flat or as images.
enum Features {
    Flat(Tensor<2>),
    Image(Tensor<4>),
}

impl Features {
    fn device(&self) -> Device {
        match self {
            Features::Flat(x) => x.device(),
            Features::Image(x) => x.device(),
        }
    }

    /// The features as `[rows, F]` (a handle clone, or a reshape of the image).
    fn flat(&self) -> Tensor<2> {
        match self {
            Features::Flat(x) => x.clone(),
            Features::Image(x) => x.clone().flatten(1, 3),
        }
    }

    /// The features as images `[rows, C, H, W]`; flat features (which a validated network
    /// never hands to an image layer) count as `F` channels of 1×1.
    fn image(self) -> Tensor<4> {
        match self {
            Features::Image(x) => x,
            Features::Flat(x) => x.unsqueeze_dims(&[2, 3]),
        }
    }

    /// The flat features as a time-major sequence `[T, B, F]`, for a layer that mixes steps:
    /// a `constant` (time-invariant, `B` rows) activation is repeated over the `steps` steps,
    /// since it is constant no more once delayed.
    fn sequence(&self, constant: bool, steps: usize, batch: usize) -> Tensor<3> {
        let flat = self.flat();
        let f = flat.dims()[1];
        if constant {
            flat.unsqueeze::<3>().expand([steps, batch, f])
        } else {
            flat.reshape([steps, batch, f])
        }
    }

    /// Same kind of features with new data of the same layout as `[rows, F]`.
    fn like(&self, flat: Tensor<2>) -> Features {
        match self {
            Features::Flat(_) => Features::Flat(flat),
            Features::Image(x) => {
                let [_, c, h, w] = x.dims();
                let rows = flat.dims()[0];
                Features::Image(flat.reshape([rows, c, h, w]))
            }
        }
    }
}

impl SpikingNetwork {
    /// The random streams of the network, in a fixed order: the encoder, then every dropout
    /// layer and every stochastic neuron layer from input to output. Each is a counter of the
    /// passes drawn so far: pass `k` draws from ChaCha8 seeded with the component's seed on
    /// stream `k`, so the counters are the whole random state of a forward pass.
    fn random_streams(&self) -> Vec<&Arc<AtomicU64>> {
        let mut streams = vec![&self.encoder.passes];
        for layer in &self.layers {
            match layer {
                Layer::Dropout(d) => streams.push(&d.passes),
                Layer::Neuron(n) => streams.extend(n.random_stream()),
                _ => {}
            }
        }
        streams
    }

    /// The positions of the network's random streams (see [`Self::set_stream_positions`]
    /// (Self::set_stream_positions)): what a checkpoint stores so that a resumed run draws
    /// the same rate-coded inputs, dropout masks and stochastic spikes as an uninterrupted one.
    pub fn stream_positions(&self) -> Vec<u64> {
        self.random_streams()
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .collect()
    }

    /// Restores positions read by [`stream_positions`](Self::stream_positions) from a
    /// network of the same configuration: the encoder's, then each dropout and stochastic
    /// neuron layer's, input to output.
    ///
    /// # Errors
    /// A count that does not match this network's streams (a checkpoint of another network).
    pub fn set_stream_positions(&self, positions: &[u64]) -> Result<(), String> {
        let streams = self.random_streams();
        if streams.len() != positions.len() {
            return Err(format!(
                "{} random stream positions for a network with {} random streams",
                positions.len(),
                streams.len()
            ));
        }
        for (stream, &position) in streams.iter().zip(positions) {
            stream.store(position, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Runs the network on a batch: static samples `[B, input features]` (flat; reshaped to
    /// the configured sample shape) go through the encoder and run `num_steps` steps; a
    /// sequence `[T, B, input features]` (a [`ModelInput::Sequence`]) is the input of the
    /// first layer at each of its `T` steps, without the encoder.
    pub fn forward(&self, input: impl Into<ModelInput>) -> SnnOutput {
        self.run(input.into(), false).0
    }

    /// [`forward`](Self::forward) with a gradient probe on the input current of every neuron
    /// layer: a zero tensor `P_l` of shape `[T, B, N_l]`, marked as requiring a gradient (a
    /// leaf of the autodiff graph), is added to layer `l`'s input current, `I_l[t] + P_l[t]`.
    /// The forward values are unchanged (`P = 0`), and after `loss.backward()`,
    /// `P_l.grad(&grads)` is `∂L/∂I_l[t]` for every step `t`, sample and neuron — the gradient
    /// that flows back through time into each layer (burn keeps gradients of leaf tensors
    /// only). Returns the output and the probes, input to output.
    ///
    /// With a time-invariant input, the first neuron layer's constant current is repeated
    /// over `T` here (the probe differs per step), so this pass is slower than `forward`; the
    /// normal forward path is untouched.
    pub fn forward_probed(&self, input: impl Into<ModelInput>) -> (SnnOutput, Vec<Tensor<3>>) {
        self.run(input.into(), true)
    }

    /// Waits until pending work on the first weight is done and returns its sum (asynchronous
    /// backends run lazily; benchmarks call this before reading the clock).
    pub fn sync(&self) -> f32 {
        for layer in &self.layers {
            match layer {
                Layer::Linear(l) => return l.weight.val().sum().into_scalar::<f32>(),
                Layer::DelayedLinear(l) => return l.weight.val().sum().into_scalar::<f32>(),
                Layer::Conv2d(c) => return c.weight.val().sum().into_scalar::<f32>(),
                _ => {}
            }
        }
        0.0
    }

    /// The fully connected layers, input to output.
    pub fn linears(&self) -> Vec<&Linear> {
        self.layers
            .iter()
            .filter_map(|l| match l {
                Layer::Linear(linear) => Some(linear),
                _ => None,
            })
            .collect()
    }

    /// The neuron layers, input to output.
    pub fn neurons(&self) -> Vec<&NeuronLayer> {
        self.layers
            .iter()
            .filter_map(|l| match l {
                Layer::Neuron(n) => Some(n),
                _ => None,
            })
            .collect()
    }

    /// The dense layers (indices into [`layers`](Self::layers)) that run together with the
    /// neuron layer after them as one gradient-checkpointed operation on `device`
    /// ([`crate::NetworkConfig::checkpoint_segment`], [`NeuronLayer::forward_dense`]) when the
    /// input is a sequence: none without a segment length; never the output layer, which
    /// keeps its membrane.
    pub fn checkpointed(&self, device: &Device) -> Vec<usize> {
        let last_neuron = self
            .layers
            .iter()
            .rposition(|l| matches!(l, Layer::Neuron(_)));
        if self.checkpoint_segment.is_none() {
            return Vec::new();
        }
        self.layers
            .windows(2)
            .enumerate()
            .filter_map(|(i, pair)| match pair {
                [Layer::Linear(_), Layer::Neuron(n)]
                    if Some(i + 1) != last_neuron && n.runs_with_dense(device) =>
                {
                    Some(i)
                }
                _ => None,
            })
            .collect()
    }

    /// Number of neuron layers.
    pub fn neuron_layers(&self) -> usize {
        self.layers
            .iter()
            .filter(|l| matches!(l, Layer::Neuron(_)))
            .count()
    }

    fn run(&self, input: ModelInput, probed: bool) -> (SnnOutput, Vec<Tensor<3>>) {
        let batch = input.batch_size();
        let steps = input.steps().unwrap_or(self.num_steps);
        let encoded = match input {
            ModelInput::Static(x) => self.encoder.encode(x, steps),
            ModelInput::Sequence(seq) => crate::encoding::Encoded::Sequence(seq),
        };
        let (x, mut constant) = match encoded {
            crate::encoding::Encoded::Constant(x) => (x, true),
            crate::encoding::Encoded::Sequence(seq) => {
                let [t, b, f] = seq.dims();
                (seq.reshape([t * b, f]), false)
            }
        };
        let mut features = if self.input.len() == 3 {
            Features::Image(x.clone().reshape([
                x.dims()[0],
                self.input[0],
                self.input[1],
                self.input[2],
            ]))
        } else {
            Features::Flat(x.clone())
        };
        let last_neuron = self
            .layers
            .iter()
            .rposition(|l| matches!(l, Layer::Neuron(_)))
            .unwrap_or(0);
        let mut spike_rates = Vec::new();
        let mut layer_spikes = Vec::new();
        let mut probes = Vec::new();
        let mut output = None;
        // The dense layers run with the neuron layer after them as one checkpointed operation
        // (a sequence input only, and not while probing the currents).
        let checkpointed = match self.checkpoint_segment {
            Some(_) if !constant && !probed => self.checkpointed(&x.device()),
            _ => Vec::new(),
        };
        // The index of a neuron layer already run together with the dense layer before it.
        let mut done = None;
        for (i, layer) in self.layers.iter().enumerate() {
            if done == Some(i) {
                continue;
            }
            features = match layer {
                Layer::Linear(linear) => {
                    let fused = match (self.checkpoint_segment, self.layers.get(i + 1)) {
                        (Some(segment), Some(Layer::Neuron(neuron)))
                            if checkpointed.contains(&i) =>
                        {
                            let flat = features.flat();
                            let f = flat.dims()[1];
                            neuron.forward_dense(linear, flat.reshape([steps, batch, f]), segment)
                        }
                        _ => None,
                    };
                    match fused {
                        Some(out) => {
                            done = Some(i + 1);
                            let n = out.spikes.dims()[2];
                            spike_rates.push(out.spikes.clone().mean());
                            layer_spikes.push(out.spikes.clone());
                            Features::Flat(out.spikes.reshape([steps * batch, n]))
                        }
                        None => Features::Flat(crate::dense::forward(
                            linear,
                            features.flat(),
                            crate::Kernel::Auto,
                        )),
                    }
                }
                Layer::Conv2d(conv) => Features::Image(crate::conv::forward(
                    conv,
                    features.image(),
                    crate::Kernel::Auto,
                )),
                Layer::MaxPool2d(pool) => Features::Image(crate::pool::forward(
                    pool,
                    features.image(),
                    crate::Kernel::Auto,
                )),
                Layer::AvgPool2d(pool) => Features::Image(pool.forward(features.image())),
                Layer::Flatten(_) => Features::Flat(features.flat()),
                Layer::Dropout(dropout) => {
                    if !features.device().is_autodiff() {
                        features
                    } else {
                        let flat = features.flat();
                        let [rows, f] = flat.dims();
                        let mask = dropout.mask(batch, f, &flat.device());
                        // One mask per sample, shared by every step of a time-major sequence.
                        let mask = if rows == batch {
                            mask
                        } else {
                            mask.unsqueeze::<3>()
                                .expand([steps, batch, f])
                                .reshape([steps * batch, f])
                        };
                        features.like(flat * mask)
                    }
                }
                Layer::BatchNorm(norm) => match features {
                    Features::Flat(x) => {
                        Features::Flat(crate::batch_norm::forward(norm, x, crate::Kernel::Auto))
                    }
                    Features::Image(x) => {
                        Features::Image(crate::batch_norm::forward(norm, x, crate::Kernel::Auto))
                    }
                },
                Layer::Delay(delay) => {
                    let y = delay.forward(features.sequence(constant, steps, batch));
                    constant = false;
                    Features::Flat(y.flatten(0, 1))
                }
                Layer::DelayedLinear(linear) => {
                    let y = linear.forward(features.sequence(constant, steps, batch));
                    constant = false;
                    Features::Flat(y.flatten(0, 1))
                }
                Layer::Neuron(neuron) => {
                    let keep_membrane = i == last_neuron;
                    let template = features;
                    let flat = template.flat();
                    let f = flat.dims()[1];
                    let out = if probed {
                        let current = if constant {
                            flat.unsqueeze::<3>().expand([steps, batch, f])
                        } else {
                            flat.reshape([steps, batch, f])
                        };
                        let probe: Tensor<3> =
                            Tensor::zeros([steps, batch, f], &current.device()).require_grad();
                        probes.push(probe.clone());
                        neuron.forward(current + probe, keep_membrane)
                    } else if constant {
                        neuron.forward_constant(flat, steps, keep_membrane)
                    } else {
                        neuron.forward(flat.reshape([steps, batch, f]), keep_membrane)
                    };
                    constant = false;
                    spike_rates.push(out.spikes.clone().mean());
                    layer_spikes.push(out.spikes.clone());
                    let next = template.like(out.spikes.clone().reshape([steps * batch, f]));
                    if keep_membrane {
                        output = Some(out);
                    }
                    next
                }
            };
        }
        let out = output.expect("a validated network ends with a neuron layer");
        let spiking = self
            .layers
            .get(last_neuron)
            .is_some_and(|l| matches!(l, Layer::Neuron(n) if n.is_spiking()));
        let output = SnnOutput {
            membrane: out.membrane.expect("the output layer keeps its membrane"),
            spikes: out.spikes,
            spike_rates,
            layer_spikes,
            spiking,
            lengths: None,
        };
        (output, probes)
    }
}

impl SpikingModel for SpikingNetwork {
    fn forward(&self, input: ModelInput) -> SnnOutput {
        self.run(input, false).0
    }

    fn stream_positions(&self) -> Vec<u64> {
        SpikingNetwork::stream_positions(self)
    }

    fn set_stream_positions(&self, positions: &[u64]) -> Result<(), String> {
        SpikingNetwork::set_stream_positions(self, positions)
    }

    fn summary(&self) -> String {
        let mut parts = vec![format!("{:?}", self.input)];
        for layer in &self.layers {
            parts.push(match layer {
                Layer::Linear(l) => format!("linear({})", l.weight.dims()[1]),
                Layer::Conv2d(c) => format!("conv2d({})", c.weight.dims()[0]),
                Layer::MaxPool2d(_) => "max_pool2d".into(),
                Layer::AvgPool2d(_) => "avg_pool2d".into(),
                Layer::Flatten(_) => "flatten".into(),
                Layer::Dropout(d) => format!("dropout({})", d.prob),
                Layer::BatchNorm(_) => "batch_norm".into(),
                Layer::Delay(d) => format!("delay({})", d.max_delay),
                Layer::DelayedLinear(l) => {
                    format!("delayed_linear({}, {})", l.weight.dims()[1], l.max_delay)
                }
                Layer::Neuron(_) => "neuron".into(),
            });
        }
        format!("{} over {} steps", parts.join(" → "), self.num_steps)
    }
}
