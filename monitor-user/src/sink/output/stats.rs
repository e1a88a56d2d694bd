//! Per-output delivery counters: the live atomics an output's task updates
//! ([`Counters`]) and the plain snapshot the `stats` line and the metrics
//! endpoint read ([`OutputStats`]).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

/// What one output has done so far; updated by the fan-out (queue side) and
/// by the output's task (delivery side).
#[derive(Debug, Default)]
pub struct Counters {
    queued: AtomicU64,
    /// 1 while the worker delivers an alert it took off the queue.
    in_flight: AtomicU64,
    sent: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
}

impl Counters {
    pub fn enqueued(&self) {
        self.queued.fetch_add(1, Relaxed);
    }
    /// The worker took an alert off the queue to deliver it; [`Counters::done`]
    /// when that ends, whichever way.
    pub fn taken(&self) {
        self.in_flight.store(1, Relaxed);
        self.dequeued();
    }
    pub fn done(&self) {
        self.in_flight.store(0, Relaxed);
    }
    /// Taken back off the queue (a send that did not get in).
    pub fn dequeued(&self) {
        // Saturating: after [`Counters::abandon`] a late worker may still
        // take one.
        let _ = self
            .queued
            .fetch_update(Relaxed, Relaxed, |q| Some(q.saturating_sub(1)));
    }
    /// Shutdown gave up on what is still queued or in flight: counts it
    /// as dropped.
    pub fn abandon(&self) -> u64 {
        let n = self.queued.swap(0, Relaxed) + self.in_flight.swap(0, Relaxed);
        self.dropped.fetch_add(n, Relaxed);
        n
    }
    pub fn sent(&self) {
        self.sent.fetch_add(1, Relaxed);
    }
    /// Dropped before delivery: the queue was full, or shutdown left it
    /// queued past the flush deadline.
    pub fn dropped(&self, n: u64) -> u64 {
        self.dropped.fetch_add(n, Relaxed)
    }
    /// Delivery given up after its retries.
    pub fn failed(&self) {
        self.failed.fetch_add(1, Relaxed);
    }
    pub fn retried(&self) {
        self.retries.fetch_add(1, Relaxed);
    }
    pub fn queued(&self) -> u64 {
        self.queued.load(Relaxed)
    }

    pub fn snapshot(&self, name: &str, kind: &'static str) -> OutputStats {
        OutputStats {
            name: name.to_owned(),
            kind,
            queued: self.queued.load(Relaxed),
            sent: self.sent.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            failed: self.failed.load(Relaxed),
            retries: self.retries.load(Relaxed),
        }
    }
}

/// One output's counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OutputStats {
    /// The output's name (`stdout`, `file`, `http`, ... or the configured name).
    pub name: String,
    /// Its type: `stdout`, `file`, `http` or `syslog`.
    pub kind: &'static str,
    /// Alerts waiting in its queue now.
    pub queued: u64,
    /// Alerts delivered.
    pub sent: u64,
    /// Alerts given up undelivered: queue full, or still queued (or in
    /// flight) when the shutdown flush timed out.
    pub dropped: u64,
    /// Alerts attempted and given up (after retries).
    pub failed: u64,
    /// Delivery attempts repeated after a failure.
    pub retries: u64,
}
