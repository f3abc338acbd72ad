//! [`EventDataset`]: event recordings as a [`Dataset`] of time-major frames, with the
//! deterministic part of the pipeline done once (in parallel, cached on disk by
//! [`FrameCache`]) and the random augmentations done per training batch (in parallel,
//! seeded from the batch's stream).

use super::transforms::{EventTransform, ToFrame, apply_all};
use super::{Event, EventError, EventSet, Sensor};
use crate::spike_trains::{SpikeTrains, dense_counts, padded_sequence_batch, sequence_batch};
use crate::traits::{Batch, Dataset};
use burn::prelude::*;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How recordings become network input: deterministic transforms, the framing rule, the
/// number of steps, and the training augmentation (a config's `[data.events]` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsConfig {
    /// How events are cut into frames.
    pub frames: ToFrame,
    /// Time steps `T` of every sample: frames past `T` are dropped, missing ones are empty.
    /// `None`: the rule's number of bins (required for `time_window` and `event_count`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    /// Deterministic transforms applied before framing (denoise, downsample, crop …).
    pub transforms: Vec<EventTransform>,
    /// Random transforms applied to each training sample before framing (jitter, flips,
    /// drops); evaluation batches are not augmented.
    pub augment: Vec<EventTransform>,
    /// Whether unaugmented frames are cached on disk ([`FrameCache`]).
    pub cache: bool,
    /// Whether each sample keeps its own number of frames (the rule's count for it, at most
    /// `steps`) instead of all having `steps`: batches are then padded to their longest
    /// sample and carry each sample's length, and the losses, read-outs and spike rates read
    /// only each sample's own frames (see `spikeburn_core::padding`). Meant for the rules
    /// whose number of frames follows the recording (`time_window`, `event_count`).
    pub variable_length: bool,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            frames: ToFrame::TimeBins { bins: 100 },
            steps: None,
            transforms: Vec::new(),
            augment: Vec::new(),
            cache: true,
            variable_length: false,
        }
    }
}

impl EventsConfig {
    /// The number of time steps `T`.
    ///
    /// # Errors
    /// A rule without a fixed number of frames and no `steps`, or `steps = 0`.
    pub fn steps(&self) -> Result<usize, String> {
        let steps = match (self.steps, self.frames) {
            (Some(s), _) => s,
            (
                None,
                ToFrame::TimeBins { bins }
                | ToFrame::EventBins { bins }
                | ToFrame::FixedDuration { bins, .. },
            ) => bins,
            (None, rule) => {
                return Err(format!(
                    "{rule:?} makes as many frames as a sample needs: set steps"
                ));
            }
        };
        if steps == 0 || steps > 1 << 20 {
            return Err(format!("steps = {steps}: expected 1 to {}", 1 << 20));
        }
        Ok(steps)
    }

    /// Checks every parameter, naming the field (`frames`, `transforms[1]` …) in the message.
    pub fn validate(&self) -> Result<(), (String, String)> {
        self.frames
            .validate()
            .map_err(|m| ("frames".to_string(), m))?;
        self.steps().map_err(|m| ("steps".to_string(), m))?;
        for (name, list) in [("transforms", &self.transforms), ("augment", &self.augment)] {
            for (i, t) in list.iter().enumerate() {
                t.validate().map_err(|m| (format!("{name}[{i}]"), m))?;
            }
        }
        Ok(())
    }

    /// The sensor events lie on after the transforms (augmentations keep the sensor).
    pub fn sensor_after(&self, sensor: Sensor) -> Sensor {
        self.transforms
            .iter()
            .fold(sensor, |s, t| t.sensor_after(s))
    }

    /// Checks the pipeline ([`validate`](Self::validate)) and that a network taking `input`
    /// over `num_steps` steps fits the frames it makes of data set `kind`: `input` the frame
    /// size, flat (`[p·h·w]`) or as an image (`[p, h, w]`), and `num_steps` the frames per
    /// sample. An error names the config field (`data.events.…`, `model.input`,
    /// `model.num_steps`) and what was expected.
    pub fn check_network(
        &self,
        kind: crate::DatasetKind,
        input: &[usize],
        num_steps: usize,
    ) -> Result<(), (String, String)> {
        self.validate()
            .map_err(|(field, message)| (format!("data.events.{field}"), message))?;
        let sensor = self.sensor_after(kind.sensor());
        let flat = [sensor.size()];
        let image = [
            sensor.polarities as usize,
            sensor.height as usize,
            sensor.width as usize,
        ];
        if input != flat && input != image {
            return Err((
                "model.input".into(),
                format!(
                    "expected [{}] or {image:?} ({kind} frames on the {sensor} sensor after data.events.transforms), got {input:?}",
                    sensor.size(),
                ),
            ));
        }
        let steps = self
            .steps()
            .map_err(|m| ("data.events.steps".to_string(), m))?;
        if num_steps != steps {
            return Err((
                "model.num_steps".into(),
                format!("expected {steps} (the frames per sample of data.events), got {num_steps}"),
            ));
        }
        Ok(())
    }

    /// A string that identifies the pipeline (the cache key's part from the config).
    fn key(&self) -> String {
        let key = format!(
            "{:?}|{:?}|{:?}",
            self.frames,
            self.steps().ok(),
            self.transforms
        );
        // The key of fixed-length frames is the one earlier versions wrote.
        if self.variable_length {
            key + "|variable_length"
        } else {
            key
        }
    }

    /// The number of frames of a sample with `events`: `steps`, or with
    /// [`variable_length`](Self::variable_length) the rule's count for them, clamped to
    /// `1..=steps`.
    fn length(&self, events: &[Event], steps: usize) -> usize {
        if self.variable_length {
            self.frames.num_frames(events).clamp(1, steps)
        } else {
            steps
        }
    }
}

/// Labelled event recordings batched as frames `[T, B, polarities · height · width]` (the
/// flattened `[C, H, W]` a conv layer reshapes; see the [module docs](super)).
#[derive(Clone, Debug)]
pub struct EventDataset {
    /// Unaugmented frames of every sample (what evaluation sees).
    frames: SpikeTrains,
    /// The events after the deterministic transforms, kept only when there is augmentation.
    events: Option<Vec<Vec<Event>>>,
    sensor: Sensor,
    config: EventsConfig,
}

impl EventDataset {
    /// Builds the data set: applies `config.transforms` and frames every sample (in
    /// parallel).
    ///
    /// # Errors
    /// An invalid `config` (the message names the field).
    pub fn new(set: EventSet, config: &EventsConfig) -> Result<Self, String> {
        config.validate().map_err(|(f, m)| format!("{f}: {m}"))?;
        let steps = config.steps()?;
        let sensor = config.sensor_after(set.sensor);
        let num_classes = set.num_classes;
        let mut events: Vec<(Vec<Event>, usize)> = set
            .samples
            .into_iter()
            .map(|s| (s.events, s.label))
            .collect();
        events.par_iter_mut().for_each(|(e, _)| {
            // Deterministic transforms draw nothing from the generator.
            apply_all(
                &config.transforms,
                e,
                set.sensor,
                &mut ChaCha8Rng::seed_from_u64(0),
            );
        });
        let framed: Vec<(Vec<(u32, u32)>, usize)> = events
            .par_iter()
            .map(|(e, _)| {
                let length = config.length(e, steps);
                (frame(&config.frames, e, sensor, length), length)
            })
            .collect();
        let mut frames = SpikeTrains::new(steps, sensor.size(), num_classes);
        for ((f, length), (_, label)) in framed.into_iter().zip(&events) {
            frames
                .push_with_length(f, *label, length)
                .map_err(|e| e.to_string())?;
        }
        let events =
            (!config.augment.is_empty()).then(|| events.into_iter().map(|(e, _)| e).collect());
        Ok(EventDataset {
            frames,
            events,
            sensor,
            config: config.clone(),
        })
    }

    /// Builds the data set from frames computed earlier (a [`FrameCache`] hit); `config`
    /// must have no augmentation, which needs the events.
    pub fn from_frames(
        frames: SpikeTrains,
        sensor: Sensor,
        config: &EventsConfig,
    ) -> Result<Self, String> {
        if !config.augment.is_empty() {
            return Err("augmentation needs the events, not only their frames".into());
        }
        if frames.channels() != sensor.size() || frames.steps() != config.steps()? {
            return Err(format!(
                "frames of {} steps x {} channels do not fit {} steps on the {sensor} sensor",
                frames.steps(),
                frames.channels(),
                config.steps()?
            ));
        }
        Ok(EventDataset {
            frames,
            events: None,
            sensor,
            config: config.clone(),
        })
    }

    /// The samples `indices`, in that order, as a new data set.
    pub fn subset(&self, indices: &[usize]) -> Self {
        EventDataset {
            frames: self.frames.subset(indices),
            events: self
                .events
                .as_ref()
                .map(|e| indices.iter().map(|&i| e[i].clone()).collect()),
            sensor: self.sensor,
            config: self.config.clone(),
        }
    }

    /// The unaugmented frames.
    pub fn frames(&self) -> &SpikeTrains {
        &self.frames
    }

    /// The sensor of the frames (after downsampling).
    pub fn sensor(&self) -> Sensor {
        self.sensor
    }

    /// Time steps per sample.
    pub fn steps(&self) -> usize {
        self.frames.steps()
    }
}

/// The `(step, address)` of every event of `events` that `rule` puts into one of the first
/// `steps` frames.
fn frame(rule: &ToFrame, events: &[Event], sensor: Sensor, steps: usize) -> Vec<(u32, u32)> {
    let mut out = Vec::with_capacity(events.len());
    rule.for_each(events, |k, e| {
        if k < steps && sensor.contains(e) {
            out.push((k as u32, sensor.index(e) as u32));
        }
    });
    out
}

impl Dataset for EventDataset {
    fn len(&self) -> usize {
        Dataset::len(&self.frames)
    }

    fn num_classes(&self) -> usize {
        Dataset::num_classes(&self.frames)
    }

    fn describe(&self) -> String {
        format!(
            "{} recordings as {}{} frames of {} ({} inputs)",
            Dataset::len(&self.frames),
            if self.config.variable_length {
                "up to "
            } else {
                ""
            },
            self.steps(),
            self.sensor,
            self.sensor.size()
        )
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Batch {
        Dataset::batch(&self.frames, indices, device)
    }

    /// Each sample's augmentation is seeded by one `u64` drawn from `rng` in batch order, and
    /// the samples are augmented and framed in parallel.
    fn train_batch(&self, indices: &[usize], rng: &mut ChaCha8Rng, device: &Device) -> Batch {
        let Some(events) = &self.events else {
            return self.batch(indices, device);
        };
        let seeds: Vec<u64> = indices.iter().map(|_| rng.next_u64()).collect();
        let per_sample: Vec<(Vec<(u32, u32)>, usize)> = indices
            .par_iter()
            .zip(seeds)
            .map(|(&i, seed)| {
                let mut e = events[i].clone();
                let mut sample_rng = ChaCha8Rng::seed_from_u64(seed);
                apply_all(&self.config.augment, &mut e, self.sensor, &mut sample_rng);
                let length = self.config.length(&e, self.steps());
                (frame(&self.config.frames, &e, self.sensor, length), length)
            })
            .collect();
        let size = self.sensor.size();
        let labels = indices
            .iter()
            .map(|&i| self.frames.label(i) as i64)
            .collect();
        if !self.config.variable_length {
            let values = dense_counts(self.steps(), size, per_sample.iter().map(|s| &s.0[..]));
            return sequence_batch(values, self.steps(), size, labels, device);
        }
        let samples = per_sample.iter().map(|(e, l)| (&e[..], *l));
        padded_sequence_batch(samples, size, labels, device)
    }

    fn skip_batch(&self, indices: &[usize], rng: &mut ChaCha8Rng) {
        if self.events.is_some() {
            for _ in indices {
                rng.next_u64();
            }
        }
    }
}

/// A folder of framed data sets, so that decoding and framing run once: the frames of a
/// source file (named by its path, size and modification time) under a pipeline (its
/// [`EventsConfig`] without the augmentation) are stored in `<dir>/<hash>.frames` and read
/// back on the next run. A file is written atomically (temporary file, fsync, rename) and
/// holds its full key, so a hash collision or a changed source is a miss, never wrong data.
#[derive(Clone, Debug)]
pub struct FrameCache {
    dir: PathBuf,
}

const CACHE_MAGIC: &[u8; 8] = b"SBFRAME1";

impl FrameCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        FrameCache { dir: dir.into() }
    }

    /// `$SPIKEBURN_CACHE_DIR/frames`, else `$HOME/.cache/spikeburn/frames`, else
    /// `.spikeburn-cache/frames`.
    pub fn default_dir() -> PathBuf {
        if let Some(d) = std::env::var_os("SPIKEBURN_CACHE_DIR") {
            return PathBuf::from(d).join("frames");
        }
        match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".cache/spikeburn/frames"),
            None => PathBuf::from(".spikeburn-cache/frames"),
        }
    }

    /// The cache's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key of `source` under `config` and `sensor`: what a cached file must match.
    pub fn key(source: &Path, config: &EventsConfig, sensor: Sensor) -> Result<String, EventError> {
        let meta = std::fs::metadata(source).map_err(|e| EventError::io(source, e))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        let abs = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
        Ok(format!(
            "{}|{}|{mtime}|{sensor}|{}",
            abs.display(),
            meta.len(),
            config.key()
        ))
    }

    fn file(&self, key: &str) -> PathBuf {
        // FNV-1a, 64 bits: a stable name (the key inside the file settles collisions).
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        self.dir.join(format!("{hash:016x}.frames"))
    }

    /// The frames stored under `key`, or `None` when there are none (or the file is
    /// unreadable, stale or corrupt: a cache never fails a run).
    pub fn load(&self, key: &str) -> Option<SpikeTrains> {
        let bytes = std::fs::read(self.file(key)).ok()?;
        let rest = bytes.strip_prefix(CACHE_MAGIC)?;
        let (len, rest) = rest.split_first_chunk::<8>()?;
        let len = usize::try_from(u64::from_le_bytes(*len)).ok()?;
        if rest.len() < len || &rest[..len] != key.as_bytes() {
            return None;
        }
        SpikeTrains::from_bytes(&rest[len..]).ok()
    }

    /// Stores `frames` under `key` (atomically).
    ///
    /// # Errors
    /// The folder or file could not be written.
    pub fn store(&self, key: &str, frames: &SpikeTrains) -> Result<PathBuf, EventError> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir).map_err(|e| EventError::io(&self.dir, e))?;
        let path = self.file(key);
        spikeburn_io::write_with(&path, |w| {
            let mut fill = || -> std::io::Result<()> {
                w.write_all(CACHE_MAGIC)?;
                w.write_all(&(key.len() as u64).to_le_bytes())?;
                w.write_all(key.as_bytes())?;
                frames.write_to(w)
            };
            fill().map_err(|e| EventError::io(&path, e))
        })?;
        Ok(path)
    }
}

/// What [`load`] did: where the frames came from and how long it took.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// The file or folder read (the cache key's source).
    pub source: PathBuf,
    /// The cache file used or written, if any.
    pub cache_file: Option<PathBuf>,
    /// Whether the frames came from the cache (no decoding).
    pub cache_hit: bool,
    /// Wall time of reading, transforming and framing (or of reading the cache).
    pub seconds: f64,
}

/// Loads `split` of the event data set `kind` from `dir` as frames under `config`: from
/// `cache` when it holds them, else by reading the files (in parallel), transforming and
/// framing, and then storing the frames in `cache` (when `config.cache` and there is no
/// augmentation, which needs the events themselves).
///
/// # Errors
/// The reader's errors (a missing folder names the layout expected), an invalid `config`.
pub fn load(
    kind: crate::DatasetKind,
    dir: &Path,
    split: crate::Split,
    config: &EventsConfig,
    cache: Option<&FrameCache>,
) -> Result<(EventDataset, LoadReport), EventError> {
    let start = std::time::Instant::now();
    let source = super::source_path(kind, dir, split)?;
    let sensor = config.sensor_after(kind.sensor());
    let cache = cache.filter(|_| config.cache && config.augment.is_empty());
    let key = match cache {
        Some(_) => Some(FrameCache::key(&source, config, sensor)?),
        None => None,
    };
    if let (Some(c), Some(k)) = (cache, &key)
        && let Some(frames) = c.load(k)
        && let Ok(set) = EventDataset::from_frames(frames, sensor, config)
    {
        let report = LoadReport {
            source,
            cache_file: Some(c.file(k)),
            cache_hit: true,
            seconds: start.elapsed().as_secs_f64(),
        };
        return Ok((set, report));
    }
    let events = super::read(kind, dir, split)?;
    let set = EventDataset::new(events, config)
        .map_err(|m| EventError::malformed(&source, "[data.events]", m))?;
    let cache_file = match (cache, &key) {
        (Some(c), Some(k)) => Some(c.store(k, set.frames())?),
        _ => None,
    };
    let report = LoadReport {
        source,
        cache_file,
        cache_hit: false,
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok((set, report))
}

#[cfg(test)]
mod tests;
