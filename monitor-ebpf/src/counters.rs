//! Per-cgroup resource counters (`CGROUP_COUNTERS`), counted in the kernel
//! and never sent as records: forks and threads from `task_newtask`, failed
//! forks and fd exhaustion from the `sys_exit_<name>` tracepoints of the
//! syscalls that can fail that way. Syscalls the sensor hooks anyway
//! (openat, clone, ...) count in their one exit program (`sys_exit_fd`,
//! `sys_exit_fork`); the others get a counting-only exit program. Either
//! way the map is touched only on failure, and untraced syscalls pay
//! nothing.

use aya_ebpf::{
    helpers::generated::bpf_get_current_cgroup_id, macros::tracepoint, programs::TracePointContext,
    EbpfContext,
};
use monitor_common::CgroupCounters;

use crate::maps::CGROUP_COUNTERS;
use crate::syscalls::RET_OFFSET;

const EAGAIN: i64 = 11;
const ENOMEM: i64 = 12;
const ENFILE: i64 = 23;
const EMFILE: i64 = 24;
const BPF_NOEXIST: u64 = 1;

/// Apply `f` to this CPU's counters of the current task's cgroup v2,
/// creating the entry on first use.
#[inline(always)]
pub fn count(f: impl FnOnce(&mut CgroupCounters)) {
    // SAFETY: helper without arguments.
    count_in(unsafe { bpf_get_current_cgroup_id() }, f)
}

/// Apply `f` to this CPU's counters of cgroup v2 `id`, creating the entry
/// on first use.
#[inline(always)]
pub fn count_in(id: u64, f: impl FnOnce(&mut CgroupCounters)) {
    let p = match CGROUP_COUNTERS.get_ptr_mut(id) {
        Some(p) => p,
        None => {
            // Another CPU may insert first: NOEXIST then lookup is fine.
            let _ = CGROUP_COUNTERS.insert(id, CgroupCounters::default(), BPF_NOEXIST);
            match CGROUP_COUNTERS.get_ptr_mut(id) {
                Some(p) => p,
                None => return,
            }
        }
    };
    // SAFETY: this CPU's slot of a live per-CPU value; no other writer.
    f(unsafe { &mut *p });
}

#[inline(always)]
fn ret(ctx: &TracePointContext) -> i64 {
    // SAFETY: constant offset within the sys_exit record, checked by the verifier.
    unsafe { *((ctx.as_ptr() as *const u8).add(RET_OFFSET) as *const i64) }
}

/// Count a failed fork from a fork-family syscall's return value.
#[inline(always)]
pub fn on_fork_exit(ret: i64) {
    if ret == -EAGAIN || ret == -ENOMEM {
        count(|c| c.fork_failures += 1);
    }
}

/// Count fd exhaustion from an fd-creating syscall's return value.
#[inline(always)]
pub fn on_fd_exit(ret: i64) {
    if ret == -EMFILE {
        count(|c| c.emfile += 1);
    } else if ret == -ENFILE {
        count(|c| c.enfile += 1);
    }
}

/// Attached to `sys_exit_{fork,vfork}` (clone and clone3 are hooked
/// syscalls: their `sys_exit_fork` program counts too).
#[tracepoint]
pub fn count_fork_failure(ctx: TracePointContext) -> u32 {
    on_fork_exit(ret(&ctx));
    0
}

/// Attached to the `sys_exit_*` of the fd-creating syscalls that are not
/// otherwise hooked (see `sensor::loader::FD_SYSCALLS`).
#[tracepoint]
pub fn count_fd_failure(ctx: TracePointContext) -> u32 {
    on_fd_exit(ret(&ctx));
    0
}
