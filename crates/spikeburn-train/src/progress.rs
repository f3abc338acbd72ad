//! Progress reporting for long work: a bar with rate and ETA on a terminal, plain lines
//! otherwise (logs, CI).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Receives progress of a phase of `total` units (batches) and finished-phase notes.
pub trait Progress {
    /// A phase named `label` with `total` units starts.
    fn begin(&mut self, label: &str, total: usize);
    /// `done` of `total` units are finished; `status` is a short summary (e.g. the loss).
    fn update(&mut self, done: usize, status: &str);
    /// The current phase is over.
    fn end(&mut self);
    /// A line for the user (e.g. an epoch summary).
    fn note(&mut self, line: &str);
}

/// Reports nothing (for tests and library use).
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn begin(&mut self, _: &str, _: usize) {}
    fn update(&mut self, _: usize, _: &str) {}
    fn end(&mut self) {}
    fn note(&mut self, _: &str) {}
}

/// Progress on standard error: an `indicatif` bar when stderr is a terminal, else one plain
/// line every `every` units and at the end of each phase. Notes go to standard output.
#[derive(Debug)]
pub struct Console {
    bar: Option<ProgressBar>,
    interactive: bool,
    every: usize,
    label: String,
    total: usize,
    started: Instant,
}

impl Console {
    /// A reporter that prints a plain line every `every` units when not on a terminal.
    pub fn new(every: usize) -> Self {
        Self {
            bar: None,
            interactive: std::io::stderr().is_terminal(),
            every: every.max(1),
            label: String::new(),
            total: 0,
            started: Instant::now(),
        }
    }

    fn plain_line(&self, done: usize, status: &str) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = done as f64 / elapsed.max(1e-9);
        let eta = (self.total.saturating_sub(done)) as f64 / rate.max(1e-9);
        eprintln!(
            "{} {done}/{} [{:.1}s, {rate:.2} batch/s, ETA {}] {status}",
            self.label,
            self.total,
            elapsed,
            format_duration(Duration::from_secs_f64(eta)),
        );
    }
}

impl Default for Console {
    fn default() -> Self {
        Self::new(50)
    }
}

/// `1h02m03s`, `2m03s` or `3s`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, (s / 60) % 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec:02}s"),
        (h, m, sec) => format!("{h}h{m:02}m{sec:02}s"),
    }
}

impl Progress for Console {
    fn begin(&mut self, label: &str, total: usize) {
        self.label = label.to_string();
        self.total = total;
        self.started = Instant::now();
        if self.interactive {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} [{elapsed_precise} < {eta_precise}, {per_sec}] {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label.to_string());
            self.bar = Some(bar);
        }
    }

    fn update(&mut self, done: usize, status: &str) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
            bar.set_message(status.to_string());
        } else if done.is_multiple_of(self.every) && done < self.total {
            self.plain_line(done, status);
        }
    }

    fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn note(&mut self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }
}
