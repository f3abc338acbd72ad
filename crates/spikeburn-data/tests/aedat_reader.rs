//! The AEDAT 3.1 and DVS128 Gesture readers on recordings written here from the format
//! specifications (independently of the readers), well-formed and hostile.

mod common;
use common::*;

// ---------------------------------------------------------------------------------------------
// AEDAT 3.1

#[test]
fn aedat_multi_packet_file() {
    let invalid = Pol {
        valid: false,
        ..pol(5, 5, true, 25)
    };
    let garbage_invalid = Pol {
        valid: false,
        ..pol(0x3FFF, 0x7FFF, true, 26)
    };
    let bytes = aedat_file(&[
        polarity_packet(0, &[pol(127, 0, true, 10), pol(0, 127, false, 20), invalid]),
        other_packet(0, 8, 2),  // special events
        other_packet(2, 12, 3), // another type with another event size
        polarity_packet(0, &[]),
        polarity_packet(0, &[garbage_invalid, pol(64, 32, false, 30)]),
        other_packet(7, 0, 1_000_000), // zero-byte events take no room
    ]);
    let events = aedat::parse(&bytes, Path::new("m.aedat"), Sensor::DVS128).expect("valid");
    assert_eq!(
        events,
        vec![
            dvs(127, 0, true, 10),
            dvs(0, 127, false, 20),
            dvs(64, 32, false, 30)
        ]
    );
}

#[test]
fn aedat_timestamp_overflow() {
    let bytes = aedat_file(&[
        polarity_packet(0, &[pol(1, 1, true, 0x7FFF_FFFF)]),
        polarity_packet(1, &[pol(2, 2, false, 0), pol(3, 3, true, 0x7FFF_FFFF)]),
        polarity_packet(5, &[pol(4, 4, true, 7)]),
    ]);
    let events = aedat::parse(&bytes, Path::new("o.aedat"), Sensor::DVS128).expect("valid");
    assert_eq!(
        events,
        vec![
            dvs(1, 1, true, 0x7FFF_FFFF),
            dvs(2, 2, false, 1 << 31),
            dvs(3, 3, true, (1 << 31) | 0x7FFF_FFFF),
            dvs(4, 4, true, (5 << 31) | 7),
        ]
    );
}

#[test]
fn aedat_accepts_unix_line_endings_and_wide_events() {
    let mut bytes = b"#!AER-DAT3.1\n# comment\n#!END-HEADER\n".to_vec();
    // A polarity packet with 12-byte events (4 bytes of padding after the timestamp).
    bytes.extend(packet_header(1, 12, 4, 0, 1));
    bytes.extend((1u32 | 1 << 1 | 9 << 2 | 8 << 17).to_le_bytes());
    bytes.extend(77u32.to_le_bytes());
    bytes.extend([0xFF; 4]);
    let events = aedat::parse(&bytes, Path::new("w.aedat"), Sensor::DVS128).expect("valid");
    assert_eq!(events, vec![dvs(8, 9, true, 77)]);
}

#[test]
fn aedat_truncated_packet() {
    let first = polarity_packet(0, &[pol(1, 1, true, 1)]);
    let mut second = polarity_packet(0, &[pol(2, 2, true, 2), pol(3, 3, true, 3)]);
    second.truncate(second.len() - 3);
    let bytes = aedat_file(&[first.clone(), second]);
    let second_at = (AEDAT_HEADER.len() + first.len()) as u64;
    match aedat::parse(&bytes, Path::new("t.aedat"), Sensor::DVS128) {
        Err(EventError::Truncated {
            offset,
            needed,
            available,
            ..
        }) => {
            assert_eq!(offset, second_at);
            assert_eq!(needed, 28 + 16);
            assert_eq!(available, 28 + 13);
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    // A packet of another type that claims more than the file holds.
    let mut other = other_packet(3, 16, 4);
    other.truncate(40);
    let bytes = aedat_file(&[other]);
    assert!(matches!(
        aedat::parse(&bytes, Path::new("t.aedat"), Sensor::DVS128),
        Err(EventError::Truncated { .. })
    ));
    // A huge event count: an error, not an allocation.
    let bytes = aedat_file(&[packet_header(1, 8, 4, 0, i32::MAX)]);
    assert!(matches!(
        aedat::parse(&bytes, Path::new("t.aedat"), Sensor::DVS128),
        Err(EventError::Truncated { .. })
    ));
    // A partial packet header.
    let mut bytes = aedat_file(&[first]);
    bytes.extend([1, 0, 0, 0, 8]);
    assert!(matches!(
        aedat::parse(&bytes, Path::new("t.aedat"), Sensor::DVS128),
        Err(EventError::Truncated {
            needed: 28,
            available: 5,
            ..
        })
    ));
}

#[test]
fn aedat_wrong_magic() {
    let mut bytes = b"#!AER-DAT2.0\r\n#!END-HEADER\r\n".to_vec();
    bytes.extend(polarity_packet(0, &[pol(1, 1, true, 1)]));
    match aedat::parse(&bytes, Path::new("v2.aedat"), Sensor::DVS128) {
        Err(EventError::Malformed {
            location, reason, ..
        }) => {
            assert_eq!(location, "byte 0");
            assert!(reason.contains("#!AER-DAT2.0"), "{reason}");
            assert!(reason.contains("#!AER-DAT3.1"), "{reason}");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
    let no_end = b"#!AER-DAT3.1\r\n#comment\r\n".to_vec();
    assert!(matches!(
        aedat::parse(&no_end, Path::new("h.aedat"), Sensor::DVS128),
        Err(EventError::Malformed { .. })
    ));
}

#[test]
fn aedat_address_outside_sensor() {
    let first = polarity_packet(0, &[pol(1, 1, true, 1)]);
    let bytes = aedat_file(&[
        first.clone(),
        polarity_packet(0, &[pol(2, 2, true, 2), pol(128, 3, false, 3)]),
    ]);
    let event_at = AEDAT_HEADER.len() + first.len() + 28 + 8;
    match aedat::parse(&bytes, Path::new("s.aedat"), Sensor::DVS128) {
        Err(EventError::OutsideSensor {
            location,
            x: 128,
            y: 3,
            p: 0,
            sensor,
            ..
        }) => {
            assert_eq!(location, format!("byte {event_at}"));
            assert_eq!(sensor, Sensor::DVS128);
        }
        other => panic!("expected OutsideSensor, got {other:?}"),
    }
    // The same event is on a larger sensor.
    let big = Sensor {
        width: 346,
        height: 260,
        polarities: 2,
    };
    assert_eq!(
        aedat::parse(&bytes, Path::new("s.aedat"), big)
            .expect("valid")
            .len(),
        3
    );
}

#[test]
fn aedat_malformed_packet_fields() {
    for (header, what) in [
        (packet_header(1, 4, 4, 0, 1), "eventSize 4 for polarity"),
        (packet_header(1, 8, 4, 0, -1), "negative eventNumber"),
        (packet_header(2, -8, 4, 0, 1), "negative eventSize"),
        (packet_header(1, 8, 4, -1, 0), "negative eventTSOverflow"),
        (packet_header(1, 8, 6, 0, 0), "timestamp past the event"),
    ] {
        let mut bytes = aedat_file(&[header]);
        bytes.extend([0; 64]);
        assert!(
            matches!(
                aedat::parse(&bytes, Path::new("f.aedat"), Sensor::DVS128),
                Err(EventError::Malformed { .. })
            ),
            "{what}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// DVS128 Gesture

const LABELS: &str = "class,startTime_usec,endTime_usec\r\n";

/// The extracted folder: two training recordings (listed user02 first) and one test recording.
fn gesture_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        &d.join("trials_to_train.txt"),
        b"user02_led.aedat\n\nuser01_fluorescent.aedat\n",
    );
    write(&d.join("trials_to_test.txt"), b"user03_natural.aedat\r\n");
    write(
        &d.join("user02_led.aedat"),
        &aedat_file(&[
            polarity_packet(
                0,
                &[
                    pol(1, 1, true, 100),
                    pol(2, 2, false, 150),
                    pol(3, 3, true, 200),
                ],
            ),
            polarity_packet(
                0,
                &[
                    pol(4, 4, true, 250),
                    pol(5, 5, false, 300),
                    Pol {
                        valid: false,
                        ..pol(6, 6, true, 320)
                    },
                ],
            ),
            other_packet(0, 8, 1),
            polarity_packet(0, &[pol(127, 127, true, 400), pol(7, 7, true, 500)]),
        ]),
    );
    write(
        &d.join("user02_led_labels.csv"),
        format!("{LABELS}3,120,260\r\n11,300,401\r\n\r\n1,100,150\r\n").as_bytes(),
    );
    let ov = 1i64 << 31;
    write(
        &d.join("user01_fluorescent.aedat"),
        &aedat_file(&[
            polarity_packet(0, &[pol(10, 20, true, 0x7FFF_FFF0)]),
            polarity_packet(1, &[pol(30, 40, false, 5), pol(50, 60, true, 15)]),
        ]),
    );
    write(
        &d.join("user01_fluorescent_labels.csv"),
        format!("{LABELS}5,{},{}\n", ov - 0x10, ov + 10).as_bytes(),
    );
    write(
        &d.join("user03_natural.aedat"),
        &aedat_file(&[polarity_packet(0, &[pol(9, 9, true, 9)])]),
    );
    write(
        &d.join("user03_natural_labels.csv"),
        format!("{LABELS}2,0,10\n").as_bytes(),
    );
    dir
}

#[test]
fn gesture_reads_windows_in_list_and_line_order() {
    let dir = gesture_dir();
    let train = dvs_gesture::read(dir.path(), Split::Train).expect("train");
    assert_eq!(train.sensor, Sensor::DVS128);
    assert_eq!(train.num_classes, 11);
    let expected = vec![
        // user02, line 2: [120, 260) straddles the first two packets.
        EventSample {
            events: vec![
                dvs(2, 2, false, 30),
                dvs(3, 3, true, 80),
                dvs(4, 4, true, 130),
            ],
            label: 2,
        },
        // line 3: [300, 401) skips the invalid event and the special-event packet.
        EventSample {
            events: vec![dvs(5, 5, false, 0), dvs(127, 127, true, 100)],
            label: 10,
        },
        // line 5: [100, 150): start included, end excluded.
        EventSample {
            events: vec![dvs(1, 1, true, 0)],
            label: 0,
        },
        // user01: a window across a timestamp overflow.
        EventSample {
            events: vec![dvs(10, 20, true, 0), dvs(30, 40, false, 0x15)],
            label: 4,
        },
    ];
    assert_eq!(train.samples, expected);
    let test = dvs_gesture::read(dir.path(), Split::Test).expect("test");
    assert_eq!(
        test.samples,
        vec![EventSample {
            events: vec![dvs(9, 9, true, 9)],
            label: 1
        }]
    );
}

#[test]
fn gesture_parse_labels() {
    let text = format!("{LABELS}1,0,5\r\n11,10,20\r\n");
    let labels = dvs_gesture::parse_labels(&text, Path::new("l.csv")).expect("valid");
    assert_eq!(labels, vec![(0, 0, 5), (10, 10, 20)]);
}

#[test]
fn gesture_label_out_of_range() {
    for (class, label) in [(12, 11), (0, -1)] {
        let text = format!("{LABELS}1,0,5\n{class},10,20\n");
        match dvs_gesture::parse_labels(&text, Path::new("l.csv")) {
            Err(EventError::LabelOutOfRange {
                location,
                label: l,
                classes: 11,
                ..
            }) => {
                assert!(location.starts_with("line 3"), "{location}");
                assert_eq!(l, label);
            }
            other => panic!("expected LabelOutOfRange for class {class}, got {other:?}"),
        }
        // And through the reader, naming the csv.
        let dir = gesture_dir();
        let csv = write(
            &dir.path().join("user03_natural_labels.csv"),
            text.as_bytes(),
        );
        match dvs_gesture::read(dir.path(), Split::Test) {
            Err(EventError::LabelOutOfRange { path, .. }) => assert_eq!(path, csv),
            other => panic!("expected LabelOutOfRange, got {other:?}"),
        }
    }
}

#[test]
fn gesture_window_without_events() {
    let dir = gesture_dir();
    let csv = write(
        &dir.path().join("user02_led_labels.csv"),
        format!("{LABELS}3,120,260\n4,320,400\n").as_bytes(),
    );
    match dvs_gesture::read(dir.path(), Split::Train) {
        Err(EventError::Malformed { path, location, .. }) => {
            assert_eq!(path, csv);
            assert_eq!(location, "line 3");
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn gesture_window_end_not_after_start() {
    for window in ["3,260,120", "3,120,120"] {
        let text = format!("{LABELS}{window}\n");
        assert!(
            matches!(
                dvs_gesture::parse_labels(&text, Path::new("l.csv")),
                Err(EventError::Malformed { ref location, .. }) if location == "line 2"
            ),
            "{window}"
        );
    }
}

#[test]
fn gesture_missing_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let absent = dir.path().join("DvsGesture");
    let (path, dataset, _, url) = missing_data(dvs_gesture::read(&absent, Split::Train));
    assert_eq!(path, absent);
    assert_eq!(dataset, "DVS128 Gesture");
    assert_eq!(url, "https://research.ibm.com/interactive/dvsgesture/");
    // The folder without its list file.
    let (path, ..) = missing_data(dvs_gesture::read(dir.path(), Split::Test));
    assert_eq!(path, dir.path().join("trials_to_test.txt"));
    // A listed recording that is absent.
    let full = gesture_dir();
    std::fs::remove_file(full.path().join("user01_fluorescent.aedat")).expect("remove");
    let (path, ..) = missing_data(dvs_gesture::read(full.path(), Split::Train));
    assert_eq!(path, full.path().join("user01_fluorescent.aedat"));
}

#[test]
fn gesture_corrupt_recording() {
    let dir = gesture_dir();
    let aedat_path = dir.path().join("user03_natural.aedat");
    let mut bytes = aedat_file(&[polarity_packet(
        0,
        &[pol(9, 9, true, 9), pol(9, 9, true, 10)],
    )]);
    bytes.truncate(bytes.len() - 1);
    write(&aedat_path, &bytes);
    match dvs_gesture::read(dir.path(), Split::Test) {
        Err(EventError::Truncated { path, .. }) => assert_eq!(path, aedat_path),
        other => panic!("expected Truncated, got {other:?}"),
    }
    write(&aedat_path, b"#!AER-DAT2.0\r\n");
    assert!(matches!(
        dvs_gesture::read(dir.path(), Split::Test),
        Err(EventError::Malformed { .. })
    ));
}

/// The whole path of `dvsgesture-conv`'s data: AEDAT windows → 4 × 4 downsampling → frames of
/// equal event count → time-major batches, and the seeded augmentation on top.
#[test]
fn gesture_windows_become_the_batches_the_preset_trains_on() {
    use spikeburn_data::events::{EventTransform, EventsConfig, ToFrame};
    use spikeburn_data::{Dataset, DatasetKind};
    let dir = gesture_dir();
    let config = EventsConfig {
        frames: ToFrame::EventBins { bins: 2 },
        transforms: vec![EventTransform::Downsample { fx: 4, fy: 4 }],
        cache: false,
        ..EventsConfig::default()
    };
    let (set, report) = spikeburn_data::events::load(
        DatasetKind::DvsGesture,
        dir.path(),
        Split::Train,
        &config,
        None,
    )
    .expect("loads");
    assert!(!report.cache_hit);
    assert_eq!(Dataset::len(&set), 4);
    assert_eq!(
        set.sensor(),
        Sensor {
            width: 32,
            height: 32,
            polarities: 2
        }
    );
    let device = burn::prelude::Device::flex();
    let batch = set.batch(&[0, 3], &device);
    let spikeburn_core::ModelInput::Sequence(x) = batch.input else {
        panic!("event batches are sequences")
    };
    assert_eq!(x.dims(), [2, 2, 2 * 32 * 32]);
    let v = x
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32");
    // Sample 0 (user02 line 2): events (2,2,OFF), (3,3,ON), (4,4,ON) → pixels (0,0), (0,0),
    // (1,1); two event bins: ⌊2·i/3⌋ = 0, 0, 1. In [T, B, p·32·32 + y·32 + x]:
    let at = |t: usize, b: usize, p: usize, y: usize, xx: usize| {
        v[(t * 2 + b) * 2048 + p * 1024 + y * 32 + xx]
    };
    assert_eq!(at(0, 0, 0, 0, 0), 1.0);
    assert_eq!(at(0, 0, 1, 0, 0), 1.0);
    assert_eq!(at(1, 0, 1, 1, 1), 1.0);
    // Sample 3 (user01, across the overflow): (10,20,ON) → (2,5), (30,40,OFF) → (7,10).
    assert_eq!(at(0, 1, 1, 5, 2), 1.0);
    assert_eq!(at(1, 1, 0, 10, 7), 1.0);
    assert_eq!(
        v.iter().sum::<f32>(),
        5.0,
        "every event in exactly one frame"
    );
}
