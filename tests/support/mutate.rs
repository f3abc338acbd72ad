//! Seeded mutations of valid files for the readers' tests (shared by the test binaries that
//! include it with `#[path]`).

/// `count` seeded mutations of `valid`: bytes overwritten with random or extreme values,
/// 32-bit words set to extremes, truncation, a duplicated span; each handed to `parse`, which
/// must return (a value or an error) without panicking; both outcomes must occur (the
/// mutations reach the parser's checks). Not coverage-guided like the cargo-fuzz targets
/// (`fuzz/`), but it runs with every `cargo test` and names the mutation that failed.
pub fn survive_mutations(name: &str, valid: &[u8], count: u64, parse: impl Fn(&[u8]) -> bool) {
    let mut accepted = 0;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for case in 0..count {
        let mut bytes = valid.to_vec();
        let edits = 1 + next() % 6;
        for _ in 0..edits {
            let len = bytes.len().max(1);
            let at = (next() as usize) % len;
            match next() % 5 {
                0 if !bytes.is_empty() => bytes[at] = next() as u8,
                1 if at + 4 <= bytes.len() => {
                    let extreme = [0u32, u32::MAX, 0x7FFF_FFFF, 0x8000_0000][next() as usize % 4];
                    bytes[at..at + 4].copy_from_slice(&extreme.to_le_bytes());
                }
                2 => bytes.truncate(at),
                3 if !bytes.is_empty() => {
                    let end = (at + 1 + (next() as usize) % 64).min(bytes.len());
                    let span = bytes[at..end].to_vec();
                    bytes.splice(at..at, span);
                }
                _ if !bytes.is_empty() => bytes[at] ^= 1 << (next() % 8),
                _ => {}
            }
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(&bytes)));
        match outcome {
            Ok(ok) => accepted += usize::from(ok),
            Err(_) => panic!("{name}: mutation {case} ({} bytes) panicked", bytes.len()),
        }
    }
    assert!(
        accepted > 0 && accepted < count as usize,
        "{name}: {accepted} of {count} mutations parsed"
    );
}
