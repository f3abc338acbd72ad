//! The event-data readers on arbitrary bytes: the first byte picks the reader (N-MNIST `.bin`,
//! AEDAT 3.1, a DVS128 Gesture label file, an SHD/SSC HDF5 file), the rest is the file. Each
//! ends in events (inside the sensor, times sorted where the format says so) or a typed error,
//! never a panic or an allocation the data does not back (run with `-rss_limit_mb`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use spikeburn_data::events::{Sensor, aedat, dvs_gesture, nmnist, shd};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Some((&which, file)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => {
            if let Ok(events) = nmnist::parse_bin(file, Path::new("fuzz.bin")) {
                assert!(events.iter().all(|e| Sensor::NMNIST.contains(e)));
                assert!(events.windows(2).all(|w| w[0].t <= w[1].t));
            }
        }
        1 => {
            if let Ok(events) = aedat::parse(file, Path::new("fuzz.aedat"), Sensor::DVS128) {
                assert!(events.iter().all(|e| Sensor::DVS128.contains(e)));
            }
        }
        2 => {
            let _ = dvs_gesture::parse_labels(&String::from_utf8_lossy(file), Path::new("l.csv"));
        }
        _ => {
            if let Ok(set) = shd::parse(file.to_vec(), Path::new("fuzz.h5"), 20) {
                assert!(set.samples.iter().all(|s| s.label < 20));
            }
        }
    }
});
