//! Adam (Kingma & Ba 2015) in one pass over each parameter on the CPU backends.
//!
//! burn's [`burn::optim::Adam`] updates a parameter with about a dozen element-wise tensor
//! operations, each a pass over memory. [`Adam`] computes the same update element by element,
//! with the same `f32` operations in the same order, in a single pass that reads the parameter,
//! its gradient and both moments and writes the parameter and the moments in place:
//!
//! ```text
//! m ← β₁·m + (1 − β₁)·g                 (m = (1 − β₁)·g at the first step)
//! v ← β₂·v + (1 − β₂)·g²                (v = (1 − β₂)·g² at the first step)
//! c₂ = √(1 − β₂ᵗ),  c = c₂ / (1 − β₁ᵗ)
//! θ ← θ − lr·(c·m) / (√v + ε·c₂)
//! ```
//!
//! The result is bit for bit burn's (tested on burn-flex and burn-ndarray), and its state is
//! burn's [`AdamState`], so optimiser checkpoints written by either load in the other. On other
//! devices (wgpu, CUDA), for other float types, or without the host buffers, the step is
//! burn's.

use burn::optim::{AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use rayon::prelude::*;

/// Elements per parallel task of the update.
const CHUNK: usize = 1 << 14;

/// Adam without weight decay or AMSGrad, as [`AdamConfig`] builds it, in one pass per
/// parameter on the CPU backends ([module docs](self)).
#[derive(Clone)]
pub struct Adam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    /// burn's Adam with the same settings, for the devices without the fused pass.
    reference: burn::optim::Adam,
}

impl Adam {
    /// Adam with the moment decays `beta_1`, `beta_2` and `epsilon` (burn's defaults for the
    /// rest: no weight decay, no AMSGrad).
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> Self {
        let reference = AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .build();
        Self {
            beta_1,
            beta_2,
            epsilon,
            reference,
        }
    }
}

impl Optimizer for Adam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let device = tensor.device();
        let f32_everywhere = [&tensor, &grad]
            .into_iter()
            .chain(
                state
                    .iter()
                    .flat_map(|s| [&s.momentum.moment_1, &s.momentum.moment_2]),
            )
            .all(|t| t.dtype() == DType::F32);
        let amsgrad = state
            .as_ref()
            .is_some_and(|s| s.momentum.max_moment_2.is_some());
        if !spikeburn_core::kernels::on_cpu(&device) || !f32_everywhere || amsgrad {
            return self.reference.step(lr, tensor, grad, state);
        }
        let shape = tensor.shape();
        let len = shape.num_elements();
        let time = state.as_ref().map_or(1, |s| s.momentum.time + 1);
        let mut param = tensor.into_data();
        let grad = grad.into_data();
        let (mut m, mut v) = match state {
            Some(s) => (
                s.momentum.moment_1.into_data(),
                s.momentum.moment_2.into_data(),
            ),
            None => {
                let zeros = || TensorData::new(vec![0.0f32; len], shape.clone());
                (zeros(), zeros())
            }
        };
        let step = Step::new(self, lr, time);
        let first = time == 1;
        let (Ok(p), Ok(g), Ok(m_values), Ok(v_values)) = (
            param.as_mut_slice::<f32>(),
            grad.as_slice::<f32>(),
            m.as_mut_slice::<f32>(),
            v.as_mut_slice::<f32>(),
        ) else {
            unreachable!("f32 tensors checked above");
        };
        p.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(m_values.par_chunks_mut(CHUNK))
            .zip(v_values.par_chunks_mut(CHUNK))
            .for_each(|(((p, g), m), v)| step.apply(first, p, g, m, v));
        let momentum = AdaptiveMomentumState::new(
            time,
            Tensor::from_data(m, &device),
            Tensor::from_data(v, &device),
        );
        (
            Tensor::from_data(param, &device),
            Some(AdamState::new(momentum)),
        )
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
}

/// The scalars of one step, computed as burn's Adam computes them.
struct Step {
    beta_1: f32,
    beta_2: f32,
    /// `1 − β₁`, `1 − β₂`.
    factor_1: f32,
    factor_2: f32,
    /// `c = √(1 − β₂ᵗ) / (1 − β₁ᵗ)`.
    combined: f32,
    /// `ε·√(1 − β₂ᵗ)`.
    epsilon: f32,
    lr: f32,
}

impl Step {
    fn new(adam: &Adam, lr: LearningRate, time: usize) -> Self {
        let time = time as i32;
        let correction_2 = (1.0 - adam.beta_2.powi(time)).sqrt();
        Self {
            beta_1: adam.beta_1,
            beta_2: adam.beta_2,
            factor_1: 1.0 - adam.beta_1,
            factor_2: 1.0 - adam.beta_2,
            combined: correction_2 / (1.0 - adam.beta_1.powi(time)),
            epsilon: adam.epsilon * correction_2,
            lr: lr as f32,
        }
    }

    /// Updates one chunk of a parameter `p` and its moments `m`, `v` in place from the gradient
    /// `g`; `first`: the moments are new (zero).
    #[inline]
    fn apply(&self, first: bool, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            let (decayed_1, decayed_2) = if first {
                (g * self.factor_1, (g * g) * self.factor_2)
            } else {
                (
                    *m * self.beta_1 + g * self.factor_1,
                    *v * self.beta_2 + (g * g) * self.factor_2,
                )
            };
            *m = decayed_1;
            *v = decayed_2;
            let update = (decayed_1 * self.combined) / (decayed_2.sqrt() + self.epsilon);
            *p -= update * self.lr;
        }
    }
}
