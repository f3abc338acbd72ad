//! Reader for the IDX format of MNIST-style data sets (plain or gzip-compressed).
//!
//! Layout (LeCun et al., <http://yann.lecun.com/exdb/mnist/>), all integers big-endian:
//!
//! ```text
//! [0, 0, type, rank]   magic: two zero bytes, the element type (0x08 = unsigned byte), the rank
//! rank × u32           the size of each dimension
//! Π dims × element     the data, row-major
//! ```
//!
//! Every check happens before data is trusted: the magic, the rank, non-zero dimensions,
//! that the declared size neither overflows nor exceeds what the file holds, and that nothing
//! trails the data. No buffer is sized from an unchecked header: the body is read through a
//! limit of the declared size, so a lying header costs at most the bytes really present.

use flate2::read::GzDecoder;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// The element type code of unsigned bytes, the only type MNIST-style files use.
pub const UBYTE: u8 = 0x08;

/// Largest rank accepted (IDX allows up to 255; real files use 1 to 4).
pub const MAX_RANK: u8 = 8;

/// Why an IDX file could not be read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    /// The path does not exist or cannot be opened or read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The path is a directory (or another non-file).
    #[error("{path}: expected an IDX file, found a directory or other non-file")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file has no bytes at all.
    #[error("{path}: the file is empty (expected an IDX header)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The name ends in `.gz` but the content does not start with the gzip magic `1f 8b`.
    #[error(
        "{path}: named .gz but not gzip-compressed (first bytes {found:02x?}, expected [1f, 8b])"
    )]
    NotGzip {
        /// The file.
        path: PathBuf,
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// The gzip stream is corrupt.
    #[error("{path}: corrupt gzip stream: {source}")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: std::io::Error,
    },
    /// The file ends inside the header.
    #[error("{path}: truncated header: {found} of {expected} header bytes present")]
    TruncatedHeader {
        /// The file.
        path: PathBuf,
        /// Header bytes needed.
        expected: usize,
        /// Header bytes present.
        found: usize,
    },
    /// The magic number is not `00 00 08 rank`.
    #[error(
        "{path}: bad magic number {found:02x?}, expected [00, 00, 08, rank] (IDX of unsigned bytes)"
    )]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The four bytes found.
        found: [u8; 4],
    },
    /// The rank is zero, too large, or not the one the caller expects.
    #[error("{path}: rank {found}, expected {expected}")]
    BadRank {
        /// The file.
        path: PathBuf,
        /// What was expected, e.g. "3" or "1 to 8".
        expected: String,
        /// The rank in the header.
        found: u8,
    },
    /// A dimension is zero.
    #[error("{path}: dimension {axis} is 0, expected a size > 0")]
    ZeroDimension {
        /// The file.
        path: PathBuf,
        /// Which dimension.
        axis: usize,
    },
    /// The declared size overflows the address space.
    #[error("{path}: declared dimensions {dims:?} are too large to hold in memory")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The dimensions in the header.
        dims: Vec<u32>,
    },
    /// The header declares more items than the file holds whole.
    #[error(
        "{path}: header declares {declared} items of {item_bytes} bytes but the file holds only {available}"
    )]
    CountExceedsData {
        /// The file.
        path: PathBuf,
        /// Items declared (the first dimension).
        declared: usize,
        /// Complete items present.
        available: usize,
        /// Bytes per item.
        item_bytes: usize,
    },
    /// The body ends in the middle of an item.
    #[error(
        "{path}: truncated body: item {item} has {found} of {item_bytes} bytes ({declared} items declared)"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Index of the incomplete item.
        item: usize,
        /// Its bytes present.
        found: usize,
        /// Bytes per item.
        item_bytes: usize,
        /// Items declared.
        declared: usize,
    },
    /// Bytes follow the declared data.
    #[error("{path}: unexpected data after the {declared} declared items")]
    TrailingData {
        /// The file.
        path: PathBuf,
        /// Items declared.
        declared: usize,
    },
}

/// A decoded IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimension sizes, outermost first (e.g. `[60000, 28, 28]`).
    pub dims: Vec<usize>,
    /// The elements, row-major; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

impl IdxArray {
    /// Number of items (the first dimension).
    pub fn len(&self) -> usize {
        self.dims[0]
    }

    /// True when there are no items (never the case for a successfully read file).
    pub fn is_empty(&self) -> bool {
        self.dims[0] == 0
    }

    /// Elements per item (the product of all but the first dimension).
    pub fn item_size(&self) -> usize {
        self.dims[1..].iter().product()
    }
}

/// Reads the IDX file at `path`, gzip-compressed or not (decided by its first bytes; a name
/// ending in `.gz` must be gzip). `rank`, when given, is the rank the caller requires.
pub fn read_idx(path: &Path, rank: Option<u8>) -> Result<IdxArray, IdxError> {
    let io = |source| IdxError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(IdxError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let mut file = BufReader::new(File::open(path).map_err(io)?);
    let mut start = Vec::with_capacity(2);
    (&mut file).take(2).read_to_end(&mut start).map_err(io)?;
    if start.is_empty() {
        return Err(IdxError::Empty {
            path: path.to_path_buf(),
        });
    }
    let gzip = start == [0x1f, 0x8b];
    let named_gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    if named_gz && !gzip {
        return Err(IdxError::NotGzip {
            path: path.to_path_buf(),
            found: start,
        });
    }
    let stream = std::io::Cursor::new(start).chain(file);
    if gzip {
        parse(GzDecoder::new(stream), path, rank, true)
    } else {
        parse(stream, path, rank, false)
    }
}

/// Parses IDX data held in memory, plain or gzip-compressed (told apart by the gzip magic
/// `1f 8b`), with the checks of [`read_idx`]; `path` names the data in errors only.
///
/// # Errors
/// As [`read_idx`], but never [`IdxError::NotAFile`] or [`IdxError::NotGzip`].
pub fn parse_idx(bytes: &[u8], path: &Path, rank: Option<u8>) -> Result<IdxArray, IdxError> {
    if bytes.is_empty() {
        return Err(IdxError::Empty {
            path: path.to_path_buf(),
        });
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        parse(GzDecoder::new(bytes), path, rank, true)
    } else {
        parse(bytes, path, rank, false)
    }
}

/// Parses an IDX stream; `path` is only used in errors.
fn parse(
    mut reader: impl Read,
    path: &Path,
    rank: Option<u8>,
    gzip: bool,
) -> Result<IdxArray, IdxError> {
    let read_err = |source: std::io::Error| {
        if gzip {
            IdxError::Gzip {
                path: path.to_path_buf(),
                source,
            }
        } else {
            IdxError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    };
    let mut magic = Vec::with_capacity(4);
    (&mut reader)
        .take(4)
        .read_to_end(&mut magic)
        .map_err(read_err)?;
    if magic.is_empty() {
        return Err(IdxError::Empty {
            path: path.to_path_buf(),
        });
    }
    if magic.len() < 4 {
        return Err(IdxError::TruncatedHeader {
            path: path.to_path_buf(),
            expected: 4,
            found: magic.len(),
        });
    }
    let magic = [magic[0], magic[1], magic[2], magic[3]];
    if magic[0] != 0 || magic[1] != 0 || magic[2] != UBYTE {
        return Err(IdxError::BadMagic {
            path: path.to_path_buf(),
            found: magic,
        });
    }
    let found_rank = magic[3];
    let rank_ok = match rank {
        Some(r) => found_rank == r,
        None => (1..=MAX_RANK).contains(&found_rank),
    };
    if !rank_ok {
        return Err(IdxError::BadRank {
            path: path.to_path_buf(),
            expected: rank.map_or_else(|| format!("1 to {MAX_RANK}"), |r| r.to_string()),
            found: found_rank,
        });
    }
    let header_len = 4 + 4 * found_rank as usize;
    let mut raw_dims = Vec::with_capacity(4 * found_rank as usize);
    (&mut reader)
        .take(4 * found_rank as u64)
        .read_to_end(&mut raw_dims)
        .map_err(read_err)?;
    if raw_dims.len() < 4 * found_rank as usize {
        return Err(IdxError::TruncatedHeader {
            path: path.to_path_buf(),
            expected: header_len,
            found: 4 + raw_dims.len(),
        });
    }
    let dims32: Vec<u32> = raw_dims
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if let Some(axis) = dims32.iter().position(|&d| d == 0) {
        return Err(IdxError::ZeroDimension {
            path: path.to_path_buf(),
            axis,
        });
    }
    let dims: Vec<usize> = dims32.iter().map(|&d| d as usize).collect();
    let total = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&t| t <= isize::MAX as usize)
        .ok_or_else(|| IdxError::TooLarge {
            path: path.to_path_buf(),
            dims: dims32.clone(),
        })?;
    // Read at most the declared size plus one byte (to detect trailing data); the buffer
    // grows with the bytes actually present, never with the header's claim.
    let mut data = Vec::new();
    (&mut reader)
        .take(total as u64 + 1)
        .read_to_end(&mut data)
        .map_err(read_err)?;
    let declared = dims[0];
    let item_bytes = total / declared;
    if data.len() < total {
        let whole = data.len() / item_bytes;
        let partial = data.len() % item_bytes;
        return Err(if partial > 0 {
            IdxError::Truncated {
                path: path.to_path_buf(),
                item: whole,
                found: partial,
                item_bytes,
                declared,
            }
        } else {
            IdxError::CountExceedsData {
                path: path.to_path_buf(),
                declared,
                available: whole,
                item_bytes,
            }
        });
    }
    if data.len() > total {
        return Err(IdxError::TrailingData {
            path: path.to_path_buf(),
            declared,
        });
    }
    Ok(IdxArray { dims, data })
}
