//! The retry cache: events whose container's metadata is still being asked
//! for wait here, briefly, instead of going out without names.
//!
//! A container's runtime is asked when its cgroup appears, in the
//! background; a process can run (and a short-lived container can finish)
//! before the answer is back. Tetragon's way out: hold such events in a
//! small bounded queue and re-resolve them until the answer arrives or a
//! deadline passes. Every event of a held container is held behind its
//! earlier ones, so a container's events keep their order; events of other
//! containers pass. Released events get the container as now known; those
//! that waited out the deadline go as they are (`container.unresolved`
//! says why). The queue is bounded: when full, the oldest go first.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::event::container::Unresolved;
use crate::event::Event;

use super::Enricher;

/// How long and how many events may wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoldConfig {
    pub max_wait: Duration,
    pub max_events: usize,
}

impl Default for HoldConfig {
    fn default() -> Self {
        HoldConfig {
            // Long enough for a busy daemon's answer (the lookup starts when
            // the cgroup appears, before the container's first process).
            max_wait: Duration::from_secs(2),
            max_events: 4096,
        }
    }
}

/// Counters of the retry cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct HoldStats {
    /// Events that waited.
    pub held: u64,
    /// Of those, released without their metadata (deadline or overflow).
    pub unresolved: u64,
}

/// The retry cache; see the module doc.
#[derive(Default)]
pub struct Hold {
    cfg: HoldConfig,
    queue: VecDeque<(Instant, Event)>,
    /// Held events per cgroup id.
    held: HashMap<u64, usize>,
    stats: HoldStats,
}

fn pending(ev: &Event) -> bool {
    ev.container.unresolved == Some(Unresolved::Pending)
}

impl Hold {
    pub fn new(cfg: HoldConfig) -> Hold {
        Hold {
            cfg,
            ..Hold::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn stats(&self) -> HoldStats {
        self.stats
    }

    /// Takes `ev` in; appends to `out` what can go now (`ev` itself unless
    /// it must wait, and the oldest held events when the queue is full).
    pub fn admit(&mut self, ev: Event, now: Instant, out: &mut Vec<Event>) {
        if !pending(&ev) && !self.held.contains_key(&ev.cgroup.id) {
            out.push(ev);
            return;
        }
        self.stats.held += 1;
        *self.held.entry(ev.cgroup.id).or_default() += 1;
        self.queue.push_back((now, ev));
        while self.queue.len() > self.cfg.max_events {
            if let Some((_, ev)) = self.queue.pop_front() {
                self.forget(ev.cgroup.id);
                self.stats.unresolved += 1;
                out.push(ev);
            }
        }
    }

    fn forget(&mut self, cgroup: u64) {
        if let Some(n) = self.held.get_mut(&cgroup) {
            *n -= 1;
            if *n == 0 {
                self.held.remove(&cgroup);
            }
        }
    }

    /// Appends to `out`, in order, the held events whose container is now
    /// known (with it filled in) or that waited long enough; `all` releases
    /// everything (shutdown).
    pub fn release(
        &mut self,
        enricher: &mut Enricher,
        now: Instant,
        all: bool,
        out: &mut Vec<Event>,
    ) {
        if self.queue.is_empty() {
            return;
        }
        // One decision per container: go (with what is known now) or wait.
        let mut decided: HashMap<u64, Option<Arc<crate::event::Container>>> = HashMap::new();
        let max_wait = self.cfg.max_wait;
        let mut keep = VecDeque::with_capacity(self.queue.len());
        for (since, mut ev) in std::mem::take(&mut self.queue) {
            let id = ev.cgroup.id;
            let go = decided.entry(id).or_insert_with(|| {
                let (c, _) = enricher.container_of(id, now);
                let expired = all || now.duration_since(since) >= max_wait;
                (c.unresolved != Some(Unresolved::Pending) || expired).then_some(c)
            });
            match go {
                Some(c) => {
                    if c.unresolved.is_some() {
                        self.stats.unresolved += 1;
                    }
                    ev.container = c.clone();
                    out.push(ev);
                }
                None => keep.push_back((since, ev)),
            }
        }
        self.queue = keep;
        self.held.clear();
        for (_, ev) in &self.queue {
            *self.held.entry(ev.cgroup.id).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::metadata::remote::RemoteConfig;
    use crate::enrich::metadata::MetadataConfig;
    use crate::enrich::tests::{cgroup_rec, exit, with_state};
    use crate::event::Clock;

    const CID: &str = "4c01db0b339c0a3bb7e36ab0da4d0e7dd0b3e2a4d2bc8e9e1a0e8b2f1c3d4e5f";

    #[test]
    fn pending_events_wait_in_order_then_go_with_the_reason() {
        let mut e = with_state(
            Clock::with_offset(0),
            MetadataConfig {
                podman_roots: vec![],
                docker_root: None,
                remote: Some(RemoteConfig {
                    cri_sockets: vec!["/nonexistent/vigil/cri.sock".into()],
                    timeout: Duration::from_millis(100),
                    attempts: 1,
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        let path = format!("/kubepods/besteffort/pod0b7f3c3e-8d2a-4c55-9a37-5f0e6d7a8b9c/{CID}");
        let t0 = Instant::now();
        let mut hold = Hold::new(HoldConfig {
            max_wait: Duration::from_secs(10),
            max_events: 16,
        });
        let mut out = Vec::new();
        for rec in [
            cgroup_rec(true, 9, &path, 1),
            exit(10, 1, 9, 2, 0),
            exit(11, 1, 9, 3, 0),
            exit(12, 1, 1, 4, 0),
        ] {
            let ev = e.enrich(&rec, t0);
            hold.admit(ev, t0, &mut out);
        }
        // The mkdir (a host event) and the host exit go; the container's wait.
        assert_eq!(out.iter().map(|e| e.num).collect::<Vec<_>>(), [1, 4]);
        assert_eq!(hold.len(), 2);
        out.clear();
        // The runtime cannot be asked: once that is known, they go, in
        // order, saying why.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !hold.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            hold.release(&mut e, Instant::now(), false, &mut out);
        }
        assert_eq!(out.iter().map(|e| e.num).collect::<Vec<_>>(), [2, 3]);
        assert!(matches!(
            out[0].container.unresolved,
            Some(Unresolved::Unreachable(_))
        ));
        assert_eq!(
            hold.stats(),
            HoldStats {
                held: 2,
                unresolved: 2
            }
        );
    }

    #[test]
    fn the_deadline_and_the_bound_release_events() {
        let mut e = with_state(
            Clock::with_offset(0),
            MetadataConfig {
                podman_roots: vec![],
                docker_root: None,
                remote: Some(RemoteConfig {
                    // An address that never answers in time is not needed:
                    // a missing socket is retried for a while.
                    cri_sockets: vec!["/nonexistent/vigil/cri.sock".into()],
                    attempts: 5,
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        let path = format!("/kubepods/besteffort/pod0b7f3c3e-8d2a-4c55-9a37-5f0e6d7a8b9c/{CID}");
        let t0 = Instant::now();
        let mut hold = Hold::new(HoldConfig {
            max_wait: Duration::from_millis(50),
            max_events: 2,
        });
        let mut out = Vec::new();
        let ev = e.enrich(&cgroup_rec(true, 9, &path, 1), t0);
        hold.admit(ev, t0, &mut out);
        for i in 0..3 {
            let ev = e.enrich(&exit(10 + i, 1, 9, 2 + u64::from(i), 0), t0);
            hold.admit(ev, t0, &mut out);
        }
        // Bound: 2 held, the oldest container event went out.
        assert_eq!(hold.len(), 2);
        assert_eq!(out.len(), 2);
        out.clear();
        hold.release(&mut e, t0 + Duration::from_millis(10), false, &mut out);
        assert!(out.is_empty(), "still waiting");
        hold.release(&mut e, t0 + Duration::from_millis(60), false, &mut out);
        assert_eq!(out.len(), 2, "deadline passed");
        assert!(hold.is_empty());
    }
}
