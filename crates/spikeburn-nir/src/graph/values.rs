//! The values a graph holds: parameter arrays and metadata.

use std::collections::BTreeMap;

use crate::error::{NirError, Result};

/// A dense row-major `f32` array with an explicit shape (an empty shape is a scalar).
///
/// The invariant `data.len() == shape.iter().product()` always holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    shape: Vec<usize>,
    data: Vec<f32>,
}

impl Array {
    /// An array of the given shape; fails with [`NirError::ArrayShape`] when `data` does not
    /// hold exactly `shape.iter().product()` elements.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let expected = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .unwrap_or(usize::MAX);
        if expected != data.len() {
            return Err(NirError::ArrayShape {
                name: String::new(),
                shape,
                expected,
                found: data.len(),
            });
        }
        Ok(Self { shape, data })
    }

    /// A one-dimensional array of shape `[data.len()]`.
    pub fn vector(data: Vec<f32>) -> Self {
        Self {
            shape: vec![data.len()],
            data,
        }
    }

    /// A zero-dimensional array (shape `[]`) holding one value.
    pub fn scalar(value: f32) -> Self {
        Self {
            shape: Vec::new(),
            data: vec![value],
        }
    }

    /// An array of the given shape with every element equal to `value`.
    ///
    /// # Panics
    /// Never for shapes whose element count fits in memory; the allocation itself may abort
    /// for absurd shapes like any `vec!`.
    pub fn full(shape: Vec<usize>, value: f32) -> Self {
        let n = shape.iter().product();
        Self {
            shape,
            data: vec![value; n],
        }
    }

    /// The shape (empty for a scalar).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// Consumes the array, returning its elements in row-major order.
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the array holds no element (some dimension is 0).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The same shape with `f` applied to every element.
    #[must_use]
    pub fn map(&self, f: impl FnMut(f32) -> f32) -> Self {
        Self {
            shape: self.shape.clone(),
            data: self.data.iter().copied().map(f).collect(),
        }
    }
}

/// One metadata value. NIR metadata is free-form; these are the kinds `nir.write` produces for
/// Python strings, floats, integers, NumPy arrays and nested dictionaries.
///
/// Booleans written by h5py (an HDF5 enum) are read as [`MetaValue::Int`] 0 or 1.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    /// A UTF-8 string (scalar variable-length string dataset).
    String(String),
    /// A floating-point scalar (stored as `f64`).
    Float(f64),
    /// An integer scalar (stored as `i64`).
    Int(i64),
    /// A string array of the given shape, row-major.
    Strings {
        /// The array's shape.
        shape: Vec<usize>,
        /// The elements.
        data: Vec<String>,
    },
    /// A floating-point array of the given shape, row-major (stored as `f64`).
    Floats {
        /// The array's shape.
        shape: Vec<usize>,
        /// The elements.
        data: Vec<f64>,
    },
    /// An integer array of the given shape, row-major (stored as `i64`).
    Ints {
        /// The array's shape.
        shape: Vec<usize>,
        /// The elements.
        data: Vec<i64>,
    },
    /// A nested dictionary (an HDF5 group).
    Map(Metadata),
}

impl MetaValue {
    /// The value as a float when it is a numeric scalar.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Float(v) => Some(*v),
            #[allow(clippy::cast_precision_loss)]
            Self::Int(v) => Some(*v as f64),
            _ => None,
        }
    }

    /// The value as a string slice when it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }
}

/// Free-form metadata of a graph or node (the `metadata` group in the file).
pub type Metadata = BTreeMap<String, MetaValue>;
