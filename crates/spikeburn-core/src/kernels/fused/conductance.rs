//! The fused conductance-based LIF ([`crate::conductance`]) on the CPU backends: the time loop
//! as one operation with a hand-written backward.
//!
//! The forward recurrence is the model's, with `α` the conductance decay, `β` the membrane
//! decay, reversal potentials `E_e`, `E_i`, `R[t] = H(U[t−1] − θ)` and everything zero at
//! `t = −1`:
//!
//! ```text
//! g_e[t] = α·g_e[t−1] + max(X[t], 0)       g_i[t] = α·g_i[t−1] + max(−X[t], 0)
//! D[t]   = (1 − β)·(g_e[t]·(E_e − U[t−1]) + g_i[t]·(E_i − U[t−1]))
//! U[t]   = β·U[t−1] + D[t] − θ·R[t]    (zero reset: β·(1 − R[t])·U[t−1] + D[t]; none: no R)
//! S[t]   = H(U[t] − θ)
//! ```
//!
//! ## Backward pass
//!
//! With `δU[t]` the total derivative of `U[t]` (its outputs, `σ'(U[t] − θ)·G_S[t]` or
//! `G_U[t]`, plus what step `t + 1` passes back) and `δg_e`, `δg_i` those of the conductances:
//!
//! ```text
//! g_R     = [attached]·δU[t]·(−θ subtract; −β·U[t−1] zero; 0 none)
//! δU[t−1] = δU[t]·(J − (1 − β)·(g_e[t] + g_i[t])) + σ'(U[t−1] − θ)·g_R,   J = β (zero: β·(1 − R))
//! δg_e[t] += (1 − β)·(E_e − U[t−1])·δU[t]     δg_i[t] += (1 − β)·(E_i − U[t−1])·δU[t]
//! ∂L/∂X[t] = [X > 0]·δg_e[t] − [X < 0]·δg_i[t]
//! δg_e[t−1] = α·δg_e[t]    δg_i[t−1] = α·δg_i[t]    ∂L/∂α += g_e[t−1]·δg_e[t] + g_i[t−1]·δg_i[t]
//! ∂L/∂β += δU[t]·(U[t−1]·(zero ? 1 − R : 1) − g_e·(E_e − U[t−1]) − g_i·(E_i − U[t−1]))
//! ∂L/∂θ += −σ'(U[t] − θ)·G_S[t] − [subtract]·R·δU[t] − σ'(U[t−1] − θ)·g_R
//! ```
//!
//! (at `t = 0`, `U[−1] = 0`: the last θ term is the first step's reset `R[0] = H(−θ)`). The
//! pass keeps the input and the traces of `g_e`, `g_i`, `U` (four floats per neuron-step).
//! Equality with the step loop (burn's autodiff) is tested in values and every gradient.

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
    /// The backend operation behind [`conductance_scan`]: burn-flex, burn-ndarray and autodiff
    /// over them.
    pub trait ConductanceScanBackend {
        /// Runs a conductance-based LIF layer over time from rest (see [`conductance_scan`]);
        /// `reversal` holds `[E_e]` and `[E_i]` (constants); `settings` and `surrogate_params` are
        /// [`ScanSettings`] in encoded form.
        fn conductance_scan(input, alpha, beta, threshold, reversal_exc, reversal_inh);
    }
    /// The CPU backends the fused conductance scan runs on (the autodiff wrapper's inner
    /// backend).
    pub trait ConductanceKernels;
    op ConductanceOp, 6;
}

/// Runs a conductance-based LIF layer over `input` `[T, B, N]` from rest as one fused
/// operation: `alpha`, `beta` (both clamped to `[0, 1]`) and `threshold` are `[1]` or `[N]`,
/// `reversal` is `[E_e, E_i]`. Returns spikes or, with `settings.output_membrane`, the
/// membrane, `[T, B, N]`; gradients flow to the input, `alpha`, `beta` and `threshold`. Only
/// where [`super::supported`] holds: elsewhere this panics (callers check first).
pub fn conductance_scan(
    input: Tensor<3>,
    alpha: Tensor<1>,
    beta: Tensor<1>,
    threshold: Tensor<1>,
    [reversal_exc, reversal_inh]: [f32; 2],
    settings: ScanSettings,
) -> Tensor<3> {
    let device = input.device();
    assert!(
        super::supports_cpu_scans(&device),
        "conductance_scan runs on the CPU backends only (check fused::supports_cpu_scans)"
    );
    let constant = |v: f32| Tensor::<1>::from_floats([v], &device).into_dispatch();
    let (code, params) = settings.encode();
    Tensor::from_dispatch(<Dispatch as ConductanceScanBackend>::conductance_scan(
        input.into_dispatch(),
        alpha.into_dispatch(),
        beta.into_dispatch(),
        threshold.into_dispatch(),
        constant(reversal_exc),
        constant(reversal_inh),
        code,
        params,
    ))
}

/// Geometry, parameters and settings of one scan, on the host.
#[derive(Clone, Debug)]
struct ConductanceScan {
    steps: usize,
    batch: usize,
    neurons: usize,
    alpha: Vec<f32>,
    beta: Vec<f32>,
    theta: Vec<f32>,
    /// `[E_e, E_i]`.
    reversal: [f32; 2],
    settings: ScanSettings,
    /// The shapes of the six inputs.
    dims: [Vec<usize>; 6],
}

/// What the backward pass keeps: the scan, its input and the traces `g_e`, `g_i`, `U`.
#[derive(Clone, Debug)]
pub struct ConductanceSaved {
    scan: ConductanceScan,
    x: Vec<f32>,
    traces: [Vec<f32>; 3],
}

impl ConductanceScan {
    fn new<B: Backend>(tensors: [FloatTensor<B>; 6], settings: ScanSettings) -> (Self, Vec<f32>) {
        let dims = std::array::from_fn(|i| tensors[i].shape().to_vec());
        let [input, alpha, beta, threshold, exc, inh] = tensors;
        let [steps, batch, neurons] = [dims[0][0], dims[0][1], dims[0][2]];
        let expand = |t: FloatTensor<B>| {
            let v = Host::new::<B>(t).into_values();
            if v.len() == neurons {
                v
            } else {
                vec![v[0]; neurons]
            }
        };
        let scalar = |t: FloatTensor<B>| Host::new::<B>(t).values().first().copied().unwrap_or(0.0);
        let scan = Self {
            steps,
            batch,
            neurons,
            alpha: expand(alpha),
            beta: expand(beta),
            theta: expand(threshold),
            reversal: [scalar(exc), scalar(inh)],
            settings,
            dims,
        };
        (scan, Host::new::<B>(input).into_values())
    }

    /// The forward recurrence; returns the output and, with `keep`, the traces `g_e`, `g_i`,
    /// `U`.
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
        let mut state = [
            vec![0.0f32; width],
            vec![0.0f32; width],
            vec![0.0f32; width],
        ];
        let reset = self.settings.reset;
        let [ee, ei] = self.reversal;
        for (t, out_t) in out.into_iter().enumerate() {
            let start = (t * self.batch + first_row) * n;
            let [e, i, u] = &mut state;
            for k in 0..width {
                let j = k % n;
                let (a, b, theta) = (self.alpha[j], self.beta[j], self.theta[j]);
                let xk = x[start + k];
                let ge = e[k] * a + xk.max(0.0);
                let gi = i[k] * a + (-xk).max(0.0);
                let up = u[k];
                let drive = (ge * (ee - up) + gi * (ei - up)) * (1.0 - b);
                let r = if reset != Reset::None && up - theta > 0.0 {
                    1.0
                } else {
                    0.0
                };
                let un = match reset {
                    Reset::Subtract => up * b + drive - r * theta,
                    Reset::Zero => (up - r * up) * b + drive,
                    Reset::None => up * b + drive,
                };
                e[k] = ge;
                i[k] = gi;
                u[k] = un;
                out_t[k] = if self.settings.output_membrane {
                    un
                } else if un - theta > 0.0 {
                    1.0
                } else {
                    0.0
                };
            }
            for (trace, s) in traces.iter_mut().zip(&state) {
                if let Some(slot) = trace.get_mut(t) {
                    slot.copy_from_slice(s);
                }
            }
        }
    }

    /// BPTT (module docs): `∂L/∂X` and the per-neuron sums for α, β and θ.
    fn backward(
        &self,
        grad: &[f32],
        x: &[f32],
        traces: &[Vec<f32>; 3],
    ) -> (Vec<f32>, [Vec<f64>; 3]) {
        struct Run<'a>(&'a ConductanceScan, &'a [f32], &'a [f32], &'a [Vec<f32>; 3]);
        impl WithDerivative for Run<'_> {
            type Output = (Vec<f32>, [Vec<f64>; 3]);
            fn run(self, sg: impl Fn(f32) -> f32 + Sync) -> Self::Output {
                let Run(scan, grad, x, traces) = self;
                let (b, n) = (scan.batch, scan.neurons);
                let mut gx = vec![0.0f32; grad.len()];
                let rows = rows_per_block(b, n);
                let per_block: Vec<[Vec<f64>; 3]> = row_blocks(&mut gx, b, n)
                    .into_par_iter()
                    .enumerate()
                    .map(|(i, g)| scan.backward_block(i * rows, grad, x, traces, g, &sg))
                    .collect();
                (gx, sum_blocks(per_block, n))
            }
        }
        with_derivative(self.settings.surrogate, Run(self, grad, x, traces))
    }

    /// BPTT for the rows of one block; returns its sums for α, β and θ per neuron.
    fn backward_block(
        &self,
        first_row: usize,
        grad: &[f32],
        x: &[f32],
        [te, ti, tu]: &[Vec<f32>; 3],
        mut gx: Vec<&mut [f32]>,
        sg: &(impl Fn(f32) -> f32 + Sync),
    ) -> [Vec<f64>; 3] {
        let n = self.neurons;
        let width = gx.first().map_or(0, |g| g.len());
        let at = |t: usize| (t * self.batch + first_row) * n;
        let reset = self.settings.reset;
        let attached = !self.settings.detach_reset && reset != Reset::None;
        let membrane_out = self.settings.output_membrane;
        let [ee, ei] = self.reversal;
        // δU[t] as passed back from step t+1, and δg_e[t], δg_i[t].
        let mut carried = [
            vec![0.0f32; width],
            vec![0.0f32; width],
            vec![0.0f32; width],
        ];
        let mut sums: [Vec<f64>; 3] = std::array::from_fn(|_| vec![0.0f64; n]);
        let mut step_sums = [[0.0f32; 3]].repeat(n);
        for t in (0..self.steps).rev() {
            step_sums.iter_mut().for_each(|s| *s = [0.0; 3]);
            let [du, dge, dgi] = &mut carried;
            for k in 0..width {
                let j = k % n;
                let (a, b, theta) = (self.alpha[j], self.beta[j], self.theta[j]);
                let now = at(t) + k;
                let (ge_prev, gi_prev, up) = if t > 0 {
                    let p = at(t - 1) + k;
                    (te[p], ti[p], tu[p])
                } else {
                    (0.0, 0.0, 0.0)
                };
                let (ge, gi) = (te[now], ti[now]);
                let g = grad[now];
                let sigma = sg(tu[now] - theta);
                let sums_j = &mut step_sums[j];
                // δU[t]: the outputs, plus what step t+1 passed back.
                let d = du[k] + if membrane_out { g } else { g * sigma };
                if !membrane_out {
                    sums_j[2] -= g * sigma;
                }
                let r = if reset != Reset::None && up - theta > 0.0 {
                    1.0
                } else {
                    0.0
                };
                let (jac, du_dr) = match reset {
                    Reset::Subtract => (b, -theta),
                    Reset::Zero => (b * (1.0 - r), -b * up),
                    Reset::None => (b, 0.0),
                };
                let g_r = if attached { d * du_dr } else { 0.0 };
                // R[t] = H(U[t−1] − θ), with U[−1] = 0 at the first step.
                let sg_prev = sg(up - theta);
                du[k] = d * (jac - (1.0 - b) * (ge + gi)) + sg_prev * g_r;
                let dge_t = dge[k] + (1.0 - b) * (ee - up) * d;
                let dgi_t = dgi[k] + (1.0 - b) * (ei - up) * d;
                let xk = x[now];
                gx[t][k] = if xk > 0.0 {
                    dge_t
                } else if xk < 0.0 {
                    -dgi_t
                } else {
                    0.0
                };
                dge[k] = a * dge_t;
                dgi[k] = a * dgi_t;
                sums_j[0] += ge_prev * dge_t + gi_prev * dgi_t;
                let u_term = if reset == Reset::Zero {
                    (1.0 - r) * up
                } else {
                    up
                };
                sums_j[1] += d * (u_term - ge * (ee - up) - gi * (ei - up));
                if reset == Reset::Subtract {
                    sums_j[2] -= r * d;
                }
                sums_j[2] -= sg_prev * g_r;
            }
            add_step_sums(&mut sums, &step_sums);
        }
        sums
    }
}

/// The scan as a [`HostScan`] (its autodiff plumbing in [`super::host_op`]); the reversal
/// potentials are constant inputs (no gradient).
#[derive(Debug)]
struct ConductanceOp;

impl HostScan<6> for ConductanceOp {
    type Saved = ConductanceSaved;

    fn forward<B: Backend>(
        tensors: [FloatTensor<B>; 6],
        settings: ScanSettings,
        keep: bool,
    ) -> (FloatTensor<B>, Option<ConductanceSaved>) {
        let device = tensors[0].device();
        let (scan, x) = ConductanceScan::new::<B>(tensors, settings);
        let (out, traces) = scan.forward(&x, keep);
        let out = from_host::<B>(out, &[scan.steps, scan.batch, scan.neurons], &device);
        (out, keep.then_some(ConductanceSaved { scan, x, traces }))
    }

    fn backward<B: Backend>(
        saved: ConductanceSaved,
        grad: FloatTensor<B>,
    ) -> [Option<FloatTensor<B>>; 6] {
        let device = grad.device();
        let grad = Host::new::<B>(grad);
        let ConductanceSaved { scan, x, traces } = saved;
        let (gx, [ga, gb, gt]) = scan.backward(grad.values(), &x, &traces);
        let reduce = |g: &[f64], dims: &[usize]| parameter_gradient::<B>(g, dims, &device);
        let d = &scan.dims;
        [
            Some(from_host::<B>(gx, &d[0], &device)),
            Some(reduce(&ga, &d[1])),
            Some(reduce(&gb, &d[2])),
            Some(reduce(&gt, &d[3])),
            None,
            None,
        ]
    }
}
