//! What the rules learnt about a context, kept for its next event. Most
//! of a rule's checks ask about the process and its container (`proc.name`,
//! `container.id`, the environment), and a process's events share those
//! (the same `Arc`s: the enricher reuses a context while nothing in it
//! changes, a replay's decoder while its bytes are the same). The results
//! of such checks ([`super::fields::is_context_field`]) for one event are
//! the results for the next event of the context, whose matching then
//! starts with them known ([`monitor_rules::RuleSet::matching_from`]).
//!
//! An entry holds its context's `Arc`s: compared by address, and held so
//! that no other context can take that address while the entry lives. The
//! table is direct-mapped and small; a miss only costs the checks again.
//! What it holds is only good for the rule set it was learnt with: the
//! detector empties it when it takes up another.

use std::sync::Arc;

use monitor_rules::ContextMemo;

use crate::enrich::recent::Recent;
use crate::event::{Cgroup, Container, Event, Process};

/// Contexts remembered: the threads active at once on a busy host.
const SLOTS: usize = 256;

#[derive(Default)]
pub struct ContextMemos {
    table: Recent<Entry, SLOTS>,
}

struct Entry {
    process: Arc<Process>,
    container: Arc<Container>,
    cgroup: Arc<Cgroup>,
    known: ContextMemo,
}

impl Entry {
    fn is_of(&self, ev: &Event) -> bool {
        Arc::ptr_eq(&self.process, &ev.process)
            && Arc::ptr_eq(&self.container, &ev.container)
            && Arc::ptr_eq(&self.cgroup, &ev.cgroup)
    }
}

/// The table key of an event's context: its `Arc`s' addresses, mixed so
/// that the slot depends on all of them.
fn key(ev: &Event) -> u64 {
    let addr = |p: *const u8| p as usize as u64;
    let mixed = addr(Arc::as_ptr(&ev.process).cast())
        ^ addr(Arc::as_ptr(&ev.container).cast()).rotate_left(21)
        ^ addr(Arc::as_ptr(&ev.cgroup).cast()).rotate_left(42);
    mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32
}

impl ContextMemos {
    /// What is known about `ev`'s context (nothing when it is not here).
    pub fn get(&self, ev: &Event) -> ContextMemo {
        self.table
            .get(key(ev), |e| e.is_of(ev))
            .map_or_else(ContextMemo::default, |e| e.known)
    }

    /// Keeps `known` for `ev`'s context, in place of what was known.
    pub fn put(&mut self, ev: &Event, known: ContextMemo) {
        let key = key(ev);
        match self.table.get_mut(key, |e| e.is_of(ev)) {
            Some(e) => e.known = known,
            None => self.table.put(
                key,
                Entry {
                    process: ev.process.clone(),
                    container: ev.container.clone(),
                    cgroup: ev.cgroup.clone(),
                    known,
                },
            ),
        }
    }

    /// Forgets everything (the rule set changed).
    pub fn clear(&mut self) {
        self.table = Recent::default();
    }
}
