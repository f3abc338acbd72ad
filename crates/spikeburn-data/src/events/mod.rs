//! Event data: the address-event streams of neuromorphic sensors and spiking data sets, their
//! readers, and the transforms that turn them into time-major frames.
//!
//! An [`Event`] is what tonic calls an `(t, x, y, p)` record: a timestamp in microseconds, an
//! address on the sensor and a polarity. Audio data sets (SHD, SSC) are events on a
//! one-row sensor (`x` = channel, `y = 0`, one polarity); cameras (N-MNIST, DVS128 Gesture)
//! have two polarities (0 = OFF, 1 = ON).
//!
//! | data set | reader | sensor | classes |
//! |---|---|---|---|
//! | N-MNIST (Orchard et al. 2015) | [`nmnist`] | 34 × 34 × 2 | 10 |
//! | DVS128 Gesture (Amir et al. 2017) | [`dvs_gesture`] over [`aedat`] 3.1 | 128 × 128 × 2 | 11 |
//! | SHD / SSC (Cramer et al. 2020) | [`shd`] (HDF5) | 700 × 1 × 1 | 20 / 35 |
//!
//! Readers never panic and never allocate by an unchecked count: a truncated, corrupt or
//! inconsistent file is an [`EventError`] naming the file and the byte offset or sample.
//! [`transforms`] turns events into frames (`ToFrame`) and augments them (jitter, flips, drops),
//! and [`EventDataset`] batches frames for the training loop.

pub mod aedat;
mod dataset;
pub mod dvs_gesture;
pub mod nmnist;
pub mod shd;
pub mod transforms;

pub use dataset::{EventDataset, EventsConfig, FrameCache, LoadReport, load};
pub use transforms::{EventTransform, ToFrame};

use crate::dataset::{DatasetKind, Split};
use std::path::{Path, PathBuf};

/// One event: when, where and which polarity (see the [module docs](self)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Event {
    /// Timestamp in microseconds from the start of the recording or sample.
    pub t: u64,
    /// Column on the sensor (the channel for audio data).
    pub x: u16,
    /// Row on the sensor (0 for audio data).
    pub y: u16,
    /// Polarity: 0 (OFF) or 1 (ON); 0 for sensors with one polarity.
    pub p: u8,
}

/// The geometry of an event sensor: `width × height` addresses, `polarities` channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Sensor {
    /// Columns (channels of an audio sensor).
    pub width: u16,
    /// Rows (1 for audio).
    pub height: u16,
    /// Polarity channels (2 for DVS cameras, 1 for audio).
    pub polarities: u8,
}

impl Sensor {
    /// N-MNIST's ATIS sensor crop: 34 × 34, two polarities.
    pub const NMNIST: Sensor = Sensor {
        width: 34,
        height: 34,
        polarities: 2,
    };
    /// The DVS128 camera of DVS128 Gesture: 128 × 128, two polarities.
    pub const DVS128: Sensor = Sensor {
        width: 128,
        height: 128,
        polarities: 2,
    };
    /// The 700-channel cochlea model of SHD and SSC.
    pub const COCHLEA700: Sensor = Sensor {
        width: 700,
        height: 1,
        polarities: 1,
    };

    /// Number of addresses, `polarities × height × width`: the features of a flattened frame.
    pub fn size(&self) -> usize {
        self.polarities as usize * self.height as usize * self.width as usize
    }

    /// Whether the event's address and polarity lie on the sensor.
    pub fn contains(&self, e: &Event) -> bool {
        e.x < self.width && e.y < self.height && e.p < self.polarities
    }

    /// The event's index in a flattened `[polarities, height, width]` frame (the layout of a
    /// conv layer's `[C, H, W]` input).
    pub fn index(&self, e: &Event) -> usize {
        (e.p as usize * self.height as usize + e.y as usize) * self.width as usize + e.x as usize
    }
}

impl std::fmt::Display for Sensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} x {} x {}", self.width, self.height, self.polarities)
    }
}

/// A labelled recording: its events in time order and its class.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventSample {
    /// The events, sorted by time.
    pub events: Vec<Event>,
    /// The class, in `0..num_classes`.
    pub label: usize,
}

/// A set of labelled recordings from one sensor: what every reader returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSet {
    /// The sensor every event lies on.
    pub sensor: Sensor,
    /// Number of classes.
    pub num_classes: usize,
    /// The recordings.
    pub samples: Vec<EventSample>,
}

impl EventSet {
    /// An empty set.
    pub fn new(sensor: Sensor, num_classes: usize) -> Self {
        EventSet {
            sensor,
            num_classes,
            samples: Vec::new(),
        }
    }

    /// Number of events in all samples.
    pub fn num_events(&self) -> usize {
        self.samples.iter().map(|s| s.events.len()).sum()
    }
}

/// Why event data could not be read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// A file or folder could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The data set's folder is missing or lacks the layout the reader expects.
    #[error("{path}: {dataset} not found: expected {layout} (published at {url}; set --data-dir)")]
    MissingData {
        /// The folder or file looked for.
        path: PathBuf,
        /// The data set.
        dataset: &'static str,
        /// The files the reader expects there.
        layout: &'static str,
        /// Where the data set is published.
        url: &'static str,
    },
    /// The file ends before a record it announces.
    #[error("{path}: truncated at byte {offset}: {what} needs {needed} bytes, {available} remain")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Byte offset of the incomplete record.
        offset: u64,
        /// The record.
        what: &'static str,
        /// Bytes it needs.
        needed: u64,
        /// Bytes left in the file.
        available: u64,
    },
    /// The file is not in the expected format, or a field holds an impossible value.
    #[error("{path}: {location}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Where: `byte 1234`, `line 7`, `sample 12`, `dataset spikes/times` …
        location: String,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// An event's address or polarity lies outside the sensor.
    #[error("{path}: {location}: event at x {x}, y {y}, polarity {p} outside the {sensor} sensor")]
    OutsideSensor {
        /// The file.
        path: PathBuf,
        /// Where: a byte offset or a sample.
        location: String,
        /// Column.
        x: u32,
        /// Row.
        y: u32,
        /// Polarity.
        p: u32,
        /// The sensor.
        sensor: Sensor,
    },
    /// A label is not a class.
    #[error("{path}: {location}: label {label} is not a class in 0..{classes}")]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// Where: a line or sample.
        location: String,
        /// The label found.
        label: i64,
        /// Number of classes.
        classes: usize,
    },
}

impl EventError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EventError::Io {
            path: path.into(),
            source,
        }
    }

    /// A missing data set: `path` was looked for, `layout` is what the reader expects
    /// there, `url` where `dataset` is published.
    pub fn missing_data(
        path: impl Into<PathBuf>,
        dataset: &'static str,
        layout: &'static str,
        url: &'static str,
    ) -> Self {
        EventError::MissingData {
            path: path.into(),
            dataset,
            layout,
            url,
        }
    }

    /// A malformed-file error at `location`.
    pub fn malformed(
        path: impl Into<PathBuf>,
        location: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        EventError::Malformed {
            path: path.into(),
            location: location.into(),
            reason: reason.into(),
        }
    }
}

impl From<spikeburn_io::IoError> for EventError {
    fn from(e: spikeburn_io::IoError) -> Self {
        EventError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

/// Reads `split` of the event data set `kind` from `dir` (its reader's layout: see each
/// module).
///
/// # Errors
/// The reader's; [`EventError::Malformed`] when `kind` is not an event data set.
pub fn read(kind: DatasetKind, dir: &Path, split: Split) -> Result<EventSet, EventError> {
    match kind {
        DatasetKind::Shd => shd::read(dir, shd::Corpus::Shd, split),
        DatasetKind::Ssc => shd::read(dir, shd::Corpus::Ssc, split),
        DatasetKind::Nmnist => nmnist::read(dir, split),
        DatasetKind::DvsGesture => dvs_gesture::read(dir, split),
        other => Err(EventError::malformed(
            dir,
            "data set",
            format!("{other} is not an event data set"),
        )),
    }
}

/// The file or folder whose identity (path, size, modification time) keys the frame cache of
/// `split`: the HDF5 file of SHD/SSC, the `Train`/`Test` folder (or zip) of N-MNIST, the
/// trial list of DVS128 Gesture.
///
/// # Errors
/// [`EventError::MissingData`] (as the reader's) when it is not there.
pub fn source_path(kind: DatasetKind, dir: &Path, split: Split) -> Result<PathBuf, EventError> {
    let train = split == Split::Train;
    let first_existing = |candidates: &[PathBuf]| candidates.iter().find(|p| p.exists()).cloned();
    match kind {
        DatasetKind::Shd | DatasetKind::Ssc => {
            let corpus = if kind == DatasetKind::Shd {
                shd::Corpus::Shd
            } else {
                shd::Corpus::Ssc
            };
            let plain = dir.join(corpus.file_name(split));
            let gz = plain.with_extension("h5.gz");
            first_existing(&[plain.clone(), gz]).ok_or_else(|| shd::missing(corpus, plain))
        }
        DatasetKind::Nmnist => {
            let folder = dir.join(if train { "Train" } else { "Test" });
            let zip = folder.with_extension("zip");
            first_existing(&[folder.clone(), zip])
                .ok_or_else(|| nmnist::missing(if dir.is_dir() { folder } else { dir.into() }))
        }
        DatasetKind::DvsGesture => {
            let list = dir.join(if train {
                "trials_to_train.txt"
            } else {
                "trials_to_test.txt"
            });
            first_existing(std::slice::from_ref(&list))
                .ok_or_else(|| dvs_gesture::missing(if dir.is_dir() { list } else { dir.into() }))
        }
        other => Err(EventError::malformed(
            dir,
            "data set",
            format!("{other} is not an event data set"),
        )),
    }
}
