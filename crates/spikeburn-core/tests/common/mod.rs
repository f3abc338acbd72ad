//! Helpers shared by the catalogue and wgpu tests: random leaves, one forward + backward pass
//! through a neuron layer, and the list of every model.

#![allow(dead_code)] // each test binary uses its own subset

use burn::module::{Module, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::Gradients;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spikeburn_core::adaptive::AdaptiveParams;
use spikeburn_core::alpha::AlphaParams;
use spikeburn_core::conductance::ConductanceParams;
use spikeburn_core::lif::{LifParams, Reset};
use spikeburn_core::recurrent::{RecurrentKind, RecurrentParams};
use spikeburn_core::surrogate::Surrogate;
use spikeburn_core::synaptic::SynapticParams;
use spikeburn_core::{ModelParams, NeuronConfig, NeuronKind, NeuronLayer};

/// A tensor of values drawn uniformly from `[lo, hi)` by ChaCha8 seeded with `seed`.
pub fn uniform<const D: usize>(
    shape: [usize; D],
    lo: f32,
    hi: f32,
    seed: u64,
    dev: &Device,
) -> Tensor<D> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(lo..hi)).collect();
    Tensor::from_data(TensorData::new(v, shape), dev)
}

pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32")
}

/// Collects the gradient of every float parameter (empty when it has none).
pub struct ParamGrads<'a> {
    grads: &'a Gradients,
    out: Vec<Vec<f32>>,
}

impl ModuleVisitor for ParamGrads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.out
            .push(param.val().grad(self.grads).map(values).unwrap_or_default());
    }
}

pub struct Pass {
    pub spikes: Vec<f32>,
    pub membrane: Vec<f32>,
    pub grad_input: Vec<f32>,
    pub grad_params: Vec<Vec<f32>>,
}

pub fn pass(
    layer: &NeuronLayer,
    stepwise: bool,
    shape: [usize; 3],
    seed: u64,
    dev: &Device,
) -> Pass {
    layer.rewind();
    let input = uniform(shape, -0.5, 1.5, seed, dev).require_grad();
    let w1 = uniform(shape, -1.0, 1.0, seed + 1, dev);
    let w2 = uniform(shape, -1.0, 1.0, seed + 2, dev);
    let out = if stepwise {
        layer.forward_stepwise(input.clone(), true)
    } else {
        layer.forward(input.clone(), true)
    };
    let membrane = out.membrane.expect("membrane");
    let loss = (out.spikes.clone() * w1).sum() + (membrane.clone() * w2).sum();
    let grads = loss.backward();
    let mut visitor = ParamGrads {
        grads: &grads,
        out: Vec::new(),
    };
    layer.visit(&mut visitor);
    Pass {
        spikes: values(out.spikes),
        membrane: values(membrane),
        grad_input: values(input.grad(&grads).expect("input gradient")),
        grad_params: visitor.out,
    }
}

pub fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let scale = 1.0f32.max(x.abs()).max(y.abs());
        assert!((x - y).abs() <= tol * scale, "{what}[{i}]: {x} vs {y}");
    }
}

/// The default parameters of `kind`, with a learnable synaptic decay `α = 0.7` where the
/// model has one.
pub fn learnable_alpha(kind: NeuronKind) -> ModelParams {
    match kind.default_params() {
        ModelParams::Synaptic(_) => SynapticParams {
            alpha: 0.7,
            learn_alpha: true,
        }
        .into(),
        ModelParams::Alpha(_) => AlphaParams {
            alpha: 0.7,
            learn_alpha: true,
        }
        .into(),
        ModelParams::Conductance(p) => ConductanceParams {
            alpha: 0.7,
            learn_alpha: true,
            ..p
        }
        .into(),
        other => other,
    }
}

/// Every model (and the refractory and graded-spike options), learnable parameters on.
pub fn catalogue() -> Vec<(String, NeuronConfig)> {
    let base = NeuronConfig {
        beta: 0.8,
        threshold: 0.9,
        learn_beta: true,
        learn_threshold: true,
        ..NeuronConfig::default()
    };
    let with = |model: ModelParams| NeuronConfig {
        model,
        ..base.clone()
    };
    let adaptive = |adapt_decay, adapt_strength, learn_adapt| {
        with(
            AdaptiveParams {
                adapt_decay,
                adapt_strength,
                learn_adapt,
            }
            .into(),
        )
    };
    let mut list = Vec::new();
    for kind in [
        NeuronKind::Lif,
        NeuronKind::If,
        NeuronKind::Synaptic,
        NeuronKind::Alpha,
        NeuronKind::Recurrent,
        NeuronKind::Adaptive,
        NeuronKind::Integrator,
        NeuronKind::Conductance,
        NeuronKind::Stochastic,
        NeuronKind::Eif,
    ] {
        list.push((format!("{kind:?}"), with(learnable_alpha(kind))));
    }
    list.push((
        "Recurrent one-to-one".into(),
        with(
            RecurrentParams {
                recurrent: RecurrentKind::OneToOne,
            }
            .into(),
        ),
    ));
    list.push((
        "Adaptive fast".into(),
        NeuronConfig {
            detach_reset: false,
            ..adaptive(0.8, 0.5, false)
        },
    ));
    list.push((
        "Adaptive learnable per-neuron".into(),
        NeuronConfig {
            per_neuron: true,
            ..adaptive(0.85, 0.7, true)
        },
    ));
    list.push((
        "Lif refractory 2".into(),
        NeuronConfig {
            reset: Reset::Zero,
            ..with(LifParams { refractory: 2 }.into())
        },
    ));
    list.push((
        "Lif graded per-neuron".into(),
        NeuronConfig {
            graded_spikes: true,
            per_neuron: true,
            ..base.clone()
        },
    ));
    list.push((
        "Synaptic per-neuron zero reset attached".into(),
        NeuronConfig {
            per_neuron: true,
            reset: Reset::Zero,
            detach_reset: false,
            ..with(learnable_alpha(NeuronKind::Synaptic))
        },
    ));
    list.push((
        "Alpha zero reset".into(),
        NeuronConfig {
            reset: Reset::Zero,
            ..with(learnable_alpha(NeuronKind::Alpha))
        },
    ));
    list
}

/// Every built-in surrogate, with non-default parameters where they have one.
pub const SURROGATES: [Surrogate; 7] = [
    Surrogate::Atan { alpha: 2.0 },
    Surrogate::FastSigmoid { slope: 25.0 },
    Surrogate::Sigmoid { slope: 5.0 },
    Surrogate::StraightThrough,
    Surrogate::Triangular { alpha: 0.3 },
    Surrogate::Gaussian { slope: 2.0 },
    Surrogate::SpikeRateEscape {
        beta: 1.0,
        slope: 1.0,
    },
];

/// The CPU backends with autodiff, named.
#[allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.
pub fn devices() -> [(&'static str, Device); 2] {
    [
        ("flex", Device::flex().autodiff()),
        ("ndarray", Device::ndarray().autodiff()),
    ]
}
