//! Running the diagnostics on a trained run, and the figures of their report.

use super::*;

/// Runs the diagnostics of the trained run in `run_dir` and writes `diagnostics.json` and the
/// figures `grad_norms`, `rates` and `agreement` (SVG/PNG) into `out`.
pub fn diagnose(
    run_dir: &Path,
    out: &Path,
    options: &DiagnoseOptions,
) -> Result<DiagnoseOutcome, DiagnoseError> {
    if options.samples == 0 || options.grad_batch == 0 {
        return Err(DiagnoseError::Options(
            "--samples and --grad-batch must be > 0".into(),
        ));
    }
    if !(options.steepness.is_finite() && options.steepness > 0.0) {
        return Err(DiagnoseError::Options(format!(
            "--steepness: expected a finite number > 0, got {}",
            options.steepness
        )));
    }
    if !(options.epsilon.is_finite() && options.epsilon > 0.0) {
        return Err(DiagnoseError::Options(format!(
            "--epsilon: expected a finite number > 0, got {}",
            options.epsilon
        )));
    }
    for s in &options.surrogates {
        s.validate().map_err(DiagnoseError::Options)?;
    }
    let config = load_run_config(run_dir)?;
    let device = config.training.backend.device().map_err(TrainError::from)?;
    let autodiff = device.clone().autodiff();
    let test = load_test_set(&config)?;
    if test.is_empty() {
        return Err(DiagnoseError::Run(TrainError::EmptyData));
    }
    let samples = options.samples.min(test.len());
    let grad_batch = options.grad_batch.min(samples);
    let indices: Vec<usize> = (0..samples).collect();

    // Activity, without autodiff.
    let model = load_run_model(run_dir, &config, &device)?;
    let chunks: Vec<ModelInput> = indices
        .chunks(128)
        .map(|c| test.batch(c, &device).input)
        .collect();
    let activity = activity(&model, &chunks, options.bins);

    // Gradient flow through time, configured surrogate.
    let batch = test.batch(&indices[..grad_batch], &autodiff);
    let spiking = load_run_model(run_dir, &config, &autodiff)?;
    let (loss, grad_norm_per_step) = grad_norms_through_time(
        &spiking,
        &config,
        batch.input.clone(),
        batch.targets.clone(),
    );

    // The smooth reference and its finite-difference check.
    let smooth_config = reference_network(&config.model, options.steepness);
    let mut smooth_experiment = config.clone();
    smooth_experiment.model = smooth_config;
    let smooth = load_run_model(run_dir, &smooth_experiment, &autodiff)?;
    let (smooth_loss, reference) =
        gradients(&smooth, &config, batch.input.clone(), batch.targets.clone());
    let parameters: Vec<ParameterInfo> = reference
        .iter()
        .map(|(path, g)| ParameterInfo {
            path: path.clone(),
            size: g.len(),
        })
        .collect();
    let reference: Vec<Vec<f32>> = reference.into_iter().map(|(_, g)| g).collect();
    // On the autodiff device, so that the same parameters require a gradient.
    let checks = finite_difference_checks(
        &smooth,
        &config,
        &reference,
        batch.input.clone(),
        batch.targets.clone(),
        options.directions,
        options.epsilon,
        options.seed,
    );
    let ref_norm = dot(&reference, &reference).sqrt();
    let ad: Vec<f32> = checks.iter().map(|c| c.autodiff as f32).collect();
    let fd: Vec<f32> = checks.iter().map(|c| c.finite_difference as f32).collect();
    let floor = 1e-3 * ref_norm;
    let reference_report = Reference {
        steepness: options.steepness,
        epsilon: options.epsilon,
        norm: ref_norm,
        loss: smooth_loss,
        spiking_loss: loss,
        cosine_fd_autodiff: cosine_flat(&fd, &ad).unwrap_or(0.0),
        max_relative_error: checks
            .iter()
            .map(|c| (c.finite_difference - c.autodiff).abs() / c.autodiff.abs().max(floor))
            .fold(0.0, f64::max),
        checks,
    };

    // Every surrogate against the reference.
    let configured = config.model.neuron.surrogate;
    let surrogates = if options.surrogates.is_empty() {
        default_surrogates(configured)
    } else {
        options.surrogates.clone()
    };
    let mut agreement = Vec::new();
    for s in surrogates {
        let mut experiment = config.clone();
        experiment.model = with_surrogate(&config.model, s);
        let model = load_run_model(run_dir, &experiment, &autodiff)?;
        let (_, g) = gradients(&model, &config, batch.input.clone(), batch.targets.clone());
        let g: Vec<Vec<f32>> = g.into_iter().map(|(_, g)| g).collect();
        agreement.push(SurrogateAgreement {
            name: s.name(),
            label: surrogate_label(&s),
            surrogate: s,
            configured: s == configured,
            cosine: cosine(&g, &reference),
            norm: dot(&g, &g).sqrt(),
            cosine_per_parameter: g
                .iter()
                .zip(&reference)
                .map(|(a, b)| cosine_flat(a, b))
                .collect(),
        });
    }

    let diagnostics = Diagnostics {
        run: run_dir.to_path_buf(),
        model: config.model.summary(),
        surrogate: configured,
        num_steps: config.model.num_steps,
        samples,
        grad_batch,
        loss,
        grad_norm_per_step,
        activity,
        parameters,
        reference: reference_report,
        agreement,
    };
    std::fs::create_dir_all(out).map_err(spikeburn_train::error::io_error(out))?;
    let json = out.join(DIAGNOSTICS);
    let text = serde_json::to_string_pretty(&diagnostics).unwrap_or_default() + "\n";
    write_bytes_atomically(&json, text.as_bytes())?;
    let mut files = vec![json];
    for (stem, figure) in figures(&diagnostics) {
        files.extend(figure.write(&out.join(stem), &options.formats)?);
    }
    Ok(DiagnoseOutcome { diagnostics, files })
}

/// The figures of a report: `grad_norms` (log₁₀ of the gradient norm against the time step,
/// one line per layer), `rates` (a firing-rate histogram per layer), `agreement` (the cosine
/// of each surrogate gradient with the smooth reference, and the finite-difference check).
pub fn figures(d: &Diagnostics) -> Vec<(&'static str, Figure)> {
    let layers = d.grad_norm_per_step.len();
    let norms = Chart {
        title: format!("gradient through time ({})", d.surrogate.name()),
        x_label: "time step t".into(),
        y_label: "log10 |dL/dI[t]|".into(),
        x_scale: XScale::Linear,
        x_ticks: None,
        legend_title: None,
        series: d
            .grad_norm_per_step
            .iter()
            .enumerate()
            .map(|(l, norms)| Series {
                label: if l + 1 == layers {
                    format!("layer {} (output)", l + 1)
                } else {
                    format!("layer {}", l + 1)
                },
                points: norms
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v > 0.0)
                    .map(|(t, v)| Point {
                        x: t as f64,
                        y: v.log10(),
                        err: None,
                    })
                    .collect(),
                color: l,
                dashed: false,
                scatter: false,
            })
            .collect(),
    };
    let rates = d
        .activity
        .iter()
        .enumerate()
        .map(|(l, a)| Chart {
            title: format!(
                "layer {}: {} neurons, {} silent, {} saturated",
                l + 1,
                a.neurons,
                a.silent,
                a.saturated
            ),
            x_label: "firing rate (spikes / step)".into(),
            y_label: "neurons".into(),
            x_scale: XScale::Linear,
            x_ticks: None,
            legend_title: None,
            series: vec![Series {
                label: format!("mean {:.3}", a.mean_rate),
                points: a
                    .histogram_counts
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| Point {
                        x: 0.5 * (a.histogram_edges[i] + a.histogram_edges[i + 1]),
                        y: c as f64,
                        err: None,
                    })
                    .collect(),
                color: l,
                dashed: false,
                scatter: false,
            }],
        })
        .collect();
    let names: Vec<String> = d
        .agreement
        .iter()
        .map(|a| {
            // Short labels, so that seven fit under one panel.
            let name = a
                .label
                .replace("fast_sigmoid", "fast_sig")
                .replace("straight_through", "STE")
                .replace("spike_rate_escape", "escape")
                .replace("triangular", "triangle");
            if a.configured {
                format!("{name}*")
            } else {
                name.to_string()
            }
        })
        .collect();
    let cos = Chart {
        title: format!(
            "cos(surrogate gradient, exact gradient of σ({}·x) network)",
            d.reference.steepness
        ),
        x_label: "surrogate (* = configured)".into(),
        y_label: "cosine similarity".into(),
        x_scale: XScale::Categories(names),
        x_ticks: None,
        legend_title: None,
        series: vec![Series {
            label: "all parameters".into(),
            points: d
                .agreement
                .iter()
                .enumerate()
                .map(|(i, a)| Point {
                    x: i as f64,
                    y: a.cosine,
                    err: None,
                })
                .collect(),
            color: 0,
            dashed: false,
            scatter: false,
        }],
    };
    // Each direction's finite difference over its autodiff value (1 = agreement), on a
    // categorical axis: the gradient direction's derivative is orders of magnitude larger
    // than the random ones', so a scatter of the raw values hides the latter.
    let floor = 1e-3 * d.reference.norm;
    let check_names: Vec<String> = d
        .reference
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if c.direction == "gradient" {
                "gradient".to_string()
            } else {
                format!("random {i}")
            }
        })
        .collect();
    let fd = Chart {
        title: format!(
            "finite differences (ε = {}) / autodiff: max rel. error {:.2e}",
            d.reference.epsilon, d.reference.max_relative_error
        ),
        x_label: "direction v".into(),
        y_label: "FD / <g_ref, v>".into(),
        x_scale: XScale::Categories(check_names),
        x_ticks: None,
        legend_title: None,
        series: vec![Series {
            label: "(L(θ+εv) − L(θ−εv)) / 2ε ÷ <g_ref, v>".into(),
            points: d
                .reference
                .checks
                .iter()
                .enumerate()
                .map(|(i, c)| Point {
                    x: i as f64,
                    y: 1.0
                        + (c.finite_difference - c.autodiff)
                            / c.autodiff.abs().max(floor).copysign(c.autodiff),
                    err: None,
                })
                .collect(),
            color: 3,
            dashed: false,
            scatter: false,
        }],
    };
    vec![
        (
            "grad_norms",
            Figure {
                charts: vec![norms],
                panel_size: (600, 420),
            },
        ),
        (
            "rates",
            Figure {
                charts: rates,
                panel_size: (480, 380),
            },
        ),
        (
            "agreement",
            Figure {
                charts: vec![cos, fd],
                panel_size: (720, 420),
            },
        ),
    ]
}
