//! The fused adaptive LIF layer ([`crate::adaptive`], Bellec et al. 2018) on the CPU backends:
//! the whole time loop as one operation with a hand-written backward, as [`super`] does for
//! the LIF.
//!
//! The forward recurrence is the model's (`ϑ = θ + γ·a` the adaptive threshold, `σ'` the
//! surrogate derivative, `U[−1] = a[−1] = 0`):
//!
//! ```text
//! F[t] = H(U[t−1] − θ − γ·a[t−1])             the previous step's spike (F[0] = H(−θ))
//! a[t] = ρ·a[t−1] + (1 − ρ)·F[t]
//! U[t] = β·U[t−1] + X[t] − R[t]·(θ + γ·a[t−1])  subtract reset, R = F (detached or not)
//!      = β·(1 − R[t])·U[t−1] + X[t]              zero reset;   β·U[t−1] + X[t]   no reset
//! S[t] = H(z[t]),  z[t] = U[t] − θ − γ·a[t]
//! ```
//!
//! ## Backward pass
//!
//! Two total derivatives run backwards from `δU[T] = δa[T] = 0`, with the output gradients
//! `G_S[t]` (spikes) or `G_U[t]` (membrane), `[att]` = 1 when the reset is not detached and
//! `[sub]` = 1 for the subtract reset. `F[t+1] = H(z[t])`, so the gradient reaching it from
//! step `t + 1`,
//!
//! ```text
//! g[t] = (1 − ρ)·δa[t+1] + [att]·∂U[t+1]/∂R·δU[t+1],   ∂U[t+1]/∂R = −(θ + γ·a[t])  subtract
//!                                                                = −β·U[t]         zero
//! ```
//!
//! joins the spike's own gradient: `q[t] = σ'(z[t])·(G_S[t] + g[t])`, and
//!
//! ```text
//! δU[t] = G_U[t] + q[t] + J[t+1]·δU[t+1],     J = β (zero reset: β·(1 − R[t+1]))
//! δa[t] = −γ·q[t] + ρ·δa[t+1] − [sub]·γ·R[t+1]·δU[t+1]
//! ∂L/∂X[t] = δU[t]
//! ∂L/∂β = Σ δU[t]·U[t−1]·(zero reset ? 1 − R[t] : 1)
//! ∂L/∂θ = Σ −q[t] − [sub]·δU[t]·R[t]  −  σ'(−θ)·g[−1]
//! ∂L/∂γ = Σ −q[t]·a[t] − [sub]·δU[t]·R[t]·a[t−1]
//! ∂L/∂ρ = Σ δa[t]·(a[t−1] − F[t])
//! ```
//!
//! where the last θ term is the first step's `F[0] = H(−θ)`, with `g[−1] = (1 − ρ)·δa[0] −
//! [att]·[sub]·θ·δU[0]`. The backward pass keeps `U[t]` and `a[t]` (two floats per
//! neuron-step). Sums over batch (and neurons, for a shared scalar) are per block of rows in
//! `f32` per step, then `f64`, added in block order (independent of the thread count).
//!
//! Equality with the step loop of [`crate::adaptive::AdaptiveLif`] (burn's autodiff) is tested
//! in values and in every gradient, for every reset, detach flag and several surrogates.
//! burn-wgpu runs the step loop ([`super::supported`]).

#![allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.

use super::ScanSettings;
use super::host_op::{
    HostScan, WithDerivative, add_step_sums, host_scan_extension, parameter_gradient, row_blocks,
    rows_per_block, scan_blocks, sum_blocks, with_derivative,
};
use crate::kernels::host::{Host, from_host};
use crate::lif::Reset;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, TensorMetadata};
use burn::prelude::*;
use rayon::prelude::*;

host_scan_extension! {
    /// The backend operation behind [`adaptive_scan`]: burn-flex, burn-ndarray and autodiff over
    /// them.
    pub trait AdaptiveScanBackend {
        /// Runs an adaptive LIF layer over time from rest (see [`adaptive_scan`]); `settings` and
        /// `surrogate_params` are [`ScanSettings`] in encoded form.
        fn adaptive_scan(input, beta, threshold, decay, strength);
    }
    /// The CPU backends the fused adaptive scan runs on (the autodiff wrapper's inner backend).
    pub trait AdaptiveKernels;
    op AdaptiveOp, 5;
}

/// Runs an adaptive LIF layer over `input` `[T, B, N]` from rest as one fused operation:
/// `beta` (clamped), `threshold`, `decay` `ρ` (clamped) and `strength` `γ` are `[1]` or `[N]`.
/// Returns spikes or, with `settings.output_membrane`, the membrane, `[T, B, N]`. Gradients
/// flow to all five (equations in the [module docs](self)). Only where [`super::supports_cpu_scans`] holds:
/// elsewhere this panics (callers check first).
pub fn adaptive_scan(
    input: Tensor<3>,
    beta: Tensor<1>,
    threshold: Tensor<1>,
    decay: Tensor<1>,
    strength: Tensor<1>,
    settings: ScanSettings,
) -> Tensor<3> {
    assert!(
        super::supports_cpu_scans(&input.device()),
        "adaptive_scan runs on the CPU backends only (check fused::supports_cpu_scans)"
    );
    let (code, params) = settings.encode();
    Tensor::from_dispatch(<Dispatch as AdaptiveScanBackend>::adaptive_scan(
        input.into_dispatch(),
        beta.into_dispatch(),
        threshold.into_dispatch(),
        decay.into_dispatch(),
        strength.into_dispatch(),
        code,
        params,
    ))
}

/// The scan's parameters per neuron, on the host.
#[derive(Clone, Debug)]
struct Params {
    beta: Vec<f32>,
    theta: Vec<f32>,
    rho: Vec<f32>,
    gamma: Vec<f32>,
}

/// Geometry, parameters and settings of one scan.
#[derive(Clone, Debug)]
struct AdaptiveScan {
    batch: usize,
    neurons: usize,
    steps: usize,
    params: Params,
    settings: ScanSettings,
    /// The shapes of input, β, θ, ρ, γ (for their gradients).
    dims: [Vec<usize>; 5],
}

/// What the backward pass keeps: the scan and the traces `U[t]`, `a[t]`.
#[derive(Clone, Debug)]
pub struct AdaptiveSaved {
    scan: AdaptiveScan,
    membrane: Vec<f32>,
    adaptation: Vec<f32>,
}

impl AdaptiveScan {
    /// Reads the parameters; returns the scan and the input's values.
    fn new<B: Backend>(
        [input, beta, threshold, decay, strength]: [FloatTensor<B>; 5],
        settings: ScanSettings,
    ) -> (Self, Vec<f32>) {
        let dims = [&input, &beta, &threshold, &decay, &strength].map(|t| t.shape().to_vec());
        let [steps, batch, neurons] = [dims[0][0], dims[0][1], dims[0][2]];
        let expand = |t: FloatTensor<B>| {
            let v = Host::new::<B>(t).into_values();
            if v.len() == neurons {
                v
            } else {
                vec![v[0]; neurons]
            }
        };
        let params = Params {
            beta: expand(beta),
            theta: expand(threshold),
            rho: expand(decay),
            gamma: expand(strength),
        };
        let scan = Self {
            batch,
            neurons,
            steps,
            params,
            settings,
            dims,
        };
        (scan, Host::new::<B>(input).into_values())
    }

    /// The forward recurrence; returns the output and, with `keep`, the traces `U` and `a`.
    fn forward(&self, x: &[f32], keep: bool) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let shape = [self.steps, self.batch, self.neurons];
        let (out, [u_trace, a_trace]) =
            scan_blocks(shape, keep, |first_row, o, [ut, at]| {
                match self.settings.reset {
                    Reset::Subtract => self.forward_block::<0>(x, first_row, o, ut, at),
                    Reset::Zero => self.forward_block::<1>(x, first_row, o, ut, at),
                    Reset::None => self.forward_block::<2>(x, first_row, o, ut, at),
                }
            });
        (out, u_trace, a_trace)
    }

    /// The forward recurrence for the rows of one block. `RESET`: 0 subtract, 1 zero, 2 none.
    fn forward_block<const RESET: u8>(
        &self,
        x: &[f32],
        first_row: usize,
        out: Vec<&mut [f32]>,
        mut u_trace: Vec<&mut [f32]>,
        mut a_trace: Vec<&mut [f32]>,
    ) {
        let n = self.neurons;
        let width = out.first().map_or(0, |o| o.len());
        let (mut u, mut a) = (vec![0.0f32; width], vec![0.0f32; width]);
        let p = &self.params;
        let membrane_out = self.settings.output_membrane;
        for (t, out_t) in out.into_iter().enumerate() {
            let start = (t * self.batch + first_row) * n;
            let x = &x[start..start + width];
            for k in 0..width {
                let j = k % n;
                let (beta, theta, rho, gamma) = (p.beta[j], p.theta[j], p.rho[j], p.gamma[j]);
                let (u_prev, a_prev) = (u[k], a[k]);
                let previous = theta + gamma * a_prev;
                let fired = if u_prev - previous > 0.0 { 1.0 } else { 0.0 };
                let a_now = rho * a_prev + (1.0 - rho) * fired;
                let u_now = match RESET {
                    0 => u_prev * beta + x[k] - fired * previous,
                    1 => (u_prev - fired * u_prev) * beta + x[k],
                    _ => u_prev * beta + x[k],
                };
                u[k] = u_now;
                a[k] = a_now;
                out_t[k] = if membrane_out {
                    u_now
                } else if u_now - (theta + gamma * a_now) > 0.0 {
                    1.0
                } else {
                    0.0
                };
            }
            if let Some(ut) = u_trace.get_mut(t) {
                ut.copy_from_slice(&u);
            }
            if let Some(at) = a_trace.get_mut(t) {
                at.copy_from_slice(&a);
            }
        }
    }

    /// BPTT (module docs): `∂L/∂X` and the per-neuron sums for β, θ, ρ, γ.
    fn backward(&self, grad: &[f32], u: &[f32], a: &[f32]) -> (Vec<f32>, [Vec<f64>; 4]) {
        struct Run<'a>(&'a AdaptiveScan, &'a [f32], &'a [f32], &'a [f32]);
        impl WithDerivative for Run<'_> {
            type Output = (Vec<f32>, [Vec<f64>; 4]);
            fn run(self, sg: impl Fn(f32) -> f32 + Sync) -> Self::Output {
                self.0.backward_with(self.1, self.2, self.3, sg)
            }
        }
        with_derivative(self.settings.surrogate, Run(self, grad, u, a))
    }

    fn backward_with(
        &self,
        grad: &[f32],
        u: &[f32],
        a: &[f32],
        sg: impl Fn(f32) -> f32 + Sync,
    ) -> (Vec<f32>, [Vec<f64>; 4]) {
        let (b, n) = (self.batch, self.neurons);
        let mut gx = vec![0.0f32; grad.len()];
        let rows = rows_per_block(b, n);
        let s = self.settings;
        let per_block: Vec<[Vec<f64>; 4]> = row_blocks(&mut gx, b, n)
            .into_par_iter()
            .enumerate()
            .map(|(i, g)| {
                let args = (i * rows, grad, u, a, g, &sg);
                match (s.reset, s.output_membrane, s.detach_reset) {
                    (Reset::Subtract, m, d) => self.backward_block::<0>(args, m, !d),
                    (Reset::Zero, m, d) => self.backward_block::<1>(args, m, !d),
                    (Reset::None, m, _) => self.backward_block::<2>(args, m, false),
                }
            })
            .collect();
        let sums = sum_blocks(per_block, n);
        (gx, sums)
    }

    /// BPTT for the rows of one block; returns its sums for β, θ, ρ, γ per neuron.
    #[allow(clippy::type_complexity)]
    fn backward_block<const RESET: u8>(
        &self,
        (first_row, grad, u, a, mut gx, sg): (
            usize,
            &[f32],
            &[f32],
            &[f32],
            Vec<&mut [f32]>,
            &(impl Fn(f32) -> f32 + Sync),
        ),
        membrane_out: bool,
        attached: bool,
    ) -> [Vec<f64>; 4] {
        let (t_len, n) = (self.steps, self.neurons);
        let width = gx.first().map_or(0, |g| g.len());
        let at = |t: usize| (t * self.batch + first_row) * n;
        let p = &self.params;
        let subtract = RESET == 0;
        let (mut du_next, mut da_next) = (vec![0.0f32; width], vec![0.0f32; width]);
        let mut sums: [Vec<f64>; 4] = std::array::from_fn(|_| vec![0.0f64; n]);
        // Per step: [β, θ, ρ, γ] sums over the block's rows in f32, then added in f64.
        let mut step_sums = [[0.0f32; 4]].repeat(n);
        for t in (0..t_len).rev() {
            let has_next = t + 1 < t_len;
            step_sums.iter_mut().for_each(|s| *s = [0.0; 4]);
            for k in 0..width {
                let j = k % n;
                let (beta, theta, rho, gamma) = (p.beta[j], p.theta[j], p.rho[j], p.gamma[j]);
                let (u_now, a_now) = (u[at(t) + k], a[at(t) + k]);
                let (u_prev, a_prev) = if t > 0 {
                    (u[at(t - 1) + k], a[at(t - 1) + k])
                } else {
                    (0.0, 0.0)
                };
                let g = grad[at(t) + k];
                let (g_s, g_u) = if membrane_out { (0.0, g) } else { (g, 0.0) };
                let z = u_now - theta - gamma * a_now;
                let sigma = sg(z);
                let (mut gf, mut du, mut da) = (0.0f32, g_u, 0.0f32);
                if has_next {
                    let (dun, dan) = (du_next[k], da_next[k]);
                    let r_next = if z > 0.0 { 1.0 } else { 0.0 };
                    let du_dr = match RESET {
                        0 => -(theta + gamma * a_now),
                        1 => -beta * u_now,
                        _ => 0.0,
                    };
                    gf = (1.0 - rho) * dan + if attached { du_dr * dun } else { 0.0 };
                    let jac = if RESET == 1 {
                        beta * (1.0 - r_next)
                    } else {
                        beta
                    };
                    du += jac * dun;
                    da += rho * dan - if subtract { gamma * r_next * dun } else { 0.0 };
                }
                let q = sigma * (g_s + gf);
                du += q;
                da -= gamma * q;
                gx[t][k] = du;
                let fired = if u_prev - (theta + gamma * a_prev) > 0.0 {
                    1.0
                } else {
                    0.0
                };
                let r = if RESET == 2 { 0.0 } else { fired };
                let sums_j = &mut step_sums[j];
                sums_j[0] += du
                    * if RESET == 1 {
                        (1.0 - r) * u_prev
                    } else {
                        u_prev
                    };
                sums_j[1] += -q - if subtract { du * r } else { 0.0 };
                sums_j[2] += da * (a_prev - fired);
                sums_j[3] += -q * a_now - if subtract { du * r * a_prev } else { 0.0 };
                if t == 0 {
                    // F[0] = H(−θ): its gradient g[−1] reaches θ only.
                    let g0 = (1.0 - rho) * da
                        - if attached && subtract {
                            theta * du
                        } else {
                            0.0
                        };
                    sums_j[1] -= sg(-theta) * g0;
                }
                du_next[k] = du;
                da_next[k] = da;
            }
            add_step_sums(&mut sums, &step_sums);
        }
        sums
    }
}

/// The scan as a [`HostScan`] (its autodiff plumbing in [`super::host_op`]).
#[derive(Debug)]
struct AdaptiveOp;

impl HostScan<5> for AdaptiveOp {
    type Saved = AdaptiveSaved;

    /// The forward pass alone, or with the traces for the backward pass.
    fn forward<B: Backend>(
        tensors: [FloatTensor<B>; 5],
        settings: ScanSettings,
        keep: bool,
    ) -> (FloatTensor<B>, Option<AdaptiveSaved>) {
        let device = tensors[0].device();
        let (scan, x) = AdaptiveScan::new::<B>(tensors, settings);
        let (out, membrane, adaptation) = scan.forward(&x, keep);
        let out = from_host::<B>(out, &[scan.steps, scan.batch, scan.neurons], &device);
        let saved = keep.then_some(AdaptiveSaved {
            scan,
            membrane,
            adaptation,
        });
        (out, saved)
    }

    fn backward<B: Backend>(
        saved: AdaptiveSaved,
        grad: FloatTensor<B>,
    ) -> [Option<FloatTensor<B>>; 5] {
        let device = grad.device();
        let grad = Host::new::<B>(grad);
        let AdaptiveSaved {
            scan,
            membrane,
            adaptation,
        } = saved;
        let (gx, sums) = scan.backward(grad.values(), &membrane, &adaptation);
        let reduce = |g: &[f64], dims: &[usize]| parameter_gradient::<B>(g, dims, &device);
        let [beta, theta, rho, gamma] = &sums;
        let d = &scan.dims;
        [
            Some(from_host::<B>(gx, &d[0], &device)),
            Some(reduce(beta, &d[1])),
            Some(reduce(theta, &d[2])),
            Some(reduce(rho, &d[3])),
            Some(reduce(gamma, &d[4])),
        ]
    }
}
