//! The experiment configuration: TOML parsing, validation, the memory estimate and the
//! network plan on arbitrary text: a typed error naming a field, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spikeburn_train::ExperimentConfig;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = ExperimentConfig::from_toml(text, Path::new("fuzz.toml")) else {
        return;
    };
    if config.validate().is_ok() {
        let _ = config.check_memory(Some(1e9));
        let _ = config.model.summary();
        let _ = config.model.output_size();
    }
});
