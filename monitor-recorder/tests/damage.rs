//! Damaged logs: torn tails at every cut point, corrupt records in the
//! middle (bad CRC, bad length, bad sync, lying length), garbage and zero
//! tails, and files that are empty, foreign or from a future version. Each
//! gives a typed report naming the file and offset; reading continues.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use monitor_recorder::format::{SegmentHeader, FRAME_OVERHEAD, MAGIC};
use monitor_recorder::{
    Defect, LogReader, LogWriter, ReadError, RecordKind, SegmentReader, WriteError,
};

/// Writes `n` sample events into one closed segment; returns its path.
fn one_segment(dir: &Path, n: u64) -> std::path::PathBuf {
    let mut cfg = small_config();
    cfg.max_segment_bytes = 1 << 20;
    let mut w = LogWriter::open(dir, cfg).unwrap();
    for i in 0..n {
        let p = postcard_bytes(i);
        w.append(RecordKind::Event, ts(i), &p).unwrap();
    }
    w.close().unwrap();
    let segs = segments(dir);
    assert_eq!(segs.len(), 1);
    segs[0].clone()
}

fn postcard_bytes(i: u64) -> Vec<u8> {
    monitor_recorder::typed::encode_into(&sample(i), Vec::new()).unwrap()
}

#[test]
fn torn_tail_at_every_byte_of_the_last_record() {
    let dir = tempfile::tempdir().unwrap();
    let seg = one_segment(dir.path(), 20);
    let full = fs::read(&seg).unwrap();
    let (recs, errs) = read_all(&seg);
    assert!(errs.is_empty());
    let last = recs.last().unwrap();
    assert_eq!(last.seq, 20);
    let last_start = last.offset as usize;
    // Cut anywhere in the last event and in the footer after it.
    for cut in last_start..full.len() {
        fs::write(&seg, &full[..cut]).unwrap();
        let (recs, errs) = read_all(&seg);
        let expect = if cut < last_start + FRAME_OVERHEAD + last.payload.len() {
            19
        } else {
            20
        };
        assert_eq!(recs.len(), expect, "cut at {cut}");
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(r.payload, postcard_bytes(i as u64), "cut at {cut}");
        }
        let (events, _) = read_events(&seg);
        assert_eq!(events.len(), expect, "cut at {cut}");
        let tail_start = if expect == 19 {
            last_start
        } else {
            last_start + FRAME_OVERHEAD + last.payload.len()
        };
        if cut == tail_start {
            assert!(errs.is_empty(), "clean cut at {cut}: {errs:?}");
        } else {
            assert_eq!(errs.len(), 1, "cut at {cut}: {errs:?}");
            match &errs[0] {
                ReadError::TruncatedTail {
                    path,
                    offset,
                    bytes,
                    zero_filled: false,
                } => {
                    assert_eq!(path, &seg);
                    assert_eq!(*offset as usize, tail_start, "cut at {cut}");
                    assert_eq!(*bytes as usize, cut - tail_start);
                }
                other => panic!("cut at {cut}: expected truncated tail, got {other}"),
            }
        }
        let s = monitor_recorder::verify(&seg).unwrap();
        assert!(s.is_intact(), "cut at {cut}: {s}");
        assert_eq!(s.truncated_tails.len(), usize::from(cut != tail_start));
    }
}

#[test]
fn corrupt_records_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let seg = one_segment(dir.path(), 30);
    let full = fs::read(&seg).unwrap();
    let (recs, _) = read_all(&seg);
    let victim = &recs[10];
    let off = victim.offset as usize;
    let next = recs[11].offset;

    // (what to damage, expected defect)
    type Case = (usize, u8, fn(&Defect) -> bool);
    let cases: Vec<Case> = vec![
        (off + 40, 0x55, |d| matches!(d, Defect::BadChecksum { .. })),
        (off + 14, 0x01, |d| matches!(d, Defect::BadChecksum { .. })), // timestamp byte
        (off + 1, 0xff, |d| matches!(d, Defect::BadSync { .. })),
        (off + 11, 0x7f, |d| matches!(d, Defect::BadLength { .. })),
        // Length + 64 KiB points past the end of the file: the frame looks
        // incomplete, but a valid record follows, so it is corruption, not
        // a torn tail.
        (off + 10, 0x01, |d| matches!(d, Defect::Incomplete { .. })),
    ];
    for (at, xor, want) in cases {
        let mut bad = full.clone();
        bad[at] ^= xor;
        fs::write(&seg, &bad).unwrap();
        let (got, errs) = read_all(&seg);
        assert_eq!(got.len(), 29, "damage at {at}");
        assert!(got.iter().all(|r| r.seq != 11));
        assert_eq!(errs.len(), 1, "damage at {at}: {errs:?}");
        match &errs[0] {
            ReadError::Corrupt {
                path,
                offset,
                defect,
                resumed_at,
                skipped,
            } => {
                assert_eq!(path, &seg);
                assert_eq!(*offset, victim.offset);
                assert_eq!(*resumed_at, Some(next));
                assert_eq!(*skipped, next - victim.offset);
                assert!(want(defect), "damage at {at}: {defect}");
            }
            other => panic!("damage at {at}: expected corrupt record, got {other}"),
        }
        let msg = errs[0].to_string();
        assert!(msg.contains(&seg.display().to_string()) && msg.contains(&format!("offset {off}")));
        let s = monitor_recorder::verify(&seg).unwrap();
        assert!(!s.is_intact());
        assert_eq!(s.corrupt.len(), 1);
        assert_eq!(s.corrupt[0].offset, victim.offset);
        assert_eq!(s.events, 29);
    }
}

/// A frame as a reader shows it: offset, kind, timestamp, sequence, payload.
type Shown = (u64, RecordKind, u64, u64, Vec<u8>);

/// Every frame and every problem, in order.
fn frames_of<R: std::io::Read>(mut r: SegmentReader<R>) -> Vec<Result<Shown, String>> {
    let mut out = Vec::new();
    while let Some(item) = r.next_frame() {
        out.push(
            item.map(|f| {
                (
                    f.offset,
                    f.kind,
                    f.timestamp_ns,
                    f.seq,
                    r.payload(&f).to_vec(),
                )
            })
            .map_err(|e| e.to_string()),
        );
    }
    out
}

#[test]
fn a_closed_segment_reads_the_same_in_place_and_through_a_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let seg = one_segment(dir.path(), 40);
    let full = fs::read(&seg).unwrap();
    let (recs, _) = read_all(&seg);
    let (a, b) = (recs[7].offset as usize, recs[25].offset as usize);
    // Intact; a bad checksum; a smashed record (sync marker included);
    // a lying length: each with the footer intact, as a closed segment.
    // (first byte, bytes, xor)
    let cases = [
        (0, 0, 0),
        (a + 40, 1, 0x55),
        (b, 60, 0xA5),
        (a + 10, 1, 0x01),
    ];
    for (case, (at, n, xor)) in cases.into_iter().enumerate() {
        let mut bytes = full.clone();
        bytes[at..at + n].iter_mut().for_each(|x| *x ^= xor);
        fs::write(&seg, &bytes).unwrap();
        // SAFETY: nothing writes the file until both readers are done.
        let mapped = unsafe { SegmentReader::closed(&seg, fs::File::open(&seg).unwrap()) }.unwrap();
        assert!(mapped.is_mapped());
        let mapped = frames_of(mapped);
        let buffered = frames_of(SegmentReader::new(&seg, fs::File::open(&seg).unwrap()).unwrap());
        assert_eq!(mapped, buffered, "case {case}");
        let frames = mapped.iter().filter(|f| f.is_ok()).count();
        assert_eq!(
            frames,
            if case == 0 { 41 } else { 40 },
            "case {case}: {mapped:?}"
        );
    }
}

#[test]
fn corruption_in_a_middle_segment_names_that_segment() {
    let dir = tempfile::tempdir().unwrap();
    let rec = monitor_recorder::Recorder::<SampleEvent>::open(dir.path(), small_config()).unwrap();
    for i in 0..600 {
        rec.record(ts(i), sample(i));
    }
    rec.close().unwrap();
    let segs = segments(dir.path());
    assert!(segs.len() >= 3);
    let victim_seg = &segs[1];
    let mut bytes = fs::read(victim_seg).unwrap();
    let (recs, _) = read_all(victim_seg);
    let victim = &recs[3];
    // Smash the whole middle of the record, sync marker included.
    for b in &mut bytes[victim.offset as usize..victim.offset as usize + 60] {
        *b = 0xA5;
    }
    fs::write(victim_seg, &bytes).unwrap();
    let (events, errs) = read_events(dir.path());
    assert_eq!(events.len(), 599);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].path(), victim_seg.as_path());
    assert!(
        matches!(&errs[0], ReadError::Corrupt { offset, resumed_at: Some(_), .. } if *offset == victim.offset)
    );
    let s = monitor_recorder::verify(dir.path()).unwrap();
    assert_eq!(s.sequence_gaps, vec![(victim.seq - 1, victim.seq + 1)]);
}

#[test]
fn garbage_tail_is_corruption_and_zero_tail_is_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let seg = one_segment(dir.path(), 5);
    let full = fs::read(&seg).unwrap();

    let mut garbage = full.clone();
    garbage.extend((0..300u32).map(|i| (i * 7 + 3) as u8));
    fs::write(&seg, &garbage).unwrap();
    let (recs, errs) = read_all(&seg);
    assert_eq!(recs.len(), 5);
    assert!(
        matches!(&errs[..], [ReadError::Corrupt { offset, resumed_at: None, skipped: 300, .. }] if *offset as usize == full.len()),
        "{errs:?}"
    );

    let mut zeros = full.clone();
    zeros.extend([0u8; 4096]);
    fs::write(&seg, &zeros).unwrap();
    let (recs, errs) = read_all(&seg);
    assert_eq!(recs.len(), 5);
    assert!(
        matches!(
            &errs[..],
            [ReadError::TruncatedTail {
                zero_filled: true,
                bytes: 4096,
                ..
            }]
        ),
        "{errs:?}"
    );
}

#[test]
fn empty_foreign_future_and_broken_headers_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = one_segment(dir.path(), 1);
    let bytes = fs::read(&good).unwrap();
    let header = &bytes[..SegmentHeader::decode(&bytes, false).unwrap().len];

    let f = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        fs::write(&p, bytes).unwrap();
        let err = LogReader::open(&p)
            .unwrap()
            .records()
            .next()
            .expect("an error item")
            .expect_err("must not parse");
        assert_eq!(err.path(), p);
        assert!(err.to_string().contains(name), "{err}");
        err
    };

    let e = f("empty.vlog", b"");
    assert!(matches!(e, ReadError::Empty { .. }), "{e}");
    assert!(e.to_string().contains("offset 0"));

    let e = f(
        "foreign.vlog",
        b"{\"this is\": \"a JSON file, not a log\"}\n",
    );
    assert!(
        matches!(&e, ReadError::Foreign { found, .. } if found.as_slice() == b"{\"this i"),
        "{e}"
    );
    assert!(e.to_string().contains("expected magic 89 56 4c 47"), "{e}");

    let e = f("short.vlog", &MAGIC[..5]);
    assert!(matches!(e, ReadError::TruncatedHeader { .. }), "{e}");

    let mut future = header.to_vec();
    future[8] = 2;
    let e = f("future.vlog", &future);
    assert!(
        matches!(e, ReadError::UnsupportedVersion { found: 2, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("offset 8") && e.to_string().contains("supports version 1"));

    let e = f("cut.vlog", &header[..header.len() - 3]);
    assert!(matches!(e, ReadError::TruncatedHeader { .. }), "{e}");

    let mut flipped = header.to_vec();
    flipped[20] ^= 1;
    let e = f("crc.vlog", &flipped);
    assert!(matches!(e, ReadError::BadHeader { .. }), "{e}");
    assert!(e.to_string().contains("CRC32C"));
}

#[test]
fn a_bad_segment_in_a_directory_does_not_stop_the_read() {
    let dir = tempfile::tempdir().unwrap();
    let rec = monitor_recorder::Recorder::<SampleEvent>::open(dir.path(), small_config()).unwrap();
    for i in 0..300 {
        rec.record(ts(i), sample(i));
    }
    rec.close().unwrap();
    let segs = segments(dir.path());
    let lost = read_all(&segs[1]).0.len();
    fs::write(&segs[1], b"#!/bin/sh\necho not a log\n").unwrap();
    let (events, errs) = read_events(dir.path());
    assert_eq!(events.len(), 300 - lost);
    assert!(matches!(&errs[..], [ReadError::Foreign { path, .. }] if path == &segs[1]));
    let s = monitor_recorder::verify(dir.path()).unwrap();
    assert_eq!(s.bad_segments.len(), 1);
    assert!(!s.is_intact());
}

#[test]
fn a_last_segment_without_its_header_is_a_torn_tail_not_damage() {
    // A writer killed between creating a segment and writing its header
    // leaves it empty or with part of the header; its own resume removes it.
    let dir = tempfile::tempdir().unwrap();
    let good = one_segment(dir.path(), 3);
    let bytes = fs::read(&good).unwrap();
    let header_len = SegmentHeader::decode(&bytes, false).unwrap().len;
    let last = dir.path().join(format!("{:020}.vlog", 1000));
    for unfinished in [&b""[..], &bytes[..header_len / 2]] {
        fs::write(&last, unfinished).unwrap();
        let (events, errs) = read_events(dir.path());
        assert_eq!(events.len(), 3);
        assert!(
            matches!(&errs[..], [e @ ReadError::UnfinishedSegment { path }]
                if path == &last && e.is_truncated_tail()),
            "{errs:?}"
        );
        let s = monitor_recorder::verify(dir.path()).unwrap();
        assert_eq!(s.truncated_tails.len(), 1, "{s:?}");
        assert!(s.is_intact(), "{s:?}");
    }
    // Anywhere else, a segment without its header is damage.
    let first = dir.path().join(format!("{:020}.vlog", 0));
    fs::write(&first, b"").unwrap();
    let (_, errs) = read_events(dir.path());
    assert!(
        matches!(&errs[..], [ReadError::Empty { path }, ReadError::UnfinishedSegment { .. }]
            if path == &first),
        "{errs:?}"
    );
    assert!(!monitor_recorder::verify(dir.path()).unwrap().is_intact());
}

#[test]
fn writer_refuses_to_resume_a_future_version_log() {
    let dir = tempfile::tempdir().unwrap();
    let seg = one_segment(dir.path(), 3);
    let mut bytes = fs::read(&seg).unwrap();
    bytes[8] = 9;
    fs::write(&seg, &bytes).unwrap();
    match LogWriter::open(dir.path(), small_config()) {
        Err(WriteError::Existing(ReadError::UnsupportedVersion { found: 9, .. })) => {}
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("resumed a future-version log"),
    }
}
