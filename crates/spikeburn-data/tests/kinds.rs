//! The per-data-set tables (classes, sensors, names), sensor bounds and the small accessors of
//! the data containers, each against values written out by hand from the data sets' papers.

use spikeburn_data::events::{Event, EventSample, EventSet, Sensor, source_path};
use spikeburn_data::{DatasetKind, IdxArray, ImageDataset, Split};

/// Each kind: its name in configs, classes, whether it is events or images, and its sensor
/// (width, height, polarities). From the data sets' papers: SHD 20 spoken digits and SSC 35
/// commands on 700 cochlea channels, N-MNIST 34 × 34 with two polarities, DVS128 Gesture 11
/// classes on 128 × 128.
/// A kind, its name, classes, whether it is events, whether it is images, and its sensor.
type KindRow = (DatasetKind, &'static str, usize, bool, bool, (u16, u16, u8));

#[test]
fn every_kind_has_its_published_classes_sensor_and_name() {
    let table: [KindRow; 7] = [
        (DatasetKind::Mnist, "mnist", 10, false, true, (28, 28, 1)),
        (
            DatasetKind::FashionMnist,
            "fashion-mnist",
            10,
            false,
            true,
            (28, 28, 1),
        ),
        (
            DatasetKind::Randman,
            "randman",
            10,
            false,
            false,
            (28, 28, 1),
        ),
        (DatasetKind::Shd, "shd", 20, true, false, (700, 1, 1)),
        (DatasetKind::Ssc, "ssc", 35, true, false, (700, 1, 1)),
        (DatasetKind::Nmnist, "nmnist", 10, true, false, (34, 34, 2)),
        (
            DatasetKind::DvsGesture,
            "dvs-gesture",
            11,
            true,
            false,
            (128, 128, 2),
        ),
    ];
    for (kind, name, classes, events, images, (w, h, p)) in table {
        assert_eq!(kind.to_string(), name);
        // The config spelling (serde) and the printed name are the same word.
        assert_eq!(
            serde_json::to_string(&kind).expect("serialise"),
            format!("\"{name}\"")
        );
        assert_eq!(kind.num_classes(), classes, "{name}");
        assert_eq!(kind.is_events(), events, "{name}");
        assert_eq!(kind.is_images(), images, "{name}");
        let s = kind.sensor();
        assert_eq!((s.width, s.height, s.polarities), (w, h, p), "{name}");
        assert_eq!(s.size(), w as usize * h as usize * p as usize, "{name}");
    }
    assert_eq!(Sensor::DVS128.to_string(), "128 x 128 x 2");
    assert_eq!(Sensor::NMNIST.to_string(), "34 x 34 x 2");
}

/// The last address on each axis lies on the sensor; one past it does not.
#[test]
fn sensor_bounds_are_exclusive_on_every_axis() {
    let s = Sensor {
        width: 5,
        height: 3,
        polarities: 2,
    };
    let e = |x, y, p| Event { t: 0, x, y, p };
    assert!(s.contains(&e(0, 0, 0)));
    assert!(s.contains(&e(4, 2, 1)));
    assert!(!s.contains(&e(5, 0, 0)));
    assert!(!s.contains(&e(0, 3, 0)));
    assert!(!s.contains(&e(0, 0, 2)));
    // Row-major [p, y, x]: (p·3 + y)·5 + x.
    assert_eq!(s.index(&e(4, 2, 1)), 29);
    assert_eq!(s.index(&e(1, 2, 0)), 11);
}

#[test]
fn an_event_set_counts_the_events_of_all_samples() {
    let mut set = EventSet::new(Sensor::NMNIST, 10);
    assert_eq!(set.num_events(), 0);
    let ev = Event {
        t: 1,
        x: 2,
        y: 3,
        p: 1,
    };
    set.samples.push(EventSample {
        events: vec![ev; 3],
        label: 1,
    });
    set.samples.push(EventSample {
        events: vec![],
        label: 2,
    });
    set.samples.push(EventSample {
        events: vec![ev; 4],
        label: 0,
    });
    assert_eq!(set.num_events(), 7);
}

/// With every data set's files in one folder, each kind and split keys its cache on its own
/// file or folder.
#[test]
fn source_path_picks_each_corpus_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in [
        "shd_train.h5",
        "shd_test.h5",
        "ssc_train.h5",
        "ssc_test.h5.gz",
    ] {
        std::fs::write(dir.path().join(name), b"x").expect("write");
    }
    let path = |kind, split| {
        source_path(kind, dir.path(), split)
            .expect("present")
            .file_name()
            .expect("a file")
            .to_string_lossy()
            .into_owned()
    };
    assert_eq!(path(DatasetKind::Shd, Split::Train), "shd_train.h5");
    assert_eq!(path(DatasetKind::Shd, Split::Test), "shd_test.h5");
    assert_eq!(path(DatasetKind::Ssc, Split::Train), "ssc_train.h5");
    assert_eq!(path(DatasetKind::Ssc, Split::Test), "ssc_test.h5.gz");
    assert!(source_path(DatasetKind::Nmnist, dir.path(), Split::Train).is_err());
    assert!(source_path(DatasetKind::Mnist, dir.path(), Split::Train).is_err());
    // N-MNIST: the split's folder (or its zip); DVS128 Gesture: the split's trial list.
    std::fs::create_dir(dir.path().join("Train")).expect("mkdir");
    std::fs::write(dir.path().join("Test.zip"), b"x").expect("write");
    for name in ["trials_to_train.txt", "trials_to_test.txt"] {
        std::fs::write(dir.path().join(name), b"x").expect("write");
    }
    assert_eq!(path(DatasetKind::Nmnist, Split::Train), "Train");
    assert_eq!(path(DatasetKind::Nmnist, Split::Test), "Test.zip");
    assert_eq!(
        path(DatasetKind::DvsGesture, Split::Train),
        "trials_to_train.txt"
    );
    assert_eq!(
        path(DatasetKind::DvsGesture, Split::Test),
        "trials_to_test.txt"
    );
}

/// Three 1 × 2 images: `truncate(2)` keeps the first two images' pixels and labels.
#[test]
fn image_dataset_accessors_and_truncation() {
    let mut data = ImageDataset {
        pixels: vec![1, 2, 3, 4, 5, 6],
        labels: vec![7, 0, 9],
        rows: 1,
        cols: 2,
        num_classes: 10,
    };
    assert!(!data.is_empty());
    assert_eq!((data.label(0), data.label(1), data.label(2)), (7, 0, 9));
    assert_eq!(data.image(1), &[3, 4]);
    data.truncate(5);
    assert_eq!(data.len(), 3);
    assert_eq!(data.pixels.len(), 6);
    data.truncate(2);
    assert_eq!(data.labels, vec![7, 0]);
    assert_eq!(data.pixels, vec![1, 2, 3, 4]);
    data.truncate(0);
    assert!(data.is_empty());
    assert!(data.pixels.is_empty());

    let items = IdxArray {
        dims: vec![2, 3],
        data: vec![0; 6],
    };
    assert!(!items.is_empty());
    assert_eq!((items.len(), items.item_size()), (2, 3));
    let none = IdxArray {
        dims: vec![0, 3],
        data: vec![],
    };
    assert!(none.is_empty());
}
