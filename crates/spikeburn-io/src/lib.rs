//! # spikeburn-io
//!
//! Crash-safe file output, the one place in spikeburn where files are replaced: run folders
//! and checkpoints (spikeburn-train), figures (spikeburn-figures), NIR and safetensors exports
//! (spikeburn-nir) and the event-frame cache (spikeburn-data) all write through it.
//!
//! A file is written under a temporary name in its own folder, flushed to the disk
//! (`fsync(2)`), renamed over the target (`rename(2)` is atomic within a file system) and then
//! the folder itself is flushed, since the rename is only durable once the directory entry is
//! on the disk. After a crash or a power loss a reader finds either the old file or the
//! complete new one, never an empty or partial file: the sequence SQLite and PostgreSQL use.
//! On any error the temporary file is removed and the target is left as it was.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("metrics.json");
//! spikeburn_io::write_bytes_atomically(&path, b"{}")?;
//! assert_eq!(std::fs::read(&path)?, b"{}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

use std::io::Write;
use std::path::{Path, PathBuf};

/// An I/O failure on a file or folder: which path, what was being done, and the system's
/// error.
#[derive(Debug, thiserror::Error)]
#[error("{}: {action}: {source}", path.display())]
pub struct IoError {
    /// The file or folder concerned.
    pub path: PathBuf,
    /// What was being done ("writing", "flushing to disk", …).
    pub action: &'static str,
    /// The system's error.
    #[source]
    pub source: std::io::Error,
}

impl IoError {
    /// A closure that wraps a [`std::io::Error`] on `path` during `action`, for `map_err`.
    pub fn on<'a>(
        path: &'a Path,
        action: &'static str,
    ) -> impl FnOnce(std::io::Error) -> IoError + 'a {
        move |source| IoError {
            path: path.to_path_buf(),
            action,
            source,
        }
    }
}

/// The temporary name used while `path` is being written: `.NAME.PID-K.tmp` beside it, with
/// the process id and a counter of this process, so that processes (the shards of a sweep on
/// a shared file system) and threads writing the same file never share a temporary file.
pub fn temp_path(path: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}-{k}.tmp", std::process::id()))
}

/// Writes `path` through `write(temp)`, which creates and fills the temporary file `temp`,
/// then flushes it, renames it over `path` and flushes the folder (see the
/// [crate docs](crate)). On error the temporary file is removed and `path` is left as it was.
/// Errors of this crate name `path`, the file the user asked for, not the temporary name.
///
/// # Errors
/// `write`'s error, or an [`IoError`] (converted into `E`) from flushing or renaming.
pub fn write_atomically<E: From<IoError>>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    let tmp = temp_path(path);
    // A flush failure names the file asked for, not the temporary one.
    let written = write(&tmp).and_then(|()| {
        sync_file(&tmp).map_err(|e| {
            E::from(IoError {
                path: path.to_path_buf(),
                ..e
            })
        })
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(IoError::on(path, "renaming the temporary file to")(e).into());
    }
    sync_parent(path).map_err(E::from)
}

/// Writes `bytes` to `path` atomically (see [`write_atomically`]).
///
/// # Errors
/// The file could not be written, flushed or renamed.
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    write_atomically(path, |tmp| {
        std::fs::write(tmp, bytes).map_err(IoError::on(path, "writing"))
    })
}

/// Writes `path` atomically through a buffered writer: `fill` writes the contents, and the
/// buffer is flushed before the file is (see [`write_atomically`]).
///
/// # Errors
/// `fill`'s error, or the file could not be created, flushed or renamed.
pub fn write_with<E: From<IoError>>(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> Result<(), E>,
) -> Result<(), E> {
    write_atomically(path, |tmp| {
        let file = std::fs::File::create(tmp).map_err(IoError::on(path, "creating"))?;
        let mut w = std::io::BufWriter::new(file);
        fill(&mut w)?;
        w.flush().map_err(IoError::on(path, "writing"))?;
        Ok(())
    })
}

/// Flushes the contents of the file `path` to the disk (`fsync`).
///
/// # Errors
/// The file could not be opened or flushed.
pub fn sync_file(path: &Path) -> Result<(), IoError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(IoError::on(path, "flushing to disk"))
}

/// Flushes the folder `dir` (its entries: files created, renamed or removed in it) to the
/// disk. A no-op where folders cannot be opened for syncing (Windows).
///
/// # Errors
/// The folder could not be opened or flushed.
pub fn sync_dir(dir: &Path) -> Result<(), IoError> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(IoError::on(dir, "flushing the folder to disk"))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// [`sync_dir`] of the folder that holds `path` (the working directory for a bare name).
///
/// # Errors
/// The folder could not be opened or flushed.
pub fn sync_parent(path: &Path) -> Result<(), IoError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => sync_dir(Path::new(".")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.bin");
        std::fs::write(&path, b"old").expect("seed");
        write_bytes_atomically(&path, b"new contents").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"new contents");
        write_with(&path, |w| {
            w.write_all(b"via ")
                .and_then(|()| w.write_all(b"a buffer"))
                .map_err(IoError::on(&path, "writing"))
        })
        .expect("write_with");
        assert_eq!(std::fs::read(&path).expect("read"), b"via a buffer");
        assert_eq!(entries(dir.path()), vec!["a.bin"]);
    }

    /// A failing writer (here, after it wrote half of the file) leaves the old file whole and
    /// no temporary file behind, and its own error comes back unchanged; so does a target that
    /// cannot be replaced (a non-empty folder of that name), whose error names it.
    #[test]
    fn a_failed_write_or_rename_keeps_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("checkpoint.json");
        std::fs::write(&path, b"previous").expect("seed");
        let err = write_atomically(&path, |tmp| {
            std::fs::write(tmp, b"half").map_err(IoError::on(tmp, "writing"))?;
            Err(IoError {
                path: tmp.to_path_buf(),
                action: "writing",
                source: std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full"),
            })
        })
        .expect_err("the writer fails");
        assert_eq!(err.source.kind(), std::io::ErrorKind::StorageFull);
        assert_eq!(std::fs::read(&path).expect("read"), b"previous");

        let taken = dir.path().join("taken");
        std::fs::create_dir(&taken).expect("mkdir");
        std::fs::write(taken.join("inside"), b"x").expect("seed");
        let err = write_bytes_atomically(&taken, b"data").expect_err("a folder is in the way");
        assert_eq!(err.path, taken);
        assert!(err.to_string().contains("renaming"), "{err}");
        assert_eq!(entries(dir.path()), vec!["checkpoint.json", "taken"]);
    }

    /// A folder that does not exist: the error names the file asked for, not the temporary.
    #[test]
    fn a_missing_folder_is_an_error_naming_the_target() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("no/such/run.json");
        let err = write_bytes_atomically(&path, b"{}").expect_err("no folder");
        assert_eq!(err.path, path);
        assert_eq!(err.source.kind(), std::io::ErrorKind::NotFound);
        let err = write_with(&path, |_| Ok::<(), IoError>(())).expect_err("no folder");
        assert_eq!(err.path, path);
    }

    #[test]
    fn temporary_names_are_hidden_distinct_and_beside_the_target() {
        let path = Path::new("/runs/a/model.bpk");
        let (a, b) = (temp_path(path), temp_path(path));
        assert_ne!(a, b);
        assert_eq!(a.parent(), path.parent());
        let name = a.file_name().expect("name").to_string_lossy().into_owned();
        assert!(
            name.starts_with(".model.bpk.") && name.ends_with(".tmp"),
            "{name}"
        );
        assert!(name.contains(&std::process::id().to_string()), "{name}");
    }
}
