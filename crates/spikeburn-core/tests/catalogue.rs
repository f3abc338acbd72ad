//! The neuron catalogue: every model's multi-step pass equals the loop of its single-step
//! update (values and gradients for the input and every parameter), on both CPU backends and
//! with the fused and reference kernels (each fused kernel also for every reset, detach flag
//! and several surrogates); the models with more than one state variable also equal an
//! independent implementation of their documented equations written here; the discrete LIF
//! f-I curve matches its analytic form.

mod common;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::prelude::*;
use burn::tensor::Gradients;
use burn::tensor::activation::sigmoid;
use common::{assert_close, catalogue, devices, pass, uniform, values};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spikeburn_core::lif::{Kernel, Lif, LifParams, Reset};
use spikeburn_core::stochastic::StochasticParams;
use spikeburn_core::surrogate::Surrogate;
use spikeburn_core::{NeuronConfig, NeuronKind, NeuronLayer, NeuronModel};
use std::collections::{BTreeSet, HashMap};

/// For every model: `forward` (the fused kernel where the model has one) equals
/// `forward_stepwise` (the loop of the single-step update) in spikes, membrane, input gradient
/// and parameter gradients. Seven models (refractory, alpha, recurrent, adaptive, conductance,
/// stochastic, EIF) are also compared with [`reference_pass`], an independent implementation of
/// each model's documented equations, with the same tolerances: it checks the single step that
/// their fused kernels are compared with (one by one, in the `fused_*` tests below).
#[test]
fn every_model_forward_equals_step_loop_in_values_and_gradients() {
    let shapes = [[9, 3, 5], [1, 2, 7], [14, 4, 37]];
    let mut seed = 7;
    let mut referenced = BTreeSet::new();
    for (backend, dev) in devices() {
        for kernel in [Kernel::Auto, Kernel::Reference] {
            for (name, config) in catalogue() {
                for shape in shapes {
                    seed += 10;
                    let config = NeuronConfig {
                        kernel,
                        ..config.clone()
                    };
                    let mut rng = ChaCha8Rng::seed_from_u64(seed);
                    let layer = config.init(shape[2], &mut rng, &dev);
                    let what = format!("{name} {backend} {kernel:?} {shape:?}");
                    let multi = pass(&layer, false, shape, seed, &dev);
                    let single = pass(&layer, true, shape, seed, &dev);
                    assert_eq!(multi.spikes, single.spikes, "{what}: output");
                    assert_close(
                        &multi.membrane,
                        &single.membrane,
                        1e-5,
                        &format!("{what}: U"),
                    );
                    assert_close(
                        &multi.grad_input,
                        &single.grad_input,
                        1e-5,
                        &format!("{what}: dL/dX"),
                    );
                    assert_eq!(multi.grad_params.len(), single.grad_params.len());
                    for (i, (a, b)) in multi
                        .grad_params
                        .iter()
                        .zip(&single.grad_params)
                        .enumerate()
                    {
                        assert_close(a, b, 1e-4, &format!("{what}: parameter {i}"));
                    }
                    if config.learn_beta && config.kind() != NeuronKind::If {
                        assert!(
                            multi.grad_params.iter().any(|g| !g.is_empty()),
                            "{what}: no parameter got a gradient"
                        );
                    }
                    if shape[0] > 1 && layer.is_spiking() {
                        assert!(multi.spikes.iter().any(|&s| s != 0.0), "{what}: silent");
                    }
                    let Some(reference) = reference_pass(&layer, shape, seed, &dev) else {
                        continue;
                    };
                    referenced.insert(reference.model);
                    let what = format!("{what} vs the reference of the equations");
                    assert_eq!(multi.spikes, reference.spikes, "{what}: output");
                    assert_close(
                        &multi.membrane,
                        &reference.membrane,
                        1e-5,
                        &format!("{what}: U"),
                    );
                    assert_close(
                        &multi.grad_input,
                        &reference.grad_input,
                        1e-5,
                        &format!("{what}: dL/dX"),
                    );
                    let ids = param_ids(&layer);
                    assert_eq!(ids.len(), multi.grad_params.len());
                    assert_eq!(ids.len(), reference.grad_params.len(), "{what}: parameters");
                    for (i, (id, got)) in ids.iter().zip(&multi.grad_params).enumerate() {
                        let expected = reference
                            .grad_params
                            .get(id)
                            .unwrap_or_else(|| panic!("{what}: the reference lacks parameter {i}"));
                        assert_close(got, expected, 1e-4, &format!("{what}: parameter {i}"));
                    }
                }
            }
        }
    }
    assert_eq!(
        referenced,
        BTreeSet::from([
            "Adaptive",
            "Alpha",
            "Conductance",
            "Eif",
            "Recurrent",
            "Refractory",
            "Stochastic"
        ]),
        "every model without a fused kernel is checked against its reference"
    );
}

/// The ids of a layer's float parameters, in the order [`common::pass`] lists their gradients.
fn param_ids(layer: &NeuronLayer) -> Vec<ParamId> {
    struct Ids(Vec<ParamId>);
    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.id);
        }
    }
    let mut ids = Ids(Vec::new());
    layer.visit(&mut ids);
    ids.0
}

/// What [`reference_pass`] computes: the same quantities as [`common::Pass`], with the
/// parameter gradients keyed by the id of the layer's parameter (empty without gradient).
struct Reference {
    model: &'static str,
    spikes: Vec<f32>,
    membrane: Vec<f32>,
    grad_input: Vec<f32>,
    grad_params: HashMap<ParamId, Vec<f32>>,
}

type GradOf = Box<dyn Fn(&Gradients) -> Vec<f32>>;

/// Fresh leaves holding copies of a layer's parameters (same values, same `require_grad`),
/// so that the reference builds its own graph and reads its own gradients.
struct Leaves {
    dev: Device,
    grads: Vec<(ParamId, GradOf)>,
}

impl Leaves {
    fn leaf<const D: usize>(&mut self, param: &Param<Tensor<D>>) -> Tensor<D> {
        let value = param.val();
        let learn = value.is_require_grad();
        let leaf = Tensor::<D>::from_data(value.into_data(), &self.dev).set_require_grad(learn);
        let handle = leaf.clone();
        self.grads.push((
            param.id,
            Box::new(move |g: &Gradients| handle.grad(g).map(values).unwrap_or_default()),
        ));
        leaf
    }

    /// A `[1]` or `[N]` parameter as a row that broadcasts over `[B, N]`.
    fn row(&mut self, param: &Param<Tensor<1>>) -> Tensor<2> {
        self.leaf(param).unsqueeze::<2>()
    }

    /// A decay (`β`, `α`) clamped to `[0, 1]`, as the model docs say, as a row.
    fn decay(&mut self, param: &Param<Tensor<1>>) -> Tensor<2> {
        self.leaf(param).clamp(0.0, 1.0).unsqueeze::<2>()
    }
}

/// `β`, `θ` of a [`Lif`] as rows, and its reset and surrogate.
struct LifParts {
    beta: Tensor<2>,
    theta: Tensor<2>,
    reset: Reset,
    detach_reset: bool,
    surrogate: Surrogate,
}

impl LifParts {
    fn new(lif: &Lif, leaves: &mut Leaves) -> Self {
        Self {
            beta: leaves.decay(&lif.beta),
            theta: leaves.row(&lif.threshold),
            reset: lif.reset,
            detach_reset: lif.detach_reset,
            surrogate: lif.surrogate,
        }
    }

    /// `H(x)` forward, the surrogate derivative backward.
    fn spike(&self, x: Tensor<2>) -> Tensor<2> {
        self.surrogate.spike(x)
    }

    /// The reset signal `R[t] = H(U[t−1] − θ)`, detached when the layer detaches it.
    fn reset_signal(&self, previous: Tensor<2>) -> Tensor<2> {
        self.detached(self.spike(previous - self.theta.clone()))
    }

    fn detached(&self, r: Tensor<2>) -> Tensor<2> {
        if self.detach_reset { r.detach() } else { r }
    }

    /// The membrane update of `spikeburn_core::lif` with drive `I[t]` and reset signal `R[t]`:
    /// `β·U + I − θ·R` (subtract), `β·(1 − R)·U + I` (zero), `β·U + I` (none).
    fn update(&self, u: Tensor<2>, drive: Tensor<2>, r: Tensor<2>) -> Tensor<2> {
        let beta = self.beta.clone();
        match self.reset {
            Reset::Subtract => beta * u + drive - self.theta.clone() * r,
            Reset::Zero => beta * (r.neg() + 1.0) * u + drive,
            Reset::None => beta * u + drive,
        }
    }
}

/// An independent reference pass of the models without a fused kernel (`None` for the
/// others): each model's equations as documented in its module docs, written here step by
/// step over time with plain tensor operations on the layer's own parameter values (read from
/// the module into fresh leaves), the spike nonlinearity through the crate's public
/// [`Surrogate::spike`] (Heaviside forward, surrogate backward). The input, the loss
/// `Σ S·w1 + Σ U·w2` and its random weights are those of [`common::pass`].
fn reference_pass(
    layer: &NeuronLayer,
    shape: [usize; 3],
    seed: u64,
    dev: &Device,
) -> Option<Reference> {
    let [steps, batch, neurons] = shape;
    let input = uniform(shape, -0.5, 1.5, seed, dev).require_grad();
    let w1 = uniform(shape, -1.0, 1.0, seed + 1, dev);
    let w2 = uniform(shape, -1.0, 1.0, seed + 2, dev);
    let mut leaves = Leaves {
        dev: dev.clone(),
        grads: Vec::new(),
    };
    let x = |t: usize| input.clone().slice(s![t]).squeeze_dim::<2>(0);
    let zeros = || Tensor::<2>::zeros([batch, neurons], dev);
    let mut spikes = Vec::with_capacity(steps);
    let mut membranes = Vec::with_capacity(steps);
    let model = match &layer.model {
        // R[t] = H(U[t−1] − θ); c[t] = R·k + (1 − R)·max(c[t−1] − 1, 0);
        // U[t] = LIF update with the input gated by [c[t] = 0]; S[t] = H(U[t] − θ).
        // The counter is piecewise constant: counted here on the host.
        NeuronModel::Refractory(m) => {
            let lif = LifParts::new(&m.lif, &mut leaves);
            let mut u = zeros();
            let mut counter = vec![0usize; batch * neurons];
            for t in 0..steps {
                let over = values((u.clone() - lif.theta.clone()).detach());
                for (c, v) in counter.iter_mut().zip(over) {
                    *c = if v > 0.0 {
                        m.period
                    } else {
                        c.saturating_sub(1)
                    };
                }
                let open: Vec<f32> = counter
                    .iter()
                    .map(|&c| if c == 0 { 1.0 } else { 0.0 })
                    .collect();
                let open = Tensor::<2>::from_data(TensorData::new(open, [batch, neurons]), dev);
                let r = lif.reset_signal(u.clone());
                u = lif.update(u, x(t) * open, r);
                spikes.push(lif.spike(u.clone() - lif.theta.clone()));
                membranes.push(u.clone());
            }
            "Refractory"
        }
        // E[t] = α·E + X, I[t] = β·I − X, U' = τ_α·(E + I), τ_α = ln α / (ln β − ln α) + 1;
        // subtract: E −= R·θ, I −= R·(β·I[t−1] − X), U = U' + R·I[t−1]; zero: E, I, U ×(1 − R).
        NeuronModel::Alpha(m) => {
            let alpha = leaves.decay(&m.alpha);
            let lif = LifParts::new(&m.lif, &mut leaves);
            let tau = alpha.clone().log() / (lif.beta.clone().log() - alpha.clone().log()) + 1.0;
            let (mut e, mut i, mut u) = (zeros(), zeros(), zeros());
            for t in 0..steps {
                let r = lif.reset_signal(u.clone());
                let e_next = alpha.clone() * e + x(t);
                let i_next = lif.beta.clone() * i.clone() - x(t);
                let u_next = tau.clone() * (e_next.clone() + i_next.clone());
                (e, i, u) = match lif.reset {
                    Reset::Subtract => (
                        e_next - r.clone() * lif.theta.clone(),
                        i_next - r.clone() * (lif.beta.clone() * i.clone() - x(t)),
                        u_next + r * i,
                    ),
                    Reset::Zero => {
                        let keep = r.neg() + 1.0;
                        (e_next * keep.clone(), i_next * keep.clone(), u_next * keep)
                    }
                    Reset::None => (e_next, i_next, u_next),
                };
                spikes.push(lif.spike(u.clone() - lif.theta.clone()));
                membranes.push(u.clone());
            }
            "Alpha"
        }
        // U[t] = LIF update with drive X[t] + V(S[t−1]), V(S) = S·Wᵀ + b (all-to-all; burn
        // stores Wᵀ, `[in, out]`) or v ⊙ S (one-to-one), from S[−1] = 0.
        NeuronModel::Recurrent(m) => {
            let dense = m.dense.as_ref().map(|l| {
                let w = leaves.leaf(&l.weight);
                let b = l.bias.as_ref().map(|b| leaves.row(b));
                (w, b)
            });
            let diagonal = m.diagonal.as_ref().map(|v| leaves.row(v));
            let lif = LifParts::new(&m.lif, &mut leaves);
            let (mut u, mut s) = (zeros(), zeros());
            for t in 0..steps {
                let feedback = match (&dense, &diagonal) {
                    (Some((w, b)), _) => {
                        let f = s.clone().matmul(w.clone());
                        match b {
                            Some(b) => f + b.clone(),
                            None => f,
                        }
                    }
                    (None, Some(v)) => s.clone() * v.clone(),
                    (None, None) => panic!("a recurrent layer without recurrent weights"),
                };
                let r = lif.reset_signal(u.clone());
                u = lif.update(u, x(t) + feedback, r);
                s = lif.spike(u.clone() - lif.theta.clone());
                spikes.push(s.clone());
                membranes.push(u.clone());
            }
            "Recurrent"
        }
        // ϑ[t−1] = θ + γ·a[t−1]; R[t] = H(U[t−1] − ϑ[t−1]) (with its surrogate gradient);
        // a[t] = ρ·a + (1 − ρ)·R; U[t] = β·U + X − ϑ[t−1]·R (subtract), β·(1 − R)·U + X
        // (zero), β·U + X (none), R detached there when the layer detaches the reset;
        // S[t] = H(U[t] − θ − γ·a[t]).
        NeuronModel::Adaptive(m) => {
            let lif = LifParts::new(&m.lif, &mut leaves);
            let rho = leaves.row(&m.adapt_decay);
            let gamma = leaves.row(&m.adapt_strength);
            let (mut u, mut a) = (zeros(), zeros());
            for t in 0..steps {
                let previous = lif.theta.clone() + gamma.clone() * a.clone();
                let fired = lif.spike(u.clone() - previous.clone());
                a = rho.clone() * a + (rho.clone().neg() + 1.0) * fired.clone();
                let r = lif.detached(fired);
                let beta = lif.beta.clone();
                u = match lif.reset {
                    Reset::Subtract => beta * u + x(t) - previous * r,
                    Reset::Zero => beta * (r.neg() + 1.0) * u + x(t),
                    Reset::None => beta * u + x(t),
                };
                let now = lif.theta.clone() + gamma.clone() * a.clone();
                spikes.push(lif.spike(u.clone() - now));
                membranes.push(u.clone());
            }
            "Adaptive"
        }
        // g_e = α·g_e + max(X, 0), g_i = α·g_i + max(−X, 0);
        // U[t] = LIF update with drive (1 − β)·(g_e·(E_e − U[t−1]) + g_i·(E_i − U[t−1])).
        NeuronModel::Conductance(m) => {
            let alpha = leaves.decay(&m.alpha);
            let lif = LifParts::new(&m.lif, &mut leaves);
            let (mut g_e, mut g_i, mut u) = (zeros(), zeros(), zeros());
            for t in 0..steps {
                g_e = alpha.clone() * g_e + x(t).clamp_min(0.0);
                g_i = alpha.clone() * g_i + x(t).neg().clamp_min(0.0);
                let drive = (lif.beta.clone().neg() + 1.0)
                    * (g_e.clone() * (u.clone().neg() + m.reversal_exc)
                        + g_i.clone() * (u.clone().neg() + m.reversal_inh));
                let r = lif.reset_signal(u.clone());
                u = lif.update(u, drive, r);
                spikes.push(lif.spike(u.clone() - lif.theta.clone()));
                membranes.push(u.clone());
            }
            "Conductance"
        }
        // U[t] = LIF update with R[t] = S[t−1] (the sampled spike); p = sigmoid((U − θ)/τ_n);
        // S = [ξ < p] forward with ∂S/∂U = ∂p/∂U; ξ ~ U(0, 1) from ChaCha8 seeded with the
        // layer's seed, stream 0 (the first pass after `rewind`, as `pass` does), drawn in
        // row-major `[B, N]` order each step. The comparison ξ < p is made on the host.
        NeuronModel::Stochastic(m) => {
            let lif = LifParts::new(&m.lif, &mut leaves);
            let mut rng = ChaCha8Rng::seed_from_u64(m.seed);
            rng.set_stream(0);
            let (mut u, mut s) = (zeros(), zeros());
            for t in 0..steps {
                let r = lif.detached(s.clone());
                u = match lif.reset {
                    Reset::None => lif.beta.clone() * u + x(t),
                    _ => lif.update(u, x(t), r),
                };
                let p = sigmoid((u.clone() - lif.theta.clone()) / m.noise);
                let fired: Vec<f32> = values(p.clone().detach())
                    .into_iter()
                    .map(|p| if rng.random::<f32>() < p { 1.0 } else { 0.0 })
                    .collect();
                let fired = Tensor::<2>::from_data(TensorData::new(fired, [batch, neurons]), dev);
                s = fired + (p.clone() - p.detach());
                spikes.push(s.clone());
                membranes.push(u.clone());
            }
            "Stochastic"
        }
        // E(U) = Δ_T·exp((min(U, θ) − ϑ_rh)/Δ_T), F = β·U + (1 − β)·E(U[t−1]);
        // U[t] = F + X − θ·R (subtract), (1 − R)·F + X (zero), F + X (none). The cap min(U, θ)
        // as a mask computed on the host.
        NeuronModel::Eif(m) => {
            let lif = LifParts::new(&m.lif, &mut leaves);
            let mut u = zeros();
            for t in 0..steps {
                let r = lif.reset_signal(u.clone());
                let below: Vec<f32> = values((lif.theta.clone() - u.clone()).detach())
                    .into_iter()
                    .map(|d| if d > 0.0 { 1.0 } else { 0.0 })
                    .collect();
                let below = Tensor::<2>::from_data(TensorData::new(below, [batch, neurons]), dev);
                let capped = u.clone() * below.clone() + lif.theta.clone() * (below.neg() + 1.0);
                let drive = ((capped - m.rheobase) / m.sharpness).exp() * m.sharpness;
                let f = lif.beta.clone() * u + (lif.beta.clone().neg() + 1.0) * drive;
                u = match lif.reset {
                    Reset::Subtract => f + x(t) - lif.theta.clone() * r,
                    Reset::Zero => f * (r.neg() + 1.0) + x(t),
                    Reset::None => f + x(t),
                };
                spikes.push(lif.spike(u.clone() - lif.theta.clone()));
                membranes.push(u.clone());
            }
            "Eif"
        }
        _ => return None,
    };
    let mut spikes = Tensor::stack(spikes, 0);
    if let Some(amplitude) = &layer.amplitude {
        spikes = spikes * leaves.leaf(amplitude).unsqueeze::<3>();
    }
    let membrane = Tensor::stack(membranes, 0);
    let loss = (spikes.clone() * w1).sum() + (membrane.clone() * w2).sum();
    let grads = loss.backward();
    Some(Reference {
        model,
        spikes: values(spikes),
        membrane: values(membrane),
        grad_input: values(input.grad(&grads).expect("input gradient")),
        grad_params: leaves
            .grads
            .iter()
            .map(|(id, grad)| (*id, grad(&grads)))
            .collect(),
    })
}

#[test]
fn models_reduce_to_their_definitions() {
    let dev = Device::flex();
    let x = uniform([6, 2, 4], 0.0, 1.0, 3, &dev);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    // The leaky integrator is U[t] = β·U[t−1] + X[t].
    let li = NeuronConfig {
        beta: 0.5,
        ..NeuronConfig::new(NeuronKind::Integrator)
    }
    .init(4, &mut rng, &dev);
    let u = values(li.forward(x.clone(), true).spikes);
    let xs = values(x.clone());
    for j in 0..8 {
        let mut acc = 0.0;
        for t in 0..6 {
            acc = 0.5 * acc + xs[t * 8 + j];
            assert!((u[t * 8 + j] - acc).abs() < 1e-6);
        }
    }
    // IF never leaks: with input 0.3 and θ = 1 it fires at the 4th step (1.2 > 1).
    let iff = NeuronConfig::new(NeuronKind::If).init(1, &mut rng, &dev);
    let c = Tensor::<3>::full([5, 1, 1], 0.3, &dev);
    assert_eq!(
        values(iff.forward(c, false).spikes),
        [0.0, 0.0, 0.0, 1.0, 0.0]
    );
    // Graded spikes start with amplitude 1: the same spikes as plain LIF.
    let graded = NeuronConfig {
        graded_spikes: true,
        ..NeuronConfig::default()
    }
    .init(4, &mut rng, &dev);
    let plain = NeuronConfig::default().init(4, &mut rng, &dev);
    assert_eq!(
        values(graded.forward(x.clone(), false).spikes),
        values(plain.forward(x, false).spikes)
    );
}

#[test]
fn stochastic_neurons_are_seeded() {
    let dev = Device::flex();
    let x = uniform([20, 3, 8], 0.0, 1.0, 5, &dev);
    let build = |seed| {
        NeuronConfig::from(StochasticParams {
            noise: 0.3,
            noise_seed: seed,
        })
        .init(8, &mut ChaCha8Rng::seed_from_u64(0), &dev)
    };
    let a = build(1);
    let first = values(a.forward(x.clone(), false).spikes);
    let second = values(a.forward(x.clone(), false).spikes);
    assert_ne!(first, second, "each pass draws fresh noise");
    a.rewind();
    assert_eq!(
        first,
        values(a.forward(x.clone(), false).spikes),
        "rewind replays"
    );
    assert_eq!(
        first,
        values(build(1).forward(x.clone(), false).spikes),
        "same seed"
    );
    assert_ne!(
        first,
        values(build(2).forward(x, false).spikes),
        "other seed"
    );
}

/// The period of the discrete LIF with zero reset under constant input `I`: after a spike the
/// membrane restarts from `U = I` (the reset zeroes the old potential, the input is
/// integrated in the same step), so it takes `n* = min{n : I·(1 − βⁿ)/(1 − β) > θ}` steps to
/// fire again; a refractory period of `k` steps drops the first `k` inputs. The rate is
/// `1 / (n* + k)`.
fn analytic_rate(current: f64, beta: f64, threshold: f64, refractory: usize) -> f64 {
    let mut u = 0.0;
    for n in 1..100_000 {
        u = beta * u + current;
        if u > threshold {
            return 1.0 / (n + refractory) as f64;
        }
    }
    0.0
}

#[test]
fn lif_firing_rate_matches_the_analytic_f_i_curve() {
    let dev = Device::flex();
    let (beta, threshold, steps) = (0.9f32, 1.0f32, 2000usize);
    let currents: Vec<f32> = (1..=40).map(|i| 0.02 * i as f32 + 0.003).collect();
    for refractory in [0usize, 3] {
        let config = NeuronConfig {
            beta,
            threshold,
            reset: Reset::Zero,
            ..NeuronConfig::from(LifParams { refractory })
        };
        let layer = config.init(currents.len(), &mut ChaCha8Rng::seed_from_u64(0), &dev);
        let input =
            Tensor::<2>::from_data(TensorData::new(currents.clone(), [1, currents.len()]), &dev);
        let spikes = values(layer.forward_constant(input, steps, false).spikes);
        for (j, &i) in currents.iter().enumerate() {
            let count: f32 = (0..steps).map(|t| spikes[t * currents.len() + j]).sum();
            let simulated = f64::from(count) / steps as f64;
            let expected = analytic_rate(
                f64::from(i),
                f64::from(beta),
                f64::from(threshold),
                refractory,
            );
            let closed = spikeburn_core::refractory::fi_rate(
                f64::from(i),
                f64::from(beta),
                f64::from(threshold),
                refractory,
            );
            // One period of slack at the start and end of the window.
            let tol = 2.0 / steps as f64;
            assert!(
                (simulated - expected).abs() <= tol,
                "I = {i}, k = {refractory}: simulated {simulated} vs analytic {expected}"
            );
            assert!(
                (closed - expected).abs() < 1e-12,
                "I = {i}: closed form {closed} vs {expected}"
            );
        }
    }
}
