//! The one table of the built-in surrogate derivatives `σ'(x)`.
//!
//! Each formula is written once, below, in [`surrogate_table!`]'s entries, over the input `x`
//! and the two parameters `a`, `b` of [`super::Surrogate::builtin`]. The macro expands every
//! entry three times, against three implementations of the same few primitives:
//!
//! - [`scalar`]: `f32`, for the fused CPU kernels (one monomorphised closure per surrogate,
//!   [`with_builtin`]) and [`super::Surrogate::derivative`];
//! - [`tensor`]: burn tensors, for the autodiff reference path
//!   ([`super::Surrogate::derivative_tensor`]) on every backend;
//! - `cube` (features `wgpu`/`cuda`): a CubeCL function for the GPU kernels.
//!
//! The primitives are `sq(v) = v·v`, `abs`, `exp`, `recip(v) = 1 / v`, `rdiv(c, v) = c / v`,
//! `rsub(c, v) = c − v`, `max0(v) = max(v, 0)`, `one(v) = 1` and `s_one_minus_s(s) = s·(1 − s)`
//! (`recip` spares the tensor expansion the constant tensor `rdiv` needs); a tensor is on the
//! left of every infix operator, as burn's tensor arithmetic needs. Written in the same
//! order everywhere, the three expansions round alike: the scalar and tensor ones are equal
//! bit for bit on the CPU backends (tested), and the GPU's differs only where its `exp` does.

/// `π/2`.
const HALF_PI: f32 = 0.5 * std::f32::consts::PI;
/// `1/√(2π)`.
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// Writes the scalar, tensor and CubeCL expansions of the table (see the module docs).
macro_rules! surrogate_table {
    (
        // The CubeCL attribute, given here so that the kernel functions it writes resolve the
        // names of the formulas (macro hygiene).
        gpu = $hash:tt $gpu:tt $dfn:tt $dname:ident($dx:ident, $dkind:ident, $da:ident, $db:ident) -> $dd:ident = $one:literal;
        $( $(#[$doc:meta])* $code:literal => $fn:tt $name:ident($x:ident, $a:ident, $b:ident) $body:block )*
    ) => {
        /// The table over `f32`.
        #[allow(unused_variables, clippy::unnecessary_cast)]
        pub(crate) mod scalar {
            use super::{FRAC_1_SQRT_2PI, HALF_PI};

            fn sq(v: f32) -> f32 { v * v }
            fn abs(v: f32) -> f32 { v.abs() }
            fn exp(v: f32) -> f32 { v.exp() }
            fn rdiv(c: f32, v: f32) -> f32 { c / v }
            fn recip(v: f32) -> f32 { 1.0 / v }
            fn rsub(c: f32, v: f32) -> f32 { c - v }
            fn max0(v: f32) -> f32 { v.max(0.0) }
            fn one(_: f32) -> f32 { 1.0 }
            fn s_one_minus_s(s: f32) -> f32 { s * (1.0 - s) }

            $( $(#[$doc])* #[inline(always)]
            pub(crate) fn $name($x: f32, $a: f32, $b: f32) -> f32 $body )*

            /// `σ'(x)` of the built-in surrogate `kind` with parameters `a`, `b` (`1` for a
            /// code that is not in the table, as in the other expansions).
            #[inline]
            pub(crate) fn derivative(kind: u32, x: f32, a: f32, b: f32) -> f32 {
                match kind {
                    $( $code => $name(x, a, b), )*
                    _ => 1.0,
                }
            }
        }

        /// The table over burn tensors (element-wise).
        #[allow(unused_variables)]
        pub(crate) mod tensor {
            use super::{FRAC_1_SQRT_2PI, HALF_PI};
            use burn::prelude::*;

            fn sq<const D: usize>(v: Tensor<D>) -> Tensor<D> { v.square() }
            fn abs<const D: usize>(v: Tensor<D>) -> Tensor<D> { v.abs() }
            fn exp<const D: usize>(v: Tensor<D>) -> Tensor<D> { v.exp() }
            fn rdiv<const D: usize>(c: f32, v: Tensor<D>) -> Tensor<D> { v.full_like(c) / v }
            fn recip<const D: usize>(v: Tensor<D>) -> Tensor<D> { v.recip() }
            fn rsub<const D: usize>(c: f32, v: Tensor<D>) -> Tensor<D> { v.neg() + c }
            fn max0<const D: usize>(v: Tensor<D>) -> Tensor<D> { v.clamp_min(0.0) }
            fn one<const D: usize>(v: Tensor<D>) -> Tensor<D> { v.ones_like() }
            fn s_one_minus_s<const D: usize>(s: Tensor<D>) -> Tensor<D> {
                s.clone() * (s.neg() + 1.0)
            }

            $( $(#[$doc])*
            pub(crate) fn $name<const D: usize>($x: Tensor<D>, $a: f32, $b: f32) -> Tensor<D> $body )*

            /// `σ'(x)` element-wise of the built-in surrogate `kind` (`1` for a code that is
            /// not in the table, as in the other expansions).
            pub(crate) fn derivative<const D: usize>(
                kind: u32,
                x: Tensor<D>,
                a: f32,
                b: f32,
            ) -> Tensor<D> {
                match kind {
                    $( $code => $name(x, a, b), )*
                    _ => one(x),
                }
            }
        }

        /// The table as CubeCL functions, for the GPU kernels.
        #[cfg(feature = "cube")]
        #[allow(unused_variables)]
        pub(crate) mod cube {
            use super::{FRAC_1_SQRT_2PI, HALF_PI};
            use cubecl::prelude::*;

            #[cube] fn sq(v: f32) -> f32 { v * v }
            #[cube] fn abs(v: f32) -> f32 { v.abs() }
            #[cube] fn exp(v: f32) -> f32 { v.exp() }
            #[cube] fn rdiv(c: f32, v: f32) -> f32 { c / v }
            #[cube] fn recip(v: f32) -> f32 { 1.0f32 / v }
            #[cube] fn rsub(c: f32, v: f32) -> f32 { c - v }
            #[cube] fn max0(v: f32) -> f32 {
                let mut r = 0.0f32;
                if v > 0.0f32 {
                    r = v;
                }
                r
            }
            #[cube] fn one(v: f32) -> f32 { 1.0f32 }
            #[cube] fn s_one_minus_s(s: f32) -> f32 { s * (1.0f32 - s) }

            $( $hash $gpu $fn $name($x: f32, $a: f32, $b: f32) -> f32 $body )*

            /// `σ'(x)` of the built-in surrogate `kind` (`1` for a code not in the table).
            $hash $gpu
            pub(crate) $dfn $dname($dx: f32, $dkind: u32, $da: f32, $db: f32) -> f32 {
                let mut $dd = $one;
                $( if $dkind == $code { $dd = $name($dx, $da, $db); } )*
                $dd
            }
        }

        /// Runs `work` with the derivative of the built-in surrogate `kind` as a concrete
        /// closure, one monomorphised copy per surrogate, so that it inlines into the kernels'
        /// inner loops (`σ' = 1` for a code that is not in the table).
        pub(crate) fn with_builtin<W: super::WithDerivative>(
            kind: u32,
            a: f32,
            b: f32,
            work: W,
        ) -> W::Output {
            match kind {
                $( $code => work.run(move |x| scalar::$name(x, a, b)), )*
                _ => work.run(|_| 1.0),
            }
        }
    };
}

surrogate_table! {
    gpu = #[cube] fn derivative(x, kind, a, b) -> d = 1.0f32;
    /// Arctangent: `(α/2) / (1 + (π/2·α·x)²)`, `a = α`.
    0u32 => fn atan(x, a, b) {
        let z = x * (HALF_PI * a);
        rdiv(0.5f32 * a, sq(z) + 1.0f32)
    }
    /// Fast sigmoid: `1 / (1 + k·|x|)²`, `a = k`.
    1u32 => fn fast_sigmoid(x, a, b) {
        recip(sq(abs(x) * a + 1.0f32))
    }
    /// Logistic sigmoid: `k·s·(1 − s)` with `s = 1 / (1 + e^(−k·x))`, `a = k`.
    2u32 => fn sigmoid(x, a, b) {
        s_one_minus_s(recip(exp(x * (0.0f32 - a)) + 1.0f32)) * a
    }
    /// Straight-through: `1`.
    3u32 => fn straight_through(x, a, b) {
        one(x)
    }
    /// Triangular: `α·max(1 − |x|, 0)`, `a = α`.
    4u32 => fn triangular(x, a, b) {
        max0(rsub(1.0f32, abs(x))) * a
    }
    /// Gaussian: `k/√(2π)·e^(−(k·x)²/2)`, `a = k`.
    5u32 => fn gaussian(x, a, b) {
        exp(sq(x * a) * (0.0f32 - 0.5f32)) * (a * FRAC_1_SQRT_2PI)
    }
    /// Spike-rate escape: `k·e^(−β·|x − 1|)`, `a = β`, `b = k`.
    6u32 => fn spike_rate_escape(x, a, b) {
        exp(abs(x - 1.0f32) * (0.0f32 - a)) * b
    }
}

#[cfg(test)]
mod tests {
    use super::super::Surrogate;
    use burn::prelude::*;

    /// The parameters `[a, b]` tried for every entry.
    const PARAMS: [[f32; 2]; 4] = [[2.0, 25.0], [25.0, 1.0], [0.3, 4.0], [1.0, 0.5]];

    fn grid() -> Vec<f32> {
        (0..801)
            .map(|i| -4.0 + i as f32 * 0.01)
            .chain([0.0, -0.0, 1.0, 1e-7, 40.0, -40.0])
            .collect()
    }

    /// The rustdoc formula of each entry in f64, written independently of the table.
    fn formula(kind: u32, x: f64, a: f64, b: f64) -> f64 {
        use std::f64::consts::PI;
        match kind {
            0 => (a / 2.0) / (1.0 + (PI / 2.0 * a * x).powi(2)),
            1 => 1.0 / (1.0 + a * x.abs()).powi(2),
            2 => {
                let s = 1.0 / (1.0 + (-a * x).exp());
                a * s * (1.0 - s)
            }
            3 => 1.0,
            4 => a * (1.0 - x.abs()).max(0.0),
            5 => a / (2.0 * PI).sqrt() * (-(a * x).powi(2) / 2.0).exp(),
            6 => b * (-a * (x - 1.0).abs()).exp(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn every_entry_is_its_documented_formula() {
        for kind in 0..7 {
            for [a, b] in PARAMS {
                for x in grid() {
                    let got = super::scalar::derivative(kind, x, a, b);
                    let want = formula(kind, f64::from(x), f64::from(a), f64::from(b));
                    // Relative rounding of a few operations (ε = 2⁻²⁴ ≈ 6e-8); the sigmoid's
                    // 1 − s cancels, which costs up to a·s·ε in absolute terms.
                    // An exponent y, rounded relatively, moves e^y relatively by ε·|y|.
                    let (xd, ad) = (f64::from(x), f64::from(a));
                    let exponent = match kind {
                        2 => ad * xd.abs(),
                        5 => (ad * xd).powi(2) / 2.0,
                        6 => ad * (xd - 1.0).abs(),
                        _ => 0.0,
                    };
                    let cancel = if kind == 2 { 2.0 * ad * 6e-8 } else { 0.0 };
                    let relative = 1e-6 + 4.0 * 6e-8 * exponent;
                    assert!(
                        (f64::from(got) - want).abs() <= relative * want.abs() + cancel + 1e-30,
                        "kind {kind} a {a} b {b} at {x}: {got} vs {want}"
                    );
                }
            }
        }
        assert_eq!(super::scalar::derivative(7, 0.3, 2.0, 2.0), 1.0);
    }

    #[test]
    fn scalar_and_tensor_expansions_are_equal_bit_for_bit() {
        let device = Device::flex();
        let xs = grid();
        let n = xs.len();
        for kind in 0..7 {
            for [a, b] in PARAMS {
                let x = Tensor::<1>::from_data(TensorData::new(xs.clone(), [n]), &device);
                let tensor = super::tensor::derivative(kind, x, a, b)
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap();
                for (i, &x) in xs.iter().enumerate() {
                    let scalar = super::scalar::derivative(kind, x, a, b);
                    assert_eq!(
                        scalar.to_bits(),
                        tensor[i].to_bits(),
                        "kind {kind} a {a} b {b} at {x}: scalar {scalar}, tensor {}",
                        tensor[i]
                    );
                }
            }
        }
    }

    #[test]
    fn every_builtin_has_its_own_code_and_comes_back_from_it() {
        let mut codes = Vec::new();
        for s in Surrogate::builtins() {
            let (kind, params) = s.builtin().expect("built in");
            assert_eq!(Surrogate::from_builtin(kind, params), Some(s));
            codes.push(kind);
        }
        codes.sort_unstable();
        assert_eq!(codes, (0..7).collect::<Vec<u32>>());
        assert_eq!(Surrogate::from_builtin(7, [1.0, 1.0]), None);
    }
}
