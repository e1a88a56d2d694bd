//! The process contexts the enricher built last, so that the events of
//! one thread share one instead of each building its own.
//!
//! A process context ([`Process`]) is a function of the record's header,
//! the process table (the exec context, the name, the session) and the
//! user and group names read from the process's root. It is reused while
//! the header says the same, the table's generation has not moved, and
//! for at most [`MAX_AGE`], after which the names are asked again (they
//! change only with a passwd or group file). A flooding thread thus costs
//! the agent neither a context nor three name lookups per record.

use std::sync::Arc;
use std::time::{Duration, Instant};

use monitor_common::records::{Header, Namespaces, COMM_LEN};

use super::recent::Recent;
use crate::event::Process;

/// How long a context's names are trusted without asking again.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// What a context takes from the header.
#[derive(PartialEq, Eq)]
struct Key {
    tgid: u32,
    tid: u32,
    ppid: u32,
    ids: [u32; 4],
    comm: [u8; COMM_LEN],
    ns: Namespaces,
}

impl Key {
    fn of(h: &Header) -> Key {
        Key {
            tgid: h.tgid,
            tid: h.tid,
            ppid: h.ppid,
            ids: [h.uid, h.gid, h.euid, h.egid],
            comm: h.comm,
            ns: h.ns,
        }
    }
}

struct Slot {
    key: Key,
    generation: u64,
    built: Instant,
    process: Arc<Process>,
}

/// By thread id, 64 slots: the threads active at once.
#[derive(Default)]
pub struct ProcessContexts {
    slots: Recent<Slot, 64>,
}

impl ProcessContexts {
    /// The context built for a record with header `h` at table generation
    /// `generation`, if it is younger than [`MAX_AGE`] at `now`.
    pub fn get(&self, h: &Header, generation: u64, now: Instant) -> Option<Arc<Process>> {
        self.slots
            .get(h.tid.into(), |s| {
                s.generation == generation
                    && now.saturating_duration_since(s.built) < MAX_AGE
                    && s.key == Key::of(h)
            })
            .map(|s| s.process.clone())
    }

    /// Remembers the context built at `now` for header `h` at `generation`.
    pub fn put(&mut self, h: &Header, generation: u64, now: Instant, process: Arc<Process>) {
        let slot = Slot {
            key: Key::of(h),
            generation,
            built: now,
            process,
        };
        self.slots.put(h.tid.into(), slot);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::super::tests::{bare, exec, fork, openat};
    use super::MAX_AGE;
    use monitor_common::decode::Record;

    /// A thread's records share one process context while the header, the
    /// process table and the names stand still, and get a new one when any
    /// moves: another uid, a fork elsewhere on the host, age.
    #[test]
    fn records_share_the_process_context_until_something_changes() {
        let mut e = bare();
        let now = Instant::now();
        e.enrich(&exec(11, 1, 1, 1, &[b"cat"], b"/usr/bin/cat", 0), now);
        let open = |boot, uid| {
            let mut r = openat(11, 1, boot, 3, b"/etc/shadow");
            if let Record::Syscall(s) = &mut r {
                s.header.euid = uid;
            }
            r
        };
        let a = e.enrich(&open(2, 0), now);
        let b = e.enrich(&open(3, 0), now);
        assert!(Arc::ptr_eq(&a.process, &b.process), "not shared");
        // A setuid: the header says another euid.
        let c = e.enrich(&open(4, 1000), now);
        assert_eq!(c.process.euid, 1000);
        assert!(!Arc::ptr_eq(&b.process, &c.process));
        // Another process forks: the table moved.
        e.enrich(&fork(20, 1, 21, 1, 5, libc::SIGCHLD as u64), now);
        let d = e.enrich(&open(6, 1000), now);
        assert!(!Arc::ptr_eq(&c.process, &d.process));
        assert_eq!(*c.process, *d.process);
        // Old enough: built again (its names asked again).
        let f = e.enrich(&open(7, 1000), now + MAX_AGE);
        assert!(!Arc::ptr_eq(&d.process, &f.process));
        assert!(Arc::ptr_eq(
            &f.process,
            &e.enrich(&open(8, 1000), now + MAX_AGE).process
        ));
    }
}
