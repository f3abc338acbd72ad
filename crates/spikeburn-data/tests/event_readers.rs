//! Every event reader on mutated and fuzz-found files: a value or a typed error, never a
//! panic, an abort or an allocation sized by an unchecked header.

mod common;
use common::*;

#[path = "../../../tests/support/mutate.rs"]
mod mutate;
use mutate::survive_mutations;

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
