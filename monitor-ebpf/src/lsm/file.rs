//! `lsm/file_open`: every successful path walk that opens a file, whichever
//! way it was asked for (open, openat, openat2, creat, io_uring's
//! IORING_OP_OPENAT). Reported as `openat` with the resolved path, through
//! the same in-kernel open filter as the open syscalls.

use aya_ebpf::{macros::lsm, programs::LsmContext};
use monitor_common::{filter::when, SyscallId};

use crate::globals::off;
use crate::kread::read;
use crate::open_filter;

/// `__FMODE_EXEC` in `f_flags`: the kernel opening a binary for exec (the
/// exec hooks report that).
const FMODE_EXEC_FLAG: u32 = 0x20;
const AT_FDCWD: i64 = -100;

#[lsm(hook = "file_open")]
pub fn lsm_file_open(ctx: LsmContext) -> i32 {
    // file_open(struct file *file), then the previous verdict.
    let verdict: i32 = ctx.arg(1);
    let file: u64 = ctx.arg(0);
    on_open(file, verdict)
}

/// Reports the open if the filter wants it; returns the hook's verdict.
#[inline(always)]
fn on_open(file: u64, verdict: i32) -> i32 {
    let Some(flags) = read::<u32>(file, off!(file_f_flags)) else {
        return verdict;
    };
    if flags & FMODE_EXEC_FLAG != 0 {
        return verdict;
    }
    let path_off = off!(file_f_path);
    if path_off == monitor_common::KernelOffsets::MISSING {
        return verdict;
    }
    let Some(r) = super::start(SyscallId::Openat) else {
        return verdict;
    };
    r.args[0] = AT_FDCWD as u64;
    r.args[2] = flags as u64;
    r.str0_len = super::d_path(file + path_off as u64, r.str0.as_mut_ptr());
    let matched = open_filter::matches(r);
    let write = open_filter::is_write(flags as u64);
    if !open_filter::reported(matched, write) {
        return verdict;
    }
    crate::enforce::kill_on_write(r, matched, write);
    let verdict = if write && matched & when::DENY_WRITE != 0 {
        super::enforce(r, verdict)
    } else {
        verdict
    };
    super::send(r);
    verdict
}
