//! The synchronous log writer: owns the directory (under an exclusive
//! lock), appends frames to the active segment through a buffer, rotates by
//! size and age, closes segments with a footer, syncs on demand and deletes
//! the oldest whole segments for retention. On open it resumes after the
//! last readable record of an existing log, so sequence numbers continue;
//! it never appends to a segment left by an earlier process, whose tail may
//! be torn.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::dir::{list_segments, read_footer, segment_name};
use crate::error::{io_write, ReadError, WriteError};
use crate::format::{
    frame_prefix, Footer, RecordKind, SegmentHeader, FRAME_OVERHEAD, KIND_FOOTER, MAX_PAYLOAD_LEN,
};
use crate::segment::SegmentReader;
use crate::stats::{Counters, Stats};
use crate::sync::Syncer;

/// Sequence number of the first record of a new log.
pub const FIRST_SEQ: u64 = 1;
const LOCK_FILE: &str = ".lock";

/// The frame a record of `kind` with `payload` takes, if a writer may
/// write it.
fn frame_len(kind: RecordKind, payload: &[u8]) -> Result<u64, WriteError> {
    if kind == RecordKind::Footer {
        return Err(WriteError::ReservedKind);
    }
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(WriteError::PayloadTooLarge {
            len: payload.len(),
            max: MAX_PAYLOAD_LEN,
        });
    }
    Ok((FRAME_OVERHEAD + payload.len()) as u64)
}

pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

struct Active {
    file: BufWriter<File>,
    path: PathBuf,
    first_seq: u64,
    last_seq: u64,
    bytes: u64,
    records: u64,
    min_ts: u64,
    max_ts: u64,
    opened: Instant,
}

struct Closed {
    path: PathBuf,
    bytes: u64,
    /// When the segment was last written (footer time, else mtime), ns.
    last_write_ns: u64,
}

/// Appends records to a log directory.
pub struct LogWriter {
    dir: PathBuf,
    cfg: Config,
    next_seq: u64,
    active: Option<Active>,
    closed: VecDeque<Closed>,
    counters: Arc<Counters>,
    /// Written since the last fdatasync was submitted.
    dirty: bool,
    syncer: Syncer,
    _lock: File,
}

impl LogWriter {
    /// Opens (creating if needed) a log directory for appending.
    pub fn open(dir: impl AsRef<Path>, cfg: Config) -> Result<Self, WriteError> {
        cfg.validate()?;
        let dir = dir.as_ref().to_owned();
        std::fs::create_dir_all(&dir).map_err(io_write(&dir, "create directory"))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_write(&lock_path, "open lock file"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(WriteError::Locked { path: dir }),
            Err(TryLockError::Error(e)) => return Err(io_write(&lock_path, "lock")(e)),
        }
        let counters = Arc::new(Counters::default());
        let mut w = Self {
            dir,
            cfg,
            next_seq: FIRST_SEQ,
            active: None,
            closed: VecDeque::new(),
            syncer: Syncer::spawn(counters.clone())?,
            counters,
            dirty: false,
            _lock: lock,
        };
        w.resume()?;
        w.enforce_retention(now_ns())?;
        Ok(w)
    }

    /// Finds where an existing log ends; removes a last segment that holds
    /// no readable record (created just before a crash).
    fn resume(&mut self) -> Result<(), WriteError> {
        let mut segs = list_segments(&self.dir).map_err(WriteError::Existing)?;
        while let Some(last) = segs.last() {
            self.next_seq = self.next_seq.max(last.first_seq);
            match last_seq_of(&last.path) {
                Ok(Some(seq)) => {
                    self.next_seq = self.next_seq.max(seq + 1);
                    break;
                }
                Ok(None)
                | Err(ReadError::Empty { .. })
                | Err(ReadError::TruncatedHeader { .. }) => {
                    std::fs::remove_file(&last.path)
                        .map_err(io_write(&last.path, "remove empty segment"))?;
                    segs.pop();
                }
                // Power loss can leave a new file's blocks unwritten: zeros.
                Err(e @ (ReadError::Foreign { .. } | ReadError::BadHeader { .. })) => {
                    if !all_zero(&last.path) {
                        return Err(WriteError::Existing(e));
                    }
                    std::fs::remove_file(&last.path)
                        .map_err(io_write(&last.path, "remove zero-filled segment"))?;
                    segs.pop();
                }
                Err(e) => return Err(WriteError::Existing(e)),
            }
        }
        for s in segs {
            let file = File::open(&s.path).map_err(io_write(&s.path, "open"))?;
            let meta = file.metadata().map_err(io_write(&s.path, "stat"))?;
            let last_write_ns = match read_footer(&file, meta.len()) {
                Some((_, closed_at)) => closed_at,
                None => meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos() as u64),
            };
            self.closed.push_back(Closed {
                path: s.path,
                bytes: meta.len(),
                last_write_ns,
            });
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The sequence number the next record will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// Appends one record and returns its sequence number. The record is
    /// buffered: it is durable after the next `flush(true)`.
    pub fn append(
        &mut self,
        kind: RecordKind,
        ts_ns: u64,
        payload: &[u8],
    ) -> Result<u64, WriteError> {
        let frame_len = frame_len(kind, payload)?;
        if let Some(a) = &self.active {
            let full = a.bytes + frame_len > self.cfg.max_segment_bytes;
            if a.records > 0 && (full || a.opened.elapsed() >= self.cfg.max_segment_age) {
                self.rotate()?;
            }
        }
        if self.active.is_none() {
            self.create_segment()?;
        }
        self.write_frame(kind, ts_ns, payload)
    }

    /// The segment records go to next (its first sequence number) and the
    /// bytes in it, opening one, or closing one that is old enough, as
    /// [`append`](Self::append) would: records encoded for that segment
    /// (numbers of [`crate::dict`]) are written with
    /// [`append_group`](Self::append_group).
    pub fn prepare(&mut self) -> Result<(u64, u64), WriteError> {
        if let Some(a) = &self.active {
            if a.records > 0 && a.opened.elapsed() >= self.cfg.max_segment_age {
                self.rotate()?;
            }
        }
        if self.active.is_none() {
            self.create_segment()?;
        }
        let a = self.active.as_ref().expect("created above");
        Ok((a.first_seq, a.bytes))
    }

    /// Appends `records` together to `segment` (from
    /// [`prepare`](Self::prepare)). `Ok(false)`, with nothing written,
    /// when they do not all fit in it (it is closed) or it is no longer
    /// the active one: prepare and encode them again.
    pub fn append_group(
        &mut self,
        segment: u64,
        records: &[(RecordKind, u64, &[u8])],
    ) -> Result<bool, WriteError> {
        let mut total = 0;
        for &(kind, _, payload) in records {
            total += frame_len(kind, payload)?;
        }
        let Some(a) = &self.active else {
            return Ok(false);
        };
        if a.first_seq != segment {
            return Ok(false);
        }
        if a.records > 0 && a.bytes + total > self.cfg.max_segment_bytes {
            self.rotate()?;
            return Ok(false);
        }
        for &(kind, ts_ns, payload) in records {
            self.write_frame(kind, ts_ns, payload)?;
        }
        Ok(true)
    }

    /// Writes one frame to the active segment (checked by [`frame_len`]).
    fn write_frame(
        &mut self,
        kind: RecordKind,
        ts_ns: u64,
        payload: &[u8],
    ) -> Result<u64, WriteError> {
        let frame_len = (FRAME_OVERHEAD + payload.len()) as u64;
        // A failed write burns the number: the next segment is named after
        // the next one, so a half-written frame never shares a name.
        let seq = self.next_seq;
        self.next_seq += 1;
        let a = self.active.as_mut().expect("created above");
        let prefix = frame_prefix(kind.to_byte(), ts_ns, seq, payload);
        if let Err(e) = a
            .file
            .write_all(&prefix)
            .and_then(|()| a.file.write_all(payload))
        {
            let path = a.path.clone();
            self.abandon();
            return Err(io_write(&path, "write")(e));
        }
        if a.records == 0 {
            (a.min_ts, a.max_ts) = (ts_ns, ts_ns);
        } else {
            a.min_ts = a.min_ts.min(ts_ns);
            a.max_ts = a.max_ts.max(ts_ns);
        }
        a.records += 1;
        a.last_seq = seq;
        a.bytes += frame_len;
        self.dirty = true;
        let c = &self.counters;
        match kind {
            RecordKind::Loss => Counters::add(&c.loss_records, 1),
            RecordKind::Define => {}
            _ => Counters::add(&c.written, 1),
        }
        Counters::add(&c.bytes, frame_len);
        Ok(seq)
    }

    /// Writes buffered records to the file; with `sync`, also waits until
    /// they (and everything before them) are fdatasynced. Returns the
    /// highest sequence number known durable.
    pub fn flush(&mut self, sync: bool) -> Result<Option<u64>, WriteError> {
        self.write_out(sync)?;
        if sync {
            self.syncer.wait()?;
        }
        Ok(self.counters.snapshot().durable_seq)
    }

    /// Writes buffered records to the file and has them fdatasynced in the
    /// background; `stats().durable_seq` advances when that is done.
    pub fn sync_in_background(&mut self) -> Result<(), WriteError> {
        self.write_out(true)
    }

    fn write_out(&mut self, sync: bool) -> Result<(), WriteError> {
        let Some(a) = self.active.as_mut() else {
            return Ok(());
        };
        let r = a.file.flush().map_err(io_write(&a.path, "flush"));
        if let Err(e) = r {
            self.abandon();
            return Err(e);
        }
        if sync && self.dirty {
            let dup = a.file.get_ref().try_clone();
            let dup = dup.map_err(io_write(&a.path, "dup for fdatasync"))?;
            self.syncer.sync_file(dup, a.path.clone(), Some(a.last_seq));
            self.dirty = false;
        }
        Ok(())
    }

    /// Periodic work: age rotation of an idle segment and retention.
    pub fn tick(&mut self) -> Result<(), WriteError> {
        if let Some(a) = &self.active {
            if a.records > 0 && a.opened.elapsed() >= self.cfg.max_segment_age {
                self.rotate()?;
            }
        }
        self.enforce_retention(now_ns())
    }

    /// Closes the active segment with a footer (if it has records); the
    /// next record starts a new segment.
    pub fn rotate(&mut self) -> Result<(), WriteError> {
        let Some(mut a) = self.active.take() else {
            return Ok(());
        };
        let closed_at = now_ns();
        let footer = Footer {
            records: a.records,
            first_seq: a.first_seq,
            last_seq: a.last_seq,
            min_ts: a.min_ts,
            max_ts: a.max_ts,
        }
        .encode();
        let prefix = frame_prefix(KIND_FOOTER, closed_at, a.last_seq, &footer);
        let r = a
            .file
            .write_all(&prefix)
            .and_then(|()| a.file.write_all(&footer))
            .and_then(|()| a.file.flush())
            .map_err(io_write(&a.path, "write footer"));
        let bytes = a.bytes + (prefix.len() + footer.len()) as u64;
        self.closed.push_back(Closed {
            path: a.path.clone(),
            bytes,
            last_write_ns: closed_at,
        });
        r?;
        // The retired file is synced (and closed) by the sync thread.
        let file = a.file.into_inner().map_err(|e| {
            let path = a.path.clone();
            io_write(&path, "flush")(e.into_error())
        })?;
        self.syncer.sync_file(file, a.path, Some(a.last_seq));
        let c = &self.counters;
        Counters::add(&c.bytes, bytes - a.bytes);
        Counters::add(&c.segments_rotated, 1);
        self.dirty = false;
        self.enforce_retention(closed_at)
    }

    /// Flushes, closes the active segment with a footer and syncs.
    pub fn close(mut self) -> Result<Stats, WriteError> {
        self.rotate()?;
        self.syncer.wait()?;
        Ok(self.stats())
    }

    /// Gives up on the active segment after an I/O error (no footer).
    fn abandon(&mut self) {
        if let Some(a) = self.active.take() {
            let bytes = a.bytes;
            let path = a.path.clone();
            // BufWriter's drop tries to write what it holds; a reader sees
            // at worst a torn or corrupt tail.
            drop(a);
            self.closed.push_back(Closed {
                path,
                bytes,
                last_write_ns: now_ns(),
            });
        }
    }

    fn create_segment(&mut self) -> Result<(), WriteError> {
        let path = self.dir.join(segment_name(self.next_seq));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_write(&path, "create segment"))?;
        let header = SegmentHeader::encode(
            now_ns(),
            self.next_seq,
            &self.cfg.writer_info,
            &self.cfg.schema,
        );
        let mut file = BufWriter::with_capacity(self.cfg.buffer_bytes, file);
        file.write_all(&header)
            .map_err(io_write(&path, "write header"))?;
        // Make the new directory entry durable; the sync thread runs jobs
        // in order, so this lands before any sync of the segment's records.
        self.syncer.sync_dir(self.dir.clone());
        Counters::add(&self.counters.segments_created, 1);
        Counters::add(&self.counters.bytes, header.len() as u64);
        self.active = Some(Active {
            file,
            path,
            first_seq: self.next_seq,
            last_seq: self.next_seq,
            bytes: header.len() as u64,
            records: 0,
            min_ts: 0,
            max_ts: 0,
            opened: Instant::now(),
        });
        Ok(())
    }

    /// Deletes the oldest closed segments while the log exceeds its size
    /// budget or they are older than the age limit. Never the active one.
    fn enforce_retention(&mut self, now: u64) -> Result<(), WriteError> {
        let mut total: u64 = self.closed.iter().map(|c| c.bytes).sum::<u64>()
            + self.active.as_ref().map_or(0, |a| a.bytes);
        let max_age = self.cfg.retention_age.map(|d| d.as_nanos() as u64);
        while let Some(old) = self.closed.front() {
            let too_big = self.cfg.retention_bytes.is_some_and(|m| total > m);
            let too_old = max_age.is_some_and(|age| now.saturating_sub(old.last_write_ns) > age);
            if !too_big && !too_old {
                break;
            }
            match std::fs::remove_file(&old.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_write(&old.path, "delete segment")(e)),
            }
            total -= old.bytes;
            Counters::add(&self.counters.segments_deleted, 1);
            self.closed.pop_front();
        }
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        let _ = self.rotate();
    }
}

/// Whether a file holds nothing but zero bytes.
fn all_zero(path: &Path) -> bool {
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    let mut buf = [0u8; 64 * 1024];
    loop {
        match std::io::Read::read(&mut f, &mut buf) {
            Ok(0) => return true,
            Ok(n) if buf[..n].iter().all(|&b| b == 0) => {}
            _ => return false,
        }
    }
}

/// The sequence number of the last readable record of a segment; `None`
/// when it holds none. Damage inside is tolerated (the reader skips it).
fn last_seq_of(path: &Path) -> Result<Option<u64>, ReadError> {
    let file = File::open(path).map_err(crate::error::io_read(path, "open"))?;
    let mut r = SegmentReader::new(path, file)?;
    let mut last = None;
    while let Some(item) = r.next_frame() {
        match item {
            Ok(f) => last = Some(last.map_or(f.seq, |l: u64| l.max(f.seq))),
            Err(e) if e.is_record_level() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(last)
}
