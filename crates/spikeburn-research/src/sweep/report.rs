//! The sweep's reports: results and summary tables (CSV) and figures of a metric against each axis.

use super::*;

/// A CSV field, quoted when needed (RFC 4180).
pub(super) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub(super) fn csv_line(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
        + "\n"
}

pub(super) fn write_results(
    grid: &Grid,
    runs: &[RunSpec],
    done: &[Option<RunResult>],
    out: &Path,
) -> Result<PathBuf, SweepError> {
    let results: Vec<RunResult> = runs
        .iter()
        .zip(done)
        .filter_map(|(_, r)| r.clone())
        .collect();
    write_results_of(grid, &results, out)
}

/// The columns of `results.csv` after the axis columns.
pub const RESULT_COLUMNS: [&str; 12] = [
    "seed",
    "status",
    "epochs",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    "test_accuracy_membrane",
    "test_spike_rates",
    "step_ms",
    "wall_seconds",
    "error",
];

/// Writes `results.csv`: `run`, one column per axis (its full path), then
/// [`RESULT_COLUMNS`]. Numbers are written in full precision; `test_spike_rates` lists one
/// rate per LIF layer separated by `;`.
pub(super) fn write_results_of(
    grid: &Grid,
    results: &[RunResult],
    out: &Path,
) -> Result<PathBuf, SweepError> {
    let mut header = vec!["run".to_string()];
    header.extend(grid.axes.iter().map(Axis::name));
    header.extend(RESULT_COLUMNS.iter().map(|s| s.to_string()));
    let mut text = csv_line(&header);
    for r in results {
        let mut row = vec![r.run.clone()];
        row.extend(
            grid.axes
                .iter()
                .map(|a| r.values.get(&a.name()).cloned().unwrap_or_default()),
        );
        let status = match r.status {
            RunStatus::Ok => "ok",
            RunStatus::Diverged => "diverged",
        };
        row.push(r.seed.to_string());
        row.push(status.to_string());
        match &r.last {
            Some(l) => {
                row.push(l.epoch.to_string());
                for v in [
                    l.train_loss,
                    l.train_accuracy,
                    l.test_loss,
                    l.test_accuracy,
                    l.test_accuracy_membrane,
                ] {
                    row.push(v.to_string());
                }
                row.push(
                    l.test_spike_rates
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(";"),
                );
                row.push(l.step_ms.to_string());
            }
            None => row.extend(std::iter::repeat_n(String::new(), 8)),
        }
        row.push(r.wall_seconds.to_string());
        row.push(r.error.clone().unwrap_or_default());
        text.push_str(&csv_line(&row));
    }
    let path = out.join(sweep_files::RESULTS);
    write_bytes_atomically(&path, text.as_bytes())?;
    Ok(path)
}

/// Mean and sample standard deviation (`None` below two values).
pub fn mean_std(values: &[f64]) -> (Option<f64>, Option<f64>) {
    if values.is_empty() {
        return (None, None);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.len() > 1)
        .then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    (Some(mean), std)
}

/// The finished runs of a cell with status `ok`.
pub(super) fn cell_runs<'a>(
    grid: &Grid,
    cell: &Cell,
    results: &'a [RunResult],
) -> Vec<&'a RunResult> {
    results
        .iter()
        .filter(|r| {
            grid.axes
                .iter()
                .zip(&cell.choice)
                .all(|(a, &c)| r.values.get(&a.name()) == Some(&a.labels[c]))
        })
        .collect()
}

/// Writes `summary.csv`: one row per cell with its axis values, `runs` (finished with
/// status ok), `diverged`, and `NAME_mean`, `NAME_std` (sample standard deviation over
/// seeds, empty below two runs) for every [`Metric`] and for `wall_seconds`.
pub(super) fn write_summary(
    grid: &Grid,
    results: &[RunResult],
    out: &Path,
) -> Result<PathBuf, SweepError> {
    let mut header: Vec<String> = grid.axes.iter().map(Axis::name).collect();
    header.push("runs".into());
    header.push("diverged".into());
    for m in Metric::ALL.iter().map(Metric::name).chain(["wall_seconds"]) {
        header.push(format!("{m}_mean"));
        header.push(format!("{m}_std"));
    }
    let mut text = csv_line(&header);
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for cell in &grid.cells {
        let rs = cell_runs(grid, cell, results);
        let ok: Vec<&RunResult> = rs
            .iter()
            .copied()
            .filter(|r| r.status == RunStatus::Ok)
            .collect();
        let mut row: Vec<String> = grid
            .axes
            .iter()
            .zip(&cell.choice)
            .map(|(a, &c)| a.labels[c].clone())
            .collect();
        row.push(ok.len().to_string());
        row.push((rs.len() - ok.len()).to_string());
        for m in Metric::ALL {
            let vals: Vec<f64> = ok
                .iter()
                .filter_map(|r| r.last.as_ref())
                .map(|l| m.of(l))
                .collect();
            let (mean, std) = mean_std(&vals);
            row.push(num(mean));
            row.push(num(std));
        }
        let walls: Vec<f64> = ok.iter().map(|r| r.wall_seconds).collect();
        let (mean, std) = mean_std(&walls);
        row.push(num(mean));
        row.push(num(std));
        text.push_str(&csv_line(&row));
    }
    let path = out.join(sweep_files::SUMMARY);
    write_bytes_atomically(&path, text.as_bytes())?;
    Ok(path)
}

/// One figure per axis with at least two values: the metric's mean over seeds against that
/// axis (error bars: one standard deviation), one line per combination of the other axes'
/// values. A numeric axis is drawn to scale (logarithmic when all values are positive and span
/// a factor of 10 or more), any other axis as evenly spaced categories.
pub(super) fn write_figures(
    grid: &Grid,
    results: &[RunResult],
    metric: Metric,
    formats: &[ImageFormat],
    out: &Path,
) -> Result<Vec<PathBuf>, SweepError> {
    let scale = if metric.is_accuracy() { 100.0 } else { 1.0 };
    let y_label = if metric.is_accuracy() {
        format!("{} (%)", metric.name().replace('_', " "))
    } else {
        metric.name().replace('_', " ")
    };
    let mut written = Vec::new();
    for (k, axis) in grid.axes.iter().enumerate() {
        if axis.values.len() < 2 {
            continue;
        }
        let numbers = axis.numbers();
        let (x_scale, xs): (XScale, Vec<f64>) = match &numbers {
            Some(v) => {
                let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let log = lo > 0.0 && hi / lo >= 10.0;
                (if log { XScale::Log } else { XScale::Linear }, v.clone())
            }
            None => (
                XScale::Categories(axis.labels.clone()),
                (0..axis.values.len()).map(|i| i as f64).collect(),
            ),
        };
        // Group the cells by their values on the other axes.
        let others: Vec<usize> = (0..grid.axes.len()).filter(|&j| j != k).collect();
        let mut groups: BTreeMap<Vec<usize>, Vec<&Cell>> = BTreeMap::new();
        for cell in &grid.cells {
            let key: Vec<usize> = others.iter().map(|&j| cell.choice[j]).collect();
            groups.entry(key).or_default().push(cell);
        }
        let series: Vec<Series> = groups
            .iter()
            .enumerate()
            .map(|(g, (key, cells))| {
                let label = others
                    .iter()
                    .zip(key)
                    .map(|(&j, &c)| grid.axes[j].labels[c].clone())
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut points: Vec<Point> = cells
                    .iter()
                    .filter_map(|cell| {
                        let vals: Vec<f64> = cell_runs(grid, cell, results)
                            .into_iter()
                            .filter(|r| r.status == RunStatus::Ok)
                            .filter_map(|r| r.last.as_ref())
                            .map(|l| scale * metric.of(l))
                            .collect();
                        let (mean, std) = mean_std(&vals);
                        Some(Point {
                            x: xs[cell.choice[k]],
                            y: mean?,
                            err: std,
                        })
                    })
                    .collect();
                points.sort_by(|a, b| a.x.total_cmp(&b.x));
                Series {
                    scatter: false,
                    label,
                    points,
                    color: g,
                    dashed: false,
                }
            })
            .collect();
        let legend_title = (!others.is_empty()).then(|| {
            others
                .iter()
                .map(|&j| grid.axes[j].key.clone())
                .collect::<Vec<_>>()
                .join(", ")
        });
        let seeds = grid.seeds.len();
        let chart = Chart {
            title: format!(
                "{} vs {} ({} seed{}{})",
                metric.name().replace('_', " "),
                axis.key,
                seeds,
                if seeds == 1 { "" } else { "s" },
                if seeds > 1 { ", mean ± std" } else { "" },
            ),
            x_label: axis.name(),
            y_label: y_label.clone(),
            x_ticks: numbers.clone(),
            x_scale,
            legend_title,
            series,
        };
        let figure = Figure {
            charts: vec![chart],
            panel_size: (760, 480),
        };
        let stem = out.join(format!("{}_vs_{}", metric.name(), file_name_for(&axis.key)));
        written.extend(figure.write(&stem, formats)?);
    }
    Ok(written)
}

/// Rewrites the tables and figures of a finished (or partly finished) sweep directory from
/// the runs' `result.json` files, without training.
pub fn write_reports(
    grid: &Grid,
    options: &SweepOptions,
) -> Result<(Vec<RunResult>, Vec<PathBuf>), SweepError> {
    let results: Vec<RunResult> = grid
        .runs()
        .iter()
        .filter_map(|r| read_result(&options.out.join(&r.dir)))
        .collect();
    let mut written = vec![write_results_of(grid, &results, &options.out)?];
    written.push(write_summary(grid, &results, &options.out)?);
    written.extend(write_figures(
        grid,
        &results,
        options.metric,
        &options.formats,
        &options.out,
    )?);
    Ok((results, written))
}
