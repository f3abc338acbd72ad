//! The Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC) data sets (Cramer,
//! Stradmann, Schemmel & Zenke 2020, "The Heidelberg spiking data sets for the systematic
//! evaluation of spiking neural networks", IEEE TNNLS; files at
//! <https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/>).
//!
//! Each split is one HDF5 file, distributed gzip-compressed (`shd_train.h5.gz`,
//! `shd_test.h5.gz`; `ssc_train.h5.gz`, `ssc_valid.h5.gz`, `ssc_test.h5.gz`) and read here
//! either way:
//!
//! | dataset | type | shape | meaning |
//! |---|---|---|---|
//! | `spikes/times` | variable-length float (float16 in the published files) | `[N]` | spike times of sample `i`, seconds |
//! | `spikes/units` | variable-length unsigned integer | `[N]` | the channel (0–699) of each spike |
//! | `labels` | unsigned integer | `[N]` | class: 0–19 (SHD), 0–34 (SSC) |
//! | `extra/…` | | | speakers, keys, meta data (not read) |
//!
//! Variable-length data live in HDF5's global heap: each element of `spikes/times` is a heap
//! ID (sequence length, collection address, object index) whose object holds the values.
//! The pure-Rust `hdf5-pure` reader gives the heap IDs; this module resolves them against
//! the global heap collections (HDF5 file-format specification, section III.E), checking
//! every length and address against the file before reading.

use super::{Event, EventError, EventSample, EventSet, Sensor};
use crate::dataset::Split;
use hdf5_pure::{Datatype, DatatypeByteOrder};
use std::io::Read;
use std::path::{Path, PathBuf};

mod heap;

use heap::GlobalHeap;

/// Which of the two Heidelberg corpora.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Corpus {
    /// Spiking Heidelberg Digits: spoken digits 0–9 in English and German, 20 classes.
    Shd,
    /// Spiking Speech Commands: the Speech Commands words, 35 classes.
    Ssc,
}

impl Corpus {
    /// Number of classes: 20 (SHD) or 35 (SSC).
    pub fn num_classes(&self) -> usize {
        match self {
            Corpus::Shd => 20,
            Corpus::Ssc => 35,
        }
    }

    /// The file name of a split without `.gz`: `shd_train.h5`, `ssc_test.h5` …
    pub fn file_name(&self, split: Split) -> String {
        let corpus = match self {
            Corpus::Shd => "shd",
            Corpus::Ssc => "ssc",
        };
        let split = match split {
            Split::Train => "train",
            Split::Test => "test",
        };
        format!("{corpus}_{split}.h5")
    }

    fn name(&self) -> &'static str {
        match self {
            Corpus::Shd => "SHD",
            Corpus::Ssc => "SSC",
        }
    }
}

/// Reads split `split` of `corpus` from `dir`, as `<name>.h5` or `<name>.h5.gz`
/// (see [`Corpus::file_name`]).
///
/// # Errors
/// [`EventError::MissingData`] when neither file is there, else as [`read_file`].
pub fn read(dir: &Path, corpus: Corpus, split: Split) -> Result<EventSet, EventError> {
    let name = corpus.file_name(split);
    let plain = dir.join(&name);
    let gz = dir.join(format!("{name}.gz"));
    let path = if plain.is_file() {
        plain
    } else if gz.is_file() {
        gz
    } else {
        return Err(missing(corpus, plain));
    };
    read_file(&path, corpus.num_classes())
}

/// The error for `corpus` not found at `path`, naming the layout expected.
pub(crate) fn missing(corpus: Corpus, path: PathBuf) -> EventError {
    EventError::missing_data(
        path,
        corpus.name(),
        match corpus {
            Corpus::Shd => "shd_train.h5 and shd_test.h5 (or the distributed .h5.gz files)",
            Corpus::Ssc => "ssc_train.h5 and ssc_test.h5 (or the distributed .h5.gz files)",
        },
        "https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/",
    )
}

/// Reads one SHD/SSC-format file (plain HDF5, or gzip-compressed when its name ends in
/// `.gz`) whose labels lie in `0..num_classes`. Spike times become microseconds, rounded;
/// channels are the events' `x` on the 700-channel sensor ([`Sensor::COCHLEA700`]); each
/// sample's events are sorted by time.
///
/// # Errors
/// Every failure names the file: not HDF5, a missing dataset, an unexpected type,
/// `times`, `units` and `labels` of different lengths (for the data set or one sample), a
/// time that is negative or not finite, a channel ≥ 700, a label outside the classes, a heap
/// reference outside the file.
pub fn read_file(path: &Path, num_classes: usize) -> Result<EventSet, EventError> {
    let bytes = read_bytes(path)?;
    parse(bytes, path, num_classes)
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, EventError> {
    let file = std::fs::File::open(path).map_err(|e| EventError::io(path, e))?;
    let mut bytes = Vec::new();
    let is_gz = path.extension().is_some_and(|e| e == "gz");
    let result = if is_gz {
        flate2::read::GzDecoder::new(std::io::BufReader::new(file)).read_to_end(&mut bytes)
    } else {
        std::io::BufReader::new(file).read_to_end(&mut bytes)
    };
    result.map_err(|e| EventError::io(path, e))?;
    Ok(bytes)
}

/// How much larger than the file its data may decode to (deflate expands at most 1032:1).
const MAX_EXPANSION: u64 = 1032;

/// The largest global-heap ID of a variable-length element (length, 8-byte address, index).
const HEAP_ID_BYTES: u64 = 16;

/// Parses the bytes of an SHD/SSC-format HDF5 file (see [`read_file`]); `path` names it in
/// errors.
pub fn parse(bytes: Vec<u8>, path: &Path, num_classes: usize) -> Result<EventSet, EventError> {
    let h5 = |what: &str, e: hdf5_pure::Error| {
        EventError::malformed(
            path,
            what.to_string(),
            format!("not a readable SHD-format HDF5 file: {e}"),
        )
    };
    let len = bytes.len() as u64;
    let file = hdf5_pure::File::from_bytes(bytes).map_err(|e| h5("file", e))?;
    // The superblock records where the file ends: a shorter file lost its tail. The
    // end-of-file address is absolute (a user block before the HDF5 data is counted in it,
    // as libhdf5 does), unlike the other addresses, which are relative to the base address.
    let eof = file.superblock().eof_address;
    if eof > len {
        return Err(EventError::malformed(
            path,
            format!("byte {len}"),
            format!(
                "the file ends here, but its superblock says it is {eof} bytes long: truncated"
            ),
        ));
    }
    let heap = GlobalHeap::new(path, &file);

    let times_ds = file
        .dataset("spikes/times")
        .map_err(|e| h5("dataset spikes/times", e))?;
    let units_ds = file
        .dataset("spikes/units")
        .map_err(|e| h5("dataset spikes/units", e))?;
    let labels_ds = file
        .dataset("labels")
        .map_err(|e| h5("dataset labels", e))?;

    let times_type = vlen_base(path, "spikes/times", &times_ds)?;
    let units_type = vlen_base(path, "spikes/units", &units_ds)?;
    let time_kind = ScalarKind::of(&times_type)
        .filter(|k| k.is_float())
        .ok_or_else(|| {
            type_error(
                path,
                "spikes/times",
                "a variable-length float16/32/64 sequence",
                &times_type,
            )
        })?;
    let unit_kind = ScalarKind::of(&units_type)
        .filter(|k| !k.is_float())
        .ok_or_else(|| {
            type_error(
                path,
                "spikes/units",
                "a variable-length integer sequence",
                &units_type,
            )
        })?;
    let label_type = labels_ds.datatype().map_err(|e| h5("dataset labels", e))?;
    let label_kind = ScalarKind::of(&label_type)
        .filter(|k| !k.is_float())
        .ok_or_else(|| type_error(path, "labels", "integers", &label_type))?;

    // Each dataset is read into one allocation of its declared size: refuse declarations the
    // file could not hold even fully compressed (found by fuzzing: a 9 KB file whose `labels`
    // declared 318 GB, all fill value, aborted on the allocation).
    let mut budget = len.saturating_mul(MAX_EXPANSION);
    for (name, ds, per_element) in [
        ("spikes/times", &times_ds, HEAP_ID_BYTES),
        ("spikes/units", &units_ds, HEAP_ID_BYTES),
        ("labels", &labels_ds, label_kind.size() as u64),
    ] {
        let what = format!("dataset {name}");
        let elements = ds
            .shape()
            .map_err(|e| h5(&what, e))?
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d));
        match elements.and_then(|n| n.checked_mul(per_element)) {
            Some(bytes) if bytes <= budget => budget -= bytes,
            _ => {
                return Err(EventError::malformed(
                    path,
                    what,
                    format!("its dataspace declares more data than a file of {len} bytes can hold"),
                ));
            }
        }
    }
    let times_ids = heap.ids(&times_ds, "spikes/times")?;
    let units_ids = heap.ids(&units_ds, "spikes/units")?;
    let label_bytes = labels_ds.read_raw().map_err(|e| h5("dataset labels", e))?;
    let labels: Vec<i64> = label_bytes
        .chunks_exact(label_kind.size())
        .map(|b| label_kind.int(b))
        .collect();

    if times_ids.len() != units_ids.len() || times_ids.len() != labels.len() {
        return Err(EventError::malformed(
            path,
            "datasets spikes/times, spikes/units, labels",
            format!(
                "they must have one entry per sample, but hold {}, {} and {}",
                times_ids.len(),
                units_ids.len(),
                labels.len()
            ),
        ));
    }

    let sensor = Sensor::COCHLEA700;
    let mut set = EventSet::new(sensor, num_classes);
    set.samples.reserve(labels.len());
    for (i, ((t_id, u_id), &label)) in times_ids.iter().zip(&units_ids).zip(&labels).enumerate() {
        let location = || format!("sample {i}");
        if label < 0 || label as u64 >= num_classes as u64 {
            return Err(EventError::LabelOutOfRange {
                path: path.to_path_buf(),
                location: location(),
                label,
                classes: num_classes,
            });
        }
        if t_id.length != u_id.length {
            return Err(EventError::malformed(
                path,
                location(),
                format!(
                    "{} spike times but {} units: they must pair up",
                    t_id.length, u_id.length
                ),
            ));
        }
        let times = heap.object(t_id, time_kind.size(), "spikes/times", i)?;
        let units = heap.object(u_id, unit_kind.size(), "spikes/units", i)?;
        let mut events = Vec::with_capacity(t_id.length as usize);
        for (tb, ub) in times
            .chunks_exact(time_kind.size())
            .zip(units.chunks_exact(unit_kind.size()))
        {
            let seconds = time_kind.float(tb);
            if !(0.0..=1.0e6).contains(&seconds) {
                return Err(EventError::malformed(
                    path,
                    location(),
                    format!("spike time {seconds} s: times must be finite, non-negative seconds"),
                ));
            }
            let unit = unit_kind.int(ub);
            if unit < 0 || unit >= i64::from(sensor.width) {
                return Err(EventError::OutsideSensor {
                    path: path.to_path_buf(),
                    location: location(),
                    x: unit.clamp(0, u32::MAX as i64) as u32,
                    y: 0,
                    p: 0,
                    sensor,
                });
            }
            events.push(Event {
                t: (seconds * 1e6).round() as u64,
                x: unit as u16,
                y: 0,
                p: 0,
            });
        }
        events.sort_by_key(|e| e.t);
        set.samples.push(EventSample {
            events,
            label: label as usize,
        });
    }
    Ok(set)
}

fn vlen_base(path: &Path, name: &str, ds: &hdf5_pure::Dataset) -> Result<Datatype, EventError> {
    let dt = ds.datatype().map_err(|e| {
        EventError::malformed(
            path,
            format!("dataset {name}"),
            format!("unreadable type: {e}"),
        )
    })?;
    match dt {
        Datatype::VariableLength {
            is_string: false,
            base_type,
            ..
        } => Ok(*base_type),
        other => Err(type_error(path, name, "a variable-length sequence", &other)),
    }
}

fn type_error(path: &Path, name: &str, expected: &str, found: &Datatype) -> EventError {
    EventError::malformed(
        path,
        format!("dataset {name}"),
        format!("expected {expected}, found {found:?}"),
    )
}

/// A number type the reader decodes: integers of 1–8 bytes and IEEE floats of 2, 4, 8 bytes.
#[derive(Clone, Copy, Debug)]
enum ScalarKind {
    Int {
        size: usize,
        signed: bool,
        big: bool,
    },
    Float {
        size: usize,
        big: bool,
    },
}

impl ScalarKind {
    fn of(dt: &Datatype) -> Option<ScalarKind> {
        match dt {
            Datatype::FixedPoint {
                size,
                byte_order,
                layout,
            } if matches!(size, 1 | 2 | 4 | 8) => Some(ScalarKind::Int {
                size: *size as usize,
                signed: layout.signed,
                big: *byte_order == DatatypeByteOrder::BigEndian,
            }),
            Datatype::FloatingPoint {
                size, byte_order, ..
            } if matches!(size, 2 | 4 | 8) => Some(ScalarKind::Float {
                size: *size as usize,
                big: *byte_order == DatatypeByteOrder::BigEndian,
            }),
            _ => None,
        }
    }

    fn size(&self) -> usize {
        match *self {
            ScalarKind::Int { size, .. } | ScalarKind::Float { size, .. } => size,
        }
    }

    fn is_float(&self) -> bool {
        matches!(self, ScalarKind::Float { .. })
    }

    /// The value of `b` (exactly `size` bytes) as an integer; a float is truncated.
    fn int(&self, b: &[u8]) -> i64 {
        match *self {
            ScalarKind::Int { size, signed, big } => {
                let mut buf = [0u8; 8];
                if big {
                    for (k, &v) in b.iter().rev().enumerate() {
                        buf[k] = v;
                    }
                } else {
                    buf[..size].copy_from_slice(b);
                }
                let raw = u64::from_le_bytes(buf);
                if signed && size < 8 {
                    let shift = 64 - 8 * size as u32;
                    ((raw << shift) as i64) >> shift
                } else if !signed && raw > i64::MAX as u64 {
                    i64::MAX
                } else {
                    raw as i64
                }
            }
            ScalarKind::Float { .. } => self.float(b) as i64,
        }
    }

    /// The value of `b` (exactly `size` bytes) as a float.
    fn float(&self, b: &[u8]) -> f64 {
        match *self {
            ScalarKind::Float { size, big } => {
                let mut buf = [0u8; 8];
                buf[..size].copy_from_slice(b);
                if big {
                    buf[..size].reverse();
                }
                match size {
                    2 => half::f16::from_le_bytes([buf[0], buf[1]]).to_f64(),
                    4 => f64::from(f32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]])),
                    _ => f64::from_le_bytes(buf),
                }
            }
            ScalarKind::Int { .. } => self.int(b) as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_kinds_decode_by_hand() {
        let f16 = ScalarKind::Float {
            size: 2,
            big: false,
        };
        // 0x3C00 is 1.0 in IEEE binary16, 0x3555 is 0.333251953125.
        assert_eq!(f16.float(&[0x00, 0x3C]), 1.0);
        assert_eq!(f16.float(&[0x55, 0x35]), 0.333251953125);
        let i16s = ScalarKind::Int {
            size: 2,
            signed: true,
            big: false,
        };
        assert_eq!(i16s.int(&[0xFE, 0xFF]), -2);
        let u16b = ScalarKind::Int {
            size: 2,
            signed: false,
            big: true,
        };
        assert_eq!(u16b.int(&[0x02, 0xBB]), 699);
    }
}
