//! The IDX reader (MNIST, Fashion-MNIST) on arbitrary bytes, plain or gzip: a typed error or
//! an array whose size matches its header, never a panic or an allocation the data does not
//! back (run with `-rss_limit_mb`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    for rank in [None, Some(1), Some(3)] {
        if let Ok(array) = spikeburn_data::parse_idx(data, Path::new("fuzz.idx"), rank) {
            assert_eq!(array.len() * array.item_size(), array.data.len());
        }
    }
});
