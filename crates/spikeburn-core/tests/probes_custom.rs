//! Gradient probes equal the gradients autodiff gives the weights; the smooth reference spike
//! is a sigmoid in the forward pass; a user-registered neuron model is selected by
//! configuration, equals the built-in model it reimplements (values and gradients), and
//! unknown names are rejected.

use burn::prelude::*;
use burn::tensor::activation::softmax;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spikeburn_core::custom::{NeuronFunction, NeuronParams, register_neuron};
use spikeburn_core::network::Layer;
use spikeburn_core::{NetworkConfig, NeuronConfig, NeuronKind, Surrogate, loss};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32")
}

fn uniform<const D: usize>(shape: [usize; D], seed: u64, dev: &Device) -> Tensor<D> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(0.0..1.0)).collect();
    Tensor::from_data(TensorData::new(v, shape), dev)
}

fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let scale = 1.0f32.max(x.abs()).max(y.abs());
        assert!((x - y).abs() <= tol * scale, "{what}[{i}]: {x} vs {y}");
    }
}

fn tiny(neuron: NeuronConfig) -> NetworkConfig {
    NetworkConfig {
        input: vec![12],
        hidden: vec![7],
        outputs: 3,
        num_steps: 6,
        neuron: NeuronConfig {
            beta: 0.8,
            threshold: 0.3,
            ..neuron
        },
        ..NetworkConfig::default()
    }
}

#[test]
fn probe_gradients_are_the_input_current_gradients() {
    let dev = Device::flex().autodiff();
    let config = tiny(NeuronConfig::default());
    config.validate().expect("valid");
    let net = config.init(3, &dev);
    let x = uniform([5, 12], 9, &dev);
    let targets = Tensor::<1, Int>::from_data(TensorData::from([0i64, 2, 1, 1, 0]), &dev);

    let plain = net.forward(x.clone());
    let (out, probes) = net.forward_probed(x.clone());
    assert_eq!(probes.len(), 2);
    assert_eq!(probes[0].dims(), [6, 5, 7]);
    assert_eq!(probes[1].dims(), [6, 5, 3]);
    assert_eq!(values(plain.membrane), values(out.membrane.clone()));
    assert_eq!(values(plain.spikes), values(out.spikes.clone()));

    let l = loss::ce_membrane(out.membrane.clone(), targets.clone(), None);
    let grads = l.backward();
    let g1 = probes[0].grad(&grads).expect("probe 1 gradient");
    let g2 = probes[1].grad(&grads).expect("probe 2 gradient");
    let linears = net.linears();
    // I1[t] = x·W1 + b1 for every t, so dL/dW1 = xᵀ·Σ_t dL/dI1[t].
    let w1 = linears[0].weight.val().grad(&grads).expect("W1 gradient");
    let x_inner = x.inner();
    let direct = x_inner
        .clone()
        .transpose()
        .matmul(g1.clone().sum_dim(0).squeeze_dim::<2>(0));
    assert_close(&values(w1), &values(direct), 1e-4, "dL/dW1");
    // I2[t] = S1[t]·W2 + b2, so dL/dW2 = Σ_t S1[t]ᵀ·dL/dI2[t].
    let w2 = linears[1].weight.val().grad(&grads).expect("W2 gradient");
    let s1 = out.layer_spikes[0].clone().inner();
    let mut direct = Tensor::<2>::zeros([7, 3], &s1.device());
    for t in 0..6 {
        let s = s1.clone().slice(s![t]).squeeze_dim::<2>(0);
        let g = g2.clone().slice(s![t]).squeeze_dim::<2>(0);
        direct = direct + s.transpose().matmul(g);
    }
    assert_close(&values(w2), &values(direct), 1e-4, "dL/dW2");
    // At the last step the output membrane only enters its own cross-entropy term (the reset
    // is detached): dL/dI2[T−1] = dL/dU[T−1] = (softmax(U[T−1]) − onehot(y)) / B.
    let u_last = out.membrane.inner().slice(s![5]).squeeze_dim::<2>(0);
    let onehot = targets.inner().one_hot::<2>(3).float();
    let expected = (softmax(u_last, 1) - onehot) / 5.0;
    let last = g2.slice(s![5]).squeeze_dim::<2>(0);
    assert_close(&values(last), &values(expected), 1e-5, "dL/dI2[T-1]");
}

#[test]
fn the_smooth_reference_is_a_sigmoid_in_the_forward_pass() {
    let dev = Device::flex().autodiff();
    let x = Tensor::<1>::from_data(TensorData::from([-0.2f32, 0.0, 0.1]), &dev).require_grad();
    let s = Surrogate::smooth_sigmoid(10.0).spike(x.clone());
    let expect = [-2.0f32, 0.0, 1.0].map(|z| 1.0 / (1.0 + (-z).exp()));
    assert_close(&values(s.clone()), &expect, 1e-6, "sigmoid(10x)");
    let g = values(s.sum().backward().pipe(|g| x.grad(&g)).expect("grad"));
    let exact = expect.map(|s| 10.0 * s * (1.0 - s));
    assert_close(&g, &exact, 1e-5, "its derivative");
    // The fused kernels are bypassed: a LIF with it fires fractionally.
    let lif = spikeburn_core::LifConfig::new()
        .with_surrogate(Surrogate::smooth_sigmoid(10.0))
        .init(2, &Device::flex());
    let out = lif.forward(Tensor::<3>::full([3, 1, 2], 0.5, &Device::flex()));
    assert!(values(out).iter().any(|&v| v > 0.0 && v < 1.0));
}

trait Pipe: Sized {
    fn pipe<R>(self, f: impl FnOnce(Self) -> R) -> R {
        f(self)
    }
}
impl<T> Pipe for T {}

/// The LIF of snnTorch (subtract reset, detached), written as a user model.
struct LifClone;

impl NeuronFunction for LifClone {
    fn state_size(&self) -> usize {
        1
    }

    fn step(
        &self,
        input: Tensor<2>,
        state: &[Tensor<2>],
        p: &NeuronParams,
    ) -> (Tensor<2>, Vec<Tensor<2>>) {
        let reset = p.reset(state[0].clone());
        let u = state[0].clone() * p.beta.clone() + input - reset * p.threshold.clone();
        (p.spike(u.clone()), vec![u])
    }
}

#[test]
fn a_custom_neuron_equals_the_built_in_model_it_reimplements() {
    register_neuron("test_lif_clone", LifClone);
    let dev = Device::flex().autodiff();
    let builtin = tiny(NeuronConfig {
        learn_beta: true,
        ..NeuronConfig::default()
    });
    let custom = tiny(NeuronConfig {
        learn_beta: true,
        ..NeuronConfig::custom("test_lif_clone")
    });
    custom
        .validate()
        .expect("a registered custom neuron validates");
    assert!(custom.summary().contains("custom"));
    let x = uniform([4, 12], 5, &dev);
    let run = |config: &NetworkConfig| {
        let net = config.init(11, &dev);
        let out = net.forward(x.clone());
        let l = (out.membrane.clone() * 0.3).sum() + out.spikes.clone().sum();
        let grads = l.backward();
        let mut g = Vec::new();
        for lin in net.linears() {
            g.push(values(lin.weight.val().grad(&grads).expect("weight grad")));
        }
        for layer in &net.layers {
            if let Layer::Neuron(n) = layer {
                let lif = match &n.model {
                    spikeburn_core::NeuronModel::Lif(l) => l,
                    spikeburn_core::NeuronModel::Custom(c) => &c.lif,
                    _ => unreachable!(),
                };
                g.push(values(lif.beta.val().grad(&grads).expect("beta grad")));
            }
        }
        (values(out.spikes), values(out.membrane), g)
    };
    let (s1, m1, g1) = run(&builtin);
    let (s2, m2, g2) = run(&custom);
    assert_eq!(s1, s2, "spikes");
    assert_close(&m1, &m2, 1e-5, "membrane");
    for (i, (a, b)) in g1.iter().zip(&g2).enumerate() {
        assert_close(a, b, 1e-4, &format!("gradient {i}"));
    }
    // The layer's multi-step pass is the loop of its step.
    let layer =
        NeuronConfig::custom("test_lif_clone").init(3, &mut ChaCha8Rng::seed_from_u64(0), &dev);
    let input = uniform([5, 2, 3], 1, &dev);
    let a = layer.forward(input.clone(), true);
    let b = layer.forward_stepwise(input, true);
    assert_eq!(values(a.spikes), values(b.spikes));
    assert_eq!(
        values(a.membrane.expect("membrane")),
        values(b.membrane.expect("membrane"))
    );
}

#[test]
fn custom_neuron_configs_parse_and_unknown_names_are_rejected() {
    register_neuron("test_named", LifClone);
    let parsed: NeuronConfig =
        serde_json::from_str(r#"{"kind": "custom", "name": "test_named", "beta": 0.7}"#)
            .expect("json");
    assert_eq!(parsed.kind(), NeuronKind::Custom);
    parsed.validate().expect("registered");
    let unknown: NeuronConfig =
        serde_json::from_str(r#"{"kind": "custom", "name": "nobody"}"#).expect("json");
    let e = unknown.validate().expect_err("unknown").to_string();
    assert!(
        e.contains("name") && e.contains("nobody") && e.contains("register_neuron"),
        "{e}"
    );
    let nameless = NeuronConfig::new(NeuronKind::Custom);
    assert!(
        nameless
            .validate()
            .expect_err("no name")
            .to_string()
            .contains("name")
    );
    let misplaced =
        serde_json::from_str::<NeuronConfig>(r#"{"kind": "lif", "name": "test_named"}"#)
            .expect_err("a name on lif")
            .to_string();
    assert!(
        misplaced.starts_with("name: not a parameter of the lif neuron (only of custom)"),
        "{misplaced}"
    );
    // Network validation names the layer.
    let net = tiny(unknown);
    let e = net
        .validate()
        .expect_err("unknown in a network")
        .to_string();
    assert!(e.contains("neuron.name"), "{e}");
}
