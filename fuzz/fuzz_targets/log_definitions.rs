//! Feeds arbitrary frames, behind a valid segment header, to the typed
//! reader with a payload type whose values name definitions that may
//! name others (as a process names its exec context): definitions that
//! are short, out of order, far apart, naming themselves or later ones,
//! or damaged must give errors, never a panic, a hang or unbounded memory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use monitor_recorder::format::{
    frame_prefix, SegmentHeader, FRAME_OVERHEAD, KIND_DEFINE, KIND_EVENT,
};
use monitor_recorder::{dict, EventReader, LogReader};
use serde::{Deserialize, Deserializer};

/// How many values a definition's bytes stand for, itself included: a
/// list of the numbers it holds.
fn size(bytes: &[u8]) -> Result<u64, ()> {
    let ids: Vec<u64> = monitor_recorder::typed::decode(bytes).map_err(|_| ())?;
    let mut n = 1u64;
    for id in ids {
        n = n.saturating_add(dict::resolve(id, size).ok_or(())??);
    }
    Ok(n)
}

/// An event: the numbers of the values it names.
struct Event;

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        for id in Vec::<u64>::deserialize(d)? {
            dict::resolve(id, size)
                .ok_or_else(|| serde::de::Error::custom("not defined"))?
                .map_err(|()| serde::de::Error::custom("bad definition"))?;
        }
        Ok(Event)
    }
}

/// A segment of the records `data` spells: a kind byte (low bits: an
/// event, a definition, or any kind), a length byte, the payload; their
/// frames checksummed, so the reader gets to the definitions (a set top
/// bit damages the frame instead).
fn segment(data: &[u8]) -> Vec<u8> {
    let mut out = SegmentHeader::encode(0, 1, "fuzz", "fuzz/1");
    let mut rest = data;
    let mut seq = 1;
    while let [k, len, tail @ ..] = rest {
        let (payload, more) = tail.split_at((*len as usize).min(tail.len()));
        let kind = match k & 0x03 {
            0 | 1 => KIND_EVENT,
            2 => KIND_DEFINE,
            _ => k & 0x7f,
        };
        let start = out.len();
        out.extend_from_slice(&frame_prefix(kind, seq, seq, payload));
        out.extend_from_slice(payload);
        if k & 0x80 != 0 {
            let at = start + FRAME_OVERHEAD + payload.len() / 2;
            if let Some(b) = out.get_mut(at) {
                *b ^= 0x01;
            }
        }
        seq += 1;
        rest = more;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("vigil-fuzz-{}.vlog", std::process::id()));
    std::fs::write(&path, segment(data)).unwrap();
    let log = LogReader::open(&path).unwrap();
    for item in EventReader::<Event>::new(&log) {
        if let Err(e) = item {
            let _ = e.to_string();
        }
    }
    let _ = std::fs::remove_file(&path);
});
