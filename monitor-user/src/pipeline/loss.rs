//! Where the sensor is losing events, as rules and metrics see it.
//!
//! [`LossWatch`] turns the kernel's cumulative drop counters into a
//! built-in `throttled` event (by `ring`) once events have been lost in
//! [`SUSTAINED`] consecutive checks a second or more apart, and again at
//! most every [`REPEAT`] while the loss goes on; the default rule "Sensor
//! losing events" alerts on it. [`container_losses`] sums the kernel's
//! per-cgroup drop and throttle counters by container for `/metrics`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use monitor_common::{CgroupCounters, EventKind};

use crate::enrich::Enricher;
use crate::event::{Clock, Container, Data, Event, Process, ThrottleData, Throttler};
use crate::sensor::SensorStats;

/// Checks in a row that saw new drops before the loss counts as sustained.
pub const SUSTAINED: u32 = 3;
/// Least time between two loss events while a loss goes on.
pub const REPEAT: Duration = Duration::from_secs(60);
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Watches the kernel drop counters for sustained loss.
pub struct LossWatch {
    clock: Clock,
    last_check: Option<Instant>,
    /// Per-kind totals at the last check.
    seen: Vec<(EventKind, u64)>,
    streak: u32,
    /// Since the streak began (or the last event): drops per kind, and when.
    pending: Vec<(EventKind, u64)>,
    since_ns: u64,
    last_raised: Option<Instant>,
}

impl Default for LossWatch {
    fn default() -> Self {
        LossWatch {
            clock: Clock::measure(),
            last_check: None,
            seen: Vec::new(),
            streak: 0,
            pending: Vec::new(),
            since_ns: 0,
            last_raised: None,
        }
    }
}

impl LossWatch {
    /// The loss event, when `stats` shows a sustained loss now.
    pub fn check(&mut self, stats: &SensorStats, now: Instant, boot_ns: u64) -> Option<Event> {
        if self
            .last_check
            .is_some_and(|t| now.duration_since(t) < CHECK_EVERY)
        {
            return None;
        }
        self.last_check = Some(now);
        let mut grew = false;
        for &(kind, total) in &stats.kernel_drops {
            let before = lookup(&self.seen, kind);
            if total > before {
                grew = true;
                add(&mut self.pending, kind, total - before);
                set(&mut self.seen, kind, total);
            }
        }
        if !grew {
            self.streak = 0;
            self.pending.clear();
            return None;
        }
        if self.streak == 0 {
            self.since_ns = boot_ns;
        }
        self.streak += 1;
        if self.streak < SUSTAINED || self.last_raised.is_some_and(|t| now - t < REPEAT) {
            return None;
        }
        self.last_raised = Some(now);
        // Named by the kind that lost most.
        let (kind, _) = self.pending.iter().max_by_key(|(_, n)| *n).copied()?;
        let count = self.pending.iter().map(|(_, n)| n).sum();
        self.pending.clear();
        let window_ns = boot_ns.saturating_sub(self.since_ns);
        self.since_ns = boot_ns;
        let mut ev = loss_event(kind, count, window_ns, boot_ns);
        ev.wall_ns = self.clock.wall_ns(boot_ns);
        Some(ev)
    }
}

fn lookup(v: &[(EventKind, u64)], kind: EventKind) -> u64 {
    v.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n)
}

fn set(v: &mut Vec<(EventKind, u64)>, kind: EventKind, n: u64) {
    match v.iter_mut().find(|(k, _)| *k == kind) {
        Some(e) => e.1 = n,
        None => v.push((kind, n)),
    }
}

fn add(v: &mut Vec<(EventKind, u64)>, kind: EventKind, n: u64) {
    let before = lookup(v, kind);
    set(v, kind, before + n);
}

/// A host event from the agent itself: `count` records lost over `window_ns`.
fn loss_event(kind: EventKind, count: u64, window_ns: u64, boot_ns: u64) -> Event {
    Event {
        data: Data::Throttled(ThrottleData {
            by: Throttler::Ring,
            kind: kind.name().to_owned(),
            count,
            window_ns,
        }),
        num: 0,
        boot_ns,
        wall_ns: 0,
        process: Arc::new(Process {
            pid: std::process::id(),
            tid: std::process::id(),
            name: "vigil".into(),
            ..Default::default()
        }),
        container: Arc::new(Container::default()),
        cgroup: Default::default(),
        truncated: Vec::new(),
        target_is_vigil: None,
        baseline: None,
    }
}

/// Per container (`host` for the rest): records lost in the kernel and
/// records held back by the rate limit, from the per-cgroup counters.
/// Containers with neither are left out.
pub fn container_losses(
    counters: &[(u64, CgroupCounters)],
    enricher: &mut Enricher,
    now: Instant,
) -> Vec<(String, u64, u64)> {
    let mut out: Vec<(String, u64, u64)> = Vec::new();
    for (id, c) in counters {
        if c.dropped == 0 && c.throttled == 0 {
            continue;
        }
        let (container, _) = enricher.container_of(*id, now);
        match out.iter_mut().find(|(k, _, _)| *k == container.id) {
            Some(e) => {
                e.1 += c.dropped;
                e.2 += c.throttled;
            }
            None => out.push((container.id.clone(), c.dropped, c.throttled)),
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(syscall: u64, exec: u64) -> SensorStats {
        SensorStats {
            kernel_drops: vec![(EventKind::Syscall, syscall), (EventKind::Exec, exec)],
            ..Default::default()
        }
    }

    #[test]
    fn sustained_loss_raises_one_event_then_waits() {
        let mut w = LossWatch::default();
        let t0 = Instant::now();
        let s = |i: u64| t0 + Duration::from_secs(i);
        // A single burst is not sustained.
        assert!(w.check(&stats(10, 0), s(0), 0).is_none());
        assert!(w.check(&stats(10, 0), s(1), 1).is_none());
        // Three checks in a row with new drops are.
        assert!(w.check(&stats(20, 0), s(2), 2).is_none());
        // Checks closer than a second apart are skipped.
        assert!(w.check(&stats(25, 0), s(2), 2).is_none());
        assert!(w.check(&stats(30, 1), s(3), 3).is_none());
        let ev = w
            .check(&stats(45, 1), s(4), 4_000_000_000)
            .expect("sustained");
        let Data::Throttled(t) = &ev.data else {
            panic!("{ev:?}")
        };
        assert_eq!(t.by, Throttler::Ring);
        assert_eq!(t.kind, "syscall");
        assert_eq!(t.count, 36, "10 → 45 syscall drops and one exec");
        assert_eq!(ev.container.id, "host");
        assert_eq!(ev.evt_type(), "throttled");
        // Still losing: not again within the repeat interval...
        for i in 5..60 {
            assert!(w.check(&stats(45 + i, 1), s(i), i).is_none());
        }
        // ...but after it.
        assert!(w.check(&stats(200, 1), s(65), 65).is_some());
    }
}
