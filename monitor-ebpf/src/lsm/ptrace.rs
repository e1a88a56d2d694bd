//! `lsm/ptrace_access_check`: self-protection. With enforcement on and a
//! rule that asks to deny ptrace of the agent, a container's process may
//! not attach to the agent or read its memory (PTRACE_ATTACH/SEIZE,
//! process_vm_readv, /proc/PID/mem): refused with `-EPERM`. Nothing is
//! reported here: the ptrace syscall's tracepoints report the attempt.

use aya_ebpf::{macros::lsm, programs::LsmContext};
use monitor_common::enforce::{mode, EPERM};

use crate::globals::{agent_tgid, enforce_mode, enforce_ptrace, off};
use crate::kread::read;

#[lsm(hook = "ptrace_access_check")]
pub fn lsm_ptrace_access_check(ctx: LsmContext) -> i32 {
    // ptrace_access_check(struct task_struct *child, unsigned int mode),
    // verdict.
    let verdict: i32 = ctx.arg(2);
    if verdict != 0 || !enforce_ptrace() || enforce_mode() != mode::DENY {
        return verdict;
    }
    let target: u64 = ctx.arg(0);
    if read::<i32>(target, off!(task_tgid)) != Some(agent_tgid() as i32) {
        return verdict;
    }
    if crate::enforce::in_container() {
        -EPERM
    } else {
        verdict
    }
}
