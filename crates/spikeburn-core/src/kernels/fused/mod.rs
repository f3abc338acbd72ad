//! The fused LIF layer: the whole time loop as one operation with a hand-written backward.
//!
//! Built from standard tensor operations, a LIF layer records about a dozen autodiff nodes per
//! time step and keeps several `[B, N]` tensors per step for the backward pass. Here the time
//! loop is one operation (a burn backend extension, [`LifScanBackend`]) with a hand-written
//! backward, on each backend through [`ScanKernels`]:
//!
//! - CPU (burn-flex, burn-ndarray; [`cpu`]): plain Rust loops over the raw buffers, parallel
//!   over batch rows (rayon), the neuron axis as the vectorisable inner loop and `T` as the
//!   sequential loop;
//! - GPU (burn-wgpu with the cargo feature `wgpu`, CUDA with `cuda`; `cube`): CubeCL kernels
//!   with one invocation per neuron looping over `T`, so that neighbouring invocations touch
//!   neighbouring addresses.
//!
//! Only the membrane trace `U[t]` (one `f32` per neuron-step) is kept for the backward pass;
//! spikes, resets and surrogate derivatives are recomputed from it. On the CPU, where the input
//! is constant over time or the sequence is short, the input is kept instead and the backward
//! pass recomputes the trace block by block in cache (`cpu::Scan::recomputes`). For long
//! sequences, [`linear_lif`] runs a dense layer and the scan as one operation that keeps neither
//! the input current nor the trace and recomputes both in segments of time.
//!
//! ## Backward pass (BPTT through the recurrence)
//!
//! The forward recurrence is [`crate::lif`]'s (`R[t] = H(U[t−1] − θ)`; subtract reset
//! `U[t] = β·U[t−1] + X[t] − θ·R[t]`, zero reset `U[t] = β·(1 − R[t])·U[t−1] + X[t]`, no reset
//! `U[t] = β·U[t−1] + X[t]`). With `G[t] = ∂L/∂O[t]` for the output `O` (spikes `S` or membrane
//! `U`), `σ'` the surrogate derivative and `[a]` = 1 when `a` holds, the total derivative
//! `δ[t] = dL/dU[t]` runs backwards from `δ[T] = 0`:
//!
//! ```text
//! δ[t]  = G[t]·(spikes ? σ'(U[t]−θ) : 1) + δ[t+1]·J[t+1]
//! J[t+1] = β − [attached]·θ·σ'(U[t]−θ)                       subtract reset
//!        = (1 − R[t+1])·β − [attached]·β·U[t]·σ'(U[t]−θ)    zero reset
//!        = β                                                 no reset
//! ∂L/∂X[t] = δ[t]
//! ∂L/∂β    = Σ_t δ[t]·U[t−1]·(zero reset ? 1 − R[t] : 1)
//! ∂L/∂θ    = Σ_t −[spikes]·G[t]·σ'(U[t]−θ) + δ[t]·∂U[t]/∂θ, with
//!            ∂U[t]/∂θ = −R[t] + [attached]·θ·σ'(U[t−1]−θ)     subtract reset
//!                     = [attached]·β·U[t−1]·σ'(U[t−1]−θ)      zero reset
//! ```
//!
//! where `[attached]` means the reset is not detached.
//!
//! ## One-to-one recurrence
//!
//! With a feedback weight `v` per neuron ([`crate::recurrent`]'s one-to-one connection), each
//! step also receives its own previous spike: `U[t] += v·S[t−1]` with `S[t−1] = H(U[t−1] − θ)`
//! (`S[−1] = 0`), whose surrogate gradient is never detached. The CPU scan adds
//!
//! ```text
//! J[t+1]     += v·σ'(U[t]−θ)
//! ∂U[t]/∂θ   += −v·σ'(U[t−1]−θ)          (t > 0)
//! ∂L/∂v       = Σ_t δ[t]·S[t−1]
//! ```
//!
//! (burn-wgpu runs this model's reference loop: [`supports_cpu_scans`]). `∂L/∂β` and `∂L/∂θ` are reduced over
//! batch (and neurons, for a shared scalar): inside the CPU kernel in `f64`; over time inside the
//! GPU kernel and then over batch by a tensor reduction.
//!
//! Equality with the reference path (standard operations, [`crate::lif`]) is tested for every
//! reset mode, detach flag, surrogate and learnable flag.

#![allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.

use crate::lif::Reset;
use crate::surrogate::{CustomSurrogate, Surrogate};
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, backend_extension};
use burn::prelude::*;

pub mod adaptive;
pub mod alpha;
pub mod conductance;
pub mod cpu;
#[cfg(feature = "cube")]
pub mod cube;
pub(crate) mod host_op;
pub mod linear_lif;
pub mod recurrent;
pub mod stochastic;

pub use linear_lif::linear_lif_scan;

/// The non-tensor settings of a fused LIF scan.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScanSettings {
    /// Reset mechanism.
    pub reset: Reset,
    /// Whether the reset signal is detached.
    pub detach_reset: bool,
    /// Surrogate derivative.
    pub surrogate: Surrogate,
    /// Output the membrane `U` instead of the spikes `S`.
    pub output_membrane: bool,
    /// `0` for a sequence input `[T, B, N]`; else the number of steps `T` over which a constant
    /// input `[B, N]` is repeated.
    pub constant_steps: usize,
    /// `0`, or the refractory period `k` of [`crate::refractory`]: the input is ignored for
    /// the `k` steps after a spike (the gate `[c[t] = 0]` multiplies `X[t]` and `∂L/∂X[t]`;
    /// no gradient flows through the counter). CPU backends only ([`supports_cpu_scans`]).
    pub refractory: usize,
}

impl ScanSettings {
    /// Packs reset (bits 0–1), detach (bit 2), membrane output (bit 3), surrogate kind
    /// (bits 4–7) and the index of a custom surrogate (bits 8–31) into one code; the
    /// surrogate's two parameters travel apart.
    pub(crate) fn encode(&self) -> (u32, [f32; 2]) {
        let reset = match self.reset {
            Reset::Subtract => 0,
            Reset::Zero => 1,
            Reset::None => 2,
        };
        // The smooth reference never reaches a fused kernel (its forward is not a step); its
        // derivative is the sigmoid's (its table code).
        let (kind, params) = match self.surrogate.builtin() {
            Ok(entry) => entry,
            Err((name, slope)) => (7 | name.index() << 4, [slope, 0.0]),
        };
        let code = reset
            | u32::from(self.detach_reset) << 2
            | u32::from(self.output_membrane) << 3
            | kind << 4;
        (code, params)
    }

    /// The inverse of [`encode`](Self::encode).
    pub(crate) fn decode(
        code: u32,
        [a, b]: [f32; 2],
        [constant_steps, refractory]: [usize; 2],
    ) -> Self {
        let reset = match code & 3 {
            0 => Reset::Subtract,
            1 => Reset::Zero,
            _ => Reset::None,
        };
        let surrogate = match (code >> 4) & 15 {
            7 => match CustomSurrogate::from_index(code >> 8) {
                Some(name) => Surrogate::Custom { name, slope: a },
                None => Surrogate::StraightThrough,
            },
            kind => Surrogate::from_builtin(kind, [a, b]).unwrap_or(Surrogate::StraightThrough),
        };
        Self {
            reset,
            detach_reset: code & 4 != 0,
            surrogate,
            output_membrane: code & 8 != 0,
            constant_steps,
            refractory,
        }
    }
}

/// The backend operation behind [`lif_scan`]: implemented for burn-flex, burn-ndarray, the
/// CubeCL backends (burn-wgpu with feature `wgpu`, CUDA with feature `cuda`) and autodiff over
/// any backend with [`ScanKernels`].
#[allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.
#[backend_extension(Flex, NdArray, Cube: cfg(feature = "cube"), Autodiff)]
pub trait LifScanBackend: Backend {
    /// Runs a LIF layer over time from rest (see [`lif_scan`]), with the one-to-one feedback
    /// weight `feedback` where `with_feedback` (CPU backends only, see [`supports_cpu_scans`];
    /// without it, `feedback` is any stand-in and is not read); `settings` and
    /// `surrogate_params` are [`ScanSettings`] in encoded form.
    #[allow(clippy::too_many_arguments)]
    fn lif_scan(
        input: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        feedback: FloatTensor<Self>,
        with_feedback: bool,
        settings: u32,
        surrogate_params: [f32; 2],
        counts: [usize; 2],
    ) -> FloatTensor<Self>;
}

/// The forward and backward kernels of the fused scan on one backend. The autodiff wrapper
/// ([`LifScanBackend`] for `Autodiff<B>`) calls them on its inner backend `B`.
pub trait ScanKernels: Backend {
    /// What the backward pass keeps from the forward pass: the membrane trace `U[t]` and the
    /// parameters.
    type Saved: Clone + Send + std::fmt::Debug + 'static;

    /// The forward pass alone (inference): spikes or membrane, `[T, B, N]`. `feedback`, the
    /// one-to-one recurrent weight `v` (`[1]` or `[N]`), is only given where
    /// [`supports_cpu_scans`] holds.
    fn scan(
        input: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        feedback: Option<FloatTensor<Self>>,
        settings: ScanSettings,
    ) -> FloatTensor<Self>;

    /// The forward pass, keeping what [`scan_backward`](Self::scan_backward) needs.
    fn scan_train(
        input: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        feedback: Option<FloatTensor<Self>>,
        settings: ScanSettings,
    ) -> (FloatTensor<Self>, Self::Saved);

    /// BPTT through the scan (equations in the [module docs](self)) for the output gradient
    /// `grad` (`[T, B, N]`): `[∂L/∂X, ∂L/∂β, ∂L/∂θ]`, each shaped like its input, and `∂L/∂v`
    /// where the scan had a feedback weight.
    fn scan_backward(
        saved: Self::Saved,
        grad: FloatTensor<Self>,
    ) -> ([FloatTensor<Self>; 3], Option<FloatTensor<Self>>);
}

macro_rules! impl_scan_backend {
    ($backend:ty) => {
        impl LifScanBackend for $backend {
            fn lif_scan(
                input: FloatTensor<Self>,
                beta: FloatTensor<Self>,
                threshold: FloatTensor<Self>,
                feedback: FloatTensor<Self>,
                with_feedback: bool,
                settings: u32,
                surrogate_params: [f32; 2],
                counts: [usize; 2],
            ) -> FloatTensor<Self> {
                let settings = ScanSettings::decode(settings, surrogate_params, counts);
                let feedback = with_feedback.then_some(feedback);
                <$backend as ScanKernels>::scan(input, beta, threshold, feedback, settings)
            }
        }
    };
}

impl_scan_backend!(burn::backend::Flex);
impl_scan_backend!(burn::backend::NdArray);
#[cfg(feature = "cube")]
impl_scan_backend!(burn::backend::Cube);

/// Whether `device` has a fused kernel for `surrogate`: the CPU backends for every surrogate,
/// the CubeCL GPU backends (wgpu, CUDA) for the built-in ones (a user-registered derivative is
/// host code, so on a GPU the reference path runs it). With or without autodiff.
pub fn supported(device: &Device, surrogate: &Surrogate) -> bool {
    match device.clone().inner().as_dispatch() {
        _ if crate::kernels::on_cpu(device) => true,
        #[cfg(feature = "cube")]
        burn::backend::DispatchDevice::Cube(_) => !matches!(surrogate, Surrogate::Custom { .. }),
        #[allow(unreachable_patterns)]
        _ => {
            let _ = surrogate;
            false
        }
    }
}

/// Whether `device` has the CPU scans: the fused LIF scan with a one-to-one feedback weight
/// ([`recurrent_lif_scan`]) or a refractory period ([`ScanSettings::refractory`]), and the scans
/// of the adaptive, alpha, conductance, all-to-all recurrent and stochastic neurons (modules of
/// this one): burn-flex and burn-ndarray. burn-wgpu runs those models' reference loops.
pub fn supports_cpu_scans(device: &Device) -> bool {
    crate::kernels::on_cpu(device)
}

/// Runs a LIF layer over time from rest as one fused operation: `input` is `[T, B, N]`
/// (or `[B, N]` repeated over `settings.constant_steps` steps), `beta` and `threshold` are
/// `[1]` or `[N]` (β already clamped). Returns spikes or membrane, `[T, B, N]`. Gradients flow
/// to `input`, `beta` and `threshold` (see the [module docs](self)).
pub fn lif_scan(
    input: Tensor<3>,
    beta: Tensor<1>,
    threshold: Tensor<1>,
    settings: ScanSettings,
) -> Tensor<3> {
    scan_dispatch(input, beta, threshold, None, settings)
}

/// [`lif_scan`] of a recurrent LIF layer with one-to-one feedback `v` (`[1]` or `[N]`):
/// `U[t] = β·U[t−1] + X[t] + v·S[t−1] − θ·R[t]` (other resets as in [`crate::lif`]), the
/// recurrence of [`crate::recurrent::RecurrentLif`] with [`crate::recurrent::RecurrentKind::OneToOne`].
/// Gradients flow to `input`, `beta`, `threshold` and `feedback`. Only where
/// [`supports_cpu_scans`] holds: elsewhere this panics (callers check first).
pub fn recurrent_lif_scan(
    input: Tensor<3>,
    beta: Tensor<1>,
    threshold: Tensor<1>,
    feedback: Tensor<1>,
    settings: ScanSettings,
) -> Tensor<3> {
    assert!(
        supports_cpu_scans(&input.device()),
        "recurrent_lif_scan runs on the CPU backends only (check fused::supports_cpu_scans)"
    );
    scan_dispatch(input, beta, threshold, Some(feedback), settings)
}

fn scan_dispatch(
    input: Tensor<3>,
    beta: Tensor<1>,
    threshold: Tensor<1>,
    feedback: Option<Tensor<1>>,
    settings: ScanSettings,
) -> Tensor<3> {
    let (code, params) = settings.encode();
    let with_feedback = feedback.is_some();
    // Without feedback, a stand-in the kernels do not read (the trait takes no `Option`).
    let feedback = feedback.unwrap_or_else(|| threshold.clone().detach());
    Tensor::from_dispatch(<Dispatch as LifScanBackend>::lif_scan(
        input.into_dispatch(),
        beta.into_dispatch(),
        threshold.into_dispatch(),
        feedback.into_dispatch(),
        with_feedback,
        code,
        params,
        [settings.constant_steps, settings.refractory],
    ))
}

/// [`lif_scan`] for a constant input `[B, N]` repeated over `steps` steps.
pub fn lif_scan_constant(
    input: Tensor<2>,
    beta: Tensor<1>,
    threshold: Tensor<1>,
    steps: usize,
    mut settings: ScanSettings,
) -> Tensor<3> {
    settings.constant_steps = steps;
    lif_scan(input.unsqueeze::<3>(), beta, threshold, settings)
}

/// The backward step of the scan: `N = 3` parents (input, β, θ), or 4 with the feedback
/// weight.
#[derive(Debug)]
struct ScanBackward<const N: usize>;

impl<B: ScanKernels, const N: usize> Backward<B, N> for ScanBackward<N> {
    type State = B::Saved;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_out = grads.consume::<B>(&ops.node);
        let ([gx, gbeta, gtheta], gfeedback) = B::scan_backward(ops.state, grad_out);
        let computed = [Some(gx), Some(gbeta), Some(gtheta), gfeedback];
        for (node, grad) in ops.parents.into_iter().zip(computed) {
            if let (Some(node), Some(grad)) = (node, grad) {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

/// Records the scan on the autodiff graph with the parents `nodes` (3 or 4, see
/// [`ScanBackward`]).
fn tracked_scan<B: ScanKernels, C: CheckpointStrategy, const N: usize>(
    nodes: [burn::backend::autodiff::ops::NodeGuard; N],
    (input, beta, threshold, feedback): (
        FloatTensor<B>,
        FloatTensor<B>,
        FloatTensor<B>,
        Option<FloatTensor<B>>,
    ),
    settings: ScanSettings,
) -> FloatTensor<Autodiff<B, C>> {
    match ScanBackward::<N>
        .prepare::<C>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (out, saved) = B::scan_train(input, beta, threshold, feedback, settings);
            prep.finish(saved, out)
        }
        OpsKind::UnTracked(prep) => {
            prep.finish(B::scan(input, beta, threshold, feedback, settings))
        }
    }
}

impl<B: ScanKernels, C: CheckpointStrategy> LifScanBackend for Autodiff<B, C> {
    fn lif_scan(
        input: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        feedback: FloatTensor<Self>,
        with_feedback: bool,
        settings: u32,
        surrogate_params: [f32; 2],
        counts: [usize; 2],
    ) -> FloatTensor<Self> {
        let settings = ScanSettings::decode(settings, surrogate_params, counts);
        let (input, input_node) = input.into_parts();
        let (beta, beta_node) = beta.into_parts();
        let (threshold, threshold_node) = threshold.into_parts();
        match with_feedback.then(|| feedback.into_parts()) {
            None => tracked_scan::<B, C, 3>(
                [input_node, beta_node, threshold_node],
                (input, beta, threshold, None),
                settings,
            ),
            Some((feedback, feedback_node)) => tracked_scan::<B, C, 4>(
                [input_node, beta_node, threshold_node, feedback_node],
                (input, beta, threshold, Some(feedback)),
                settings,
            ),
        }
    }
}
