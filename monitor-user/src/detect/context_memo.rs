//! What the rules learnt about a context, kept for its next event. Most
//! of a rule's checks ask about the process and its container (`proc.name`,
//! `container.id`, the environment), and a process's events share those
//! (the same `Arc`s: the enricher reuses a context while nothing in it
//! changes, a replay's decoder while its bytes are the same). The results
//! of such checks ([`super::fields::is_context_field`]) for one event are
//! the results for the next event of the context, whose matching then
//! starts with them known ([`monitor_rules::RuleSet::matching_from`]).
//!
//! What they learnt about the context's command (what its process runs,
//! under which name, in which container: [`super::fields::is_command_field`])
//! holds for every process of that command: a shell loop's thousandth
//! `cat` starts knowing what the first taught the rules about `cat`, and
//! only its own fields (pid, user, namespaces) are checked again. The exec
//! context is the same `Arc` for such processes in a replay (the log
//! defines equal contexts once) and, live, for the threads of one process
//! (each a context of its own: the thread id is part of it).
//!
//! An entry holds its context's `Arc`s: compared by address, and held so
//! that no other context can take that address while the entry lives. The
//! table is direct-mapped and small; a miss only costs the checks again.
//! What it holds is only good for the rule set it was learnt with: the
//! detector empties it when it takes up another.

use std::sync::Arc;

use monitor_rules::ContextMemo;

use crate::enrich::recent::Recent;
use crate::event::{Cgroup, Container, Event, ExecContext, Process, Text};

/// Contexts (and commands) remembered: the threads active at once on a
/// busy host.
const SLOTS: usize = 256;

#[derive(Default)]
pub struct ContextMemos {
    contexts: Table<Context>,
    commands: Table<Command>,
}

/// What a memo is kept for, as the `Arc`s an event shares with others.
trait Owner {
    /// `ev`'s.
    fn of(ev: &Event) -> Self;
    /// Whether it is `ev`'s.
    fn is_of(&self, ev: &Event) -> bool;
    /// Its slot in the table, from the `Arc`s' addresses.
    fn key(ev: &Event) -> u64;
}

/// A process, its container and cgroup.
struct Context {
    process: Arc<Process>,
    container: Arc<Container>,
    cgroup: Arc<Cgroup>,
}

impl Owner for Context {
    fn of(ev: &Event) -> Self {
        Context {
            process: ev.process.clone(),
            container: ev.container.clone(),
            cgroup: ev.cgroup.clone(),
        }
    }
    fn is_of(&self, ev: &Event) -> bool {
        Arc::ptr_eq(&self.process, &ev.process)
            && Arc::ptr_eq(&self.container, &ev.container)
            && Arc::ptr_eq(&self.cgroup, &ev.cgroup)
    }
    fn key(ev: &Event) -> u64 {
        mix(
            Arc::as_ptr(&ev.process).cast(),
            Arc::as_ptr(&ev.container).cast(),
            Arc::as_ptr(&ev.cgroup).cast(),
        )
    }
}

/// What a process runs (its exec context) under which name, in which
/// container and cgroup.
struct Command {
    exec: Arc<ExecContext>,
    name: Text,
    container: Arc<Container>,
    cgroup: Arc<Cgroup>,
}

impl Owner for Command {
    fn of(ev: &Event) -> Self {
        Command {
            exec: ev.process.exec.clone(),
            name: ev.process.name.clone(),
            container: ev.container.clone(),
            cgroup: ev.cgroup.clone(),
        }
    }
    fn is_of(&self, ev: &Event) -> bool {
        Arc::ptr_eq(&self.exec, &ev.process.exec)
            && Arc::ptr_eq(&self.container, &ev.container)
            && Arc::ptr_eq(&self.cgroup, &ev.cgroup)
            && self.name == ev.process.name
    }
    /// The name is compared, not keyed: the same exec context under
    /// another name is rare.
    fn key(ev: &Event) -> u64 {
        mix(
            Arc::as_ptr(&ev.process.exec).cast(),
            Arc::as_ptr(&ev.container).cast(),
            Arc::as_ptr(&ev.cgroup).cast(),
        )
    }
}

/// A table key from `Arc`s' addresses, mixed so that the slot depends on
/// all of them.
fn mix(a: *const u8, b: *const u8, c: *const u8) -> u64 {
    let addr = |p: *const u8| p as usize as u64;
    let mixed = addr(a) ^ addr(b).rotate_left(21) ^ addr(c).rotate_left(42);
    mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32
}

/// Memos by owner, direct-mapped.
struct Table<O> {
    slots: Recent<(O, ContextMemo), SLOTS>,
}

impl<O> Default for Table<O> {
    fn default() -> Self {
        Table {
            slots: Recent::default(),
        }
    }
}

impl<O: Owner> Table<O> {
    fn get(&self, ev: &Event) -> Option<ContextMemo> {
        self.slots
            .get(O::key(ev), |(o, _)| o.is_of(ev))
            .map(|(_, known)| *known)
    }

    /// Keeps `known` for `ev`'s owner, in place of what was known.
    fn put(&mut self, ev: &Event, known: ContextMemo) {
        let key = O::key(ev);
        match self.slots.get_mut(key, |(o, _)| o.is_of(ev)) {
            Some((_, k)) => *k = known,
            None => self.slots.put(key, (O::of(ev), known)),
        }
    }
}

impl ContextMemos {
    /// What is known about `ev`'s context: all of it when the context is
    /// here, else its command's part when that is, else nothing.
    pub fn get(&self, ev: &Event) -> ContextMemo {
        self.contexts
            .get(ev)
            .or_else(|| self.commands.get(ev))
            .unwrap_or_default()
    }

    /// Keeps `known` for `ev`'s context and `command` (its command's part,
    /// [`monitor_rules::RuleSet::command_part`]) for its command, in place
    /// of what was known.
    pub fn put(&mut self, ev: &Event, known: ContextMemo, command: ContextMemo) {
        self.contexts.put(ev, known);
        if !command.is_empty() {
            self.commands.put(ev, command);
        }
    }

    /// Whether `ev`'s matching would start from its command's part alone.
    #[cfg(test)]
    pub fn only_command_known(&self, ev: &Event) -> bool {
        self.contexts.get(ev).is_none() && self.commands.get(ev).is_some()
    }

    /// Forgets everything (the rule set changed).
    pub fn clear(&mut self) {
        *self = ContextMemos::default();
    }
}
