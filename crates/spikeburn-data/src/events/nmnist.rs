//! N-MNIST: MNIST digits recorded by an ATIS event camera moved in three saccades.
//!
//! Orchard, Jayawant, Cohen & Thakor (2015), "Converting static image datasets to spiking
//! neuromorphic datasets using saccades", *Frontiers in Neuroscience* 9:437; the files are
//! published at <https://www.garrickorchard.com/datasets/n-mnist>.
//!
//! # Layout
//!
//! `<dir>/Train/<digit>/<id>.bin` and `<dir>/Test/<digit>/<id>.bin` (60,000 and 10,000
//! recordings), or the distributed `<dir>/Train.zip` and `<dir>/Test.zip`, which hold the same
//! `Train/<digit>/<id>.bin` paths and are read in place. When both the folder and the zip
//! exist, the folder is read. The digit folder's name is the label (10 classes).
//!
//! # File format
//!
//! A `.bin` file is a sequence of 5-byte events with no header:
//!
//! | byte | content |
//! |---|---|
//! | 0 | x (0..34) |
//! | 1 | y (0..34) |
//! | 2 | bit 7: polarity (1 = ON); bits 6–0: timestamp bits 22–16 |
//! | 3 | timestamp bits 15–8 |
//! | 4 | timestamp bits 7–0 |
//!
//! so the timestamp is the 23-bit big-endian number
//! `(byte2 & 0x7F) << 16 | byte3 << 8 | byte4`, in microseconds. The sensor is
//! [`Sensor::NMNIST`], 34 × 34 pixels with two polarities.

use super::{Event, EventError, EventSample, EventSet, Sensor};
use crate::dataset::Split;
use rayon::prelude::*;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Number of classes (the digits 0–9).
pub const NUM_CLASSES: usize = 10;

/// Bytes per event in a `.bin` file.
pub const EVENT_BYTES: usize = 5;

const DATASET: &str = "N-MNIST";
const LAYOUT: &str = "Train/<digit>/<id>.bin and Test/… (or Train.zip and Test.zip)";
const URL: &str = "https://www.garrickorchard.com/datasets/n-mnist";

/// Decodes one N-MNIST `.bin` file (see the [module docs](self) for the 5-byte event format of
/// Orchard et al. 2015): `x`, `y`, polarity in bit 7 of byte 2 and a 23-bit big-endian
/// timestamp in microseconds.
///
/// The events are returned sorted by time (the files normally are; an unsorted file is sorted
/// stably). `path` only names the file in errors.
///
/// # Errors
///
/// [`EventError::Truncated`] when the length is not a multiple of 5 (naming the byte offset of
/// the incomplete event), [`EventError::OutsideSensor`] when `x` or `y` is 34 or more (location
/// `byte N`, the event's offset).
pub fn parse_bin(bytes: &[u8], path: &Path) -> Result<Vec<Event>, EventError> {
    let whole = bytes.len() / EVENT_BYTES * EVENT_BYTES;
    if whole != bytes.len() {
        return Err(EventError::Truncated {
            path: path.to_path_buf(),
            offset: whole as u64,
            what: "N-MNIST event",
            needed: EVENT_BYTES as u64,
            available: (bytes.len() - whole) as u64,
        });
    }
    let sensor = Sensor::NMNIST;
    let mut events = Vec::with_capacity(bytes.len() / EVENT_BYTES);
    for (i, chunk) in bytes.chunks_exact(EVENT_BYTES).enumerate() {
        let &[x, y, b2, b3, b4] = chunk else {
            // `chunks_exact` yields exactly EVENT_BYTES bytes.
            continue;
        };
        let event = Event {
            t: (u64::from(b2 & 0x7F) << 16) | (u64::from(b3) << 8) | u64::from(b4),
            x: u16::from(x),
            y: u16::from(y),
            p: b2 >> 7,
        };
        if !sensor.contains(&event) {
            return Err(EventError::OutsideSensor {
                path: path.to_path_buf(),
                location: format!("byte {}", i * EVENT_BYTES),
                x: u32::from(x),
                y: u32::from(y),
                p: u32::from(event.p),
                sensor,
            });
        }
        events.push(event);
    }
    if !events.is_sorted_by_key(|e| e.t) {
        events.sort_by_key(|e| e.t);
    }
    Ok(events)
}

/// Reads one split of N-MNIST (Orchard et al. 2015,
/// <https://www.garrickorchard.com/datasets/n-mnist>) from `dir`.
///
/// Reads `<dir>/Train/<digit>/<id>.bin` (or `Test/…` for [`Split::Test`]) when that folder
/// exists, otherwise the distributed `<dir>/Train.zip` (`Test.zip`) in place, whose entries are
/// `Train/<digit>/<id>.bin`. Each `.bin` file (format in the [module docs](self)) is one sample
/// labelled by its digit folder; files are decoded in parallel and the samples are ordered by
/// digit, then by file name, whatever order the file system or zip lists them in. Files other
/// than `*.bin`, and names starting with `.` (or the `__MACOSX` folder of a zip), are skipped.
/// The set has the [`Sensor::NMNIST`] sensor and 10 classes.
///
/// # Errors
///
/// [`EventError::MissingData`] when neither the folder nor the zip exists or they hold no
/// `.bin` file; [`EventError::LabelOutOfRange`] or [`EventError::Malformed`] for a digit folder
/// not named `0`–`9`; [`EventError::Io`] when a file or the zip cannot be read; and the errors
/// of [`parse_bin`] for a corrupt file (the first in sample order).
pub fn read(dir: &Path, split: Split) -> Result<EventSet, EventError> {
    let name = split_name(split);
    let folder = dir.join(name);
    let zip_path = dir.join(format!("{name}.zip"));
    let samples = if folder.is_dir() {
        read_folder(&folder)?
    } else if zip_path.is_file() {
        read_zip(&zip_path, name)?
    } else {
        let path = if dir.is_dir() {
            folder
        } else {
            dir.to_path_buf()
        };
        return Err(missing(path));
    };
    if samples.is_empty() {
        let path = if folder.is_dir() { folder } else { zip_path };
        return Err(missing(path));
    }
    Ok(EventSet {
        sensor: Sensor::NMNIST,
        num_classes: NUM_CLASSES,
        samples,
    })
}

/// The folder (and zip stem) of a split: `Train` or `Test`.
fn split_name(split: Split) -> &'static str {
    match split {
        Split::Train => "Train",
        Split::Test => "Test",
    }
}

/// The error for a data set not found at `path`, naming the layout expected.
pub(crate) fn missing(path: PathBuf) -> EventError {
    EventError::missing_data(path, DATASET, LAYOUT, URL)
}

/// Whether a file or folder name is ignored: hidden files and macOS metadata.
fn ignored(name: &str) -> bool {
    name.starts_with('.') || name == "__MACOSX"
}

/// Whether a file name is an event file (`*.bin`, any case).
fn is_bin(name: &str) -> bool {
    name.len() > 4
        && name
            .get(name.len() - 4..)
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".bin"))
}

/// The label of a digit folder `name` (`0`–`9`), or the error naming `path`.
fn digit_label(name: &str, path: &Path) -> Result<usize, EventError> {
    match name.trim().parse::<i64>() {
        Ok(d) if (0..NUM_CLASSES as i64).contains(&d) && name.len() == 1 => Ok(d as usize),
        Ok(d) if !(0..NUM_CLASSES as i64).contains(&d) => Err(EventError::LabelOutOfRange {
            path: path.to_path_buf(),
            location: format!("digit folder `{name}`"),
            label: d,
            classes: NUM_CLASSES,
        }),
        _ => Err(EventError::malformed(
            path,
            format!("folder `{name}`"),
            "expected a digit folder named 0 to 9",
        )),
    }
}

/// Sorts `(label, file name, item)` triples into sample order and decodes them in parallel,
/// returning the first error in that order.
fn decode_sorted<T: Sync>(
    mut items: Vec<(usize, String, T)>,
    decode: impl Fn(&T) -> Result<Vec<Event>, EventError> + Sync,
) -> Result<Vec<EventSample>, EventError> {
    items.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let decoded: Vec<Result<EventSample, EventError>> = items
        .par_iter()
        .map(|(label, _, item)| {
            decode(item).map(|events| EventSample {
                events,
                label: *label,
            })
        })
        .collect();
    decoded.into_iter().collect()
}

fn read_dir_sorted(path: &Path) -> Result<Vec<(String, PathBuf, bool)>, EventError> {
    let entries = std::fs::read_dir(path).map_err(|e| EventError::io(path, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| EventError::io(path, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let entry_path = entry.path();
        // Follow symbolic links: a folder of links to the files is a valid layout.
        let is_dir = entry_path.is_dir();
        out.push((name, entry_path, is_dir));
    }
    out.sort();
    Ok(out)
}

/// Samples of `<folder>/<digit>/*.bin`.
fn read_folder(folder: &Path) -> Result<Vec<EventSample>, EventError> {
    let mut files = Vec::new();
    for (name, digit_dir, is_dir) in read_dir_sorted(folder)? {
        if ignored(&name) || !is_dir {
            continue;
        }
        let label = digit_label(&name, &digit_dir)?;
        for (file_name, file, is_dir) in read_dir_sorted(&digit_dir)? {
            if !is_dir && !ignored(&file_name) && is_bin(&file_name) {
                files.push((label, file_name, file));
            }
        }
    }
    decode_sorted(files, |path: &PathBuf| {
        let bytes = std::fs::read(path).map_err(|e| EventError::io(path, e))?;
        parse_bin(&bytes, path)
    })
}

/// Samples of the entries `<split>/<digit>/*.bin` of the zip at `zip_path` (an optional folder
/// above `<split>` is allowed).
fn read_zip(zip_path: &Path, split: &str) -> Result<Vec<EventSample>, EventError> {
    let zip_error = |e: zip::result::ZipError| match e {
        zip::result::ZipError::Io(e) => EventError::io(zip_path, e),
        other => EventError::malformed(zip_path, "zip archive", other.to_string()),
    };
    let bytes = std::fs::read(zip_path).map_err(|e| EventError::io(zip_path, e))?;
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes.as_slice())).map_err(zip_error)?;
    let mut entries = Vec::new();
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(zip_error)?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        drop(entry);
        let parts: Vec<&str> = name.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
        if parts.iter().any(|p| ignored(p)) {
            continue;
        }
        let [.., split_dir, digit, file] = parts.as_slice() else {
            continue;
        };
        if *split_dir != split || !is_bin(file) {
            continue;
        }
        let label = digit_label(digit, &zip_path.join(&name))?;
        entries.push((label, (*file).to_string(), (index, name.clone())));
    }
    decode_sorted(entries, |(index, name): &(usize, String)| {
        let path = zip_path.join(name);
        // A clone shares the parsed central directory; each worker reads through its own cursor.
        let mut archive = archive.clone();
        let mut file = archive.by_index(*index).map_err(zip_error)?;
        // The declared size is only a hint: bound it by what the compressed data can expand to
        // (deflate: at most ~1032:1) and by 64 MiB; the vector grows if the hint is short.
        let hint = file
            .size()
            .min(file.compressed_size().saturating_mul(1032))
            .min(64 << 20);
        let mut buf = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
        file.read_to_end(&mut buf)
            .map_err(|e| EventError::io(&path, e))?;
        parse_bin(&buf, &path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_nmnist_decodes_fields() {
        let bytes = [33, 0, 0xFF, 0xFF, 0xFF, 1, 33, 0x00, 0x00, 0x00];
        let events = parse_bin(&bytes, Path::new("t.bin")).expect("valid");
        assert_eq!(
            events,
            vec![
                Event {
                    t: 0,
                    x: 1,
                    y: 33,
                    p: 0
                },
                Event {
                    t: 0x7F_FFFF,
                    x: 33,
                    y: 0,
                    p: 1
                }
            ]
        );
    }

    #[test]
    fn events_nmnist_digit_folders() {
        let p = Path::new("x");
        assert_eq!(digit_label("7", p).ok(), Some(7));
        assert!(matches!(
            digit_label("10", p),
            Err(EventError::LabelOutOfRange { label: 10, .. })
        ));
        assert!(matches!(
            digit_label("-1", p),
            Err(EventError::LabelOutOfRange { .. })
        ));
        assert!(matches!(
            digit_label("seven", p),
            Err(EventError::Malformed { .. })
        ));
        assert!(matches!(
            digit_label("07", p),
            Err(EventError::Malformed { .. })
        ));
        assert!(is_bin("00001.bin") && is_bin("A.BIN") && !is_bin(".bin") && !is_bin("x.txt"));
    }

    #[test]
    fn events_nmnist_empty_file_is_empty_sample() {
        assert_eq!(parse_bin(&[], Path::new("e.bin")).expect("empty").len(), 0);
    }
}
