//! Transforms of event streams, as small values with documented semantics (after tonic's
//! `transforms`): [`ToFrame`] bins events into time-major frames; [`EventTransform`]s filter,
//! downsample, crop and augment events before that.
//!
//! Every transform is a plain value (serde: usable from a config's `[data]` table and from
//! code) applied by [`EventTransform::apply`] to a time-sorted event list. The random ones
//! (jitter, flips, drops) draw from the generator they are handed, so a seeded generator
//! repeats them exactly; [`EventTransform::is_random`] tells which are which.

use super::{Event, Sensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How events are cut into frames (exactly one rule, as tonic's `ToFrame`). Frame `k` counts,
/// per address `(p, y, x)`, the events that fall into slice `k`.
///
/// Slices start at the sample's first event (`t0`) unless stated; `n` frames are made for
/// [`TimeBins`](ToFrame::TimeBins) and [`EventBins`](ToFrame::EventBins), as many as the sample
/// needs for the other two.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum ToFrame {
    /// Consecutive windows of `window_us` microseconds: event at `t` goes to frame
    /// `⌊(t − t0) / window_us⌋`.
    TimeWindow {
        /// Window length, µs (> 0).
        window_us: u64,
    },
    /// Consecutive slices of `count` events: event `i` (in time order) goes to frame
    /// `⌊i / count⌋`.
    EventCount {
        /// Events per frame (> 0).
        count: usize,
    },
    /// `bins` slices of equal duration from the first to the last event: event at `t` goes to
    /// frame `min(⌊bins · (t − t0) / (t_last − t0 + 1)⌋, bins − 1)`.
    TimeBins {
        /// Number of frames (> 0).
        bins: usize,
    },
    /// `bins` slices of (nearly) equal event count: event `i` of `n` goes to frame
    /// `⌊bins · i / n⌋`.
    EventBins {
        /// Number of frames (> 0).
        bins: usize,
    },
    /// `bins` slices of `duration_us / bins` from time 0 (not from the first event), the
    /// usual binning of SHD/SSC (e.g. 100 bins over 1 s): event at `t` goes to frame
    /// `⌊bins · t / duration_us⌋`; events at `t ≥ duration_us` are dropped.
    FixedDuration {
        /// Number of frames (> 0).
        bins: usize,
        /// Time covered, µs (> 0).
        duration_us: u64,
    },
}

impl ToFrame {
    /// The number of frames this rule makes for `events` (time-sorted).
    pub fn num_frames(&self, events: &[Event]) -> usize {
        match *self {
            ToFrame::TimeBins { bins }
            | ToFrame::EventBins { bins }
            | ToFrame::FixedDuration { bins, .. } => bins,
            ToFrame::TimeWindow { window_us } => match (events.first(), events.last()) {
                (Some(a), Some(b)) => (b.t.saturating_sub(a.t) / window_us.max(1)) as usize + 1,
                _ => 0,
            },
            ToFrame::EventCount { count } => events.len().div_ceil(count.max(1)),
        }
    }

    /// Checks the rule's parameters: every count and duration must be positive.
    pub fn validate(&self) -> Result<(), String> {
        let ok = match *self {
            ToFrame::TimeWindow { window_us } => window_us > 0,
            ToFrame::EventCount { count } => count > 0,
            ToFrame::TimeBins { bins } | ToFrame::EventBins { bins } => bins > 0,
            ToFrame::FixedDuration { bins, duration_us } => bins > 0 && duration_us > 0,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{self:?}: counts and durations must be > 0"))
        }
    }

    /// The frame of each event (time-sorted `events`), `None` for an event the rule drops;
    /// calls `f(frame, event)` for each kept event.
    pub fn for_each(&self, events: &[Event], mut f: impl FnMut(usize, &Event)) {
        let Some(first) = events.first() else { return };
        let t0 = first.t;
        let n = events.len();
        match *self {
            ToFrame::TimeWindow { window_us } => {
                for e in events {
                    f((e.t.saturating_sub(t0) / window_us.max(1)) as usize, e);
                }
            }
            ToFrame::EventCount { count } => {
                for (i, e) in events.iter().enumerate() {
                    f(i / count.max(1), e);
                }
            }
            ToFrame::TimeBins { bins } => {
                let span = u128::from(events[n - 1].t - t0) + 1;
                for e in events {
                    let k = (bins as u128 * u128::from(e.t - t0) / span) as usize;
                    f(k.min(bins - 1), e);
                }
            }
            ToFrame::EventBins { bins } => {
                for (i, e) in events.iter().enumerate() {
                    f((bins as u128 * i as u128 / n as u128) as usize, e);
                }
            }
            ToFrame::FixedDuration { bins, duration_us } => {
                for e in events.iter().filter(|e| e.t < duration_us) {
                    f(
                        (bins as u128 * u128::from(e.t) / u128::from(duration_us)) as usize,
                        e,
                    );
                }
            }
        }
    }

    /// Dense frames `[frames, polarities, height, width]` (row-major, event counts) of
    /// `events` on `sensor`; events off the sensor are skipped.
    pub fn to_dense(&self, events: &[Event], sensor: Sensor) -> Vec<f32> {
        let size = sensor.size();
        let mut out = vec![0.0f32; self.num_frames(events) * size];
        self.for_each(events, |k, e| {
            if sensor.contains(e) {
                out[k * size + sensor.index(e)] += 1.0;
            }
        });
        out
    }
}

/// One transform of an event stream (see the [module docs](self)). Applied to a
/// time-sorted list, each keeps it time-sorted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "transform")]
pub enum EventTransform {
    /// Drops events that no other event supports: an event at `(x, y)` is kept when an event
    /// of either polarity at one of its eight neighbours happened within the last
    /// `filter_time_us` (`t − t_neighbour < filter_time_us`), as tonic's `Denoise`.
    Denoise {
        /// The time filter, µs.
        filter_time_us: u64,
    },
    /// Spatial downsampling by integer factors: `x → ⌊x / fx⌋`, `y → ⌊y / fy⌋`; the sensor
    /// becomes `⌈width / fx⌉ × ⌈height / fy⌉`. On SHD/SSC (`fy = 1`) this pools channels
    /// (700 → 140 with `fx = 5`).
    Downsample {
        /// Factor on x (columns, or channels).
        fx: u16,
        /// Factor on y (rows).
        fy: u16,
    },
    /// Temporal downsampling: `t → ⌊t / factor⌋` (timestamps in units of `factor` µs).
    TimeScale {
        /// The divisor (> 0).
        factor: u64,
    },
    /// Keeps the events with `start_us ≤ t < end_us`, timestamps unchanged.
    CropTime {
        /// First kept time, µs.
        start_us: u64,
        /// End of the kept interval, µs (exclusive).
        end_us: u64,
    },
    /// Adds Gaussian noise of standard deviation `std_us` to each timestamp, rounds it, clamps
    /// it at 0, and sorts the events by their new times (random).
    TimeJitter {
        /// Standard deviation, µs.
        std_us: f64,
    },
    /// Adds Gaussian noise of standard deviation `std` (pixels) to x and y, rounds, and drops
    /// events that leave the sensor (random).
    SpatialJitter {
        /// Standard deviation, pixels.
        std: f64,
    },
    /// Mirrors the sample left–right (`x → width − 1 − x`) with probability `p` (random; one
    /// draw per sample).
    RandomFlipLr {
        /// Probability of the flip.
        p: f64,
    },
    /// Drops each event independently with probability `p` (random).
    DropEvent {
        /// Probability of dropping an event.
        p: f64,
    },
}

impl EventTransform {
    /// Whether the transform draws random numbers (then it is an augmentation of training
    /// batches; deterministic transforms are applied once, before caching).
    pub fn is_random(&self) -> bool {
        matches!(
            self,
            EventTransform::TimeJitter { .. }
                | EventTransform::SpatialJitter { .. }
                | EventTransform::RandomFlipLr { .. }
                | EventTransform::DropEvent { .. }
        )
    }

    /// Checks the parameters (factors positive, probabilities in [0, 1], deviations finite
    /// and non-negative, a crop interval non-empty), naming the transform.
    pub fn validate(&self) -> Result<(), String> {
        let ok = match *self {
            EventTransform::Denoise { .. } => true,
            EventTransform::Downsample { fx, fy } => fx > 0 && fy > 0,
            EventTransform::TimeScale { factor } => factor > 0,
            EventTransform::CropTime { start_us, end_us } => start_us < end_us,
            EventTransform::TimeJitter { std_us: s } | EventTransform::SpatialJitter { std: s } => {
                s.is_finite() && s >= 0.0
            }
            EventTransform::RandomFlipLr { p } | EventTransform::DropEvent { p } => {
                (0.0..=1.0).contains(&p)
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{self:?}: factors must be > 0, probabilities in [0, 1], deviations finite and >= 0, crop start < end"
            ))
        }
    }

    /// The sensor after the transform (only [`Downsample`](EventTransform::Downsample)
    /// changes it).
    pub fn sensor_after(&self, sensor: Sensor) -> Sensor {
        match *self {
            EventTransform::Downsample { fx, fy } => Sensor {
                width: sensor.width.div_ceil(fx.max(1)),
                height: sensor.height.div_ceil(fy.max(1)),
                polarities: sensor.polarities,
            },
            _ => sensor,
        }
    }

    /// Applies the transform to `events` (time-sorted) recorded on `sensor`.
    pub fn apply(&self, events: &mut Vec<Event>, sensor: Sensor, rng: &mut ChaCha8Rng) {
        match *self {
            EventTransform::Denoise { filter_time_us } => denoise(events, sensor, filter_time_us),
            EventTransform::Downsample { fx, fy } => {
                for e in events.iter_mut() {
                    e.x /= fx.max(1);
                    e.y /= fy.max(1);
                }
            }
            EventTransform::TimeScale { factor } => {
                for e in events.iter_mut() {
                    e.t /= factor.max(1);
                }
            }
            EventTransform::CropTime { start_us, end_us } => {
                events.retain(|e| e.t >= start_us && e.t < end_us)
            }
            EventTransform::TimeJitter { std_us } => {
                for e in events.iter_mut() {
                    let t = e.t as f64 + std_us * gaussian(rng);
                    e.t = t.round().max(0.0) as u64;
                }
                events.sort_by_key(|e| e.t);
            }
            EventTransform::SpatialJitter { std } => {
                events.retain_mut(|e| {
                    let x = (f64::from(e.x) + std * gaussian(rng)).round();
                    let y = (f64::from(e.y) + std * gaussian(rng)).round();
                    let inside = x >= 0.0
                        && y >= 0.0
                        && x < f64::from(sensor.width)
                        && y < f64::from(sensor.height);
                    if inside {
                        e.x = x as u16;
                        e.y = y as u16;
                    }
                    inside
                });
            }
            EventTransform::RandomFlipLr { p } => {
                if rng.random::<f64>() < p {
                    for e in events.iter_mut() {
                        e.x = sensor.width.saturating_sub(1).saturating_sub(e.x);
                    }
                }
            }
            EventTransform::DropEvent { p } => events.retain(|_| rng.random::<f64>() >= p),
        }
    }
}

/// Applies `transforms` in order, returning the sensor the events now lie on.
pub fn apply_all(
    transforms: &[EventTransform],
    events: &mut Vec<Event>,
    mut sensor: Sensor,
    rng: &mut ChaCha8Rng,
) -> Sensor {
    for t in transforms {
        t.apply(events, sensor, rng);
        sensor = t.sensor_after(sensor);
    }
    sensor
}

/// A standard normal sample (Box–Muller on two uniform draws).
fn gaussian(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn denoise(events: &mut Vec<Event>, sensor: Sensor, filter_time_us: u64) {
    let (w, h) = (sensor.width as usize, sensor.height as usize);
    // Last time (plus one, 0 = never) an event happened at each address, padded by one
    // on every side so that neighbours need no bounds checks.
    let mut last = vec![0u64; (w + 2) * (h + 2)];
    events.retain(|e| {
        let (x, y) = (e.x as usize + 1, e.y as usize + 1);
        if x > w || y > h {
            return false;
        }
        let mut supported = false;
        for dy in 0..3 {
            for dx in 0..3 {
                if dx == 1 && dy == 1 {
                    continue;
                }
                let seen = last[(y + dy - 1) * (w + 2) + x + dx - 1];
                if seen > 0 && e.t.saturating_sub(seen - 1) < filter_time_us {
                    supported = true;
                }
            }
        }
        last[y * (w + 2) + x] = e.t + 1;
        supported
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn ev(t: u64, x: u16, y: u16, p: u8) -> Event {
        Event { t, x, y, p }
    }

    #[test]
    fn frames_by_each_rule_match_hand_computed_bins() {
        let events = [
            ev(10, 0, 0, 0),
            ev(15, 1, 0, 1),
            ev(29, 0, 0, 0),
            ev(40, 1, 1, 0),
        ];
        let mut bins = Vec::new();
        ToFrame::TimeWindow { window_us: 10 }.for_each(&events, |k, _| bins.push(k));
        assert_eq!(bins, [0, 0, 1, 3]); // (t - 10) / 10
        bins.clear();
        ToFrame::EventCount { count: 3 }.for_each(&events, |k, _| bins.push(k));
        assert_eq!(bins, [0, 0, 0, 1]);
        bins.clear();
        // span 31: 2 * (0, 5, 19, 30) / 31 = 0, 0, 1, 1
        ToFrame::TimeBins { bins: 2 }.for_each(&events, |k, _| bins.push(k));
        assert_eq!(bins, [0, 0, 1, 1]);
        bins.clear();
        ToFrame::EventBins { bins: 3 }.for_each(&events, |k, _| bins.push(k));
        assert_eq!(bins, [0, 0, 1, 2]); // 3 * (0, 1, 2, 3) / 4
        bins.clear();
        ToFrame::FixedDuration {
            bins: 4,
            duration_us: 40,
        }
        .for_each(&events, |k, _| bins.push(k));
        assert_eq!(bins, [1, 1, 2]); // t = 40 is dropped
        let sensor = Sensor {
            width: 2,
            height: 2,
            polarities: 2,
        };
        let dense = ToFrame::TimeBins { bins: 2 }.to_dense(&events, sensor);
        assert_eq!(dense.len(), 16);
        assert_eq!(dense[0], 1.0); // frame 0, p 0, (0, 0)
        assert_eq!(dense[4 + 1], 1.0); // frame 0, p 1, (1, 0)
        assert_eq!(dense[8], 1.0); // frame 1, p 0, (0, 0)
        assert_eq!(dense[8 + 3], 1.0); // frame 1, p 0, (1, 1)
        assert_eq!(dense.iter().sum::<f32>(), 4.0);
    }

    #[test]
    fn denoise_keeps_only_supported_events() {
        let sensor = Sensor {
            width: 4,
            height: 4,
            polarities: 2,
        };
        let mut events = vec![
            ev(0, 1, 1, 0),   // nothing before: dropped
            ev(5, 2, 1, 1),   // (1, 1) 5 µs ago: kept
            ev(100, 3, 3, 0), // (2, 2) never: dropped
            ev(120, 2, 2, 0), // (3, 3) 20 µs ago, (2, 1) 115 µs ago: kept (filter 50)
            ev(300, 0, 0, 0), // (1, 1) 300 µs ago: dropped
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        EventTransform::Denoise { filter_time_us: 50 }.apply(&mut events, sensor, &mut rng);
        assert_eq!(events, [ev(5, 2, 1, 1), ev(120, 2, 2, 0)]);
    }

    #[test]
    fn deterministic_transforms_by_hand_and_random_ones_repeat_with_the_seed() {
        let sensor = Sensor {
            width: 10,
            height: 1,
            polarities: 1,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut events = vec![ev(3, 9, 0, 0), ev(7, 4, 0, 0), ev(12, 5, 0, 0)];
        EventTransform::Downsample { fx: 5, fy: 1 }.apply(&mut events, sensor, &mut rng);
        assert_eq!(events.iter().map(|e| e.x).collect::<Vec<_>>(), [1, 0, 1]);
        assert_eq!(
            EventTransform::Downsample { fx: 5, fy: 1 }
                .sensor_after(Sensor::COCHLEA700)
                .width,
            140
        );
        EventTransform::CropTime {
            start_us: 4,
            end_us: 12,
        }
        .apply(&mut events, sensor, &mut rng);
        assert_eq!(events, [ev(7, 0, 0, 0)]);

        let base: Vec<Event> = (0..200)
            .map(|i| ev(i * 10, (i % 10) as u16, 0, 0))
            .collect();
        for t in [
            EventTransform::TimeJitter { std_us: 30.0 },
            EventTransform::SpatialJitter { std: 1.0 },
            EventTransform::RandomFlipLr { p: 0.5 },
            EventTransform::DropEvent { p: 0.3 },
        ] {
            let run = |seed| {
                let mut e = base.clone();
                t.apply(&mut e, sensor, &mut ChaCha8Rng::seed_from_u64(seed));
                e
            };
            assert_eq!(run(7), run(7), "{t:?} repeats with its seed");
            let out = run(7);
            assert!(
                out.windows(2).all(|w| w[0].t <= w[1].t),
                "{t:?} keeps time order"
            );
            assert!(
                out.iter().all(|e| sensor.contains(e)),
                "{t:?} stays on the sensor"
            );
        }
        let dropped = {
            let mut e = base.clone();
            EventTransform::DropEvent { p: 0.3 }.apply(
                &mut e,
                sensor,
                &mut ChaCha8Rng::seed_from_u64(3),
            );
            e.len()
        };
        assert!(
            (110..170).contains(&dropped),
            "about 70 % of 200 kept, got {dropped}"
        );
    }

    #[test]
    fn frames_conserve_the_event_count() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let sensor = Sensor::NMNIST;
        let mut events: Vec<Event> = (0..500)
            .map(|_| {
                ev(
                    rng.random_range(0..100_000),
                    rng.random_range(0..34),
                    rng.random_range(0..34),
                    rng.random_range(0..2),
                )
            })
            .collect();
        events.sort();
        for rule in [
            ToFrame::TimeWindow { window_us: 7_000 },
            ToFrame::EventCount { count: 33 },
            ToFrame::TimeBins { bins: 9 },
            ToFrame::EventBins { bins: 9 },
        ] {
            let dense = rule.to_dense(&events, sensor);
            assert_eq!(dense.iter().sum::<f32>(), 500.0, "{rule:?}");
            assert_eq!(dense.len(), rule.num_frames(&events) * sensor.size());
        }
    }
}
