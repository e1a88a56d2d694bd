//! Round trips through the recorder and the readers: values, order,
//! sequence numbers, time-range queries (with segment skipping), schema
//! checks, loss records, and the compactness of the encoding.

mod common;

use common::*;
use monitor_recorder::{
    Body, Config, EventReader, LogReader, LogWriter, LossSource, ReadError, RecordKind, Recorder,
    TimeRange,
};

#[test]
fn recorder_round_trip_preserves_values_order_and_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::<SampleEvent>::open(dir.path(), small_config()).unwrap();
    for i in 0..2000 {
        assert!(rec.record(ts(i), sample(i)));
    }
    let stats = rec.close().unwrap();
    assert_eq!(stats.written, 2000);
    assert_eq!(stats.dropped, 0);
    assert!(
        stats.segments_created > 5,
        "16 KiB segments must rotate: {stats:?}"
    );
    assert_eq!(stats.segments_rotated, stats.segments_created);

    let log = LogReader::open(dir.path()).unwrap();
    let entries: Vec<_> = EventReader::<SampleEvent>::new(&log)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(entries.len(), 2000);
    for (i, e) in entries.iter().enumerate() {
        let i = i as u64;
        assert_eq!(e.seq, i + 1);
        assert_eq!(e.timestamp_ns, ts(i));
        assert_eq!(e.body, Body::Event(sample(i)));
    }
    let summary = monitor_recorder::verify(dir.path()).unwrap();
    assert!(summary.is_intact(), "{summary}");
    assert_eq!(summary.events, 2000);
    assert_eq!(summary.segments, summary.segments_closed);
    assert_eq!((summary.first_seq, summary.last_seq), (Some(1), Some(2000)));
    assert_eq!(
        (summary.min_ts, summary.max_ts),
        (Some(ts(0)), Some(ts(1999)))
    );
}

#[test]
fn time_range_returns_exactly_the_range_and_skips_closed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::<SampleEvent>::open(dir.path(), small_config()).unwrap();
    for i in 0..3000 {
        rec.record(ts(i), sample(i));
    }
    rec.close().unwrap();
    let nsegs = segments(dir.path()).len() as u64;
    let range = TimeRange::new(Some(ts(1500)), Some(ts(1600)));
    let log = LogReader::open(dir.path()).unwrap().time_range(range);
    let mut reader = EventReader::<SampleEvent>::new(&log);
    let got: Vec<_> = reader.by_ref().collect::<Result<_, _>>().unwrap();
    let pids: Vec<u64> = got.iter().map(|e| e.seq - 1).collect();
    assert_eq!(pids, (1500..1600).collect::<Vec<_>>());
    // 100 events span at most 3 of the 16 KiB segments; the rest are
    // skipped by their footers without being read.
    assert!(
        reader.skipped_segments() >= nsegs - 3,
        "skipped {} of {nsegs}",
        reader.skipped_segments()
    );
    // Open-ended ranges.
    let log = LogReader::open(dir.path())
        .unwrap()
        .time_range(TimeRange::new(Some(ts(2990)), None));
    assert_eq!(log.records().count(), 10);
    let log = LogReader::open(dir.path())
        .unwrap()
        .time_range(TimeRange::new(None, Some(ts(5))));
    assert_eq!(log.records().count(), 5);
}

#[test]
fn time_range_scans_segments_without_footer() {
    // A writer that never closes (as after a crash) leaves no footer: the
    // reader must scan, not skip.
    let dir = tempfile::tempdir().unwrap();
    let mut w = LogWriter::open(dir.path(), small_config()).unwrap();
    for i in 0..50 {
        w.append(RecordKind::Event, ts(i), b"payload").unwrap();
    }
    w.flush(true).unwrap();
    let log = LogReader::open(dir.path())
        .unwrap()
        .time_range(TimeRange::new(Some(ts(10)), Some(ts(20))));
    let mut recs = log.records();
    let n = recs.by_ref().filter(|r| r.is_ok()).count();
    assert_eq!(n, 10);
    assert_eq!(recs.skipped_segments(), 0);
    drop(w);
}

#[test]
fn loss_reports_become_loss_records() {
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::<SampleEvent>::open(dir.path(), small_config()).unwrap();
    rec.record(ts(0), sample(0));
    rec.report_loss(LossSource::KernelRingBuffer, 17);
    rec.report_loss(LossSource::KernelRingBuffer, 3);
    rec.report_loss(LossSource::Other(200), 2);
    rec.flush().unwrap();
    rec.record(ts(1), sample(1));
    let stats = rec.close().unwrap();
    // One record per source, unless a periodic flush fell between the two
    // kernel reports and split them: the sums per source are what count.
    assert!(
        (2..=3).contains(&stats.loss_records),
        "{}",
        stats.loss_records
    );

    let log = LogReader::open(dir.path()).unwrap();
    let mut losses = Vec::new();
    let mut events = 0;
    for e in EventReader::<SampleEvent>::new(&log) {
        match e.unwrap().body {
            Body::Loss(l) => losses.push((l.source, l.count)),
            Body::Event(_) => events += 1,
        }
    }
    assert_eq!(events, 2);
    let mut by_source = std::collections::BTreeMap::new();
    for (source, count) in losses {
        *by_source.entry(source).or_insert(0) += count;
    }
    let losses: Vec<_> = by_source.into_iter().collect();
    assert_eq!(
        losses,
        vec![
            (LossSource::KernelRingBuffer, 20),
            (LossSource::Other(200), 2)
        ]
    );
    let s = monitor_recorder::verify(dir.path()).unwrap();
    assert_eq!(s.total_lost(), 22);
    assert!(s.is_intact(), "{s}");
}

#[test]
fn schema_mismatch_and_wrong_type_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::<SampleEvent>::open(dir.path(), small_config()).unwrap();
    rec.record(ts(0), sample(0));
    rec.close().unwrap();

    let log = LogReader::open(dir.path())
        .unwrap()
        .expect_schema("other/9");
    let first = log.records().next().unwrap().unwrap_err();
    assert!(
        matches!(&first, ReadError::SchemaMismatch { expected, found, .. } if expected == "other/9" && found == "test.sample/1"),
        "{first}"
    );

    // Decoding as an unrelated type fails per record, with place and seq.
    let log = LogReader::open(dir.path()).unwrap();
    let item = EventReader::<(u8, [u64; 32])>::new(&log).next().unwrap();
    match item {
        Err(ReadError::Decode { seq, offset, .. }) => {
            assert_eq!(seq, 1);
            assert!(offset > 0);
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[test]
fn encoding_is_compact_bytes_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let n = 10_000u64;
    let cfg = Config {
        schema: "test.sample/1".into(),
        ..Config::default()
    };
    let rec = Recorder::<SampleEvent>::open(dir.path(), cfg).unwrap();
    for i in 0..n {
        rec.record(ts(i), sample(i));
    }
    let stats = rec.close().unwrap();
    let json: usize = (0..n)
        .map(|i| serde_json::to_vec(&sample(i)).unwrap().len())
        .sum();
    let per_record = stats.bytes as f64 / n as f64;
    let json_per = json as f64 / n as f64;
    println!(
        "bytes/record on disk: {per_record:.1} (postcard payload + 29 B frame); JSON of the same struct: {json_per:.1}"
    );
    // Everything on disk (headers and footer included) per event must stay
    // well under the JSON size of the same struct.
    assert!(per_record < json_per * 0.6, "{per_record} vs {json_per}");
}

#[test]
fn several_directories_and_files_read_in_the_order_given() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for (dir, range) in [(&a, 0..300), (&b, 300..400)] {
        let rec = Recorder::<SampleEvent>::open(dir.path(), small_config()).unwrap();
        for i in range {
            rec.record(ts(i), sample(i));
        }
        rec.close().unwrap();
    }
    let single = segments(b.path())[0].clone();
    let log = LogReader::open_many([a.path(), single.as_path()]).unwrap();
    let got: Vec<u64> = EventReader::<SampleEvent>::new(&log)
        .map(|e| e.unwrap().timestamp_ns)
        .collect();
    let n_single = read_all(&single).0.len() as u64;
    let want: Vec<u64> = (0..300).chain(300..300 + n_single).map(ts).collect();
    assert_eq!(got, want);

    let missing = a.path().join("nope");
    let err = LogReader::open_many([a.path(), missing.as_path()]).unwrap_err();
    assert!(
        matches!(&err, ReadError::Io { path, .. } if *path == missing),
        "{err}"
    );
    assert!(err.to_string().contains("nope"));
}
