//! The IDX reader and the data sets on well-formed and malformed files.

use flate2::Compression;
use flate2::write::GzEncoder;
use spikeburn_data::{
    DataError, DatasetKind, IdxError, ImageDataset, Split, epoch_order, make_batch, read_idx,
};
use std::io::Write;
use std::path::{Path, PathBuf};

/// IDX bytes: magic `00 00 08 rank`, big-endian dims, then `body`.
fn idx(dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend(d.to_be_bytes());
    }
    out.extend(body);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path
}

fn images(n: u32) -> Vec<u8> {
    idx(&[n, 2, 3], &(0..n * 6).map(|i| i as u8).collect::<Vec<_>>())
}

#[test]
fn reads_plain_and_gzip_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = write(dir.path(), "a-idx3-ubyte", &images(4));
    let gz = write(dir.path(), "a-idx3-ubyte.gz", &gzip(&images(4)));
    let a = read_idx(&plain, Some(3)).expect("plain");
    let b = read_idx(&gz, Some(3)).expect("gzip");
    assert_eq!(a, b);
    assert_eq!(a.dims, vec![4, 2, 3]);
    assert_eq!(a.item_size(), 6);
    assert_eq!(a.data[23], 23);
}

#[test]
fn each_malformed_case_has_its_own_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let check = |name: &str, bytes: Vec<u8>, rank: Option<u8>, ok: fn(&IdxError) -> bool| {
        let path = write(d, name, &bytes);
        let err = read_idx(&path, rank).expect_err(name);
        assert!(ok(&err), "{name}: unexpected error {err:?}");
        let message = err.to_string();
        assert!(
            message.contains(name),
            "{name}: message does not name the file: {message}"
        );
        assert!(
            !message.contains('\n'),
            "{name}: message is not one line: {message}"
        );
    };
    check("empty", vec![], None, |e| {
        matches!(e, IdxError::Empty { .. })
    });
    check("bad-magic", b"\x89PNG\r\n\x1a\n".to_vec(), None, |e| {
        matches!(e, IdxError::BadMagic { .. })
    });
    check(
        "float-type",
        vec![0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0],
        None,
        |e| matches!(e, IdxError::BadMagic { .. }),
    );
    check("rank-zero", vec![0, 0, 8, 0], None, |e| {
        matches!(e, IdxError::BadRank { .. })
    });
    check("wrong-rank", idx(&[2, 2], &[0; 4]), Some(3), |e| {
        matches!(e, IdxError::BadRank { found: 2, .. })
    });
    // A rank-3 header is 4 + 3 × 4 = 16 bytes; this one ends after 6.
    check("short-header", vec![0, 0, 8, 3, 0, 0], None, |e| {
        matches!(
            e,
            IdxError::TruncatedHeader {
                expected: 16,
                found: 6,
                ..
            }
        )
    });
    check(
        "short-rank-2-header",
        vec![0, 0, 8, 2, 0, 0, 0, 5, 0],
        None,
        |e| {
            matches!(
                e,
                IdxError::TruncatedHeader {
                    expected: 12,
                    found: 9,
                    ..
                }
            )
        },
    );
    check("short-magic", vec![0, 0], None, |e| {
        matches!(
            e,
            IdxError::TruncatedHeader {
                expected: 4,
                found: 2,
                ..
            }
        )
    });
    // Any one wrong byte of the three fixed magic bytes is refused.
    for (name, magic) in [
        ("magic-0", [1, 0, 8]),
        ("magic-1", [0, 1, 8]),
        ("magic-2", [0, 0, 9]),
    ] {
        let mut bytes = idx(&[1], &[0]);
        bytes[..3].copy_from_slice(&magic);
        check(name, bytes, None, |e| {
            matches!(e, IdxError::BadMagic { .. })
        });
    }
    check("zero-dim", idx(&[3, 0, 2], &[]), None, |e| {
        matches!(e, IdxError::ZeroDimension { axis: 1, .. })
    });
    let mut cut = images(4);
    cut.truncate(cut.len() - 2);
    check("truncated-body", cut, None, |e| {
        matches!(
            e,
            IdxError::Truncated {
                item: 3,
                found: 4,
                item_bytes: 6,
                ..
            }
        )
    });
    // The header claims 60,000 images of 784 bytes; the file holds two. Nothing of the
    // claimed 47 MB is allocated.
    check(
        "count-too-large",
        idx(&[60000, 28, 28], &[7; 2 * 784]),
        None,
        |e| {
            matches!(
                e,
                IdxError::CountExceedsData {
                    declared: 60000,
                    available: 2,
                    ..
                }
            )
        },
    );
    check(
        "huge-dims",
        idx(&[u32::MAX, u32::MAX, u32::MAX], &[]),
        None,
        |e| {
            matches!(
                e,
                IdxError::TooLarge { .. } | IdxError::CountExceedsData { .. }
            )
        },
    );
    let mut trailing = images(2);
    trailing.push(0);
    check("trailing", trailing, None, |e| {
        matches!(e, IdxError::TrailingData { .. })
    });
    check("not-gzip.gz", images(2), None, |e| {
        matches!(e, IdxError::NotGzip { .. })
    });
    let mut corrupt = gzip(&images(50));
    corrupt.truncate(corrupt.len() / 2);
    check("corrupt.gz", corrupt, None, |e| {
        matches!(e, IdxError::Gzip { .. })
    });

    let err = read_idx(d, None).expect_err("directory");
    assert!(matches!(err, IdxError::NotAFile { .. }), "{err:?}");
    let err = read_idx(&d.join("missing"), None).expect_err("missing");
    assert!(matches!(err, IdxError::Io { .. }), "{err:?}");
}

#[test]
fn dataset_checks_counts_and_labels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let imgs = write(d, "imgs", &images(3));
    let labels_ok = write(d, "labels-ok", &idx(&[3], &[0, 9, 4]));
    let labels_short = write(d, "labels-short", &idx(&[2], &[0, 1]));
    let labels_bad = write(d, "labels-bad", &idx(&[3], &[0, 10, 4]));
    let data = ImageDataset::from_files(&imgs, &labels_ok, 10).expect("valid");
    assert_eq!((data.len(), data.rows, data.cols), (3, 2, 3));
    assert_eq!(data.image(1), &[6, 7, 8, 9, 10, 11]);
    let err = ImageDataset::from_files(&imgs, &labels_short, 10).expect_err("mismatch");
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                n_images: 3,
                n_labels: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let err = ImageDataset::from_files(&imgs, &labels_bad, 10).expect_err("label 10");
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 1,
                label: 10,
                ..
            }
        ),
        "{err:?}"
    );
    let err = ImageDataset::from_files(&labels_ok, &labels_ok, 10).expect_err("rank");
    assert!(
        matches!(err, DataError::Idx(IdxError::BadRank { .. })),
        "{err:?}"
    );

    let err =
        ImageDataset::load(DatasetKind::Mnist, &d.join("nope"), Split::Train).expect_err("dir");
    assert!(matches!(err, DataError::MissingDir { .. }), "{err:?}");
    let err = ImageDataset::load(DatasetKind::Mnist, d, Split::Train).expect_err("files");
    assert!(matches!(err, DataError::MissingFile { .. }), "{err:?}");
}

#[test]
fn shipped_mnist_reads_with_the_documented_labels() {
    let dir = DatasetKind::Mnist.default_dir();
    let test = ImageDataset::load(DatasetKind::Mnist, &dir, Split::Test).expect("shipped MNIST");
    assert_eq!(test.len(), 10_000);
    assert_eq!((test.rows, test.cols), (28, 28));
    assert_eq!(&test.labels[..10], &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    let train = ImageDataset::load(DatasetKind::Mnist, &dir, Split::Train).expect("shipped MNIST");
    assert_eq!(train.len(), 60_000);
    assert_eq!(&train.labels[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
}

#[test]
fn both_shipped_mnist_splits_load_together() {
    let mnist = DatasetKind::Mnist;
    let (train, test) =
        ImageDataset::load_train_test(mnist, &mnist.default_dir()).expect("shipped MNIST");
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(&train.labels[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(&test.labels[..10], &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
}

#[test]
fn epoch_order_is_a_seeded_permutation() {
    let a = epoch_order(1000, 42, 0);
    let mut sorted = a.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
    assert_eq!(a, epoch_order(1000, 42, 0));
    assert_ne!(a, epoch_order(1000, 42, 1));
    assert_ne!(a, epoch_order(1000, 43, 0));
}

#[test]
fn batches_scale_pixels_to_unit_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body: Vec<u8> = vec![0, 255, 51, 102, 0, 255];
    let imgs = write(dir.path(), "i", &idx(&[1, 2, 3], &body));
    let labels = write(dir.path(), "l", &idx(&[1], &[7]));
    let data = ImageDataset::from_files(&imgs, &labels, 10).expect("valid");
    let batch = make_batch(&data, &[0, 0], &burn::prelude::Device::flex());
    assert_eq!(batch.images.dims(), [2, 6]);
    let px = batch.images.into_data().try_into_vec::<f32>().expect("f32");
    assert_eq!(&px[..6], &[0.0, 1.0, 0.2, 0.4, 0.0, 1.0]);
    let y = batch
        .targets
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .expect("int");
    assert_eq!(y, vec![7, 7]);
}
