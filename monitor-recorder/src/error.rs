//! Typed errors. `ReadError` covers everything a reader can meet in a log
//! (each variant names the file, the byte offset and what was expected);
//! `WriteError` covers the writer. Recoverable read errors are yielded as
//! iterator items and reading goes on after them.

use std::io;
use std::path::{Path, PathBuf};

use crate::format::{hex, Defect, FORMAT_VERSION, MAGIC, MIN_HEADER_LEN};

/// Everything that can go wrong reading a log.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}: {op}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{}: offset 0: empty file, expected a vigil log segment header ({MIN_HEADER_LEN}+ bytes starting with magic {})", path.display(), hex(&MAGIC))]
    Empty { path: PathBuf },
    #[error("{}: offset 0: not a vigil log segment: expected magic {}, found {}", path.display(), hex(&MAGIC), hex(found))]
    Foreign { path: PathBuf, found: Vec<u8> },
    #[error("{}: offset 8: unsupported format version {found}, this reader supports version {FORMAT_VERSION}", path.display())]
    UnsupportedVersion { path: PathBuf, found: u16 },
    #[error("{}: offset {available}: segment header truncated: expected {needed} header bytes, file has {available}", path.display())]
    TruncatedHeader {
        path: PathBuf,
        needed: usize,
        available: usize,
    },
    #[error("{}: offset 0: unfinished segment: the directory's last segment has no complete header (the writer stopped while creating it)", path.display())]
    UnfinishedSegment { path: PathBuf },
    #[error("{}: offset {offset}: bad segment header: {reason}", path.display())]
    BadHeader {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("{}: offset {offset}: corrupt record: {defect}; skipped {skipped} bytes{}", path.display(), match resumed_at { Some(r) => format!(", resumed at offset {r}"), None => ", to end of file".into() })]
    Corrupt {
        path: PathBuf,
        offset: u64,
        defect: Defect,
        skipped: u64,
        resumed_at: Option<u64>,
    },
    #[error("{}: offset {offset}: truncated tail: {bytes} bytes of an incomplete last record{} (expected a complete frame; the writer stopped mid-write)", path.display(), if *zero_filled { " (zero-filled)" } else { "" })]
    TruncatedTail {
        path: PathBuf,
        offset: u64,
        bytes: u64,
        zero_filled: bool,
    },
    #[error("{}: offset {offset}: record {seq}: payload does not decode as the expected type: {message}", path.display())]
    Decode {
        path: PathBuf,
        offset: u64,
        seq: u64,
        message: String,
    },
    #[error("{}: offset 36: segment schema is {found:?}, expected {expected:?}", path.display())]
    SchemaMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{}: offset {offset}: {kind} record {seq}: malformed payload of {len} bytes", path.display())]
    BadPayload {
        path: PathBuf,
        offset: u64,
        seq: u64,
        kind: &'static str,
        len: usize,
    },
}

impl ReadError {
    /// The file the problem is in.
    pub fn path(&self) -> &Path {
        match self {
            Self::Io { path, .. }
            | Self::Empty { path }
            | Self::Foreign { path, .. }
            | Self::UnsupportedVersion { path, .. }
            | Self::TruncatedHeader { path, .. }
            | Self::UnfinishedSegment { path }
            | Self::BadHeader { path, .. }
            | Self::Corrupt { path, .. }
            | Self::TruncatedTail { path, .. }
            | Self::Decode { path, .. }
            | Self::SchemaMismatch { path, .. }
            | Self::BadPayload { path, .. } => path,
        }
    }

    /// Whether the problem concerns one record (or a torn tail) so that the
    /// rest of the segment is still read; otherwise the segment is skipped.
    pub fn is_record_level(&self) -> bool {
        matches!(
            self,
            Self::Corrupt { .. }
                | Self::TruncatedTail { .. }
                | Self::Decode { .. }
                | Self::BadPayload { .. }
        )
    }

    /// A torn tail is what a crash leaves behind; not damage. So is a
    /// last segment the writer was creating ([`ReadError::UnfinishedSegment`]).
    pub fn is_truncated_tail(&self) -> bool {
        matches!(
            self,
            Self::TruncatedTail { .. } | Self::UnfinishedSegment { .. }
        )
    }

    /// A header problem of the last segment of a directory (`last`) is what
    /// a writer killed while creating it leaves behind, and the writer's own
    /// resume removes such a segment: an unfinished segment, not damage.
    pub(crate) fn in_last_segment(self, last: bool) -> ReadError {
        match self {
            Self::Empty { path } | Self::TruncatedHeader { path, .. } if last => {
                Self::UnfinishedSegment { path }
            }
            e => e,
        }
    }
}

/// Everything that can go wrong writing a log.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{}: {op}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{}: another writer holds the log directory lock", path.display())]
    Locked { path: PathBuf },
    #[error("payload of {len} bytes exceeds the format limit of {max} bytes")]
    PayloadTooLarge { len: usize, max: usize },
    #[error("footer records are written by the writer itself")]
    ReservedKind,
    #[error("cannot encode event: {0}")]
    Encode(String),
    #[error("cannot resume the existing log: {0}")]
    Existing(#[source] ReadError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("the recorder thread has stopped")]
    Stopped,
}

pub(crate) fn io_read<'a>(
    path: &'a Path,
    op: &'static str,
) -> impl FnOnce(io::Error) -> ReadError + 'a {
    move |source| ReadError::Io {
        path: path.to_owned(),
        op,
        source,
    }
}

pub(crate) fn io_write<'a>(
    path: &'a Path,
    op: &'static str,
) -> impl FnOnce(io::Error) -> WriteError + 'a {
    move |source| WriteError::Io {
        path: path.to_owned(),
        op,
        source,
    }
}
