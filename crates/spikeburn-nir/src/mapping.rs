//! Mapping between spikeburn's discrete-time neurons and NIR's continuous-time ones.
//!
//! # Convention (snnTorch's, forward Euler with the model's time step `dt`)
//! NIR's LIF is `τ dv/dt = (v_leak - v) + r I`. One forward-Euler step of length `dt` gives
//!
//! ```text
//! v[t] = (1 - dt/τ) v[t-1] + (r dt/τ) I[t] + (dt/τ) v_leak
//!      =     β      v[t-1] +    g     I[t] + (1 - β) v_leak
//! ```
//!
//! so spikeburn's (and snnTorch's) `U[t] = β U[t-1] + I[t]` is exported as
//!
//! ```text
//! τ = dt / (1 - β),    r = τ / dt,    v_leak = 0          (β = 1 - dt/τ,  g = r dt/τ = 1)
//! ```
//!
//! which is exactly what snnTorch 1.0's `export_to_nir` writes (with `dt = 1e-4`). The time
//! step is not part of NIR: spikeburn records it in the graph metadata under
//! [`METADATA_DT`](crate::graph::METADATA_DT) ([`NirGraph::set_dt`](crate::NirGraph::set_dt)),
//! and an importer reading a file without it must assume one (snnTorch assumes `1e-4`).
//! Files from other tools may use other `r` (Norse writes `r = 1`, i.e. `g = dt/τ`):
//! [`lif_to_discrete`] returns that gain instead of assuming 1, and the importer folds it into
//! the preceding weights.
//!
//! The current-based LIF (snnTorch `Synaptic`: `I[t] = α I[t-1] + X[t]`,
//! `U[t] = β U[t-1] + I[t]`) maps the synaptic current the same way from NIR's
//! `τ_syn dI/dt = -I + w_in S`:
//!
//! ```text
//! τ_syn = dt / (1 - α),   w_in = τ_syn / dt,   τ_mem = dt / (1 - β),   r = τ_mem / dt
//! ```
//!
//! # What NIR cannot express
//! NIR neurons reset to `v_reset` after a spike. spikeburn's default *subtract* reset
//! (`U ← U - θ`) has no NIR equivalent; only the *zero* reset maps exactly (`v_reset = 0`).
//! A model without reset has no NIR LIF either. The exporter decides what to do with those
//! (refuse, or warn and write `v_reset = 0`). Threshold semantics agree: a spike when
//! `v > v_threshold`.
//!
//! Forward Euler is the convention snnTorch and spikeburn share; the exact exponential
//! integrator would give `β = exp(-dt/τ)` instead, which differs by `O((dt/τ)²)`.

use crate::error::{NirError, Result};
use crate::graph::{Array, CubaLif, Li, Lif};

fn mapping_err(quantity: &'static str, value: f64, expected: &'static str) -> NirError {
    NirError::Mapping {
        node: String::new(),
        quantity,
        value,
        expected,
    }
}

fn check_dt(dt: f64) -> Result<()> {
    if dt.is_finite() && dt > 0.0 {
        Ok(())
    } else {
        Err(mapping_err("dt", dt, "a finite time step > 0"))
    }
}

/// `τ = dt / (1 - β)`: the membrane time constant whose Euler step of length `dt` decays by
/// `β`. Needs `0 ≤ β < 1` (β = 1 is a non-leaky integrator: export it as NIR `IF`) and
/// `dt > 0`.
pub fn tau_from_beta(beta: f64, dt: f64) -> Result<f64> {
    check_dt(dt)?;
    if !(0.0..1.0).contains(&beta) {
        return Err(mapping_err(
            "beta",
            beta,
            "0 <= beta < 1 (beta = 1 has no time constant: use an IF node)",
        ));
    }
    Ok(dt / (1.0 - beta))
}

/// `β = 1 - dt / τ`, the inverse of [`tau_from_beta`]. Needs `τ ≥ dt` (otherwise the Euler
/// step would overshoot and give `β < 0`) and `dt > 0`.
pub fn beta_from_tau(tau: f64, dt: f64) -> Result<f64> {
    check_dt(dt)?;
    if !(tau.is_finite() && tau >= dt) {
        return Err(mapping_err(
            "tau",
            tau,
            "a finite time constant >= dt (the model's time step)",
        ));
    }
    Ok(1.0 - dt / tau)
}

/// `r = τ / dt`: the input resistance that makes the Euler step add the input unscaled
/// (`g = r dt / τ = 1`). The same formula gives `w_in = τ_syn / dt` for the synaptic current.
pub fn unit_gain_r(tau: f64, dt: f64) -> Result<f64> {
    check_dt(dt)?;
    Ok(tau / dt)
}

/// `g = r dt / τ`: the factor by which one Euler step scales the input (1 under snnTorch's
/// convention, `dt/τ` under Norse's `r = 1`).
pub fn input_gain(tau: f64, r: f64, dt: f64) -> Result<f64> {
    check_dt(dt)?;
    if !(tau.is_finite() && tau > 0.0) {
        return Err(mapping_err("tau", tau, "a finite time constant > 0"));
    }
    Ok(r * dt / tau)
}

fn map_array(a: &Array, node: &str, f: impl Fn(f64) -> Result<f64>) -> Result<Array> {
    let data = a
        .data()
        .iter()
        .map(|&x| {
            f(f64::from(x))
                .map(|y| y as f32)
                .map_err(|e| with_node(e, node))
        })
        .collect::<Result<Vec<f32>>>()?;
    Array::new(a.shape().to_vec(), data)
}

fn with_node(e: NirError, name: &str) -> NirError {
    match e {
        NirError::Mapping {
            quantity,
            value,
            expected,
            ..
        } => NirError::Mapping {
            node: name.to_string(),
            quantity,
            value,
            expected,
        },
        other => other,
    }
}

fn zip_map(a: &Array, b: &Array, node: &str, f: impl Fn(f64, f64) -> Result<f64>) -> Result<Array> {
    // Broadcast a one-element array against the other.
    let (shape, n) = if a.len() >= b.len() {
        (a.shape(), a.len())
    } else {
        (b.shape(), b.len())
    };
    let pick = |x: &Array, i: usize| -> Result<f64> {
        match x.data() {
            [one] => Ok(f64::from(*one)),
            d => d
                .get(i)
                .map(|v| f64::from(*v))
                .ok_or_else(|| NirError::ArrayShape {
                    name: node.to_string(),
                    shape: x.shape().to_vec(),
                    expected: n,
                    found: d.len(),
                }),
        }
    };
    let data = (0..n)
        .map(|i| {
            f(pick(a, i)?, pick(b, i)?)
                .map(|y| y as f32)
                .map_err(|e| with_node(e, node))
        })
        .collect::<Result<Vec<f32>>>()?;
    Array::new(shape.to_vec(), data)
}

/// The NIR `LIF` of a discrete LIF `U[t] = β U[t-1] + I[t]` with threshold `θ` and zero
/// reset, under the convention above: `τ = dt/(1-β)`, `r = τ/dt`, `v_leak = 0`,
/// `v_threshold = θ`, `v_reset = 0`. `beta` and `threshold` may be per-neuron arrays or hold
/// one value (broadcast).
pub fn lif_from_discrete(beta: &Array, threshold: &Array, dt: f64) -> Result<Lif> {
    let (tau, r) = unit_gain_leak(beta, dt, "LIF")?;
    let shape = tau.shape().to_vec();
    Ok(Lif {
        v_leak: Array::full(shape.clone(), 0.0),
        v_threshold: threshold.clone(),
        v_reset: zero_reset(threshold, shape),
        tau,
        r,
    })
}

/// `τ = dt/(1-β)` and the unit-gain `r = τ/dt` of each element of `beta`, for a `node` type.
fn unit_gain_leak(beta: &Array, dt: f64, node: &str) -> Result<(Array, Array)> {
    let tau = map_array(beta, node, |b| tau_from_beta(b, dt))?;
    let r = map_array(&tau, node, |t| unit_gain_r(t, dt))?;
    Ok((tau, r))
}

/// The zero `v_reset`: one value where `threshold` holds one (broadcast), else of `shape`.
fn zero_reset(threshold: &Array, shape: Vec<usize>) -> Array {
    let shape = if threshold.len() == 1 {
        threshold.shape().to_vec()
    } else {
        shape
    };
    Array::full(shape, 0.0)
}

/// A discrete-time neuron read back from NIR: `U[t] = β U[t-1] + gain · I[t] + bias`, spike
/// when `U > threshold`, then `U ← reset`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscreteLif {
    /// `β = 1 - dt/τ`.
    pub beta: Array,
    /// `g = r dt/τ` (1 for files written with snnTorch's convention).
    pub gain: Array,
    /// `(1 - β) v_leak` (0 when `v_leak = 0`).
    pub bias: Array,
    /// `v_threshold` (absent for a leaky integrator).
    pub threshold: Option<Array>,
    /// `v_reset` (absent for a leaky integrator).
    pub reset: Option<Array>,
}

fn leaky_to_discrete(
    tau: &Array,
    r: &Array,
    v_leak: &Array,
    dt: f64,
    node: &str,
) -> Result<(Array, Array, Array)> {
    let beta = map_array(tau, node, |t| beta_from_tau(t, dt))?;
    let gain = zip_map(tau, r, node, |t, r| input_gain(t, r, dt))?;
    let bias = zip_map(&beta, v_leak, node, |b, vl| Ok((1.0 - b) * vl))?;
    Ok((beta, gain, bias))
}

/// The discrete form of an NIR `LIF` under forward Euler with step `dt` (see the module
/// documentation); the inverse of [`lif_from_discrete`].
pub fn lif_to_discrete(lif: &Lif, dt: f64) -> Result<DiscreteLif> {
    let (beta, gain, bias) = leaky_to_discrete(&lif.tau, &lif.r, &lif.v_leak, dt, "LIF")?;
    Ok(DiscreteLif {
        beta,
        gain,
        bias,
        threshold: Some(lif.v_threshold.clone()),
        reset: Some(lif.v_reset.clone()),
    })
}

/// The NIR `LI` of a discrete leaky integrator `U[t] = β U[t-1] + I[t]` (a non-spiking
/// readout): `τ = dt/(1-β)`, `r = τ/dt`, `v_leak = 0`.
pub fn li_from_discrete(beta: &Array, dt: f64) -> Result<Li> {
    let (tau, r) = unit_gain_leak(beta, dt, "LI")?;
    Ok(Li {
        v_leak: Array::full(tau.shape().to_vec(), 0.0),
        tau,
        r,
    })
}

/// The discrete form of an NIR `LI` (threshold and reset are `None`).
pub fn li_to_discrete(li: &Li, dt: f64) -> Result<DiscreteLif> {
    let (beta, gain, bias) = leaky_to_discrete(&li.tau, &li.r, &li.v_leak, dt, "LI")?;
    Ok(DiscreteLif {
        beta,
        gain,
        bias,
        threshold: None,
        reset: None,
    })
}

/// The NIR `CubaLIF` of a discrete current-based LIF (snnTorch `Synaptic`):
/// `I[t] = α I[t-1] + X[t]`, `U[t] = β U[t-1] + I[t]`, threshold `θ`, zero reset:
/// `τ_syn = dt/(1-α)`, `w_in = τ_syn/dt`, `τ_mem = dt/(1-β)`, `r = τ_mem/dt`, `v_leak = 0`,
/// `v_reset = 0`.
pub fn cuba_lif_from_discrete(
    alpha: &Array,
    beta: &Array,
    threshold: &Array,
    dt: f64,
) -> Result<CubaLif> {
    let tau_syn = map_array(alpha, "CubaLIF", |a| {
        tau_from_beta(a, dt).map_err(|e| rename_quantity(e, "beta", "alpha"))
    })?;
    let w_in = map_array(&tau_syn, "CubaLIF", |t| unit_gain_r(t, dt))?;
    let (tau_mem, r) = unit_gain_leak(beta, dt, "CubaLIF")?;
    let shape = tau_mem.shape().to_vec();
    Ok(CubaLif {
        v_leak: Array::full(shape.clone(), 0.0),
        v_threshold: threshold.clone(),
        v_reset: zero_reset(threshold, shape),
        tau_syn,
        tau_mem,
        r,
        w_in,
    })
}

fn rename_quantity(e: NirError, from: &str, to: &'static str) -> NirError {
    match e {
        NirError::Mapping {
            node,
            value,
            expected,
            quantity: q,
        } => NirError::Mapping {
            node,
            quantity: if q == from { to } else { q },
            value,
            expected,
        },
        other => other,
    }
}

/// The discrete form of an NIR `CubaLIF`: the synaptic decay `α = 1 - dt/τ_syn` and input
/// gain `w_in dt/τ_syn`, and the membrane as in [`lif_to_discrete`].
#[derive(Debug, Clone, PartialEq)]
pub struct DiscreteCubaLif {
    /// `α = 1 - dt/τ_syn`.
    pub alpha: Array,
    /// `w_in dt/τ_syn` (1 under snnTorch's convention).
    pub synaptic_gain: Array,
    /// The membrane: `β`, gain `r dt/τ_mem`, bias, threshold and reset.
    pub membrane: DiscreteLif,
}

/// The discrete form of an NIR `CubaLIF` under forward Euler with step `dt`; the inverse of
/// [`cuba_lif_from_discrete`].
pub fn cuba_lif_to_discrete(n: &CubaLif, dt: f64) -> Result<DiscreteCubaLif> {
    let alpha = map_array(&n.tau_syn, "CubaLIF", |t| {
        beta_from_tau(t, dt).map_err(|e| rename_quantity(e, "tau", "tau_syn"))
    })?;
    let synaptic_gain = zip_map(&n.tau_syn, &n.w_in, "CubaLIF", |t, w| input_gain(t, w, dt))?;
    let (beta, gain, bias) = leaky_to_discrete(&n.tau_mem, &n.r, &n.v_leak, dt, "CubaLIF")?;
    Ok(DiscreteCubaLif {
        alpha,
        synaptic_gain,
        membrane: DiscreteLif {
            beta,
            gain,
            bias,
            threshold: Some(n.v_threshold.clone()),
            reset: Some(n.v_reset.clone()),
        },
    })
}
