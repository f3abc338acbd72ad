//! The fused scan on burn-wgpu: CubeCL kernels, compiled for whatever GPU wgpu drives (Vulkan,
//! Metal, DX12, WebGPU) or for Mesa's software Vulkan (llvmpipe) on a machine without one.
//!
//! One invocation per neuron (`B·N` of them, flat index `i`), each looping over `T`: at every
//! step the invocations of a workgroup read and write consecutive addresses `t·B·N + i`, so the
//! accesses coalesce. The forward kernel keeps the membrane trace `U[t]` for training; the
//! backward kernel runs BPTT from `t = T−1` down to 0 with the equations of the
//! [parent module](super), sums `∂L/∂β` and `∂L/∂θ` over time per neuron-row in registers and
//! leaves the sum over the batch (and over neurons, for a shared scalar) to a tensor reduction.
//! Every built-in surrogate is evaluated in the kernel; a user-registered one is host code, so
//! [`super::supported`] sends it to the reference path instead.

use super::{ScanKernels, ScanSettings};
use burn::backend::TensorMetadata;
use burn::backend::ops::FloatTensorOps;
use burn::tensor::{DType, FloatDType, Shape};
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::calculate_cube_count_elemwise;
use cubecl::prelude::*;

/// The surrogate derivative `σ'(x)` of the built-in surrogate `kind` (the codes of
/// [`ScanSettings`]' encoding) with parameters `a`, `b`: the one table of formulas
/// ([`crate::surrogate::table`]) expanded for CubeCL.
use crate::surrogate::table::cube::derivative as surrogate_derivative;

/// The value for neuron `j` of a parameter shared by the layer (`[1]`) or per neuron (`[N]`).
#[cube]
fn per_neuron(param: &Tensor<f32>, j: usize) -> f32 {
    if param.len() > 1 { param[j] } else { param[0] }
}

/// Forward recurrence for neuron `i = ABSOLUTE_POS` over all `steps` steps. `flags`: bit 0
/// keeps the trace, bit 1 marks a constant input `[B, N]`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn scan_forward_kernel(
    x: &Tensor<f32>,
    beta: &Tensor<f32>,
    threshold: &Tensor<f32>,
    out: &mut Tensor<f32>,
    trace: &mut Tensor<f32>,
    steps: u32,
    rows: u32,
    neurons: u32,
    code: u32,
    flags: u32,
) {
    let i = ABSOLUTE_POS;
    let bn = rows as usize;
    if i >= bn {
        terminate!();
    }
    let j = i % (neurons as usize);
    let b = per_neuron(beta, j);
    let th = per_neuron(threshold, j);
    let reset = code & 3u32;
    let membrane = (code & 8u32) != 0u32;
    let keep = (flags & 1u32) != 0u32;
    let constant = (flags & 2u32) != 0u32;
    let steps = steps as usize;
    let mut u = 0.0f32;
    for t in 0..steps {
        let idx = t * bn + i;
        let xi = if constant { x[i] } else { x[idx] };
        let prev = u;
        let mut r = 0.0f32;
        if reset != 2u32 && prev - th > 0.0f32 {
            r = 1.0f32;
        }
        let mut next = prev * b + xi;
        if reset == 0u32 {
            next -= r * th;
        } else if reset == 1u32 {
            next = (prev - r * prev) * b + xi;
        }
        u = next;
        if membrane {
            out[idx] = next;
        } else {
            out[idx] = if next - th > 0.0f32 { 1.0f32 } else { 0.0f32 };
        }
        if keep {
            trace[idx] = next;
        }
    }
}

/// BPTT for neuron `i = ABSOLUTE_POS`: writes `∂L/∂X` (summed over steps for a constant
/// input) and this neuron-row's `∂L/∂β`, `∂L/∂θ` summed over steps.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn scan_backward_kernel(
    grad: &Tensor<f32>,
    trace: &Tensor<f32>,
    beta: &Tensor<f32>,
    threshold: &Tensor<f32>,
    gx: &mut Tensor<f32>,
    gbeta: &mut Tensor<f32>,
    gtheta: &mut Tensor<f32>,
    steps: u32,
    rows: u32,
    neurons: u32,
    code: u32,
    constant: u32,
    a: f32,
    b: f32,
) {
    let i = ABSOLUTE_POS;
    let bn = rows as usize;
    if i >= bn {
        terminate!();
    }
    let j = i % (neurons as usize);
    let bj = per_neuron(beta, j);
    let th = per_neuron(threshold, j);
    let reset = code & 3u32;
    let attached = (code & 4u32) == 0u32;
    let membrane = (code & 8u32) != 0u32;
    let kind = (code >> 4u32) & 15u32;
    let constant = constant != 0u32;
    let steps = steps as usize;
    let mut delta = 0.0f32;
    let mut gb = 0.0f32;
    let mut gt = 0.0f32;
    let mut gx_sum = 0.0f32;
    for k in 0..steps {
        let t = steps - 1 - k;
        let idx = t * bn + i;
        let un = trace[idx];
        let mut up = 0.0f32;
        if t > 0 {
            up = trace[idx - bn];
        }
        let g = grad[idx];
        let sg_now = surrogate_derivative(un - th, kind, a, b);
        let mut d = if membrane { g } else { g * sg_now };
        if t + 1 < steps {
            let mut jac = bj;
            if reset == 0u32 {
                if attached {
                    jac = bj - th * sg_now;
                }
            } else if reset == 1u32 {
                let r_next = if un - th > 0.0f32 { 1.0f32 } else { 0.0f32 };
                jac = (1.0f32 - r_next) * bj;
                if attached {
                    jac -= bj * un * sg_now;
                }
            }
            d += delta * jac;
        }
        delta = d;
        let mut r = 0.0f32;
        if reset != 2u32 && up - th > 0.0f32 {
            r = 1.0f32;
        }
        if constant {
            gx_sum += d;
        } else {
            gx[idx] = d;
        }
        if reset == 1u32 {
            gb += d * (1.0f32 - r) * up;
        } else {
            gb += d * up;
        }
        let mut du_dtheta = 0.0f32;
        if reset == 0u32 {
            du_dtheta = 0.0f32 - r;
            if attached {
                du_dtheta += th * surrogate_derivative(up - th, kind, a, b);
            }
        } else if reset == 1u32 && attached {
            du_dtheta = bj * up * surrogate_derivative(up - th, kind, a, b);
        }
        let mut step_gt = d * du_dtheta;
        if !membrane {
            step_gt -= g * sg_now;
        }
        gt += step_gt;
    }
    if constant {
        gx[i] = gx_sum;
    }
    gbeta[i] = gb;
    gtheta[i] = gt;
}

/// A contiguous `f32` copy of `t` (no copy when it already is one).
fn contiguous_f32(t: CubeTensor) -> CubeTensor {
    let t = if t.dtype == DType::F32 {
        t
    } else {
        CubeBackend::float_cast(t, FloatDType::F32)
    };
    into_contiguous(t)
}

fn empty_like_device(like: &CubeTensor, dims: &[usize]) -> CubeTensor {
    empty_device_contiguous_dtype(
        like.client.clone(),
        like.device.clone(),
        Shape::from(dims.to_vec()),
        DType::F32,
    )
}

/// Geometry of a scan: steps, batch rows and neurons.
fn geometry(input_dims: &[usize], settings: &ScanSettings) -> (usize, usize, usize) {
    let steps = if settings.constant_steps > 0 {
        settings.constant_steps
    } else {
        input_dims[0]
    };
    (steps, input_dims[1], input_dims[2])
}

/// Workgroup size and count for one invocation per neuron.
fn launch_shape(client: &cubecl::client::Client, units: usize) -> (CubeCount, CubeDim) {
    let cube_dim = CubeDim::new(client, units);
    (
        calculate_cube_count_elemwise(client, units, cube_dim),
        cube_dim,
    )
}

/// What the GPU backward pass keeps: the membrane trace and the parameters, on the device.
#[derive(Clone, Debug)]
pub struct CubeSaved {
    trace: CubeTensor,
    beta: CubeTensor,
    threshold: CubeTensor,
    input_dims: Vec<usize>,
    beta_dims: Vec<usize>,
    threshold_dims: Vec<usize>,
    settings: ScanSettings,
}

/// Runs the forward kernel; returns the output and, with `keep_trace`, the trace `U[t]`.
fn forward(
    input: CubeTensor,
    beta: CubeTensor,
    threshold: CubeTensor,
    settings: ScanSettings,
    keep_trace: bool,
) -> (
    CubeTensor,
    Option<CubeTensor>,
    CubeTensor,
    CubeTensor,
    Vec<usize>,
) {
    let input_dims = input.shape().to_vec();
    let (steps, batch, neurons) = geometry(&input_dims, &settings);
    let x = contiguous_f32(input);
    let beta = contiguous_f32(beta);
    let threshold = contiguous_f32(threshold);
    let out = empty_like_device(&x, &[steps, batch, neurons]);
    let membrane = settings.output_membrane;
    let own_trace = keep_trace && !membrane;
    // The kernel always takes a trace argument; a one-element stand-in when none is kept (the
    // output cannot double as it: one buffer bound twice as writable is invalid in wgpu).
    let trace_dims = if own_trace {
        vec![steps, batch, neurons]
    } else {
        vec![1]
    };
    let trace = empty_like_device(&x, &trace_dims);
    let rows = batch * neurons;
    if rows > 0 {
        let (code, _) = settings.encode();
        let flags = u32::from(own_trace) | u32::from(settings.constant_steps > 0) << 1;
        let client = x.client.clone();
        let (count, dim) = launch_shape(&client, rows);
        scan_forward_kernel::launch(
            &client,
            count,
            dim,
            x.into_tensor_arg(),
            beta.clone().into_tensor_arg(),
            threshold.clone().into_tensor_arg(),
            out.clone().into_tensor_arg(),
            trace.clone().into_tensor_arg(),
            steps as u32,
            rows as u32,
            neurons as u32,
            code,
            flags,
        );
    }
    let trace = match (keep_trace, own_trace) {
        (false, _) => None,
        (true, true) => Some(trace),
        (true, false) => Some(out.clone()),
    };
    (out, trace, beta, threshold, input_dims)
}

impl ScanKernels for CubeBackend {
    type Saved = CubeSaved;

    fn scan(
        input: CubeTensor,
        beta: CubeTensor,
        threshold: CubeTensor,
        feedback: Option<CubeTensor>,
        settings: ScanSettings,
    ) -> CubeTensor {
        no_feedback(feedback, &settings);
        forward(input, beta, threshold, settings, false).0
    }

    fn scan_train(
        input: CubeTensor,
        beta: CubeTensor,
        threshold: CubeTensor,
        feedback: Option<CubeTensor>,
        settings: ScanSettings,
    ) -> (CubeTensor, CubeSaved) {
        no_feedback(feedback, &settings);
        let beta_dims = beta.shape().to_vec();
        let threshold_dims = threshold.shape().to_vec();
        let (out, trace, beta, threshold, input_dims) =
            forward(input, beta, threshold, settings, true);
        let trace = trace.unwrap_or_else(|| out.clone());
        let saved = CubeSaved {
            trace,
            beta,
            threshold,
            input_dims,
            beta_dims,
            threshold_dims,
            settings,
        };
        (out, saved)
    }

    fn scan_backward(saved: CubeSaved, grad: CubeTensor) -> ([CubeTensor; 3], Option<CubeTensor>) {
        let CubeSaved {
            trace,
            beta,
            threshold,
            input_dims,
            beta_dims,
            threshold_dims,
            settings,
        } = saved;
        let (steps, batch, neurons) = geometry(&input_dims, &settings);
        let grad = contiguous_f32(grad);
        let constant = settings.constant_steps > 0;
        let gx = empty_like_device(&grad, &input_dims);
        let gbeta = empty_like_device(&grad, &[batch, neurons]);
        let gtheta = empty_like_device(&grad, &[batch, neurons]);
        let rows = batch * neurons;
        if rows > 0 {
            let (code, [a, b]) = settings.encode();
            let client = grad.client.clone();
            let (count, dim) = launch_shape(&client, rows);
            scan_backward_kernel::launch(
                &client,
                count,
                dim,
                grad.into_tensor_arg(),
                trace.into_tensor_arg(),
                beta.into_tensor_arg(),
                threshold.into_tensor_arg(),
                gx.clone().into_tensor_arg(),
                gbeta.clone().into_tensor_arg(),
                gtheta.clone().into_tensor_arg(),
                steps as u32,
                rows as u32,
                neurons as u32,
                code,
                u32::from(constant),
                a,
                b,
            );
        }
        // Sum the per-row sums over the batch, and over neurons for a shared scalar.
        let reduce = |rows_sum: CubeTensor, dims: &[usize]| -> CubeTensor {
            let per_neuron = CubeBackend::float_sum_dim(rows_sum, 0);
            let total = if dims.iter().product::<usize>() == neurons {
                per_neuron
            } else {
                CubeBackend::float_sum(per_neuron)
            };
            CubeBackend::float_reshape(total, Shape::from(dims.to_vec()))
        };
        (
            [
                gx,
                reduce(gbeta, &beta_dims),
                reduce(gtheta, &threshold_dims),
            ],
            None,
        )
    }
}

/// The GPU kernels have no feedback weight and no refractory period: [`super::supports_cpu_scans`]
/// is false on burn-wgpu, so those models run their reference loops there and never pass
/// either.
fn no_feedback(feedback: Option<CubeTensor>, settings: &ScanSettings) {
    assert!(
        feedback.is_none() && settings.refractory == 0,
        "the wgpu scan has no feedback weight or refractory period (see fused::supports_cpu_scans)"
    );
}
