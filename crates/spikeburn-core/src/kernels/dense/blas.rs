//! Single-precision matrix products through the system OpenBLAS (`cblas_sgemm`), in parallel
//! over row blocks of the output on rayon's pool; skinny ones, and all of them where OpenBLAS
//! has no kernels for this CPU ([`choice`]), through the `gemm` crate.
//!
//! OpenBLAS is set to one thread of its own (once, process-wide), so that it never competes
//! with rayon's workers, which run the neuron scans and the convolutions between GEMMs; the
//! parallelism is here instead: the `M` rows of `C` are cut into one contiguous block per
//! rayon thread and each block is one `cblas_sgemm` call. Every element of `C` is still a
//! full `K`-long dot product computed by one call, so the result does not depend on the
//! thread count.
//!
//! Products with a dimension below [`SKINNY`] (the 10-class read-out of a classifier: `M·1000
//! → 10`, and its two gradients) are memory-bound, and OpenBLAS spends most of their time
//! packing the large operand: there the `gemm` crate (burn-flex's GEMM) was measured 2–4×
//! faster on this project's machine (`[3200, 1000]·[1000, 10]`: 1.0 ms against 3.5 ms
//! for one OpenBLAS thread), so those go to it.

use rayon::prelude::*;
use std::ffi::{CStr, c_char, c_int};
use std::sync::{Once, OnceLock};

// CBLAS enums (cblas.h).
const ROW_MAJOR: c_int = 101;
const NO_TRANS: c_int = 111;
const TRANS: c_int = 112;

// Linked by build.rs (pkg-config `openblas`).
unsafe extern "C" {
    fn cblas_sgemm(
        layout: c_int,
        trans_a: c_int,
        trans_b: c_int,
        m: c_int,
        n: c_int,
        k: c_int,
        alpha: f32,
        a: *const f32,
        lda: c_int,
        b: *const f32,
        ldb: c_int,
        beta: f32,
        c: *mut f32,
        ldc: c_int,
    );
    fn openblas_set_num_threads(threads: c_int);
    fn openblas_get_config() -> *const c_char;
    fn openblas_get_corename() -> *const c_char;
}

/// A row-major matrix operand: `data` holds `rows × cols` values of the *stored* matrix, and
/// the operand is that matrix or, with `transposed`, its transpose.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Operand<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub transposed: bool,
}

impl Operand<'_> {
    /// Rows and columns of the operand as it enters the product.
    fn shape(&self) -> (usize, usize) {
        if self.transposed {
            (self.cols, self.rows)
        } else {
            (self.rows, self.cols)
        }
    }

    /// The operand's rows `r0..` (as it enters the product) start at this offset of `data`.
    fn row_offset(&self, r0: usize) -> usize {
        if self.transposed { r0 } else { r0 * self.cols }
    }
}

/// Whether every dimension fits CBLAS's `int`.
pub(crate) fn fits(dims: &[usize]) -> bool {
    dims.iter().all(|&d| c_int::try_from(d).is_ok())
}

static SINGLE_THREADED: Once = Once::new();

/// Rows of `C` below which a product is not split across threads (each block's packing of
/// `B` would cost more than the thread saves).
const MIN_ROWS_PER_TASK: usize = 64;

/// `C = A·B` as a new row-major `[M, N]` buffer, for `A` `[M, K]` and `B` `[K, N]` (each
/// possibly a transposed stored matrix).
///
/// The buffer is not zero-filled first: with `β = 0` `cblas_sgemm` writes every element of
/// `C` without reading it (the BLAS definition).
///
/// # Panics
/// If the shapes disagree or a dimension exceeds `i32::MAX` (see [`fits`]).
pub(crate) fn gemm(a: Operand<'_>, b: Operand<'_>) -> Vec<f32> {
    let ((m, k), (k_b, n)) = (a.shape(), b.shape());
    assert_eq!(k, k_b, "gemm: inner dimensions {k} vs {k_b}");
    assert!(fits(&[m, n, k]), "gemm: dimensions beyond i32");
    assert!(a.data.len() >= a.rows * a.cols && b.data.len() >= b.rows * b.cols);
    if m == 0 || n == 0 || k == 0 {
        return vec![0.0; m * n];
    }
    if m.min(n).min(k) < SKINNY || choice().is_err() {
        return skinny(a, b, m, n, k);
    }
    // SAFETY: sets a process-wide thread count; called before any product.
    SINGLE_THREADED.call_once(|| unsafe { openblas_set_num_threads(1) });
    let tasks = rayon::current_num_threads()
        .min(m / MIN_ROWS_PER_TASK)
        .max(1);
    let rows_per_task = m.div_ceil(tasks);
    let mut c = Vec::with_capacity(m * n);
    c.spare_capacity_mut()[..m * n]
        .par_chunks_mut(rows_per_task * n)
        .enumerate()
        .for_each(|(i, block)| {
            let r0 = i * rows_per_task;
            let rows = block.len() / n;
            let lda = a.cols.max(1);
            let ldb = b.cols.max(1);
            // SAFETY: the block holds `rows × n` values; `A`'s rows `r0..r0 + rows` (as an
            // operand) lie inside `a.data` at stride `lda`, and `B` is read whole, both
            // checked against their stored shapes above; all dimensions fit `c_int`.
            unsafe {
                cblas_sgemm(
                    ROW_MAJOR,
                    if a.transposed { TRANS } else { NO_TRANS },
                    if b.transposed { TRANS } else { NO_TRANS },
                    rows as c_int,
                    n as c_int,
                    k as c_int,
                    1.0,
                    a.data.as_ptr().add(a.row_offset(r0)),
                    lda as c_int,
                    b.data.as_ptr(),
                    ldb as c_int,
                    0.0,
                    block.as_mut_ptr().cast::<f32>(),
                    n as c_int,
                );
            }
        });
    // SAFETY: the blocks cover all `m·n` elements and `cblas_sgemm` (β = 0) wrote each.
    unsafe { c.set_len(m * n) };
    c
}

/// Below this size in any dimension a product goes to the `gemm` crate ([`skinny`]).
const SKINNY: usize = 32;

/// Element `(r, c)` of an operand (as it enters the product) is at `r·rs + c·cs` of its data:
/// `(rs, cs)`.
fn strides(o: &Operand<'_>) -> (isize, isize) {
    if o.transposed {
        (1, o.cols as isize)
    } else {
        (o.cols as isize, 1)
    }
}

/// Products of `PARALLEL_WORK` multiply–adds or more use rayon inside the `gemm` crate.
const PARALLEL_WORK: usize = 192 * 192 * 192;

/// `C = A·B` through the `gemm` crate: `m, n, k > 0`.
fn skinny(a: Operand<'_>, b: Operand<'_>, m: usize, n: usize, k: usize) -> Vec<f32> {
    let ((a_rs, a_cs), (b_rs, b_cs)) = (strides(&a), strides(&b));
    let parallelism = if m * n * k >= PARALLEL_WORK {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    let mut c = Vec::with_capacity(m * n);
    // SAFETY: `c` has room for `m·n` values, written row-major (row stride `n`) without being
    // read (`read_dst = false`); `A` and `B` are read at `r·rs + c·cs` for indices inside
    // their stored shapes, checked by the caller.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.data.as_ptr(),
            a_cs,
            a_rs,
            b.data.as_ptr(),
            b_cs,
            b_rs,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            parallelism,
        );
        c.set_len(m * n);
    }
    c
}

/// The linked OpenBLAS build as it describes itself, with the kernel set it picked for this
/// CPU (e.g. `OpenBLAS 0.3.21 DYNAMIC_ARCH … MAX_THREADS=64, core Zen`).
pub(crate) fn describe() -> String {
    // SAFETY: OpenBLAS returns a static NUL-terminated string.
    let config = unsafe { CStr::from_ptr(openblas_get_config()) }.to_string_lossy();
    format!("{}, core {}", config.trim(), core_name())
}

/// The kernel set ("core") OpenBLAS picked at load time: `Haswell`, `SkylakeX`, `Zen`, … or,
/// where it does not recognise the CPU, a generic one such as `Prescott`.
pub(crate) fn core_name() -> String {
    // SAFETY: OpenBLAS returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(openblas_get_corename()) }
        .to_string_lossy()
        .trim()
        .to_string()
}

/// OpenBLAS's x86 kernel sets from before AVX2: a build that picks one of these on a CPU with
/// AVX2 and FMA did not recognise the CPU (Debian's OpenBLAS 0.3.21 picks `Prescott` on recent
/// AVX-512 Xeons) and runs its products at a fraction of the machine's speed: measured 32–49
/// GFLOP/s there against 80–145 for burn's product and ~300 for torch.
const PRE_AVX2_CORES: &[&str] = &[
    "katmai",
    "coppermine",
    "northwood",
    "prescott",
    "banias",
    "core2",
    "penryn",
    "dunnington",
    "nehalem",
    "sandybridge",
    "atom",
    "athlon",
    "opteron",
    "opteron_sse3",
    "barcelona",
    "bobcat",
    "bulldozer",
    "piledriver",
    "steamroller",
    "excavator",
];

/// The environment variable that overrides the choice of [`choice`]: `openblas` or `burn`.
pub(crate) const CHOICE_VAR: &str = "SPIKEBURN_GEMM";

/// Whether the dense layers use OpenBLAS, decided once per process: `Ok(())`, or `Err` with
/// the reason they use burn's product instead.
///
/// `SPIKEBURN_GEMM=openblas` or `=burn` decides; otherwise OpenBLAS is used unless it picked a
/// kernel set from before AVX2 ([`PRE_AVX2_CORES`]) on a CPU that has AVX2 and FMA, the case
/// where it is several times slower than burn's product (the `gemm` crate, which chooses its
/// kernels by the CPU's features at run time).
pub(crate) fn choice() -> &'static Result<(), String> {
    static CHOICE: OnceLock<Result<(), String>> = OnceLock::new();
    CHOICE.get_or_init(|| {
        decide(
            std::env::var(CHOICE_VAR).ok().as_deref(),
            &core_name(),
            modern_x86(),
        )
    })
}

/// [`choice`] for a given override, core name and CPU (pure, for the tests).
fn decide(choice: Option<&str>, core: &str, avx2_fma: bool) -> Result<(), String> {
    match choice
        .map(str::trim)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("openblas") => return Ok(()),
        Some("burn") => return Err(format!("{CHOICE_VAR}=burn")),
        Some("") | None => {}
        Some(other) => {
            return Err(format!(
                "{CHOICE_VAR}={other:?} is neither `openblas` nor `burn`; using burn's product"
            ));
        }
    }
    if avx2_fma && PRE_AVX2_CORES.contains(&core.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "OpenBLAS picked its generic `{core}` kernels on this AVX2 CPU (it does not know it); \
             burn's product is faster here (set {CHOICE_VAR}=openblas to use OpenBLAS anyway)"
        ));
    }
    Ok(())
}

/// Whether the CPU has AVX2 and FMA (the kernels of every OpenBLAS core from Haswell/Zen on).
fn modern_x86() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition in f64, with the bound on an f32 computation of each element in any
    /// summation order: `γ_K·Σ|a||b|`, `γ_K = K·u/(1 − K·u)`, `u = 2⁻²⁴` (Higham, *Accuracy
    /// and Stability of Numerical Algorithms*, §3.1).
    fn naive(a: Operand<'_>, b: Operand<'_>) -> Vec<(f64, f64)> {
        let ((m, k), (_, n)) = (a.shape(), b.shape());
        let at = |o: &Operand<'_>, r: usize, c: usize| {
            if o.transposed {
                o.data[c * o.cols + r]
            } else {
                o.data[r * o.cols + c]
            }
        };
        let ku = k as f64 * f64::from(f32::EPSILON) / 2.0;
        let gamma = ku / (1.0 - ku);
        let mut c = Vec::with_capacity(m * n);
        for i in 0..m {
            for j in 0..n {
                let terms = (0..k).map(|p| f64::from(at(&a, i, p)) * f64::from(at(&b, p, j)));
                let sum = terms.clone().sum::<f64>();
                let abs = terms.map(f64::abs).sum::<f64>();
                c.push((sum, gamma * abs));
            }
        }
        c
    }

    #[test]
    fn a_generic_core_on_an_avx2_cpu_is_not_used_unless_asked() {
        assert!(decide(None, "Prescott", true).is_err());
        assert!(decide(None, "Prescott", false).is_ok());
        assert!(decide(None, "Haswell", true).is_ok());
        assert!(decide(None, "Zen", true).is_ok());
        assert!(decide(None, "SkylakeX", true).is_ok());
        assert!(decide(Some("openblas"), "Prescott", true).is_ok());
        assert!(decide(Some("burn"), "Zen", true).is_err());
        assert!(decide(Some("mkl"), "Zen", true).is_err());
    }

    #[test]
    fn every_transpose_combination_and_row_split_equals_the_definition() {
        let values = |len: usize, seed: usize| -> Vec<f32> {
            (0..len)
                .map(|i| (((i * 7919 + seed * 104_729) % 2001) as f32 - 1000.0) * 1e-3)
                .collect()
        };
        // 300 × 40 × 33 is split across threads; the others are skinny (the `gemm` crate, one
        // in parallel); k = 0 gives zeros.
        for (m, n, k) in [
            (300, 40, 33),
            (5, 3, 7),
            (129, 1, 1),
            (4, 6, 0),
            (2000, 10, 400),
            (40, 300, 33),
        ] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let (ad, bd) = (values(m * k, 1), values(k * n, 2));
                let a = Operand {
                    data: &ad,
                    rows: if ta { k } else { m },
                    cols: if ta { m } else { k },
                    transposed: ta,
                };
                let b = Operand {
                    data: &bd,
                    rows: if tb { n } else { k },
                    cols: if tb { k } else { n },
                    transposed: tb,
                };
                let c = gemm(a, b);
                for (&x, (y, bound)) in c.iter().zip(naive(a, b)) {
                    assert!(
                        (f64::from(x) - y).abs() <= bound,
                        "{m}x{n}x{k} {ta} {tb}: {x} vs {y} (bound {bound:e})"
                    );
                }
            }
        }
    }
}
