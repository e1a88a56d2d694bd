//! Reading a whole log: segments in sequence order, one open file at a time,
//! so memory stays flat whatever the log size. A time range skips closed
//! segments by their footer's min/max timestamps without reading them;
//! segments without a footer (crash, still being written) are scanned.
//! Problems are yielded as items and reading continues: record-level ones
//! within the segment, header-level ones with the next segment.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::dir::{list_segments, read_footer};
use crate::error::{io_read, ReadError};
use crate::format::RecordKind;
use crate::segment::{FrameMeta, SegmentReader};

/// Half-open wall-clock interval `[start_ns, end_ns)`; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub start_ns: Option<u64>,
    pub end_ns: Option<u64>,
}

impl TimeRange {
    pub const ALL: Self = Self {
        start_ns: None,
        end_ns: None,
    };

    pub fn new(start_ns: Option<u64>, end_ns: Option<u64>) -> Self {
        Self { start_ns, end_ns }
    }

    pub fn contains(&self, ts: u64) -> bool {
        self.start_ns.is_none_or(|s| ts >= s) && self.end_ns.is_none_or(|e| ts < e)
    }

    /// Whether any timestamp in `[min, max]` lies in the range.
    pub fn overlaps(&self, min: u64, max: u64) -> bool {
        self.start_ns.is_none_or(|s| max >= s) && self.end_ns.is_none_or(|e| min < e)
    }

    pub fn is_all(&self) -> bool {
        self.start_ns.is_none() && self.end_ns.is_none()
    }
}

/// A set of segments to read, from a directory or explicit files.
#[derive(Debug, Clone)]
pub struct LogReader {
    segments: Vec<PathBuf>,
    /// The last segment of each directory given (see [`ReadError::in_last_segment`]).
    last_of_dirs: Arc<Vec<PathBuf>>,
    range: TimeRange,
    schema: Option<String>,
}

impl LogReader {
    /// A log directory (its `*.vlog` segments in order) or one segment file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        Self::open_many([path])
    }

    /// Several directories and/or files, read in the order given (each
    /// directory's segments in sequence order).
    pub fn open_many<P: AsRef<Path>>(
        paths: impl IntoIterator<Item = P>,
    ) -> Result<Self, ReadError> {
        let mut segments = Vec::new();
        let mut last_of_dirs = Vec::new();
        for p in paths {
            let p = p.as_ref();
            let meta = std::fs::metadata(p).map_err(io_read(p, "open"))?;
            if meta.is_dir() {
                let listed = list_segments(p)?;
                last_of_dirs.extend(listed.last().map(|s| s.path.clone()));
                segments.extend(listed.into_iter().map(|s| s.path));
            } else {
                segments.push(p.to_owned());
            }
        }
        Ok(Self {
            segments,
            last_of_dirs: Arc::new(last_of_dirs),
            range: TimeRange::ALL,
            schema: None,
        })
    }

    /// Only records whose timestamp lies in `range`.
    pub fn time_range(mut self, range: TimeRange) -> Self {
        self.range = range;
        self
    }

    /// Reject (as an item) segments whose header names another schema.
    pub fn expect_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    pub fn segments(&self) -> &[PathBuf] {
        &self.segments
    }

    /// Whether `segment` is the last of a directory given to the reader:
    /// the one a crashed writer may have left unfinished.
    pub(crate) fn is_last_of_dir(&self, segment: &Path) -> bool {
        self.last_of_dirs.iter().any(|p| p == segment)
    }

    /// Streams records (footers excluded) in log order.
    pub fn records(&self) -> Records {
        Records {
            pending: self.segments.clone().into_iter(),
            last_of_dirs: self.last_of_dirs.clone(),
            range: self.range,
            schema: self.schema.clone(),
            cur: None,
            cur_path: None,
            skipped_segments: 0,
        }
    }
}

/// An owned record, as yielded by [`Records`]'s iterator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub segment: Arc<Path>,
    pub offset: u64,
    pub kind: RecordKind,
    pub timestamp_ns: u64,
    pub seq: u64,
    pub payload: Vec<u8>,
}

/// Streaming cursor over a log's records.
pub struct Records {
    pending: std::vec::IntoIter<PathBuf>,
    last_of_dirs: Arc<Vec<PathBuf>>,
    range: TimeRange,
    schema: Option<String>,
    cur: Option<SegmentReader<File>>,
    cur_path: Option<Arc<Path>>,
    skipped_segments: u64,
}

impl Records {
    /// Segments skipped whole because of the time range.
    pub fn skipped_segments(&self) -> u64 {
        self.skipped_segments
    }

    /// The segment the last frame came from.
    pub fn current_segment(&self) -> Option<&Arc<Path>> {
        self.cur_path.as_ref()
    }

    /// Payload of the frame last returned by [`next_frame`](Self::next_frame).
    pub fn payload(&self, frame: &FrameMeta) -> &[u8] {
        self.cur
            .as_ref()
            .map(|r| r.payload(frame))
            .unwrap_or_default()
    }

    /// The next record in range (borrowing the payload), or a problem.
    pub fn next_frame(&mut self) -> Option<Result<FrameMeta, ReadError>> {
        loop {
            let Some(reader) = self.cur.as_mut() else {
                let path = self.pending.next()?;
                if let Err(e) = self.open_segment(path) {
                    return Some(Err(e));
                }
                continue;
            };
            match reader.next_frame() {
                None => self.cur = None,
                Some(Err(e)) => return Some(Err(e)),
                Some(Ok(f)) => {
                    // Definitions serve the records after them, in range or not.
                    let wanted = match f.kind {
                        RecordKind::Footer => false,
                        RecordKind::Define => true,
                        _ => self.range.contains(f.timestamp_ns),
                    };
                    if wanted {
                        return Some(Ok(f));
                    }
                }
            }
        }
    }

    fn open_segment(&mut self, path: PathBuf) -> Result<(), ReadError> {
        let file = File::open(&path).map_err(io_read(&path, "open"))?;
        let len = file.metadata().map_err(io_read(&path, "stat"))?.len();
        let footer = read_footer(&file, len).map(|(footer, _)| footer);
        if let Some(footer) = &footer {
            if !self.range.overlaps(footer.min_ts, footer.max_ts) {
                self.skipped_segments += 1;
                return Ok(());
            }
        }
        let last = self.last_of_dirs.contains(&path);
        // A closed segment is read in place; one still being written (or
        // left unfinished by a crash) through a buffer, as it may grow.
        let reader = if footer.is_some() {
            // SAFETY: the footer says the writer closed the segment, and
            // a closed segment is never written again nor shortened
            // (docs/log-format.md, section 7).
            unsafe { SegmentReader::closed(path.clone(), file) }
        } else {
            SegmentReader::new(path.clone(), file)
        }
        .map_err(|e| e.in_last_segment(last))?;
        if let Some(expected) = &self.schema {
            if &reader.header().schema != expected {
                return Err(ReadError::SchemaMismatch {
                    path,
                    expected: expected.clone(),
                    found: reader.header().schema.clone(),
                });
            }
        }
        self.cur_path = Some(Arc::from(path.as_path()));
        self.cur = Some(reader);
        Ok(())
    }
}

impl Iterator for Records {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_frame()?.map(|f| {
            Record {
                segment: self
                    .cur_path
                    .clone()
                    .expect("a frame implies an open segment"),
                payload: self.payload(&f).to_vec(),
                offset: f.offset,
                kind: f.kind,
                timestamp_ns: f.timestamp_ns,
                seq: f.seq,
            }
        }))
    }
}
