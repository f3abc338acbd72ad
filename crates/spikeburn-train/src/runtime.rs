//! Process-level tuning for training programs.

/// Keeps large buffers in the heap instead of returning them to the operating system.
///
/// A training step allocates and frees tensors of several megabytes many times. glibc's
/// `malloc` serves blocks above a dynamic threshold with `mmap` and unmaps them on `free`, so
/// every such allocation pays for fresh zeroed pages (page faults): measured here, 40% of a
/// `mnist-mlp` training step (89 ms → 54 ms on flex with this setting). This raises the
/// `mmap` threshold to its maximum (32 MiB) and keeps up to 1 GiB of freed memory for reuse.
/// Call it once at the start of `main`; it does nothing on other C libraries.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes allocator parameters; it is called before any thread
    // of ours allocates concurrently, and glibc documents it as safe to call at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

/// Starts a new peak-memory measurement of this process ([`peak_memory`]): returns freed heap
/// memory to the system (`malloc_trim`, so that memory a previous measurement freed does not
/// count) and resets the kernel's resident-set high-water mark (`VmHWM`, by writing `5` to
/// `/proc/self/clear_refs`, Linux ≥ 4.0). Returns whether the mark could be reset; elsewhere
/// it does nothing and returns false.
pub fn reset_peak_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory at the top of glibc's heaps.
    unsafe {
        libc::malloc_trim(0);
    }
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The peak resident memory of this process in bytes since it started or since the last
/// [`reset_peak_memory`] (`VmHWM` in `/proc/self/status`); `None` where the system does not
/// report it.
pub fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Touching 256 MiB after a reset raises the peak by at least that much; a second reset
    /// brings it back down once the memory is freed.
    #[test]
    #[cfg(target_os = "linux")]
    fn peak_memory_follows_an_allocation() {
        assert!(reset_peak_memory(), "/proc/self/clear_refs not writable");
        let before = peak_memory().expect("VmHWM");
        let size = 256 << 20;
        let block = vec![1u8; size];
        std::hint::black_box(&block);
        let during = peak_memory().expect("VmHWM");
        assert!(
            during >= before + size as u64 * 9 / 10,
            "{before} -> {during}"
        );
        drop(block);
        assert!(reset_peak_memory());
        let after = peak_memory().expect("VmHWM");
        assert!(after + (size as u64) / 2 < during, "{during} -> {after}");
    }
}
