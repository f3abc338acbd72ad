//! The fused LIF layer: the whole time loop as one operation with a hand-written backward.
//!
//! Built from standard tensor operations, a LIF layer records about a dozen autodiff nodes per
//! time step and keeps several `[B, N]` tensors per step for the backward pass. Here the time
//! loop is one operation (a burn backend extension) for the CPU backends (burn-flex,
//! burn-ndarray): plain Rust loops over the raw buffers, parallel over batch rows (rayon), the
//! neuron axis as the vectorisable inner loop and `T` as the sequential loop. Only the membrane
//! trace `U[t]` (one `f32` per neuron-step) is kept for the backward pass; spikes, resets and
//! surrogate derivatives are recomputed from it.
//!
//! ## Backward pass (BPTT through the recurrence)
//!
//! With `G[t] = ∂L/∂O[t]` for the output `O` (spikes `S` or membrane `U`), `σ'` the surrogate
//! derivative, `R[t] = H(U[t−1] − θ)`, `Λ[t] = β·U[t−1] + X[t]`, and `[a]` = 1 when `a` holds,
//! the total derivative `δ[t] = dL/dU[t]` runs backwards from `δ[T] = 0`:
//!
//! ```text
//! δ[t]  = G[t]·(spikes ? σ'(U[t]−θ) : 1) + δ[t+1]·J[t+1]
//! J[t+1] = β − [attached]·θ·σ'(U[t]−θ)                       subtract reset
//!        = (1 − R[t+1])·β − [attached]·Λ[t+1]·σ'(U[t]−θ)    zero reset
//!        = β                                                 no reset
//! ∂L/∂X[t] = δ[t]·(zero reset ? 1 − R[t] : 1)
//! ∂L/∂β    = Σ_t δ[t]·U[t−1]·(zero reset ? 1 − R[t] : 1)
//! ∂L/∂θ    = Σ_t −[spikes]·G[t]·σ'(U[t]−θ) + δ[t]·∂U[t]/∂θ, with
//!            ∂U[t]/∂θ = −R[t] + [attached]·θ·σ'(U[t−1]−θ)     subtract reset
//!                     = [attached]·Λ[t]·σ'(U[t−1]−θ)          zero reset
//! ```
//!
//! where `[attached]` means the reset is not detached. `∂L/∂β` and `∂L/∂θ` are reduced over
//! batch (and neurons, for a shared scalar) inside the kernel, in `f64`.
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
use burn::backend::{
    Backend, Dispatch, DispatchDevice, TensorMetadata, backend_extension, read_sync,
};
use burn::prelude::*;
use rayon::prelude::*;

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
}

impl ScanSettings {
    /// Packs reset (bits 0–1), detach (bit 2), membrane output (bit 3), surrogate kind
    /// (bits 4–7) and the index of a custom surrogate (bits 8–31) into one code; the
    /// surrogate's two parameters travel apart.
    fn encode(&self) -> (u32, [f32; 2]) {
        let reset = match self.reset {
            Reset::Subtract => 0,
            Reset::Zero => 1,
            Reset::None => 2,
        };
        let (kind, params) = match self.surrogate {
            Surrogate::Atan { alpha } => (0, [alpha, 0.0]),
            Surrogate::FastSigmoid { slope } => (1, [slope, 0.0]),
            // The smooth reference never reaches a fused kernel (its forward is not a step);
            // its derivative is the sigmoid's.
            Surrogate::Sigmoid { slope } | Surrogate::SmoothSigmoid { slope } => (2, [slope, 0.0]),
            Surrogate::StraightThrough => (3, [0.0, 0.0]),
            Surrogate::Triangular { alpha } => (4, [alpha, 0.0]),
            Surrogate::Gaussian { slope } => (5, [slope, 0.0]),
            Surrogate::SpikeRateEscape { beta, slope } => (6, [beta, slope]),
            Surrogate::Custom { name, slope } => (7 | name.index() << 4, [slope, 0.0]),
        };
        let code = reset
            | u32::from(self.detach_reset) << 2
            | u32::from(self.output_membrane) << 3
            | kind << 4;
        (code, params)
    }

    /// The inverse of [`encode`](Self::encode).
    fn decode(code: u32, [a, b]: [f32; 2], constant_steps: usize) -> Self {
        let reset = match code & 3 {
            0 => Reset::Subtract,
            1 => Reset::Zero,
            _ => Reset::None,
        };
        let surrogate = match (code >> 4) & 15 {
            0 => Surrogate::Atan { alpha: a },
            1 => Surrogate::FastSigmoid { slope: a },
            2 => Surrogate::Sigmoid { slope: a },
            4 => Surrogate::Triangular { alpha: a },
            5 => Surrogate::Gaussian { slope: a },
            6 => Surrogate::SpikeRateEscape { beta: a, slope: b },
            7 => match CustomSurrogate::from_index(code >> 8) {
                Some(name) => Surrogate::Custom { name, slope: a },
                None => Surrogate::StraightThrough,
            },
            _ => Surrogate::StraightThrough,
        };
        Self {
            reset,
            detach_reset: code & 4 != 0,
            surrogate,
            output_membrane: code & 8 != 0,
            constant_steps,
        }
    }
}

/// The backend operation behind [`lif_scan`]; implemented for burn-flex, burn-ndarray and
/// autodiff over either.
#[allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.
#[backend_extension(Flex, NdArray, Autodiff)]
pub trait LifScanBackend: Backend {
    /// Runs a LIF layer over time from rest (see [`lif_scan`]); `settings` and
    /// `surrogate_params` are [`ScanSettings`] in encoded form.
    fn lif_scan(
        input: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        settings: u32,
        surrogate_params: [f32; 2],
        constant_steps: usize,
    ) -> FloatTensor<Self>;
}

/// Whether `device` has the fused operation (the CPU backends, with or without autodiff).
pub fn supported(device: &Device) -> bool {
    matches!(
        device.clone().inner().as_dispatch(),
        DispatchDevice::Flex(_) | DispatchDevice::NdArray(_)
    )
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
    let (code, params) = settings.encode();
    Tensor::from_dispatch(<Dispatch as LifScanBackend>::lif_scan(
        input.into_dispatch(),
        beta.into_dispatch(),
        threshold.into_dispatch(),
        code,
        params,
        settings.constant_steps,
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

/// A tensor's data on the host as `f32`, without a copy where the backend can hand over its
/// buffer (burn-flex does for a uniquely owned contiguous tensor).
#[derive(Clone, Debug)]
struct Host(TensorData);

impl Host {
    fn new<B: Backend>(t: FloatTensor<B>) -> Self {
        let data = read_sync(B::float_into_data(t)).expect("reading a CPU tensor cannot fail");
        Self(data.convert::<f32>())
    }

    fn dims(&self) -> Vec<usize> {
        self.0.shape().to_vec()
    }

    fn values(&self) -> &[f32] {
        self.0
            .as_slice::<f32>()
            .expect("converted to f32 in Host::new")
    }
}

fn from_host<B: Backend>(values: Vec<f32>, dims: &[usize], device: &B::Device) -> FloatTensor<B> {
    B::float_from_data(TensorData::new(values, dims.to_vec()), device)
}

/// One parallel task's share of a `[T, B, N]` buffer: its rows' slice at every step.
type Block<'a> = Vec<&'a mut [f32]>;

/// Geometry and inputs of one scan, on the host.
#[derive(Clone, Debug)]
struct Scan {
    x: Host,
    beta: Vec<f32>,
    threshold: Vec<f32>,
    steps: usize,
    batch: usize,
    neurons: usize,
    constant: bool,
    settings: ScanSettings,
}

impl Scan {
    fn new<B: Backend>(
        input: FloatTensor<B>,
        beta: FloatTensor<B>,
        threshold: FloatTensor<B>,
        settings: ScanSettings,
    ) -> Self {
        let x = Host::new::<B>(input);
        let dims = x.dims();
        let constant = settings.constant_steps > 0;
        let (steps, batch, neurons) = if constant {
            (settings.constant_steps, dims[1], dims[2])
        } else {
            (dims[0], dims[1], dims[2])
        };
        let expand = |v: Vec<f32>| {
            if v.len() == neurons {
                v
            } else {
                vec![v[0]; neurons]
            }
        };
        Self {
            x,
            beta: expand(Host::new::<B>(beta).values().to_vec()),
            threshold: expand(Host::new::<B>(threshold).values().to_vec()),
            steps,
            batch,
            neurons,
            constant,
            settings,
        }
    }

    /// Index of `X[t, b, n]` in `x`.
    #[inline]
    fn x_index(&self, t: usize, row: usize) -> usize {
        if self.constant {
            row * self.neurons
        } else {
            (t * self.batch + row) * self.neurons
        }
    }

    fn out_dims(&self) -> [usize; 3] {
        [self.steps, self.batch, self.neurons]
    }

    /// Runs the forward recurrence; returns the output and, when `keep_trace`, `U[t]` (else an
    /// empty trace), both time-major `[T, B, N]`.
    fn forward(&self, keep_trace: bool) -> (Vec<f32>, Vec<f32>) {
        let size = self.steps * self.batch * self.neurons;
        let membrane_out = self.settings.output_membrane;
        let mut out = vec![0.0f32; size];
        let mut trace = vec![0.0f32; if keep_trace && !membrane_out { size } else { 0 }];
        let out_blocks = self.blocks(&mut out);
        let trace_blocks = if trace.is_empty() {
            Vec::new()
        } else {
            self.blocks(&mut trace)
        };
        let run = |(first_row, out, trace): (usize, Block<'_>, Option<Block<'_>>)| match (
            self.settings.reset,
            membrane_out,
        ) {
            (Reset::Subtract, false) => self.forward_block::<0, false>(first_row, out, trace),
            (Reset::Subtract, true) => self.forward_block::<0, true>(first_row, out, trace),
            (Reset::Zero, false) => self.forward_block::<1, false>(first_row, out, trace),
            (Reset::Zero, true) => self.forward_block::<1, true>(first_row, out, trace),
            (Reset::None, false) => self.forward_block::<2, false>(first_row, out, trace),
            (Reset::None, true) => self.forward_block::<2, true>(first_row, out, trace),
        };
        let rows = self.rows_per_block();
        if trace_blocks.is_empty() {
            out_blocks
                .into_par_iter()
                .enumerate()
                .for_each(|(i, o)| run((i * rows, o, None)));
        } else {
            out_blocks
                .into_par_iter()
                .zip(trace_blocks)
                .enumerate()
                .for_each(|(i, (o, t))| run((i * rows, o, Some(t))));
        }
        if keep_trace && membrane_out {
            trace = out.clone();
        }
        (out, trace)
    }

    /// Batch rows handled by one parallel task: about 4k neurons of state per task, and at
    /// least two tasks per thread where the batch allows.
    fn rows_per_block(&self) -> usize {
        let by_size = 4_096 / self.neurons.max(1);
        let by_threads = self.batch.div_ceil(2 * rayon::current_num_threads());
        by_size.min(by_threads).clamp(1, self.batch.max(1))
    }

    /// Splits a time-major `[T, B, N]` buffer into blocks of rows: block `i` holds, for every
    /// step `t`, the slice of rows `i·rows .. (i+1)·rows`. The blocks are disjoint, so they can
    /// be processed in parallel without sharing.
    fn blocks<'a>(&self, buffer: &'a mut [f32]) -> Vec<Vec<&'a mut [f32]>> {
        let bn = self.batch * self.neurons;
        let width = self.rows_per_block() * self.neurons;
        let num_blocks = self.batch.div_ceil(self.rows_per_block());
        let mut blocks: Vec<Vec<&mut [f32]>> = (0..num_blocks)
            .map(|_| Vec::with_capacity(self.steps))
            .collect();
        for slab in buffer.chunks_mut(bn) {
            for (block, part) in blocks.iter_mut().zip(slab.chunks_mut(width)) {
                block.push(part);
            }
        }
        blocks
    }

    /// The forward recurrence over all steps for the rows of one block. `RESET`: 0 subtract,
    /// 1 zero, 2 none; `MEMBRANE`: output `U` instead of `S`.
    fn forward_block<const RESET: u8, const MEMBRANE: bool>(
        &self,
        first_row: usize,
        mut out: Vec<&mut [f32]>,
        mut trace: Option<Vec<&mut [f32]>>,
    ) {
        let n = self.neurons;
        let width = out.first().map_or(0, |o| o.len());
        let mut u = vec![0.0f32; width];
        for t in 0..self.steps {
            let start = self.x_index(t, first_row);
            let x = &self.x.values()[start..start + width];
            let o = &mut out[t][..width];
            for (row_u, (row_x, row_o)) in u
                .chunks_exact_mut(n)
                .zip(x.chunks_exact(n).zip(o.chunks_exact_mut(n)))
            {
                for ((((u, &x), o), &beta), &theta) in row_u
                    .iter_mut()
                    .zip(row_x)
                    .zip(row_o.iter_mut())
                    .zip(&self.beta)
                    .zip(&self.threshold)
                {
                    let prev = *u;
                    let r = if RESET != 2 && prev - theta > 0.0 {
                        1.0
                    } else {
                        0.0
                    };
                    let leaky = prev * beta + x;
                    let next = match RESET {
                        0 => leaky - r * theta,
                        1 => (prev - r * prev) * beta + x,
                        _ => leaky,
                    };
                    *u = next;
                    *o = if MEMBRANE {
                        next
                    } else if next - theta > 0.0 {
                        1.0
                    } else {
                        0.0
                    };
                }
            }
            if let Some(tr) = trace.as_mut() {
                tr[t].copy_from_slice(&u);
            }
        }
    }

    /// The backward pass; `grad` and `trace` are `[T, B, N]`. Returns `∂L/∂X` (shaped like the
    /// input), `∂L/∂β` and `∂L/∂θ` per neuron.
    fn backward(&self, grad: &[f32], trace: &[f32]) -> (Vec<f32>, Vec<f64>, Vec<f64>) {
        // One monomorphised loop per surrogate, so the derivative inlines into it.
        match self.settings.surrogate {
            Surrogate::Atan { alpha } => {
                let c = 0.5 * std::f32::consts::PI * alpha;
                self.backward_with(grad, trace, move |x| {
                    let z = c * x;
                    0.5 * alpha / (1.0 + z * z)
                })
            }
            Surrogate::FastSigmoid { slope } => self.backward_with(grad, trace, move |x| {
                let d = 1.0 + slope * x.abs();
                1.0 / (d * d)
            }),
            Surrogate::Triangular { alpha } => {
                self.backward_with(grad, trace, move |x| alpha * (1.0 - x.abs()).max(0.0))
            }
            Surrogate::StraightThrough => self.backward_with(grad, trace, |_| 1.0),
            Surrogate::Custom { name, slope } => match name.function() {
                // Looked up once, not per element.
                Some(f) => self.backward_with(grad, trace, move |x| f.derivative(x, slope)),
                None => self.backward_with(grad, trace, |_| 0.0),
            },
            s => self.backward_with(grad, trace, move |x| s.derivative(x)),
        }
    }

    fn backward_with(
        &self,
        grad: &[f32],
        trace: &[f32],
        sg: impl Fn(f32) -> f32 + Sync,
    ) -> (Vec<f32>, Vec<f64>, Vec<f64>) {
        let (b_len, n) = (self.batch, self.neurons);
        let mut gx = vec![0.0f32; if self.constant { b_len * n } else { grad.len() }];
        let rows = self.rows_per_block();
        let gx_blocks: Vec<Vec<&mut [f32]>> = if self.constant {
            gx.chunks_mut(rows * n).map(|c| vec![c]).collect()
        } else {
            self.blocks(&mut gx)
        };
        let s = self.settings;
        let run = |first_row: usize, gx: Vec<&mut [f32]>| {
            let args = (first_row, grad, trace, gx, &sg);
            match (s.reset, s.output_membrane, s.detach_reset) {
                (Reset::Subtract, false, true) => self.backward_block::<0, false, false>(args),
                (Reset::Subtract, false, false) => self.backward_block::<0, false, true>(args),
                (Reset::Subtract, true, true) => self.backward_block::<0, true, false>(args),
                (Reset::Subtract, true, false) => self.backward_block::<0, true, true>(args),
                (Reset::Zero, false, true) => self.backward_block::<1, false, false>(args),
                (Reset::Zero, false, false) => self.backward_block::<1, false, true>(args),
                (Reset::Zero, true, true) => self.backward_block::<1, true, false>(args),
                (Reset::Zero, true, false) => self.backward_block::<1, true, true>(args),
                (Reset::None, false, _) => self.backward_block::<2, false, false>(args),
                (Reset::None, true, _) => self.backward_block::<2, true, false>(args),
            }
        };
        let (gbeta, gtheta) = gx_blocks
            .into_par_iter()
            .enumerate()
            .map(|(i, g)| run(i * rows, g))
            .reduce(
                || (vec![0.0f64; n], vec![0.0f64; n]),
                |(mut a, mut b), (c, d)| {
                    a.iter_mut().zip(c).for_each(|(x, y)| *x += y);
                    b.iter_mut().zip(d).for_each(|(x, y)| *x += y);
                    (a, b)
                },
            );
        (gx, gbeta, gtheta)
    }

    /// BPTT over all steps for the rows of one block (equations in the module docs). Returns
    /// this block's `∂L/∂β` and `∂L/∂θ` per neuron. `RESET`: 0 subtract, 1 zero, 2 none;
    /// `MEMBRANE`: the output was `U`; `ATTACHED`: the reset is not detached.
    #[allow(clippy::type_complexity)]
    fn backward_block<const RESET: u8, const MEMBRANE: bool, const ATTACHED: bool>(
        &self,
        (first_row, grad, trace, mut gx, sg): (
            usize,
            &[f32],
            &[f32],
            Vec<&mut [f32]>,
            &(impl Fn(f32) -> f32 + Sync),
        ),
    ) -> (Vec<f64>, Vec<f64>) {
        let (t_len, b_len, n) = (self.steps, self.batch, self.neurons);
        let width = gx.first().map_or(0, |g| g.len());
        let block_rows = width / n;
        let at = |t: usize| (t * b_len + first_row) * n;
        let mut gbeta = vec![0.0f64; n];
        let mut gtheta = vec![0.0f64; n];
        let mut delta = vec![0.0f32; width];
        let zeros = vec![0.0f32; width];
        for t in (0..t_len).rev() {
            let u = &trace[at(t)..at(t) + width];
            let u_prev = if t > 0 {
                &trace[at(t - 1)..at(t - 1) + width]
            } else {
                &zeros[..]
            };
            let g = &grad[at(t)..at(t) + width];
            let has_next = t + 1 < t_len;
            let gx_t: &mut [f32] = if self.constant { gx[0] } else { gx[t] };
            // This step's β and θ gradients, summed over the block's rows in f32, then added
            // to the f64 totals.
            let mut gbeta_t = vec![0.0f32; n];
            let mut gtheta_t = vec![0.0f32; n];
            for row in 0..block_rows {
                let span = row * n..(row + 1) * n;
                let (u, u_prev, g) = (&u[span.clone()], &u_prev[span.clone()], &g[span.clone()]);
                let delta = &mut delta[span.clone()];
                let gx_row = &mut gx_t[span];
                let (beta, threshold) = (&self.beta[..n], &self.threshold[..n]);
                let (gbeta_t, gtheta_t) = (&mut gbeta_t[..n], &mut gtheta_t[..n]);
                for j in 0..n {
                    let (beta, theta) = (beta[j], threshold[j]);
                    let (un, up) = (u[j], u_prev[j]);
                    let sg_now = sg(un - theta);
                    let mut d = if MEMBRANE { g[j] } else { g[j] * sg_now };
                    if has_next {
                        let jac = match RESET {
                            0 => beta - if ATTACHED { theta * sg_now } else { 0.0 },
                            1 => {
                                let r_next = if un - theta > 0.0 { 1.0 } else { 0.0 };
                                (1.0 - r_next) * beta
                                    - if ATTACHED { beta * un * sg_now } else { 0.0 }
                            }
                            _ => beta,
                        };
                        d += delta[j] * jac;
                    }
                    delta[j] = d;
                    let r = if RESET != 2 && up - theta > 0.0 {
                        1.0
                    } else {
                        0.0
                    };
                    let dx = d;
                    if self.constant {
                        gx_row[j] += dx;
                    } else {
                        gx_row[j] = dx;
                    }
                    gbeta_t[j] += if RESET == 1 {
                        d * (1.0 - r) * up
                    } else {
                        d * up
                    };
                    let du_dtheta = match RESET {
                        0 => {
                            -r + if ATTACHED {
                                theta * sg(up - theta)
                            } else {
                                0.0
                            }
                        }
                        1 if ATTACHED => beta * up * sg(up - theta),
                        _ => 0.0,
                    };
                    let mut gt = d * du_dtheta;
                    if !MEMBRANE {
                        gt -= g[j] * sg_now;
                    }
                    gtheta_t[j] += gt;
                }
            }
            for j in 0..n {
                gbeta[j] += f64::from(gbeta_t[j]);
                gtheta[j] += f64::from(gtheta_t[j]);
            }
        }
        (gbeta, gtheta)
    }
}

/// The forward pass of the fused op on any backend, through host memory.
fn forward_host<B: Backend>(
    input: FloatTensor<B>,
    beta: FloatTensor<B>,
    threshold: FloatTensor<B>,
    settings: ScanSettings,
) -> FloatTensor<B> {
    let device = input.device();
    let scan = Scan::new::<B>(input, beta, threshold, settings);
    let (out, _) = scan.forward(false);
    from_host::<B>(out, &scan.out_dims(), &device)
}

macro_rules! impl_cpu_scan {
    ($backend:ty) => {
        impl LifScanBackend for $backend {
            fn lif_scan(
                input: FloatTensor<Self>,
                beta: FloatTensor<Self>,
                threshold: FloatTensor<Self>,
                settings: u32,
                surrogate_params: [f32; 2],
                constant_steps: usize,
            ) -> FloatTensor<Self> {
                let settings = ScanSettings::decode(settings, surrogate_params, constant_steps);
                forward_host::<Self>(input, beta, threshold, settings)
            }
        }
    };
}

impl_cpu_scan!(burn::backend::Flex);
#[allow(deprecated)]
mod ndarray_impl {
    use super::*;
    impl_cpu_scan!(burn::backend::NdArray);
}

/// What the backward pass keeps: the scan's host inputs (read once, in the forward pass), the
/// membrane trace `U[t]`, and the shapes of the parameters to give their gradients.
#[derive(Clone, Debug)]
struct SavedScan {
    scan: Scan,
    trace: Vec<f32>,
    beta_dims: Vec<usize>,
    threshold_dims: Vec<usize>,
}

#[derive(Debug)]
struct ScanBackward;

impl<B: Backend> Backward<B, 3> for ScanBackward {
    type State = SavedScan;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_input, node_beta, node_threshold] = ops.parents;
        let grad_out = grads.consume::<B>(&ops.node);
        let device = grad_out.device();
        let SavedScan {
            scan,
            trace,
            beta_dims,
            threshold_dims,
        } = ops.state;
        let grad = Host::new::<B>(grad_out);
        let (gx, gbeta, gtheta) = scan.backward(grad.values(), &trace);
        let reduce = |g: Vec<f64>, dims: &[usize]| -> Vec<f32> {
            if dims.iter().product::<usize>() == g.len() {
                g.into_iter().map(|v| v as f32).collect()
            } else {
                vec![g.iter().sum::<f64>() as f32]
            }
        };
        if let Some(node) = node_input {
            grads.register::<B>(node.id, from_host::<B>(gx, &scan.x.dims(), &device));
        }
        if let Some(node) = node_beta {
            let g = reduce(gbeta, &beta_dims);
            grads.register::<B>(node.id, from_host::<B>(g, &beta_dims, &device));
        }
        if let Some(node) = node_threshold {
            let g = reduce(gtheta, &threshold_dims);
            grads.register::<B>(node.id, from_host::<B>(g, &threshold_dims, &device));
        }
    }
}

impl<B: Backend, C: CheckpointStrategy> LifScanBackend for Autodiff<B, C> {
    fn lif_scan(
        input: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        threshold: FloatTensor<Self>,
        settings: u32,
        surrogate_params: [f32; 2],
        constant_steps: usize,
    ) -> FloatTensor<Self> {
        let settings = ScanSettings::decode(settings, surrogate_params, constant_steps);
        let (input, input_node) = input.into_parts();
        let (beta, beta_node) = beta.into_parts();
        let (threshold, threshold_node) = threshold.into_parts();
        match ScanBackward
            .prepare::<C>([input_node, beta_node, threshold_node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let device = input.device();
                let beta_dims = beta.shape().to_vec();
                let threshold_dims = threshold.shape().to_vec();
                let scan = Scan::new::<B>(input, beta, threshold, settings);
                let (out, trace) = scan.forward(true);
                let out = from_host::<B>(out, &scan.out_dims(), &device);
                let saved = SavedScan {
                    scan,
                    trace,
                    beta_dims,
                    threshold_dims,
                };
                prep.finish(saved, out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(forward_host::<B>(input, beta, threshold, settings))
            }
        }
    }
}
