//! `lsm/task_fix_setuid`, `lsm/task_fix_setgid` and `lsm/capset`: a
//! credential change the kernel accepted and is about to commit.
//!
//! set*id: the hook's flags say which call it is (`LSM_SETID_*`); the ids
//! are the call's own arguments (read from its registers: `-1` stays
//! "unchanged"), as the tracepoint reports them. capset: the new sets are
//! the kernel's copies, the caller's effective set before the call comes
//! from the old credentials (for `cap_raised`).

use aya_ebpf::{macros::lsm, programs::LsmContext};
use monitor_common::lsm::setid;
use monitor_common::{syscall_flags, SyscallId};

use crate::globals::off;
use crate::kread::read;

#[lsm(hook = "task_fix_setuid")]
pub fn lsm_task_fix_setuid(ctx: LsmContext) -> i32 {
    // task_fix_setuid(struct cred *new, const struct cred *old, int flags),
    // verdict.
    let verdict: i32 = ctx.arg(3);
    let flags: i32 = ctx.arg(2);
    match flags as u32 {
        setid::ID => report_ids(SyscallId::Setuid, 1),
        setid::RE => report_ids(SyscallId::Setreuid, 2),
        setid::RES => report_ids(SyscallId::Setresuid, 3),
        setid::FS => report_ids(SyscallId::Setfsuid, 1),
        _ => {}
    }
    verdict
}

#[lsm(hook = "task_fix_setgid")]
pub fn lsm_task_fix_setgid(ctx: LsmContext) -> i32 {
    // task_fix_setgid(struct cred *new, const struct cred *old, int flags),
    // verdict.
    let verdict: i32 = ctx.arg(3);
    let flags: i32 = ctx.arg(2);
    match flags as u32 {
        setid::ID => report_ids(SyscallId::Setgid, 1),
        setid::RE => report_ids(SyscallId::Setregid, 2),
        setid::RES => report_ids(SyscallId::Setresgid, 3),
        setid::FS => report_ids(SyscallId::Setfsgid, 1),
        _ => {}
    }
    verdict
}

/// The call's `n` (1 to 3) ids into args[0..n].
#[inline(always)]
fn report_ids(id: SyscallId, n: u32) {
    let (_, regs) = super::syscall_regs();
    let Some(r) = super::start(id) else {
        return;
    };
    let mut i = 0;
    while i < 3 {
        if i < n {
            r.args[i as usize] = super::syscall_arg(regs, i) as u32 as u64;
        }
        i += 1;
    }
    super::send(r);
}

#[lsm(hook = "capset")]
pub fn lsm_capset(ctx: LsmContext) -> i32 {
    // capset(struct cred *new, const struct cred *old,
    //        const kernel_cap_t *effective, const kernel_cap_t *inheritable,
    //        const kernel_cap_t *permitted), verdict.
    let verdict: i32 = ctx.arg(5);
    let old: u64 = ctx.arg(1);
    let effective: u64 = ctx.arg(2);
    let inheritable: u64 = ctx.arg(3);
    let permitted: u64 = ctx.arg(4);
    let Some(r) = super::start(SyscallId::Capset) else {
        return verdict;
    };
    // kernel_cap_t is two u32 words (6.1) or one u64 (6.3+): the same 8
    // bytes, low word first, as the tracepoint assembles them.
    match (
        read::<u64>(effective, 0),
        read::<u64>(permitted, 0),
        read::<u64>(inheritable, 0),
    ) {
        (Some(e), Some(p), Some(i)) => {
            r.args[2] = e;
            r.args[3] = p;
            r.args[4] = i;
        }
        _ => r.flags |= syscall_flags::CAPS_UNREAD,
    }
    match read::<u64>(old, off!(cred_cap_effective)) {
        Some(v) => r.args[5] = v,
        None => r.flags |= syscall_flags::CAPS_CURRENT_UNKNOWN,
    }
    super::send(r);
    verdict
}
