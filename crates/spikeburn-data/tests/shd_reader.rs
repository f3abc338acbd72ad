//! The SHD/SSC reader against files written by an independent writer: h5py, through
//! `tests/interop/shd_like.py` in the interop venv (`scripts/test-setup.sh`). The harness
//! (`tests/support/harness.rs`) reports these tests ignored where the venv is missing, and
//! fails them under `SPIKEBURN_REQUIRE`.

use serde_json::Value as Json;
use spikeburn_data::events::shd::{self, Corpus};
use spikeburn_data::events::{EventError, EventsConfig, Sensor, ToFrame};
use spikeburn_data::{Dataset, DatasetKind, EventDataset, Split};
use std::path::Path;

#[path = "../../../tests/support/venv.rs"]
mod common;
#[macro_use]
#[path = "../../../tests/support/harness.rs"]
mod harness;
#[path = "../../../tests/support/mutate.rs"]
mod mutate;

use common::H5PY;

/// Runs the writer; returns its JSON dump (`--dump`).
fn write(out: &Path, args: &[&str]) -> Json {
    let script = common::script("shd_like.py");
    let mut argv = vec![script.as_os_str(), out.as_os_str()];
    argv.extend(args.iter().map(std::ffi::OsStr::new));
    argv.push("--dump".as_ref());
    serde_json::from_slice(&common::run_python(&common::python(), argv)).expect("JSON")
}

fn decodes_every_event_of_an_h5py_file_with_float16_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("shd_train.h5");
    let dump = write(
        &path,
        &["--samples", "25", "--classes", "20", "--seed", "3"],
    );
    let set = shd::read(dir.path(), Corpus::Shd, Split::Train).expect("reads");
    assert_eq!(set.sensor, Sensor::COCHLEA700);
    assert_eq!(set.num_classes, 20);
    assert_eq!(set.samples.len(), 25);
    let mut total = 0;
    for (i, s) in set.samples.iter().enumerate() {
        assert_eq!(
            s.label as u64,
            dump["labels"][i].as_u64().unwrap(),
            "label {i}"
        );
        let times = dump["times"][i].as_array().unwrap();
        let units = dump["units"][i].as_array().unwrap();
        assert_eq!(s.events.len(), times.len(), "sample {i}");
        // The writer sorted by time: the reader keeps that order (a stable sort).
        for (k, e) in s.events.iter().enumerate() {
            let seconds = times[k].as_f64().unwrap();
            assert_eq!(e.t, (seconds * 1e6).round() as u64, "sample {i} event {k}");
            assert_eq!(
                u64::from(e.x),
                units[k].as_u64().unwrap(),
                "sample {i} event {k}"
            );
            assert_eq!((e.y, e.p), (0, 0));
        }
        total += times.len();
    }
    assert!(total > 25 * 40, "{total} events");
    // A float16 time is not a multiple of 1 µs in general: at least one was rounded.
    assert!(
        set.samples
            .iter()
            .flat_map(|s| &s.events)
            .any(|e| e.t % 1000 != 0)
    );
}

fn reads_the_distributed_gzip_form_identically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain_dir = tempfile::tempdir().expect("tempdir");
    write(
        &dir.path().join("ssc_test.h5.gz"),
        &[
            "--gzip",
            "--samples",
            "12",
            "--classes",
            "35",
            "--seed",
            "9",
        ],
    );
    std::fs::remove_file(dir.path().join("ssc_test.h5")).expect("keep only the .gz");
    write(
        &plain_dir.path().join("ssc_test.h5"),
        &["--samples", "12", "--classes", "35", "--seed", "9"],
    );
    let gz = shd::read(dir.path(), Corpus::Ssc, Split::Test).expect("reads .h5.gz");
    let plain = shd::read(plain_dir.path(), Corpus::Ssc, Split::Test).expect("reads .h5");
    assert_eq!(gz, plain);
    assert_eq!(gz.num_classes, 35);
}

/// An HDF5 file may begin with a user block: the same samples after a 512-byte user block
/// read as without one (the superblock's end-of-file address counts the user block).
fn reads_a_file_with_a_user_block_identically() {
    let (plain_dir, block_dir) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let args = ["--samples", "6", "--seed", "4"];
    write(&plain_dir.path().join("shd_test.h5"), &args);
    let mut with_block = args.to_vec();
    with_block.extend(["--userblock", "512"]);
    write(&block_dir.path().join("shd_test.h5"), &with_block);
    let plain = shd::read(plain_dir.path(), Corpus::Shd, Split::Test).expect("plain");
    let block = shd::read(block_dir.path(), Corpus::Shd, Split::Test).expect("with a user block");
    assert_eq!(block, plain);
}

fn each_inconsistency_is_its_own_error_naming_the_file_and_sample() {
    let dir = tempfile::tempdir().expect("tempdir");
    let case = |kind: &str| {
        let path = dir.path().join(format!("{kind}.h5"));
        write(
            &path,
            &["--samples", "4", "--classes", "20", "--hostile", kind],
        );
        let err = shd::read_file(&path, 20).expect_err(kind);
        assert!(
            err.to_string().contains(&format!("{kind}.h5")),
            "{kind}: {err}"
        );
        err
    };
    type Check = fn(&EventError) -> bool;
    let checks: [(&str, Check); 5] = [
        (
            "length",
            |e| matches!(e, EventError::Malformed { location, .. } if location == "sample 1"),
        ),
        ("label", |e| {
            matches!(e, EventError::LabelOutOfRange { label: 20, .. })
        }),
        ("unit", |e| {
            matches!(e, EventError::OutsideSensor { x: 700, .. })
        }),
        (
            "nan",
            |e| matches!(e, EventError::Malformed { location, .. } if location == "sample 1"),
        ),
        (
            "count",
            |e| matches!(e, EventError::Malformed { reason, .. } if reason.contains("4, 4 and 3")),
        ),
    ];
    for (kind, expected) in checks {
        let e = case(kind);
        assert!(expected(&e), "{kind}: {e}");
    }

    // Cut short anywhere, or not HDF5 at all: an error, never a panic.
    let good = dir.path().join("good.h5");
    write(&good, &["--samples", "6", "--classes", "20"]);
    let bytes = std::fs::read(&good).expect("read");
    for cut in [
        0,
        100,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 200,
        bytes.len() - 1,
    ] {
        let r = shd::parse(bytes[..cut].to_vec(), &good, 20);
        assert!(r.is_err(), "cut at {cut} of {}", bytes.len());
    }
    let missing =
        shd::read(&dir.path().join("nowhere"), Corpus::Shd, Split::Train).expect_err("missing");
    assert!(
        missing.to_string().contains("shd_train.h5") && missing.to_string().contains("zenkelab"),
        "{missing}"
    );
}

fn frames_of_a_file_count_its_events_per_bin_and_channel_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dump = write(
        &dir.path().join("shd_test.h5"),
        &["--samples", "8", "--classes", "20", "--seed", "5"],
    );
    let config: EventsConfig = toml::from_str(
        "frames = { by = \"fixed_duration\", bins = 10, duration_us = 1000000 }\n\
         transforms = [{ transform = \"downsample\", fx = 5, fy = 1 }]\ncache = false",
    )
    .expect("parses");
    assert_eq!(
        config.frames,
        ToFrame::FixedDuration {
            bins: 10,
            duration_us: 1_000_000
        }
    );
    let cache = tempfile::tempdir().expect("tempdir");
    let store = spikeburn_data::events::FrameCache::new(cache.path());
    let (set, report) = spikeburn_data::events::load(
        DatasetKind::Shd,
        dir.path(),
        Split::Test,
        &config,
        Some(&store),
    )
    .expect("loads");
    assert!(
        !report.cache_hit && report.cache_file.is_none(),
        "cache = false"
    );
    assert_eq!(set.sensor().width, 140);
    // Expected by hand from the writer's dump: bin ⌊t · 10 / 1 s⌋, channel ⌊unit / 5⌋.
    let dense = set.frames().dense(&[3]);
    let mut expected = vec![0.0f32; 10 * 140];
    let times = dump["times"][3].as_array().unwrap();
    let units = dump["units"][3].as_array().unwrap();
    for (t, u) in times.iter().zip(units) {
        let micros = (t.as_f64().unwrap() * 1e6).round() as u64;
        let bin = (micros * 10 / 1_000_000) as usize;
        expected[bin * 140 + u.as_u64().unwrap() as usize / 5] += 1.0;
    }
    assert_eq!(dense, expected);
    assert_eq!(Dataset::num_classes(&set), 20);

    // With the cache: the second load is a hit and gives the same frames.
    let cached = EventsConfig {
        cache: true,
        ..config
    };
    let load_cached = || {
        spikeburn_data::events::load(
            DatasetKind::Shd,
            dir.path(),
            Split::Test,
            &cached,
            Some(&store),
        )
        .expect("loads")
    };
    let (first, r1) = load_cached();
    let (second, r2) = load_cached();
    assert!(!r1.cache_hit && r2.cache_hit, "{r1:?} {r2:?}");
    assert_eq!(first.frames(), second.frames());
    assert_eq!(second.frames().dense(&[3]), expected);
    let _: &EventDataset = &second;
}

/// Seeded mutations of an h5py-written SHD file (superblock, object headers, B-trees, global
/// heap, the data): a value or a typed error, never a panic or an abort on an allocation.
fn mutated_hdf5_files_end_in_a_value_or_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("shd_train.h5");
    write(&path, &["--samples", "6", "--active", "8", "--seed", "4"]);
    let bytes = std::fs::read(&path).expect("read the file");
    mutate::survive_mutations("SHD", &bytes, 1500, |b| {
        shd::parse(b.to_vec(), Path::new("m.h5"), 20).is_ok()
    });
}

fn main() -> std::process::ExitCode {
    harness::run(trials![
        ; needs H5PY => decodes_every_event_of_an_h5py_file_with_float16_times,
        reads_the_distributed_gzip_form_identically,
        reads_a_file_with_a_user_block_identically,
        each_inconsistency_is_its_own_error_naming_the_file_and_sample,
        frames_of_a_file_count_its_events_per_bin_and_channel_group,
        mutated_hdf5_files_end_in_a_value_or_an_error
    ])
}
