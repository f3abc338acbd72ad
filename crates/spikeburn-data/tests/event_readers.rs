//! The N-MNIST, AEDAT 3.1 and DVS128 Gesture readers on files written here from the format
//! specifications (independently of the readers), well-formed and hostile.

use spikeburn_data::Split;
use spikeburn_data::events::{
    Event, EventError, EventSample, EventSet, Sensor, aedat, dvs_gesture, nmnist,
};
use std::io::Write;
use std::path::{Path, PathBuf};

#[path = "../../../tests/support/mutate.rs"]
mod mutate;
use mutate::survive_mutations;

// ---------------------------------------------------------------------------------------------
// Writers, from the specifications.

/// An N-MNIST event: x, y, ON polarity, 23-bit timestamp (µs).
#[derive(Clone, Copy)]
struct Nm(u8, u8, bool, u32);

/// N-MNIST `.bin` bytes (Orchard et al. 2015): per event x, y, then the 23-bit big-endian
/// timestamp with the polarity in the top bit of its first byte.
fn nmnist_bytes(events: &[Nm]) -> Vec<u8> {
    let mut out = Vec::new();
    for &Nm(x, y, on, t) in events {
        assert!(t < 1 << 23, "the writer takes 23-bit timestamps");
        let ts = t.to_be_bytes(); // [0, bits 22-16, bits 15-8, bits 7-0]
        out.extend([x, y, ts[1] | if on { 0x80 } else { 0 }, ts[2], ts[3]]);
    }
    out
}

fn nm_event(e: Nm) -> Event {
    Event {
        t: u64::from(e.3),
        x: u16::from(e.0),
        y: u16::from(e.1),
        p: u8::from(e.2),
    }
}

/// An AEDAT 3.1 polarity event: x, y, ON polarity, 31-bit timestamp, valid bit.
#[derive(Clone, Copy)]
struct Pol {
    x: u32,
    y: u32,
    on: bool,
    ts: u32,
    valid: bool,
}

fn pol(x: u32, y: u32, on: bool, ts: u32) -> Pol {
    Pol {
        x,
        y,
        on,
        ts,
        valid: true,
    }
}

const AEDAT_HEADER: &str = "#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#Start-Time: 2017-01-01 00:00:00\r\n#!END-HEADER\r\n";

/// A 28-byte little-endian AEDAT 3.1 packet header.
fn packet_header(kind: i16, size: i32, ts_offset: i32, overflow: i32, number: i32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(kind.to_le_bytes());
    out.extend(1i16.to_le_bytes()); // eventSource
    for v in [
        size, ts_offset, overflow, number, /* capacity */
        number, number, /* valid */
    ] {
        out.extend(v.to_le_bytes());
    }
    out
}

/// A polarity packet (eventType 1, 8-byte events: data word, then timestamp).
fn polarity_packet(overflow: i32, events: &[Pol]) -> Vec<u8> {
    let mut out = packet_header(1, 8, 4, overflow, events.len() as i32);
    for e in events {
        let data = u32::from(e.valid) | (u32::from(e.on) << 1) | (e.y << 2) | (e.x << 17);
        out.extend(data.to_le_bytes());
        out.extend(e.ts.to_le_bytes());
    }
    out
}

/// A packet of another event type: `number` events of `size` bytes of filler.
fn other_packet(kind: i16, size: i32, number: i32) -> Vec<u8> {
    let mut out = packet_header(kind, size, 4, 0, number);
    out.extend((0..size * number).map(|i| (i % 251) as u8 | 1));
    out
}

fn aedat_file(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = AEDAT_HEADER.as_bytes().to_vec();
    for p in packets {
        out.extend(p);
    }
    out
}

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create test folder");
    }
    std::fs::write(path, bytes).expect("write test file");
    path.to_path_buf()
}

// ---------------------------------------------------------------------------------------------
// N-MNIST

#[test]
fn nmnist_decodes_event_for_event() {
    let written = [
        Nm(0, 0, false, 0),
        Nm(33, 5, true, 1),
        Nm(12, 33, false, 0x1_0000),
        Nm(7, 8, true, 0x12_3456),
        Nm(33, 33, true, 0x7F_FFFF),
    ];
    let events = nmnist::parse_bin(&nmnist_bytes(&written), Path::new("a.bin")).expect("valid");
    assert_eq!(events, written.map(nm_event).to_vec());
    assert!(events.iter().all(|e| Sensor::NMNIST.contains(e)));
}

#[test]
fn nmnist_sorts_events_by_time() {
    let written = [Nm(1, 1, true, 50), Nm(2, 2, false, 30), Nm(3, 3, true, 40)];
    let events = nmnist::parse_bin(&nmnist_bytes(&written), Path::new("a.bin")).expect("valid");
    let times: Vec<u64> = events.iter().map(|e| e.t).collect();
    assert_eq!(times, [30, 40, 50]);
    assert_eq!(events[0], nm_event(written[1]));
}

#[test]
fn nmnist_truncated_bin() {
    let mut bytes = nmnist_bytes(&[Nm(1, 2, true, 3), Nm(4, 5, false, 6)]);
    bytes.extend([1, 2, 3]);
    match nmnist::parse_bin(&bytes, Path::new("short.bin")) {
        Err(EventError::Truncated {
            path,
            offset: 10,
            needed: 5,
            available: 3,
            ..
        }) => {
            assert_eq!(path, Path::new("short.bin"))
        }
        other => panic!("expected Truncated at byte 10, got {other:?}"),
    }
}

#[test]
fn nmnist_address_outside_sensor() {
    let x34 = nmnist_bytes(&[Nm(1, 1, true, 1), Nm(34, 0, true, 2)]);
    match nmnist::parse_bin(&x34, Path::new("x.bin")) {
        Err(EventError::OutsideSensor {
            location,
            x: 34,
            y: 0,
            ..
        }) => {
            assert_eq!(location, "byte 5")
        }
        other => panic!("expected OutsideSensor, got {other:?}"),
    }
    let y255 = nmnist_bytes(&[Nm(1, 1, true, 1), Nm(2, 2, true, 2), Nm(0, 255, false, 3)]);
    match nmnist::parse_bin(&y255, Path::new("y.bin")) {
        Err(EventError::OutsideSensor {
            location,
            x: 0,
            y: 255,
            ..
        }) => {
            assert_eq!(location, "byte 10")
        }
        other => panic!("expected OutsideSensor, got {other:?}"),
    }
}

/// The N-MNIST test set: (digit, file name, events), in the order the reader must return.
fn nmnist_files() -> Vec<(usize, &'static str, Vec<Nm>)> {
    vec![
        (
            0,
            "00001.bin",
            vec![Nm(0, 0, true, 5), Nm(33, 33, false, 0x7F_FFFF)],
        ),
        (0, "00002.bin", vec![Nm(10, 11, false, 7)]),
        (
            3,
            "00003.bin",
            vec![Nm(1, 2, true, 1), Nm(2, 1, true, 2), Nm(3, 3, false, 3)],
        ),
        (3, "10000.bin", vec![]),
        (9, "00004.bin", vec![Nm(20, 30, true, 100)]),
    ]
}

fn expected_samples(files: &[(usize, &str, Vec<Nm>)]) -> Vec<EventSample> {
    files
        .iter()
        .map(|(label, _, events)| EventSample {
            events: events.iter().copied().map(nm_event).collect(),
            label: *label,
        })
        .collect()
}

#[test]
fn nmnist_reads_folder_in_sorted_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Written in reverse so that the file system's order is not the expected order.
    for (digit, name, events) in nmnist_files().iter().rev() {
        write(
            &dir.path().join(format!("Train/{digit}/{name}")),
            &nmnist_bytes(events),
        );
    }
    write(&dir.path().join("Train/3/notes.txt"), b"not events");
    write(&dir.path().join("Train/.DS_Store"), b"junk");
    write(
        &dir.path().join("Test/5/00001.bin"),
        &nmnist_bytes(&[Nm(4, 4, true, 4)]),
    );

    let train = nmnist::read(dir.path(), Split::Train).expect("train");
    assert_eq!(train.sensor, Sensor::NMNIST);
    assert_eq!(train.num_classes, 10);
    assert_eq!(train.samples, expected_samples(&nmnist_files()));

    let test = nmnist::read(dir.path(), Split::Test).expect("test");
    assert_eq!(
        test.samples,
        vec![EventSample {
            events: vec![nm_event(Nm(4, 4, true, 4))],
            label: 5
        }]
    );
}

fn write_zip(path: &Path, split: &str, files: &[(usize, &str, Vec<Nm>)]) {
    let file = std::fs::File::create(path).expect("create zip");
    let mut zip = zip::ZipWriter::new(file);
    let deflated =
        zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let stored =
        zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.add_directory(format!("{split}/"), stored)
        .expect("zip dir");
    // Reverse order, alternating compression, one folder entry per digit.
    for (i, (digit, name, events)) in files.iter().rev().enumerate() {
        if i % 2 == 0 {
            zip.add_directory(format!("{split}/{digit}/"), stored)
                .expect("zip dir");
        }
        let options = if i % 2 == 0 { deflated } else { stored };
        zip.start_file(format!("{split}/{digit}/{name}"), options)
            .expect("zip entry");
        zip.write_all(&nmnist_bytes(events)).expect("zip write");
    }
    zip.start_file("__MACOSX/Train/0/._00001.bin", stored)
        .expect("zip entry");
    zip.write_all(b"resource fork").expect("zip write");
    zip.finish().expect("zip finish");
}

#[test]
fn nmnist_reads_zip_and_prefers_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_zip(&dir.path().join("Train.zip"), "Train", &nmnist_files());
    let from_zip = nmnist::read(dir.path(), Split::Train).expect("zip");
    assert_eq!(from_zip.samples, expected_samples(&nmnist_files()));
    assert_eq!(from_zip.num_classes, 10);
    // Test.zip is absent.
    assert!(matches!(
        nmnist::read(dir.path(), Split::Test),
        Err(EventError::MissingData {
            dataset: "N-MNIST",
            ..
        })
    ));

    // With the folder extracted next to the zip, the folder is read.
    let folder = [(7, "00001.bin", vec![Nm(9, 9, false, 9)])];
    write(
        &dir.path().join("Train/7/00001.bin"),
        &nmnist_bytes(&folder[0].2),
    );
    let from_folder = nmnist::read(dir.path(), Split::Train).expect("folder");
    assert_eq!(from_folder.samples, expected_samples(&folder));
}

#[test]
fn nmnist_corrupt_file_in_zip_names_the_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let zip_path = dir.path().join("Test.zip");
    let file = std::fs::File::create(&zip_path).expect("create zip");
    let mut zip = zip::ZipWriter::new(file);
    zip.start_file("Test/2/00001.bin", zip::write::FileOptions::default())
        .expect("entry");
    zip.write_all(&[1, 2, 3, 4, 5, 6]).expect("write");
    zip.finish().expect("finish");
    match nmnist::read(dir.path(), Split::Test) {
        Err(EventError::Truncated {
            path, offset: 5, ..
        }) => {
            assert!(
                path.ends_with("Test.zip/Test/2/00001.bin"),
                "{}",
                path.display()
            )
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
}

/// The fields `(path, dataset, layout, url)` of the `MissingData` error a reader returned;
/// panics on any other outcome.
fn missing_data(
    read: Result<EventSet, EventError>,
) -> (PathBuf, &'static str, &'static str, &'static str) {
    match read {
        Err(EventError::MissingData {
            path,
            dataset,
            layout,
            url,
        }) => (path, dataset, layout, url),
        other => panic!("expected MissingData, got {other:?}"),
    }
}

#[test]
fn nmnist_missing_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let absent = dir.path().join("no-such-dir");
    let (path, dataset, layout, url) = missing_data(nmnist::read(&absent, Split::Train));
    assert_eq!(path, absent);
    assert_eq!(dataset, "N-MNIST");
    assert!(layout.contains("Train.zip"), "{layout}");
    assert_eq!(url, "https://www.garrickorchard.com/datasets/n-mnist");
    // The folder exists but holds neither Test/ nor Test.zip.
    missing_data(nmnist::read(dir.path(), Split::Test));
    // Test/ exists but holds no event file.
    std::fs::create_dir_all(dir.path().join("Test/4")).expect("mkdir");
    missing_data(nmnist::read(dir.path(), Split::Test));
}

#[test]
fn nmnist_bad_digit_folders() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        &dir.path().join("Train/1/00001.bin"),
        &nmnist_bytes(&[Nm(1, 1, true, 1)]),
    );
    write(
        &dir.path().join("Train/12/00001.bin"),
        &nmnist_bytes(&[Nm(1, 1, true, 1)]),
    );
    match nmnist::read(dir.path(), Split::Train) {
        Err(EventError::LabelOutOfRange {
            label: 12,
            classes: 10,
            path,
            ..
        }) => {
            assert!(path.ends_with("Train/12"), "{}", path.display())
        }
        other => panic!("expected LabelOutOfRange, got {other:?}"),
    }
    write(
        &dir.path().join("Test/seven/00001.bin"),
        &nmnist_bytes(&[Nm(1, 1, true, 1)]),
    );
    match nmnist::read(dir.path(), Split::Test) {
        Err(EventError::Malformed { location, .. }) => assert!(location.contains("seven")),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn nmnist_corrupt_file_in_folder_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        &dir.path().join("Train/1/00001.bin"),
        &nmnist_bytes(&[Nm(1, 1, true, 1)]),
    );
    let bad = write(&dir.path().join("Train/2/00009.bin"), &[0; 9]);
    match nmnist::read(dir.path(), Split::Train) {
        Err(EventError::Truncated {
            path,
            offset: 5,
            needed: 5,
            available: 4,
            ..
        }) => {
            assert_eq!(path, bad)
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// AEDAT 3.1

fn dvs(x: u32, y: u32, on: bool, t: u64) -> Event {
    Event {
        t,
        x: x as u16,
        y: y as u16,
        p: u8::from(on),
    }
}

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

// ---------------------------------------------------------------------------------------------
// Mutated files: a value or a typed error, never a panic or an abort.

#[test]
fn mutated_event_files_end_in_a_value_or_an_error() {
    let nm: Vec<Nm> = (0..40u32)
        .map(|i| Nm((i % 34) as u8, (i * 7 % 34) as u8, i % 3 == 0, i * 1000))
        .collect();
    survive_mutations("N-MNIST", &nmnist_bytes(&nm), 3000, |b| {
        nmnist::parse_bin(b, Path::new("m.bin")).is_ok()
    });
    let events: Vec<Pol> = (0..30)
        .map(|i| pol(i * 4 % 128, i * 3 % 128, i % 2 == 0, i * 10))
        .collect();
    let aedat = aedat_file(&[
        polarity_packet(0, &events[..20]),
        other_packet(2, 12, 3),
        polarity_packet(1, &events[20..]),
    ]);
    survive_mutations("AEDAT", &aedat, 3000, |b| {
        aedat::parse(b, Path::new("m.aedat"), Sensor::DVS128).is_ok()
    });
    let labels = "class,startTime_usec,endTime_usec\n1,100,2000\n2,2100,5000\n11,5000,9000\n";
    survive_mutations("labels", labels.as_bytes(), 3000, |b| {
        dvs_gesture::parse_labels(&String::from_utf8_lossy(b), Path::new("l.csv")).is_ok()
    });
}

/// The seed inputs of the `events` fuzz target (`fuzz/seeds/events/`, written by Python's
/// `struct` and h5py): each is a valid file for the reader its first byte selects.
#[test]
fn fuzz_seeds_are_valid_files() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/events");
    let read = |name: &str| {
        let bytes = std::fs::read(seeds.join(name)).expect("seed");
        (bytes[0], bytes[1..].to_vec())
    };
    let (which, file) = read("nmnist.bin");
    assert_eq!(which, 0);
    let events = nmnist::parse_bin(&file, Path::new("nmnist.bin")).expect("N-MNIST seed");
    assert_eq!(events.len(), 20);
    assert_eq!((events[3].x, events[3].y, events[3].t), (3, 15, 4500));
    let (which, file) = read("dvs.aedat");
    assert_eq!(which, 1);
    let events = aedat::parse(&file, Path::new("dvs.aedat"), Sensor::DVS128).expect("AEDAT seed");
    assert_eq!(events.len(), 16);
    assert_eq!((events[5].x, events[5].y, events[5].t), (35, 15, 50));
    let (which, file) = read("labels.csv");
    assert_eq!(which, 2);
    let labels = dvs_gesture::parse_labels(&String::from_utf8_lossy(&file), Path::new("l.csv"));
    assert_eq!(labels.expect("labels seed"), vec![(0, 0, 60), (2, 60, 160)]);
    let (which, file) = read("shd.h5");
    assert_eq!(which, 3);
    let set = spikeburn_data::events::shd::parse(file, Path::new("shd.h5"), 20).expect("SHD seed");
    assert_eq!(set.samples.len(), 4);
}

/// Found by the `events` fuzz target (2026-12-07, input kept in `fuzz/regressions/events/`): a
/// 9 KB SHD-format file whose `labels` dataset declares 318 GB of data (all fill value) made
/// the reader allocate it and abort. The declared sizes are now checked against what the file
/// can hold before any dataset is read.
#[test]
fn an_shd_dataset_declaring_more_than_the_file_holds_is_refused_before_reading() {
    let input = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions/events/shd-labels-declare-318gb");
    let bytes = std::fs::read(input).expect("regression input");
    assert_eq!(bytes[0], 3, "the fuzz target's selector for the SHD reader");
    let file = bytes[1..].to_vec();
    let len = file.len();
    let err = spikeburn_data::events::shd::parse(file, Path::new("bad.h5"), 20)
        .expect_err("a dataspace larger than the file");
    let text = err.to_string();
    assert!(
        text.contains("bad.h5") && text.contains("labels") && text.contains(&len.to_string()),
        "{text}"
    );
}
