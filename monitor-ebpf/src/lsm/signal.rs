//! `lsm/task_kill`: self-protection. With enforcement on and a rule that
//! asks to deny signals to the agent, a signal from a container's process
//! to the agent is refused with `-EPERM`. Nothing is reported here: the
//! kill syscalls' tracepoints report the attempt (with its EPERM result).

use aya_ebpf::{macros::lsm, programs::LsmContext};
use monitor_common::enforce::{mode, EPERM};

use crate::globals::{agent_tgid, enforce_mode, enforce_signals, off};
use crate::kread::read;

#[lsm(hook = "task_kill")]
pub fn lsm_task_kill(ctx: LsmContext) -> i32 {
    // task_kill(struct task_struct *p, struct kernel_siginfo *info,
    //           int sig, const struct cred *cred), verdict.
    let verdict: i32 = ctx.arg(4);
    if verdict != 0 || !enforce_signals() || enforce_mode() != mode::DENY {
        return verdict;
    }
    let sig: i32 = ctx.arg(2);
    let target: u64 = ctx.arg(0);
    // Signal 0 only probes for existence.
    if sig == 0 || read::<i32>(target, off!(task_tgid)) != Some(agent_tgid() as i32) {
        return verdict;
    }
    if crate::enforce::in_container() {
        -EPERM
    } else {
        verdict
    }
}
