//! The CPU side of [`super::super::linear_lif`]: a dense layer and a LIF scan run over the
//! sequence one segment of steps at a time, so that neither the input current nor the
//! membrane trace of the whole sequence is ever held.
//!
//! Forward: for each segment `[t0, t1)`, `I = X[t0..t1]·W + b` (one GEMM over the segment's
//! `(t1 − t0)·B` rows), the scan from the previous segment's last membrane, the spikes written
//! to the output. Training keeps `X` (one bit per value where it is all 0 and 1, as spikes
//! are), the parameters and the membrane at each segment's start: `⌈T/S⌉·B·N` floats.
//!
//! Backward, segments last to first: recompute `I` and the segment's trace from its starting
//! membrane (the forward pass's own code, so bit for bit the same), run the scan's BPTT with
//! `δ` carried in from the next segment and out to the previous one, then
//! `∂L/∂W += X[t0..t1]ᵀ·∂L/∂I`, `∂L/∂b += Σ_rows ∂L/∂I` and `∂L/∂X[t0..t1] = ∂L/∂I·Wᵀ`.

use super::backward::Incoming;
use super::{Scan, Trace};
use crate::kernels::fused::ScanSettings;
use crate::kernels::host::{Host, HostBuffer, from_host};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata};
use rayon::prelude::*;
use std::sync::Arc;

/// The input `X` of the dense layer as the backward pass keeps it.
#[derive(Clone, Debug)]
pub(crate) enum KeptInput<B: Backend> {
    /// The tensor itself (shared with the graph: not a copy).
    Tensor(FloatTensor<B>),
    /// Every value 0 or 1 (spikes): one bit per value, `X[i]` at bit `i % 64` of word `i / 64`.
    Bits(Arc<Vec<u64>>),
    /// Sparse (as the dense layers decide, [`crate::kernels::dense::sparse_rows`]): its non-zeros, `[T·B, K]`.
    #[cfg(spikeburn_openblas)]
    Sparse(Arc<crate::kernels::dense::sparse::Csr>),
}

/// How the backward pass keeps `x` (`[T, B, K]`, as the tensor `tensor`): its non-zeros where
/// it is sparse, one bit per value where it is all 0 and 1, else the tensor itself.
pub(crate) fn keep_input<B: HostBuffer>(tensor: FloatTensor<B>, cols: usize) -> KeptInput<B> {
    let values = B::values(&tensor);
    #[cfg(spikeburn_openblas)]
    if let Some(csr) = crate::kernels::dense::sparse_rows(&values, cols) {
        return KeptInput::Sparse(Arc::new(csr));
    }
    let _ = cols;
    match pack_binary(&values) {
        Some(bits) => KeptInput::Bits(Arc::new(bits)),
        None => {
            drop(values);
            KeptInput::Tensor(tensor)
        }
    }
}

/// `values` as one bit each where every value is 0 or 1; `None` otherwise.
pub(crate) fn pack_binary(values: &[f32]) -> Option<Vec<u64>> {
    let word = |chunk: &[f32]| {
        chunk.iter().enumerate().try_fold(0u64, |word, (i, &v)| {
            if v == 1.0 {
                Some(word | 1 << i)
            } else if v == 0.0 {
                Some(word)
            } else {
                None
            }
        })
    };
    let parts: Option<Vec<Vec<u64>>> = values
        .par_chunks(64 << 10)
        .map(|part| part.chunks(64).map(word).collect())
        .collect();
    parts.map(|parts| parts.concat())
}

/// The values `start..end` of a buffer packed by [`pack_binary`].
fn unpack(bits: &[u64], start: usize, end: usize) -> Vec<f32> {
    const CHUNK: usize = 1 << 14;
    let mut out = vec![0.0f32; end - start];
    out.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(c, chunk)| {
            let first = start + c * CHUNK;
            for (j, v) in chunk.iter_mut().enumerate() {
                let i = first + j;
                *v = (bits[i / 64] >> (i % 64) & 1) as f32;
            }
        });
    out
}

/// A dense layer followed by a LIF scan, with its operands on the host side of a CPU backend.
#[derive(Clone, Debug)]
pub(crate) struct DenseScan<B: Backend> {
    /// The input `X`, `[T, B, K]`.
    pub x: KeptInput<B>,
    /// `[T, B, K]`.
    pub x_dims: [usize; 3],
    /// `W`, `[K, N]`.
    pub weight: FloatTensor<B>,
    /// `b`, `[N]`.
    pub bias: Option<Vec<f32>>,
    /// `β` (clamped), `θ` and the one-to-one feedback weight `v`: `[1]` or `[N]`.
    pub beta: FloatTensor<B>,
    pub threshold: FloatTensor<B>,
    pub feedback: Option<FloatTensor<B>>,
    pub settings: ScanSettings,
    /// Steps per segment `S` (≥ 1).
    pub segment: usize,
}

/// What [`DenseScan::backward`] returns: `∂L/∂X` (where asked), `∂L/∂W`, and per neuron in
/// `f64` `∂L/∂b`, `∂L/∂β`, `∂L/∂θ`, `∂L/∂v`.
pub(crate) struct DenseScanGrads {
    pub x: Option<Vec<f32>>,
    pub weight: Vec<f32>,
    pub bias: Vec<f64>,
    pub beta: Vec<f64>,
    pub threshold: Vec<f64>,
    pub feedback: Vec<f64>,
}

impl<B: HostBuffer> DenseScan<B> {
    /// The output's shape, `[T, B, N]`.
    pub(crate) fn out_dims(&self) -> [usize; 3] {
        [self.x_dims[0], self.x_dims[1], self.neurons()]
    }

    fn neurons(&self) -> usize {
        self.weight.shape().to_vec()[1]
    }

    /// The segments `[t0, t1)` of the sequence, in order.
    fn segments(&self) -> Vec<(usize, usize)> {
        let steps = self.x_dims[0];
        (0..steps)
            .step_by(self.segment.max(1))
            .map(|t0| (t0, (t0 + self.segment.max(1)).min(steps)))
            .collect()
    }

    /// `X[t0..t1]` as `[(t1 − t0)·B, K]`.
    fn input_rows(&self, t0: usize, t1: usize) -> Rows {
        let [_, batch, inputs] = self.x_dims;
        let per_step = batch * inputs;
        match &self.x {
            KeptInput::Tensor(x) => {
                Rows::new(B::values(x)[t0 * per_step..t1 * per_step].to_vec(), inputs)
            }
            KeptInput::Bits(bits) => Rows::new(unpack(bits, t0 * per_step, t1 * per_step), inputs),
            #[cfg(spikeburn_openblas)]
            KeptInput::Sparse(csr) => Rows::from_sparse(csr.row_range(t0 * batch, t1 * batch)),
        }
    }

    /// The input current of steps `t0..t1`, `X·W + b`, from the steps' input `x`
    /// (`[(t1 − t0)·B, K]`): `[t1 − t0, B, N]`.
    fn current(&self, x: &Rows, (t0, t1): (usize, usize), device: &B::Device) -> FloatTensor<B> {
        let (batch, n) = (self.x_dims[1], self.neurons());
        let weight = B::values(&self.weight);
        let mut current = x.times::<B>(&weight, n);
        if let Some(bias) = &self.bias {
            current
                .par_chunks_mut(n)
                .for_each(|row| row.iter_mut().zip(bias).for_each(|(c, b)| *c += b));
        }
        from_host::<B>(current, &[t1 - t0, batch, n], device)
    }

    /// The scan of steps `t0..t1` on their input `x`, from the membrane `initial` (rest where
    /// `None`), with the segment's input current as its input.
    fn scan(
        &self,
        x: &Rows,
        steps: (usize, usize),
        initial: Option<Vec<f32>>,
        device: &B::Device,
    ) -> Scan {
        let scan = Scan::new::<B>(
            self.current(x, steps, device),
            self.beta.clone(),
            self.threshold.clone(),
            self.feedback.clone(),
            self.settings,
        );
        match initial {
            Some(u0) => scan.continuing(u0),
            None => scan,
        }
    }

    /// The forward pass: the output `[T, B, N]` and, with `keep_starts`, the membrane at the
    /// start of every segment after the first (`B·N` values each).
    pub(crate) fn forward(
        &self,
        keep_starts: bool,
        device: &B::Device,
    ) -> (Vec<f32>, Vec<Vec<f32>>) {
        let [steps, batch, _] = self.x_dims;
        let per_step = batch * self.neurons();
        let mut out = Vec::with_capacity(steps * per_step);
        let mut starts = Vec::new();
        let mut initial: Option<Vec<f32>> = None;
        for (t0, t1) in self.segments() {
            if keep_starts && let Some(u0) = &initial {
                starts.push(u0.clone());
            }
            let x = self.input_rows(t0, t1);
            let mut scan = self.scan(&x, (t0, t1), initial.take(), device);
            // The trace over the segment's current, for its last membrane.
            let mut trace = std::mem::replace(&mut scan.x, Host::empty());
            out.extend_from_slice(&scan.run_forward(Some(trace.values_mut())));
            initial = Some(trace.values()[(t1 - t0 - 1) * per_step..].to_vec());
        }
        (out, starts)
    }

    /// BPTT through the whole layer for the output gradient `grad` (`[T, B, N]`, overwritten),
    /// from the segment starts of [`forward`](Self::forward); `∂L/∂X` where `input_grad`.
    pub(crate) fn backward(
        &self,
        starts: &[Vec<f32>],
        grad: FloatTensor<B>,
        input_grad: bool,
        device: &B::Device,
    ) -> DenseScanGrads {
        let [steps, batch, inputs] = self.x_dims;
        let n = self.neurons();
        let per_step = batch * n;
        let mut grad = Host::new::<B>(grad);
        let mut carry = vec![0.0f32; per_step];
        let mut gx = input_grad.then(|| vec![0.0f32; steps * batch * inputs]);
        let mut gw = vec![0.0f32; inputs * n];
        let [mut gb, mut gbeta, mut gtheta, mut gfeedback] =
            std::array::from_fn(|_| vec![0.0f64; n]);
        for (i, &(t0, t1)) in self.segments().iter().enumerate().rev() {
            let initial = i.checked_sub(1).map(|j| starts[j].clone());
            let x = self.input_rows(t0, t1);
            // The scan's backward pass recomputes the segment's trace block by block from its
            // current (the forward pass's own code: the same values bit for bit).
            let scan = self.scan(&x, (t0, t1), initial, device);
            let g = &mut grad.values_mut()[t0 * per_step..t1 * per_step];
            let sums = scan.backward(Incoming::InPlace(g), &Trace::Recompute, Some(&mut carry));
            for (total, part) in [&mut gbeta, &mut gtheta, &mut gfeedback].into_iter().zip([
                sums.beta,
                sums.threshold,
                sums.feedback,
            ]) {
                total.iter_mut().zip(part).for_each(|(t, p)| *t += p);
            }
            // `g` now holds ∂L/∂I of the segment, `[(t1 − t0)·B, N]`.
            for row in g.chunks_exact(n) {
                gb.iter_mut()
                    .zip(row)
                    .for_each(|(t, &v)| *t += f64::from(v));
            }
            let rows = (t1 - t0) * batch;
            let dw = x.transpose_times::<B>(g, n);
            gw.iter_mut().zip(dw).for_each(|(t, d)| *t += d);
            if let Some(gx) = &mut gx {
                let weight = B::values(&self.weight);
                let dx = product::<B>((g, [rows, n], false), (&weight, [inputs, n], true));
                gx[t0 * batch * inputs..t1 * batch * inputs].copy_from_slice(&dx);
            }
        }
        DenseScanGrads {
            x: gx,
            weight: gw,
            bias: gb,
            beta: gbeta,
            threshold: gtheta,
            feedback: gfeedback,
        }
    }
}

/// A host matrix operand: the stored row-major values, their `[rows, cols]`, and whether the
/// product takes their transpose.
type Operand<'a> = (&'a [f32], [usize; 2], bool);

/// `op(A)·op(B)` as a new row-major buffer: the dense layers' product (OpenBLAS where it was
/// chosen for this CPU, else the `gemm` crate; see [`crate::dense::dense_product`]) where the
/// build has it, else the backend's own matrix product.
fn product<B: HostBuffer>(a: Operand<'_>, b: Operand<'_>) -> Vec<f32> {
    #[cfg(spikeburn_openblas)]
    {
        use crate::kernels::dense::blas;
        fn operand((data, [rows, cols], transposed): Operand<'_>) -> blas::Operand<'_> {
            blas::Operand {
                data,
                rows,
                cols,
                transposed,
            }
        }
        if blas::fits(&[a.1[0], a.1[1], b.1[0], b.1[1]]) {
            return blas::gemm(operand(a), operand(b));
        }
    }
    let device = Default::default();
    let tensor = |(data, dims, transposed): Operand<'_>| {
        let t = from_host::<B>(data.to_vec(), &dims, &device);
        if transposed { B::float_transpose(t) } else { t }
    };
    Host::new::<B>(B::float_matmul(tensor(a), tensor(b))).into_values()
}

/// One segment's input `[rows, K]` as the products take it: also as compressed rows where it
/// is sparse, as the dense layers decide ([`crate::dense::SparseInput`]: at most
/// [`crate::dense::SPARSE_BELOW`] of the values non-zero, by default), so that the products'
/// cost follows the number of events.
struct Rows {
    values: Vec<f32>,
    rows: usize,
    cols: usize,
    #[cfg(spikeburn_openblas)]
    sparse: Option<crate::kernels::dense::sparse::Csr>,
}

impl Rows {
    fn new(values: Vec<f32>, cols: usize) -> Self {
        let rows = values.len() / cols.max(1);
        #[cfg(spikeburn_openblas)]
        {
            let sparse = crate::kernels::dense::sparse_rows(&values, cols);
            Self {
                values,
                rows,
                cols,
                sparse,
            }
        }
        #[cfg(not(spikeburn_openblas))]
        Self { values, rows, cols }
    }

    /// Rows kept as their non-zeros only.
    #[cfg(spikeburn_openblas)]
    fn from_sparse(csr: crate::kernels::dense::sparse::Csr) -> Self {
        Self {
            values: Vec::new(),
            rows: csr.rows(),
            cols: csr.cols(),
            sparse: Some(csr),
        }
    }

    /// `X·W` for `w` `[K, n]`: `[rows, n]`.
    fn times<B: HostBuffer>(&self, w: &[f32], n: usize) -> Vec<f32> {
        #[cfg(spikeburn_openblas)]
        if let Some(csr) = &self.sparse {
            return csr.matmul(w, n);
        }
        product::<B>(
            (&self.values, [self.rows, self.cols], false),
            (w, [self.cols, n], false),
        )
    }

    /// `Xᵀ·G` for `g` `[rows, n]`: `[K, n]`.
    fn transpose_times<B: HostBuffer>(&self, g: &[f32], n: usize) -> Vec<f32> {
        #[cfg(spikeburn_openblas)]
        if let Some(csr) = &self.sparse {
            return csr.transpose_matmul(g, n);
        }
        product::<B>(
            (&self.values, [self.rows, self.cols], true),
            (g, [self.rows, n], false),
        )
    }
}
