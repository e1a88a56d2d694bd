//! The exec contexts the enricher built last, so that the events of one
//! process share one instead of each building its own.
//!
//! An exec context (program, arguments, parent, ancestry, environment,
//! session leaders) is a function of the process table and the process:
//! it is rebuilt only when the table's generation moved since (any exec,
//! fork, exit or rename on the host), else the one built before serves.
//! A process flooding one syscall thus costs the agent its records, not
//! the copying and freeing of its whole context per record.

use std::sync::Arc;

use crate::event::ExecContext;

use super::recent::Recent;

struct Slot {
    pid: u32,
    ppid: u32,
    generation: u64,
    exec: Arc<ExecContext>,
}

/// By pid, 64 slots: the processes active at once between two changes of
/// the table.
#[derive(Default)]
pub struct ExecContexts {
    slots: Recent<Slot, 64>,
}

impl ExecContexts {
    /// The context of `pid` (child of `ppid`) if it was built at table
    /// generation `generation`.
    pub fn get(&self, pid: u32, ppid: u32, generation: u64) -> Option<Arc<ExecContext>> {
        self.slots
            .get(pid.into(), |s| {
                s.pid == pid && s.ppid == ppid && s.generation == generation
            })
            .map(|s| s.exec.clone())
    }

    /// Remembers the context of `pid` built at `generation`.
    pub fn put(&mut self, pid: u32, ppid: u32, generation: u64, exec: Arc<ExecContext>) {
        let slot = Slot {
            pid,
            ppid,
            generation,
            exec,
        };
        self.slots.put(pid.into(), slot);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::super::tests::{bare, exec, fork, openat};

    /// A process's records share one exec context while the process table
    /// stands still (a flood costs no context per record), and get a new one
    /// as soon as it changes: here the parent execs again.
    #[test]
    fn records_share_the_exec_context_until_the_table_changes() {
        let mut e = bare();
        let now = Instant::now();
        e.enrich(&exec(10, 1, 1, 1, &[b"sh"], b"/usr/bin/sh", 0), now);
        e.enrich(&fork(10, 1, 11, 1, 2, libc::SIGCHLD as u64), now);
        e.enrich(&exec(11, 10, 1, 3, &[b"cat"], b"/usr/bin/cat", 0), now);
        let open = |boot| openat(11, 10, boot, 3, b"/etc/shadow");
        let a = e.enrich(&open(4), now);
        let b = e.enrich(&open(5), now);
        assert!(Arc::ptr_eq(&a.process.exec, &b.process.exec), "not shared");
        assert_eq!(a.process.exec.pexepath.as_deref(), Some("/usr/bin/sh"));
        // The same name (comm), so only the exec itself tells.
        e.enrich(&exec(10, 1, 1, 6, &[b"sh", b"-e"], b"/bin/sh", 0), now);
        let c = e.enrich(&open(7), now);
        assert!(!Arc::ptr_eq(&a.process.exec, &c.process.exec), "stale");
        assert_eq!(c.process.exec.pexepath.as_deref(), Some("/bin/sh"));
        assert_eq!(c.process.exec.pcmdline.as_deref(), Some("sh -e"));
        assert_eq!(
            c.process
                .exec
                .ancestors
                .first()
                .and_then(|a| a.exepath.as_deref()),
            Some("/bin/sh")
        );
        assert_eq!(c.process.exec.exepath.as_deref(), Some("/usr/bin/cat"));
    }
}
