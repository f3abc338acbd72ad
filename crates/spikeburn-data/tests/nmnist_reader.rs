//! The N-MNIST reader on files written here from the format specification (independently of
//! the reader), well-formed and hostile: `.bin` files, folders and the distributed zips.

mod common;
use common::*;

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
