//! vigil's flight recorder: a crash-safe, segmented, checksummed
//! append-only log of events, generic over the payload type.
//!
//! Writing: [`Recorder`] (bounded queue + writer thread, never blocks the
//! caller, counts every drop) on top of [`LogWriter`] (segments, rotation,
//! retention, fdatasync). Reading: [`LogReader`] streams records across
//! segments with a time filter, [`EventReader`] decodes them into
//! [`Entry<T>`], and [`verify()`] summarises a log's integrity. Values that
//! many records repeat can be written once per region and referred to by
//! number ([`dict`]). The byte format is specified in `docs/log-format.md`
//! and lives in [`format`](mod@format).
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use monitor_recorder::{Body, Config, EventReader, LogReader, Recorder, TimeRange};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Exec { pid: u32, exe: String }
//!
//! let dir = tempfile::tempdir().unwrap();
//! let cfg = Config { schema: "example.exec/1".into(), ..Config::default() };
//! let rec = Recorder::<Exec>::open(dir.path(), cfg).unwrap();
//! rec.record(1_000, Exec { pid: 7, exe: "/bin/sh".into() }); // never blocks
//! let stats = rec.close().unwrap(); // SIGTERM path: drain, footer, fdatasync
//! assert_eq!((stats.written, stats.dropped), (1, 0));
//!
//! let log = LogReader::open(dir.path())
//!     .unwrap()
//!     .expect_schema("example.exec/1")
//!     .time_range(TimeRange::new(Some(0), Some(2_000)));
//! for entry in EventReader::<Exec>::new(&log) {
//!     let entry = entry.unwrap(); // or report the typed ReadError and go on
//!     assert_eq!(entry.body, Body::Event(Exec { pid: 7, exe: "/bin/sh".into() }));
//! }
//! assert!(monitor_recorder::verify(dir.path()).unwrap().is_intact());
//! ```

pub mod config;
pub mod dict;
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
pub use error::{ReadError, WriteError};
pub use format::{Defect, Footer, Loss, LossSource, RecordKind, SegmentHeader, FORMAT_VERSION};
pub use reader::{LogReader, Record, Records, TimeRange};
pub use recorder::Recorder;
pub use segment::{FrameMeta, SegmentReader};
pub use stats::Stats;
pub use typed::{Body, Entry, EventReader};
pub use verify::{verify, VerifySummary};
pub use writer::LogWriter;
