//! The fused alpha neuron ([`crate::alpha`], snnTorch `Alpha`) on the CPU backends: the time
//! loop as one operation with a hand-written backward.
//!
//! The forward recurrence is the model's, with `α`, `β` the two decays, `τ = ln α / (ln β −
//! ln α) + 1`, `R[t] = H(U[t−1] − θ)` and everything zero at `t = −1`:
//!
//! ```text
//! E' = α·E[t−1] + X[t]     I' = β·I[t−1] − X[t]     M = τ·(E' + I')
//! subtract: E[t] = E' − R·θ     I[t] = (1 − R)·I'     U[t] = M + R·I[t−1]
//! zero:     E[t] = (1 − R)·E'   I[t] = (1 − R)·I'     U[t] = (1 − R)·M
//! none:     E[t] = E'           I[t] = I'             U[t] = M
//! S[t] = H(U[t] − θ)
//! ```
//!
//! ## Backward pass
//!
//! Going back in time with `δE`, `δI` the total derivatives of `E[t]`, `I[t]` and `g_R[t+1]`
//! that of the next step's reset (zero when detached), `σ = σ'(U[t] − θ)`:
//!
//! ```text
//! g_U  = G_U[t] + σ·(G_S[t] + g_R[t+1])          ∂L/∂θ −= σ·(G_S[t] + g_R[t+1])
//! subtract: g_E' = δE + τ·g_U    g_I' = (1 − R)·δI + τ·g_U    g_M = g_U
//!           g_R[t] = −θ·δE − I'·δI + I[t−1]·g_U                ∂L/∂θ −= R·δE
//! zero:     g_E' = (1 − R)·(δE + τ·g_U)   g_I' = (1 − R)·(δI + τ·g_U)   g_M = (1 − R)·g_U
//!           g_R[t] = −E'·δE − I'·δI − M·g_U
//! ∂L/∂X[t] = g_E' − g_I'     ∂L/∂α += E[t−1]·g_E'     ∂L/∂β += I[t−1]·g_I'
//! ∂L/∂τ += (E' + I')·g_M
//! δE[t−1] = α·g_E'     δI[t−1] = β·g_I' + [subtract]·R·g_U
//! ```
//!
//! and at the end `∂L/∂θ −= σ'(−θ)·g_R[0]` (the first step's `R[0] = H(−θ)`), `∂L/∂α +=
//! ∂L/∂τ·ln β / ((ln β − ln α)²·α)`, `∂L/∂β −= ∂L/∂τ·ln α / ((ln β − ln α)²·β)`. The pass keeps
//! the input and the traces of `E`, `I`, `U` (four floats per neuron-step). Equality with the
//! step loop (burn's autodiff) is tested in values and every gradient.

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
    /// The backend operation behind [`alpha_scan`]: burn-flex, burn-ndarray and autodiff over
    /// them.
    pub trait AlphaScanBackend {
        /// Runs an alpha layer over time from rest (see [`alpha_scan`]); `settings` and
        /// `surrogate_params` are [`ScanSettings`] in encoded form.
        fn alpha_scan(input, alpha, beta, threshold);
    }
    /// The CPU backends the fused alpha scan runs on (the autodiff wrapper's inner backend).
    pub trait AlphaKernels;
    op AlphaOp, 4;
}

/// Runs an alpha layer over `input` `[T, B, N]` from rest as one fused operation: `alpha`,
/// `beta` (both clamped to `[0, 1]`) and `threshold` are `[1]` or `[N]`. Returns spikes or,
/// with `settings.output_membrane`, the membrane, `[T, B, N]`; gradients flow to all four.
/// Only where [`super::supports_cpu_scans`] holds: elsewhere this panics (callers check first).
pub fn alpha_scan(
    input: Tensor<3>,
    alpha: Tensor<1>,
    beta: Tensor<1>,
    threshold: Tensor<1>,
    settings: ScanSettings,
) -> Tensor<3> {
    assert!(
        super::supports_cpu_scans(&input.device()),
        "alpha_scan runs on the CPU backends only (check fused::supports_cpu_scans)"
    );
    let (code, params) = settings.encode();
    Tensor::from_dispatch(<Dispatch as AlphaScanBackend>::alpha_scan(
        input.into_dispatch(),
        alpha.into_dispatch(),
        beta.into_dispatch(),
        threshold.into_dispatch(),
        code,
        params,
    ))
}

/// Geometry, parameters and settings of one scan, on the host.
#[derive(Clone, Debug)]
struct AlphaScan {
    steps: usize,
    batch: usize,
    neurons: usize,
    alpha: Vec<f32>,
    beta: Vec<f32>,
    theta: Vec<f32>,
    /// `τ` per neuron, from `α` and `β`.
    tau: Vec<f32>,
    settings: ScanSettings,
    /// The shapes of input, α, β, θ.
    dims: [Vec<usize>; 4],
}

/// What the backward pass keeps: the scan, its input and the traces `E`, `I`, `U`.
#[derive(Clone, Debug)]
pub struct AlphaSaved {
    scan: AlphaScan,
    x: Vec<f32>,
    traces: [Vec<f32>; 3],
}

/// `τ = ln α / (ln β − ln α) + 1`.
fn tau(alpha: f32, beta: f32) -> f32 {
    alpha.ln() / (beta.ln() - alpha.ln()) + 1.0
}

impl AlphaScan {
    fn new<B: Backend>(
        [input, alpha, beta, threshold]: [FloatTensor<B>; 4],
        settings: ScanSettings,
    ) -> (Self, Vec<f32>) {
        let dims = [&input, &alpha, &beta, &threshold].map(|t| t.shape().to_vec());
        let [steps, batch, neurons] = [dims[0][0], dims[0][1], dims[0][2]];
        let expand = |t: FloatTensor<B>| {
            let v = Host::new::<B>(t).into_values();
            if v.len() == neurons {
                v
            } else {
                vec![v[0]; neurons]
            }
        };
        let (alpha, beta) = (expand(alpha), expand(beta));
        let tau = alpha.iter().zip(&beta).map(|(&a, &b)| tau(a, b)).collect();
        let scan = Self {
            steps,
            batch,
            neurons,
            alpha,
            beta,
            theta: expand(threshold),
            tau,
            settings,
            dims,
        };
        (scan, Host::new::<B>(input).into_values())
    }

    /// The forward recurrence; returns the output and, with `keep`, the traces `E`, `I`, `U`.
    fn forward(&self, x: &[f32], keep: bool) -> (Vec<f32>, [Vec<f32>; 3]) {
        let shape = [self.steps, self.batch, self.neurons];
        scan_blocks(shape, keep, |first_row, out, traces| {
            self.forward_block(x, first_row, out, traces)
        })
    }

    /// The forward recurrence for the rows of one block.
    fn forward_block(
        &self,
        x: &[f32],
        first_row: usize,
        out: Vec<&mut [f32]>,
        mut traces: [Vec<&mut [f32]>; 3],
    ) {
        let n = self.neurons;
        let width = out.first().map_or(0, |o| o.len());
        let (mut e, mut i, mut u) = (
            vec![0.0f32; width],
            vec![0.0f32; width],
            vec![0.0f32; width],
        );
        let reset = self.settings.reset;
        for (t, out_t) in out.into_iter().enumerate() {
            let start = (t * self.batch + first_row) * n;
            for k in 0..width {
                let j = k % n;
                let (a, b, theta) = (self.alpha[j], self.beta[j], self.theta[j]);
                let tau = self.tau[j];
                let xk = x[start + k];
                let ep = e[k] * a + xk;
                let ip = i[k] * b - xk;
                let m = tau * (ep + ip);
                let r = if reset != Reset::None && u[k] - theta > 0.0 {
                    1.0
                } else {
                    0.0
                };
                let (en, inn, un) = match reset {
                    Reset::Subtract => (ep - r * theta, ip - r * ip, m + r * i[k]),
                    Reset::Zero => {
                        let keep = 1.0 - r;
                        (ep * keep, ip * keep, m * keep)
                    }
                    Reset::None => (ep, ip, m),
                };
                e[k] = en;
                i[k] = inn;
                u[k] = un;
                out_t[k] = if self.settings.output_membrane {
                    un
                } else if un - theta > 0.0 {
                    1.0
                } else {
                    0.0
                };
            }
            for (trace, state) in traces.iter_mut().zip([&e, &i, &u]) {
                if let Some(slot) = trace.get_mut(t) {
                    slot.copy_from_slice(state);
                }
            }
        }
    }

    /// BPTT (module docs): `∂L/∂X` and the per-neuron sums for α, β, θ and τ.
    fn backward(
        &self,
        grad: &[f32],
        x: &[f32],
        traces: &[Vec<f32>; 3],
    ) -> (Vec<f32>, [Vec<f64>; 4]) {
        struct Run<'a>(&'a AlphaScan, &'a [f32], &'a [f32], &'a [Vec<f32>; 3]);
        impl WithDerivative for Run<'_> {
            type Output = (Vec<f32>, [Vec<f64>; 4]);
            fn run(self, sg: impl Fn(f32) -> f32 + Sync) -> Self::Output {
                self.0.backward_with(self.1, self.2, self.3, sg)
            }
        }
        with_derivative(self.settings.surrogate, Run(self, grad, x, traces))
    }

    fn backward_with(
        &self,
        grad: &[f32],
        x: &[f32],
        traces: &[Vec<f32>; 3],
        sg: impl Fn(f32) -> f32 + Sync,
    ) -> (Vec<f32>, [Vec<f64>; 4]) {
        let (b, n) = (self.batch, self.neurons);
        let mut gx = vec![0.0f32; grad.len()];
        let rows = rows_per_block(b, n);
        let per_block: Vec<[Vec<f64>; 4]> = row_blocks(&mut gx, b, n)
            .into_par_iter()
            .enumerate()
            .map(|(i, g)| self.backward_block(i * rows, grad, x, traces, g, &sg))
            .collect();
        (gx, sum_blocks(per_block, n))
    }

    /// BPTT for the rows of one block; returns its sums for α, β, θ and τ per neuron.
    fn backward_block(
        &self,
        first_row: usize,
        grad: &[f32],
        x: &[f32],
        [te, ti, tu]: &[Vec<f32>; 3],
        mut gx: Vec<&mut [f32]>,
        sg: &(impl Fn(f32) -> f32 + Sync),
    ) -> [Vec<f64>; 4] {
        let n = self.neurons;
        let width = gx.first().map_or(0, |g| g.len());
        let at = |t: usize| (t * self.batch + first_row) * n;
        let reset = self.settings.reset;
        let attached = !self.settings.detach_reset && reset != Reset::None;
        let membrane_out = self.settings.output_membrane;
        let (mut de, mut di, mut g_r) = (
            vec![0.0f32; width],
            vec![0.0f32; width],
            vec![0.0f32; width],
        );
        let mut sums: [Vec<f64>; 4] = std::array::from_fn(|_| vec![0.0f64; n]);
        let mut step_sums = [[0.0f32; 4]].repeat(n);
        for t in (0..self.steps).rev() {
            step_sums.iter_mut().for_each(|s| *s = [0.0; 4]);
            for k in 0..width {
                let j = k % n;
                let (a, b, theta) = (self.alpha[j], self.beta[j], self.theta[j]);
                let tau = self.tau[j];
                let now = at(t) + k;
                let (e_prev, i_prev, u_prev) = if t > 0 {
                    let p = at(t - 1) + k;
                    (te[p], ti[p], tu[p])
                } else {
                    (0.0, 0.0, 0.0)
                };
                let xk = x[now];
                let (ep, ip) = (e_prev * a + xk, i_prev * b - xk);
                let m = tau * (ep + ip);
                let r = if reset != Reset::None && u_prev - theta > 0.0 {
                    1.0
                } else {
                    0.0
                };
                let g = grad[now];
                let (g_s, g_u_out) = if membrane_out { (0.0, g) } else { (g, 0.0) };
                let sigma = sg(tu[now] - theta);
                let g_u = g_u_out + sigma * (g_s + g_r[k]);
                let sums_j = &mut step_sums[j];
                sums_j[2] -= sigma * (g_s + g_r[k]);
                let (dek, dik) = (de[k], di[k]);
                let (g_ep, g_ip, g_m, g_r_now) = match reset {
                    Reset::Subtract => {
                        sums_j[2] -= r * dek;
                        (
                            dek + tau * g_u,
                            (1.0 - r) * dik + tau * g_u,
                            g_u,
                            -theta * dek - ip * dik + i_prev * g_u,
                        )
                    }
                    Reset::Zero => {
                        let keep = 1.0 - r;
                        (
                            keep * (dek + tau * g_u),
                            keep * (dik + tau * g_u),
                            keep * g_u,
                            -ep * dek - ip * dik - m * g_u,
                        )
                    }
                    Reset::None => (dek + tau * g_u, dik + tau * g_u, g_u, 0.0),
                };
                gx[t][k] = g_ep - g_ip;
                sums_j[0] += e_prev * g_ep;
                sums_j[1] += i_prev * g_ip;
                sums_j[3] += (ep + ip) * g_m;
                de[k] = a * g_ep;
                di[k] = b * g_ip
                    + if reset == Reset::Subtract {
                        r * g_u
                    } else {
                        0.0
                    };
                g_r[k] = if attached { g_r_now } else { 0.0 };
                if t == 0 && attached {
                    // R[0] = H(U[−1] − θ) = H(−θ).
                    sums_j[2] -= sg(-theta) * g_r[k];
                }
            }
            add_step_sums(&mut sums, &step_sums);
        }
        sums
    }
}

/// The scan as a [`HostScan`] (its autodiff plumbing in [`super::host_op`]).
#[derive(Debug)]
struct AlphaOp;

impl HostScan<4> for AlphaOp {
    type Saved = AlphaSaved;

    fn forward<B: Backend>(
        tensors: [FloatTensor<B>; 4],
        settings: ScanSettings,
        keep: bool,
    ) -> (FloatTensor<B>, Option<AlphaSaved>) {
        let device = tensors[0].device();
        let (scan, x) = AlphaScan::new::<B>(tensors, settings);
        let (out, traces) = scan.forward(&x, keep);
        let out = from_host::<B>(out, &[scan.steps, scan.batch, scan.neurons], &device);
        (out, keep.then_some(AlphaSaved { scan, x, traces }))
    }

    fn backward<B: Backend>(
        saved: AlphaSaved,
        grad: FloatTensor<B>,
    ) -> [Option<FloatTensor<B>>; 4] {
        let device = grad.device();
        let grad = Host::new::<B>(grad);
        let AlphaSaved { scan, x, traces } = saved;
        let (gx, [ga, gb, gt, gtau]) = scan.backward(grad.values(), &x, &traces);
        // τ's derivatives, per neuron: dτ/dα = ln β / ((ln β − ln α)²·α), dτ/dβ = −ln α / (…·β).
        let (mut ga, mut gb) = (ga, gb);
        for j in 0..scan.neurons {
            let (a, b) = (f64::from(scan.alpha[j]), f64::from(scan.beta[j]));
            let d = (b.ln() - a.ln()).powi(2);
            ga[j] += gtau[j] * b.ln() / (d * a);
            gb[j] -= gtau[j] * a.ln() / (d * b);
        }
        let reduce = |g: &[f64], dims: &[usize]| parameter_gradient::<B>(g, dims, &device);
        let d = &scan.dims;
        [
            Some(from_host::<B>(gx, &d[0], &device)),
            Some(reduce(&ga, &d[1])),
            Some(reduce(&gb, &d[2])),
            Some(reduce(&gt, &d[3])),
        ]
    }
}
