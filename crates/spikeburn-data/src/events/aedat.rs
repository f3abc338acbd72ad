//! AEDAT 3.1: the packet format that jAER and cAER record DVS cameras in.
//!
//! Specification: iniVation, "AEDAT file formats",
//! <https://inivation.gitlab.io/dv/dv-docs/docs/aedat-formats/> (section AEDAT 3.1).
//!
//! # File format
//!
//! A text header of lines that start with `#`; the first is `#!AER-DAT3.1` and the last
//! `#!END-HEADER` (lines end in `\r\n`, or `\n`). Then packets, each a 28-byte little-endian
//! header followed by `eventNumber × eventSize` bytes of events:
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | i16 | eventType (1 = polarity) |
//! | 2 | i16 | eventSource |
//! | 4 | i32 | eventSize (bytes per event) |
//! | 8 | i32 | eventTSOffset (offset of the timestamp in an event) |
//! | 12 | i32 | eventTSOverflow (high bits of every timestamp in the packet) |
//! | 16 | i32 | eventCapacity |
//! | 20 | i32 | eventNumber |
//! | 24 | i32 | eventValid |
//!
//! A polarity event (eventType 1, eventSize 8) is a little-endian u32 of data — bit 0 valid,
//! bit 1 polarity, bits 2–16 y (15 bits), bits 17–30 x (14 bits) — and a 31-bit timestamp
//! in microseconds at eventTSOffset (4); the full timestamp is
//! `eventTSOverflow << 31 | timestamp`.

use super::{Event, EventError, Sensor};
use std::path::Path;

/// The first header line of an AEDAT 3.1 file.
pub const MAGIC: &str = "#!AER-DAT3.1";

/// The last header line.
pub const END_HEADER: &str = "#!END-HEADER";

/// Bytes in a packet header.
pub const PACKET_HEADER_BYTES: usize = 28;

/// The eventType of polarity events.
pub const POLARITY_EVENT: i16 = 1;

/// Bytes of a polarity event (data and timestamp); packets may declare more.
pub const POLARITY_EVENT_BYTES: usize = 8;

/// Decodes the polarity events of an AEDAT 3.1 file (format in the [module docs](self), after
/// <https://inivation.gitlab.io/dv/dv-docs/docs/aedat-formats/>) in file order.
///
/// Packets of other event types are skipped (their declared size must still lie in the file),
/// and so are events whose valid bit is 0. Timestamps are `eventTSOverflow << 31 | ts` in
/// microseconds. `path` only names the file in errors.
///
/// # Errors
///
/// * [`EventError::Malformed`] at `byte 0` when the first line is not `#!AER-DAT3.1`; for a
///   header line that does not start with `#`, a header without `#!END-HEADER`, a negative
///   packet field, a polarity packet whose eventSize is below 8 or whose eventTSOffset does not
///   leave room for the timestamp, or a negative timestamp (naming the byte offset).
/// * [`EventError::Truncated`] when a packet header or a packet's events extend past the end
///   of the file (naming the packet's byte offset). Nothing is allocated before that check.
/// * [`EventError::OutsideSensor`] when a valid event's address or polarity is not on
///   `sensor` (location `byte N`, the event's offset).
pub fn parse(bytes: &[u8], path: &Path, sensor: Sensor) -> Result<Vec<Event>, EventError> {
    let mut offset = skip_header(bytes, path)?;
    let mut events = Vec::new();
    while offset < bytes.len() {
        let packet = PacketHeader::read(bytes, offset, path)?;
        let body_start = offset + PACKET_HEADER_BYTES;
        let body_len = packet.body_len(offset, path)?;
        let available = bytes.len() - body_start;
        if body_len > available as u64 {
            return Err(EventError::Truncated {
                path: path.to_path_buf(),
                offset: offset as u64,
                what: "AEDAT packet",
                needed: body_len.saturating_add(PACKET_HEADER_BYTES as u64),
                available: (bytes.len() - offset) as u64,
            });
        }
        // body_len <= available, a usize.
        let body_end = body_start + body_len as usize;
        if packet.event_type == POLARITY_EVENT {
            let body = bytes.get(body_start..body_end).unwrap_or_default();
            decode_polarity(&packet, body, body_start, path, sensor, &mut events)?;
        }
        offset = body_end;
    }
    Ok(events)
}

/// Returns the byte offset of the first packet: just past the `#!END-HEADER` line.
fn skip_header(bytes: &[u8], path: &Path) -> Result<usize, EventError> {
    let mut offset = 0;
    loop {
        let rest = bytes.get(offset..).unwrap_or_default();
        let (line, next, ended) = match rest.iter().position(|&b| b == b'\n') {
            Some(n) => (rest.get(..n).unwrap_or_default(), offset + n + 1, true),
            None => (rest, bytes.len(), false),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if offset == 0 && line != MAGIC.as_bytes() {
            let found = if bytes.is_empty() {
                "an empty file".to_string()
            } else {
                format!("`{}`", printable(line))
            };
            return Err(EventError::malformed(
                path,
                "byte 0",
                format!("found {found}, expected the AEDAT 3.1 header line `{MAGIC}`"),
            ));
        }
        if line == END_HEADER.as_bytes() {
            return Ok(next);
        }
        if !ended {
            return Err(EventError::malformed(
                path,
                format!("byte {offset}"),
                format!("the header ends without the line `{END_HEADER}`"),
            ));
        }
        if line.first() != Some(&b'#') {
            return Err(EventError::malformed(
                path,
                format!("byte {offset}"),
                format!(
                    "header line `{}` does not start with `#` (expected `{END_HEADER}` before the packets)",
                    printable(line)
                ),
            ));
        }
        offset = next;
    }
}

/// At most 40 bytes of `line`, with anything but printable ASCII escaped.
fn printable(line: &[u8]) -> String {
    let shown = line.get(..40).unwrap_or(line);
    let mut s: String = shown
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect();
    if shown.len() < line.len() {
        s.push('…');
    }
    s
}

/// A packet header (the fields the reader uses).
struct PacketHeader {
    event_type: i16,
    event_source: i16,
    event_size: i32,
    ts_offset: i32,
    ts_overflow: i32,
    event_capacity: i32,
    event_number: i32,
    event_valid: i32,
}

impl PacketHeader {
    fn read(bytes: &[u8], offset: usize, path: &Path) -> Result<Self, EventError> {
        let header = offset
            .checked_add(PACKET_HEADER_BYTES)
            .and_then(|end| bytes.get(offset..end))
            .ok_or_else(|| EventError::Truncated {
                path: path.to_path_buf(),
                offset: offset as u64,
                what: "AEDAT packet header",
                needed: PACKET_HEADER_BYTES as u64,
                available: bytes.len().saturating_sub(offset) as u64,
            })?;
        let i16_at = |at: usize| {
            header
                .get(at..at + 2)
                .and_then(|b| b.try_into().ok())
                .map_or(0, i16::from_le_bytes)
        };
        let i32_at = |at: usize| {
            header
                .get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map_or(0, i32::from_le_bytes)
        };
        let packet = PacketHeader {
            event_type: i16_at(0),
            event_source: i16_at(2),
            event_size: i32_at(4),
            ts_offset: i32_at(8),
            ts_overflow: i32_at(12),
            event_capacity: i32_at(16),
            event_number: i32_at(20),
            event_valid: i32_at(24),
        };
        for (name, value, at) in [
            ("eventType", i32::from(packet.event_type), 0),
            ("eventSource", i32::from(packet.event_source), 2),
            ("eventSize", packet.event_size, 4),
            ("eventTSOffset", packet.ts_offset, 8),
            ("eventTSOverflow", packet.ts_overflow, 12),
            ("eventCapacity", packet.event_capacity, 16),
            ("eventNumber", packet.event_number, 20),
            ("eventValid", packet.event_valid, 24),
        ] {
            if value < 0 {
                return Err(EventError::malformed(
                    path,
                    format!("byte {}", offset + at),
                    format!("packet field {name} is {value}, expected a number >= 0"),
                ));
            }
        }
        Ok(packet)
    }

    /// Bytes of events after the header: `eventNumber × eventSize`, checked; polarity packets
    /// must have events of at least 8 bytes with room for the timestamp.
    fn body_len(&self, offset: usize, path: &Path) -> Result<u64, EventError> {
        if self.event_type == POLARITY_EVENT {
            if (self.event_size as usize) < POLARITY_EVENT_BYTES {
                return Err(EventError::malformed(
                    path,
                    format!("byte {}", offset + 4),
                    format!(
                        "polarity packet with eventSize {}, expected at least {POLARITY_EVENT_BYTES}",
                        self.event_size
                    ),
                ));
            }
            let ts_end = i64::from(self.ts_offset) + 4;
            if self.ts_offset < 4 || ts_end > i64::from(self.event_size) {
                return Err(EventError::malformed(
                    path,
                    format!("byte {}", offset + 8),
                    format!(
                        "polarity packet with eventTSOffset {} and eventSize {}: the 4-byte timestamp must follow the 4 data bytes within the event",
                        self.ts_offset, self.event_size
                    ),
                ));
            }
        }
        // Both are non-negative i32 values: the product fits in u64.
        Ok(u64::from(self.event_size.unsigned_abs()) * u64::from(self.event_number.unsigned_abs()))
    }
}

/// Appends the valid events of a polarity packet's `body`, which starts at byte `start`.
fn decode_polarity(
    packet: &PacketHeader,
    body: &[u8],
    start: usize,
    path: &Path,
    sensor: Sensor,
    events: &mut Vec<Event>,
) -> Result<(), EventError> {
    let size = packet.event_size.unsigned_abs() as usize;
    let ts_at = packet.ts_offset.unsigned_abs() as usize;
    if size == 0 {
        return Ok(());
    }
    // The body's length was checked against the file: this reservation is justified by data.
    events.reserve(body.len() / size);
    let high = u64::from(packet.ts_overflow.unsigned_abs()) << 31;
    for (i, event) in body.chunks_exact(size).enumerate() {
        let word = |at: usize| {
            event
                .get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u32::from_le_bytes)
        };
        let data = word(0);
        if data & 1 == 0 {
            continue;
        }
        let at = start + i * size;
        let ts = word(ts_at);
        if ts > i32::MAX as u32 {
            return Err(EventError::malformed(
                path,
                format!("byte {}", at + ts_at),
                format!("negative timestamp {}", ts as i32),
            ));
        }
        let p = (data >> 1) & 1;
        let y = (data >> 2) & 0x7FFF;
        let x = (data >> 17) & 0x3FFF;
        // x < 2^14 and y < 2^15 fit in u16.
        let e = Event {
            t: high | u64::from(ts),
            x: x as u16,
            y: y as u16,
            p: p as u8,
        };
        if !sensor.contains(&e) {
            return Err(EventError::OutsideSensor {
                path: path.to_path_buf(),
                location: format!("byte {at}"),
                x,
                y,
                p,
                sensor,
            });
        }
        events.push(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(lines: &[&str]) -> Vec<u8> {
        lines
            .iter()
            .flat_map(|l| format!("{l}\r\n").into_bytes())
            .collect()
    }

    #[test]
    fn events_aedat_header_only() {
        let bytes = header(&[MAGIC, "# comment", END_HEADER]);
        let events = parse(&bytes, Path::new("h.aedat"), Sensor::DVS128).expect("valid");
        assert!(events.is_empty());
        let unix = b"#!AER-DAT3.1\n#!END-HEADER\n";
        assert!(
            parse(unix, Path::new("u.aedat"), Sensor::DVS128)
                .expect("valid")
                .is_empty()
        );
    }

    #[test]
    fn events_aedat_header_errors() {
        let p = Path::new("x.aedat");
        for bad in [
            &b""[..],
            b"#!AER-DAT2.0\r\n",
            b"#!AER-DAT3.1",
            b"#!AER-DAT3.1\r\nno hash\r\n",
        ] {
            assert!(
                matches!(
                    parse(bad, p, Sensor::DVS128),
                    Err(EventError::Malformed { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn events_aedat_huge_count_is_truncated_not_allocated() {
        let mut bytes = header(&[MAGIC, END_HEADER]);
        let start = bytes.len() as u64;
        for v in [1i16, 0] {
            bytes.extend(v.to_le_bytes());
        }
        for v in [8i32, 4, 0, i32::MAX, i32::MAX, i32::MAX] {
            bytes.extend(v.to_le_bytes());
        }
        match parse(&bytes, Path::new("h.aedat"), Sensor::DVS128) {
            Err(EventError::Truncated { offset, .. }) => assert_eq!(offset, start),
            other => panic!("{other:?}"),
        }
    }
}
