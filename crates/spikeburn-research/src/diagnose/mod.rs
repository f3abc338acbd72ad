//! Gradient diagnostics of a trained run (`spikeburn diagnose --model DIR`).
//!
//! On test samples of the run's data set, [`diagnose`] measures three things and writes them
//! to `diagnostics.json` and figures:
//!
//! 1. **Gradient flow through time.** For every neuron layer `l` and step `t`, the norm
//!    `‖∂L/∂I_l[t]‖` (over samples and neurons) of the loss gradient with respect to the
//!    layer's input current, from the probes of
//!    [`SpikingNetwork::forward_probed`](spikeburn_core::SpikingNetwork::forward_probed): a
//!    norm that shrinks (grows) by orders of magnitude towards early steps shows vanishing
//!    (exploding) gradients through time.
//! 2. **Activity.** Per layer, the histogram of per-neuron firing rates (spikes per step,
//!    averaged over the samples and steps), and the numbers of silent neurons (rate 0: they
//!    pass no surrogate gradient where the membrane stays far below threshold) and saturated
//!    ones (rate 1).
//! 3. **Gradient agreement.** For the same weights and batch: (a) the surrogate gradient
//!    `g_s = ∂L/∂θ` of the spiking network with surrogate `s` (the configured one, every
//!    built-in one with its default parameter, and every registered custom one); (b) the exact
//!    gradient `g_ref` of the *smooth* network in which the Heaviside spike is replaced by the
//!    steep sigmoid `σ(k·x)` in the forward pass too ([`Surrogate::SmoothSigmoid`]), by
//!    autodiff, with the reset kept in the graph ([`reference_network`]: a detached reset
//!    would make autodiff drop a real dependence of the loss on the weights); (c) central finite differences of that smooth network's loss along a few unit
//!    directions `v`: `(L(θ + εv) − L(θ − εv)) / 2ε ≈ ⟨g_ref, v⟩`. The report gives
//!    `cos(g_s, g_ref)` per surrogate (overall and per parameter tensor), and the finite
//!    differences next to `⟨g_ref, v⟩`, which validates (b).
//!
//! This follows the analysis of Zenke & Vogels (2021, "The remarkable robustness of surrogate
//! gradient learning for instilling complex function in spiking neural networks", Neural
//! Computation 33(4)), who compare surrogate gradients with the exact gradients of smooth
//! networks and find that the surrogate's shape matters little while its scale does.
//!
//! # The steepness `k`
//! The default `k = 10` (in units of the membrane, with `θ = 1`: the sigmoid goes from 0.12
//! to 0.88 within `±0.2θ` of the threshold) is a compromise. A larger `k` makes the smooth
//! network's forward pass closer to the spiking one (its "spikes" closer to 0/1), but its loss
//! becomes rougher in the weights: the finite differences then need a smaller `ε`, and in
//! `f32` the loss difference drowns in rounding error. At `k = 10` and `ε = 10⁻³` central
//! differences agree with autodiff (tested on a small network), so `g_ref` is trustworthy;
//! change it with [`DiagnoseOptions::steepness`] (`--steepness`).
//!
//! Parameters are those that require a gradient (weights, biases, learnable `β`/`θ`).
//! Dropout draws a new mask at every pass, so a network with dropout compares gradients of
//! different masks; diagnose a network without it for exact comparisons.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::Gradients;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use spikeburn_core::ModelInput;
use spikeburn_core::surrogate::CustomSurrogate;
use spikeburn_core::{LayerConfig, NetworkConfig, SpikingNetwork, Surrogate};
use spikeburn_figures::{Chart, Figure, FigureError, ImageFormat, Point, Series, XScale};
use spikeburn_io::write_bytes_atomically;
use spikeburn_train::config::ExperimentConfig;
use spikeburn_train::error::TrainError;
use spikeburn_train::trainer::{compute_loss, load_run_config, load_run_model, load_test_set};
use std::path::{Path, PathBuf};

/// File name of the report inside the output directory.
pub const DIAGNOSTICS: &str = "diagnostics.json";

/// Settings of [`diagnose`].
#[derive(Clone, Debug, PartialEq)]
pub struct DiagnoseOptions {
    /// Test samples for the firing-rate statistics (the first ones of the test set).
    pub samples: usize,
    /// Samples of the batch whose gradients are compared (the first ones).
    pub grad_batch: usize,
    /// Steepness `k` of the smooth reference `σ(k·x)`.
    pub steepness: f32,
    /// Random unit directions of the finite-difference check (the normalised reference
    /// gradient is checked too).
    pub directions: usize,
    /// Step `ε` of the central differences.
    pub epsilon: f32,
    /// Surrogates to compare; empty: the configured one, every built-in one with its default
    /// parameter and every registered custom one (with `slope = 1`).
    pub surrogates: Vec<Surrogate>,
    /// Bins of the firing-rate histograms over `[0, 1]`.
    pub bins: usize,
    /// Figure formats.
    pub formats: Vec<ImageFormat>,
    /// Seed of the random directions.
    pub seed: u64,
}

impl Default for DiagnoseOptions {
    fn default() -> Self {
        Self {
            samples: 512,
            grad_batch: 32,
            steepness: 10.0,
            directions: 4,
            epsilon: 1e-3,
            surrogates: Vec::new(),
            bins: 20,
            formats: ImageFormat::ALL.to_vec(),
            seed: 0,
        }
    }
}

/// Why diagnostics could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DiagnoseError {
    /// The run could not be loaded.
    #[error(transparent)]
    Run(#[from] TrainError),
    /// A figure could not be written.
    #[error(transparent)]
    Figure(#[from] FigureError),
    /// An option is out of range.
    #[error("{0}")]
    Options(String),
}

impl From<spikeburn_io::IoError> for DiagnoseError {
    fn from(e: spikeburn_io::IoError) -> Self {
        DiagnoseError::Run(e.into())
    }
}

/// Firing statistics of one neuron layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerActivity {
    /// Neurons in the layer.
    pub neurons: usize,
    /// Mean firing rate (spikes per neuron per step).
    pub mean_rate: f64,
    /// Neurons that never fired on the samples.
    pub silent: usize,
    /// Neurons that fired at every step of every sample.
    pub saturated: usize,
    /// Bin edges of the rate histogram (`bins + 1` values from 0 to 1).
    pub histogram_edges: Vec<f64>,
    /// Neurons per bin (the last bin includes rate 1).
    pub histogram_counts: Vec<usize>,
}

/// Agreement of one surrogate's gradient with the smooth reference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SurrogateAgreement {
    /// Short name (`atan`, `fast_sigmoid`, …, or the custom name).
    pub name: String,
    /// The name with its steepness parameter, e.g. `atan(2)`.
    pub label: String,
    /// The surrogate with its parameters.
    pub surrogate: Surrogate,
    /// Whether it is the run's configured surrogate.
    pub configured: bool,
    /// `cos(g_s, g_ref)` over all parameters.
    pub cosine: f64,
    /// `‖g_s‖`.
    pub norm: f64,
    /// `cos(g_s, g_ref)` per parameter tensor, in [`Diagnostics::parameters`] order.
    pub cosine_per_parameter: Vec<Option<f64>>,
}

/// One finite-difference check of the reference gradient.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DirectionalCheck {
    /// `gradient` (the normalised reference gradient) or `random`.
    pub direction: String,
    /// `⟨g_ref, v⟩` from autodiff.
    pub autodiff: f64,
    /// `(L(θ + εv) − L(θ − εv)) / 2ε`.
    pub finite_difference: f64,
}

/// The smooth reference and its finite-difference validation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// Steepness `k` of `σ(k·x)`.
    pub steepness: f32,
    /// Step `ε`.
    pub epsilon: f32,
    /// `‖g_ref‖`.
    pub norm: f64,
    /// Loss of the smooth network on the batch.
    pub loss: f64,
    /// Loss of the spiking network on the batch.
    pub spiking_loss: f64,
    /// The checks, the gradient direction first.
    pub checks: Vec<DirectionalCheck>,
    /// Cosine between the vectors of finite differences and of autodiff values over the
    /// checks. Dominated by the gradient direction (whose derivative is the largest), so it is
    /// insensitive to a wrong scale: read it with [`max_relative_error`](Self::max_relative_error).
    pub cosine_fd_autodiff: f64,
    /// Largest `|fd − ad| / max(|ad|, 10⁻³·‖g_ref‖)` over the checks: the headline check
    /// of the reference gradient (a few percent at most when autodiff is exact; of order 1
    /// when the network drops a dependence from the graph, e.g. a custom neuron that detaches
    /// its reset regardless of `detach_reset`).
    pub max_relative_error: f64,
}

/// A parameter tensor of the comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParameterInfo {
    /// Its path in the module tree (e.g. `layers.0.Linear.weight`).
    pub path: String,
    /// Number of values.
    pub size: usize,
}

/// Everything [`diagnose`] measures; `diagnostics.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// The run directory.
    pub run: PathBuf,
    /// The architecture ([`NetworkConfig::summary`]).
    pub model: String,
    /// The configured surrogate.
    pub surrogate: Surrogate,
    /// Time steps `T`.
    pub num_steps: usize,
    /// Samples of the activity statistics.
    pub samples: usize,
    /// Samples of the gradient batch.
    pub grad_batch: usize,
    /// Loss of the gradient batch (the configured loss, without regularisers).
    pub loss: f64,
    /// Per neuron layer and step, `‖∂L/∂I_l[t]‖` with the configured surrogate.
    pub grad_norm_per_step: Vec<Vec<f64>>,
    /// Per neuron layer, firing statistics.
    pub activity: Vec<LayerActivity>,
    /// The parameter tensors compared.
    pub parameters: Vec<ParameterInfo>,
    /// The smooth reference.
    pub reference: Reference,
    /// One entry per surrogate.
    pub agreement: Vec<SurrogateAgreement>,
}

/// What [`diagnose`] returns.
#[derive(Debug)]
pub struct DiagnoseOutcome {
    /// The measurements.
    pub diagnostics: Diagnostics,
    /// Files written.
    pub files: Vec<PathBuf>,
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default()
}

/// The network with every neuron layer's surrogate replaced by `surrogate`.
pub fn with_surrogate(model: &NetworkConfig, surrogate: Surrogate) -> NetworkConfig {
    let mut m = model.clone();
    m.neuron.surrogate = surrogate;
    for layer in &mut m.layers {
        if let LayerConfig::Neuron { neuron: Some(n) } = layer {
            n.surrogate = surrogate;
        }
    }
    m
}

/// The smooth reference network of `model`: every spike replaced by `σ(k·x)`
/// ([`Surrogate::SmoothSigmoid`]) and the reset signal kept in the graph
/// (`detach_reset = false`), so that autodiff gives the exact gradient of its loss (a detached
/// reset would drop a real dependence, which finite differences see).
pub fn reference_network(model: &NetworkConfig, steepness: f32) -> NetworkConfig {
    let mut m = with_surrogate(model, Surrogate::smooth_sigmoid(steepness));
    m.neuron.detach_reset = false;
    for layer in &mut m.layers {
        if let LayerConfig::Neuron { neuron: Some(n) } = layer {
            n.detach_reset = false;
        }
    }
    m
}

/// Collects the gradients of the parameters that require one, with their paths.
struct GradCollector<'a> {
    grads: &'a Gradients,
    path: Vec<String>,
    out: Vec<(String, Vec<f32>)>,
}

impl ModuleVisitor for GradCollector<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !param.is_require_grad() {
            return;
        }
        let n = param.val().shape().num_elements();
        let g = param
            .val()
            .grad(self.grads)
            .map(values)
            .unwrap_or_else(|| vec![0.0; n]);
        self.out.push((self.path.join("."), g));
    }
}

/// Adds `scale · direction[i]` to the `i`-th parameter that requires a gradient.
struct Shift<'a> {
    direction: &'a [Vec<f32>],
    scale: f32,
    index: usize,
}

impl ModuleMapper for Shift<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if !param.is_require_grad() {
            return param;
        }
        let Some(d) = self.direction.get(self.index) else {
            return param;
        };
        self.index += 1;
        let scale = self.scale;
        let d = d.clone();
        param.map(|t| {
            let shape = t.shape();
            let delta: Tensor<D> =
                Tensor::<1>::from_data(TensorData::new(d, [shape.num_elements()]), &t.device())
                    .reshape(shape);
            t + delta * scale
        })
    }
}

/// Loss and parameter gradients of `model` on a batch.
fn gradients(
    model: &SpikingNetwork,
    config: &ExperimentConfig,
    images: ModelInput,
    targets: Tensor<1, Int>,
) -> (f64, Vec<(String, Vec<f32>)>) {
    let out = model.forward(images);
    let loss = compute_loss(&config.training, &out, targets);
    let value = f64::from(loss.clone().into_scalar::<f32>());
    let grads = loss.backward();
    let mut c = GradCollector {
        grads: &grads,
        path: Vec::new(),
        out: Vec::new(),
    };
    model.visit(&mut c);
    (value, c.out)
}

fn dot(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y))
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum()
}

fn cosine_flat(a: &[f32], b: &[f32]) -> Option<f64> {
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    (aa > 0.0 && bb > 0.0).then(|| ab / (aa * bb).sqrt())
}

/// `cos(a, b)` of two parameter lists (0 where either is zero).
pub fn cosine(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    let (ab, aa, bb) = (dot(a, b), dot(a, a), dot(b, b));
    if aa > 0.0 && bb > 0.0 {
        ab / (aa * bb).sqrt()
    } else {
        0.0
    }
}

/// The steepness parameter of a surrogate (the one configuration files also call `slope`).
pub fn steepness_of(s: &Surrogate) -> Option<f32> {
    match *s {
        Surrogate::Atan { alpha } | Surrogate::Triangular { alpha } => Some(alpha),
        Surrogate::FastSigmoid { slope }
        | Surrogate::Sigmoid { slope }
        | Surrogate::Gaussian { slope }
        | Surrogate::SpikeRateEscape { slope, .. }
        | Surrogate::Custom { slope, .. }
        | Surrogate::SmoothSigmoid { slope } => Some(slope),
        Surrogate::StraightThrough => None,
    }
}

/// `name(parameter)`, e.g. `atan(2)`, or the name alone.
pub fn surrogate_label(s: &Surrogate) -> String {
    match steepness_of(s) {
        Some(k) => format!("{}({k})", s.name()),
        None => s.name(),
    }
}

/// The surrogates compared by default: the configured one, the built-ins, the registered
/// custom ones (without repeats).
pub fn default_surrogates(configured: Surrogate) -> Vec<Surrogate> {
    let mut list = vec![configured];
    let customs = (0..)
        .map_while(CustomSurrogate::from_index)
        .map(|name| Surrogate::Custom { name, slope: 1.0 });
    for s in Surrogate::builtins().into_iter().chain(customs) {
        if !list.contains(&s) {
            list.push(s);
        }
    }
    list
}

/// The finite-difference check of the smooth network's gradient `reference` (the parameters
/// that require a gradient, in visitor order; `smooth` on the device it was computed on) on a batch: the normalised gradient direction and `random` unit directions
/// (uniform in a cube, normalised).
#[allow(clippy::too_many_arguments)]
pub fn finite_difference_checks(
    smooth: &SpikingNetwork,
    config: &ExperimentConfig,
    reference: &[Vec<f32>],
    images: impl Into<ModelInput>,
    targets: Tensor<1, Int>,
    random: usize,
    epsilon: f32,
    seed: u64,
) -> Vec<DirectionalCheck> {
    let images: ModelInput = images.into();
    let norm = dot(reference, reference).sqrt();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut directions: Vec<(String, Vec<Vec<f32>>)> = Vec::new();
    if norm > 0.0 {
        let unit = reference
            .iter()
            .map(|g| g.iter().map(|&x| (f64::from(x) / norm) as f32).collect())
            .collect();
        directions.push(("gradient".into(), unit));
    }
    for _ in 0..random {
        let mut d: Vec<Vec<f32>> = reference
            .iter()
            .map(|g| {
                g.iter()
                    .map(|_| rng.random_range(-1.0f32..1.0))
                    .collect::<Vec<f32>>()
            })
            .collect();
        let n = dot(&d, &d).sqrt().max(f64::MIN_POSITIVE);
        for v in d.iter_mut().flat_map(|v| v.iter_mut()) {
            *v = (f64::from(*v) / n) as f32;
        }
        directions.push(("random".into(), d));
    }
    let loss_at = |direction: &[Vec<f32>], scale: f32| -> f64 {
        let shifted = smooth.clone().map(&mut Shift {
            direction,
            scale,
            index: 0,
        });
        let out = shifted.forward(images.clone());
        f64::from(compute_loss(&config.training, &out, targets.clone()).into_scalar::<f32>())
    };
    directions
        .into_iter()
        .map(|(name, d)| {
            let fd = (loss_at(&d, epsilon) - loss_at(&d, -epsilon)) / (2.0 * f64::from(epsilon));
            DirectionalCheck {
                direction: name,
                autodiff: dot(reference, &d),
                finite_difference: fd,
            }
        })
        .collect()
}

/// Per-layer, per-step `‖∂L/∂I_l[t]‖` of `model` (on an autodiff device) on a batch, and the
/// loss.
pub fn grad_norms_through_time(
    model: &SpikingNetwork,
    config: &ExperimentConfig,
    images: ModelInput,
    targets: Tensor<1, Int>,
) -> (f64, Vec<Vec<f64>>) {
    let (out, probes) = model.forward_probed(images);
    let loss = compute_loss(&config.training, &out, targets);
    let value = f64::from(loss.clone().into_scalar::<f32>());
    let grads = loss.backward();
    let norms = probes
        .iter()
        .map(|p| {
            let [steps, _, _] = p.dims();
            match p.grad(&grads) {
                Some(g) => values(g.square().sum_dim(2).sum_dim(1).reshape([steps]))
                    .into_iter()
                    .map(|v| f64::from(v).sqrt())
                    .collect(),
                None => vec![0.0; steps],
            }
        })
        .collect();
    (value, norms)
}

/// Firing statistics of every neuron layer of `model` (no autodiff) on `images`, in batches.
pub fn activity(model: &SpikingNetwork, images: &[ModelInput], bins: usize) -> Vec<LayerActivity> {
    let mut counts: Vec<Vec<f64>> = Vec::new();
    let mut steps_seen = 0usize;
    for batch in images {
        let out = model.forward(batch.clone());
        for (l, spikes) in out.layer_spikes.into_iter().enumerate() {
            let [t, b, n] = spikes.dims();
            if l == 0 {
                steps_seen += t * b;
            }
            let c = values(spikes.sum_dim(0).sum_dim(1).reshape([n]));
            if counts.len() <= l {
                counts.push(vec![0.0; n]);
            }
            for (acc, v) in counts[l].iter_mut().zip(c) {
                *acc += f64::from(v);
            }
        }
    }
    let bins = bins.max(1);
    let total = steps_seen.max(1) as f64;
    counts
        .into_iter()
        .map(|c| {
            let rates: Vec<f64> = c.iter().map(|v| v / total).collect();
            let mut histogram = vec![0usize; bins];
            for &r in &rates {
                let i = ((r * bins as f64) as usize).min(bins - 1);
                histogram[i] += 1;
            }
            LayerActivity {
                neurons: rates.len(),
                mean_rate: rates.iter().sum::<f64>() / rates.len().max(1) as f64,
                silent: c.iter().filter(|&&v| v == 0.0).count(),
                saturated: c.iter().filter(|&&v| v >= total).count(),
                histogram_edges: (0..=bins).map(|i| i as f64 / bins as f64).collect(),
                histogram_counts: histogram,
            }
        })
        .collect()
}

mod run;
pub use run::*;
