//! Labelled image data sets in the MNIST file layout (MNIST, Fashion-MNIST).

use crate::idx::{IdxError, read_idx};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Why a data set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The data directory does not exist.
    #[error(
        "{dir}: data directory not found (expected the {kind} IDX files there; set --data-dir)"
    )]
    MissingDir {
        /// The directory.
        dir: PathBuf,
        /// The data set looked for.
        kind: DatasetKind,
    },
    /// Neither the plain nor the gzip form of a file is present.
    #[error("{dir}: missing {name} (or {name}.gz)")]
    MissingFile {
        /// The directory searched.
        dir: PathBuf,
        /// The file name without `.gz`.
        name: String,
    },
    /// An IDX file is malformed.
    #[error(transparent)]
    Idx(#[from] IdxError),
    /// Images and labels disagree in count.
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch {
        /// The images file.
        images: PathBuf,
        /// Its count.
        n_images: usize,
        /// The labels file.
        labels: PathBuf,
        /// Its count.
        n_labels: usize,
    },
    /// The data set is not one of images (it cannot be read as IDX files).
    #[error("{kind} is not an image data set (it has no IDX files)")]
    NotImages {
        /// The data set.
        kind: DatasetKind,
    },
    /// A label is not a valid class index.
    #[error("{path}: label {label} at index {index} is not a class in 0..{classes}")]
    LabelOutOfRange {
        /// The labels file.
        path: PathBuf,
        /// The sample index.
        index: usize,
        /// The label found.
        label: u8,
        /// Number of classes.
        classes: usize,
    },
}

/// Which data set: the image data sets (both in the IDX layout and file names, 28×28 images,
/// 10 classes), or a generated one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// Handwritten digits (LeCun, Cortes & Burges).
    #[default]
    Mnist,
    /// Zalando's Fashion-MNIST (Xiao, Rasul & Vollgraf 2017).
    FashionMnist,
    /// Randman spike trains generated from a seed ([`crate::randman`]; no files).
    Randman,
    /// Spiking Heidelberg Digits, 20 classes ([`crate::events::shd`]).
    Shd,
    /// Spiking Speech Commands, 35 classes ([`crate::events::shd`]).
    Ssc,
    /// N-MNIST saccade recordings of MNIST, 10 classes ([`crate::events::nmnist`]).
    Nmnist,
    /// DVS128 Gesture, 11 classes ([`crate::events::dvs_gesture`]).
    DvsGesture,
}

impl std::fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Randman => "randman",
            DatasetKind::Shd => "shd",
            DatasetKind::Ssc => "ssc",
            DatasetKind::Nmnist => "nmnist",
            DatasetKind::DvsGesture => "dvs-gesture",
        })
    }
}

impl DatasetKind {
    /// Number of classes: 10 for the images and N-MNIST, 20 for SHD, 35 for SSC, 11 for
    /// DVS128 Gesture (a Randman task has its own; 10 here).
    pub fn num_classes(&self) -> usize {
        match self {
            DatasetKind::Shd => 20,
            DatasetKind::Ssc => 35,
            DatasetKind::DvsGesture => 11,
            _ => 10,
        }
    }

    /// Whether the data set is one of event recordings ([`crate::events`]).
    pub fn is_events(&self) -> bool {
        matches!(
            self,
            DatasetKind::Shd | DatasetKind::Ssc | DatasetKind::Nmnist | DatasetKind::DvsGesture
        )
    }

    /// The sensor of an event data set (the 28 × 28 grid, one channel, for the others).
    pub fn sensor(&self) -> crate::events::Sensor {
        use crate::events::Sensor;
        match self {
            DatasetKind::Shd | DatasetKind::Ssc => Sensor::COCHLEA700,
            DatasetKind::Nmnist => Sensor::NMNIST,
            DatasetKind::DvsGesture => Sensor::DVS128,
            _ => Sensor {
                width: 28,
                height: 28,
                polarities: 1,
            },
        }
    }

    /// Whether the data set is one of images (read from IDX files).
    pub fn is_images(&self) -> bool {
        matches!(self, DatasetKind::Mnist | DatasetKind::FashionMnist)
    }

    /// Where the data set is looked for when no directory is given: `datasets/mnist` (the
    /// copy shipped with the repository, relative to the working directory, else to the
    /// repository this crate was built from) for MNIST; the Debian package
    /// `dataset-fashion-mnist`'s `/usr/share/datasets/fashion-mnist` for Fashion-MNIST.
    pub fn default_dir(&self) -> PathBuf {
        match self {
            DatasetKind::Mnist => {
                let local = PathBuf::from("datasets/mnist");
                if local.is_dir() {
                    return local;
                }
                let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/mnist");
                if shipped.is_dir() { shipped } else { local }
            }
            DatasetKind::FashionMnist => PathBuf::from("/usr/share/datasets/fashion-mnist"),
            // Generated: nothing is read.
            DatasetKind::Randman => PathBuf::new(),
            // Downloaded by the user (see the README): a folder named after the data set.
            DatasetKind::Shd => PathBuf::from("datasets/shd"),
            DatasetKind::Ssc => PathBuf::from("datasets/ssc"),
            DatasetKind::Nmnist => PathBuf::from("datasets/nmnist"),
            DatasetKind::DvsGesture => PathBuf::from("datasets/DvsGesture"),
        }
    }
}

/// Which part of a data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The training set (60,000 images for MNIST).
    Train,
    /// The test set (10,000 images for MNIST).
    Test,
}

impl Split {
    /// The file stem used by MNIST-style data sets: `train` or `t10k`.
    fn stem(&self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

/// Images with class labels, kept as bytes (a pixel is 0..=255) to hold 60,000 MNIST images
/// in 47 MB; batches convert to `f32` on the fly.
#[derive(Clone, Debug)]
pub struct ImageDataset {
    /// Pixels, `len × rows × cols`, row-major.
    pub pixels: Vec<u8>,
    /// Labels in `0..num_classes`, one per image.
    pub labels: Vec<u8>,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// Number of classes.
    pub num_classes: usize,
}

/// Finds `name` or `name.gz` in `dir`.
fn find(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let plain = dir.join(name);
    if plain.exists() {
        return Ok(plain);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.exists() {
        return Ok(gz);
    }
    Err(DataError::MissingFile {
        dir: dir.to_path_buf(),
        name: name.to_string(),
    })
}

impl ImageDataset {
    /// Loads `split` of `kind` from `dir`, which holds `{train,t10k}-images-idx3-ubyte` and
    /// `{train,t10k}-labels-idx1-ubyte`, each plain or `.gz`.
    pub fn load(kind: DatasetKind, dir: &Path, split: Split) -> Result<Self, DataError> {
        if !kind.is_images() {
            return Err(DataError::NotImages { kind });
        }
        if !dir.is_dir() {
            return Err(DataError::MissingDir {
                dir: dir.to_path_buf(),
                kind,
            });
        }
        let images_path = find(dir, &format!("{}-images-idx3-ubyte", split.stem()))?;
        let labels_path = find(dir, &format!("{}-labels-idx1-ubyte", split.stem()))?;
        Self::from_files(&images_path, &labels_path, kind.num_classes())
    }

    /// Loads both splits of `kind` from `dir` (as [`ImageDataset::load`] does each): the
    /// training set and the test set, in that order.
    pub fn load_train_test(kind: DatasetKind, dir: &Path) -> Result<(Self, Self), DataError> {
        Ok((
            Self::load(kind, dir, Split::Train)?,
            Self::load(kind, dir, Split::Test)?,
        ))
    }

    /// Loads images (rank-3 IDX) and labels (rank-1 IDX) from two files, checking that their
    /// counts agree and that every label is below `num_classes`.
    pub fn from_files(images: &Path, labels: &Path, num_classes: usize) -> Result<Self, DataError> {
        let image_array = read_idx(images, Some(3))?;
        let label_array = read_idx(labels, Some(1))?;
        if image_array.len() != label_array.len() {
            return Err(DataError::CountMismatch {
                images: images.to_path_buf(),
                n_images: image_array.len(),
                labels: labels.to_path_buf(),
                n_labels: label_array.len(),
            });
        }
        if let Some((index, &label)) = label_array
            .data
            .iter()
            .enumerate()
            .find(|&(_, &l)| l as usize >= num_classes)
        {
            return Err(DataError::LabelOutOfRange {
                path: labels.to_path_buf(),
                index,
                label,
                classes: num_classes,
            });
        }
        Ok(Self {
            rows: image_array.dims[1],
            cols: image_array.dims[2],
            pixels: image_array.data,
            labels: label_array.data,
            num_classes,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image (`rows × cols`).
    pub fn image_size(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        let n = self.image_size();
        &self.pixels[index * n..(index + 1) * n]
    }

    /// The class label of sample `index` (panics when out of range, like slice indexing).
    pub fn label(&self, index: usize) -> usize {
        usize::from(self.labels[index])
    }

    /// Keeps only the first `n` images (all of them if `n >= len`).
    pub fn truncate(&mut self, n: usize) {
        let n = n.min(self.len());
        self.labels.truncate(n);
        self.pixels.truncate(n * self.image_size());
    }
}
