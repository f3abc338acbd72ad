//! Drawing one chart: axes, ticks, grid, series and legend, on any plotters back end.

use super::*;

/// A rectangle in pixels: left, top, width, height.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rect {
    pub(super) x: i32,
    pub(super) y: i32,
    pub(super) w: i32,
    pub(super) h: i32,
}

/// Steps of 1, 2 or 5 times a power of ten, about `count` of them over `[lo, hi]`.
pub(super) fn nice_ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    let span = (hi - lo).abs().max(f64::MIN_POSITIVE);
    let raw = span / count.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// A short label for a tick value.
pub fn format_number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.0e}");
        return if format!("{v:e}").len() <= s.len() + 2 {
            format!("{v:e}")
        } else {
            s
        };
    }
    // The shortest representation that reads back as v, at most 4 decimals.
    for decimals in 0..=4 {
        let s = format!("{v:.decimals$}");
        if (s.parse::<f64>().unwrap_or(f64::NAN) - v).abs() <= 1e-9 * a {
            return s;
        }
    }
    format!("{v:.4}")
}

/// Maps data x to a position in `[0, 1]` of the plot width.
pub(super) struct XMap {
    lo: f64,
    hi: f64,
    log: bool,
}

impl XMap {
    fn t(&self, x: f64) -> f64 {
        let x = if self.log { x.max(1e-300).log10() } else { x };
        (x - self.lo) / (self.hi - self.lo)
    }
}

pub(super) fn x_map_and_ticks(chart: &Chart) -> (XMap, Vec<(f64, String)>) {
    let xs: Vec<f64> = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.x))
        .filter(|x| x.is_finite())
        .collect();
    match &chart.x_scale {
        XScale::Categories(names) => {
            let n = names.len().max(1) as f64;
            let ticks = names
                .iter()
                .enumerate()
                .map(|(i, n)| (i as f64, n.clone()))
                .collect();
            (
                XMap {
                    lo: -0.5,
                    hi: n - 0.5,
                    log: false,
                },
                ticks,
            )
        }
        XScale::Log => {
            let pos: Vec<f64> = xs.iter().copied().filter(|x| *x > 0.0).collect();
            let lo = pos.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = pos.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let (lo, hi) = if lo.is_finite() {
                (lo, hi)
            } else {
                (1.0, 10.0)
            };
            let (llo, lhi) = (lo.log10(), hi.log10());
            let pad = ((lhi - llo) * 0.06).max(0.1);
            let map = XMap {
                lo: llo - pad,
                hi: lhi + pad,
                log: true,
            };
            let ticks = match &chart.x_ticks {
                Some(t) => t.clone(),
                None => (llo.floor() as i32..=lhi.ceil() as i32)
                    .map(|e| 10f64.powi(e))
                    .filter(|v| (lo..=hi).contains(v))
                    .collect(),
            };
            (
                map,
                ticks.into_iter().map(|v| (v, format_number(v))).collect(),
            )
        }
        XScale::Linear => {
            let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let (lo, hi) = if !lo.is_finite() {
                (0.0, 1.0)
            } else if hi - lo < 1e-12 {
                (lo - 1.0, hi + 1.0)
            } else {
                (lo, hi)
            };
            let pad = (hi - lo) * 0.05;
            let map = XMap {
                lo: lo - pad,
                hi: hi + pad,
                log: false,
            };
            let ticks = match &chart.x_ticks {
                Some(t) => t.clone(),
                None => nice_ticks(lo, hi, 6),
            };
            (
                map,
                ticks.into_iter().map(|v| (v, format_number(v))).collect(),
            )
        }
    }
}

pub(super) fn y_range(chart: &Chart) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for p in chart.series.iter().flat_map(|s| &s.points) {
        let e = p.err.unwrap_or(0.0).abs();
        if p.y.is_finite() {
            lo = lo.min(p.y - e);
            hi = hi.max(p.y + e);
        }
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let d = if lo.abs() > 0.0 { lo.abs() * 0.05 } else { 1.0 };
        return (lo - d, hi + d);
    }
    let pad = (hi - lo) * 0.08;
    (lo - pad, hi + pad)
}

pub(super) type DrawResult<E> = Result<(), DrawingErrorKind<E>>;

/// A polyline, dashed if asked (dashes of 8 px, gaps of 5 px).
pub(super) fn polyline<DB: DrawingBackend>(
    db: &mut DB,
    pts: &[(f64, f64)],
    style: &Stroke,
    dashed: bool,
) -> DrawResult<DB::ErrorType> {
    let ipt = |p: (f64, f64)| (p.0.round() as i32, p.1.round() as i32);
    if !dashed {
        return db.draw_path(pts.iter().map(|p| ipt(*p)), style);
    }
    let (dash, gap) = (8.0f64, 5.0f64);
    let mut on = true;
    let mut left = dash;
    for w in pts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        let mut t = 0.0;
        while t < len {
            let step = left.min(len - t);
            let p0 = (a.0 + (b.0 - a.0) * t / len, a.1 + (b.1 - a.1) * t / len);
            let t1 = t + step;
            let p1 = (a.0 + (b.0 - a.0) * t1 / len, a.1 + (b.1 - a.1) * t1 / len);
            if on {
                db.draw_path([ipt(p0), ipt(p1)], style)?;
            }
            left -= step;
            t = t1;
            if left <= 1e-9 {
                on = !on;
                left = if on { dash } else { gap };
            }
        }
    }
    Ok(())
}

pub(super) fn draw_chart<DB: DrawingBackend>(
    db: &mut DB,
    chart: &Chart,
    area: Rect,
) -> DrawResult<DB::ErrorType> {
    let (tick_px, label_px, title_px, legend_px) = (12.0, 14.0, 16.0, 12.0);
    let (x_map, x_ticks) = x_map_and_ticks(chart);
    let (y_lo, y_hi) = y_range(chart);
    let y_ticks: Vec<(f64, String)> = nice_ticks(y_lo, y_hi, 6)
        .into_iter()
        .map(|v| (v, format_number(v)))
        .collect();

    // Layout: title on top, y label and tick labels on the left, x ticks and label below,
    // the legend on the right.
    let y_tick_w = y_ticks
        .iter()
        .map(|(_, s)| text_width(s, tick_px))
        .fold(0.0, f64::max);
    let entries: Vec<&Series> = chart
        .series
        .iter()
        .filter(|s| !s.label.is_empty())
        .collect();
    let legend_w = if entries.is_empty() {
        0.0
    } else {
        let widest = entries
            .iter()
            .map(|s| text_width(&s.label, legend_px))
            .chain(chart.legend_title.iter().map(|t| text_width(t, legend_px)))
            .fold(0.0, f64::max);
        (widest + 44.0).min(f64::from(area.w) * 0.45)
    };
    let left = area.x + (y_tick_w + 10.0 + label_px + 14.0).ceil() as i32;
    let top = area.y + (title_px + 18.0) as i32;
    let right = area.x + area.w - 12 - legend_w.ceil() as i32;
    let bottom = area.y + area.h - (tick_px + label_px + 22.0) as i32;
    let plot = Rect {
        x: left,
        y: top,
        w: (right - left).max(10),
        h: (bottom - top).max(10),
    };
    let px = |x: f64| f64::from(plot.x) + x_map.t(x) * f64::from(plot.w);
    let py = |y: f64| f64::from(plot.y + plot.h) - (y - y_lo) / (y_hi - y_lo) * f64::from(plot.h);

    // Grid and ticks.
    for (v, s) in &y_ticks {
        let y = py(*v).round() as i32;
        db.draw_line((plot.x, y), (plot.x + plot.w, y), &stroke(GRID, 1))?;
        db.draw_line((plot.x - 4, y), (plot.x, y), &stroke(BLACK, 1))?;
        db.draw_text(
            s,
            &Text::new(tick_px, HPos::Right, VPos::Center),
            (plot.x - 7, y),
        )?;
    }
    for (v, s) in &x_ticks {
        let t = x_map.t(*v);
        if !(-1e-9..=1.0 + 1e-9).contains(&t) {
            continue;
        }
        let x = px(*v).round() as i32;
        db.draw_line((x, plot.y), (x, plot.y + plot.h), &stroke(GRID, 1))?;
        db.draw_line(
            (x, plot.y + plot.h),
            (x, plot.y + plot.h + 4),
            &stroke(BLACK, 1),
        )?;
        db.draw_text(
            s,
            &Text::new(tick_px, HPos::Center, VPos::Top),
            (x, plot.y + plot.h + 7),
        )?;
    }
    db.draw_rect(
        (plot.x, plot.y),
        (plot.x + plot.w, plot.y + plot.h),
        &stroke(BLACK, 1),
        false,
    )?;

    // Title and axis labels.
    db.draw_text(
        &chart.title,
        &Text::new(title_px, HPos::Center, VPos::Top),
        (area.x + area.w / 2, area.y + 6),
    )?;
    db.draw_text(
        &chart.x_label,
        &Text::new(label_px, HPos::Center, VPos::Bottom),
        (plot.x + plot.w / 2, area.y + area.h - 4),
    )?;
    let mut y_label = Text::new(label_px, HPos::Center, VPos::Top);
    y_label.rotate = true;
    db.draw_text(&chart.y_label, &y_label, (area.x + 4, plot.y + plot.h / 2))?;

    // The series: error bars, line, markers. Series with error bars are shifted sideways by a
    // few pixels each so that bars at the same x stay apart.
    let with_bars = chart
        .series
        .iter()
        .any(|s| s.points.iter().any(|p| p.err.is_some()));
    let n = chart.series.len() as f64;
    for (si, s) in chart.series.iter().enumerate() {
        let color = PALETTE[s.color % PALETTE.len()];
        let dodge = if with_bars {
            (si as f64 - (n - 1.0) / 2.0) * 4.0
        } else {
            0.0
        };
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| p.y.is_finite() && (!x_map.log || p.x > 0.0))
            .map(|p| (px(p.x) + dodge, py(p.y)))
            .collect();
        for p in s.points.iter().filter(|p| p.y.is_finite()) {
            if let Some(e) = p.err.filter(|e| e.is_finite() && *e > 0.0) {
                let x = (px(p.x) + dodge).round() as i32;
                let (y0, y1) = (py(p.y - e).round() as i32, py(p.y + e).round() as i32);
                let st = stroke(color, 1);
                db.draw_line((x, y0), (x, y1), &st)?;
                db.draw_line((x - 4, y0), (x + 4, y0), &st)?;
                db.draw_line((x - 4, y1), (x + 4, y1), &st)?;
            }
        }
        if s.scatter {
            for p in &pts {
                let c = (p.0.round() as i32, p.1.round() as i32);
                db.draw_circle(c, 1, &stroke(color, 1), true)?;
            }
            continue;
        }
        if pts.len() > 1 {
            polyline(db, &pts, &stroke(color, 2), s.dashed)?;
        }
        for p in &pts {
            let c = (p.0.round() as i32, p.1.round() as i32);
            db.draw_circle(c, 3, &stroke(color, 1), !s.dashed)?;
        }
    }

    // Legend.
    if !entries.is_empty() {
        let lx = plot.x + plot.w + 10;
        let mut ly = plot.y + 4;
        if let Some(t) = &chart.legend_title {
            db.draw_text(t, &Text::new(legend_px, HPos::Left, VPos::Top), (lx, ly))?;
            ly += 18;
        }
        for s in entries {
            let color = PALETTE[s.color % PALETTE.len()];
            let mid = ly + 7;
            polyline(
                db,
                &[
                    (f64::from(lx), f64::from(mid)),
                    (f64::from(lx + 26), f64::from(mid)),
                ],
                &stroke(color, 2),
                s.dashed,
            )?;
            db.draw_circle((lx + 13, mid), 3, &stroke(color, 1), !s.dashed)?;
            db.draw_text(
                &s.label,
                &Text::new(legend_px, HPos::Left, VPos::Center),
                (lx + 32, mid),
            )?;
            ly += 18;
        }
    }
    Ok(())
}
