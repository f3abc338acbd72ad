//! A process-wide table of named, user-supplied functions (custom surrogates and neurons),
//! addressed by the index they were registered at so that handles stay `Copy`.

use std::sync::{Arc, PoisonError, RwLock};

/// Named entries in registration order; registering a name again replaces its entry in place.
pub(crate) struct Registry<T: ?Sized> {
    entries: RwLock<Vec<(String, Arc<T>)>>,
}

impl<T: ?Sized> Registry<T> {
    /// An empty registry (usable in a `static`).
    pub(crate) const fn new() -> Self {
        Self {
            entries: RwLock::new(Vec::new()),
        }
    }

    /// Adds `entry` under `name`, or replaces the entry of that name; returns its index.
    pub(crate) fn insert(&self, name: &str, entry: Arc<T>) -> u32 {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let index = match entries.iter().position(|(n, _)| n == name) {
            Some(i) => {
                entries[i].1 = entry;
                i
            }
            None => {
                entries.push((name.to_string(), entry));
                entries.len() - 1
            }
        };
        index as u32
    }

    fn read<R>(&self, f: impl FnOnce(&[(String, Arc<T>)]) -> R) -> R {
        f(&self.entries.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The index of `name`.
    pub(crate) fn find(&self, name: &str) -> Option<u32> {
        self.read(|e| e.iter().position(|(n, _)| n == name).map(|i| i as u32))
    }

    /// The name at `index` (empty if there is none).
    pub(crate) fn name(&self, index: u32) -> String {
        self.read(|e| {
            e.get(index as usize)
                .map(|(n, _)| n.clone())
                .unwrap_or_default()
        })
    }

    /// The entry at `index`.
    pub(crate) fn get(&self, index: u32) -> Option<Arc<T>> {
        self.read(|e| e.get(index as usize).map(|(_, f)| f.clone()))
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.read(<[_]>::len)
    }

    /// Every name, in registration order.
    pub(crate) fn names(&self) -> Vec<String> {
        self.read(|e| e.iter().map(|(n, _)| n.clone()).collect())
    }
}
