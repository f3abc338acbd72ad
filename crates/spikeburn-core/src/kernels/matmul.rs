//! A single-threaded product of host matrices given by strides, on the `gemm` crate (which
//! picks its kernel by the CPU's features at run time), shared by the CPU kernels that call a
//! GEMM inside their own parallel loops (convolutions, the recurrent scan).

/// `dst [m, n] (+)= lhs [m, k] · rhs [k, n]` on one thread; each matrix is given with its
/// (row, column) strides in elements. Accumulates into `dst` when `accumulate`.
pub(crate) fn matmul(
    dst: &mut [f32],
    (dst_rs, dst_cs): (usize, usize),
    (lhs, lhs_rs, lhs_cs): (&[f32], usize, usize),
    (rhs, rhs_rs, rhs_cs): (&[f32], usize, usize),
    [m, n, k]: [usize; 3],
    accumulate: bool,
) {
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        }
    };
    // The bounds that make the raw-pointer call below stay inside the three slices.
    assert!(dst.len() >= last(m, n, dst_rs, dst_cs), "gemm destination");
    assert!(lhs.len() >= last(m, k, lhs_rs, lhs_cs), "gemm left operand");
    assert!(
        rhs.len() >= last(k, n, rhs_rs, rhs_cs),
        "gemm right operand"
    );
    if m == 0 || n == 0 {
        return;
    }
    let stride = |s: usize| isize::try_from(s).expect("stride fits in isize");
    // SAFETY: the asserts above keep every element (i, j) of each operand, at offset
    // i·rs + j·cs, inside its slice; `dst` is borrowed mutably, so it aliases neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            stride(dst_cs),
            stride(dst_rs),
            accumulate,
            lhs.as_ptr(),
            stride(lhs_cs),
            stride(lhs_rs),
            rhs.as_ptr(),
            stride(rhs_cs),
            stride(rhs_rs),
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
