//! Sparse inputs of dense layers: spikes, spike counts and event frames are mostly zeros, so
//! a dense layer fed by them costs, in the products that involve its input, a time that
//! follows the number of non-zeros rather than `M·K`.
//!
//! For `X` `[M, K]` held as compressed rows (CSR), `W` `[K, N]` and `G = ∂L/∂Y` `[M, N]`:
//!
//! ```text
//! Y[r, :]  = Σ_{c : X[r,c] ≠ 0} X[r, c]·W[c, :]       rows of Y in parallel
//! ∂L/∂W[c, :] = Σ_{r : X[r,c] ≠ 0} X[r, c]·G[r, :]     rows of ∂L/∂W in parallel
//! ```
//!
//! Each output element is summed in a fixed order (ascending `c`, resp. ascending `r`), so the
//! results do not depend on the thread count. `∂L/∂X = G·Wᵀ` stays a dense product.

use rayon::prelude::*;

/// Rows of `X` per task when building the compressed rows and per task of `X·W`.
const ROWS_PER_TASK: usize = 256;

/// A matrix in compressed sparse rows.
#[derive(Clone, Debug)]
pub(crate) struct Csr {
    rows: usize,
    cols: usize,
    /// Row `r`'s entries are `row_ptr[r]..row_ptr[r + 1]`, columns ascending.
    row_ptr: Vec<usize>,
    col: Vec<u32>,
    val: Vec<f32>,
}

/// The number of non-zero values of `x`.
pub(crate) fn nonzeros(x: &[f32]) -> usize {
    x.par_chunks(1 << 16)
        .map(|c| c.iter().filter(|&&v| v != 0.0).count())
        .sum()
}

impl Csr {
    /// The non-zeros of the row-major `[rows, cols]` matrix `x`.
    ///
    /// # Panics
    /// If `x` does not hold `rows·cols` values or `cols` exceeds `u32`.
    pub(crate) fn from_dense(x: &[f32], rows: usize, cols: usize) -> Csr {
        assert_eq!(x.len(), rows * cols, "Csr::from_dense: shape");
        assert!(
            u32::try_from(cols).is_ok(),
            "Csr::from_dense: too many columns"
        );
        if rows == 0 || cols == 0 {
            return Csr {
                rows,
                cols,
                row_ptr: vec![0; rows + 1],
                col: Vec::new(),
                val: Vec::new(),
            };
        }
        let parts: Vec<(Vec<usize>, Vec<u32>, Vec<f32>)> = x
            .par_chunks(ROWS_PER_TASK * cols)
            .map(|chunk| {
                let mut counts = Vec::with_capacity(chunk.len() / cols);
                let (mut col, mut val) = (Vec::new(), Vec::new());
                for row in chunk.chunks_exact(cols) {
                    let before = col.len();
                    for (c, &v) in row.iter().enumerate() {
                        if v != 0.0 {
                            col.push(c as u32);
                            val.push(v);
                        }
                    }
                    counts.push(col.len() - before);
                }
                (counts, col, val)
            })
            .collect();
        let nnz = parts.iter().map(|p| p.1.len()).sum();
        let mut row_ptr = Vec::with_capacity(rows + 1);
        let (mut col, mut val) = (Vec::with_capacity(nnz), Vec::with_capacity(nnz));
        row_ptr.push(0);
        for (counts, c, v) in parts {
            for n in counts {
                row_ptr.push(row_ptr.last().copied().unwrap_or(0) + n);
            }
            col.extend(c);
            val.extend(v);
        }
        Csr {
            rows,
            cols,
            row_ptr,
            col,
            val,
        }
    }

    /// The number of stored entries.
    #[cfg(test)]
    pub(crate) fn nnz(&self) -> usize {
        self.col.len()
    }

    /// The number of rows.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// The number of columns.
    pub(crate) fn cols(&self) -> usize {
        self.cols
    }

    /// Rows `r0..r1` as a matrix of their own (a copy of their entries).
    pub(crate) fn row_range(&self, r0: usize, r1: usize) -> Csr {
        let (start, end) = (self.row_ptr[r0], self.row_ptr[r1]);
        Csr {
            rows: r1 - r0,
            cols: self.cols,
            row_ptr: self.row_ptr[r0..=r1].iter().map(|p| p - start).collect(),
            col: self.col[start..end].to_vec(),
            val: self.val[start..end].to_vec(),
        }
    }

    /// `X·W` for `w` row-major `[cols, n]`: `[rows, n]`.
    pub(crate) fn matmul(&self, w: &[f32], n: usize) -> Vec<f32> {
        assert_eq!(w.len(), self.cols * n, "Csr::matmul: weight shape");
        let mut y = vec![0.0f32; self.rows * n];
        if n == 0 {
            return y;
        }
        y.par_chunks_mut(ROWS_PER_TASK * n)
            .enumerate()
            .for_each(|(task, block)| {
                for (i, out) in block.chunks_exact_mut(n).enumerate() {
                    let r = task * ROWS_PER_TASK + i;
                    let entries = self.row_ptr[r]..self.row_ptr[r + 1];
                    gather(out, &self.col[entries.clone()], &self.val[entries], w);
                }
            });
        y
    }

    /// `Xᵀ·G` for `g` row-major `[rows, n]`: `[cols, n]`. The entries are first regrouped by
    /// column (a counting sort, rows ascending within each column), then the rows of the result
    /// are computed in parallel, each from its column's entries.
    pub(crate) fn transpose_matmul(&self, g: &[f32], n: usize) -> Vec<f32> {
        assert_eq!(
            g.len(),
            self.rows * n,
            "Csr::transpose_matmul: gradient shape"
        );
        let mut dw = vec![0.0f32; self.cols * n];
        if n == 0 || self.cols == 0 {
            return dw;
        }
        let mut col_ptr = vec![0usize; self.cols + 1];
        for &c in &self.col {
            col_ptr[c as usize + 1] += 1;
        }
        for c in 0..self.cols {
            col_ptr[c + 1] += col_ptr[c];
        }
        let mut next = col_ptr.clone();
        let (mut rows, mut vals) = (vec![0u32; self.col.len()], vec![0.0f32; self.col.len()]);
        for r in 0..self.rows {
            for e in self.row_ptr[r]..self.row_ptr[r + 1] {
                let c = self.col[e] as usize;
                rows[next[c]] = r as u32;
                vals[next[c]] = self.val[e];
                next[c] += 1;
            }
        }
        dw.par_chunks_mut(n).enumerate().for_each(|(c, d)| {
            let entries = col_ptr[c]..col_ptr[c + 1];
            gather(d, &rows[entries.clone()], &vals[entries], g);
        });
        dw
    }
}

/// `out = Σ_e val[e]·src[idx[e], :]` for `src` row-major with rows of `out.len()` values:
/// the rows of `src` named by `idx`, weighted and summed (in entry order). With AVX2 and FMA
/// where the CPU has them (chosen at run time: the build targets baseline x86-64), else the
/// portable loop.
#[inline]
fn gather(out: &mut [f32], idx: &[u32], val: &[f32], src: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has the features the function is compiled for (checked above).
        unsafe { gather_avx2(out, idx, val, src) };
        return;
    }
    gather_body!(out, idx, val, src, |v: f32, s: f32, a: f32| a + v * s);
}

/// [`gather`] compiled for AVX2 + FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gather_avx2(out: &mut [f32], idx: &[u32], val: &[f32], src: &[f32]) {
    gather_body!(out, idx, val, src, |v: f32, s: f32, a: f32| v.mul_add(s, a));
}

/// The body of [`gather`]: 64 output columns at a time held in eight 8-lane accumulators
/// (AVX registers) across all entries, so that the sum never goes through memory; the last
/// columns one at a time. `$fma(v, s, a)` is `a + v·s`.
macro_rules! gather_body {
    ($out:expr, $idx:expr, $val:expr, $src:expr, $fma:expr) => {{
        const LANES: usize = 8;
        const VECTORS: usize = 8;
        const STRIP: usize = LANES * VECTORS;
        let (out, idx, val, src) = ($out, $idx, $val, $src);
        let n = out.len();
        let fma = $fma;
        let mut j = 0;
        while j + STRIP <= n {
            let mut acc = [[0.0f32; LANES]; VECTORS];
            for (&c, &v) in idx.iter().zip(val) {
                let start = c as usize * n + j;
                let row: &[f32; STRIP] = src[start..start + STRIP].try_into().expect("strip");
                for (a, r) in acc.iter_mut().zip(row.chunks_exact(LANES)) {
                    for l in 0..LANES {
                        a[l] = fma(v, r[l], a[l]);
                    }
                }
            }
            for (o, a) in out[j..j + STRIP].chunks_exact_mut(LANES).zip(&acc) {
                o.copy_from_slice(a);
            }
            j += STRIP;
        }
        for (k, o) in out.iter_mut().enumerate().skip(j) {
            let mut a = 0.0f32;
            for (&c, &v) in idx.iter().zip(val) {
                a = fma(v, src[c as usize * n + k], a);
            }
            *o = a;
        }
    }};
}
use gather_body;

#[cfg(test)]
mod tests {
    use super::*;

    /// Products by the definition, element by element, in f64.
    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize, a_t: bool) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    let a_ip = if a_t { a[p * m + i] } else { a[i * k + p] };
                    s += f64::from(a_ip) * f64::from(b[p * n + j]);
                }
                c[i * n + j] = s as f32;
            }
        }
        c
    }

    /// A pseudo-random matrix with about `density` non-zeros: 1.0 (spikes) and counts 2, 3.
    fn sparse_matrix(rows: usize, cols: usize, density: f64, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..rows * cols)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                if u < density {
                    [1.0, 1.0, 2.0, 3.0][(state >> 3) as usize % 4]
                } else {
                    0.0
                }
            })
            .collect()
    }

    fn dense_matrix(rows: usize, cols: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..rows * cols)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    }

    fn close(a: &[f32], b: &[f32], terms: usize) {
        assert_eq!(a.len(), b.len());
        // f32 sums of up to `terms` products of size ≤ 1.5: a bound that grows with the count.
        let tol = 4.0 * f32::EPSILON * terms as f32 * 1.5;
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol, "[{i}]: {x} vs {y} (tol {tol})");
        }
    }

    #[test]
    fn compressed_rows_hold_the_non_zeros_in_order() {
        let x = [0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 3.0];
        let csr = Csr::from_dense(&x, 3, 3);
        assert_eq!(csr.row_ptr, [0, 1, 1, 3]);
        assert_eq!(csr.col, [1, 0, 2]);
        assert_eq!(csr.val, [2.0, 1.0, 3.0]);
        assert_eq!(nonzeros(&x), 3);
    }

    #[test]
    fn sparse_products_equal_the_definition() {
        // Several row tasks (m > 256) and column blocks (k > 32), empty rows and columns.
        for (m, k, n, density) in [(300, 70, 9, 0.05), (600, 41, 33, 0.3), (5, 3, 4, 0.0)] {
            let x = sparse_matrix(m, k, density, 7 + m as u64);
            let w = dense_matrix(k, n, 11);
            let g = dense_matrix(m, n, 13);
            let csr = Csr::from_dense(&x, m, k);
            assert_eq!(csr.nnz(), nonzeros(&x));
            close(&csr.matmul(&w, n), &naive(&x, &w, m, k, n, false), k);
            close(
                &csr.transpose_matmul(&g, n),
                &naive(&x, &g, k, m, n, true),
                m,
            );
        }
    }
}
