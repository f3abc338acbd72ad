//! The fused stochastic (escape-noise) LIF ([`crate::stochastic`]) on the CPU backends: the
//! time loop as one operation with a hand-written backward, on noise drawn up front.
//!
//! The caller draws the pass's noise `ξ` `[T, B, N]` from the layer's stream in the order the
//! step loop draws it, and `p` is computed as burn-flex computes the sigmoid, so that the fused
//! pass fires where the loop fires. With `p(U) = sigmoid((U − θ)/τ_n)`, `q(U) = p·(1 − p)/τ_n`
//! (the model's derivative of the spike) and `S[−1] = 0`, `U[−1] = 0`:
//!
//! ```text
//! R[t] = S[t−1]                      (the sampled spike)
//! U[t] = β·U[t−1] + X[t] − θ·R[t]     (zero reset: β·(1 − R[t])·U[t−1] + X[t]; none: no R)
//! S[t] = [ξ[t] < p(U[t])]
//! ```
//!
//! ## Backward pass
//!
//! ```text
//! g_R[t+1] = [attached]·δU[t+1]·(−θ subtract; −β·U[t] zero)
//! δU[t]    = G_U[t] + q(U[t])·(G_S[t] + g_R[t+1]) + δU[t+1]·(β, zero reset: β·(1 − R[t+1]))
//! ∂L/∂X[t] = δU[t]     ∂L/∂β += δU[t]·U[t−1]·(zero ? 1 − R[t] : 1)
//! ∂L/∂θ   += −q(U[t])·(G_S[t] + g_R[t+1]) − [subtract]·R[t]·δU[t]
//! ```
//!
//! The pass keeps the input, the noise and the membrane trace. Equality with the step loop
//! (burn's autodiff, the same noise) is tested in values and every gradient.

#![allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.

use super::ScanSettings;
use super::host_op::{
    HostScan, add_step_sums, host_scan_extension, parameter_gradient, row_blocks, rows_per_block,
    scan_blocks, sum_blocks,
};
use crate::kernels::host::{Host, from_host};
use crate::lif::Reset;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, TensorMetadata};
use burn::prelude::*;
use rayon::prelude::*;

host_scan_extension! {
    /// The backend operation behind [`stochastic_scan`]: burn-flex, burn-ndarray and autodiff
    /// over them.
    pub trait StochasticScanBackend {
        /// Runs a stochastic LIF layer over time from rest on the noise `noise` (a constant,
        /// `[T, B, N]`; see [`stochastic_scan`]); `settings` and `surrogate_params` are
        /// [`ScanSettings`] in encoded form, the temperature `τ_n` as the first parameter.
        fn stochastic_scan(input, beta, threshold, noise);
    }
    /// The CPU backends the fused stochastic scan runs on (the autodiff wrapper's inner backend).
    pub trait StochasticKernels;
    op StochasticOp, 4;
}

/// Runs a stochastic LIF layer over `input` `[T, B, N]` from rest as one fused operation, on
/// the noise `noise` `[T, B, N]` (uniform in `[0, 1)`): `beta` (clamped) and `threshold` are
/// `[1]` or `[N]`, `temperature` is `τ_n` (its surrogate is not used). Returns spikes or,
/// with `settings.output_membrane`, the membrane; gradients flow to the input, `beta` and
/// `threshold`. Only where [`super::supports_cpu_scans`] holds: elsewhere this panics (callers check first).
pub fn stochastic_scan(
    input: Tensor<3>,
    beta: Tensor<1>,
    threshold: Tensor<1>,
    noise: Tensor<3>,
    temperature: f32,
    settings: ScanSettings,
) -> Tensor<3> {
    assert!(
        super::supports_cpu_scans(&input.device()),
        "stochastic_scan runs on the CPU backends only (check fused::supports_cpu_scans)"
    );
    // The temperature travels as the parameter of a sigmoid surrogate, which is not otherwise
    // used: the derivative is the model's own, computed from the probability.
    let settings = ScanSettings {
        surrogate: crate::surrogate::Surrogate::Sigmoid { slope: temperature },
        ..settings
    };
    let (code, params) = settings.encode();
    Tensor::from_dispatch(<Dispatch as StochasticScanBackend>::stochastic_scan(
        input.into_dispatch(),
        beta.into_dispatch(),
        threshold.into_dispatch(),
        noise.detach().into_dispatch(),
        code,
        params,
    ))
}

/// Geometry, parameters, noise and settings of one scan, on the host.
#[derive(Clone, Debug)]
struct StochasticScan {
    steps: usize,
    batch: usize,
    neurons: usize,
    beta: Vec<f32>,
    theta: Vec<f32>,
    /// `τ_n`.
    tau: f32,
    noise: Vec<f32>,
    settings: ScanSettings,
    /// The shapes of input, β, θ, noise.
    dims: [Vec<usize>; 4],
}

/// What the backward pass keeps: the scan (with its noise) and the membrane trace.
#[derive(Clone, Debug)]
pub struct StochasticSaved {
    scan: StochasticScan,
    trace: Vec<f32>,
}

impl StochasticScan {
    fn new<B: Backend>(
        tensors: [FloatTensor<B>; 4],
        tau: f32,
        settings: ScanSettings,
    ) -> (Self, Vec<f32>) {
        let dims = std::array::from_fn(|i| tensors[i].shape().to_vec());
        let [input, beta, threshold, noise] = tensors;
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
            tau,
            noise: Host::new::<B>(noise).into_values(),
            settings,
            dims,
        };
        (scan, Host::new::<B>(input).into_values())
    }

    /// The firing probability `sigmoid((u − θ)/τ_n)`, computed as burn-flex computes it.
    #[inline]
    fn probability(&self, u: f32, theta: f32) -> f32 {
        let x = (u - theta) / self.tau;
        if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            let e = x.exp();
            e / (1.0 + e)
        }
    }

    /// Whether the neuron fires at membrane `u` with noise `xi` (`p > ξ`).
    #[inline]
    fn fires(&self, u: f32, theta: f32, xi: f32) -> bool {
        self.probability(u, theta) > xi
    }

    /// The forward recurrence for the rows of one block.
    fn forward_block(
        &self,
        x: &[f32],
        first_row: usize,
        out: Vec<&mut [f32]>,
        [mut trace]: [Vec<&mut [f32]>; 1],
    ) {
        let n = self.neurons;
        let width = out.first().map_or(0, |o| o.len());
        let (mut u, mut s) = (vec![0.0f32; width], vec![0.0f32; width]);
        let reset = self.settings.reset;
        for (t, out_t) in out.into_iter().enumerate() {
            let start = (t * self.batch + first_row) * n;
            for k in 0..width {
                let j = k % n;
                let (beta, theta) = (self.beta[j], self.theta[j]);
                let r = if reset == Reset::None { 0.0 } else { s[k] };
                let prev = u[k];
                let next = match reset {
                    Reset::Subtract => prev * beta + x[start + k] - r * theta,
                    Reset::Zero => (prev - r * prev) * beta + x[start + k],
                    Reset::None => prev * beta + x[start + k],
                };
                let fired = if self.fires(next, theta, self.noise[start + k]) {
                    1.0
                } else {
                    0.0
                };
                u[k] = next;
                s[k] = fired;
                out_t[k] = if self.settings.output_membrane {
                    next
                } else {
                    fired
                };
            }
            if let Some(tr) = trace.get_mut(t) {
                tr.copy_from_slice(&u);
            }
        }
    }

    /// BPTT (module docs): `∂L/∂X` and the per-neuron sums for β and θ.
    fn backward(&self, grad: &[f32], trace: &[f32]) -> (Vec<f32>, [Vec<f64>; 2]) {
        let (b, n) = (self.batch, self.neurons);
        let mut gx = vec![0.0f32; grad.len()];
        let rows = rows_per_block(b, n);
        let per_block: Vec<[Vec<f64>; 2]> = row_blocks(&mut gx, b, n)
            .into_par_iter()
            .enumerate()
            .map(|(i, g)| self.backward_block(i * rows, grad, trace, g))
            .collect();
        (gx, sum_blocks(per_block, n))
    }

    /// BPTT for the rows of one block; returns its sums for β and θ per neuron.
    fn backward_block(
        &self,
        first_row: usize,
        grad: &[f32],
        trace: &[f32],
        mut gx: Vec<&mut [f32]>,
    ) -> [Vec<f64>; 2] {
        let n = self.neurons;
        let width = gx.first().map_or(0, |g| g.len());
        let at = |t: usize| (t * self.batch + first_row) * n;
        let reset = self.settings.reset;
        let attached = !self.settings.detach_reset && reset != Reset::None;
        let membrane_out = self.settings.output_membrane;
        let mut delta = vec![0.0f32; width];
        let mut sums: [Vec<f64>; 2] = std::array::from_fn(|_| vec![0.0f64; n]);
        let mut step_sums = [[0.0f32; 2]].repeat(n);
        for t in (0..self.steps).rev() {
            step_sums.iter_mut().for_each(|s| *s = [0.0; 2]);
            let has_next = t + 1 < self.steps;
            for k in 0..width {
                let j = k % n;
                let (beta, theta) = (self.beta[j], self.theta[j]);
                let now = at(t) + k;
                let un = trace[now];
                let up = if t > 0 { trace[at(t - 1) + k] } else { 0.0 };
                // R[t] = S[t−1], R[t+1] = S[t].
                let r = if reset != Reset::None && t > 0 {
                    let fired = self.fires(up, theta, self.noise[at(t - 1) + k]);
                    if fired { 1.0 } else { 0.0 }
                } else {
                    0.0
                };
                let g = grad[now];
                let (g_s, g_u) = if membrane_out { (0.0, g) } else { (g, 0.0) };
                let p = self.probability(un, theta);
                let q = p * (1.0 - p) / self.tau;
                let mut d = g_u;
                let mut spike_grad = g_s;
                if has_next {
                    let dn = delta[k];
                    // S[t], from the probability already computed.
                    let r_next = if reset != Reset::None && p > self.noise[now] {
                        1.0
                    } else {
                        0.0
                    };
                    let (jac, du_dr) = match reset {
                        Reset::Subtract => (beta, -theta),
                        Reset::Zero => (beta * (1.0 - r_next), -beta * un),
                        Reset::None => (beta, 0.0),
                    };
                    d += dn * jac;
                    if attached {
                        spike_grad += dn * du_dr;
                    }
                }
                d += q * spike_grad;
                let sums_j = &mut step_sums[j];
                sums_j[1] -= q * spike_grad;
                if reset == Reset::Subtract {
                    sums_j[1] -= r * d;
                }
                sums_j[0] += d * if reset == Reset::Zero {
                    (1.0 - r) * up
                } else {
                    up
                };
                gx[t][k] = d;
                delta[k] = d;
            }
            add_step_sums(&mut sums, &step_sums);
        }
        sums
    }
}

/// The scan as a [`HostScan`] (its autodiff plumbing in [`super::host_op`]); the noise is a
/// constant input (no gradient).
#[derive(Debug)]
struct StochasticOp;

impl HostScan<4> for StochasticOp {
    type Saved = StochasticSaved;

    fn forward<B: Backend>(
        tensors: [FloatTensor<B>; 4],
        settings: ScanSettings,
        keep: bool,
    ) -> (FloatTensor<B>, Option<StochasticSaved>) {
        let device = tensors[0].device();
        // The temperature travels as the (otherwise unused) surrogate's parameter.
        let tau = match settings.surrogate {
            crate::surrogate::Surrogate::Sigmoid { slope } => slope,
            _ => 1.0,
        };
        let (scan, x) = StochasticScan::new::<B>(tensors, tau, settings);
        let shape = [scan.steps, scan.batch, scan.neurons];
        let (out, [trace]) = scan_blocks(shape, keep, |first_row, o, traces| {
            scan.forward_block(&x, first_row, o, traces)
        });
        let out = from_host::<B>(out, &shape, &device);
        (out, keep.then_some(StochasticSaved { scan, trace }))
    }

    fn backward<B: Backend>(
        saved: StochasticSaved,
        grad: FloatTensor<B>,
    ) -> [Option<FloatTensor<B>>; 4] {
        let device = grad.device();
        let grad = Host::new::<B>(grad);
        let StochasticSaved { scan, trace } = saved;
        let (gx, [gb, gt]) = scan.backward(grad.values(), &trace);
        let d = &scan.dims;
        [
            Some(from_host::<B>(gx, &d[0], &device)),
            Some(parameter_gradient::<B>(&gb, &d[1], &device)),
            Some(parameter_gradient::<B>(&gt, &d[2], &device)),
            None,
        ]
    }
}
