//! Named `f32` tensors in the safetensors format (<https://github.com/huggingface/safetensors>),
//! the weight format PyTorch tools load with `safetensors.torch.load_file`.
//!
//! A safetensors file is an 8-byte little-endian header length, a JSON header mapping each
//! tensor name to its dtype, shape and byte range (plus an optional `__metadata__` map of
//! strings), then the raw little-endian tensor bytes. This module writes `F32` tensors and
//! reads `F32`, `F64`, `F16` and `BF16` ones (converted to `f32`). Tensor names are chosen by
//! the caller.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ::safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{NirError, Result, in_memory};
use crate::graph::Array;
use crate::write::write_atomic;

/// The content of a safetensors file: tensors by name, and the header's `__metadata__`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tensors {
    /// The tensors by name.
    pub tensors: BTreeMap<String, Array>,
    /// Free-form string metadata (`__metadata__` in the header; empty when absent).
    pub metadata: BTreeMap<String, String>,
}

/// Encodes `tensors` (as `F32`) and `metadata` as the bytes of a safetensors file.
pub fn safetensors_to_bytes(
    tensors: &BTreeMap<String, Array>,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let buffers: Vec<(&String, &Array, Vec<u8>)> = tensors
        .iter()
        .map(|(name, a)| {
            let bytes = a.data().iter().flat_map(|v| v.to_le_bytes()).collect();
            (name, a, bytes)
        })
        .collect();
    let views = buffers
        .iter()
        .map(|(name, a, bytes)| {
            TensorView::new(Dtype::F32, a.shape().to_vec(), bytes)
                .map(|view| (name.as_str(), view))
                .map_err(|e| codec_error(format!("tensor `{name}`: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let info: Option<HashMap<String, String>> = if metadata.is_empty() {
        None
    } else {
        Some(
            metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    };
    ::safetensors::tensor::serialize(views, info).map_err(|e| codec_error(e.to_string()))
}

fn codec_error(detail: String) -> NirError {
    NirError::Safetensors {
        file: in_memory(),
        detail,
    }
}

/// Writes `tensors` (as `F32`) and `metadata` to `path` atomically (temporary file + rename).
pub fn write_safetensors(
    path: impl AsRef<Path>,
    tensors: &BTreeMap<String, Array>,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let path = path.as_ref();
    let bytes = safetensors_to_bytes(tensors, metadata).map_err(|e| e.with_file(path))?;
    write_atomic(path, &bytes)
}

/// Reads every tensor of the safetensors file at `path`, converted to `f32`.
pub fn read_safetensors(path: impl AsRef<Path>) -> Result<Tensors> {
    let path = path.as_ref();
    let bytes = crate::read::read_bytes(path)?;
    read_safetensors_bytes(&bytes).map_err(|e| e.with_file(path))
}

/// Decodes the bytes of a safetensors file (tensors converted to `f32`).
pub fn read_safetensors_bytes(bytes: &[u8]) -> Result<Tensors> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| codec_error(e.to_string()))?;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| codec_error(e.to_string()))?;
    let metadata = header
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let mut tensors = BTreeMap::new();
    for (name, view) in st.iter() {
        let data = to_f32(view.dtype(), view.data()).ok_or_else(|| NirError::SafetensorsDtype {
            file: in_memory(),
            tensor: name.to_string(),
            found: format!("{:?}", view.dtype()),
        })?;
        let array = Array::new(view.shape().to_vec(), data)
            .map_err(|e| codec_error(format!("tensor `{name}`: {e}")))?;
        tensors.insert(name.to_string(), array);
    }
    Ok(Tensors { tensors, metadata })
}

fn to_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    match dtype {
        Dtype::F32 => Some(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        #[allow(clippy::cast_possible_truncation)]
        Dtype::F64 => Some(
            bytes
                .chunks_exact(8)
                .map(|c| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    f64::from_le_bytes(b) as f32
                })
                .collect(),
        ),
        Dtype::BF16 => Some(
            bytes
                .chunks_exact(2)
                .map(|c| f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16))
                .collect(),
        ),
        Dtype::F16 => Some(
            bytes
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
        ),
        _ => None,
    }
}

/// IEEE 754 binary16 to binary32 (exact; handles subnormals, infinities and NaN).
fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let mant = u32::from(h & 0x3ff);
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: value = m * 2^-24.
            let v = m as f32 * f32::from_bits(0x3380_0000);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, m) => sign | 0x7fc0_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::f16_to_f32;

    #[test]
    fn f16_conversion() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000);
    }
}
