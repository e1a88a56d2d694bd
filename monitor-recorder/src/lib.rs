//! vigil's flight recorder: a crash-safe, segmented, checksummed
//! append-only log of events, generic over the payload type.
//!
//! Writing: [`Recorder`] (bounded queue + writer thread, never blocks the
//! caller, counts every drop) on top of [`LogWriter`] (segments, rotation,
//! retention, fdatasync). Reading: [`LogReader`] streams records across
//! segments with a time filter, [`EventReader`] decodes them into
//! [`Entry<T>`], and [`verify`] summarises a log's integrity. The byte
//! format is specified in `docs/log-format.md` and lives in [`format`].

pub mod config;
pub mod dir;
pub mod error;
pub mod format;
pub mod reader;
pub mod recorder;
pub mod segment;
pub mod stats;
mod sync;
pub mod typed;
pub mod verify;
pub mod writer;

pub use config::Config;
pub use error::{Defect, ReadError, WriteError};
pub use format::{Footer, Loss, LossSource, RecordKind, SegmentHeader, FORMAT_VERSION};
pub use reader::{LogReader, Record, Records, TimeRange};
pub use recorder::Recorder;
pub use segment::{FrameMeta, SegmentReader};
pub use stats::Stats;
pub use typed::{Body, Entry, EventReader};
pub use verify::{verify, VerifySummary};
pub use writer::LogWriter;
