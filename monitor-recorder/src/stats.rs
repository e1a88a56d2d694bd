//! Counters shared between the writer thread and whoever watches it. Every
//! record that does not reach the disk is counted here: nothing is lost
//! silently.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const NONE: u64 = u64::MAX;

/// Live counters (atomics, cheap to update from the writer thread).
#[derive(Debug)]
pub struct Counters {
    pub(crate) written: AtomicU64,
    pub(crate) loss_records: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) segments_created: AtomicU64,
    pub(crate) segments_rotated: AtomicU64,
    pub(crate) segments_deleted: AtomicU64,
    pub(crate) syncs: AtomicU64,
    pub(crate) sync_errors: AtomicU64,
    pub(crate) durable_seq: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            written: AtomicU64::new(0),
            loss_records: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            segments_created: AtomicU64::new(0),
            segments_rotated: AtomicU64::new(0),
            segments_deleted: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
            sync_errors: AtomicU64::new(0),
            durable_seq: AtomicU64::new(NONE),
        }
    }
}

impl Counters {
    pub(crate) fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Relaxed);
    }

    /// Durable sequence numbers only grow (NONE is u64::MAX, so it is
    /// replaced explicitly).
    pub(crate) fn raise_durable(&self, seq: u64) {
        let _ = self
            .durable_seq
            .fetch_update(Relaxed, Relaxed, |d| (d == NONE || d < seq).then_some(seq));
    }

    pub fn snapshot(&self) -> Stats {
        let durable = self.durable_seq.load(Relaxed);
        Stats {
            written: self.written.load(Relaxed),
            loss_records: self.loss_records.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            failed: self.failed.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            segments_created: self.segments_created.load(Relaxed),
            segments_rotated: self.segments_rotated.load(Relaxed),
            segments_deleted: self.segments_deleted.load(Relaxed),
            syncs: self.syncs.load(Relaxed),
            sync_errors: self.sync_errors.load(Relaxed),
            durable_seq: (durable != NONE).then_some(durable),
        }
    }
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Event records written.
    pub written: u64,
    /// Loss marker records written.
    pub loss_records: u64,
    /// Events dropped because the queue was full (or the writer stopped).
    pub dropped: u64,
    /// Events that failed to encode or write.
    pub failed: u64,
    /// Bytes written to segment files (headers, frames, footers).
    pub bytes: u64,
    pub segments_created: u64,
    /// Segments closed with a footer (rotation or shutdown).
    pub segments_rotated: u64,
    /// Segments deleted by retention.
    pub segments_deleted: u64,
    /// Completed fdatasync calls.
    pub syncs: u64,
    /// Failed fdatasync/fsync calls (data may not be durable).
    pub sync_errors: u64,
    /// Highest sequence number known to be on stable storage.
    pub durable_seq: Option<u64>,
}
