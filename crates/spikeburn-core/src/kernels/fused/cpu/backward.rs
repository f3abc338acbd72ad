//! The backward pass of the CPU scan: BPTT over all steps per block of batch rows, in place
//! over the incoming gradient (equations in the [fused module](super::super)).

use super::super::host_op::{WithDerivative, sum_blocks, wide_vectors, with_derivative};
use super::{Scan, Trace};
use crate::lif::Reset;
use rayon::prelude::*;

/// The incoming gradient `∂L/∂S` (or `∂L/∂U`) of a backward pass, `[T, B, N]`.
pub(super) enum Incoming<'a> {
    /// To overwrite with `∂L/∂X`, step by step.
    InPlace(&'a mut [f32]),
    /// Read only: the input was constant over time, and `∂L/∂X` is a new `[B, N]` sum.
    Read(&'a [f32]),
}

/// The incoming gradient `∂L/∂S` (or `∂L/∂U`) of one block's backward pass, per step.
enum GradBlock<'a> {
    /// Overwritten with `∂L/∂X[t]` once step `t` has read it.
    InPlace(Vec<&'a mut [f32]>),
    /// Read only, the whole `[T, B, N]` gradient, where the input was constant over time:
    /// `∂L/∂X` is summed over steps into the block's `[rows, N]` buffer `summed`.
    Read {
        grad: &'a [f32],
        summed: &'a mut [f32],
    },
}

/// One block's membrane trace: `U[t]` of the block's first element is at `values[t·step +
/// offset]`, the rest of the block's `width` elements after it.
#[derive(Clone, Copy)]
struct TraceView<'a> {
    values: &'a [f32],
    step: usize,
    offset: usize,
}

impl TraceView<'_> {
    /// Index of the block's first element at step `t`.
    #[inline]
    fn at(&self, t: usize) -> usize {
        t * self.step + self.offset
    }
}

/// The arguments of one block's backward pass: its first batch row, the incoming gradient, the
/// block's membrane trace, the surrogate derivative and the block's rows of the carried
/// `δ` (see [`Scan::backward`]).
type BlockArgs<'a, F> = (
    usize,
    GradBlock<'a>,
    TraceView<'a>,
    &'a F,
    Option<&'a mut [f32]>,
);

/// The gradients of one scan: `∂L/∂X` where the input was constant over time (`[B, N]`; else
/// it overwrote the incoming gradient), and `∂L/∂β`, `∂L/∂θ`, `∂L/∂v` per neuron in `f64`.
pub(super) struct Grads {
    pub(super) input: Option<Vec<f32>>,
    pub(super) beta: Vec<f64>,
    pub(super) threshold: Vec<f64>,
    pub(super) feedback: Vec<f64>,
}

impl Scan {
    /// The backward pass; `grad` is `[T, B, N]`, `trace` the forward pass's membrane trace
    /// (`[T, B, N]`, or recomputed here block by block). Returns `∂L/∂X` (shaped like the
    /// input), `∂L/∂β`, `∂L/∂θ` and `∂L/∂v` per neuron. `∂L/∂X[t]` overwrites `grad[t]` once
    /// step `t` has read it, so the pass allocates no `[T, B, N]` buffer of its own (with a
    /// constant input, `∂L/∂X` is a new `[B, N]` sum over steps).
    ///
    /// For a segment of a longer sequence, `carry` (`[B, N]`) holds on entry `δ` of the next
    /// segment's first step (`dL/dU` at `T`, flowing back through `J[T]`) and on exit `δ[0]`
    /// of this one; without it `δ[T] = 0`.
    pub(super) fn backward(
        &self,
        grad: Incoming<'_>,
        trace: &Trace,
        carry: Option<&mut [f32]>,
    ) -> Grads {
        struct Run<'a>(&'a Scan, Incoming<'a>, &'a Trace, Option<&'a mut [f32]>);
        impl WithDerivative for Run<'_> {
            type Output = Grads;
            fn run(self, sg: impl Fn(f32) -> f32 + Sync) -> Grads {
                self.0.backward_with(self.1, self.2, self.3, sg)
            }
        }
        with_derivative(self.settings.surrogate, Run(self, grad, trace, carry))
    }

    fn backward_with(
        &self,
        grad: Incoming<'_>,
        trace: &Trace,
        carry: Option<&mut [f32]>,
        sg: impl Fn(f32) -> f32 + Sync,
    ) -> Grads {
        let (b_len, n) = (self.batch, self.neurons);
        let rows = self.rows_per_block();
        let mut summed = Vec::new();
        let blocks: Vec<GradBlock<'_>> = match grad {
            Incoming::InPlace(grad) => self
                .blocks(grad)
                .into_iter()
                .map(GradBlock::InPlace)
                .collect(),
            Incoming::Read(grad) => {
                summed = vec![0.0f32; b_len * n];
                summed
                    .chunks_mut(rows * n)
                    .map(|summed| GradBlock::Read { grad, summed })
                    .collect()
            }
        };
        let carries: Vec<Option<&mut [f32]>> = match carry {
            Some(carry) => carry.chunks_mut((rows * n).max(1)).map(Some).collect(),
            None => blocks.iter().map(|_| None).collect(),
        };
        let run = |first_row: usize, g: GradBlock<'_>, carry: Option<&mut [f32]>| {
            let width = rows.min(b_len - first_row) * n;
            let recomputed;
            let trace = match trace {
                Trace::InInput(host) => TraceView {
                    values: host.values(),
                    step: b_len * n,
                    offset: first_row * n,
                },
                Trace::Recompute => {
                    recomputed = self.recompute_trace(first_row, width);
                    TraceView {
                        values: &recomputed,
                        step: width,
                        offset: 0,
                    }
                }
            };
            let args = (first_row, g, trace, &sg, carry);
            if wide_vectors() {
                // SAFETY: the CPU has AVX2 and FMA (checked by `wide_vectors`).
                unsafe { self.backward_wide(args) }
            } else {
                self.backward_any(args)
            }
        };
        // Blocks in parallel, their β/θ sums added in block order (not rayon's split order),
        // so the totals do not depend on the thread count.
        let per_block: Vec<[Vec<f64>; 3]> = blocks
            .into_par_iter()
            .zip(carries)
            .enumerate()
            .map(|(i, (g, carry))| run(i * rows, g, carry))
            .collect();
        let [gbeta, gtheta, gfeedback] = sum_blocks(per_block, n);
        Grads {
            input: self.constant.then_some(summed),
            beta: gbeta,
            threshold: gtheta,
            feedback: gfeedback,
        }
    }

    /// [`backward_any`](Self::backward_any) compiled for AVX2 and FMA (see [`wide_vectors`]).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::type_complexity)]
    unsafe fn backward_wide(
        &self,
        args: BlockArgs<'_, impl Fn(f32) -> f32 + Sync>,
    ) -> [Vec<f64>; 3] {
        self.backward_any(args)
    }

    /// Stands in for the AVX2 build of the backward pass where the target has none.
    #[cfg(not(target_arch = "x86_64"))]
    #[allow(clippy::type_complexity)]
    unsafe fn backward_wide(
        &self,
        args: BlockArgs<'_, impl Fn(f32) -> f32 + Sync>,
    ) -> [Vec<f64>; 3] {
        self.backward_any(args)
    }

    /// The backward pass of one block, monomorphised for reset, output, detach and feedback.
    #[inline(always)]
    #[allow(clippy::type_complexity)]
    fn backward_any(&self, args: BlockArgs<'_, impl Fn(f32) -> f32 + Sync>) -> [Vec<f64>; 3] {
        let s = self.settings;
        macro_rules! dispatch {
            ($args:expr, $feedback:literal, $acc:literal) => {
                match (s.reset, s.output_membrane, s.detach_reset) {
                    (Reset::Subtract, false, true) => {
                        self.backward_block::<0, false, false, $feedback, $acc>($args)
                    }
                    (Reset::Subtract, false, false) => {
                        self.backward_block::<0, false, true, $feedback, $acc>($args)
                    }
                    (Reset::Subtract, true, true) => {
                        self.backward_block::<0, true, false, $feedback, $acc>($args)
                    }
                    (Reset::Subtract, true, false) => {
                        self.backward_block::<0, true, true, $feedback, $acc>($args)
                    }
                    (Reset::Zero, false, true) => {
                        self.backward_block::<1, false, false, $feedback, $acc>($args)
                    }
                    (Reset::Zero, false, false) => {
                        self.backward_block::<1, false, true, $feedback, $acc>($args)
                    }
                    (Reset::Zero, true, true) => {
                        self.backward_block::<1, true, false, $feedback, $acc>($args)
                    }
                    (Reset::Zero, true, false) => {
                        self.backward_block::<1, true, true, $feedback, $acc>($args)
                    }
                    (Reset::None, false, _) => {
                        self.backward_block::<2, false, false, $feedback, $acc>($args)
                    }
                    (Reset::None, true, _) => {
                        self.backward_block::<2, true, false, $feedback, $acc>($args)
                    }
                }
            };
        }
        // A constant input's gradient is summed over steps (`ACCUMULATE`); else it overwrites
        // the incoming gradient. Both are compile-time choices: a branch per element halves
        // the element loop's speed.
        match (self.has_feedback, matches!(args.1, GradBlock::Read { .. })) {
            (true, true) => dispatch!(args, true, true),
            (true, false) => dispatch!(args, true, false),
            (false, true) => dispatch!(args, false, true),
            (false, false) => dispatch!(args, false, false),
        }
    }

    /// The refractory gates `[c[t] = 0]` of one block's elements, `[T, width]`, recomputed
    /// from the block's membrane trace as the forward pass computed them
    /// (`R[t] = H(U[t−1] − θ)`); empty without a refractory period.
    fn refractory_gates(&self, trace: TraceView<'_>, width: usize) -> Vec<bool> {
        let k = self.settings.refractory;
        if k == 0 {
            return Vec::new();
        }
        let n = self.neurons;
        let mut open = Vec::with_capacity(self.steps * width);
        let mut counter = vec![0usize; width];
        for t in 0..self.steps {
            for (e, c) in counter.iter_mut().enumerate() {
                let prev = if t > 0 {
                    trace.values[trace.at(t - 1) + e]
                } else {
                    0.0
                };
                *c = if prev - self.threshold[e % n] > 0.0 {
                    k
                } else {
                    c.saturating_sub(1)
                };
                open.push(*c == 0);
            }
        }
        open
    }

    /// BPTT over all steps for the rows of one block (equations in the module docs). Returns
    /// this block's `∂L/∂β`, `∂L/∂θ` and `∂L/∂v` per neuron. `RESET`: 0 subtract, 1 zero,
    /// 2 none; `MEMBRANE`: the output was `U`; `ATTACHED`: the reset is not detached;
    /// `FEEDBACK`: the one-to-one feedback weight `v`.
    #[allow(clippy::type_complexity)]
    #[inline(always)]
    fn backward_block<
        const RESET: u8,
        const MEMBRANE: bool,
        const ATTACHED: bool,
        const FEEDBACK: bool,
        const ACCUMULATE: bool,
    >(
        &self,
        (first_row, grad, trace, sg, carry): BlockArgs<'_, impl Fn(f32) -> f32 + Sync>,
    ) -> [Vec<f64>; 3] {
        let (t_len, b_len, n) = (self.steps, self.batch, self.neurons);
        // Per step, the gradient to read `∂L/∂S[t]` from and the buffer that gets `∂L/∂X[t]`:
        // the incoming gradient itself (overwritten once read), or, with `ACCUMULATE`, the
        // read-only incoming gradient and the block's sum over steps.
        let (mut in_place, read, summed) = match grad {
            GradBlock::InPlace(blocks) => (blocks, &[][..], &mut [][..]),
            GradBlock::Read { grad, summed } => (Vec::new(), grad, summed),
        };
        let width = if ACCUMULATE {
            summed.len()
        } else {
            in_place.first().map_or(0, |g| g.len())
        };
        let block_rows = width / n;
        let at = |t: usize| (t * b_len + first_row) * n;
        let mut gbeta = vec![0.0f64; n];
        let mut gtheta = vec![0.0f64; n];
        let mut gfeedback = vec![0.0f64; n];
        // δ[t+1] while step t runs: from the next segment where the scan is one (`carry`, left
        // holding δ[0] for the previous segment), else from δ[T] = 0.
        let carried = carry.is_some();
        let mut own;
        let delta: &mut [f32] = match carry {
            Some(carry) => carry,
            None => {
                own = vec![0.0f32; width];
                &mut own
            }
        };
        // U[−1]: the previous segment's last membrane, or rest.
        let zeros;
        let initial: &[f32] = match &self.initial {
            Some(u0) => &u0[first_row * n..first_row * n + width],
            None => {
                zeros = vec![0.0f32; width];
                &zeros
            }
        };
        let open = self.refractory_gates(trace, width);
        for t in (0..t_len).rev() {
            let u = &trace.values[trace.at(t)..trace.at(t) + width];
            let u_prev = if t > 0 {
                &trace.values[trace.at(t - 1)..trace.at(t - 1) + width]
            } else {
                initial
            };
            let (src_t, g_t): (&[f32], &mut [f32]) = if ACCUMULATE {
                (&read[at(t)..at(t) + width], &mut *summed)
            } else {
                (&[], &mut *in_place[t])
            };
            let has_next = t + 1 < t_len || carried;
            // This step's β and θ gradients, summed over the block's rows in f32, then added
            // to the f64 totals.
            // Fresh each step: with the three buffers allocated once per block and zeroed here
            // instead, the element loop below ran at half speed (its share of the tutorial-5
            // step in perf 12.8 % → 29.6 %, the step 12.0 → 14.4 ms on flex, AMD EPYC; three
            // `fill`s instead of a loop over the three did not help).
            let mut gbeta_t = vec![0.0f32; n];
            let mut gtheta_t = vec![0.0f32; n];
            let mut gfeedback_t = vec![0.0f32; n];
            for row in 0..block_rows {
                let span = row * n..(row + 1) * n;
                let (u, u_prev) = (&u[span.clone()], &u_prev[span.clone()]);
                let delta = &mut delta[span.clone()];
                // ∂L/∂S[t] on entry, ∂L/∂X[t] on exit (or, with ACCUMULATE, read from
                // `src_row` and added to the sum).
                let src_row: &[f32] = if ACCUMULATE {
                    &src_t[span.clone()]
                } else {
                    &[]
                };
                let g_row = &mut g_t[span];
                let (beta, threshold) = (&self.beta[..n], &self.threshold[..n]);
                let (gbeta_t, gtheta_t) = (&mut gbeta_t[..n], &mut gtheta_t[..n]);
                let (feedback, gfeedback_t) = (&self.feedback[..n], &mut gfeedback_t[..n]);
                for j in 0..n {
                    let (beta, theta, v) = (beta[j], threshold[j], feedback[j]);
                    let (un, up) = (u[j], u_prev[j]);
                    let sg_now = sg(un - theta);
                    let g = if ACCUMULATE { src_row[j] } else { g_row[j] };
                    let mut d = if MEMBRANE { g } else { g * sg_now };
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
                        // U[t+1] receives v·S[t], S[t] = H(U[t] − θ), never detached.
                        let jac = if FEEDBACK { jac + v * sg_now } else { jac };
                        d += delta[j] * jac;
                    }
                    delta[j] = d;
                    let r = if RESET != 2 && up - theta > 0.0 {
                        1.0
                    } else {
                        0.0
                    };
                    // The refractory gate multiplies the input, so also its gradient.
                    let dx = if open.is_empty() || open[t * width + row * n + j] {
                        d
                    } else {
                        0.0
                    };
                    if ACCUMULATE {
                        g_row[j] += dx;
                    } else {
                        g_row[j] = dx;
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
                    if FEEDBACK && (t > 0 || self.initial.is_some()) {
                        // ∂U[t]/∂θ through v·S[t−1], and ∂U[t]/∂v = S[t−1].
                        gt -= d * v * sg(up - theta);
                        if up - theta > 0.0 {
                            gfeedback_t[j] += d;
                        }
                    }
                    if !MEMBRANE {
                        gt -= g * sg_now;
                    }
                    gtheta_t[j] += gt;
                }
            }
            for j in 0..n {
                gbeta[j] += f64::from(gbeta_t[j]);
                gtheta[j] += f64::from(gtheta_t[j]);
                if FEEDBACK {
                    gfeedback[j] += f64::from(gfeedback_t[j]);
                }
            }
        }
        [gbeta, gtheta, gfeedback]
    }
}
