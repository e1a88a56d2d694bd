//! The on-disk byte layout of format version 1: segment header, record
//! frames, and the fixed payloads of loss and footer records. Everything here
//! is pure encoding/decoding of byte slices; docs/log-format.md is the
//! normative description and must change together with this file.

use std::fmt;

/// First 8 bytes of every segment. PNG-style: a high-bit byte catches 7-bit
/// transports, CR LF / LF catch newline translation, 0x1a stops `type` on DOS.
pub const MAGIC: [u8; 8] = *b"\x89VLG\r\n\x1a\n";
/// The only format version this crate writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// Fixed part of the header before the variable writer/schema strings.
pub const HEADER_FIXED_LEN: usize = 36;
/// Largest header a v1 reader accepts (fixed part + strings + CRC).
pub const MAX_HEADER_LEN: usize = 4096;
/// Smallest possible header: fixed part + CRC, empty strings.
pub const MIN_HEADER_LEN: usize = HEADER_FIXED_LEN + 4;

/// Every record frame starts with these bytes. 0xF5 never occurs in UTF-8
/// text, so the marker does not show up inside recorded strings.
pub const SYNC: [u8; 4] = [0xF5, b'V', b'R', 0x0A];
/// sync(4) + crc(4) + body_len(4).
pub const FRAME_PREFIX_LEN: usize = 12;
/// kind(1) + timestamp(8) + sequence(8): the body before the payload.
pub const BODY_FIXED_LEN: usize = 17;
/// Whole frame overhead around a payload.
pub const FRAME_OVERHEAD: usize = FRAME_PREFIX_LEN + BODY_FIXED_LEN;
/// Largest body a v1 frame may declare (16 MiB). Anything larger is corrupt.
pub const MAX_BODY_LEN: u32 = 16 << 20;
/// Largest payload a writer accepts.
pub const MAX_PAYLOAD_LEN: usize = MAX_BODY_LEN as usize - BODY_FIXED_LEN;

/// Record kinds (byte 12 of a frame).
pub const KIND_EVENT: u8 = 1;
pub const KIND_LOSS: u8 = 2;
pub const KIND_FOOTER: u8 = 3;
pub const KIND_DEFINE: u8 = 4;

/// Loss payload: source(1) + count(8).
pub const LOSS_PAYLOAD_LEN: usize = 9;
/// Footer payload: records, first_seq, last_seq, min_ts, max_ts (5 x u64).
pub const FOOTER_PAYLOAD_LEN: usize = 40;
/// A footer frame has this exact size, so a reader finds it at EOF - 69.
pub const FOOTER_FRAME_LEN: usize = FRAME_OVERHEAD + FOOTER_PAYLOAD_LEN;

/// CRC-32C (Castagnoli), the checksum of headers and frames. crc-fast
/// folds with carry-less multiplication where the CPU has it: a replay
/// checks every byte of the log, and on a record's 1.4 KB this is 1.7
/// times as fast as the `crc32` instruction alone (the crc32c crate).
pub fn crc32c(bytes: &[u8]) -> u32 {
    crc_fast::crc32_iscsi(bytes)
}

/// What kind of record a frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A recorded event; the payload is the encoded event.
    Event,
    /// Events were lost; the payload says how many and where.
    Loss,
    /// Summary written when a segment is closed cleanly.
    Footer,
    /// Bytes that later records of the segment refer to by number
    /// ([`crate::dict`]).
    Define,
    /// A kind this version does not know; readers skip it.
    Unknown(u8),
}

impl RecordKind {
    pub fn from_byte(b: u8) -> Self {
        match b {
            KIND_EVENT => Self::Event,
            KIND_LOSS => Self::Loss,
            KIND_FOOTER => Self::Footer,
            KIND_DEFINE => Self::Define,
            other => Self::Unknown(other),
        }
    }

    pub fn to_byte(self) -> u8 {
        match self {
            Self::Event => KIND_EVENT,
            Self::Loss => KIND_LOSS,
            Self::Footer => KIND_FOOTER,
            Self::Define => KIND_DEFINE,
            Self::Unknown(b) => b,
        }
    }
}

/// The decoded segment header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentHeader {
    pub version: u16,
    pub flags: u32,
    /// Wall-clock creation time, ns since the Unix epoch.
    pub created_ns: u64,
    /// Sequence number the first record of this segment carries.
    pub first_seq: u64,
    /// Free text naming the program that wrote the segment.
    pub writer: String,
    /// Names the payload encoding/type of event records.
    pub schema: String,
    /// Total header length in bytes (= offset of the first frame).
    pub len: usize,
}

/// Why header bytes were rejected (before a path/offset is attached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    Empty,
    Foreign { found: Vec<u8> },
    Truncated { needed: usize, available: usize },
    Version { found: u16 },
    Bad { offset: u64, reason: String },
}

impl SegmentHeader {
    /// Encodes a header; strings longer than the header budget are cut at a
    /// char boundary so the header always fits.
    pub fn encode(created_ns: u64, first_seq: u64, writer: &str, schema: &str) -> Vec<u8> {
        let budget = (MAX_HEADER_LEN - MIN_HEADER_LEN) / 2;
        let writer = truncate_utf8(writer, budget);
        let schema = truncate_utf8(schema, budget);
        let mut out = Vec::with_capacity(MIN_HEADER_LEN + writer.len() + schema.len());
        let len = (MIN_HEADER_LEN + writer.len() + schema.len()) as u16;
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&created_ns.to_le_bytes());
        out.extend_from_slice(&first_seq.to_le_bytes());
        out.extend_from_slice(&(writer.len() as u16).to_le_bytes());
        out.extend_from_slice(&(schema.len() as u16).to_le_bytes());
        out.extend_from_slice(writer.as_bytes());
        out.extend_from_slice(schema.as_bytes());
        let crc = crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// How many bytes `decode` needs, judged from a prefix of at least 12
    /// bytes; `None` while fewer are known.
    pub fn needed_len(prefix: &[u8]) -> Option<usize> {
        (prefix.len() >= 12).then(|| u16_at(prefix, 10) as usize)
    }

    /// Decodes a header from the start of a file. `bytes` holds the file's
    /// first bytes (as many as are available up to `MAX_HEADER_LEN`);
    /// `at_eof` says whether the file ends where `bytes` ends.
    pub fn decode(bytes: &[u8], at_eof: bool) -> Result<Self, HeaderProblem> {
        if bytes.is_empty() {
            return Err(HeaderProblem::Empty);
        }
        let m = bytes.len().min(MAGIC.len());
        if bytes[..m] != MAGIC[..m] {
            return Err(HeaderProblem::Foreign {
                found: bytes[..m].to_vec(),
            });
        }
        if bytes.len() < 12 {
            debug_assert!(at_eof);
            return Err(HeaderProblem::Truncated {
                needed: MIN_HEADER_LEN,
                available: bytes.len(),
            });
        }
        // The version is checked before anything else so a future layout
        // is reported as such, not as garbage.
        let version = u16_at(bytes, 8);
        if version != FORMAT_VERSION {
            return Err(HeaderProblem::Version { found: version });
        }
        let len = u16_at(bytes, 10) as usize;
        if !(MIN_HEADER_LEN..=MAX_HEADER_LEN).contains(&len) {
            return Err(HeaderProblem::Bad {
                offset: 10,
                reason: format!("header length {len} outside {MIN_HEADER_LEN}..={MAX_HEADER_LEN}"),
            });
        }
        if bytes.len() < len {
            return Err(if at_eof {
                HeaderProblem::Truncated {
                    needed: len,
                    available: bytes.len(),
                }
            } else {
                HeaderProblem::Bad {
                    offset: 10,
                    reason: "header longer than the bytes supplied".into(),
                }
            });
        }
        let stored = u32_at(bytes, len - 4);
        let computed = crc32c(&bytes[..len - 4]);
        if stored != computed {
            return Err(HeaderProblem::Bad {
                offset: (len - 4) as u64,
                reason: format!(
                    "header CRC32C mismatch: stored {stored:#010x}, computed {computed:#010x}"
                ),
            });
        }
        let wl = u16_at(bytes, 32) as usize;
        let sl = u16_at(bytes, 34) as usize;
        if HEADER_FIXED_LEN + wl + sl + 4 != len {
            return Err(HeaderProblem::Bad {
                offset: 32,
                reason: format!("string lengths {wl} + {sl} do not add up to header length {len}"),
            });
        }
        let text = |off: usize, n: usize, what: &str| {
            std::str::from_utf8(&bytes[off..off + n])
                .map(str::to_owned)
                .map_err(|e| HeaderProblem::Bad {
                    offset: (off + e.valid_up_to()) as u64,
                    reason: format!("{what} is not UTF-8"),
                })
        };
        Ok(Self {
            version,
            flags: u32_at(bytes, 12),
            created_ns: u64_at(bytes, 16),
            first_seq: u64_at(bytes, 24),
            writer: text(HEADER_FIXED_LEN, wl, "writer string")?,
            schema: text(HEADER_FIXED_LEN + wl, sl, "schema string")?,
            len,
        })
    }
}

fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The 29 bytes that precede a payload, with the CRC filled in.
pub fn frame_prefix(kind: u8, ts_ns: u64, seq: u64, payload: &[u8]) -> [u8; FRAME_OVERHEAD] {
    debug_assert!(payload.len() <= MAX_PAYLOAD_LEN);
    let mut p = [0u8; FRAME_OVERHEAD];
    p[0..4].copy_from_slice(&SYNC);
    let body_len = (BODY_FIXED_LEN + payload.len()) as u32;
    p[8..12].copy_from_slice(&body_len.to_le_bytes());
    p[12] = kind;
    p[13..21].copy_from_slice(&ts_ns.to_le_bytes());
    p[21..29].copy_from_slice(&seq.to_le_bytes());
    let mut crc = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi);
    crc.update(&p[8..29]);
    crc.update(payload);
    let crc = crc.finalize() as u32;
    p[4..8].copy_from_slice(&crc.to_le_bytes());
    p
}

/// Checks the 12-byte prefix of a frame: sync marker and plausible length.
/// Returns the body length.
pub fn check_prefix(prefix: &[u8]) -> Result<u32, Defect> {
    let n = prefix.len().min(4);
    if prefix[..n] != SYNC[..n] {
        let mut found = [0u8; 4];
        found[..n].copy_from_slice(&prefix[..n]);
        return Err(Defect::BadSync { found });
    }
    if prefix.len() < FRAME_PREFIX_LEN {
        return Err(Defect::Incomplete {
            needed: FRAME_PREFIX_LEN as u64,
            available: prefix.len() as u64,
        });
    }
    let len = u32_at(prefix, 8);
    if !(BODY_FIXED_LEN as u32..=MAX_BODY_LEN).contains(&len) {
        return Err(Defect::BadLength { len });
    }
    Ok(len)
}

/// Verifies the CRC of a whole frame (prefix + body).
pub fn check_crc(frame: &[u8]) -> Result<(), Defect> {
    let stored = u32_at(frame, 4);
    let computed = crc32c(&frame[8..]);
    if stored == computed {
        Ok(())
    } else {
        Err(Defect::BadChecksum { stored, computed })
    }
}

/// Why events were lost. Stored as one byte in loss records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LossSource {
    /// The kernel could not reserve ring-buffer space.
    KernelRingBuffer,
    /// The agent could not decode or process records.
    Sensor,
    /// The recorder's queue was full and events were dropped.
    RecorderQueueFull,
    /// Writing to disk failed.
    RecorderWriteError,
    /// An event could not be encoded.
    RecorderEncodeError,
    /// A code this version does not know.
    Other(u8),
}

impl LossSource {
    pub const KNOWN: [LossSource; 5] = [
        Self::KernelRingBuffer,
        Self::Sensor,
        Self::RecorderQueueFull,
        Self::RecorderWriteError,
        Self::RecorderEncodeError,
    ];

    pub fn to_byte(self) -> u8 {
        match self {
            Self::KernelRingBuffer => 1,
            Self::Sensor => 2,
            Self::RecorderQueueFull => 3,
            Self::RecorderWriteError => 4,
            Self::RecorderEncodeError => 5,
            Self::Other(b) => b,
        }
    }

    pub fn from_byte(b: u8) -> Self {
        match b {
            1 => Self::KernelRingBuffer,
            2 => Self::Sensor,
            3 => Self::RecorderQueueFull,
            4 => Self::RecorderWriteError,
            5 => Self::RecorderEncodeError,
            other => Self::Other(other),
        }
    }
}

/// Payload of a loss record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loss {
    pub source: LossSource,
    pub count: u64,
}

impl Loss {
    pub fn encode(&self) -> [u8; LOSS_PAYLOAD_LEN] {
        let mut b = [0u8; LOSS_PAYLOAD_LEN];
        b[0] = self.source.to_byte();
        b[1..9].copy_from_slice(&self.count.to_le_bytes());
        b
    }

    /// Longer payloads are accepted (later versions may append fields).
    pub fn decode(p: &[u8]) -> Option<Self> {
        (p.len() >= LOSS_PAYLOAD_LEN).then(|| Self {
            source: LossSource::from_byte(p[0]),
            count: u64_at(p, 1),
        })
    }
}

/// Payload of a footer record: a summary of the segment it closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// Records in the segment, footer excluded.
    pub records: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    /// Smallest and largest record timestamp in the segment.
    pub min_ts: u64,
    pub max_ts: u64,
}

impl Footer {
    pub fn encode(&self) -> [u8; FOOTER_PAYLOAD_LEN] {
        let mut b = [0u8; FOOTER_PAYLOAD_LEN];
        for (i, v) in [
            self.records,
            self.first_seq,
            self.last_seq,
            self.min_ts,
            self.max_ts,
        ]
        .into_iter()
        .enumerate()
        {
            b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    pub fn decode(p: &[u8]) -> Option<Self> {
        (p.len() == FOOTER_PAYLOAD_LEN).then(|| Self {
            records: u64_at(p, 0),
            first_seq: u64_at(p, 8),
            last_seq: u64_at(p, 16),
            min_ts: u64_at(p, 24),
            max_ts: u64_at(p, 32),
        })
    }

    /// Recognises a complete, checksummed footer frame (the last
    /// `FOOTER_FRAME_LEN` bytes of a cleanly closed segment).
    pub fn from_frame(frame: &[u8]) -> Option<(Self, u64)> {
        if frame.len() != FOOTER_FRAME_LEN {
            return None;
        }
        let len = check_prefix(&frame[..FRAME_PREFIX_LEN]).ok()?;
        if len as usize != BODY_FIXED_LEN + FOOTER_PAYLOAD_LEN || frame[12] != KIND_FOOTER {
            return None;
        }
        check_crc(frame).ok()?;
        Some((Self::decode(&frame[FRAME_OVERHEAD..])?, u64_at(frame, 13)))
    }
}

pub fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// What is wrong with one record frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// The frame does not start with the sync marker.
    BadSync { found: [u8; 4] },
    /// The declared body length is impossible.
    BadLength { len: u32 },
    /// The CRC32C stored in the frame does not match its bytes.
    BadChecksum { stored: u32, computed: u32 },
    /// The file ends inside the frame.
    Incomplete { needed: u64, available: u64 },
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadSync { found } => write!(
                f,
                "expected sync marker {}, found {}",
                hex(&SYNC),
                hex(found)
            ),
            Self::BadLength { len } => write!(
                f,
                "impossible body length {len} (expected 17..={MAX_BODY_LEN})"
            ),
            Self::BadChecksum { stored, computed } => write!(
                f,
                "CRC32C mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
            Self::Incomplete { needed, available } => write!(
                f,
                "incomplete frame: needs {needed} bytes, file has {available}"
            ),
        }
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let h = SegmentHeader::encode(7, 42, "vigil 0.1", "vigil.event/1");
        let d = SegmentHeader::decode(&h, true).unwrap();
        assert_eq!((d.created_ns, d.first_seq, d.len), (7, 42, h.len()));
        assert_eq!(
            (d.writer.as_str(), d.schema.as_str()),
            ("vigil 0.1", "vigil.event/1")
        );
    }

    #[test]
    fn header_strings_are_capped() {
        let long = "é".repeat(5000);
        let h = SegmentHeader::encode(0, 0, &long, &long);
        assert!(h.len() <= MAX_HEADER_LEN);
        assert!(SegmentHeader::decode(&h, true).is_ok());
    }

    #[test]
    fn frame_prefix_checks() {
        let p = frame_prefix(KIND_EVENT, 1, 2, b"abc");
        let mut frame = p.to_vec();
        frame.extend_from_slice(b"abc");
        assert_eq!(check_prefix(&frame[..12]), Ok(20));
        assert_eq!(check_crc(&frame), Ok(()));
        frame[30] ^= 1;
        assert!(matches!(check_crc(&frame), Err(Defect::BadChecksum { .. })));
    }

    #[test]
    fn footer_frame_round_trip() {
        let f = Footer {
            records: 3,
            first_seq: 10,
            last_seq: 12,
            min_ts: 5,
            max_ts: 9,
        };
        let payload = f.encode();
        let mut frame = frame_prefix(KIND_FOOTER, 99, 12, &payload).to_vec();
        frame.extend_from_slice(&payload);
        assert_eq!(Footer::from_frame(&frame), Some((f, 99)));
    }
}

/// Byte-exact examples that docs/log-format.md describes; if these change,
/// the format changed.
#[cfg(test)]
mod golden {
    use super::*;

    #[test]
    fn crc_is_crc32c_castagnoli() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn header_bytes() {
        let h = SegmentHeader::encode(0x0102030405060708, 42, "w", "s");
        let mut want = Vec::new();
        want.extend_from_slice(b"\x89VLG\r\n\x1a\n");
        want.extend_from_slice(&[1, 0, 42, 0, 0, 0, 0, 0]); // version 1, len 42, flags
        want.extend_from_slice(&[8, 7, 6, 5, 4, 3, 2, 1]); // created_ns
        want.extend_from_slice(&[42, 0, 0, 0, 0, 0, 0, 0]); // first_seq
        want.extend_from_slice(&[1, 0, 1, 0, b'w', b's']); // lengths, strings
        let crc = crc32c(&want);
        want.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(h, want);
    }

    #[test]
    fn frame_bytes() {
        let p = frame_prefix(KIND_EVENT, 0x10, 7, b"hi");
        let mut body = vec![19, 0, 0, 0, 1]; // body_len 17 + 2, kind 1
        body.extend_from_slice(&[0x10, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]);
        body.extend_from_slice(b"hi");
        let crc = crc32c(&body);
        let mut want = vec![0xF5, 0x56, 0x52, 0x0A];
        want.extend_from_slice(&crc.to_le_bytes());
        want.extend_from_slice(&body);
        let mut got = p.to_vec();
        got.extend_from_slice(b"hi");
        assert_eq!(got, want);
    }

    #[test]
    fn loss_bytes() {
        let l = Loss {
            source: LossSource::RecorderQueueFull,
            count: 258,
        };
        assert_eq!(l.encode(), [3, 2, 1, 0, 0, 0, 0, 0, 0]);
    }
}
