//! Integrity check of a whole log: reads every frame of every segment and
//! summarises what is there (segments, records, bytes, time span, losses
//! recorded) and what is wrong (corrupt records and damaged segments with
//! file and offset, truncated tails, sequence gaps, footers that disagree
//! with the records before them).

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{io_read, ReadError};
use crate::format::{Footer, Loss, LossSource, RecordKind};
use crate::reader::LogReader;
use crate::segment::SegmentReader;

/// A problem found at a place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub path: PathBuf,
    pub offset: u64,
    pub message: String,
}

impl From<&ReadError> for Finding {
    fn from(e: &ReadError) -> Self {
        let offset = match e {
            ReadError::Corrupt { offset, .. }
            | ReadError::TruncatedTail { offset, .. }
            | ReadError::BadHeader { offset, .. }
            | ReadError::Decode { offset, .. }
            | ReadError::BadPayload { offset, .. } => *offset,
            ReadError::UnsupportedVersion { .. } => 8,
            ReadError::TruncatedHeader { available, .. } => *available as u64,
            _ => 0,
        };
        Self {
            path: e.path().to_owned(),
            offset,
            message: e.to_string(),
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifySummary {
    pub segments: u64,
    /// Segments that end with a footer (closed cleanly).
    pub segments_closed: u64,
    pub bytes: u64,
    pub events: u64,
    pub loss_records: u64,
    /// Definition records ([`crate::dict`]).
    pub definitions: u64,
    pub unknown_records: u64,
    /// Events lost, by cause, as recorded in loss records.
    pub lost: BTreeMap<LossSource, u64>,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Smallest and largest record timestamp (ns).
    pub min_ts: Option<u64>,
    pub max_ts: Option<u64>,
    pub corrupt: Vec<Finding>,
    pub truncated_tails: Vec<Finding>,
    /// Segments that could not be read at all (bad header, I/O).
    pub bad_segments: Vec<Finding>,
    /// (previous seq, next seq) where numbers jump or go backwards.
    pub sequence_gaps: Vec<(u64, u64)>,
    pub footer_mismatches: Vec<Finding>,
}

impl VerifySummary {
    /// No damage: nothing corrupt, unreadable, missing or inconsistent. A
    /// truncated tail (what a crash leaves) does not count as damage.
    pub fn is_intact(&self) -> bool {
        self.corrupt.is_empty()
            && self.bad_segments.is_empty()
            && self.sequence_gaps.is_empty()
            && self.footer_mismatches.is_empty()
    }

    pub fn total_lost(&self) -> u64 {
        self.lost.values().sum()
    }
}

/// Reads the whole log at `path` (directory or segment file).
pub fn verify(path: impl AsRef<Path>) -> Result<VerifySummary, ReadError> {
    let log = LogReader::open(path)?;
    let mut s = VerifySummary::default();
    for seg in log.segments() {
        s.segments += 1;
        verify_segment(seg, log.is_last_of_dir(seg), &mut s);
    }
    Ok(s)
}

/// `last`: the last segment of its directory.
fn verify_segment(path: &Path, last: bool, s: &mut VerifySummary) {
    let opened = File::open(path)
        .map_err(io_read(path, "open"))
        .and_then(|f| {
            let len = f.metadata().map_err(io_read(path, "stat"))?.len();
            let r = SegmentReader::new(path, f).map_err(|e| e.in_last_segment(last))?;
            Ok((r, len))
        });
    let (mut r, len) = match opened {
        Ok(x) => x,
        Err(e) if e.is_truncated_tail() => {
            s.truncated_tails.push(Finding::from(&e));
            return;
        }
        Err(e) => {
            s.bad_segments.push(Finding::from(&e));
            return;
        }
    };
    s.bytes += len;
    let mut records = 0u64;
    let mut damaged = false;
    while let Some(item) = r.next_frame() {
        let f = match item {
            Ok(f) => f,
            Err(e) => {
                match &e {
                    ReadError::TruncatedTail { .. } => s.truncated_tails.push(Finding::from(&e)),
                    ReadError::Corrupt { .. } => {
                        damaged = true;
                        s.corrupt.push(Finding::from(&e))
                    }
                    _ => s.bad_segments.push(Finding::from(&e)),
                }
                continue;
            }
        };
        let payload = r.payload(&f);
        if f.kind == RecordKind::Footer {
            match Footer::decode(payload) {
                Some(ft) if damaged || ft.records == records => {}
                _ => s.footer_mismatches.push(Finding {
                    path: path.to_owned(),
                    offset: f.offset,
                    message: format!("footer does not match the {records} records before it"),
                }),
            }
            if r.position() == len {
                s.segments_closed += 1;
            }
            continue;
        }
        records += 1;
        match f.kind {
            RecordKind::Event => s.events += 1,
            RecordKind::Define => s.definitions += 1,
            RecordKind::Loss => match Loss::decode(payload) {
                Some(l) => {
                    s.loss_records += 1;
                    *s.lost.entry(l.source).or_default() += l.count;
                }
                None => s.corrupt.push(Finding {
                    path: path.to_owned(),
                    offset: f.offset,
                    message: format!("loss record with {}-byte payload", payload.len()),
                }),
            },
            _ => s.unknown_records += 1,
        }
        if let Some(prev) = s.last_seq {
            if f.seq != prev + 1 {
                s.sequence_gaps.push((prev, f.seq));
            }
        }
        s.first_seq.get_or_insert(f.seq);
        s.last_seq = Some(f.seq);
        s.min_ts = Some(s.min_ts.map_or(f.timestamp_ns, |m| m.min(f.timestamp_ns)));
        s.max_ts = Some(s.max_ts.map_or(f.timestamp_ns, |m| m.max(f.timestamp_ns)));
    }
}

impl fmt::Display for VerifySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} segments ({} closed), {} bytes, {} events, {} loss records, {} definitions",
            if self.is_intact() { "OK" } else { "DAMAGED" },
            self.segments,
            self.segments_closed,
            self.bytes,
            self.events,
            self.loss_records,
            self.definitions
        )?;
        if let (Some(a), Some(b)) = (self.first_seq, self.last_seq) {
            writeln!(f, "sequence {a}..={b}")?;
        }
        if let (Some(a), Some(b)) = (self.min_ts, self.max_ts) {
            writeln!(f, "time span {a}..={b} ns ({:.3} s)", (b - a) as f64 / 1e9)?;
        }
        for (src, n) in &self.lost {
            writeln!(f, "lost {n} events ({src:?})")?;
        }
        for (a, b) in &self.sequence_gaps {
            writeln!(f, "sequence gap: {a} -> {b}")?;
        }
        for x in self
            .corrupt
            .iter()
            .chain(&self.bad_segments)
            .chain(&self.footer_mismatches)
            .chain(&self.truncated_tails)
        {
            writeln!(f, "{}", x.message)?;
        }
        Ok(())
    }
}
