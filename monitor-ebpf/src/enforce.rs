//! Enforcement's kernel side shared by the LSM programs and the syscall
//! tracepoints (`monitor_common::enforce`): is the current task in a
//! container's cgroup, and the kill action on opens.

use aya_ebpf::helpers::generated::{bpf_get_current_cgroup_id, bpf_send_signal};
use monitor_common::{
    enforce::{mode, SIGKILL},
    filter::when,
    syscall_flags, SyscallRecord,
};

use crate::globals::enforce_mode;
use crate::maps::CONTAINER_CGROUPS;
use crate::open_filter;

/// Is the current task in a cgroup the agent knows as a container's?
#[inline(always)]
pub fn in_container() -> bool {
    // SAFETY: helper without preconditions.
    let cgroup = unsafe { bpf_get_current_cgroup_id() };
    // SAFETY: a plain lookup of a u64 key.
    unsafe { CONTAINER_CGROUPS.get(&cgroup) }.is_some()
}

/// The open filter for the open whose path is in `r.str0`: whether to
/// report it, after the kill action when its match asks for one.
/// `spelled`: the path is the process's own letters (an open syscall),
/// so one with `.` or `..` components goes on ([`open_filter::matches_spelled`]).
#[inline(always)]
pub fn open_checked(r: &mut SyscallRecord, write: bool, spelled: bool) -> bool {
    let matched = if spelled {
        open_filter::matches_spelled(r)
    } else {
        open_filter::matches(r)
    };
    kill_on_write(r, matched, write);
    open_filter::reported(matched, write)
}

/// The kill action: an open for writing that matched a `KILL_WRITE`
/// name, from a container, gets SIGKILL (flagged `KILLED`; dry run:
/// `WOULD_KILL`). The signal is delivered when the task leaves the kernel,
/// so the process never sees the open's result.
#[inline(always)]
pub fn kill_on_write(r: &mut SyscallRecord, matched: u32, write: bool) {
    if !write || matched & when::KILL_WRITE == 0 {
        return;
    }
    let m = enforce_mode();
    if m == mode::OFF || !in_container() {
        return;
    }
    if m == mode::DENY {
        // SAFETY: helper without preconditions (the current task).
        if unsafe { bpf_send_signal(SIGKILL) } == 0 {
            r.flags |= syscall_flags::KILLED;
        }
    } else {
        r.flags |= syscall_flags::WOULD_KILL;
    }
}
