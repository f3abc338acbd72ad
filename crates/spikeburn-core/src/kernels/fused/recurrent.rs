//! The fused all-to-all recurrent LIF layer ([`crate::recurrent`], snnTorch `RLeaky`) on the
//! CPU backends: the time loop as one operation, its feedback a product with the previous
//! step's spikes, and a hand-written backward.
//!
//! The forward recurrence is the model's, with `W` burn's `[in, out]` weight and `b` the bias
//! (`S[−1] = 0`, `U[−1] = 0`):
//!
//! ```text
//! V[t] = S[t−1]·W + b                          the feedback (spikes are 0/1: a sum of rows of W)
//! U[t] = LIF update of crate::lif with the drive X[t] + V[t] and R[t] = H(U[t−1] − θ)
//! S[t] = H(U[t] − θ)
//! ```
//!
//! ## Backward pass
//!
//! As the LIF scan's ([`super`]), with the gradient that reaches `S[t]` through the next
//! step's feedback, `F[t] = δ[t+1]·Wᵀ` (one small GEMM per step and block of rows), added to
//! the spike's own gradient (never detached):
//!
//! ```text
//! δ[t]   = G[t]·(spikes ? σ'(U[t]−θ) : 1) + δ[t+1]·J[t+1] + σ'(U[t]−θ)·F[t]
//! ∂L/∂θ += −σ'(U[t]−θ)·F[t]
//! ∂L/∂W  = Σ_t S[t−1]ᵀ·δ[t]              one GEMM over all steps and samples
//! ∂L/∂b  = Σ_t Σ_batch δ[t]
//! ```
//!
//! with `J` and the other terms of `∂L/∂β`, `∂L/∂θ` as in [`super`]. Only `U[t]` is kept (the
//! spikes are recomputed from it). Equality with the step loop (burn's autodiff, its GEMM per
//! step) is tested in values and in the gradients of `X`, β, θ, `W` and `b`.

#![allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.

use super::ScanSettings;
use super::host_op::{
    HostScan, WithDerivative, host_scan_extension, parameter_gradient, row_blocks, rows_per_block,
    scan_blocks, sum_blocks, with_derivative,
};
use crate::kernels::host::{Host, from_host};
use crate::kernels::matmul::matmul;
use crate::lif::Reset;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, TensorMetadata};
use burn::prelude::*;
use rayon::prelude::*;

host_scan_extension! {
    /// The backend operation behind [`recurrent_scan`]: burn-flex, burn-ndarray and autodiff over
    /// them.
    pub trait RecurrentScanBackend {
        /// Runs an all-to-all recurrent LIF layer over time from rest (see [`recurrent_scan`]);
        /// `settings` and `surrogate_params` are [`ScanSettings`] in encoded form.
        fn recurrent_scan(input, beta, threshold, weight, bias);
    }
    /// The CPU backends the fused recurrent scan runs on (the autodiff wrapper's inner backend).
    pub trait RecurrentKernels;
    op RecurrentOp, 5;
}

/// Runs an all-to-all recurrent LIF layer over `input` `[T, B, N]` from rest as one fused
/// operation: `beta` (clamped) and `threshold` `[1]` or `[N]`, `weight` `[N, N]` (burn's
/// `[in, out]`), `bias` `[N]`. Returns spikes or, with `settings.output_membrane`, the
/// membrane, `[T, B, N]`; gradients flow to all five. Only where [`super::supports_cpu_scans`] holds: elsewhere
/// this panics (callers check first).
pub fn recurrent_scan(
    input: Tensor<3>,
    beta: Tensor<1>,
    threshold: Tensor<1>,
    weight: Tensor<2>,
    bias: Tensor<1>,
    settings: ScanSettings,
) -> Tensor<3> {
    assert!(
        super::supports_cpu_scans(&input.device()),
        "recurrent_scan runs on the CPU backends only (check fused::supports_cpu_scans)"
    );
    let (code, params) = settings.encode();
    Tensor::from_dispatch(<Dispatch as RecurrentScanBackend>::recurrent_scan(
        input.into_dispatch(),
        beta.into_dispatch(),
        threshold.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        code,
        params,
    ))
}

/// Geometry, parameters and settings of one scan, on the host.
#[derive(Clone, Debug)]
struct RecurrentScan {
    steps: usize,
    batch: usize,
    neurons: usize,
    beta: Vec<f32>,
    theta: Vec<f32>,
    /// `W`, `[in, out]` row-major.
    weight: Vec<f32>,
    bias: Vec<f32>,
    settings: ScanSettings,
    /// The shapes of input, β, θ, W, b (for their gradients).
    dims: [Vec<usize>; 5],
}

/// What the backward pass keeps: the scan and the membrane trace `U[t]`.
#[derive(Clone, Debug)]
pub struct RecurrentSaved {
    scan: RecurrentScan,
    trace: Vec<f32>,
}

impl RecurrentScan {
    /// Reads the parameters; returns the scan and the input's values.
    fn new<B: Backend>(
        [input, beta, threshold, weight, bias]: [FloatTensor<B>; 5],
        settings: ScanSettings,
    ) -> (Self, Vec<f32>) {
        let dims = [&input, &beta, &threshold, &weight, &bias].map(|t| t.shape().to_vec());
        let [steps, batch, neurons] = [dims[0][0], dims[0][1], dims[0][2]];
        let expand = |t: FloatTensor<B>| {
            let v = Host::new::<B>(t).into_values();
            if v.len() == neurons {
                v
            } else {
                vec![v[0]; neurons]
            }
        };
        let scan = Self {
            steps,
            batch,
            neurons,
            beta: expand(beta),
            theta: expand(threshold),
            weight: Host::new::<B>(weight).into_values(),
            bias: Host::new::<B>(bias).into_values(),
            settings,
            dims,
        };
        (scan, Host::new::<B>(input).into_values())
    }

    /// The forward recurrence; returns the output and, with `keep`, the trace `U`.
    fn forward(&self, x: &[f32], keep: bool) -> (Vec<f32>, Vec<f32>) {
        let shape = [self.steps, self.batch, self.neurons];
        let (out, [trace]) = scan_blocks(shape, keep, |first_row, o, [tr]| {
            match self.settings.reset {
                Reset::Subtract => self.forward_block::<0>(x, first_row, o, tr),
                Reset::Zero => self.forward_block::<1>(x, first_row, o, tr),
                Reset::None => self.forward_block::<2>(x, first_row, o, tr),
            }
        });
        (out, trace)
    }

    /// The forward recurrence for the rows of one block. `RESET`: 0 subtract, 1 zero, 2 none.
    fn forward_block<const RESET: u8>(
        &self,
        x: &[f32],
        first_row: usize,
        out: Vec<&mut [f32]>,
        mut trace: Vec<&mut [f32]>,
    ) {
        let n = self.neurons;
        let width = out.first().map_or(0, |o| o.len());
        let mut u = vec![0.0f32; width];
        let mut drive = vec![0.0f32; n];
        for (t, out_t) in out.into_iter().enumerate() {
            let start = (t * self.batch + first_row) * n;
            for (row, u_row) in u.chunks_exact_mut(n).enumerate() {
                // V[t] = S[t−1]·W + b: the rows of W of the neurons that fired.
                drive.copy_from_slice(&self.bias);
                if t > 0 {
                    for (i, (&up, &theta)) in u_row.iter().zip(&self.theta).enumerate() {
                        if up - theta > 0.0 {
                            let w = &self.weight[i * n..(i + 1) * n];
                            drive.iter_mut().zip(w).for_each(|(d, &w)| *d += w);
                        }
                    }
                }
                let x_row = &x[start + row * n..start + (row + 1) * n];
                let o_row = &mut out_t[row * n..(row + 1) * n];
                for j in 0..n {
                    let (beta, theta) = (self.beta[j], self.theta[j]);
                    let prev = u_row[j];
                    let r = if RESET != 2 && prev - theta > 0.0 {
                        1.0
                    } else {
                        0.0
                    };
                    let input = x_row[j] + drive[j];
                    let next = match RESET {
                        0 => prev * beta + input - r * theta,
                        1 => (prev - r * prev) * beta + input,
                        _ => prev * beta + input,
                    };
                    u_row[j] = next;
                    o_row[j] = if self.settings.output_membrane {
                        next
                    } else if next - theta > 0.0 {
                        1.0
                    } else {
                        0.0
                    };
                }
            }
            if let Some(tr) = trace.get_mut(t) {
                tr.copy_from_slice(&u);
            }
        }
    }

    /// BPTT (module docs): `∂L/∂X`, the per-neuron sums for β and θ, `∂L/∂W` and `∂L/∂b`.
    fn backward(&self, grad: &[f32], trace: &[f32]) -> Grads {
        struct Run<'a>(&'a RecurrentScan, &'a [f32], &'a [f32]);
        impl WithDerivative for Run<'_> {
            type Output = Grads;
            fn run(self, sg: impl Fn(f32) -> f32 + Sync) -> Grads {
                self.0.backward_with(self.1, self.2, sg)
            }
        }
        with_derivative(self.settings.surrogate, Run(self, grad, trace))
    }

    fn backward_with(&self, grad: &[f32], trace: &[f32], sg: impl Fn(f32) -> f32 + Sync) -> Grads {
        let (b, n) = (self.batch, self.neurons);
        let mut gx = vec![0.0f32; grad.len()];
        let rows = rows_per_block(b, n);
        let s = self.settings;
        let per_block: Vec<[Vec<f64>; 2]> = row_blocks(&mut gx, b, n)
            .into_par_iter()
            .enumerate()
            .map(|(i, g)| {
                let args = (i * rows, grad, trace, g, &sg);
                let attached = !s.detach_reset;
                match s.reset {
                    Reset::Subtract => self.backward_block::<0>(args, attached),
                    Reset::Zero => self.backward_block::<1>(args, attached),
                    Reset::None => self.backward_block::<2>(args, false),
                }
            })
            .collect();
        let [beta, threshold] = sum_blocks(per_block, n);
        let weight = self.weight_gradient(trace, &gx);
        let mut bias = vec![0.0f64; n];
        for row in gx.chunks_exact(n) {
            bias.iter_mut()
                .zip(row)
                .for_each(|(s, &g)| *s += f64::from(g));
        }
        Grads {
            input: gx,
            beta,
            threshold,
            weight,
            bias: bias.into_iter().map(|v| v as f32).collect(),
        }
    }

    /// `∂L/∂W = Σ_t S[t−1]ᵀ·δ[t]` as one product over all steps and samples, its output rows
    /// (the presynaptic neurons) split over threads.
    fn weight_gradient(&self, trace: &[f32], delta: &[f32]) -> Vec<f32> {
        let (bn, n) = (self.batch * self.neurons, self.neurons);
        let mut weight = vec![0.0f32; n * n];
        if self.steps < 2 || n == 0 {
            return weight;
        }
        // S[t] for t < T − 1 from the trace, and δ[t] for t ≥ 1: M = (T − 1)·B rows each.
        let spikes: Vec<f32> = trace[..(self.steps - 1) * bn]
            .iter()
            .enumerate()
            .map(|(k, &u)| {
                if u - self.theta[k % n] > 0.0 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let delta = &delta[bn..];
        let m = spikes.len() / n;
        let chunk = n.div_ceil(rayon::current_num_threads().max(1)).max(16);
        weight
            .par_chunks_mut(chunk * n)
            .enumerate()
            .for_each(|(c, dst)| {
                let first = c * chunk;
                let rows = dst.len() / n;
                // dst [rows, n] = S[:, first..first+rows]ᵀ [rows, M] · δ [M, n]
                matmul(
                    dst,
                    (n, 1),
                    (&spikes[first..], 1, n),
                    (delta, n, 1),
                    [rows, n, m],
                    false,
                );
            });
        weight
    }

    /// BPTT for the rows of one block; returns its sums for β and θ per neuron.
    #[allow(clippy::type_complexity)]
    fn backward_block<const RESET: u8>(
        &self,
        (first_row, grad, trace, mut gx, sg): (
            usize,
            &[f32],
            &[f32],
            Vec<&mut [f32]>,
            &(impl Fn(f32) -> f32 + Sync),
        ),
        attached: bool,
    ) -> [Vec<f64>; 2] {
        let (t_len, n) = (self.steps, self.neurons);
        let width = gx.first().map_or(0, |g| g.len());
        let block_rows = width / n;
        let at = |t: usize| (t * self.batch + first_row) * n;
        let membrane_out = self.settings.output_membrane;
        let mut delta = vec![0.0f32; width];
        let mut feedback = vec![0.0f32; width];
        let (mut gbeta, mut gtheta) = (vec![0.0f64; n], vec![0.0f64; n]);
        let (mut gbeta_t, mut gtheta_t) = (vec![0.0f32; n], vec![0.0f32; n]);
        for t in (0..t_len).rev() {
            let has_next = t + 1 < t_len;
            if has_next {
                // F[t] = δ[t+1]·Wᵀ: rhs element (k = out, col = in) is W[in, out].
                matmul(
                    &mut feedback,
                    (n, 1),
                    (&delta, n, 1),
                    (&self.weight, 1, n),
                    [block_rows, n, n],
                    false,
                );
            }
            gbeta_t.fill(0.0);
            gtheta_t.fill(0.0);
            for k in 0..width {
                let j = k % n;
                let (beta, theta) = (self.beta[j], self.theta[j]);
                let un = trace[at(t) + k];
                let up = if t > 0 { trace[at(t - 1) + k] } else { 0.0 };
                let g = grad[at(t) + k];
                let sg_now = sg(un - theta);
                let mut d = if membrane_out { g } else { g * sg_now };
                let mut gt = if membrane_out { 0.0 } else { -g * sg_now };
                if has_next {
                    let jac = match RESET {
                        0 => beta - if attached { theta * sg_now } else { 0.0 },
                        1 => {
                            let r_next = if un - theta > 0.0 { 1.0 } else { 0.0 };
                            (1.0 - r_next) * beta - if attached { beta * un * sg_now } else { 0.0 }
                        }
                        _ => beta,
                    };
                    d += delta[k] * jac + sg_now * feedback[k];
                    gt -= sg_now * feedback[k];
                }
                let r = if RESET != 2 && up - theta > 0.0 {
                    1.0
                } else {
                    0.0
                };
                gbeta_t[j] += if RESET == 1 {
                    d * (1.0 - r) * up
                } else {
                    d * up
                };
                gt += d * match RESET {
                    0 => {
                        -r + if attached {
                            theta * sg(up - theta)
                        } else {
                            0.0
                        }
                    }
                    1 if attached => beta * up * sg(up - theta),
                    _ => 0.0,
                };
                gtheta_t[j] += gt;
                gx[t][k] = d;
                delta[k] = d;
            }
            for j in 0..n {
                gbeta[j] += f64::from(gbeta_t[j]);
                gtheta[j] += f64::from(gtheta_t[j]);
            }
        }
        [gbeta, gtheta]
    }
}

/// The gradients of one scan.
struct Grads {
    input: Vec<f32>,
    beta: Vec<f64>,
    threshold: Vec<f64>,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// The scan as a [`HostScan`] (its autodiff plumbing in [`super::host_op`]).
#[derive(Debug)]
struct RecurrentOp;

impl HostScan<5> for RecurrentOp {
    type Saved = RecurrentSaved;

    /// The forward pass alone, or with the trace for the backward pass.
    fn forward<B: Backend>(
        tensors: [FloatTensor<B>; 5],
        settings: ScanSettings,
        keep: bool,
    ) -> (FloatTensor<B>, Option<RecurrentSaved>) {
        let device = tensors[0].device();
        let (scan, x) = RecurrentScan::new::<B>(tensors, settings);
        let (out, trace) = scan.forward(&x, keep);
        let out = from_host::<B>(out, &[scan.steps, scan.batch, scan.neurons], &device);
        (out, keep.then_some(RecurrentSaved { scan, trace }))
    }

    fn backward<B: Backend>(
        saved: RecurrentSaved,
        grad: FloatTensor<B>,
    ) -> [Option<FloatTensor<B>>; 5] {
        let device = grad.device();
        let grad = Host::new::<B>(grad);
        let RecurrentSaved { scan, trace } = saved;
        let g = scan.backward(grad.values(), &trace);
        let reduce = |g: &[f64], dims: &[usize]| parameter_gradient::<B>(g, dims, &device);
        let d = &scan.dims;
        [
            Some(from_host::<B>(g.input, &d[0], &device)),
            Some(reduce(&g.beta, &d[1])),
            Some(reduce(&g.threshold, &d[2])),
            Some(from_host::<B>(g.weight, &d[3], &device)),
            Some(from_host::<B>(g.bias, &d[4], &device)),
        ]
    }
}
