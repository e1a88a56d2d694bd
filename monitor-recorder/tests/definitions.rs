//! Definitions (`monitor_recorder::dict`) through a real recorder and
//! reader: records that share a value carry its number, each segment and
//! region defines what its records use, a time range still reads the
//! definitions before it, and a damaged definition costs the records of
//! its segment that use it, each reported with its offset, and no others.

mod common;

use std::fs;
use std::path::Path;
use std::sync::Arc;

use common::*;
use monitor_recorder::dict;
use monitor_recorder::format::{BODY_FIXED_LEN, FRAME_PREFIX_LEN};
use monitor_recorder::{
    Body, Config, EventReader, LogReader, ReadError, RecordKind, Recorder, TimeRange,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A record naming a shared context, as an event names its process.
#[derive(Clone, PartialEq)]
struct Rec {
    n: u64,
    ctx: Arc<String>,
}

impl std::fmt::Debug for Rec {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let kind = self.ctx.split(':').next().unwrap_or_default();
        write!(f, "#{} ({kind}, {} bytes)", self.n, self.ctx.len())
    }
}

/// The context as written: whole, or by number.
#[derive(Serialize, Deserialize)]
enum Ctx {
    Inline(String),
    Defined(u64),
}

#[derive(Serialize, Deserialize)]
struct Wire {
    n: u64,
    ctx: Ctx,
}

impl Serialize for Rec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let encode = || Ok::<_, ()>(self.ctx.as_bytes().to_vec());
        let ctx = match dict::define_shared(&self.ctx, encode) {
            Some(id) => Ctx::Defined(id.unwrap()),
            None => Ctx::Inline((*self.ctx).clone()),
        };
        Wire { n: self.n, ctx }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Rec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = Wire::deserialize(d)?;
        let ctx = match w.ctx {
            Ctx::Inline(s) => Arc::new(s),
            Ctx::Defined(id) => {
                let decode = |b: &[u8]| String::from_utf8(b.to_vec()).map(Arc::new);
                dict::resolve(id, decode)
                    .ok_or_else(|| serde::de::Error::custom(format!("definition {id} not read")))?
                    .map_err(serde::de::Error::custom)?
            }
        };
        Ok(Rec { n: w.n, ctx })
    }
}

/// A kilobyte-long context, one of `kinds`, for record `n`.
fn contexts(kinds: usize) -> Vec<Arc<String>> {
    (0..kinds)
        .map(|k| Arc::new(format!("{k}:{}", "x".repeat(1000))))
        .collect()
}

/// Records `n` records into `dir`, record `i` naming context `i % kinds`.
fn record(dir: &Path, cfg: Config, n: u64, ctxs: &[Arc<String>]) -> Vec<Rec> {
    let recs: Vec<Rec> = (0..n)
        .map(|n| Rec {
            n,
            ctx: ctxs[n as usize % ctxs.len()].clone(),
        })
        .collect();
    record_all(dir, cfg, &recs);
    recs
}

fn record_all(dir: &Path, cfg: Config, recs: &[Rec]) {
    let cfg = Config {
        queue_capacity: recs.len() + 1,
        ..cfg
    };
    let rec = Recorder::<Rec>::open(dir, cfg).unwrap();
    for r in recs {
        assert!(rec.record(ts(r.n), r.clone()));
    }
    let stats = rec.close().unwrap();
    let n = recs.len() as u64;
    assert_eq!((stats.written, stats.dropped, stats.failed), (n, 0, 0));
}

fn read(log: &LogReader) -> (Vec<Rec>, Vec<ReadError>) {
    let (mut recs, mut errs) = (vec![], vec![]);
    for item in EventReader::<Rec>::new(log) {
        match item {
            Ok(e) => match e.body {
                Body::Event(r) => recs.push(r),
                Body::Loss(l) => panic!("loss {l:?}"),
            },
            Err(e) => errs.push(e),
        }
    }
    (recs, errs)
}

/// Every record of a log directory or segment file, definitions included.
fn all_records(path: &Path) -> Vec<monitor_recorder::Record> {
    LogReader::open(path)
        .unwrap()
        .records()
        .map(|r| r.unwrap())
        .collect()
}

#[test]
fn shared_values_are_written_once_per_segment_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let ctxs = contexts(3);
    // Small segments (16 KiB): several of them.
    let written = record(dir.path(), small_config(), 2_000, &ctxs);
    let (back, errs) = read(&LogReader::open(dir.path()).unwrap());
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(back, written);
    // Decoded once per segment: records of a segment share one value.
    assert!(Arc::ptr_eq(&back[0].ctx, &back[3].ctx));

    // Each segment defines each context once, before its first use, and
    // its records carry a few bytes instead of a kilobyte.
    let segs = segments(dir.path());
    assert!(segs.len() > 2, "several segments: {}", segs.len());
    for seg in &segs {
        let recs = all_records(seg);
        let defs = recs.iter().filter(|r| r.kind == RecordKind::Define).count();
        assert_eq!(defs, 3, "{}", seg.display());
        assert_eq!(recs[0].kind, RecordKind::Define, "defined before use");
        for r in recs.iter().filter(|r| r.kind == RecordKind::Event) {
            assert!(r.payload.len() < 16, "{} bytes", r.payload.len());
        }
    }
    let v = monitor_recorder::verify(dir.path()).unwrap();
    assert!(v.is_intact(), "{v}");
    assert_eq!(v.events, 2_000);
    assert_eq!(v.definitions, 3 * segs.len() as u64);
}

#[test]
fn a_time_range_reads_the_definitions_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let ctxs = contexts(2);
    let written = record(dir.path(), small_config(), 50, &ctxs);
    // One segment; its definitions come with the first two records.
    assert_eq!(segments(dir.path()).len(), 1);
    let log = LogReader::open(dir.path())
        .unwrap()
        .time_range(TimeRange::new(Some(ts(10)), Some(ts(20))));
    let (back, errs) = read(&log);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(back, written[10..20]);
}

#[test]
fn a_new_region_defines_again() {
    let dir = tempfile::tempdir().unwrap();
    let ctxs = contexts(1);
    // A record takes a few dozen bytes: more records than a region holds,
    // in one segment.
    let n = 150_000;
    let mut cfg = small_config();
    cfg.max_segment_bytes = 64 << 20;
    let written = record(dir.path(), cfg, n, &ctxs);
    assert_eq!(segments(dir.path()).len(), 1);
    let recs = all_records(dir.path());
    let bytes: u64 = recs.iter().map(|r| r.payload.len() as u64 + 29).sum();
    let defs = recs.iter().filter(|r| r.kind == RecordKind::Define).count() as u64;
    assert!(bytes > 2 * dict::REGION_BYTES, "{bytes} bytes");
    assert_eq!(defs, bytes / dict::REGION_BYTES + 1, "one per region");
    let (back, errs) = read(&LogReader::open(dir.path()).unwrap());
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(back, written);
}

#[test]
fn a_damaged_definition_costs_only_the_records_of_its_segment_that_use_it() {
    let dir = tempfile::tempdir().unwrap();
    let ctxs = contexts(2);
    let written = record(dir.path(), small_config(), 1_000, &ctxs);
    let segs = segments(dir.path());
    assert!(segs.len() >= 2);
    // Damage the first segment's definition of context 0.
    let recs = all_records(&segs[0]);
    let def = recs
        .iter()
        .find(|r| r.kind == RecordKind::Define && r.payload.ends_with(ctxs[0].as_bytes()))
        .unwrap();
    let mut bytes = fs::read(&segs[0]).unwrap();
    bytes[def.offset as usize + FRAME_PREFIX_LEN + BODY_FIXED_LEN + 20] ^= 0x40;
    fs::write(&segs[0], bytes).unwrap();

    let (back, errs) = read(&LogReader::open(dir.path()).unwrap());
    let users: Vec<&monitor_recorder::Record> = recs
        .iter()
        .filter(|r| r.kind == RecordKind::Event)
        .step_by(2)
        .collect();
    // The damaged record itself, then each record that used it.
    assert!(matches!(errs[0], ReadError::Corrupt { offset, .. } if offset == def.offset));
    assert_eq!(errs.len(), 1 + users.len(), "{errs:?}");
    for (e, user) in errs[1..].iter().zip(&users) {
        match e {
            ReadError::Decode {
                path,
                offset,
                message,
                ..
            } => {
                assert_eq!(path, &segs[0]);
                assert_eq!(*offset, user.offset);
                assert!(message.contains("definition 0 of its segment"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Every other record reads right, the next segment's included.
    let lost: Vec<u64> = (0..users.len() as u64).map(|i| 2 * i).collect();
    let expected: Vec<Rec> = written
        .iter()
        .filter(|r| !lost.contains(&r.n))
        .cloned()
        .collect();
    assert_eq!(back, expected);
}

/// Logs of random shape (contexts of every size, segments of every size,
/// records naming contexts at random, `Arc`s shared or not) read back
/// whole; then, with a byte flipped anywhere, the reader never panics,
/// never hands out a record with another record's context, and reports
/// a problem whenever a record is missing.
#[test]
fn random_logs_read_back_and_damage_never_gives_a_wrong_context() {
    for seed in 0..40 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let dir = tempfile::tempdir().unwrap();
        let ctxs: Vec<Arc<String>> = (0..rng.usize(1..30))
            .map(|k| Arc::new(format!("{k}:{}", "y".repeat(rng.usize(0..3000)))))
            .collect();
        let recs: Vec<Rec> = (0..rng.u64(1..2000))
            .map(|n| {
                let c = &ctxs[rng.usize(..ctxs.len())];
                // Sometimes an equal value in an `Arc` of its own.
                let ctx = if rng.bool() {
                    c.clone()
                } else {
                    Arc::new((**c).clone())
                };
                Rec { n, ctx }
            })
            .collect();
        let cfg = Config {
            max_segment_bytes: rng.u64(4096..100_000),
            ..small_config()
        };
        record_all(dir.path(), cfg, &recs);
        let (back, errs) = read(&LogReader::open(dir.path()).unwrap());
        assert!(errs.is_empty(), "seed {seed}: {errs:?}");
        assert_eq!(back, recs, "seed {seed}");

        let segs = segments(dir.path());
        let seg = &segs[rng.usize(..segs.len())];
        let mut bytes = fs::read(seg).unwrap();
        let at = rng.usize(..bytes.len());
        bytes[at] ^= 1 << rng.u8(0..8);
        fs::write(seg, bytes).unwrap();
        let (back, errs) = read(&LogReader::open(dir.path()).unwrap());
        for r in &back {
            assert_eq!(r, &recs[r.n as usize], "seed {seed}: a wrong record");
        }
        if back.len() < recs.len() {
            assert!(!errs.is_empty(), "seed {seed}: records lost silently");
        }
    }
}
