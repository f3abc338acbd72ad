//! The fused scan on the CPU backends (burn-flex, burn-ndarray): plain Rust loops over host
//! buffers, parallel over batch rows with rayon, the neuron axis as the vectorisable inner loop
//! and `T` as the sequential loop (equations in the [parent module](super)). The forward pass
//! and the backend glue are here, the backward pass (BPTT) in `backward.rs`.

#![allow(deprecated)] // burn-ndarray is deprecated in burn 0.22; supported on purpose.

use super::host_op::{parameter_gradient, row_blocks, rows_per_block, wide_vectors};
use super::{ScanKernels, ScanSettings};
use crate::kernels::host::{Host, from_host};
use crate::lif::Reset;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata};
use rayon::prelude::*;
use std::mem::MaybeUninit;

mod backward;
mod segments;

use backward::Incoming;
pub(crate) use segments::{DenseScan, KeptInput, keep_input};

/// One parallel task's share of a `[T, B, N]` buffer: its rows' slice at every step.
/// The same for an output buffer not yet written (it is never zero-filled: the forward pass
/// writes every element).
type UninitBlock<'a> = Vec<&'a mut [MaybeUninit<f32>]>;

/// Where one block's forward pass keeps the membrane trace `U[t]`, per step.
enum TraceBlock<'a> {
    /// Nowhere (inference, or a trace the backward pass recomputes).
    None,
    /// In the input's buffer: `X[t]` on entry, overwritten with `U[t]` once step `t` has read it.
    InPlace(Vec<&'a mut [f32]>),
}

/// The largest block-local membrane trace, in bytes, that the backward pass recomputes from
/// the input instead of the forward pass storing the trace of the whole layer (see
/// [`Scan::recomputes`]): the block's `T` steps of about 4k neurons then stay in the core's
/// cache between the recomputation and their use.
const RECOMPUTE_BYTES: usize = 1 << 20;

/// Geometry and inputs of one scan, on the host.
#[derive(Clone, Debug)]
struct Scan {
    /// The input `X`. In training, either kept for the backward pass, which recomputes the
    /// membrane trace from it ([`Trace::Recompute`]), or overwritten with the trace
    /// ([`Trace::InInput`]) and emptied: the saved state holds at most one float per
    /// neuron-step.
    x: Host,
    /// The shape of `X`.
    x_dims: Vec<usize>,
    beta: Vec<f32>,
    threshold: Vec<f32>,
    /// The one-to-one feedback weight `v` per neuron (zeros without feedback).
    feedback: Vec<f32>,
    /// Whether the scan has a feedback weight.
    has_feedback: bool,
    steps: usize,
    batch: usize,
    neurons: usize,
    constant: bool,
    settings: ScanSettings,
    /// The membrane `U[−1]` (`[B, N]`) where the scan continues an earlier segment of the
    /// sequence ([`super::linear_lif`]); `None` from rest. A continued scan also takes the
    /// feedback of its first step's previous spike `v·H(U[−1] − θ)`.
    initial: Option<Vec<f32>>,
}

impl Scan {
    fn new<B: Backend>(
        input: FloatTensor<B>,
        beta: FloatTensor<B>,
        threshold: FloatTensor<B>,
        feedback: Option<FloatTensor<B>>,
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
            x_dims: dims.clone(),
            x,
            beta: expand(Host::new::<B>(beta).into_values()),
            threshold: expand(Host::new::<B>(threshold).into_values()),
            has_feedback: feedback.is_some(),
            feedback: feedback.map_or_else(
                || vec![0.0; neurons],
                |f| expand(Host::new::<B>(f).into_values()),
            ),
            steps,
            batch,
            neurons,
            constant,
            settings,
            initial: None,
        }
    }

    /// The scan of a later segment of a sequence: it starts from the membrane `initial`
    /// (`[B, N]`, the previous segment's last `U`) instead of rest. Not with a refractory
    /// period (its counters are not carried over) nor a constant input.
    fn continuing(mut self, initial: Vec<f32>) -> Self {
        debug_assert!(self.settings.refractory == 0 && !self.constant);
        debug_assert_eq!(initial.len(), self.batch * self.neurons);
        self.initial = Some(initial);
        self
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

    /// Runs the forward recurrence (inference: no trace); returns the output `[T, B, N]`.
    fn forward(&self) -> Vec<f32> {
        self.run_forward(None)
    }

    /// Whether training recomputes the membrane trace in the backward pass, block by block,
    /// from the kept input `X` ([`Trace::Recompute`]) rather than keeping `U[t]` for every
    /// neuron-step: always for an input constant over time (its `X` is `[B, N]`, so the saved
    /// state shrinks from `T·B·N` floats to `B·N`), and for a sequence where a block's trace
    /// fits [`RECOMPUTE_BYTES`] (the forward pass then writes no trace: the saved state is `X`,
    /// as large as `U`, and the recomputed trace is read from cache instead of memory).
    /// Measured on the tutorial-5 step (AMD EPYC, 2 cores): see README.md, "Performance".
    fn recomputes(&self) -> bool {
        self.constant
            || self.steps * self.rows_per_block() * self.neurons * size_of::<f32>()
                <= RECOMPUTE_BYTES
    }

    /// Runs the forward recurrence for training; returns the output `[T, B, N]` and where the
    /// backward pass finds the membrane trace: recomputed from the kept input where
    /// [`recomputes`](Self::recomputes), else written over the input's own buffer (`U[t]`
    /// over `X[t]` once step `t` has read it; [`x`](Self::x) is emptied), so that training
    /// holds no `[T, B, N]` buffer besides the output and the trace even at the peak.
    fn forward_train(&mut self) -> (Vec<f32>, Trace) {
        if self.recomputes() {
            return (self.run_forward(None), Trace::Recompute);
        }
        let mut buffer = std::mem::replace(&mut self.x, Host::empty());
        let out = self.run_forward(Some(buffer.values_mut()));
        (out, Trace::InInput(buffer))
    }

    /// The forward recurrence with the trace written over the input in `in_place` (read from
    /// there instead of [`x`](Self::x)), or not kept.
    fn run_forward(&self, in_place: Option<&mut [f32]>) -> Vec<f32> {
        let size = self.steps * self.batch * self.neurons;
        let mut out: Vec<f32> = Vec::with_capacity(size);
        let out_blocks = self.blocks(&mut out.spare_capacity_mut()[..size]);
        let trace_blocks: Vec<TraceBlock<'_>> = match in_place {
            Some(buffer) => self
                .blocks(buffer)
                .into_iter()
                .map(TraceBlock::InPlace)
                .collect(),
            None => out_blocks.iter().map(|_| TraceBlock::None).collect(),
        };
        let run = |(first_row, out, trace): (usize, UninitBlock<'_>, TraceBlock<'_>)| {
            if wide_vectors() {
                // SAFETY: the CPU has AVX2 and FMA (checked by `wide_vectors`).
                unsafe { self.forward_wide(first_row, out, trace) }
            } else {
                self.forward_any(first_row, out, trace)
            }
        };
        let rows = self.rows_per_block();
        out_blocks
            .into_par_iter()
            .zip(trace_blocks)
            .enumerate()
            .for_each(|(i, (o, t))| run((i * rows, o, t)));
        // SAFETY: the blocks partition `out[..size]`, and `forward_block` writes every element
        // of every block at every step.
        unsafe { out.set_len(size) };
        out
    }

    /// The membrane trace `U[t]` of the block of rows from `first_row`, `width` values per
    /// step (`[T, width]`), recomputed from the kept input by the forward pass's own code, so
    /// it equals the trace the forward pass computed bit for bit.
    fn recompute_trace(&self, first_row: usize, width: usize) -> Vec<f32> {
        let size = self.steps * width;
        let mut trace: Vec<f32> = Vec::with_capacity(size);
        let steps: UninitBlock<'_> = trace.spare_capacity_mut()[..size]
            .chunks_mut(width.max(1))
            .collect();
        if wide_vectors() {
            // SAFETY: the CPU has AVX2 and FMA (checked by `wide_vectors`).
            unsafe { self.membrane_wide(first_row, steps) }
        } else {
            self.membrane_any(first_row, steps)
        }
        // SAFETY: `forward_block` wrote every element of every step.
        unsafe { trace.set_len(size) };
        trace
    }

    /// [`membrane_any`](Self::membrane_any) compiled for AVX2 and FMA (see [`wide_vectors`]).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn membrane_wide(&self, first_row: usize, out: UninitBlock<'_>) {
        self.membrane_any(first_row, out)
    }

    /// Stands in for the AVX2 build of the recomputation where the target has none.
    #[cfg(not(target_arch = "x86_64"))]
    unsafe fn membrane_wide(&self, first_row: usize, out: UninitBlock<'_>) {
        self.membrane_any(first_row, out)
    }

    /// The forward pass of one block with the membrane as its output (the trace).
    #[inline(always)]
    fn membrane_any(&self, first_row: usize, out: UninitBlock<'_>) {
        let none = TraceBlock::None;
        match (self.settings.reset, self.has_feedback) {
            (Reset::Subtract, false) => self.forward_block::<0, true, false>(first_row, out, none),
            (Reset::Subtract, true) => self.forward_block::<0, true, true>(first_row, out, none),
            (Reset::Zero, false) => self.forward_block::<1, true, false>(first_row, out, none),
            (Reset::Zero, true) => self.forward_block::<1, true, true>(first_row, out, none),
            (Reset::None, false) => self.forward_block::<2, true, false>(first_row, out, none),
            (Reset::None, true) => self.forward_block::<2, true, true>(first_row, out, none),
        }
    }

    /// Batch rows handled by one parallel task: about 4k neurons of state per task, at most
    /// [`MAX_ROWS_PER_BLOCK`] rows (so a batch of 128 gives 16 tasks or more).
    ///
    /// It depends on the layer's shape only, never on the thread count: the β and θ gradients
    /// are summed per block and the blocks added in block order, so a fixed decomposition
    /// makes them, and so training, bit-identical for any `RAYON_NUM_THREADS`.
    fn rows_per_block(&self) -> usize {
        rows_per_block(self.batch, self.neurons)
    }

    /// [`row_blocks`] of a buffer of this scan's shape.
    fn blocks<'a, T>(&self, buffer: &'a mut [T]) -> Vec<Vec<&'a mut [T]>> {
        row_blocks(buffer, self.batch, self.neurons)
    }

    /// [`forward_any`](Self::forward_any) compiled for AVX2 and FMA (see [`wide_vectors`]).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn forward_wide(&self, first_row: usize, out: UninitBlock<'_>, trace: TraceBlock<'_>) {
        self.forward_any(first_row, out, trace)
    }

    /// Stands in for the AVX2 build of the forward pass where the target has none.
    #[cfg(not(target_arch = "x86_64"))]
    unsafe fn forward_wide(&self, first_row: usize, out: UninitBlock<'_>, trace: TraceBlock<'_>) {
        self.forward_any(first_row, out, trace)
    }

    /// The forward pass of one block, monomorphised for feedback, reset and output.
    #[inline(always)]
    fn forward_any(&self, first_row: usize, out: UninitBlock<'_>, trace: TraceBlock<'_>) {
        if self.has_feedback {
            self.forward_reset::<true>(first_row, out, trace)
        } else {
            self.forward_reset::<false>(first_row, out, trace)
        }
    }

    /// [`forward_block`](Self::forward_block) monomorphised for the reset and the output.
    #[inline(always)]
    fn forward_reset<const FEEDBACK: bool>(
        &self,
        first_row: usize,
        out: UninitBlock<'_>,
        trace: TraceBlock<'_>,
    ) {
        match (self.settings.reset, self.settings.output_membrane) {
            (Reset::Subtract, false) => {
                self.forward_block::<0, false, FEEDBACK>(first_row, out, trace)
            }
            (Reset::Subtract, true) => {
                self.forward_block::<0, true, FEEDBACK>(first_row, out, trace)
            }
            (Reset::Zero, false) => self.forward_block::<1, false, FEEDBACK>(first_row, out, trace),
            (Reset::Zero, true) => self.forward_block::<1, true, FEEDBACK>(first_row, out, trace),
            (Reset::None, false) => self.forward_block::<2, false, FEEDBACK>(first_row, out, trace),
            (Reset::None, true) => self.forward_block::<2, true, FEEDBACK>(first_row, out, trace),
        }
    }

    /// The forward recurrence over all steps for the rows of one block. `RESET`: 0 subtract,
    /// 1 zero, 2 none; `MEMBRANE`: output `U` instead of `S`; `FEEDBACK`: add `v·S[t−1]`.
    #[inline(always)]
    fn forward_block<const RESET: u8, const MEMBRANE: bool, const FEEDBACK: bool>(
        &self,
        first_row: usize,
        mut out: UninitBlock<'_>,
        mut trace: TraceBlock<'_>,
    ) {
        let n = self.neurons;
        let width = out.first().map_or(0, |o| o.len());
        let mut u = match &self.initial {
            Some(u0) => u0[first_row * n..first_row * n + width].to_vec(),
            None => vec![0.0f32; width],
        };
        let continues = self.initial.is_some();
        // The refractory counters c (all 0 without a refractory period).
        let mut counter = vec![0usize; width];
        let refractory = self.settings.refractory;
        for t in 0..self.steps {
            let x: &[f32] = match &trace {
                TraceBlock::InPlace(input) => &input[t][..width],
                _ => {
                    let start = self.x_index(t, first_row);
                    &self.x.values()[start..start + width]
                }
            };
            let o = &mut out[t][..width];
            for ((row_u, row_c), (row_x, row_o)) in u
                .chunks_exact_mut(n)
                .zip(counter.chunks_exact_mut(n))
                .zip(x.chunks_exact(n).zip(o.chunks_exact_mut(n)))
            {
                for ((((((u, c), &x), o), &beta), &theta), &v) in row_u
                    .iter_mut()
                    .zip(row_c.iter_mut())
                    .zip(row_x)
                    .zip(row_o.iter_mut())
                    .zip(&self.beta)
                    .zip(&self.threshold)
                    .zip(&self.feedback)
                {
                    let prev = *u;
                    // No input for the `k` steps after a spike (crate::refractory).
                    let x = if refractory > 0 {
                        *c = if prev - theta > 0.0 {
                            refractory
                        } else {
                            c.saturating_sub(1)
                        };
                        if *c == 0 { x } else { 0.0 }
                    } else {
                        x
                    };
                    // The previous step's spike through the feedback weight (none at t = 0
                    // from rest).
                    let x = if FEEDBACK && (t > 0 || continues) && prev - theta > 0.0 {
                        x + v
                    } else {
                        x
                    };
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
                    o.write(if MEMBRANE {
                        next
                    } else if next - theta > 0.0 {
                        1.0
                    } else {
                        0.0
                    });
                }
            }
            if let TraceBlock::InPlace(input) = &mut trace {
                input[t].copy_from_slice(&u);
            }
        }
    }
}

/// Where the backward pass finds the membrane trace `U[t]` of a training pass.
#[derive(Clone, Debug)]
enum Trace {
    /// Nowhere: each block recomputes its own from the kept input ([`Scan::recomputes`]).
    Recompute,
    /// In the input's buffer, over `X`.
    InInput(Host),
}

/// What the CPU backward pass keeps: the scan's host inputs (read once, in the forward pass),
/// the membrane trace `U[t]` or the input it is recomputed from, and the shapes of the
/// parameters to give their gradients.
#[derive(Clone, Debug)]
pub struct CpuSaved {
    scan: Scan,
    trace: Trace,
    beta_dims: Vec<usize>,
    threshold_dims: Vec<usize>,
    feedback_dims: Option<Vec<usize>>,
}

fn scan<B: Backend>(
    input: FloatTensor<B>,
    beta: FloatTensor<B>,
    threshold: FloatTensor<B>,
    feedback: Option<FloatTensor<B>>,
    settings: ScanSettings,
) -> FloatTensor<B> {
    let device = input.device();
    let scan = Scan::new::<B>(input, beta, threshold, feedback, settings);
    let out = scan.forward();
    from_host::<B>(out, &scan.out_dims(), &device)
}

fn scan_train<B: Backend>(
    input: FloatTensor<B>,
    beta: FloatTensor<B>,
    threshold: FloatTensor<B>,
    feedback: Option<FloatTensor<B>>,
    settings: ScanSettings,
) -> (FloatTensor<B>, CpuSaved) {
    let device = input.device();
    let beta_dims = beta.shape().to_vec();
    let threshold_dims = threshold.shape().to_vec();
    let feedback_dims = feedback.as_ref().map(|f| f.shape().to_vec());
    let mut scan = Scan::new::<B>(input, beta, threshold, feedback, settings);
    let (out, trace) = scan.forward_train();
    let out = from_host::<B>(out, &scan.out_dims(), &device);
    let saved = CpuSaved {
        scan,
        trace,
        beta_dims,
        threshold_dims,
        feedback_dims,
    };
    (out, saved)
}

fn scan_backward<B: Backend>(
    saved: CpuSaved,
    grad_out: FloatTensor<B>,
) -> ([FloatTensor<B>; 3], Option<FloatTensor<B>>) {
    let device = grad_out.device();
    let CpuSaved {
        scan,
        trace,
        beta_dims,
        threshold_dims,
        feedback_dims,
    } = saved;
    let mut grad = Host::new::<B>(grad_out);
    let incoming = if scan.constant {
        Incoming::Read(grad.values())
    } else {
        Incoming::InPlace(grad.values_mut())
    };
    let grads = scan.backward(incoming, &trace, None);
    drop(trace);
    let input = match grads.input {
        Some(summed) => from_host::<B>(summed, &scan.x_dims, &device),
        None => grad.into_tensor::<B>(&device),
    };
    // Per neuron, or summed over neurons for a shared scalar, in f64.
    (
        [
            input,
            parameter_gradient::<B>(&grads.beta, &beta_dims, &device),
            parameter_gradient::<B>(&grads.threshold, &threshold_dims, &device),
        ],
        feedback_dims.map(|dims| parameter_gradient::<B>(&grads.feedback, &dims, &device)),
    )
}

macro_rules! impl_cpu_kernels {
    ($backend:ty) => {
        impl ScanKernels for $backend {
            type Saved = CpuSaved;

            fn scan(
                input: FloatTensor<Self>,
                beta: FloatTensor<Self>,
                threshold: FloatTensor<Self>,
                feedback: Option<FloatTensor<Self>>,
                settings: ScanSettings,
            ) -> FloatTensor<Self> {
                scan::<Self>(input, beta, threshold, feedback, settings)
            }

            fn scan_train(
                input: FloatTensor<Self>,
                beta: FloatTensor<Self>,
                threshold: FloatTensor<Self>,
                feedback: Option<FloatTensor<Self>>,
                settings: ScanSettings,
            ) -> (FloatTensor<Self>, CpuSaved) {
                scan_train::<Self>(input, beta, threshold, feedback, settings)
            }

            fn scan_backward(
                saved: CpuSaved,
                grad: FloatTensor<Self>,
            ) -> ([FloatTensor<Self>; 3], Option<FloatTensor<Self>>) {
                scan_backward::<Self>(saved, grad)
            }
        }
    };
}

impl_cpu_kernels!(burn::backend::Flex);
impl_cpu_kernels!(burn::backend::NdArray);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surrogate::Surrogate;
    use burn::backend::Flex;

    /// A subtract-reset LIF scan over an input of `dims` (`[1, B, N]` repeated over
    /// `constant_steps` steps, or a `[T, B, N]` sequence with `constant_steps = 0`).
    fn scan(dims: [usize; 3], constant_steps: usize) -> Scan {
        let device = Default::default();
        let input = from_host::<Flex>(vec![0.0; dims.iter().product()], &dims, &device);
        let beta = from_host::<Flex>(vec![0.9], &[1], &device);
        let threshold = from_host::<Flex>(vec![1.0], &[1], &device);
        let settings = ScanSettings {
            reset: Reset::Subtract,
            detach_reset: true,
            surrogate: Surrogate::atan(2.0),
            output_membrane: false,
            constant_steps,
            refractory: 0,
        };
        Scan::new::<Flex>(input, beta, threshold, None, settings)
    }

    /// Which training passes keep the input and recompute the trace: constant inputs at any
    /// length, and sequences whose blocks (4,096 neurons of 8 rows × 512 here) fit 1 MiB over
    /// all steps: 64 steps exactly, not 65, nor the 70 of `tests/fused_scans.rs`' in-place test
    /// (two blocks of 8 rows).
    #[test]
    fn the_trace_is_recomputed_for_constant_inputs_and_short_sequences_only() {
        assert!(
            scan([1, 128, 1000], 25).recomputes(),
            "tutorial 5's first layer"
        );
        assert!(
            scan([1, 32, 1024], 1000).recomputes(),
            "a long constant input"
        );
        assert!(scan([25, 128, 1000], 0).recomputes(), "400 kB blocks");
        assert!(scan([64, 8, 512], 0).recomputes(), "1 MiB blocks");
        assert!(!scan([65, 8, 512], 0).recomputes(), "1 MiB + 16 kB blocks");
        assert!(
            !scan([70, 16, 512], 0).recomputes(),
            "the in-place test's shape"
        );
    }
}
