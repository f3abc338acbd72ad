//! DVS128 Gesture: 11 hand and arm gestures of 29 subjects under 3 lighting conditions,
//! recorded by a DVS128 camera.
//!
//! Amir et al. (2017), "A Low Power, Fully Event-Based Gesture Recognition System", CVPR;
//! published at <https://research.ibm.com/interactive/dvsgesture/>. The archive
//! `DvsGesture.tar.gz` extracts to the folder `DvsGesture/` that [`read`] takes.
//!
//! # Layout
//!
//! * `trials_to_train.txt`, `trials_to_test.txt`: one recording file name per line
//!   (`user01_fluorescent.aedat`); blank lines are ignored.
//! * `<name>.aedat`: the recording, in [AEDAT 3.1](super::aedat) with a 128 × 128 × 2 sensor.
//! * `<name>_labels.csv`: the header line `class,startTime_usec,endTime_usec`, then one line
//!   `class,start,end` per gesture, `class` in 1..=11 and the times in microseconds of the
//!   recording's clock.
//!
//! Every labelled window `[start, end)` is one sample (label `class − 1`) holding the events
//! with `start <= t < end`, their timestamps re-based to `t − start`.

use super::{Event, EventError, EventSample, EventSet, Sensor, aedat};
use crate::dataset::Split;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Number of gesture classes.
pub const NUM_CLASSES: usize = 11;

/// The header line of a `_labels.csv` file.
pub const LABELS_HEADER: &str = "class,startTime_usec,endTime_usec";

const DATASET: &str = "DVS128 Gesture";
const LAYOUT: &str = "trials_to_train.txt, trials_to_test.txt and user*_*.aedat with their _labels.csv (the extracted DvsGesture folder)";
const URL: &str = "https://research.ibm.com/interactive/dvsgesture/";

/// The error for a data set not found at `path`, naming the layout expected.
pub(crate) fn missing(path: PathBuf) -> EventError {
    EventError::missing_data(path, DATASET, LAYOUT, URL)
}

/// A labelled window and the 1-based line of the csv it came from.
struct Window {
    label: usize,
    start: u64,
    end: u64,
    line: usize,
}

/// Parses a DVS128 Gesture `_labels.csv` (Amir et al. 2017; format in the
/// [module docs](self)) into `(label, start, end)` windows in line order, `label = class − 1`
/// and the times in microseconds.
///
/// The header line `class,startTime_usec,endTime_usec` is expected first (a file whose first
/// line is already a window is accepted too); blank lines and surrounding spaces are ignored.
/// `path` only names the file in errors.
///
/// # Errors
///
/// [`EventError::LabelOutOfRange`] for a class outside 1..=11 (naming the line);
/// [`EventError::Malformed`] for a line without three integer fields, a window whose end is
/// not after its start, or an unexpected header.
pub fn parse_labels(text: &str, path: &Path) -> Result<Vec<(usize, u64, u64)>, EventError> {
    Ok(parse_windows(text, path)?
        .into_iter()
        .map(|w| (w.label, w.start, w.end))
        .collect())
}

fn parse_windows(text: &str, path: &Path) -> Result<Vec<Window>, EventError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut windows = Vec::new();
    let mut first = true;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let is_first = std::mem::replace(&mut first, false);
        if is_first && fields.first().is_some_and(|f| f.parse::<i64>().is_err()) {
            let header: Vec<&str> = LABELS_HEADER.split(',').collect();
            if fields.len() == header.len()
                && fields
                    .iter()
                    .zip(&header)
                    .all(|(f, h)| f.eq_ignore_ascii_case(h))
            {
                continue;
            }
            return Err(EventError::malformed(
                path,
                format!("line {line_no}"),
                format!("found `{line}`, expected the header `{LABELS_HEADER}`"),
            ));
        }
        let location = || format!("line {line_no}");
        let &[class, start, end] = fields.as_slice() else {
            return Err(EventError::malformed(
                path,
                location(),
                format!("found `{line}`, expected three fields `class,start,end`"),
            ));
        };
        let class: i64 = class.parse().map_err(|_| {
            EventError::malformed(
                path,
                location(),
                format!("class `{class}` is not an integer"),
            )
        })?;
        if !(1..=NUM_CLASSES as i64).contains(&class) {
            return Err(EventError::LabelOutOfRange {
                path: path.to_path_buf(),
                location: format!("line {line_no} (class {class}; labels are class - 1)"),
                label: class.saturating_sub(1),
                classes: NUM_CLASSES,
            });
        }
        let time = |field: &str, name: &str| {
            field.parse::<u64>().map_err(|_| {
                EventError::malformed(
                    path,
                    location(),
                    format!("{name} `{field}` is not a time in microseconds (an integer >= 0)"),
                )
            })
        };
        let (start, end) = (time(start, "start")?, time(end, "end")?);
        if end <= start {
            return Err(EventError::malformed(
                path,
                location(),
                format!("window ends at {end} us, not after its start at {start} us"),
            ));
        }
        // 1 <= class <= NUM_CLASSES.
        windows.push(Window {
            label: (class - 1) as usize,
            start,
            end,
            line: line_no,
        });
    }
    Ok(windows)
}

/// Reads one split of DVS128 Gesture (Amir et al. 2017,
/// <https://research.ibm.com/interactive/dvsgesture/>) from the extracted `DvsGesture`
/// folder `dir` (layout in the [module docs](self)).
///
/// The recordings listed in `trials_to_train.txt` (or `trials_to_test.txt`) are decoded in
/// parallel with [`aedat::parse`]; each window of their `_labels.csv` becomes one sample with
/// its events re-based to the window's start and sorted by time. Samples are in list order,
/// then csv line order. The set has the [`Sensor::DVS128`] sensor and 11 classes.
///
/// # Errors
///
/// [`EventError::MissingData`] when `dir`, the list file, or a listed recording or its labels
/// is missing; [`EventError::Malformed`] for a list line that is not a file name in `dir`, an
/// empty list or labels file, or a window holding no event (naming the csv line); the errors
/// of [`parse_labels`] and [`aedat::parse`]; [`EventError::Io`] when a file cannot be read.
/// When several recordings fail, the error of the first in list order is returned.
pub fn read(dir: &Path, split: Split) -> Result<EventSet, EventError> {
    if !dir.is_dir() {
        return Err(missing(dir.to_path_buf()));
    }
    let list_path = dir.join(match split {
        Split::Train => "trials_to_train.txt",
        Split::Test => "trials_to_test.txt",
    });
    let list = read_text(&list_path)?;
    let mut recordings = Vec::new();
    for (i, raw) in list.lines().enumerate() {
        let name = raw.trim();
        if name.is_empty() {
            continue;
        }
        if name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(EventError::malformed(
                &list_path,
                format!("line {}", i + 1),
                format!("`{name}` is not a recording file name in the data set folder"),
            ));
        }
        let stem = name.strip_suffix(".aedat").unwrap_or(name);
        recordings.push((
            dir.join(format!("{stem}.aedat")),
            dir.join(format!("{stem}_labels.csv")),
        ));
    }
    if recordings.is_empty() {
        return Err(EventError::malformed(
            &list_path,
            "line 1",
            "the list names no recording",
        ));
    }
    let results: Vec<Result<Vec<EventSample>, EventError>> = recordings
        .par_iter()
        .map(|(aedat_path, labels_path)| read_recording(aedat_path, labels_path))
        .collect();
    let mut samples = Vec::new();
    for result in results {
        samples.extend(result?);
    }
    Ok(EventSet {
        sensor: Sensor::DVS128,
        num_classes: NUM_CLASSES,
        samples,
    })
}

/// Reads a text file; a missing file is [`EventError::MissingData`].
fn read_text(path: &Path) -> Result<String, EventError> {
    let bytes = read_bytes(path)?;
    String::from_utf8(bytes).map_err(|e| {
        EventError::malformed(
            path,
            format!("byte {}", e.utf8_error().valid_up_to()),
            "the text is not valid UTF-8",
        )
    })
}

/// Reads a file; a missing file is [`EventError::MissingData`].
fn read_bytes(path: &Path) -> Result<Vec<u8>, EventError> {
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => missing(path.to_path_buf()),
        _ => EventError::io(path, e),
    })
}

/// The samples of one recording: its labelled windows, in csv line order.
fn read_recording(aedat_path: &Path, labels_path: &Path) -> Result<Vec<EventSample>, EventError> {
    let windows = parse_windows(&read_text(labels_path)?, labels_path)?;
    if windows.is_empty() {
        return Err(EventError::malformed(
            labels_path,
            "line 1",
            "the file labels no window",
        ));
    }
    let mut events = aedat::parse(&read_bytes(aedat_path)?, aedat_path, Sensor::DVS128)?;
    if !events.is_sorted_by_key(|e| e.t) {
        events.sort_by_key(|e| e.t);
    }
    windows
        .iter()
        .map(|w| {
            let from = events.partition_point(|e| e.t < w.start);
            let to = events.partition_point(|e| e.t < w.end);
            let inside = events.get(from..to).unwrap_or_default();
            if inside.is_empty() {
                return Err(EventError::malformed(
                    labels_path,
                    format!("line {}", w.line),
                    format!(
                        "the window [{}, {}) us holds no event of {}",
                        w.start,
                        w.end,
                        aedat_path.display()
                    ),
                ));
            }
            let events = inside
                .iter()
                .map(|e| Event {
                    t: e.t - w.start,
                    ..*e
                })
                .collect();
            Ok(EventSample {
                events,
                label: w.label,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_gesture_labels() {
        let p = Path::new("l.csv");
        let text = "class,startTime_usec,endTime_usec\r\n1,10,20\r\n\r\n11, 30 ,40\r\n";
        assert_eq!(
            parse_labels(text, p).expect("valid"),
            vec![(0, 10, 20), (10, 30, 40)]
        );
        assert_eq!(parse_labels("", p).expect("empty"), vec![]);
        assert_eq!(
            parse_labels("3,1,2", p).expect("no header"),
            vec![(2, 1, 2)]
        );
    }

    #[test]
    fn events_gesture_label_errors() {
        let p = Path::new("l.csv");
        let bad = |text: &str| parse_labels(text, p).expect_err(text);
        assert!(matches!(bad("a,b,c\n1,1,2"), EventError::Malformed { .. }));
        assert!(matches!(bad("1,1"), EventError::Malformed { .. }));
        assert!(matches!(bad("1,1,2,3"), EventError::Malformed { .. }));
        assert!(matches!(bad("1,-1,2"), EventError::Malformed { .. }));
        assert!(matches!(bad("1,5,5"), EventError::Malformed { .. }));
        assert!(matches!(bad("x\n1,5,6"), EventError::Malformed { .. }));
        assert!(matches!(bad("1,1,2\nx,1,2"), EventError::Malformed { .. }));
        match bad("1,1,2\n12,3,4") {
            EventError::LabelOutOfRange {
                location,
                label: 11,
                classes: 11,
                ..
            } => {
                assert!(location.starts_with("line 2"), "{location}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            bad("0,3,4"),
            EventError::LabelOutOfRange { label: -1, .. }
        ));
    }
}
