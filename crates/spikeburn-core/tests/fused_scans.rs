//! Every fused CPU scan equals the loop of its model's single-step update, in values and every
//! gradient, for every reset, detach flag and several surrogates; the one-to-one recurrence
//! also against a sequence computed by hand.

mod common;

use burn::prelude::*;
use common::{assert_close, devices, pass, values};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use spikeburn_core::NeuronConfig;
use spikeburn_core::adaptive::AdaptiveParams;
use spikeburn_core::alpha::AlphaParams;
use spikeburn_core::conductance::ConductanceParams;
use spikeburn_core::lif::{Kernel, LifParams, Reset};
use spikeburn_core::recurrent::{RecurrentKind, RecurrentParams};
use spikeburn_core::stochastic::StochasticParams;
use spikeburn_core::surrogate::Surrogate;

/// A model's fused multi-step pass (`Kernel::Auto` on the CPU backends) equals the loop of its
/// single-step update (`Kernel::Reference`, burn's autodiff) in spikes, membrane and the
/// gradients of the input and of each of its `params` learnable parameters, for every reset,
/// detach flag, a spread of surrogates, and shared or per-neuron parameters. `config` sets the
/// model's own fields on a base with learnable β and θ.
fn fused_equals_step_loop(params: usize, config: impl Fn(NeuronConfig) -> NeuronConfig) {
    let surrogates = [
        Surrogate::atan(2.0),
        Surrogate::fast_sigmoid(5.0),
        Surrogate::triangular(1.0),
        Surrogate::StraightThrough,
    ];
    // Small, and several blocks of rows with a split weight gradient.
    let shape = |k: usize| if k < 2 { [11, 3, 6] } else { [7, 20, 37] };
    compare(params, &config, &surrogates, shape);
}

/// The LIF scan (plain, refractory, one-to-one recurrent) over a sequence long enough that the
/// forward pass writes its membrane trace over the input for the backward pass: 70 steps of
/// blocks of 8 rows × 512 neurons are 1.1 MiB per block, above the 1 MiB up to which the
/// backward pass recomputes each block's trace from the input instead (the shapes of the other
/// tests). Two blocks (16 rows), so that the second reads the trace at its own offset. Both
/// ways of keeping the trace equal the step loop.
#[test]
fn long_sequences_keep_the_trace_in_place_and_equal_the_step_loop() {
    let long = |_: usize| [70, 16, 512];
    let surrogates = [Surrogate::atan(2.0), Surrogate::fast_sigmoid(5.0)];
    compare(2, &|c| c, &surrogates, long);
    let refractory = |c| NeuronConfig {
        model: LifParams { refractory: 2 }.into(),
        ..c
    };
    compare(2, &refractory, &surrogates[..1], long);
    let one_to_one = |c| NeuronConfig {
        model: RecurrentParams {
            recurrent: RecurrentKind::OneToOne,
        }
        .into(),
        ..c
    };
    compare(3, &one_to_one, &surrogates[..1], long);
}

/// [`fused_equals_step_loop`] for the given surrogates, the `k`-th at `shape(k)`.
fn compare(
    params: usize,
    config: &dyn Fn(NeuronConfig) -> NeuronConfig,
    surrogates: &[Surrogate],
    shape: impl Fn(usize) -> [usize; 3],
) {
    let mut seed = 9_000;
    for (backend, dev) in devices() {
        for reset in [Reset::Subtract, Reset::Zero, Reset::None] {
            for detach_reset in [true, false] {
                for (k, surrogate) in surrogates.iter().enumerate() {
                    seed += 1;
                    let shape = shape(k);
                    let layers = [Kernel::Auto, Kernel::Reference].map(|kernel| {
                        let mut rng = ChaCha8Rng::seed_from_u64(seed);
                        config(NeuronConfig {
                            beta: 0.8,
                            threshold: 0.7,
                            reset,
                            detach_reset,
                            surrogate: *surrogate,
                            per_neuron: k % 2 == 1,
                            learn_beta: true,
                            learn_threshold: true,
                            kernel,
                            ..NeuronConfig::default()
                        })
                        .init(shape[2], &mut rng, &dev)
                    });
                    let fused = pass(&layers[0], false, shape, seed, &dev);
                    let reference = pass(&layers[1], false, shape, seed, &dev);
                    let what = format!("{backend} {reset:?} detach={detach_reset} {surrogate:?}");
                    assert_eq!(fused.spikes, reference.spikes, "{what}: spikes");
                    assert!(fused.spikes.contains(&1.0), "{what}: silent");
                    assert_close(&fused.membrane, &reference.membrane, 1e-5, &what);
                    assert_close(&fused.grad_input, &reference.grad_input, 1e-4, &what);
                    assert_eq!(fused.grad_params.len(), params, "{what}: parameters");
                    let pairs = fused.grad_params.iter().zip(&reference.grad_params);
                    for (i, (a, b)) in pairs.enumerate() {
                        assert_close(a, b, 1e-4, &format!("{what}: parameter {i}"));
                        assert!(
                            a.iter().any(|g| *g != 0.0),
                            "{what}: parameter {i} has no gradient"
                        );
                    }
                }
            }
        }
    }
}

/// The fused one-to-one recurrent scan: gradients of β, θ and the feedback weights.
#[test]
fn fused_one_to_one_recurrence_equals_the_step_loop_for_every_setting() {
    fused_equals_step_loop(3, |c| NeuronConfig {
        model: RecurrentParams {
            recurrent: RecurrentKind::OneToOne,
        }
        .into(),
        ..c
    });
}

/// The fused scan with a refractory period (2 and 3 steps): gradients of β and θ; the gate
/// zeroes the input's gradient where it closed the input.
#[test]
fn fused_refractory_lif_equals_the_step_loop_for_every_setting() {
    for period in [2, 3] {
        fused_equals_step_loop(2, |c| NeuronConfig {
            model: LifParams { refractory: period }.into(),
            ..c
        });
    }
}

/// The fused alpha scan: gradients of α (learnable), β and θ, α > β as the model expects.
#[test]
fn fused_alpha_equals_the_step_loop_for_every_setting() {
    fused_equals_step_loop(3, |c| NeuronConfig {
        model: AlphaParams {
            alpha: 0.9,
            learn_alpha: true,
        }
        .into(),
        ..c
    });
}

/// The fused conductance-based scan: gradients of the conductance decay α (learnable), β and θ.
#[test]
fn fused_conductance_lif_equals_the_step_loop_for_every_setting() {
    fused_equals_step_loop(3, |c| NeuronConfig {
        model: ConductanceParams {
            alpha: 0.8,
            learn_alpha: true,
            ..Default::default()
        }
        .into(),
        ..c
    });
}

/// The fused stochastic scan on the same noise as the step loop: the same spikes, and the
/// gradients of β and θ through the firing probability.
#[test]
fn fused_stochastic_lif_equals_the_step_loop_for_every_setting() {
    fused_equals_step_loop(2, |c| NeuronConfig {
        model: StochasticParams {
            noise: 0.3,
            noise_seed: 0,
        }
        .into(),
        ..c
    });
}

/// The fused all-to-all recurrent scan: gradients of β, θ, the recurrent weights and bias.
#[test]
fn fused_all_to_all_recurrence_equals_the_step_loop_for_every_setting() {
    fused_equals_step_loop(4, |c| NeuronConfig {
        model: RecurrentParams {
            recurrent: RecurrentKind::AllToAll,
        }
        .into(),
        ..c
    });
}

/// The fused adaptive scan: gradients of β, θ, and the learnable adaptation decay ρ and
/// strength γ.
#[test]
fn fused_adaptive_lif_equals_the_step_loop_for_every_setting() {
    fused_equals_step_loop(4, |c| NeuronConfig {
        model: AdaptiveParams {
            adapt_decay: 0.85,
            adapt_strength: 0.6,
            learn_adapt: true,
        }
        .into(),
        ..c
    });
}

/// The fused one-to-one scan against a sequence worked out by hand: β = 0.5, θ = 1, v = 0.3,
/// subtract reset, X = 1.2, 0, 0.9, 0. U[0] = 1.2 (spikes); U[1] = 0.6 + 0.3 − 1 = −0.1;
/// U[2] = −0.05 + 0.9 = 0.85; U[3] = 0.425.
#[test]
fn fused_one_to_one_recurrence_matches_a_hand_computed_sequence() {
    use spikeburn_core::fused::{ScanSettings, recurrent_lif_scan};
    let dev = Device::flex();
    let x = Tensor::<1>::from_floats([1.2, 0.0, 0.9, 0.0], &dev).reshape([4, 1, 1]);
    let scalar = |v: f32| Tensor::<1>::from_floats([v], &dev);
    let settings = |output_membrane| ScanSettings {
        reset: Reset::Subtract,
        detach_reset: true,
        surrogate: Surrogate::StraightThrough,
        output_membrane,
        constant_steps: 0,
        refractory: 0,
    };
    let run = |membrane| {
        values(recurrent_lif_scan(
            x.clone(),
            scalar(0.5),
            scalar(1.0),
            scalar(0.3),
            settings(membrane),
        ))
    };
    assert_close(&run(true), &[1.2, -0.1, 0.85, 0.425], 1e-6, "U");
    assert_eq!(run(false), [1.0, 0.0, 0.0, 0.0], "S");
}
