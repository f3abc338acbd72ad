//! Time-major input to configured networks: a sequence equals the encoder's sequence.

use burn::prelude::*;
use spikeburn_core::{Encoder, ModelInput, NetworkConfig, SpikingModel};

fn close(a: &Tensor<3>, b: &Tensor<3>, tol: f32) -> bool {
    let a = a.clone().into_data().try_to_vec::<f32>().expect("f32");
    let b = b.clone().into_data().try_to_vec::<f32>().expect("f32");
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= tol)
}

/// Static images under direct encoding are the same as the image repeated at every step,
/// given as a sequence (the constant fast path against the general one).
#[test]
fn a_repeated_sequence_equals_direct_encoding() {
    let device = Device::flex();
    let config = NetworkConfig {
        input: vec![1, 12, 12],
        hidden: vec![40],
        outputs: 5,
        num_steps: 6,
        ..NetworkConfig::default()
    };
    config.validate().expect("valid");
    let net = config.init(3, &device);
    let x = Tensor::<2>::random(
        [4, 144],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        &device,
    );
    let direct = net.forward(x.clone());
    let seq = ModelInput::Static(x).into_sequence(6);
    let sequence = SpikingModel::forward(&net, ModelInput::Sequence(seq));
    assert_eq!(sequence.spikes.dims(), [6, 4, 5]);
    assert!(close(&direct.membrane, &sequence.membrane, 1e-4));
    assert!(close(&direct.spikes, &sequence.spikes, 0.0));
}

/// A sequence skips the encoder: with rate encoding configured, a given sequence is run as
/// it is (and its length, not `num_steps`, sets `T`).
#[test]
fn a_sequence_bypasses_the_encoder_and_sets_the_length() {
    let device = Device::flex();
    let config = NetworkConfig {
        input: vec![10],
        hidden: vec![],
        outputs: 3,
        num_steps: 4,
        encoder: Encoder::Rate { gain: 1.0 },
        ..NetworkConfig::default()
    };
    config.validate().expect("valid");
    let net = config.init(5, &device);
    let seq = Tensor::<3>::zeros([9, 2, 10], &device);
    let out = net.forward(seq);
    assert_eq!(out.spikes.dims(), [9, 2, 3]);
    assert_eq!(
        net.stream_positions()[0],
        0,
        "the rate encoder drew nothing"
    );
}

/// Image-shaped input goes straight in: frames `[T, B, C, H, W]` and images `[B, C, H, W]` give
/// what their row-major flattening `[T, B, C·H·W]` / `[B, C·H·W]` (built from the same values
/// with the flat shape) gives a conv network.
#[test]
fn image_shaped_frames_and_images_equal_their_flattened_values() {
    use spikeburn_core::LayerConfig;
    let device = Device::flex();
    let config = NetworkConfig {
        input: vec![2, 6, 6],
        num_steps: 4,
        layers: vec![
            LayerConfig::Conv2d {
                channels: 3,
                kernel: 3,
                stride: 1,
                padding: None,
                bias: true,
            },
            LayerConfig::Neuron { neuron: None },
            LayerConfig::Flatten,
            LayerConfig::Linear {
                size: 4,
                bias: true,
            },
            LayerConfig::Neuron { neuron: None },
        ],
        ..NetworkConfig::default()
    };
    config.validate().expect("valid");
    let net = config.init(7, &device);
    let uniform = burn::tensor::Distribution::Uniform(0.0, 2.0);
    let frames = Tensor::<5>::random([4, 3, 2, 6, 6], uniform, &device);
    let flat = Tensor::<3>::from_data(
        TensorData::new(
            frames.clone().into_data().try_to_vec::<f32>().unwrap(),
            [4, 3, 72],
        ),
        &device,
    );
    let a = SpikingModel::forward(&net, ModelInput::from(frames));
    let b = SpikingModel::forward(&net, ModelInput::Sequence(flat));
    assert!(close(&a.membrane, &b.membrane, 0.0) && close(&a.spikes, &b.spikes, 0.0));
    let images = Tensor::<4>::random([3, 2, 6, 6], uniform, &device);
    let flat = Tensor::<2>::from_data(
        TensorData::new(
            images.clone().into_data().try_to_vec::<f32>().unwrap(),
            [3, 72],
        ),
        &device,
    );
    let a = SpikingModel::forward(&net, ModelInput::from(images));
    let b = SpikingModel::forward(&net, ModelInput::Static(flat));
    assert!(close(&a.membrane, &b.membrane, 0.0) && close(&a.spikes, &b.spikes, 0.0));
    assert!(
        a.membrane.abs().sum().into_scalar::<f32>() > 0.0,
        "the output membrane moves"
    );
}
