//! The NIR reader (HDF5, pure Rust) and graph validation on arbitrary bytes: a typed error
//! naming the file and object, never a panic, hang or unbacked allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = spikeburn_nir::read_nir_bytes(data.to_vec(), Path::new("fuzz.nir")) {
        let _ = spikeburn_nir::validate(&file.graph);
        let _ = spikeburn_nir::execution_order(&file.graph);
        let _ = spikeburn_nir::output_shapes(&file.graph);
    }
});
