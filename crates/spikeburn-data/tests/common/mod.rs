//! Writers of N-MNIST `.bin` files and AEDAT 3.1 recordings from the format specifications
//! (independently of the readers), and helpers shared by the event-reader tests.
#![allow(dead_code, unused_imports)] // each test file uses its part

pub use spikeburn_data::Split;
pub use spikeburn_data::events::{
    Event, EventError, EventSample, EventSet, Sensor, aedat, dvs_gesture, nmnist,
};
pub use std::io::Write;
pub use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// Writers, from the specifications.

/// An N-MNIST event: x, y, ON polarity, 23-bit timestamp (µs).
#[derive(Clone, Copy)]
pub struct Nm(pub u8, pub u8, pub bool, pub u32);

/// N-MNIST `.bin` bytes (Orchard et al. 2015): per event x, y, then the 23-bit big-endian
/// timestamp with the polarity in the top bit of its first byte.
pub fn nmnist_bytes(events: &[Nm]) -> Vec<u8> {
    let mut out = Vec::new();
    for &Nm(x, y, on, t) in events {
        assert!(t < 1 << 23, "the writer takes 23-bit timestamps");
        let ts = t.to_be_bytes(); // [0, bits 22-16, bits 15-8, bits 7-0]
        out.extend([x, y, ts[1] | if on { 0x80 } else { 0 }, ts[2], ts[3]]);
    }
    out
}

pub fn nm_event(e: Nm) -> Event {
    Event {
        t: u64::from(e.3),
        x: u16::from(e.0),
        y: u16::from(e.1),
        p: u8::from(e.2),
    }
}

/// An AEDAT 3.1 polarity event: x, y, ON polarity, 31-bit timestamp, valid bit.
#[derive(Clone, Copy)]
pub struct Pol {
    pub x: u32,
    pub y: u32,
    pub on: bool,
    pub ts: u32,
    pub valid: bool,
}

pub fn pol(x: u32, y: u32, on: bool, ts: u32) -> Pol {
    Pol {
        x,
        y,
        on,
        ts,
        valid: true,
    }
}

pub const AEDAT_HEADER: &str = "#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#Start-Time: 2017-01-01 00:00:00\r\n#!END-HEADER\r\n";

/// A 28-byte little-endian AEDAT 3.1 packet header.
pub fn packet_header(kind: i16, size: i32, ts_offset: i32, overflow: i32, number: i32) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(kind.to_le_bytes());
    out.extend(1i16.to_le_bytes()); // eventSource
    for v in [
        size, ts_offset, overflow, number, /* capacity */
        number, number, /* valid */
    ] {
        out.extend(v.to_le_bytes());
    }
    out
}

/// A polarity packet (eventType 1, 8-byte events: data word, then timestamp).
pub fn polarity_packet(overflow: i32, events: &[Pol]) -> Vec<u8> {
    let mut out = packet_header(1, 8, 4, overflow, events.len() as i32);
    for e in events {
        let data = u32::from(e.valid) | (u32::from(e.on) << 1) | (e.y << 2) | (e.x << 17);
        out.extend(data.to_le_bytes());
        out.extend(e.ts.to_le_bytes());
    }
    out
}

/// A packet of another event type: `number` events of `size` bytes of filler.
pub fn other_packet(kind: i16, size: i32, number: i32) -> Vec<u8> {
    let mut out = packet_header(kind, size, 4, 0, number);
    out.extend((0..size * number).map(|i| (i % 251) as u8 | 1));
    out
}

pub fn aedat_file(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = AEDAT_HEADER.as_bytes().to_vec();
    for p in packets {
        out.extend(p);
    }
    out
}

pub fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create test folder");
    }
    std::fs::write(path, bytes).expect("write test file");
    path.to_path_buf()
}

/// The fields `(path, dataset, layout, url)` of the `MissingData` error a reader returned;
/// panics on any other outcome.
pub fn missing_data(
    read: Result<EventSet, EventError>,
) -> (PathBuf, &'static str, &'static str, &'static str) {
    match read {
        Err(EventError::MissingData {
            path,
            dataset,
            layout,
            url,
        }) => (path, dataset, layout, url),
        other => panic!("expected MissingData, got {other:?}"),
    }
}

pub fn dvs(x: u32, y: u32, on: bool, t: u64) -> Event {
    Event {
        t,
        x: x as u16,
        y: y as u16,
        p: u8::from(on),
    }
}
