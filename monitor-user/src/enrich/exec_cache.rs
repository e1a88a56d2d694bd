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

/// Slots, by pid (a power of two): the processes active at once between
/// two changes of the table.
const SLOTS: usize = 64;

struct Slot {
    pid: u32,
    ppid: u32,
    generation: u64,
    exec: Arc<ExecContext>,
}

/// Direct-mapped by pid; a miss only costs the build it would have cost.
pub struct ExecContexts {
    slots: Vec<Option<Slot>>,
}

impl Default for ExecContexts {
    fn default() -> Self {
        ExecContexts {
            slots: (0..SLOTS).map(|_| None).collect(),
        }
    }
}

impl ExecContexts {
    /// The context of `pid` (child of `ppid`) if it was built at table
    /// generation `generation`.
    pub fn get(&self, pid: u32, ppid: u32, generation: u64) -> Option<Arc<ExecContext>> {
        match &self.slots[pid as usize % SLOTS] {
            Some(s) if s.pid == pid && s.ppid == ppid && s.generation == generation => {
                Some(s.exec.clone())
            }
            _ => None,
        }
    }

    /// Remembers the context of `pid` built at `generation`.
    pub fn put(&mut self, pid: u32, ppid: u32, generation: u64, exec: Arc<ExecContext>) {
        self.slots[pid as usize % SLOTS] = Some(Slot {
            pid,
            ppid,
            generation,
            exec,
        });
    }
}
