//! Which files in a log directory are segments, and in what order. Segment
//! names are the first sequence number as 20 zero-padded decimal digits plus
//! `.vlog`, so name order is sequence order; other files are ignored.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{io_read, ReadError};
use crate::format::{Footer, FOOTER_FRAME_LEN};

pub const SEGMENT_EXT: &str = "vlog";
const DIGITS: usize = 20;

/// A segment file found in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFile {
    pub path: PathBuf,
    /// Sequence number from the file name.
    pub first_seq: u64,
}

pub fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:0DIGITS$}.{SEGMENT_EXT}")
}

/// Parses `00000000000000000042.vlog` into 42.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".vlog")?;
    if stem.len() != DIGITS || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Segments of `dir`, oldest first.
pub fn list_segments(dir: &Path) -> Result<Vec<SegmentFile>, ReadError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_read(dir, "list directory"))? {
        let entry = entry.map_err(io_read(dir, "list directory"))?;
        let name = entry.file_name();
        let Some(first_seq) = name.to_str().and_then(parse_segment_name) else {
            continue;
        };
        if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            out.push(SegmentFile {
                path: entry.path(),
                first_seq,
            });
        }
    }
    out.sort_by_key(|s| s.first_seq);
    Ok(out)
}

/// The footer of a cleanly closed segment, with the footer's own
/// timestamp (the close time); `None` when the segment was not closed
/// cleanly (crash, still being written).
pub fn read_footer(file: &File, len: u64) -> Option<(Footer, u64)> {
    let start = len.checked_sub(FOOTER_FRAME_LEN as u64)?;
    let mut buf = [0u8; FOOTER_FRAME_LEN];
    file.read_exact_at(&mut buf, start).ok()?;
    Footer::from_frame(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_and_parse() {
        assert_eq!(segment_name(42), "00000000000000000042.vlog");
        assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_segment_name("42.vlog"), None);
        assert_eq!(parse_segment_name("0000000000000000004x.vlog"), None);
        assert_eq!(parse_segment_name("99999999999999999999.vlog"), None);
        assert!(segment_name(9) < segment_name(10));
    }
}
