//! The global heap of an SHD/SSC file: the heap IDs of a variable-length dataset resolved to
//! the bytes of their objects (HDF5 file-format specification, section III.E), every length
//! and address checked against the file before it is read.

use super::super::EventError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A heap ID: the element of a variable-length dataset.
#[derive(Clone, Copy, Debug)]
pub(super) struct HeapId {
    /// Number of elements in the sequence.
    pub(super) length: u32,
    /// Address of the global heap collection (relative to the base address).
    collection: u64,
    /// The object's index in the collection.
    index: u16,
}

/// A parsed global heap collection: object index → (start, size) of its data in the file.
type Collection = HashMap<u16, (usize, usize)>;

/// The global heap collections of a file in memory, parsed on first use.
pub(super) struct GlobalHeap<'f> {
    path: PathBuf,
    bytes: &'f [u8],
    base: u64,
    offset_size: usize,
    length_size: usize,
    /// Per collection address: object index → (start, size) of its data in `bytes`.
    collections: std::cell::RefCell<HashMap<u64, Collection>>,
}

impl<'f> GlobalHeap<'f> {
    pub(super) fn new(path: &Path, file: &'f hdf5_pure::File) -> Self {
        let sb = file.superblock();
        GlobalHeap {
            path: path.to_path_buf(),
            bytes: file.as_bytes(),
            base: sb.base_address.get(),
            offset_size: sb.offset_size as usize,
            length_size: sb.length_size as usize,
            collections: Default::default(),
        }
    }

    fn err(&self, location: String, reason: String) -> EventError {
        EventError::malformed(&self.path, location, reason)
    }

    /// The heap IDs of a variable-length dataset.
    pub(super) fn ids(
        &self,
        ds: &hdf5_pure::Dataset,
        name: &str,
    ) -> Result<Vec<HeapId>, EventError> {
        let raw = ds
            .read_raw()
            .map_err(|e| self.err(format!("dataset {name}"), format!("unreadable: {e}")))?;
        let id_size = 4 + self.offset_size + 4;
        if raw.len() % id_size != 0 {
            return Err(self.err(
                format!("dataset {name}"),
                format!(
                    "{} bytes of heap IDs is not a multiple of {id_size}",
                    raw.len()
                ),
            ));
        }
        Ok(raw
            .chunks_exact(id_size)
            .map(|c| {
                let length = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                let mut addr = [0u8; 8];
                addr[..self.offset_size].copy_from_slice(&c[4..4 + self.offset_size]);
                let i = 4 + self.offset_size;
                let index = u32::from_le_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
                HeapId {
                    length,
                    collection: u64::from_le_bytes(addr),
                    index: index.min(u16::MAX as u32) as u16,
                }
            })
            .collect())
    }

    /// The bytes of the object `id` names, checked to hold `id.length` elements of
    /// `elem_size` bytes.
    pub(super) fn object(
        &self,
        id: &HeapId,
        elem_size: usize,
        name: &str,
        sample: usize,
    ) -> Result<&'f [u8], EventError> {
        let location = || format!("dataset {name}, sample {sample}");
        let want = (id.length as usize).checked_mul(elem_size);
        if id.length == 0 {
            return Ok(&[]);
        }
        let mut cols = self.collections.borrow_mut();
        let collection = match cols.entry(id.collection) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(
                self.parse_collection(id.collection)
                    .map_err(|reason| self.err(location(), reason))?,
            ),
        };
        let (start, size) = *collection.get(&id.index).ok_or_else(|| {
            self.err(
                location(),
                format!(
                    "heap object {} not in the collection at {}",
                    id.index, id.collection
                ),
            )
        })?;
        match want {
            Some(w) if w <= size => Ok(&self.bytes[start..start + w]),
            _ => Err(self.err(
                location(),
                format!(
                    "the sequence claims {} elements but its heap object holds {size} bytes",
                    id.length
                ),
            )),
        }
    }

    /// Parses the global heap collection at `address`: signature `GCOL`, version 1, three
    /// reserved bytes, the collection size; then objects (index u16, reference count u16,
    /// four reserved bytes, size, data padded to 8 bytes) until index 0 (free space).
    fn parse_collection(&self, address: u64) -> Result<HashMap<u16, (usize, usize)>, String> {
        let at = address
            .checked_add(self.base)
            .and_then(|a| usize::try_from(a).ok())
            .filter(|&a| a < self.bytes.len())
            .ok_or_else(|| format!("global heap address {address} outside the file"))?;
        let b = self.bytes;
        let header = 8 + self.length_size;
        if b.len() - at < header || &b[at..at + 4] != b"GCOL" {
            return Err(format!("no global heap collection (GCOL) at byte {at}"));
        }
        let read_len = |pos: usize| -> Option<u64> {
            let s = b.get(pos..pos + self.length_size)?;
            let mut buf = [0u8; 8];
            buf[..self.length_size].copy_from_slice(s);
            Some(u64::from_le_bytes(buf))
        };
        let size = read_len(at + 8).ok_or("truncated collection header")?;
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| at.checked_add(s))
            .filter(|&e| e <= b.len())
            .ok_or_else(|| format!("global heap collection at byte {at} claims {size} bytes, past the end of the file"))?;
        let mut objects = HashMap::new();
        let mut pos = at + header;
        let object_header = 8 + self.length_size;
        while pos + object_header <= end {
            let index = u16::from_le_bytes([b[pos], b[pos + 1]]);
            if index == 0 {
                break;
            }
            let obj_size = read_len(pos + 8).ok_or("truncated heap object")?;
            let data = pos + object_header;
            let obj_size = usize::try_from(obj_size)
                .ok()
                .filter(|&s| s <= end - data)
                .ok_or_else(|| format!("heap object {index} at byte {pos} claims {obj_size} bytes, past its collection"))?;
            objects.insert(index, (data, obj_size));
            let padded = obj_size.div_ceil(8) * 8;
            pos = data.saturating_add(padded);
        }
        Ok(objects)
    }
}
