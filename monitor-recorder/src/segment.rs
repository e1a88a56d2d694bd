//! Streaming reader of one segment: validates the header, then yields record
//! frames one by one from a sliding buffer (memory bounded by the largest
//! record, not the file). It owns the recovery rules: a bad frame is
//! reported with its offset and reading resumes at the next offset where a
//! sync marker starts a frame whose CRC checks; a problem with nothing valid
//! after it is a truncated tail when it is an incomplete frame (or zeros),
//! otherwise corruption.
//!
//! A closed segment can instead be read in place, mapped into memory: its
//! frames are checked and decoded where the page cache holds them, without
//! copying every byte into a buffer first (a fifth of a replay's time went
//! to that copy).

use std::fs::File;
use std::io::{self, Read};
use std::ops::{Deref, Range};
use std::path::{Path, PathBuf};

use crate::error::ReadError;
use crate::format::{
    check_crc, check_prefix, u64_at, Defect, HeaderProblem, RecordKind, SegmentHeader,
    FRAME_OVERHEAD, FRAME_PREFIX_LEN, MAX_HEADER_LEN, SYNC,
};

const CHUNK: usize = 64 * 1024;
/// How far ahead of the reading position a mapped window is prefetched
/// (of 4, 8 and 16 KiB, 16 replayed fastest).
const PREFETCH_AHEAD: usize = 16 * 1024;

/// One record frame, located in its segment. The payload is read with
/// [`SegmentReader::payload`] until the next call that advances the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameMeta {
    /// Byte offset of the frame's sync marker in the segment file.
    pub offset: u64,
    pub kind: RecordKind,
    pub timestamp_ns: u64,
    pub seq: u64,
    payload: Range<usize>,
}

impl FrameMeta {
    /// Size of the whole frame on disk.
    pub fn frame_len(&self) -> u64 {
        (FRAME_OVERHEAD + self.payload.len()) as u64
    }

    pub fn payload_len(&self) -> usize {
        self.payload.len()
    }
}

/// The bytes a reader looks at: a sliding buffer filled from the source,
/// or the whole file mapped.
enum Window {
    Buffer(Vec<u8>),
    Mapped(memmap2::Mmap),
}

impl Deref for Window {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Window::Buffer(b) => b,
            Window::Mapped(m) => m,
        }
    }
}

/// Reads frames from any byte source holding one segment file.
pub struct SegmentReader<R> {
    path: PathBuf,
    src: R,
    buf: Window,
    /// First unconsumed byte in `buf`.
    lo: usize,
    /// End of valid bytes in `buf`.
    hi: usize,
    /// End of the bytes prefetched in a mapped `buf`.
    ahead: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
    done: bool,
    header: SegmentHeader,
}

enum Probe {
    Frame(usize),
    End,
    Bad(Defect),
}

impl<R: Read> SegmentReader<R> {
    /// Reads and validates the header. `path` is only used in errors.
    pub fn new(path: impl Into<PathBuf>, src: R) -> Result<Self, ReadError> {
        Self::over(path.into(), src, Window::Buffer(Vec::new()))
    }

    /// A reader of the bytes in `window`, then (for a buffer) of `src`.
    fn over(path: PathBuf, src: R, window: Window) -> Result<Self, ReadError> {
        let mapped = matches!(window, Window::Mapped(_));
        let mut r = Self {
            path,
            src,
            hi: if mapped { window.len() } else { 0 },
            eof: mapped,
            buf: window,
            lo: 0,
            ahead: 0,
            base: 0,
            done: false,
            header: SegmentHeader {
                version: 0,
                flags: 0,
                created_ns: 0,
                first_seq: 0,
                writer: String::new(),
                schema: String::new(),
                len: 0,
            },
        };
        let avail = r.fill(12)?;
        let want = SegmentHeader::needed_len(&r.buf[..avail])
            .unwrap_or(0)
            .min(MAX_HEADER_LEN);
        let avail = r.fill(want)?;
        let path = r.path.clone();
        let header = SegmentHeader::decode(&r.buf[..avail], r.eof).map_err(|p| match p {
            HeaderProblem::Empty => ReadError::Empty { path },
            HeaderProblem::Foreign { found } => ReadError::Foreign { path, found },
            HeaderProblem::Truncated { needed, available } => ReadError::TruncatedHeader {
                path,
                needed,
                available,
            },
            HeaderProblem::Version { found } => ReadError::UnsupportedVersion { path, found },
            HeaderProblem::Bad { offset, reason } => ReadError::BadHeader {
                path,
                offset,
                reason,
            },
        })?;
        r.lo = header.len;
        r.header = header;
        Ok(r)
    }

    pub fn header(&self) -> &SegmentHeader {
        &self.header
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// File offset of the next unread byte.
    pub fn position(&self) -> u64 {
        self.base + self.lo as u64
    }

    /// The payload of the frame last returned by [`next_frame`].
    ///
    /// [`next_frame`]: SegmentReader::next_frame
    pub fn payload(&self, frame: &FrameMeta) -> &[u8] {
        &self.buf[frame.payload.clone()]
    }

    /// The next frame, or a problem. After a recoverable problem the next
    /// call continues behind it; `None` means the segment is finished.
    pub fn next_frame(&mut self) -> Option<Result<FrameMeta, ReadError>> {
        if self.done {
            return None;
        }
        let offset = self.position();
        match self.probe() {
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
            Ok(Probe::End) => {
                self.done = true;
                None
            }
            Ok(Probe::Frame(total)) => {
                let at = self.lo;
                let b = &self.buf[at..at + total];
                let meta = FrameMeta {
                    offset,
                    kind: RecordKind::from_byte(b[12]),
                    timestamp_ns: u64_at(b, 13),
                    seq: u64_at(b, 21),
                    payload: at + FRAME_OVERHEAD..at + total,
                };
                self.lo += total;
                self.prefetch();
                Some(Ok(meta))
            }
            Ok(Probe::Bad(defect)) => Some(self.recover(offset, defect)),
        }
    }

    /// Examines the bytes at `lo` without consuming them.
    fn probe(&mut self) -> Result<Probe, ReadError> {
        let avail = self.fill(FRAME_PREFIX_LEN)?;
        if avail == 0 {
            return Ok(Probe::End);
        }
        let prefix = &self.buf[self.lo..self.lo + avail.min(FRAME_PREFIX_LEN)];
        let body = match check_prefix(prefix) {
            Ok(len) => len as usize,
            Err(d) => return Ok(Probe::Bad(d)),
        };
        let total = FRAME_PREFIX_LEN + body;
        let avail = self.fill(total)?;
        if avail < total {
            return Ok(Probe::Bad(Defect::Incomplete {
                needed: total as u64,
                available: avail as u64,
            }));
        }
        match check_crc(&self.buf[self.lo..self.lo + total]) {
            Ok(()) => Ok(Probe::Frame(total)),
            Err(d) => Ok(Probe::Bad(d)),
        }
    }

    /// Skips from the bad frame at `offset` to the next valid frame and
    /// says what was skipped.
    fn recover(&mut self, offset: u64, defect: Defect) -> Result<FrameMeta, ReadError> {
        let mut all_zero = true;
        // Absolute file offset where the sync search goes on; buffer
        // indices move when `fill` compacts, file offsets do not.
        let mut cand = offset + 1;
        loop {
            let need = (cand - self.position()) as usize + SYNC.len();
            if let Err(e) = self.fill(need) {
                self.done = true;
                return Err(e);
            }
            let from = ((cand - self.base) as usize).min(self.hi);
            let found = self.buf[from..self.hi]
                .windows(SYNC.len())
                .position(|w| w == SYNC)
                .map(|i| from + i);
            match found {
                Some(i) => {
                    self.advance(i, &mut all_zero);
                    match self.probe() {
                        Ok(Probe::Frame(_)) => {
                            let resumed = self.position();
                            return Err(ReadError::Corrupt {
                                path: self.path.clone(),
                                offset,
                                defect,
                                skipped: resumed - offset,
                                resumed_at: Some(resumed),
                            });
                        }
                        Ok(_) => cand = self.position() + 1,
                        Err(e) => {
                            self.done = true;
                            return Err(e);
                        }
                    }
                }
                None if self.eof => {
                    self.advance(self.hi, &mut all_zero);
                    self.done = true;
                    let bytes = self.position() - offset;
                    let torn = matches!(defect, Defect::Incomplete { .. });
                    return Err(if torn || all_zero {
                        ReadError::TruncatedTail {
                            path: self.path.clone(),
                            offset,
                            bytes,
                            zero_filled: all_zero,
                        }
                    } else {
                        ReadError::Corrupt {
                            path: self.path.clone(),
                            offset,
                            defect,
                            skipped: bytes,
                            resumed_at: None,
                        }
                    });
                }
                None => {
                    // Keep the last 3 bytes: they may begin a sync marker.
                    let keep = self.hi.saturating_sub(SYNC.len() - 1).max(self.lo);
                    self.advance(keep, &mut all_zero);
                    cand = cand.max(self.position());
                    let more = self.hi - self.lo + CHUNK;
                    if let Err(e) = self.fill(more) {
                        self.done = true;
                        return Err(e);
                    }
                }
            }
        }
    }

    /// Asks the CPU to load the mapped bytes ahead of the next frames
    /// while this one is decoded and checked: the first touch of a
    /// page-cache line otherwise stalls the checksum.
    fn prefetch(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if let Window::Mapped(m) = &self.buf {
            let end = m.len().min(self.lo + PREFETCH_AHEAD);
            let mut at = self.ahead.max(self.lo) & !63;
            while at < end {
                // SAFETY: a prefetch of an address inside the map reads
                // nothing into the program and cannot fault.
                unsafe {
                    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                    _mm_prefetch::<_MM_HINT_T0>(m.as_ptr().add(at).cast());
                }
                at += 64;
            }
            self.ahead = end;
        }
    }

    /// Drops bytes up to buffer index `to`, noting whether they were zeros.
    fn advance(&mut self, to: usize, all_zero: &mut bool) {
        if *all_zero && self.buf[self.lo..to].iter().any(|&b| b != 0) {
            *all_zero = false;
        }
        self.lo = to;
    }

    /// Makes at least `need` unread bytes available unless the source ends
    /// first; returns how many are available.
    fn fill(&mut self, need: usize) -> Result<usize, ReadError> {
        while self.hi - self.lo < need && !self.eof {
            // A mapped window holds the whole file from the start.
            let Window::Buffer(buf) = &mut self.buf else {
                self.eof = true;
                break;
            };
            // Grow by at most one chunk per read, so a bogus length costs
            // only as much memory as the file really has behind it.
            if buf.len() - self.hi < CHUNK {
                if self.lo > 0 {
                    buf.copy_within(self.lo..self.hi, 0);
                    self.base += self.lo as u64;
                    self.hi -= self.lo;
                    self.lo = 0;
                }
                if buf.len() - self.hi < CHUNK {
                    buf.resize(self.hi + CHUNK, 0);
                }
            }
            match self.src.read(&mut buf[self.hi..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.hi += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(ReadError::Io {
                        path: self.path.clone(),
                        op: "read",
                        source,
                    })
                }
            }
        }
        Ok(self.hi - self.lo)
    }
}

impl SegmentReader<File> {
    /// Reads a closed segment in place where it can: mapped, and read
    /// into memory at once, so that an I/O error shows here rather than
    /// as a fault on a page later. Where it cannot (such an error, a
    /// kernel before 5.14), through a buffer as [`SegmentReader::new`],
    /// which reports the problem at its offset.
    ///
    /// # Safety
    ///
    /// Nothing may write to or shorten the file while the reader lives
    /// (a footer says the writer closed it, and the recorder never
    /// touches a closed segment again): the frames handed out borrow the
    /// mapped bytes, and a file cut short would fault on the lost pages.
    pub unsafe fn closed(path: impl Into<PathBuf>, file: File) -> Result<Self, ReadError> {
        match map_whole(&file) {
            Some(map) => Self::over(path.into(), file, Window::Mapped(map)),
            None => Self::new(path, file),
        }
    }
}

impl<R> SegmentReader<R> {
    /// Whether the segment is read in place ([`SegmentReader::closed`]).
    pub fn is_mapped(&self) -> bool {
        matches!(self.buf, Window::Mapped(_))
    }
}

/// `file` mapped with all its pages read in (faulting them in 64 KiB at
/// a time costs more, and the CPU's prefetch stops at pages not mapped
/// yet); `None` if any of that fails.
fn map_whole(file: &File) -> Option<memmap2::Mmap> {
    // SAFETY: the map is read-only and lives as long as the reader; the
    // caller of `closed` vouches that the file is no longer written or cut.
    let map = unsafe { memmap2::Mmap::map(file) }.ok()?;
    // Unlike MAP_POPULATE, this says when a page could not be read.
    map.advise(memmap2::Advice::PopulateRead).ok()?;
    Some(map)
}
