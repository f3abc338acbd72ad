//! The 2-D convolution on the host: im2col and `col2im` around single-threaded GEMMs (the
//! `gemm` crate, which burn-flex also uses), parallel over samples with rayon (equations in
//! the [parent module](super)).
//!
//! Every sum has a fixed order whatever the number of threads: each sample's output and input
//! gradient is one task, and the weight gradient adds fixed chunks of samples, whose partial
//! sums are then added in chunk order. Results are therefore the same from run to run.

use crate::kernels::matmul::matmul;
use rayon::prelude::*;

/// Samples per task of the weight gradient; their partial sums are added in order afterwards.
const WEIGHT_CHUNK: usize = 8;

/// Shapes and hyper-parameters of one convolution, NCHW input `[N, C, H, W]` and OIHW weight
/// `[O, C, KH, KW]`, square stride and symmetric zero padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub samples: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub outputs: usize,
    pub kernel_h: usize,
    pub kernel_w: usize,
    pub stride: usize,
    pub padding: usize,
}

impl Geometry {
    /// Output height `(H + 2p − KH)/s + 1`.
    pub fn out_height(&self) -> usize {
        (self.height + 2 * self.padding - self.kernel_h) / self.stride + 1
    }

    /// Output width `(W + 2p − KW)/s + 1`.
    pub fn out_width(&self) -> usize {
        (self.width + 2 * self.padding - self.kernel_w) / self.stride + 1
    }

    /// Rows of a column matrix: `K = C·KH·KW`.
    fn patch(&self) -> usize {
        self.channels * self.kernel_h * self.kernel_w
    }

    /// Output positions per sample: `P = OH·OW`.
    fn positions(&self) -> usize {
        self.out_height() * self.out_width()
    }

    fn sample_in(&self) -> usize {
        self.channels * self.height * self.width
    }

    fn sample_out(&self) -> usize {
        self.outputs * self.positions()
    }

    /// For kernel offset `k` along an axis of input length `len`: the first and one-past-last
    /// output index whose input `o·s + k − p` lies inside `[0, len)`.
    fn valid(&self, k: usize, len: usize, out_len: usize) -> (usize, usize) {
        let (s, p) = (self.stride, self.padding);
        // o·s + k ≥ p  ⇔  o ≥ ⌈(p − k)/s⌉
        let lo = if k >= p { 0 } else { (p - k).div_ceil(s) };
        // o·s + k − p ≤ len − 1  ⇔  o ≤ ⌊(len − 1 + p − k)/s⌋
        let hi = if len + p > k {
            ((len - 1 + p - k) / s + 1).min(out_len)
        } else {
            0
        };
        (lo.min(hi), hi)
    }

    /// Fills `cols` (`[K, P]`, row-major) with the patches of one sample `x` (`[C, H, W]`):
    /// `cols[(c·KH + i)·KW + j, oy·OW + ox] = x[c, oy·s + i − p, ox·s + j − p]`, zero outside.
    fn im2col(&self, x: &[f32], cols: &mut [f32]) {
        let (oh, ow) = (self.out_height(), self.out_width());
        let (s, p) = (self.stride, self.padding);
        let mut rows = cols.chunks_exact_mut(oh * ow);
        for c in 0..self.channels {
            let plane = &x[c * self.height * self.width..][..self.height * self.width];
            for i in 0..self.kernel_h {
                let (y_lo, y_hi) = self.valid(i, self.height, oh);
                for j in 0..self.kernel_w {
                    let (x_lo, x_hi) = self.valid(j, self.width, ow);
                    let row = rows.next().expect("K rows");
                    for (oy, out) in row.chunks_exact_mut(ow).enumerate() {
                        if oy < y_lo || oy >= y_hi {
                            out.fill(0.0);
                            continue;
                        }
                        let src = &plane[(oy * s + i - p) * self.width..][..self.width];
                        out[..x_lo].fill(0.0);
                        out[x_hi..].fill(0.0);
                        if s == 1 {
                            let start = x_lo + j - p;
                            out[x_lo..x_hi].copy_from_slice(&src[start..start + x_hi - x_lo]);
                        } else {
                            for (ox, v) in out[x_lo..x_hi].iter_mut().enumerate() {
                                *v = src[(x_lo + ox) * s + j - p];
                            }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of [`im2col`](Self::im2col): adds every entry of `cols` (`[K, P]`) into the
    /// input position it was read from, in `dx` (`[C, H, W]`, accumulated into).
    fn col2im(&self, cols: &[f32], dx: &mut [f32]) {
        let (oh, ow) = (self.out_height(), self.out_width());
        let (s, p) = (self.stride, self.padding);
        let mut rows = cols.chunks_exact(oh * ow);
        for c in 0..self.channels {
            let plane = &mut dx[c * self.height * self.width..][..self.height * self.width];
            for i in 0..self.kernel_h {
                let (y_lo, y_hi) = self.valid(i, self.height, oh);
                for j in 0..self.kernel_w {
                    let (x_lo, x_hi) = self.valid(j, self.width, ow);
                    let row = rows.next().expect("K rows");
                    for oy in y_lo..y_hi {
                        let src = &row[oy * ow..][x_lo..x_hi];
                        let dst = &mut plane[(oy * s + i - p) * self.width..][..self.width];
                        if s == 1 {
                            let start = x_lo + j - p;
                            for (d, v) in dst[start..start + src.len()].iter_mut().zip(src) {
                                *d += v;
                            }
                        } else {
                            for (ox, v) in src.iter().enumerate() {
                                dst[(x_lo + ox) * s + j - p] += v;
                            }
                        }
                    }
                }
            }
        }
    }

    /// `Y[n] = W·cols(X[n])` for every sample: `[N, O, OH, OW]`.
    pub fn forward(&self, x: &[f32], weight: &[f32]) -> Vec<f32> {
        self.check(x, weight);
        let (k, positions) = (self.patch(), self.positions());
        let mut out = vec![0.0f32; self.samples * self.sample_out()];
        out.par_chunks_mut(self.sample_out())
            .zip(x.par_chunks(self.sample_in()))
            .for_each_init(
                || vec![0.0f32; k * positions],
                |cols, (y, x)| {
                    self.im2col(x, cols);
                    // y [O, P] = W [O, K] · cols [K, P]
                    matmul(
                        y,
                        (positions, 1),
                        (weight, k, 1),
                        (cols, positions, 1),
                        [self.outputs, positions, k],
                        false,
                    );
                },
            );
        out
    }

    /// `∂L/∂X[n] = col2im(Wᵀ·G[n])` for the output gradient `grad` (`[N, O, OH, OW]`).
    pub fn backward_input(&self, weight: &[f32], grad: &[f32]) -> Vec<f32> {
        let (k, positions) = (self.patch(), self.positions());
        assert_eq!(
            grad.len(),
            self.samples * self.sample_out(),
            "output gradient"
        );
        let mut dx = vec![0.0f32; self.samples * self.sample_in()];
        dx.par_chunks_mut(self.sample_in())
            .zip(grad.par_chunks(self.sample_out()))
            .for_each_init(
                || vec![0.0f32; k * positions],
                |cols, (dx, g)| {
                    // cols [K, P] = Wᵀ [K, O] · G [O, P]
                    matmul(
                        cols,
                        (positions, 1),
                        (weight, 1, k),
                        (g, positions, 1),
                        [k, positions, self.outputs],
                        false,
                    );
                    self.col2im(cols, dx);
                },
            );
        dx
    }

    /// `∂L/∂W = Σ_n G[n]·cols(X[n])ᵀ` (`[O, C, KH, KW]`), summed in a fixed order.
    pub fn backward_weight(&self, x: &[f32], grad: &[f32]) -> Vec<f32> {
        let (k, positions) = (self.patch(), self.positions());
        assert_eq!(
            grad.len(),
            self.samples * self.sample_out(),
            "output gradient"
        );
        let partials: Vec<Vec<f32>> = x
            .par_chunks(WEIGHT_CHUNK * self.sample_in())
            .zip(grad.par_chunks(WEIGHT_CHUNK * self.sample_out()))
            .map(|(xs, gs)| {
                let mut dw = vec![0.0f32; self.outputs * k];
                let mut cols = vec![0.0f32; k * positions];
                for (x, g) in xs
                    .chunks_exact(self.sample_in())
                    .zip(gs.chunks_exact(self.sample_out()))
                {
                    self.im2col(x, &mut cols);
                    // dW [O, K] += G [O, P] · colsᵀ [P, K]
                    matmul(
                        &mut dw,
                        (k, 1),
                        (g, positions, 1),
                        (&cols, 1, positions),
                        [self.outputs, k, positions],
                        true,
                    );
                }
                dw
            })
            .collect();
        let mut partials = partials.into_iter();
        let mut dw = partials
            .next()
            .unwrap_or_else(|| vec![0.0; self.outputs * k]);
        for part in partials {
            for (d, p) in dw.iter_mut().zip(&part) {
                *d += p;
            }
        }
        dw
    }

    fn check(&self, x: &[f32], weight: &[f32]) {
        assert_eq!(
            x.len(),
            self.samples * self.sample_in(),
            "input [N, C, H, W]"
        );
        assert_eq!(
            weight.len(),
            self.outputs * self.patch(),
            "weight [O, C, KH, KW]"
        );
        assert!(
            self.stride > 0
                && self.height + 2 * self.padding >= self.kernel_h
                && self.width + 2 * self.padding >= self.kernel_w,
            "kernel larger than the padded input"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one output at a time.
    fn naive(g: &Geometry, x: &[f32], w: &[f32]) -> Vec<f32> {
        let (oh, ow) = (g.out_height(), g.out_width());
        let mut y = vec![0.0; g.samples * g.outputs * oh * ow];
        for n in 0..g.samples {
            for o in 0..g.outputs {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = 0.0;
                        for c in 0..g.channels {
                            for i in 0..g.kernel_h {
                                for j in 0..g.kernel_w {
                                    let iy = (oy * g.stride + i) as isize - g.padding as isize;
                                    let ix = (ox * g.stride + j) as isize - g.padding as isize;
                                    if iy < 0
                                        || ix < 0
                                        || iy >= g.height as isize
                                        || ix >= g.width as isize
                                    {
                                        continue;
                                    }
                                    let xv = x[((n * g.channels + c) * g.height + iy as usize)
                                        * g.width
                                        + ix as usize];
                                    let wv =
                                        w[((o * g.channels + c) * g.kernel_h + i) * g.kernel_w + j];
                                    acc += xv * wv;
                                }
                            }
                        }
                        y[((n * g.outputs + o) * oh + oy) * ow + ox] = acc;
                    }
                }
            }
        }
        y
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let v = (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8;
                (v % 2000) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn forward_equals_the_definition_for_strides_paddings_and_edges() {
        for (stride, padding, kernel, h, w) in [
            (1, 1, 3, 7, 5),
            (2, 1, 3, 8, 9),
            (1, 0, 5, 6, 6),
            (3, 2, 4, 10, 7),
            (2, 0, 1, 5, 5),
            (1, 3, 2, 3, 4),
        ] {
            let g = Geometry {
                samples: 3,
                channels: 2,
                height: h,
                width: w,
                outputs: 4,
                kernel_h: kernel,
                kernel_w: kernel,
                stride,
                padding,
            };
            let x = values(g.samples * g.sample_in(), 1);
            let wt = values(g.outputs * g.patch(), 2);
            let got = g.forward(&x, &wt);
            let want = naive(&g, &x, &wt);
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{g:?}: {a} vs {b}");
            }
        }
    }

    /// `col2im` is the adjoint of `im2col`: ⟨cols(x), c⟩ = ⟨x, col2im(c)⟩.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        for (stride, padding) in [(1, 1), (2, 1), (3, 2), (1, 0)] {
            let g = Geometry {
                samples: 1,
                channels: 3,
                height: 9,
                width: 7,
                outputs: 1,
                kernel_h: 3,
                kernel_w: 2,
                stride,
                padding,
            };
            let x = values(g.sample_in(), 3);
            let c = values(g.patch() * g.positions(), 4);
            let mut cols = vec![f32::NAN; c.len()];
            g.im2col(&x, &mut cols);
            let mut back = vec![0.0; x.len()];
            g.col2im(&c, &mut back);
            let lhs: f64 = cols.iter().zip(&c).map(|(a, b)| f64::from(a * b)).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| f64::from(a * b)).sum();
            assert!(
                (lhs - rhs).abs() < 1e-3,
                "{stride}/{padding}: {lhs} vs {rhs}"
            );
        }
    }
}
