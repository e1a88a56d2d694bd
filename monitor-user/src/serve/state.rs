//! What the HTTP endpoints report, shared between the agent and the listener.
//!
//! The agent writes, the listener reads: the pipeline beats a heartbeat once
//! a second and marks the first ring-buffer poll ([`AgentState::beat`],
//! [`AgentState::polled`]), publishes a [`Snapshot`] of its counters with
//! each beat, and `vigil run` records the hooks it attached and every rules
//! (re)load. Everything is atomics or a short-held mutex: a scrape never
//! waits on the event loop, and a stalled loop shows as a stale heartbeat.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use monitor_common::EventKind;

/// How long the heartbeat may be silent before `/healthz` fails (the
/// pipeline beats every second; a loop blocked this long is stuck).
pub const DEFAULT_STALL_AFTER: Duration = Duration::from_secs(10);

/// The pipeline's counters at one moment. Counters only grow.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Events decoded from the ring buffer, per kind.
    pub events: Vec<(EventKind, u64)>,
    /// Ring-buffer reservations the kernel failed, per kind.
    pub kernel_drops: Vec<(EventKind, u64)>,
    /// Records that failed to decode.
    pub malformed: u64,
    /// Syscall records the kernel's rate limit held back.
    pub throttled: u64,
    /// Bytes waiting in the ring buffer and its size, when known.
    pub ring: Option<RingFill>,
    /// Alerts written, per (rule, priority).
    pub alerts: Vec<(String, String, u64)>,
    /// Alerts held back by the rate limit.
    pub alerts_suppressed: u64,
    /// The flight recorder, when recording.
    pub recorder: Option<RecorderCounters>,
    /// One entry per alert output (filled by the sinks that have queues).
    pub outputs: Vec<OutputCounters>,
    /// Runtime API lookups (CRI, Docker), when they are on.
    pub metadata: Option<crate::enrich::metadata::remote::RemoteStats>,
    /// Per container (`host` for the rest): records lost in the kernel
    /// and syscall records held back by the rate limit; only those with
    /// either.
    pub container_losses: Vec<(String, u64, u64)>,
    /// Events the recorder's flood budget summarised, when recording.
    pub recorder_summarised: Option<u64>,
}

impl Snapshot {
    /// From the pipeline's counters: the sensor's, events decoded per kind
    /// slot ([`EventKind::slot`]), the recorder's, and the alerts.
    pub fn from_pipeline(
        sensor: &crate::sensor::SensorStats,
        events_per_slot: &[u64],
        recorder: Option<&monitor_recorder::Stats>,
    ) -> Snapshot {
        Snapshot {
            events: EventKind::ALL
                .iter()
                .map(|&k| {
                    (
                        k,
                        events_per_slot.get(k.slot() as usize).copied().unwrap_or(0),
                    )
                })
                .collect(),
            kernel_drops: EventKind::ALL
                .iter()
                .map(|&k| {
                    let n = sensor
                        .kernel_drops
                        .iter()
                        .filter(|(d, _)| *d == k)
                        .map(|(_, n)| n)
                        .sum();
                    (k, n)
                })
                .collect(),
            malformed: sensor.malformed,
            throttled: sensor.throttled,
            recorder: recorder.map(|r| RecorderCounters {
                bytes: r.bytes,
                segments_created: r.segments_created,
                segments_deleted: r.segments_deleted,
                events_dropped: r.dropped,
                events_failed: r.failed,
            }),
            ..Snapshot::default()
        }
    }
}

/// Ring-buffer occupancy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingFill {
    pub used_bytes: u64,
    pub size_bytes: u64,
}

/// The flight recorder's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecorderCounters {
    pub bytes: u64,
    pub segments_created: u64,
    pub segments_deleted: u64,
    /// Events lost: dropped on a full queue or failed to encode/write.
    pub events_dropped: u64,
    pub events_failed: u64,
}

/// One alert output's queue and losses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutputCounters {
    /// e.g. `stdout`, `file:/var/log/vigil.json`, `http:URL`, or the
    /// config file's name for it.
    pub name: String,
    pub queue_depth: u64,
    pub sent: u64,
    pub dropped: u64,
    /// Given up after the retries.
    pub failed: u64,
    pub retries: u64,
}

impl From<&crate::sink::output::OutputStats> for OutputCounters {
    fn from(o: &crate::sink::output::OutputStats) -> OutputCounters {
        OutputCounters {
            name: o.name.clone(),
            queue_depth: o.queued,
            sent: o.sent,
            dropped: o.dropped,
            failed: o.failed,
            retries: o.retries,
        }
    }
}

/// Hooks the sensor tried, once it is loaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HookCounts {
    pub attached: u64,
    pub refused: u64,
    /// `lsm` or `tracepoint` (`sensor::Mode::name`); empty before known.
    pub mode: &'static str,
    /// What the sensor does not cover (`sensor::gaps`).
    pub not_covered: Vec<&'static str>,
}

/// The rule set and its reloads.
#[derive(Clone, Debug, Default)]
pub struct RulesStatus {
    pub loaded: u64,
    pub reloads_ok: u64,
    pub reloads_failed: u64,
    /// Result and wall-clock time of the last load or reload.
    pub last: Option<(bool, SystemTime)>,
}

/// Shared between the agent and the HTTP listener (behind an `Arc`).
#[derive(Debug)]
pub struct AgentState {
    start: Instant,
    stall_after: Duration,
    /// Milliseconds since `start` of the last beat; 0: none yet.
    beat_ms: AtomicU64,
    polled: AtomicBool,
    hooks: Mutex<Option<HookCounts>>,
    rules: Mutex<RulesStatus>,
    snapshot: Mutex<Snapshot>,
}

impl Default for AgentState {
    fn default() -> Self {
        AgentState::new(DEFAULT_STALL_AFTER)
    }
}

/// The verdict of one endpoint: HTTP status and a short JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub ok: bool,
    pub body: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Writers never panic while holding these; do not turn one that did
    // into a failing scrape.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AgentState {
    pub fn new(stall_after: Duration) -> AgentState {
        AgentState {
            start: Instant::now(),
            stall_after,
            beat_ms: AtomicU64::new(0),
            polled: AtomicBool::new(false),
            hooks: Mutex::new(None),
            rules: Mutex::new(RulesStatus::default()),
            snapshot: Mutex::new(Snapshot::default()),
        }
    }

    /// The event loop is alive.
    pub fn beat(&self) {
        let ms = self.start.elapsed().as_millis().max(1) as u64;
        self.beat_ms.store(ms, Ordering::Relaxed);
    }

    /// The ring buffer has been polled at least once.
    pub fn polled(&self) {
        self.polled.store(true, Ordering::Relaxed);
    }

    /// The sensor is loaded: every hook attached or refused.
    pub fn set_hooks(&self, counts: HookCounts) {
        *lock(&self.hooks) = Some(counts);
    }

    pub fn hooks(&self) -> Option<HookCounts> {
        lock(&self.hooks).clone()
    }

    /// A rules load (`reload: false`, at start) or reload finished.
    /// `Some(rule count)` on success, `None` when it failed.
    pub fn rules_loaded(&self, reload: bool, result: Option<u64>) {
        let mut r = lock(&self.rules);
        match result {
            Some(n) => {
                r.loaded = n;
                r.reloads_ok += u64::from(reload);
            }
            None => r.reloads_failed += u64::from(reload),
        }
        r.last = Some((result.is_some(), SystemTime::now()));
    }

    pub fn rules(&self) -> RulesStatus {
        lock(&self.rules).clone()
    }

    pub fn publish(&self, snapshot: Snapshot) {
        *lock(&self.snapshot) = snapshot;
    }

    pub fn snapshot(&self) -> Snapshot {
        lock(&self.snapshot).clone()
    }

    /// Time since the last beat, `None` before the first.
    pub fn since_beat(&self) -> Option<Duration> {
        match self.beat_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(
                self.start
                    .elapsed()
                    .saturating_sub(Duration::from_millis(ms)),
            ),
        }
    }

    /// `/healthz`: the event loop beat within the stall limit. Before the
    /// first beat (still loading) the agent counts as alive: readiness,
    /// not liveness, covers start-up.
    pub fn health(&self) -> Verdict {
        match self.since_beat() {
            Some(d) if d > self.stall_after => Verdict {
                ok: false,
                body: format!(
                    r#"{{"status":"stalled","seconds_since_heartbeat":{:.1},"limit_seconds":{}}}"#,
                    d.as_secs_f64(),
                    self.stall_after.as_secs()
                ),
            },
            Some(d) => Verdict {
                ok: true,
                body: format!(
                    r#"{{"status":"ok","seconds_since_heartbeat":{:.1}}}"#,
                    d.as_secs_f64()
                ),
            },
            None => Verdict {
                ok: true,
                body: r#"{"status":"starting"}"#.to_string(),
            },
        }
    }

    /// `/readyz`: the sensor is loaded (every hook attached or refused) and
    /// the ring buffer was polled; the body says which part is missing.
    pub fn readiness(&self) -> Verdict {
        let hooks = self.hooks();
        let polled = self.polled.load(Ordering::Relaxed);
        let loaded = hooks.is_some();
        let ok = loaded && polled;
        let h = hooks.unwrap_or_default();
        let body = serde_json::json!({
            "ready": ok,
            "sensor_loaded": loaded,
            "hooks_attached": h.attached,
            "hooks_refused": h.refused,
            "hook_mode": h.mode,
            "not_covered": h.not_covered,
            "first_ring_poll": polled,
        });
        Verdict {
            ok,
            body: body.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_needs_hooks_and_a_poll() {
        let s = AgentState::default();
        assert!(!s.readiness().ok);
        s.set_hooks(HookCounts {
            attached: 90,
            refused: 2,
            mode: "tracepoint",
            not_covered: vec!["io_uring file opens"],
        });
        let v = s.readiness();
        assert!(!v.ok);
        assert!(v.body.contains(r#""first_ring_poll":false"#), "{}", v.body);
        s.polled();
        let v = s.readiness();
        assert!(v.ok, "{}", v.body);
        let j: serde_json::Value = serde_json::from_str(&v.body).unwrap();
        assert_eq!(j["hooks_attached"], 90);
        assert_eq!(j["hooks_refused"], 2);
        assert_eq!(j["hook_mode"], "tracepoint");
        assert_eq!(j["not_covered"][0], "io_uring file opens");
    }

    #[test]
    fn health_fails_when_the_heartbeat_is_stale() {
        let s = AgentState::new(Duration::from_millis(50));
        assert!(s.health().ok, "starting counts as alive");
        s.beat();
        assert!(s.health().ok);
        std::thread::sleep(Duration::from_millis(120));
        let v = s.health();
        assert!(!v.ok);
        assert!(v.body.contains("stalled"), "{}", v.body);
        s.beat();
        assert!(s.health().ok);
    }

    #[test]
    fn reloads_are_counted_by_result() {
        let s = AgentState::default();
        s.rules_loaded(false, Some(40));
        s.rules_loaded(true, None);
        s.rules_loaded(true, Some(41));
        let r = s.rules();
        assert_eq!((r.loaded, r.reloads_ok, r.reloads_failed), (41, 1, 1));
        assert_eq!(r.last.map(|l| l.0), Some(true));
    }
}
