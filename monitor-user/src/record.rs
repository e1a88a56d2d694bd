//! The recorder stage of the pipeline: every enriched [`Event`] goes to a
//! segmented flight-recorder log (`vigil run --record DIR`), and so do the
//! losses upstream of it (kernel ring-buffer drops, undecodable records), so
//! a log shows where it has holes. Encoding is postcard of [`Event`] under
//! the schema name [`EVENT_SCHEMA`]; the byte format is `docs/log-format.md`.
//! Reading back is [`open_log`] + [`vigil_recorder::EventReader<Event>`].

use std::path::Path;
use std::time::Duration;

use vigil_recorder::{Config, LogReader, LossSource, ReadError, Recorder, Stats, WriteError};

use crate::event::Event;
use crate::sensor::SensorStats;

/// Names the payload of event records: postcard of [`Event`]. Bump the
/// suffix on any change to `Event` other than appending an enum variant.
pub const EVENT_SCHEMA: &str = "vigil.event/1";

/// Rotation and retention of `--record`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordConfig {
    pub segment_bytes: u64,
    pub segment_age: Duration,
    /// `None`: keep whatever the size.
    pub retention_bytes: Option<u64>,
    /// `None`: keep whatever the age.
    pub retention_age: Option<Duration>,
}

impl Default for RecordConfig {
    fn default() -> Self {
        let d = Config::default();
        RecordConfig {
            segment_bytes: d.max_segment_bytes,
            segment_age: d.max_segment_age,
            retention_bytes: d.retention_bytes,
            retention_age: d.retention_age,
        }
    }
}

impl RecordConfig {
    fn to_recorder(&self) -> Config {
        Config {
            max_segment_bytes: self.segment_bytes,
            max_segment_age: self.segment_age,
            retention_bytes: self.retention_bytes,
            retention_age: self.retention_age,
            schema: EVENT_SCHEMA.into(),
            writer_info: format!(
                "vigil {} pid {}",
                env!("CARGO_PKG_VERSION"),
                std::process::id()
            ),
            ..Config::default()
        }
    }
}

/// Records events without ever blocking the pipeline; losses are counted
/// by the recorder and written into the log as loss records.
pub struct EventRecorder {
    rec: Recorder<Event>,
    /// Source counters already reported as losses (they are cumulative).
    seen_kernel_drops: u64,
    seen_malformed: u64,
}

impl EventRecorder {
    pub fn open(dir: &Path, cfg: &RecordConfig) -> Result<EventRecorder, WriteError> {
        Ok(EventRecorder {
            rec: Recorder::open(dir, cfg.to_recorder())?,
            seen_kernel_drops: 0,
            seen_malformed: 0,
        })
    }

    /// Queues one event, stamped with its own wall-clock time. A full queue
    /// drops it, counted in [`EventRecorder::stats`] and in the log.
    pub fn record(&self, ev: Event) {
        self.rec.record(ev.wall_ns, ev);
    }

    /// Turns growth of the source's cumulative drop counters into loss
    /// records: kernel ring-buffer drops and records the agent could not
    /// decode.
    pub fn note_source(&mut self, s: &SensorStats) {
        let drops = s.total_drops();
        if drops > self.seen_kernel_drops {
            self.rec
                .report_loss(LossSource::KernelRingBuffer, drops - self.seen_kernel_drops);
            self.seen_kernel_drops = drops;
        }
        if s.malformed > self.seen_malformed {
            self.rec
                .report_loss(LossSource::Sensor, s.malformed - self.seen_malformed);
            self.seen_malformed = s.malformed;
        }
    }

    pub fn stats(&self) -> Stats {
        self.rec.stats()
    }

    /// Waits until everything queued so far is on disk.
    pub fn flush(&self) -> Result<(), WriteError> {
        self.rec.flush().map(drop)
    }

    /// Drains the queue, writes pending loss records, closes the segment
    /// with a footer and syncs (the SIGTERM path).
    pub fn close(self) -> Result<Stats, WriteError> {
        self.rec.close()
    }
}

/// The `"recorder"` object of the `stats` line.
pub fn stats_json(s: &Stats) -> String {
    format!(
        "{{\"written\":{},\"dropped\":{},\"failed\":{},\"loss_records\":{},\"bytes\":{},\"segments\":{}}}",
        s.written, s.dropped, s.failed, s.loss_records, s.bytes, s.segments_created
    )
}

/// A reader over recorded logs (directories and/or segment files), refusing
/// segments of another schema.
pub fn open_log<P: AsRef<Path>>(paths: &[P]) -> Result<LogReader, ReadError> {
    Ok(LogReader::open_many(paths)?.expect_schema(EVENT_SCHEMA))
}
