//! Feeds arbitrary bytes to the segment reader, both as a whole file and
//! behind a valid header (so the fuzzer reaches frame parsing at once), and
//! decodes every payload it yields. The reader must never panic, must always
//! move forward, and must report offsets inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use monitor_recorder::format::{Footer, Loss, SegmentHeader, FOOTER_FRAME_LEN};
use monitor_recorder::{ReadError, SegmentReader};

#[derive(Deserialize)]
#[allow(dead_code)]
struct Event {
    kind: u16,
    pid: u32,
    cgroup: u64,
    ret: i64,
    comm: String,
    args: Vec<String>,
    container: Option<String>,
    ancestors: Vec<(u32, String)>,
}

fn read(bytes: &[u8]) {
    let len = bytes.len() as u64;
    let Ok(mut r) = SegmentReader::new("fuzz.vlog", bytes) else {
        return;
    };
    let mut pos = r.position();
    while let Some(item) = r.next_frame() {
        match item {
            Ok(f) => {
                assert!(f.offset >= pos && f.offset + f.frame_len() <= len);
                let p = r.payload(&f);
                let _ = monitor_recorder::typed::decode::<Event>(p);
                let _ = Loss::decode(p);
                let _ = Footer::decode(p);
            }
            Err(e) => {
                let _ = e.to_string();
                match e {
                    ReadError::Corrupt {
                        offset,
                        skipped,
                        resumed_at,
                        ..
                    } => {
                        assert!(offset >= pos && offset + skipped <= len);
                        assert!(resumed_at.is_none_or(|r| r > offset && r < len));
                    }
                    ReadError::TruncatedTail { offset, bytes, .. } => {
                        assert!(offset >= pos && offset + bytes == len);
                    }
                    _ => {}
                }
            }
        }
        let now = r.position();
        assert!(now > pos || now == len, "no progress at {pos}");
        pos = now;
    }
    if bytes.len() >= FOOTER_FRAME_LEN {
        let _ = Footer::from_frame(&bytes[bytes.len() - FOOTER_FRAME_LEN..]);
    }
}

fuzz_target!(|data: &[u8]| {
    read(data);
    let mut framed = SegmentHeader::encode(0, 1, "fuzz", "fuzz/1");
    framed.extend_from_slice(data);
    read(&framed);
});
