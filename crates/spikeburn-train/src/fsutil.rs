//! Crash-safe file output: write to a temporary name in the same directory, flush it to the
//! disk, rename it over the target, and flush the directory, so that after a crash or a power
//! loss a reader finds either the old file or the complete new one, never an empty or partial
//! file (the rename is only durable once the directory entry is synced: `rename(2)`,
//! `fsync(2)`; the same sequence as SQLite's and PostgreSQL's).

use crate::error::TrainError;
use std::path::{Path, PathBuf};

/// The temporary name used while `path` is being written: `.NAME.PID-K.tmp` beside it, with
/// the process id and a counter of this process, so that processes (the shards of a sweep on a
/// shared file system) and threads writing the same file never write into one temporary file.
pub fn temp_path(path: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}-{k}.tmp", std::process::id()))
}

/// An I/O error on `path`.
pub fn io_error(path: &Path) -> impl Fn(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `path` through `write(temp)`, then renames the temporary file over `path`, so a
/// reader sees either the old file or the complete new one. On error the temporary file is
/// removed and `path` is left as it was.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), TrainError>,
) -> Result<(), TrainError> {
    let tmp = temp_path(path);
    if let Err(e) = write(&tmp).and_then(|()| sync_file(&tmp)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error(path)(e)
    })?;
    sync_parent(path)
}

/// Flushes the contents of the file `path` to the disk (`fsync`).
pub fn sync_file(path: &Path) -> Result<(), TrainError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_error(path))
}

/// Flushes the directory `dir` (its entries: files created, renamed or removed in it) to the
/// disk. A no-op where directories cannot be opened for syncing (Windows).
pub fn sync_dir(dir: &Path) -> Result<(), TrainError> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(io_error(dir))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// [`sync_dir`] of the directory that holds `path`.
pub fn sync_parent(path: &Path) -> Result<(), TrainError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => sync_dir(Path::new(".")),
    }
}

/// Writes `bytes` to `path` atomically (see [`write_atomically`]).
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    write_atomically(path, |tmp| {
        std::fs::write(tmp, bytes).map_err(io_error(tmp))
    })
}
