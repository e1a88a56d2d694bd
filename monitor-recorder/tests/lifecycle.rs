//! Writer lifecycle: rotation by size and age, retention by size and age,
//! restart (sequence numbers continue, leftovers of a crash are handled),
//! the directory lock, and the recorder's drop accounting when its queue is
//! full.

mod common;

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use monitor_recorder::format::SegmentHeader;
use monitor_recorder::{
    Body, Config, EventReader, LogReader, LogWriter, LossSource, RecordKind, Recorder, WriteError,
};
use serde::{Serialize, Serializer};

#[test]
fn rotates_by_size_without_exceeding_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config();
    let max = cfg.max_segment_bytes;
    let mut w = LogWriter::open(dir.path(), cfg).unwrap();
    for i in 0..1000 {
        w.append(RecordKind::Event, ts(i), &[7u8; 100]).unwrap();
    }
    let stats = w.close().unwrap();
    let segs = segments(dir.path());
    assert_eq!(stats.segments_created as usize, segs.len());
    assert!(segs.len() >= 8);
    for s in &segs {
        let len = fs::metadata(s).unwrap().len();
        // Footer is written after the size check; it may stick out by 69.
        assert!(len <= max + 69, "{} is {len} bytes", s.display());
    }
    // Names are the first sequence number of each segment.
    let (recs, _) = read_all(dir.path());
    for s in &segs {
        let first = recs.iter().find(|r| *r.segment == **s).unwrap().seq;
        assert_eq!(
            s.file_name().unwrap().to_str().unwrap(),
            format!("{first:020}.vlog")
        );
    }
}

#[test]
fn rotates_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        max_segment_age: Duration::from_millis(50),
        ..small_config()
    };
    let mut w = LogWriter::open(dir.path(), cfg).unwrap();
    w.append(RecordKind::Event, ts(0), b"a").unwrap();
    std::thread::sleep(Duration::from_millis(80));
    // An idle segment is closed by the periodic tick...
    w.tick().unwrap();
    assert_eq!(w.stats().segments_rotated, 1);
    // ...and a busy one on the next append.
    w.append(RecordKind::Event, ts(1), b"b").unwrap();
    std::thread::sleep(Duration::from_millis(80));
    w.append(RecordKind::Event, ts(2), b"c").unwrap();
    w.close().unwrap();
    assert_eq!(segments(dir.path()).len(), 3);
    let s = monitor_recorder::verify(dir.path()).unwrap();
    assert!(s.is_intact() && s.segments_closed == 3, "{s}");
}

#[test]
fn retention_by_total_size_deletes_oldest_whole_segments() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        max_segment_bytes: 8192,
        retention_bytes: Some(40_000),
        ..small_config()
    };
    let mut w = LogWriter::open(dir.path(), cfg).unwrap();
    for i in 0..2000 {
        w.append(RecordKind::Event, ts(i), &[1u8; 50]).unwrap();
    }
    let stats = w.close().unwrap();
    let segs = segments(dir.path());
    let total: u64 = segs.iter().map(|s| fs::metadata(s).unwrap().len()).sum();
    assert!(total <= 40_000, "{total}");
    assert!(total > 40_000 - 8192 - 69, "deleted too much: {total}");
    assert!(stats.segments_deleted > 0);
    assert_eq!(
        stats.segments_deleted + segs.len() as u64,
        stats.segments_created
    );
    // What remains is the newest records, contiguous, ending at the last.
    let s = monitor_recorder::verify(dir.path()).unwrap();
    assert!(s.is_intact(), "{s}");
    assert_eq!(s.last_seq, Some(2000));
}

#[test]
fn retention_by_age_deletes_old_segments_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = LogWriter::open(dir.path(), small_config()).unwrap();
    for i in 0..500 {
        w.append(RecordKind::Event, ts(i), &[1u8; 100]).unwrap();
    }
    w.close().unwrap();
    let before = segments(dir.path()).len();
    assert!(before > 2);
    std::thread::sleep(Duration::from_millis(100));
    let cfg = Config {
        retention_age: Some(Duration::from_millis(50)),
        ..small_config()
    };
    let w = LogWriter::open(dir.path(), cfg).unwrap();
    assert_eq!(w.stats().segments_deleted as usize, before);
    assert!(segments(dir.path()).is_empty());
    // The log was read before it was pruned: numbering still continues.
    assert_eq!(w.next_seq(), 501);
}

#[test]
fn restart_continues_sequence_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::<SampleEvent>::open(dir.path(), small_config()).unwrap();
    for i in 0..100 {
        rec.record(ts(i), sample(i));
    }
    rec.close().unwrap();
    let rec = Recorder::<SampleEvent>::open(dir.path(), small_config()).unwrap();
    for i in 100..150 {
        rec.record(ts(i), sample(i));
    }
    rec.close().unwrap();
    let log = LogReader::open(dir.path()).unwrap();
    let seqs: Vec<u64> = EventReader::<SampleEvent>::new(&log)
        .map(|e| e.unwrap().seq)
        .collect();
    assert_eq!(seqs, (1..=150).collect::<Vec<_>>());
}

#[test]
fn restart_after_crash_skips_torn_tail_and_removes_empty_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = LogWriter::open(dir.path(), small_config()).unwrap();
    for i in 0..10 {
        w.append(RecordKind::Event, ts(i), b"0123456789").unwrap();
    }
    w.close().unwrap();
    let seg = &segments(dir.path())[0];
    // Simulate a crash: footer gone, last record torn.
    let len = fs::metadata(seg).unwrap().len();
    let f = fs::OpenOptions::new().write(true).open(seg).unwrap();
    f.set_len(len - 69 - 5).unwrap();
    // A segment created just before the crash, header only, and one whose
    // blocks were never written (power loss: zeros).
    let empty = dir.path().join(format!("{:020}.vlog", 11));
    fs::write(&empty, SegmentHeader::encode(0, 11, "w", "test.sample/1")).unwrap();
    let zeros = dir.path().join(format!("{:020}.vlog", 12));
    fs::write(&zeros, [0u8; 4096]).unwrap();

    let mut w = LogWriter::open(dir.path(), small_config()).unwrap();
    // Neither held a record, so both are removed; numbers only grow, past
    // every segment name seen (record 10 is torn, unreadable).
    assert!(!empty.exists() && !zeros.exists());
    assert_eq!(w.next_seq(), 12);
    w.append(RecordKind::Event, ts(10), b"after restart")
        .unwrap();
    w.close().unwrap();
    let (recs, errs) = read_all(dir.path());
    assert_eq!(recs.len(), 10);
    assert_eq!(recs.last().unwrap().payload, b"after restart");
    assert_eq!(recs.last().unwrap().seq, 12);
    assert!(
        matches!(&errs[..], [e] if e.is_truncated_tail()),
        "{errs:?}"
    );
}

#[test]
fn writer_refuses_to_resume_after_a_foreign_last_segment() {
    let dir = tempfile::tempdir().unwrap();
    let seg = dir.path().join(format!("{:020}.vlog", 1));
    fs::write(&seg, b"somebody else's data").unwrap();
    match LogWriter::open(dir.path(), small_config()) {
        Err(WriteError::Existing(monitor_recorder::ReadError::Foreign { path, .. })) => {
            assert_eq!(path, seg)
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("appended after a foreign file"),
    }
    assert!(seg.exists(), "a foreign file must never be deleted");
}

#[test]
fn a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _w = LogWriter::open(dir.path(), small_config()).unwrap();
    assert!(matches!(
        LogWriter::open(dir.path(), small_config()),
        Err(WriteError::Locked { .. })
    ));
}

#[test]
fn bad_configuration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for cfg in [
        Config {
            max_segment_bytes: 10,
            ..Config::default()
        },
        Config {
            queue_capacity: 0,
            ..Config::default()
        },
        Config {
            retention_bytes: Some(1000),
            ..Config::default()
        },
    ] {
        assert!(matches!(
            LogWriter::open(dir.path(), cfg),
            Err(WriteError::Config(_))
        ));
    }
}

static GATE_ENTERED: AtomicBool = AtomicBool::new(false);
static GATE_OPEN: AtomicBool = AtomicBool::new(false);

/// A value whose encoding blocks the writer thread until the test opens
/// the gate: makes "queue full" deterministic.
enum Item {
    Gate,
    Value(u64),
}

impl Serialize for Item {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Item::Gate => {
                GATE_ENTERED.store(true, Ordering::SeqCst);
                while !GATE_OPEN.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                s.serialize_u64(u64::MAX)
            }
            Item::Value(v) => s.serialize_u64(*v),
        }
    }
}

#[test]
fn full_queue_drops_are_counted_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        queue_capacity: 8,
        ..small_config()
    };
    let rec = Recorder::<Item>::open(dir.path(), cfg).unwrap();
    assert!(rec.record(ts(0), Item::Gate));
    while !GATE_ENTERED.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    // The writer is stuck: exactly `queue_capacity` more fit.
    let accepted = (1..=20)
        .filter(|&i| rec.record(ts(i), Item::Value(i)))
        .count();
    assert_eq!(accepted, 8);
    assert_eq!(rec.stats().dropped, 12);
    GATE_OPEN.store(true, Ordering::SeqCst);
    let stats = rec.close().unwrap();
    assert_eq!(
        (stats.written, stats.dropped, stats.loss_records),
        (9, 12, 1)
    );

    let log = LogReader::open(dir.path()).unwrap();
    let mut values = Vec::new();
    let mut lost = Vec::new();
    for e in EventReader::<u64>::new(&log) {
        match e.unwrap().body {
            Body::Event(v) => values.push(v),
            Body::Loss(l) => lost.push((l.source, l.count)),
        }
    }
    assert_eq!(values[0], u64::MAX);
    assert_eq!(&values[1..], (1..=8).collect::<Vec<_>>());
    assert_eq!(lost, vec![(LossSource::RecorderQueueFull, 12)]);
}

#[test]
fn flush_makes_records_durable_and_readable_while_writing() {
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::<SampleEvent>::open(dir.path(), small_config()).unwrap();
    for i in 0..10 {
        rec.record(ts(i), sample(i));
    }
    assert_eq!(rec.flush().unwrap(), Some(10));
    // A reader sees them while the writer is live (no footer yet).
    let (events, errs) = read_events(dir.path());
    assert_eq!(events.len(), 10);
    assert!(errs.is_empty(), "{errs:?}");
    let s = rec.stats();
    assert_eq!(s.durable_seq, Some(10));
    assert!(s.syncs >= 1);
    drop(rec); // Drop closes cleanly too.
    let v = monitor_recorder::verify(dir.path()).unwrap();
    assert_eq!(v.segments_closed, v.segments);
}

/// Serialises as a sequence of unknown length, which postcard refuses.
struct Unencodable;

impl Serialize for Unencodable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((0..3u8).filter(|_| true))
    }
}

#[test]
fn encode_failures_are_counted_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::<Unencodable>::open(dir.path(), small_config()).unwrap();
    for i in 0..5 {
        assert!(rec.record(ts(i), Unencodable));
    }
    let stats = rec.close().unwrap();
    assert_eq!((stats.written, stats.failed), (0, 5));
    // Pending losses are written at every periodic flush as well as at
    // close, so the five may be split over several Loss records; what must
    // hold is that all five are in the log.
    assert!(
        (1..=5).contains(&stats.loss_records),
        "{}",
        stats.loss_records
    );
    let s = monitor_recorder::verify(dir.path()).unwrap();
    assert_eq!(
        s.lost.into_iter().collect::<Vec<_>>(),
        vec![(LossSource::RecorderEncodeError, 5)]
    );
}
