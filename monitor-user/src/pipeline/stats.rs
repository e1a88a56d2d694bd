//! The `stats` line the agent logs every `--stats-interval` and at exit:
//! `stats {json}` with the sensor's record and drop counters, and the
//! alert and recorder counters when those outputs run. Built from typed
//! values with serde; the shape is documented in docs/events.md.
//!
//! The same counters go to the HTTP listener's state ([`publish`]) about
//! once a second, for `/metrics`.

use std::time::{Duration, Instant};

use monitor_common::EventKind;
use serde::ser::{Serialize, SerializeMap, Serializer};
use tokio::io::AsyncWrite;

use super::alerts::AlertStats;
use super::fanout::Outputs;
use crate::enrich::metadata::remote::RemoteStats;
use crate::sensor::SensorStats;
use crate::serve::state::{AgentState, RingFill, Snapshot};

/// One `stats` line.
#[derive(serde::Serialize)]
pub struct StatsLine {
    pub records: u64,
    pub events: u64,
    pub malformed: u64,
    /// Every kind, in stable id order.
    pub kernel_drops: KernelDrops,
    pub total_drops: u64,
    /// Syscall records the kernel's rate limit held back (`--throttle`).
    pub throttled: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<AlertStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorder: Option<RecorderStats>,
    /// Runtime API lookups (CRI, Docker), when they are on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<RemoteStats>,
}

/// Kernel drops per event kind.
pub struct KernelDrops(Vec<(EventKind, u64)>);

impl Serialize for KernelDrops {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (kind, n) in &self.0 {
            m.serialize_entry(kind.name(), n)?;
        }
        m.end()
    }
}

/// The `"recorder"` object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RecorderStats {
    pub written: u64,
    pub dropped: u64,
    pub failed: u64,
    pub loss_records: u64,
    pub bytes: u64,
    pub segments: u64,
}

impl From<&monitor_recorder::Stats> for RecorderStats {
    fn from(s: &monitor_recorder::Stats) -> RecorderStats {
        RecorderStats {
            written: s.written,
            dropped: s.dropped,
            failed: s.failed,
            loss_records: s.loss_records,
            bytes: s.bytes,
            segments: s.segments_created,
        }
    }
}

impl StatsLine {
    pub fn new(stats: &SensorStats, events: u64) -> StatsLine {
        let drops: Vec<(EventKind, u64)> = EventKind::ALL
            .iter()
            .map(|kind| {
                let n = stats
                    .kernel_drops
                    .iter()
                    .filter(|(k, _)| k == kind)
                    .map(|(_, n)| n)
                    .sum();
                (*kind, n)
            })
            .collect();
        StatsLine {
            records: stats.records,
            events,
            malformed: stats.malformed,
            total_drops: drops.iter().map(|(_, n)| n).sum(),
            kernel_drops: KernelDrops(drops),
            throttled: stats.throttled,
            alerts: None,
            recorder: None,
            metadata: None,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("in-memory JSON serialization")
    }
}

/// Log one `stats` line.
pub fn log_stats(
    stats: &SensorStats,
    events: u64,
    recorder: Option<&monitor_recorder::Stats>,
    alerts: Option<AlertStats>,
    metadata: Option<RemoteStats>,
) {
    let mut line = StatsLine::new(stats, events);
    line.alerts = alerts;
    line.metadata = metadata;
    line.recorder = recorder.map(RecorderStats::from);
    log::info!("stats {}", line.to_json());
}

/// The `stats` payload without alert and recorder counters:
/// `{"records":N,"events":N,"malformed":N,"kernel_drops":{"execve":N,...},"total_drops":N,"throttled":N}`.
pub fn stats_json(stats: &SensorStats, events: u64) -> String {
    StatsLine::new(stats, events).to_json()
}

/// The loop is alive and the ring was polled; about once a second, the
/// counters go to the HTTP listener.
pub(super) fn publish<W: AsyncWrite + Unpin + ?Sized>(
    state: &AgentState,
    last: &mut Option<Instant>,
    now: Instant,
    source: &impl crate::sensor::RecordSource,
    per_slot: &[u64],
    enricher: &mut crate::enrich::Enricher,
    out: &Outputs<'_, W>,
) {
    state.beat();
    state.polled();
    if last.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
        return;
    }
    *last = Some(now);
    let mut snap =
        Snapshot::from_pipeline(&source.stats(), per_slot, out.recorder_stats().as_ref());
    snap.metadata = enricher.metadata_stats();
    if let Some(c) = source.cgroup_counters() {
        snap.container_losses = super::loss::container_losses(&c, enricher, now);
    }
    snap.recorder_summarised = out.recorder_summarised();
    snap.ring = source.ring_fill().map(|(used_bytes, size_bytes)| RingFill {
        used_bytes,
        size_bytes,
    });
    if let Some(a) = out.alerting() {
        snap.alerts = a
            .written_by_rule()
            .map(|(r, p, n)| (r.to_string(), p.to_string(), n))
            .collect();
        snap.alerts_suppressed = a.suppressed();
        snap.outputs = a.stats().outputs.iter().map(Into::into).collect();
    }
    state.publish(snap);
}
