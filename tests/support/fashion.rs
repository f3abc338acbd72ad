//! The `fashion-mnist` requirement (Debian's `dataset-fashion-mnist`, which the Fashion-MNIST
//! presets read) for the harness of `harness.rs`, which must be declared as `mod harness` beside
//! it; the test crate needs spikeburn-data.

/// The Debian package's folder exists.
pub const FASHION_MNIST: crate::harness::Requirement = crate::harness::Requirement {
    name: "fashion-mnist",
    probe: || {
        let dir = spikeburn_data::DatasetKind::FashionMnist.default_dir();
        if dir.is_dir() {
            Ok(())
        } else {
            Err(format!(
                "{} not found (apt-get install -y dataset-fashion-mnist)",
                dir.display()
            ))
        }
    },
};
