//! Fashion-MNIST as Debian's `dataset-fashion-mnist` installs it: both splits read, with the
//! sizes and first labels of the published files (Xiao et al. 2017; labels checked against
//! the data set's own `t10k-labels-idx1-ubyte` / `train-labels-idx1-ubyte`).
//!
//! Where the package is not installed the test is reported ignored with the reason by the
//! harness of `tests/support/harness.rs` (a failure instead under `SPIKEBURN_REQUIRE=all`,
//! which `.ci/run` sets after `scripts/test-setup.sh` installed it).

#[macro_use]
#[path = "../../../tests/support/harness.rs"]
mod harness;
#[path = "../../../tests/support/fashion.rs"]
mod fashion;

use fashion::FASHION_MNIST;

use spikeburn_data::{DatasetKind, ImageDataset, Split};

fn fashion_mnist_reads_from_its_debian_location() {
    let dir = DatasetKind::FashionMnist.default_dir();
    let test =
        ImageDataset::load(DatasetKind::FashionMnist, &dir, Split::Test).expect("Fashion-MNIST");
    assert_eq!(test.len(), 10_000);
    assert_eq!(&test.labels[..10], &[9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    let train =
        ImageDataset::load(DatasetKind::FashionMnist, &dir, Split::Train).expect("Fashion-MNIST");
    assert_eq!(train.len(), 60_000);
    assert_eq!(&train.labels[..10], &[9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
}

fn main() -> std::process::ExitCode {
    harness::run(trials![; needs FASHION_MNIST => fashion_mnist_reads_from_its_debian_location])
}
