//! The delay layer inside a configured network: its output computed by hand, the constant
//! (static-input) path equal to the sequence path, and bad configurations refused by field.

use burn::prelude::*;
use spikeburn_core::layers::DelayConfig;
use spikeburn_core::{
    LayerConfig, ModelInput, NetworkConfig, NeuronConfig, NeuronKind, SpikingModel,
};

fn values(x: Tensor<3>) -> Vec<f32> {
    x.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32")
}

/// delay → leaky integrator with β = 1 (a running sum): the read-out's membrane is the
/// cumulative sum of each input shifted by its delay.
fn delay_then_sum(delays: Vec<f32>, steps: usize) -> NetworkConfig {
    let mut sum = NeuronConfig::new(NeuronKind::Integrator);
    sum.beta = 1.0;
    NetworkConfig {
        input: vec![3],
        num_steps: steps,
        layers: vec![
            LayerConfig::Delay(DelayConfig {
                max_delay: 2,
                learnable: false,
                delays: Some(delays),
            }),
            LayerConfig::Neuron { neuron: Some(sum) },
        ],
        ..NetworkConfig::default()
    }
}

#[test]
fn a_delayed_network_sums_the_shifted_inputs_by_hand() {
    let device = Device::flex();
    let config = delay_then_sum(vec![0.0, 1.0, 2.0], 4);
    config.validate().expect("valid");
    let net = config.init(0, &device);
    // One sample: input i is i + 1 at step 0 only.
    let x = Tensor::<3>::from_data(
        TensorData::new(
            vec![
                1.0f32, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
            ],
            [4, 1, 3],
        ),
        &device,
    );
    let out = SpikingModel::forward(&net, ModelInput::Sequence(x));
    // Input 0 arrives at step 0, input 1 at step 1, input 2 at step 2, then they stay summed.
    assert_eq!(
        values(out.membrane),
        [1.0, 0.0, 0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
    );
}

#[test]
fn a_static_input_is_delayed_like_its_repeated_sequence() {
    let device = Device::flex();
    let net = delay_then_sum(vec![0.5, 1.0, 2.0], 5).init(0, &device);
    let x = Tensor::<2>::from_data(
        TensorData::new(vec![0.2f32, 0.7, 1.0, 0.4, 0.1, 0.9], [2, 3]),
        &device,
    );
    let direct = SpikingModel::forward(&net, ModelInput::Static(x.clone()));
    let sequence = SpikingModel::forward(
        &net,
        ModelInput::Sequence(ModelInput::Static(x).into_sequence(5)),
    );
    assert_eq!(values(direct.membrane.clone()), values(sequence.membrane));
    // By hand for sample 0, input 2 (delay 2, value 1.0): 0, 0, 1, 2, 3.
    let m = values(direct.membrane);
    let input2: Vec<f32> = (0..5).map(|t| m[t * 6 + 2]).collect();
    assert_eq!(input2, [0.0, 0.0, 1.0, 2.0, 3.0]);
}

#[test]
fn bad_delay_layers_are_refused_naming_the_field() {
    let wrong_count = delay_then_sum(vec![0.0, 1.0], 4);
    let e = wrong_count
        .validate()
        .expect_err("two delays for three inputs");
    assert!(e.field.ends_with("delay.delays"), "{e}");
    let too_long = delay_then_sum(vec![0.0, 1.0, 3.0], 4);
    let e = too_long.validate().expect_err("delay 3 > max 2");
    assert!(e.field.ends_with("delay.delays"), "{e}");
    let mut on_image = delay_then_sum(vec![0.0, 1.0, 2.0], 4);
    on_image.input = vec![1, 1, 3];
    let e = on_image.validate().expect_err("image input");
    assert!(e.to_string().contains("flat features"), "{e}");
    let parsed: NetworkConfig = toml::from_str(
        "input = [3]\nlayers = [{ type = \"delay\", max_delay = 4 }, { type = \"neuron\" }]",
    )
    .expect("TOML");
    parsed.validate().expect("valid");
    assert!(matches!(&parsed.layers[0], LayerConfig::Delay(d) if d.learnable && d.max_delay == 4));
}

/// delayed_linear → leaky integrator with β = 1, from a configuration file.
fn delayed_linear_then_sum(learnable: bool) -> NetworkConfig {
    let text = format!(
        "input = [3]\nnum_steps = 5\nlayers = [{{ type = \"delayed_linear\", size = 2, \
         max_delay = 3, learnable = {learnable} }}, \
         {{ type = \"neuron\", neuron = {{ kind = \"integrator\", beta = 1.0 }} }}]"
    );
    toml::from_str(&text).expect("TOML")
}

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32")
}

#[test]
fn a_per_synapse_delayed_network_computes_the_definition_by_hand() {
    let device = Device::flex();
    let config = delayed_linear_then_sum(false);
    config.validate().expect("valid");
    assert_eq!(config.summary(), "3-2d3-integrator");
    let net = config.init(7, &device);
    let spikeburn_core::network::Layer::DelayedLinear(layer) = &net.layers[0] else {
        panic!("the first layer is {:?}", net.layers[0]);
    };
    // Fixed delays: whole steps in [0, 3], drawn from the seed, not trained.
    let (w, d) = (floats(layer.weight.val()), floats(layer.delay.val()));
    assert!(
        d.iter()
            .all(|v| v.fract() == 0.0 && (0.0..=3.0).contains(v)),
        "{d:?}"
    );
    assert!(!layer.delay.is_require_grad());
    let b = floats(layer.bias.as_ref().expect("a bias").val());
    // Two samples of a sequence [T = 5, B = 2, 3].
    let x: Vec<f32> = (0..30).map(|i| ((i * 7 % 11) as f32) / 10.0).collect();
    let input = Tensor::<3>::from_data(TensorData::new(x.clone(), [5, 2, 3]), &device);
    let out = SpikingModel::forward(&net, ModelInput::Sequence(input));
    // By definition: y_j[t] = b_j + Σ_i W_ij x_i[t − d_ij], then the running sum over t.
    let mut sum = [[0.0f32; 2]; 2];
    let mut expected = Vec::new();
    for t in 0..5 {
        for (s, row) in sum.iter_mut().enumerate() {
            for (j, acc) in row.iter_mut().enumerate() {
                let mut y = b[j];
                for i in 0..3 {
                    let delay = d[i * 2 + j] as usize;
                    if t >= delay {
                        y += w[i * 2 + j] * x[((t - delay) * 2 + s) * 3 + i];
                    }
                }
                *acc += y;
                expected.push(*acc);
            }
        }
    }
    let got = values(out.membrane);
    for (e, (a, b)) in got.iter().zip(&expected).enumerate() {
        assert!(
            (a - b).abs() < 1e-5,
            "membrane[{e}]: network {a} vs by hand {b}"
        );
    }
}

#[test]
fn learnable_per_synapse_delays_get_gradients_and_bad_ones_are_refused() {
    let device = Device::flex().autodiff();
    let net = delayed_linear_then_sum(true).init(3, &device);
    let x = Tensor::<2>::from_data(
        TensorData::new(vec![0.2f32, 0.7, 1.0, 0.4, 0.1, 0.9], [2, 3]),
        &device,
    );
    // A static input becomes a sequence before the delays (as for the per-feature layer).
    let out = SpikingModel::forward(&net, ModelInput::Static(x));
    let grads = out.membrane.sum().backward();
    let spikeburn_core::network::Layer::DelayedLinear(layer) = &net.layers[0] else {
        panic!("the first layer is {:?}", net.layers[0]);
    };
    let g = floats(layer.delay.val().grad(&grads).expect("learnable delays"));
    assert_eq!(g.len(), 6);
    assert!(g.iter().any(|v| *v != 0.0), "{g:?}");
    let parsed: Result<NetworkConfig, _> = toml::from_str(
        "input = [3]\nlayers = [{ type = \"delayed_linear\", size = 2, max_delay = 20000 }, \
         { type = \"neuron\" }]",
    );
    let e = parsed
        .expect("TOML")
        .validate()
        .expect_err("max_delay too large");
    assert!(e.field.ends_with("max_delay"), "{e}");
}
