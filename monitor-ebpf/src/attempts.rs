//! Refused attempts (`monitor_common::attempts`): the exit program of the
//! listed syscalls completes records as [`syscalls::on_exit`] does and, for
//! an exit with an error that had no enter record, sends a record flagged
//! `REFUSED` built from the syscall number and the saved registers. It runs
//! only on those syscalls' own exit tracepoints, so other syscalls pay
//! nothing for it.
//!
//! Syscalls the running kernel does not implement have no tracepoints of
//! their own; `raw_sys_exit_untraceable` (opt-in, `--watch-untraceable`)
//! sees their attempts from the global `raw_syscalls/sys_exit`, whose
//! record has the syscall number and return value at the same offsets.
//! It runs on every syscall's exit, so it returns on success before any
//! map lookup.

use aya_ebpf::{
    helpers::{
        bpf_get_current_pid_tgid,
        generated::{bpf_get_current_task_btf, bpf_task_pt_regs},
    },
    macros::{map, tracepoint},
    maps::Array,
    programs::TracePointContext,
    EbpfContext,
};
use monitor_common::attempts::{NR_MAX, PT_REGS_ARGS};
use monitor_common::syscall_flags;

use crate::globals::agent_tgid;
use crate::kread::read;
use crate::maps::SYSCALL_SCRATCH;
use crate::syscalls::{on_exit, NR_OFFSET, RET_OFFSET};
use crate::{counters, syscall_record};

/// `SyscallId + 1` by syscall number; 0: not reported.
#[map]
pub static ATTEMPT_IDS: Array<u16> = Array::with_max_entries(NR_MAX, 0);

/// `SyscallId + 1` by syscall number, only for the attempts with no
/// per-syscall tracepoint on the running kernel; 0: not reported here.
#[map]
pub static UNTRACEABLE_IDS: Array<u16> = Array::with_max_entries(NR_MAX, 0);

#[tracepoint]
pub fn sys_exit_attempt(ctx: TracePointContext) -> u32 {
    let (ret, entered) = on_exit(&ctx);
    counters::on_fd_exit(ret);
    if !entered && ret < 0 {
        refused(&ctx, ret, &ATTEMPT_IDS);
    }
    0
}

/// On `raw_syscalls/sys_exit`: no enter record exists for these syscalls
/// (they have no enter tracepoint), so every failed exit is an attempt.
#[tracepoint]
pub fn raw_sys_exit_untraceable(ctx: TracePointContext) -> u32 {
    let c = ctx.as_ptr() as *const u8;
    // SAFETY: constant offset within the raw_syscalls/sys_exit record.
    let ret = unsafe { *(c.add(RET_OFFSET) as *const i64) };
    if ret < 0 {
        refused(&ctx, ret, &UNTRACEABLE_IDS);
    }
    0
}

#[inline(always)]
fn refused(ctx: &TracePointContext, ret: i64, ids: &Array<u16>) {
    if (bpf_get_current_pid_tgid() >> 32) as u32 == agent_tgid() {
        return;
    }
    let c = ctx.as_ptr() as *const u8;
    // SAFETY: constant offset within the sys_exit record.
    let nr = unsafe { *(c.add(NR_OFFSET) as *const i32) };
    if nr < 0 {
        return;
    }
    let id = match ids.get(nr as u32) {
        Some(&id) if id != 0 => id - 1,
        _ => return,
    };
    let Some(p) = SYSCALL_SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: helpers on the current task; the returned pt_regs pointer is
    // only read through bpf_probe_read_kernel (kread::read).
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as u64;
    // SAFETY: `p` is this CPU's scratch value.
    unsafe {
        let r = &mut (*p).rec;
        syscall_record::start(r, id, syscall_flags::REFUSED);
        r.ret = ret;
        let mut i = 0;
        while i < 6 {
            r.args[i] = read::<u64>(regs, PT_REGS_ARGS[i]).unwrap_or(0);
            i += 1;
        }
        syscall_record::send(r);
    }
}
