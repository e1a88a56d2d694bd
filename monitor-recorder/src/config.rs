//! Recorder settings with their defaults: segment rotation, retention, flush
//! cadence and queue size.

use std::time::Duration;

use crate::error::WriteError;
use crate::format::MAX_HEADER_LEN;

/// How a log directory is written and pruned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Start a new segment before one would exceed this size.
    pub max_segment_bytes: u64,
    /// Start a new segment once the current one is this old.
    pub max_segment_age: Duration,
    /// Delete the oldest whole segments while the log is larger.
    pub retention_bytes: Option<u64>,
    /// Delete segments last written longer ago than this.
    pub retention_age: Option<Duration>,
    /// Flush and fdatasync at least this often while records arrive.
    pub flush_interval: Duration,
    /// Records the agent may queue before further ones are dropped (and
    /// counted).
    pub queue_capacity: usize,
    /// In-memory write buffer of the writer.
    pub buffer_bytes: usize,
    /// Names the payload type/encoding; stored in every segment header.
    pub schema: String,
    /// Names the writing program; stored in every segment header.
    pub writer_info: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_segment_bytes: 64 << 20,
            max_segment_age: Duration::from_secs(3600),
            retention_bytes: Some(1 << 30),
            retention_age: Some(Duration::from_secs(24 * 3600)),
            flush_interval: Duration::from_secs(1),
            queue_capacity: 64 * 1024,
            buffer_bytes: 256 * 1024,
            schema: String::new(),
            writer_info: format!(
                "{} {} pid {}",
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
                std::process::id()
            ),
        }
    }
}

impl Config {
    pub fn validate(&self) -> Result<(), WriteError> {
        let bad = |m: &str| Err(WriteError::Config(m.to_owned()));
        if self.max_segment_bytes < 4096 {
            return bad("max_segment_bytes must be at least 4096");
        }
        if self.max_segment_age.is_zero() {
            return bad("max_segment_age must be positive");
        }
        if self.flush_interval.is_zero() {
            return bad("flush_interval must be positive");
        }
        if self.queue_capacity == 0 {
            return bad("queue_capacity must be positive");
        }
        if self
            .retention_bytes
            .is_some_and(|r| r < self.max_segment_bytes)
        {
            return bad("retention_bytes must be at least max_segment_bytes");
        }
        if self.schema.len() + self.writer_info.len() > MAX_HEADER_LEN - 64 {
            return bad("schema and writer_info are too long for a segment header");
        }
        Ok(())
    }
}
