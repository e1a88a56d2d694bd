//! The flight recorder's flood budget: how many syscall events of one kind
//! one cgroup may put in the log per minute (`vigil run --record-budget`).
//!
//! A container that floods one syscall would otherwise fill the retention
//! budget with copies of one event and push everyone else's history out.
//! Over the budget, its events of that kind are counted instead of
//! recorded, and when the minute ends the log gets one `throttled` event
//! (by `recorder`) with the count, in the flooder's own process and
//! container context. Kept whatever the budget: process lifecycle and
//! every non-syscall event, and every event that raised an alert (past
//! the alert rate limit), so a replay raises the alerts the live run
//! raised. Windows follow the events' own
//! `boot_ns`, never the wall clock, so the same events give the same log.

use std::collections::HashMap;

use crate::event::name::Name;
use crate::event::{Data, Event, ThrottleData, Throttler};

/// Default of `--record-budget`: syscall events per cgroup, kind and
/// minute. An event carries its whole process context (a few KiB with
/// the environments), so a flood that keeps this many a minute adds a few
/// MiB a minute: the default retention (1 GiB) then holds hours of it.
/// Per second, the same count filled it in minutes.
pub const DEFAULT_PER_MINUTE: u32 = 1000;

const WINDOW_NS: u64 = 60_000_000_000;

/// One (cgroup, kind)'s current minute.
struct Window {
    kind: Name,
    start_ns: u64,
    kept: u32,
    held: u64,
    /// The last event held back: the summary's context.
    last: Option<Event>,
}

/// Per-cgroup windows.
pub struct RecordBudget {
    per_window: u32,
    windows: HashMap<u64, Vec<Window>, foldhash::fast::FixedState>,
    /// Events held back so far.
    pub held: u64,
}

impl RecordBudget {
    /// `per_minute` syscall events per cgroup and kind.
    pub fn new(per_minute: u32) -> RecordBudget {
        RecordBudget {
            per_window: per_minute,
            windows: HashMap::default(),
            held: 0,
        }
    }

    /// Whether to record `ev` (`alerted`: it raised an alert). A summary
    /// of a window `ev` closed goes into `out` first.
    pub fn admit(&mut self, ev: &Event, alerted: bool, out: &mut Vec<Event>) -> bool {
        let Data::Syscall(s) = &ev.data else {
            return true;
        };
        let per_window = self.per_window;
        let windows = self.windows.entry(ev.cgroup.id).or_default();
        let i = match windows.iter().position(|w| w.kind == s.name) {
            Some(i) => i,
            None => {
                windows.push(Window {
                    kind: s.name.clone(),
                    start_ns: ev.boot_ns,
                    kept: 0,
                    held: 0,
                    last: None,
                });
                windows.len() - 1
            }
        };
        let w = &mut windows[i];
        if ev.boot_ns.saturating_sub(w.start_ns) >= WINDOW_NS {
            out.extend(summary(w));
            w.start_ns = ev.boot_ns;
            w.kept = 0;
        }
        if w.kept < per_window || alerted {
            w.kept = w.kept.saturating_add(1);
            return true;
        }
        w.held += 1;
        self.held += 1;
        w.last = Some(ev.clone());
        false
    }

    /// Summaries of the windows that ended before `now_ns` (or all, with
    /// `u64::MAX` at shutdown); forgets windows that held nothing.
    pub fn expire(&mut self, now_ns: u64, out: &mut Vec<Event>) {
        self.windows.retain(|_, windows| {
            windows.retain_mut(|w| {
                if now_ns.saturating_sub(w.start_ns) < WINDOW_NS {
                    return true;
                }
                out.extend(summary(w));
                false
            });
            !windows.is_empty()
        });
    }
}

/// The `throttled` event of a window that held events back (taking them).
/// It covers the window from its start to the last event held back.
fn summary(w: &mut Window) -> Option<Event> {
    let mut ev = w.last.take()?;
    ev.data = Data::Throttled(ThrottleData {
        by: Throttler::Recorder,
        kind: w.kind.to_string(),
        count: std::mem::take(&mut w.held),
        window_ns: ev.boot_ns.saturating_sub(w.start_ns),
    });
    Some(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flood() -> Vec<Event> {
        let evs = crate::sink::recorder::tests::events();
        let open = evs
            .iter()
            .find(|e| e.evt_type() == "openat")
            .unwrap()
            .clone();
        // 3 min of an open every 600 ms.
        (0..300)
            .map(|i| {
                let mut e = open.clone();
                e.boot_ns = 1_000_000_000 + i * 600_000_000;
                e.num = i;
                e
            })
            .collect()
    }

    fn run(b: &mut RecordBudget, evs: &[Event], alerted: bool) -> (Vec<Event>, Vec<Event>) {
        let (mut kept, mut summaries) = (Vec::new(), Vec::new());
        for e in evs {
            if b.admit(e, alerted, &mut summaries) {
                kept.push(e.clone());
            }
        }
        b.expire(u64::MAX, &mut summaries);
        (kept, summaries)
    }

    #[test]
    fn a_flood_is_summarised_per_minute_and_nothing_is_uncounted() {
        let evs = flood();
        let mut b = RecordBudget::new(20);
        let (kept, summaries) = run(&mut b, &evs, false);
        assert_eq!(kept.len(), 60, "20 per minute for 3 min");
        assert_eq!(summaries.len(), 3);
        let mut held = 0;
        for s in &summaries {
            let Data::Throttled(t) = &s.data else {
                panic!("{s:?}")
            };
            assert_eq!(t.by, Throttler::Recorder);
            assert_eq!(t.kind, "openat");
            assert_eq!(s.container.id, evs[0].container.id);
            assert!(t.window_ns < WINDOW_NS, "{t:?}");
            held += t.count;
        }
        assert_eq!(held, 240);
        assert_eq!(b.held, 240);
        // The same events give the same log.
        let again = run(&mut RecordBudget::new(20), &evs, false);
        assert_eq!(again, (kept, summaries));
    }

    #[test]
    fn alerting_and_non_syscall_events_are_always_kept() {
        let evs = flood();
        let (kept, summaries) = run(&mut RecordBudget::new(1), &evs, true);
        assert_eq!(kept.len(), evs.len());
        assert!(summaries.is_empty());
        let others: Vec<Event> = crate::sink::recorder::tests::events()
            .into_iter()
            .filter(|e| !matches!(e.data, Data::Syscall(_)))
            .collect();
        let many: Vec<Event> = (0..50).flat_map(|_| others.clone()).collect();
        let (kept, _) = run(&mut RecordBudget::new(1), &many, false);
        assert_eq!(kept.len(), many.len());
    }
}
