//! Recurrent LIF, snnTorch `RLeaky`: the previous step's spikes feed back through a learnable
//! recurrent connection.
//!
//! ```text
//! R[t] = H(U[t−1] − θ)
//! U[t] = β·U[t−1] + X[t] + V(S[t−1]) − θ·R[t]      (other resets as in crate::lif)
//! S[t] = H(U[t] − θ)
//! ```
//!
//! with `V(S) = S·Wᵀ + b` (all-to-all, `N×N` weights and a bias, snnTorch's default) or
//! `V(S) = v ⊙ S` (one-to-one, one weight per neuron).
//!
//! On the CPU backends the layer runs as one fused scan: one-to-one through
//! [`crate::fused::recurrent_lif_scan`] (the LIF scan with the feedback term), all-to-all
//! through [`crate::fused::recurrent`] (the feedback a sum of rows of `W` for the neurons that
//! fired, its gradient a small GEMM per step and one GEMM over all steps for `∂L/∂W`); both
//! equal the reference loop in values and in every gradient (tested). On burn-wgpu the
//! reference loop of [`Neuron::step`] runs.

use crate::fused;
use crate::lif::Lif;
use crate::neuron::{
    LayerInit, ModelSpec, Neuron, NeuronModel, NeuronOutput, NirMapping, step_loop,
};
use burn::module::Param;
use burn::nn::Linear;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// The recurrent connection of a [`RecurrentLif`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecurrentKind {
    /// A dense `N×N` weight matrix plus bias.
    #[default]
    AllToAll,
    /// One weight per neuron (each neuron feeds back to itself only).
    OneToOne,
}

/// A layer of recurrent LIF neurons (equations in the [module docs](self)).
#[derive(Module, Debug)]
pub struct RecurrentLif {
    /// The LIF neurons.
    pub lif: Lif,
    /// All-to-all recurrent weights, when that is the connection.
    pub dense: Option<Linear>,
    /// One-to-one recurrent weights `v`, `[N]`, when that is the connection.
    pub diagonal: Option<Param<Tensor<1>>>,
}

model_params! {
    /// The parameters of kind `recurrent` beyond the shared ones of
    /// [`NeuronConfig`](crate::NeuronConfig).
    pub struct RecurrentParams {
        /// The recurrent connection (default all-to-all).
        pub recurrent: RecurrentKind = RecurrentKind::AllToAll,
    }
}

impl ModelSpec for RecurrentParams {
    fn init(&self, mut layer: LayerInit<'_>) -> NeuronModel {
        let (neurons, device) = (layer.neurons, layer.device);
        NeuronModel::Recurrent(RecurrentLif::new(
            layer.lif,
            self.recurrent,
            neurons,
            &mut layer.rng,
            device,
        ))
    }

    fn nir(&self) -> NirMapping {
        // A LIF node with the recurrent connection as a loop through an Affine (all-to-all)
        // or Scale (one-to-one) node.
        NirMapping::Node("LIF")
    }

    /// The `N×N` weights of an all-to-all connection.
    fn extra_parameters(&self, neurons: f64) -> f64 {
        match self.recurrent {
            RecurrentKind::AllToAll => neurons * neurons,
            RecurrentKind::OneToOne => 0.0,
        }
    }
}

/// The state of a [`RecurrentLif`] layer (each `[B, N]`).
#[derive(Clone, Debug)]
pub struct RecurrentState {
    /// Membrane `U`.
    pub membrane: Tensor<2>,
    /// The previous step's spikes `S[t−1]`.
    pub spikes: Tensor<2>,
}

impl RecurrentLif {
    /// A recurrent layer of `neurons` neurons; weights uniform in `±1/√N` drawn from `rng`.
    pub fn new(
        lif: Lif,
        kind: RecurrentKind,
        neurons: usize,
        rng: &mut impl rand::Rng,
        device: &Device,
    ) -> Self {
        let bound = 1.0 / (neurons.max(1) as f32).sqrt();
        let mut draw =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..=bound)).collect() };
        let (dense, diagonal) = match kind {
            RecurrentKind::AllToAll => {
                let weight = TensorData::new(draw(neurons * neurons), [neurons, neurons]);
                let bias = TensorData::new(draw(neurons), [neurons]);
                let linear = Linear {
                    weight: Param::from_tensor(Tensor::from_data(weight, device)),
                    bias: Some(Param::from_tensor(Tensor::from_data(bias, device))),
                };
                (Some(linear), None)
            }
            RecurrentKind::OneToOne => {
                let v = TensorData::new(draw(neurons), [neurons]);
                (None, Some(Param::from_tensor(Tensor::from_data(v, device))))
            }
        };
        Self {
            lif,
            dense,
            diagonal,
        }
    }

    /// The recurrent input `V(S[t−1])`.
    fn feedback(&self, spikes: Tensor<2>) -> Tensor<2> {
        match (&self.dense, &self.diagonal) {
            (Some(linear), _) => linear.forward(spikes),
            (None, Some(v)) => spikes * v.val().unsqueeze::<2>(),
            (None, None) => spikes.zeros_like(),
        }
    }
}

impl Neuron for RecurrentLif {
    type State = RecurrentState;

    fn rest(&self, batch: usize, neurons: usize, device: &Device) -> RecurrentState {
        RecurrentState {
            membrane: Tensor::zeros([batch, neurons], device),
            spikes: Tensor::zeros([batch, neurons], device),
        }
    }

    fn step(&self, input: Tensor<2>, state: RecurrentState) -> (Tensor<2>, RecurrentState) {
        let (beta, threshold) = self.lif.coefficients();
        let reset = self.lif.reset_signal(&state.membrane, &threshold);
        let input = input + self.feedback(state.spikes);
        let membrane = self
            .lif
            .integrate(state.membrane, input, reset, &beta, &threshold);
        let spikes = self.lif.surrogate.spike(membrane.clone() - threshold);
        (spikes.clone(), RecurrentState { membrane, spikes })
    }

    fn membrane(state: &RecurrentState) -> Tensor<2> {
        state.membrane.clone()
    }

    fn lif(&self) -> Option<&Lif> {
        Some(&self.lif)
    }

    /// The fused scan (one-to-one or all-to-all) where the backend has it, else
    /// [`step_loop`].
    fn forward_sequence(&self, input: Tensor<3>, keep_membrane: bool) -> NeuronOutput {
        let device = input.device();
        if !self.lif.uses_fused_scan() || !fused::supports_cpu_scans(&device) {
            return step_loop(self, input, keep_membrane);
        }
        let beta = self.lif.beta.val().clamp(0.0, 1.0);
        let threshold = self.lif.threshold.val();
        let scan = |output_membrane: bool| {
            let settings = self.lif.scan_settings(output_membrane);
            let (input, beta, threshold) = (input.clone(), beta.clone(), threshold.clone());
            match (&self.dense, &self.diagonal) {
                (Some(linear), _) => {
                    let weight = linear.weight.val();
                    let bias = match &linear.bias {
                        Some(b) => b.val(),
                        None => Tensor::zeros([weight.dims()[1]], &device),
                    };
                    fused::recurrent::recurrent_scan(input, beta, threshold, weight, bias, settings)
                }
                (None, Some(v)) => {
                    fused::recurrent_lif_scan(input, beta, threshold, v.val(), settings)
                }
                (None, None) => fused::lif_scan(input, beta, threshold, settings),
            }
        };
        NeuronOutput {
            spikes: scan(false),
            membrane: keep_membrane.then(|| scan(true)),
        }
    }
}
